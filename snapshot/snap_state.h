/*
 * snap_state: the state a VM was in when a snapshot was taken (virsh's
 * "State" column), derived from the image rather than recorded anywhere.
 *
 * No VM state saved: a snapshot of a shut-off VM (VM clock 0, as qemu-img
 * writes, or a qemu-storage-daemon's wall clock) or a disk-only snapshot of
 * a live one (any other VM clock).  VM state saved: QEMU's migration stream
 * carries a "globalstate" section with the run state at the time of the
 * save; it sits after the RAM, near the end of the stream, and is looked
 * for in the stream's last few MiB.  What cannot be told is "unknown".
 */
#ifndef SNAP_STATE_H
#define SNAP_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "qc_error.h"

enum snap_state {
	SNAP_STATE_UNKNOWN,
	SNAP_STATE_RUNNING,
	SNAP_STATE_PAUSED,
	SNAP_STATE_SHUTDOWN,
	SNAP_STATE_SHUTOFF,
	SNAP_STATE_CRASHED,
	SNAP_STATE_PMSUSPENDED,
	SNAP_STATE_DISK_SNAPSHOT,
};

/* virsh's word: "running", "paused", "shutoff", "disk-snapshot", ... */
const char *snap_state_name(enum snap_state st);

/* A snapshot without VM state, from its VM clock and date. */
enum snap_state snap_state_no_vmstate(uint64_t vm_clock_nsec, int64_t date_sec);

/* QEMU's run state name (query-status "status") as a snapshot state. */
enum snap_state snap_state_of_runstate(const char *runstate);

/* The run state recorded in the last well-formed globalstate section found
 * in buf (a piece of a migration stream), copied into out; 0 when there is
 * none. */
int snap_state_find_runstate(const uint8_t *buf, size_t len, char *out, size_t cap);

/* Reads the VM state of snapshot id (with that name) in the qcow2 image
 * file, without taking locks (the VM may be running on it), and tells the
 * state it records.  -1 with *errp when the image cannot be read. */
int snap_state_read(const char *file, const char *id, const char *name, enum snap_state *st, struct qc_error **errp);

#endif
