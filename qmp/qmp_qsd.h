/*
 * qmp_qsd: a private qemu-storage-daemon for changing images offline.
 *
 * QEMU changes images; we read them.  When no VM runs, qmpctl opens the
 * images in a qemu-storage-daemon of its own (spawned with an argv, its QMP
 * socket in a private temporary directory) and asks it over QMP.  The
 * daemon is always ended by its pid and the directory removed.
 *
 * Blocking: start and stop run the caller's event loop until done.
 */
#ifndef QMP_QSD_H
#define QMP_QSD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "qc_error.h"

struct event_base;
struct qmp_session;
struct qmp_qsd;

struct qmp_qsd_disk {
	const char *file;
	const char *format; /* "qcow2", "raw", ...; NULL: qcow2 */
	bool readonly;
};

/* Starts the daemon with a format node "d<i>" per disk and waits until its
 * monitor is READY.  A disk locked by a running QEMU gives an error saying
 * so.  The binary is $QMPCTL_QSD or qemu-storage-daemon from PATH. */
struct qmp_qsd *qmp_qsd_start(struct event_base *base, const struct qmp_qsd_disk *disks, size_t n,
			      unsigned timeout_ms, struct qc_error **errp);
struct qmp_session *qmp_qsd_session(struct qmp_qsd *q);
/* "d0", "d1", ...: the node name of disk i. */
const char *qmp_qsd_node(const struct qmp_qsd *q, size_t i);
pid_t qmp_qsd_pid(const struct qmp_qsd *q);
/* Sends quit, waits for the daemon to exit (kills it by pid if it will not),
 * removes the directory and frees q.  Returns -1 with *errp set when the
 * daemon did not end cleanly. */
int qmp_qsd_stop(struct qmp_qsd *q, struct qc_error **errp);

#endif
