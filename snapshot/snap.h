/*
 * snap: internal snapshots of a VM's disks (and its RAM and device state),
 * like `virsh snapshot-*`, without libvirtd.
 *
 * Running VM (a READY QMP session): snapshot-save / -load / -delete jobs
 * followed through JOB_STATUS_CHANGE events (HMP savevm/loadvm/delvm only
 * where QEMU lacks the jobs), a `transaction` of
 * blockdev-snapshot-internal-sync for disk-only snapshots.  Shut-off VM
 * (nothing but disks to save): the same transaction in a private
 * qemu-storage-daemon; listing reads the images natively; revert applies
 * the disk state natively.
 *
 * There is no snapshot database: every list is read from the images (or
 * from QEMU's view of them), so nothing drifts.  Nothing here prints.
 */
#ifndef SNAP_H
#define SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qc_error.h"
#include "snap_state.h"

struct event_base;
struct json_object;
struct qmp_session;
struct disc_vm;

#define SNAP_NAME_MAX 255 /* QEMU keeps names in 256-byte buffers */

struct snap_disk {
	char *target;   /* vda (libvirt), or QEMU's device / node name */
	char *file;     /* the image file (current top of the chain) */
	char *format;   /* qcow2, raw, ... */
	char *node;     /* live: the format node's name; NULL offline */
	bool readonly;  /* read-only or a cdrom: never snapshotted */
	struct json_object *snapshots; /* SnapshotInfo array as QEMU reports it */
};

struct snap_on_disk {
	const char *target; /* borrowed from the disk list */
	struct json_object *info; /* SnapshotInfo (borrowed) */
};

struct snap_entry {
	char *name;
	int64_t date_sec;
	uint32_t date_nsec;
	uint64_t vm_state_size; /* of the disk holding the VM state; 0: disk-only */
	uint64_t vm_clock_nsec;
	char *vmstate_disk;      /* target of the disk with VM state, or NULL */
	struct snap_on_disk *on; /* the disks holding it */
	size_t n_on;
	bool consistent; /* present on every writable qcow2 disk */
	char *missing;   /* "vdb,vdc": the disks that could hold it and lack it; NULL if none */
	enum snap_state state; /* from the VM clock; with VM state, see snap_list_read_states */
};

struct snap_list {
	struct snap_entry *entries; /* by date, oldest first */
	size_t n;
};

/* What an operation needs; progress and cancel are optional. */
struct snap_ctx {
	struct event_base *base;
	struct qmp_session *s; /* READY, or NULL for a shut-off VM */
	unsigned timeout_ms;   /* one QMP command or daemon start; 0: 30 s */
	/* Called while a job runs with QEMU's progress figures. */
	void (*progress)(void *opaque, uint64_t current, uint64_t total);
	void *progress_opaque;
	/* Set by an event on the same loop (a signal event: the loop must
	 * wake) to cancel: a running job gets job-cancel; a create that QEMU
	 * finished anyway is deleted again ("interrupted: snapshot NAME
	 * removed").  The operation then fails. */
	const volatile bool *cancel;
	/* Out: a cancel came after QEMU had finished the job (it stands). */
	bool cancel_too_late;
};

struct snap_create_opts {
	const char *name;
	bool disk_only;
	bool force;               /* replace a snapshot of that name (deleted first:
	                           * QEMU cannot rename; a failed save says so) */
	const char *vmstate_disk; /* target; NULL: the first writable qcow2 disk */
	char *const *only;        /* targets to include (NULL: every writable disk) */
	size_t n_only;
};

/* Checks a snapshot name: not empty, not too long.  All digits is fine
 * (virsh names snapshots by the time); snap_create refuses only a name
 * that is the id of an existing snapshot. */
int snap_check_name(const char *name, struct qc_error **errp);

/* Which disks to open, and how. */
struct snap_select {
	char *const *only; /* targets (NULL: every disk); the others are not opened */
	size_t n_only;
	bool force_share; /* read images another process writes (qemu-img -U) */
	bool for_write;   /* the operation will change the images: check that nobody uses them */
};

/* The VM's disks: live from query-block (labelled with the targets of vm's
 * configuration when it is given and the files match), or offline from vm
 * with snapshot tables read from the images. */
int snap_disks_live(struct snap_ctx *ctx, const struct disc_vm *vm, struct snap_disk **disks, size_t *n,
		    struct qc_error **errp);
int snap_disks_offline(const struct disc_vm *vm, const struct snap_select *sel, struct snap_disk **disks, size_t *n,
		       struct qc_error **errp);
/* Keeps only the disks named in only (all of them must exist). */
int snap_disks_select(struct snap_disk **disks, size_t *n, char *const *only, size_t n_only, struct qc_error **errp);
void snap_disks_free(struct snap_disk *disks, size_t n);

/* A disk that can hold internal snapshots and would be snapshotted: a
 * writable qcow2 image.  The one rule for listing and reverting. */
bool snap_disk_can_hold(const struct snap_disk *d);
/* The disks that could hold snapshot name and do not ("vdb,vdc", sep
 * between them), or NULL when none; caller frees. */
char *snap_missing_on(const struct snap_disk *disks, size_t n, const char *name, const char *sep);

/* Snapshots merged across disks (disks must outlive the list). */
void snap_list_build(struct snap_disk *disks, size_t n, struct snap_list *list);
/* Reads the run state recorded in the VM state of each snapshot (or of
 * the one named name) that has VM state; the images are read without
 * locks.  Unknown where it cannot be read. */
void snap_list_read_states(struct snap_list *list, const char *name, const struct snap_disk *disks, size_t n);
const struct snap_entry *snap_list_find(const struct snap_list *list, const char *name);
void snap_list_free(struct snap_list *list);

/* The operations.  disks come from snap_disks_live (ctx->s set) or
 * snap_disks_offline (ctx->s NULL). */
int snap_create(struct snap_ctx *ctx, struct snap_disk *disks, size_t n, const struct snap_create_opts *o,
		struct qc_error **errp);
int snap_delete(struct snap_ctx *ctx, struct snap_disk *disks, size_t n, const char *name, struct qc_error **errp);
struct snap_revert_opts {
	bool paused;    /* live: leave the VM paused afterwards */
	bool disk_only; /* offline: restore the disks of a snapshot with VM state */
	bool force;     /* revert although some writable qcow2 disk lacks it */
};

/* Live: loads disks and VM state; the VM runs afterwards if it ran before,
 * unless paused.  Offline: only with disk_only (the VM state needs the VM),
 * applied natively to every disk holding the snapshot.  A snapshot missing
 * on a writable qcow2 disk is refused (it would mix points in time) unless
 * force. */
int snap_revert(struct snap_ctx *ctx, struct snap_disk *disks, size_t n, const char *name,
		const struct snap_revert_opts *o, struct qc_error **errp);

#endif
