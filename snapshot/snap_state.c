/*
 * snap_state: a snapshot's state read from the image (see snap_state.h).
 *
 * The VM state of an internal snapshot lies in the snapshot's own L1 tree,
 * from the first L1 boundary past the disk's size on (QEMU's
 * qcow2_vm_state_offset).  It is read through the image library's mapping
 * with the snapshot's L1 table in place of the active one.
 */
#include "snap_state.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"
#include "img_be.h"
#include "img_qcow2.h"
#include "qc_buf.h"

/* Section type QEMU_VM_SECTION_FULL and footer QEMU_VM_SECTION_FOOTER
 * (migration/savevm.c). */
#define VM_SECTION_FULL	  0x04
#define VM_SECTION_FOOTER 0x7e
#define GS_NAME		  "globalstate"
#define GS_RUNSTATE_LEN	  100 /* GlobalState.runstate */
/* type, section id, name length, name, instance id, version id, size, runstate */
#define GS_LEN (1 + 4 + 1 + (sizeof(GS_NAME) - 1) + 4 + 4 + 4 + GS_RUNSTATE_LEN)

/* How much of the end of a stream is searched, and in what pieces: the
 * device state after the RAM and the JSON description at the very end
 * take some hundreds of KiB on a small machine. */
#define SEARCH_CHUNK (1u << 20)
#define SEARCH_MAX   (8u << 20)

/* A VM clock this close to the date is a clock of wall time (a
 * qemu-storage-daemon has no VM), not of a guest that ran since 1970. */
#define WALL_CLOCK_SLACK_SEC 86400

const char *snap_state_name(enum snap_state st)
{
	switch (st) {
	case SNAP_STATE_RUNNING:
		return "running";
	case SNAP_STATE_PAUSED:
		return "paused";
	case SNAP_STATE_SHUTDOWN:
		return "shutdown";
	case SNAP_STATE_SHUTOFF:
		return "shutoff";
	case SNAP_STATE_CRASHED:
		return "crashed";
	case SNAP_STATE_PMSUSPENDED:
		return "pmsuspended";
	case SNAP_STATE_DISK_SNAPSHOT:
		return "disk-snapshot";
	case SNAP_STATE_UNKNOWN:
		break;
	}
	return "unknown";
}

enum snap_state snap_state_no_vmstate(uint64_t vm_clock_nsec, int64_t date_sec)
{
	int64_t clock_sec = (int64_t)(vm_clock_nsec / 1000000000u);

	if (!vm_clock_nsec)
		return SNAP_STATE_SHUTOFF;
	if (date_sec > WALL_CLOCK_SLACK_SEC && clock_sec > date_sec - WALL_CLOCK_SLACK_SEC &&
	    clock_sec < date_sec + WALL_CLOCK_SLACK_SEC)
		return SNAP_STATE_SHUTOFF;
	return SNAP_STATE_DISK_SNAPSHOT;
}

enum snap_state snap_state_of_runstate(const char *rs)
{
	/* libvirt's reading of QEMU's run states. */
	static const char *const paused[] = {
		"paused",     "prelaunch", "debug",    "inmigrate",	 "postmigrate", "finish-migrate",
		"restore-vm", "save-vm",   "io-error", "internal-error", "watchdog",	"colo",
	};

	if (!strcmp(rs, "running"))
		return SNAP_STATE_RUNNING;
	if (!strcmp(rs, "shutdown"))
		return SNAP_STATE_SHUTDOWN;
	if (!strcmp(rs, "guest-panicked"))
		return SNAP_STATE_CRASHED;
	if (!strcmp(rs, "suspended"))
		return SNAP_STATE_PMSUSPENDED;
	for (size_t i = 0; i < sizeof(paused) / sizeof(paused[0]); i++)
		if (!strcmp(rs, paused[i]))
			return SNAP_STATE_PAUSED;
	return SNAP_STATE_UNKNOWN;
}

/* A globalstate section starting at p (GS_LEN bytes, more until end). */
static bool is_globalstate(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *f = p + 1 + 4 + 1 + sizeof(GS_NAME) - 1;
	uint32_t size;

	if (p[0] != VM_SECTION_FULL || p[5] != sizeof(GS_NAME) - 1 || memcmp(p + 6, GS_NAME, sizeof(GS_NAME) - 1))
		return false;
	if (img_be32(f) != 0 || img_be32(f + 4) != 1) /* instance 0, version 1 */
		return false;
	size = img_be32(f + 8);
	/* size counts the terminating NUL. */
	if (size < 2 || size > GS_RUNSTATE_LEN || f[12 + size - 1] != '\0' || strlen((const char *)f + 12) != size - 1)
		return false;
	/* With section footers (every machine type since QEMU 2.4), the
	 * footer repeats the section id. */
	if (p + GS_LEN < end && p[GS_LEN] == VM_SECTION_FOOTER)
		return end - (p + GS_LEN) < 5 || !memcmp(p + GS_LEN + 1, p + 1, 4);
	return true;
}

