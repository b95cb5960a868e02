/*
 * img_snapshot: internal snapshots of qcow2 images.
 *
 * Listing reads the snapshot table natively.  Creating and deleting go
 * through QEMU (snapshot/snap_qsd: a private qemu-storage-daemon); here is
 * only the VM clock such a snapshot should record.  Applying (reverting the disk to a
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
#include <stdint.h>

#include "qc_error.h"

struct json_object;

/* The snapshots as qemu-img info's JSON "snapshots" array (caller puts). */
struct json_object *img_snapshot_list(const char *path, bool force_share, struct qc_error **errp);

/* Looks name up by id, then by name (as qemu-img does), opening the image
 * as a writer would (so an image in use fails here).  1 and the
 * snapshot's id and name (caller frees), 0 when there is none, -1 with
 * *errp. */
int img_snapshot_lookup(const char *path, const char *name, char **id, char **sname, struct qc_error **errp);

/* Sets the VM clock recorded in the newest snapshot named name (one
 * aligned 8-byte write, flushed).  A snapshot taken by a
 * qemu-storage-daemon records the daemon's host clock there, as there is
 * no VM; qemu-img snapshot -c records 0, and so should we. */
int img_snapshot_set_vm_clock(const char *path, const char *name, uint64_t vm_clock_nsec, struct qc_error **errp);

struct img_apply_opts {
	/* Fault injection for tests: stop (as if the process died) before the
	 * write or flush numbered stop_at (1-based); 0: never. */
	unsigned stop_at;
	unsigned writes; /* out: writes and flushes done */
};

/* Reverts the disk to the snapshot whose id or name is name. */
int img_snapshot_apply(const char *path, const char *name, struct img_apply_opts *opts, struct qc_error **errp);

#endif
