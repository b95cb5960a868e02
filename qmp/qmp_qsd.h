/*
 * qmp_qsd: a private qemu-storage-daemon for changing images offline.
 *
 * QEMU changes images; we read them.  When no VM runs, qmpctl opens the
 * images in a qemu-storage-daemon of its own and asks it over QMP.  The
 * daemon is our child: it gets SIGTERM when we die, however we die (even
 * SIGKILL), and a process group of its own, so a terminal's Ctrl-C or
 * hangup reaches us and we end it.  Its monitor is one end of a socketpair
 * handed over as fd=N and its stderr an anonymous memory file: nothing of
 * it lives in the file system, so no signal can leave a directory or a
 * socket behind, and no TMPDIR (a comma in it) can break its command line.
 *
 * Asynchronous, on the caller's event_base: qmp_qsd_spawn returns at once
 * and calls back when the monitor is READY (or the daemon gave up: a lock,
 * a bad image, its own words in the error); qmp_qsd_quit calls back when
 * the daemon has exited.  The daemon's exit is observed through a pidfd,
 * never by sleeping.  qmp_qsd_sync.h has blocking wrappers for the CLI.
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

/* Called once per request: err NULL on success (borrowed otherwise). */
typedef void (*qmp_qsd_fn)(void *opaque, struct qmp_qsd *q, const struct qc_error *err);

/* Starts the daemon with a format node "d<i>" per disk; ready is called
 * when its monitor is READY or it failed (a disk locked by a running QEMU
 * gives an error saying so).  timeout_ms (0: 30 s) bounds the start.  The
 * binary is $QMPCTL_QSD or qemu-storage-daemon from PATH.  NULL with *errp
 * when it cannot even be started (ready is not called then). */
struct qmp_qsd *qmp_qsd_spawn(struct event_base *base, const struct qmp_qsd_disk *disks, size_t n, unsigned timeout_ms,
			      qmp_qsd_fn ready, void *opaque, struct qc_error **errp);
struct qmp_session *qmp_qsd_session(struct qmp_qsd *q);
/* "d0", "d1", ...: the node name of disk i. */
const char *qmp_qsd_node(const struct qmp_qsd *q, size_t i);
/* The daemon's pid; 0 once it has been reaped. */
pid_t qmp_qsd_pid(const struct qmp_qsd *q);
struct event_base *qmp_qsd_base(const struct qmp_qsd *q);
/* Sends quit and calls done once the daemon has exited: err set when it
 * ended badly or had to be killed after 10 s. */
void qmp_qsd_quit(struct qmp_qsd *q, qmp_qsd_fn done, void *opaque);
/* Ends a daemon still running (SIGTERM, SIGKILL after 2 s: for aborts, so
 * it waits for the exit rather than leave the image locked) and frees q.
 * No callback runs afterwards.  NULL is fine. */
void qmp_qsd_free(struct qmp_qsd *q);

#endif
