/*
 * img_snapshot: internal snapshots of qcow2 images.
 *
 * Listing reads the snapshot table natively.  Creating and deleting go
 * through QEMU: a qemu-storage-daemon is spawned on the image (its QMP
 * socket in a private temporary directory) and asked with
 * blockdev-snapshot-internal-sync / blockdev-snapshot-delete-internal-sync,
 * then told to quit; the directory is removed and the daemon reaped (or
 * killed, by its pid) whatever happens.  Applying (reverting the disk to a
 * snapshot) has no QMP command and is done natively, in a crash-safe order:
 * new L1 written to free clusters, refcounts raised and flushed, copied
 * flags cleared, the header switched to the new L1 in one sector write,
 * then the old tree's refcounts lowered.  A crash at any point leaves an
 * image whose data is the old or the new state and that qemu-img check
 * finds free of errors (at worst with leaked clusters).
 *
 * Every function refuses raw images with the message the CLI shows.
 */
#ifndef IMG_SNAPSHOT_H
#define IMG_SNAPSHOT_H

#include <stdbool.h>

#include "qc_error.h"

struct event_base;
struct json_object;

/* The snapshots as qemu-img info's JSON "snapshots" array (caller puts). */
struct json_object *img_snapshot_list(const char *path, bool force_share, struct qc_error **errp);

enum img_snapshot_op {
	IMG_SNAPSHOT_CREATE,
	IMG_SNAPSHOT_DELETE,
};

/* Runs the operation in a spawned qemu-storage-daemon (QMPCTL_QSD
 * in the environment names another binary).  Blocks, running base until
 * done; timeout_ms bounds each step. */
int img_snapshot_qsd(struct event_base *base, const char *path, enum img_snapshot_op op, const char *name,
		     unsigned timeout_ms, struct qc_error **errp);

struct img_apply_opts {
	/* Fault injection for tests: stop (as if the process died) before the
	 * write or flush numbered stop_at (1-based); 0: never. */
	unsigned stop_at;
	unsigned writes; /* out: writes and flushes done */
};

/* Reverts the disk to the snapshot whose id or name is name. */
int img_snapshot_apply(const char *path, const char *name, struct img_apply_opts *opts, struct qc_error **errp);

#endif