int snap_state_find_runstate(const uint8_t *buf, size_t len, char *out, size_t cap)
{
	if (len < GS_LEN || !cap)
		return 0;
	/* The last one: guest RAM comes before the device state and may
	 * hold anything. */
	for (size_t i = len - GS_LEN + 1; i-- > 0;) {
		if (buf[i] != VM_SECTION_FULL || !is_globalstate(buf + i, buf + len))
			continue;
		snprintf(out, cap, "%s", (const char *)buf + i + GS_LEN - GS_RUNSTATE_LEN);
		return 1;
	}
	return 0;
}

/* Reads len bytes of the VM state at pos through the snapshot's L1. */
static int read_vmstate(struct img_qcow2 *q, uint64_t *l1, uint32_t l1_size, uint64_t base, uint64_t pos, uint8_t *buf,
			size_t len, struct qc_error **errp)
{
	while (len) {
		struct img_qcow2_extent ext;
		uint64_t *saved_l1 = q->l1;
		uint32_t saved_size = q->l1_size;
		int rc;

		q->l1 = l1;
		q->l1_size = l1_size;
		rc = img_qcow2_map(q, base + pos, len, &ext, errp);
		q->l1 = saved_l1;
		q->l1_size = saved_size;
		if (rc < 0)
			return -1;
		if (ext.len > len)
			ext.len = len;
		if (ext.kind == QCOW2_NORMAL) {
			if (img_io_pread(q->io, buf, (size_t)ext.len, ext.host, "VM state", errp) < 0)
				return -1;
		} else if (ext.kind == QCOW2_COMPRESSED) {
			qc_error_set(errp, "compressed VM state");
			return -1;
		} else {
			memset(buf, 0, (size_t)ext.len);
		}
		buf += ext.len;
		pos += ext.len;
		len -= (size_t)ext.len;
	}
	return 0;
}

int snap_state_read(const char *file, const char *id, const char *name, enum snap_state *st, struct qc_error **errp)
{
	struct img *img = img_open(file, "qcow2", IMG_OPEN_NO_LOCK, errp);
	const struct img_qcow2_snapshot *sn = NULL;
	struct img_qcow2 *q;
	uint64_t *l1 = NULL, size, span, base, end, start;
	uint8_t *buf = NULL;
	char runstate[GS_RUNSTATE_LEN + 1];
	int rc = -1;

	*st = SNAP_STATE_UNKNOWN;
	if (!img)
		return -1;
	q = img->qcow2;
	for (uint32_t i = 0; i < q->nb_snapshots && !sn; i++)
		if ((!id || !strcmp(q->snapshots[i].id, id)) && !strcmp(q->snapshots[i].name, name))
			sn = &q->snapshots[i];
	if (!sn || !sn->vm_state_size) {
		qc_error_set(errp, "%s: no snapshot '%s' with VM state", file, name);
		goto out;
	}
	if (q->data_file) {
		qc_error_set(errp, "%s: VM state in an image with an external data file", file);
		goto out;
	}
	size = sn->has_disk_size ? sn->disk_size : q->size;
	span = q->l2_entries << q->cluster_bits;
	base = (size / span + (size % span != 0)) * span;
	if (base < size || sn->vm_state_size > UINT64_MAX - base) {
		qc_error_set(errp, "%s: snapshot '%s': VM state out of range", file, name);
		goto out;
	}
	l1 = img_qcow2_read_l1(q, sn->l1_offset, sn->l1_size, "snapshot L1 table", errp);
	if (!l1)
		goto out;
	buf = qc_malloc(SEARCH_CHUNK + GS_LEN);
	/* Backwards from the end, each piece overlapping the next one by a
	 * section's length so that none is cut in two. */
	end = sn->vm_state_size;
	for (uint64_t searched = 0; end > 0 && searched < SEARCH_MAX; searched += end - start, end = start) {
		size_t len, more = 0;

		start = end > SEARCH_CHUNK ? end - SEARCH_CHUNK : 0;
		len = (size_t)(end - start);
		if (end < sn->vm_state_size)
			more = (size_t)(sn->vm_state_size - end < GS_LEN - 1 ? sn->vm_state_size - end : GS_LEN - 1);
		if (read_vmstate(q, l1, sn->l1_size, base, start, buf, len + more, errp) < 0)
			goto out;
		if (snap_state_find_runstate(buf, len + more, runstate, sizeof(runstate))) {
			*st = snap_state_of_runstate(runstate);
			break;
		}
	}
	rc = 0;
out:
	free(buf);
	free(l1);
	img_close(img);
	return rc;
}
