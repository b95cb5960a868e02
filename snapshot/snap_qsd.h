/*
 * snap_qsd: internal snapshots of images no VM runs on, made and deleted
 * by a private qemu-storage-daemon (QEMU changes images; we read them).
 *
 * One path for a shut-off VM's disks (snap.c) and for `image snapshot
 * -c/-d`: the daemon is started (ended at once when *cancel turns true
 * while it starts: a signal handler on the same loop), asked, told to
 * quit, and always ended (qmp_qsd).  A snapshot it made records the VM
 * clock 0, as qemu-img snapshot -c does: the daemon has no VM and would
 * record its host clock.
 */
#ifndef SNAP_QSD_H
#define SNAP_QSD_H

#include <stdbool.h>
#include <stddef.h>

#include "qc_error.h"

struct event_base;

struct snap_qsd_disk {
	const char *file;
	const char *format; /* NULL: qcow2 */
	const char *id;	    /* delete: the snapshot's id too (NULL: by name) */
};

/* Creates name on every disk in one transaction (all or none), or deletes
 * it from each.  timeout_ms bounds each step (0: 30 s). */
int snap_qsd_create(struct event_base *base, const struct snap_qsd_disk *disks, size_t n, const char *name,
		    unsigned timeout_ms, const volatile bool *cancel, struct qc_error **errp);
int snap_qsd_delete(struct event_base *base, const struct snap_qsd_disk *disks, size_t n, const char *name,
		    unsigned timeout_ms, const volatile bool *cancel, struct qc_error **errp);

/* One qcow2 image, as qemu-img snapshot -c / -d (by id or name): refuses a
 * raw image, a name that exists (create) or does not (delete), and an
 * image in use, before anything is started.  Errors read "PATH: ...". */
int snap_qsd_image(struct event_base *base, const char *path, bool create, const char *name, unsigned timeout_ms,
		   const volatile bool *cancel, struct qc_error **errp);

#endif
