/* img_snapshot: list natively, apply natively in a crash-safe order, and
 * give a snapshot made without a VM the VM clock qemu-img gives it. */
#include "img_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "img.h"
#include "img_be.h"
#include "img_info.h"
#include "img_qcow2_format.h"
#include "qc_buf.h"

static struct img *open_qcow2(const char *path, unsigned flags, struct qc_error **errp)
{
	struct img *img = img_open(path, NULL, flags, errp);

	if (img && img->fmt != IMG_FMT_QCOW2) {
		qc_error_set(errp,
			     "'%s' is a raw image; raw images cannot hold internal snapshots (convert it to qcow2 "
			     "with 'qmpctl image convert -O qcow2', or take an external snapshot)",
			     path);
		img_close(img);
		return NULL;
	}
	return img;
}

/* By id first, then by name, as qemu-img looks snapshots up. */
static const struct img_qcow2_snapshot *find_snapshot(const struct img_qcow2 *q, const char *name)
{
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		if (!strcmp(q->snapshots[i].id, name))
			return &q->snapshots[i];
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		if (!strcmp(q->snapshots[i].name, name))
			return &q->snapshots[i];
	return NULL;
}

struct json_object *img_snapshot_list(const char *path, bool force_share, struct qc_error **errp)
{
	struct img *img = open_qcow2(path, force_share ? IMG_OPEN_NO_LOCK : 0, errp);
	struct json_object *info, *list = NULL;

	if (!img)
		return NULL;
	info = img_info_json(img, path, errp);
	img_close(img);
	if (!info)
		return NULL;
	if (!json_object_object_get_ex(info, "snapshots", &list))
		list = json_object_new_array();
	else
		json_object_get(list);
	json_object_put(info);
	return list;
}

int img_snapshot_lookup(const char *path, const char *name, char **id, char **sname, struct qc_error **errp)
{
	struct img *img = open_qcow2(path, IMG_OPEN_WRITE, errp);
	const struct img_qcow2_snapshot *sn;

	*id = *sname = NULL;
	if (!img)
		return -1;
	sn = find_snapshot(img->qcow2, name);
	if (sn) {
		*id = qc_strdup(sn->id);
		*sname = qc_strdup(sn->name);
	}
	img_close(img);
	return sn ? 1 : 0;
}

/* ---- the VM clock of a snapshot made without a VM ------------------------- */

int img_snapshot_set_vm_clock(const char *path, const char *name, uint64_t vm_clock_nsec, struct qc_error **errp)
{
	struct img *img = open_qcow2(path, IMG_OPEN_WRITE, errp);
	const struct img_qcow2_snapshot *sn = NULL;
	uint8_t be[8];
	int rc = -1;

	if (!img)
		return -1;
	/* The newest of that name: QEMU appends a new snapshot to the table. */
	for (uint32_t i = 0; i < img->qcow2->nb_snapshots; i++)
		if (!strcmp(img->qcow2->snapshots[i].name, name))
			sn = &img->qcow2->snapshots[i];
	if (!sn) {
		qc_error_set(errp, "%s: no snapshot named '%s'", path, name);
		goto out;
	}
	if (sn->vm_clock_nsec == vm_clock_nsec) {
		rc = 0;
		goto out;
	}
	/* Entries start on 8-byte boundaries, so the field is one aligned
	 * 8-byte write inside one sector: a crash leaves the old or the new
	 * value, and nothing else in the table changes. */
	if ((sn->entry_offset + QCOW2_SN_VM_CLOCK) % 8) {
		qc_error_set(errp, "%s: snapshot table entry of '%s' is not aligned", path, name);
		goto out;
	}
	img_put_be64(be, vm_clock_nsec);
	if (img_fd_pwrite(img->fd, be, sizeof(be), sn->entry_offset + QCOW2_SN_VM_CLOCK, "snapshot table", errp) < 0)
		goto out;
	if (fdatasync(img->fd) < 0) {
		qc_error_set_errno(errp, errno, "%s: cannot flush the image", path);
		goto out;
	}
	rc = 0;
out:
	img_close(img);
	return rc;
}

/* ---- apply ---------------------------------------------------------------------- */

struct apply {
	struct img *img;
	struct img_qcow2 *q;
	int fd;
	uint64_t cs;
	uint64_t *reftable; /* host order */
	uint64_t rt_entries;
	uint64_t rb_entries; /* refcounts per block */
	uint64_t max_rc;
	uint8_t **blocks; /* loaded refcount blocks, by reftable index */
	bool *dirty;
	uint8_t *l2buf;
	struct img_apply_opts *opts;
};

static int may_write(struct apply *a, struct qc_error **errp)
{
	if (a->opts->stop_at && a->opts->writes + 1 >= a->opts->stop_at) {
		qc_error_set(errp, "stopped before write %u (fault injection)", a->opts->stop_at);
		return -1;
	}
	a->opts->writes++;
	return 0;
}

static int do_write(struct apply *a, const void *buf, size_t len, uint64_t off, const char *what,
		    struct qc_error **errp)
{
	if (may_write(a, errp) < 0)
		return -1;
	return img_fd_pwrite(a->fd, buf, len, off, what, errp);
}

static int do_flush(struct apply *a, struct qc_error **errp)
{
	if (may_write(a, errp) < 0)
		return -1;
	if (fdatasync(a->fd) < 0) {
		qc_error_set_errno(errp, errno, "cannot flush the image");
		return -1;
	}
	return 0;
}

static uint8_t *refblock(struct apply *a, uint64_t cluster, uint64_t *idx, struct qc_error **errp)
{
	uint64_t ti = cluster / a->rb_entries, off;

	*idx = cluster % a->rb_entries;
	if (ti >= a->rt_entries || !(a->reftable[ti] & QCOW2_REFT_OFFSET_MASK)) {
		qc_error_set(errp, "cluster %#" PRIx64 " is not covered by a refcount block", cluster * a->cs);
		return NULL;
	}
	if (a->blocks[ti])
		return a->blocks[ti];
	off = a->reftable[ti] & QCOW2_REFT_OFFSET_MASK;
	if (off & (a->cs - 1)) {
		qc_error_set(errp, "refcount block offset %#" PRIx64 " is not aligned", off);
		return NULL;
	}
	a->blocks[ti] = qc_malloc(a->cs);
	if (img_io_pread(&a->img->io, a->blocks[ti], a->cs, off, "refcount block", errp) < 0) {
		free(a->blocks[ti]);
		a->blocks[ti] = NULL;
		return NULL;
	}
	return a->blocks[ti];
}

static uint64_t rc_read(const uint8_t *blk, uint32_t order, uint64_t i)
{
	uint32_t bits = 1u << order;
	uint64_t v = 0;

	if (bits < 8)
		return (blk[i * bits / 8] >> ((i * bits) % 8)) & ((1u << bits) - 1);
	for (uint32_t b = 0; b < bits / 8; b++)
		v = v << 8 | blk[i * (bits / 8) + b];
	return v;
}

static void rc_write(uint8_t *blk, uint32_t order, uint64_t i, uint64_t v)
{
	uint32_t bits = 1u << order;

	if (bits < 8) {
		uint32_t shift = (uint32_t)((i * bits) % 8), mask = ((1u << bits) - 1) << shift;

		blk[i * bits / 8] = (uint8_t)((blk[i * bits / 8] & ~mask) | ((uint32_t)v << shift));
		return;
	}
	for (uint32_t b = 0; b < bits / 8; b++)
		blk[i * (bits / 8) + b] = (uint8_t)(v >> (bits - 8 - 8 * b));
}

static int rc_get(struct apply *a, uint64_t cluster, uint64_t *v, struct qc_error **errp)
{
	uint64_t i;
	uint8_t *blk = refblock(a, cluster, &i, errp);

	if (!blk)
		return -1;
	*v = rc_read(blk, a->q->refcount_order, i);
	return 0;
}

static int rc_add(struct apply *a, uint64_t host, int delta, struct qc_error **errp)
{
	uint64_t cluster = host / a->cs, i, v;
	uint8_t *blk = refblock(a, cluster, &i, errp);

	if (!blk)
		return -1;
	v = rc_read(blk, a->q->refcount_order, i);
	if (delta > 0 && v >= a->max_rc) {
		qc_error_set(errp,
			     "refcount of cluster %#" PRIx64 " would exceed %" PRIu64 " (refcount_bits too small)",
			     cluster * a->cs, a->max_rc);
		return -1;
	}
	if (delta < 0 && v == 0) {
		qc_error_set(errp, "refcount of cluster %#" PRIx64 " is already 0; the image needs qemu-img check -r",
			     cluster * a->cs);
		return -1;
	}
	rc_write(blk, a->q->refcount_order, i, delta > 0 ? v + 1 : v - 1);
	a->dirty[cluster / a->rb_entries] = true;
	return 0;
}

/* Adds delta to every cluster an L1 table references: its L2 tables and,
 * through them, data and compressed clusters (as qemu-img check counts). */
static int walk_l1(struct apply *a, const uint64_t *l1, uint32_t n, int delta, struct qc_error **errp)
{
	struct img_qcow2 *q = a->q;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t l2_off = l1[i] & QCOW2_L1E_OFFSET_MASK;

		if (!l2_off)
			continue;
		if (l2_off & (a->cs - 1)) {
			qc_error_set(errp, "L1 entry %u points to unaligned offset %#" PRIx64, i, l2_off);
			return -1;
		}
		if (rc_add(a, l2_off, delta, errp) < 0 ||
		    img_io_pread(&a->img->io, a->l2buf, a->cs, l2_off, "L2 table", errp) < 0)
			return -1;
		for (uint64_t j = 0; j < q->l2_entries; j++) {
			uint64_t e = img_be64(a->l2buf + j * q->l2_entry_size);

			if (e & QCOW2_OFLAG_COMPRESSED) {
				uint64_t host = e & q->coffset_mask;
				uint64_t nb = ((e >> q->csize_shift) & q->csize_mask) + 1;
				uint64_t first = (host & ~511ull) / a->cs;
				uint64_t last = ((host & ~511ull) + nb * 512 - 1) / a->cs;

				for (uint64_t c = first; c <= last; c++)
					if (rc_add(a, c * a->cs, delta, errp) < 0)
						return -1;
			} else if (e & QCOW2_L2E_OFFSET_MASK) {
				if (rc_add(a, e & QCOW2_L2E_OFFSET_MASK, delta, errp) < 0)
					return -1;
			}
		}
	}
	return 0;
}

static int write_dirty_blocks(struct apply *a, struct qc_error **errp)
{
	for (uint64_t t = 0; t < a->rt_entries; t++) {
		if (!a->dirty[t])
			continue;
		if (do_write(a, a->blocks[t], a->cs, a->reftable[t] & QCOW2_REFT_OFFSET_MASK, "refcount block", errp) <
		    0)
			return -1;
		a->dirty[t] = false;
	}
	return do_flush(a, errp);
}

/* A run of n clusters with refcount 0 inside what the refcount blocks
 * cover (after this apply's increments, so nothing in use is chosen). */
static int find_free(struct apply *a, uint64_t n, uint64_t *host, struct qc_error **errp)
{
	uint64_t run = 0;

	for (uint64_t t = 0; t < a->rt_entries; t++) {
		if (!(a->reftable[t] & QCOW2_REFT_OFFSET_MASK)) {
			run = 0;
			continue;
		}
		for (uint64_t i = 0; i < a->rb_entries; i++) {
			uint64_t c = t * a->rb_entries + i, v;

			if (c == 0 || rc_get(a, c, &v, errp) < 0) {
				if (c)
					return -1;
				continue;
			}
			run = v ? 0 : run + 1;
			if (run == n) {
				*host = (c + 1 - n) * a->cs;
				return 0;
			}
		}
	}
	return 1; /* none */
}

/* No room inside the refcount blocks: start a new refcount block at the
 * first cluster of the first region without one, covering itself and the
 * n clusters after it.  Only in memory here: apply_run writes the block
 * before the refcount table entry that makes it count. */
static int new_refblock(struct apply *a, uint64_t n, uint64_t *host, uint64_t *slot, struct qc_error **errp)
{
	for (uint64_t t = 0; t < a->rt_entries; t++) {
		uint64_t c0 = t * a->rb_entries;

		if (a->reftable[t] & QCOW2_REFT_OFFSET_MASK)
			continue;
		if (n + 1 > a->rb_entries) {
			qc_error_set(errp, "the new L1 table needs more than one new refcount block (not supported)");
			return -1;
		}
		if (c0 > (QCOW2_L1E_OFFSET_MASK >> 9) / (a->cs >> 9)) {
			qc_error_set(errp, "no room for a new refcount block");
			return -1;
		}
		a->blocks[t] = qc_calloc(1, a->cs);
		a->reftable[t] = c0 * a->cs;
		a->dirty[t] = true;
		*slot = t;
		*host = (c0 + 1) * a->cs;
		return rc_add(a, c0 * a->cs, +1, errp);
	}
	qc_error_set(errp, "the refcount table has no free entry for a new refcount block (not supported)");
	return -1;
}

static int apply_run(struct apply *a, const struct img_qcow2_snapshot *sn, struct qc_error **errp)
{
	struct img_qcow2 *q = a->q;
	uint64_t new_size = sn->has_disk_size ? sn->disk_size : q->size;
	uint64_t needed = img_qcow2_l1_needed(q->cluster_bits, q->extended_l2, new_size);
	uint64_t new_l1_size = sn->l1_size > needed ? sn->l1_size : needed, l1_clusters, l1_host = 0;
	uint64_t old_l1_clusters = ((uint64_t)q->l1_size * 8 + a->cs - 1) / a->cs;
	uint64_t *sn_l1 = NULL, *l2_done = NULL, new_slot = UINT64_MAX;
	uint8_t *buf = NULL, hdr[24];
	size_t n_done = 0;
	int ret = -1;

	if (new_size > INT64_MAX || new_l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		qc_error_set(errp, "snapshot '%s' has an invalid size", sn->name);
		return -1;
	}
	sn_l1 = img_qcow2_read_l1(q, sn->l1_offset, sn->l1_size, "snapshot L1 table", errp);
	if (!sn_l1 || img_qcow2_load_l1(q, errp) < 0)
		goto out;

	/* 1. Everything in memory first, so a refcount that would overflow or
	 *    an inconsistency stops us before the first write. */
	if (walk_l1(a, sn_l1, sn->l1_size, +1, errp) < 0)
		goto out;
	l1_clusters = (new_l1_size * 8 + a->cs - 1) / a->cs;
	if (l1_clusters) {
		int r = find_free(a, l1_clusters, &l1_host, errp);

		if (r < 0 || (r > 0 && new_refblock(a, l1_clusters, &l1_host, &new_slot, errp) < 0))
			goto out;
		for (uint64_t c = 0; c < l1_clusters; c++)
			if (rc_add(a, l1_host + c * a->cs, +1, errp) < 0)
				goto out;
	}

	/* 2. The new active L1 in free clusters: the snapshot's entries with
	 *    copied flags clear (the snapshot keeps sharing every table). */
	if (l1_clusters) {
		buf = qc_calloc(l1_clusters, a->cs);
		for (uint32_t i = 0; i < sn->l1_size; i++)
			img_put_be64(buf + i * 8, sn_l1[i] & ~QCOW2_OFLAG_COPIED);
		if (do_write(a, buf, l1_clusters * a->cs, l1_host, "new L1 table", errp) < 0)
			goto out;
	}
	/* 3. Raised refcounts on disk, flushed: from here a crash leaks.  A
	 *    new refcount block is written with them and only then entered
	 *    in the refcount table (one 8-byte write), flushed again. */
	if (write_dirty_blocks(a, errp) < 0)
		goto out;
	if (new_slot != UINT64_MAX) {
		uint8_t e[8];

		img_put_be64(e, a->reftable[new_slot]);
		if (do_write(a, e, sizeof(e), q->reftable_offset + new_slot * 8, "refcount table", errp) < 0 ||
		    do_flush(a, errp) < 0)
			goto out;
	}

	/* 4. Copied flags in the snapshot's L2 tables: all of their clusters
	 *    are shared now, so the flag must be clear everywhere. */
	l2_done = qc_calloc(sn->l1_size ? sn->l1_size : 1, sizeof(*l2_done));
	{
		bool wrote = false;

		for (uint32_t i = 0; i < sn->l1_size; i++) {
			uint64_t l2_off = sn_l1[i] & QCOW2_L1E_OFFSET_MASK;
			bool changed = false, seen = false;

			if (!l2_off)
				continue;
			for (size_t k = 0; k < n_done; k++)
				seen |= l2_done[k] == l2_off;
			if (seen)
				continue;
			l2_done[n_done++] = l2_off;
			if (img_io_pread(&a->img->io, a->l2buf, a->cs, l2_off, "L2 table", errp) < 0)
				goto out;
			for (uint64_t j = 0; j < q->l2_entries; j++) {
				uint8_t *p = a->l2buf + j * q->l2_entry_size;
				uint64_t e = img_be64(p);

				if (e & QCOW2_OFLAG_COPIED) {
					img_put_be64(p, e & ~QCOW2_OFLAG_COPIED);
					changed = true;
				}
			}
			if (changed) {
				if (do_write(a, a->l2buf, a->cs, l2_off, "L2 table", errp) < 0)
					goto out;
				wrote = true;
			}
		}
		if (wrote && do_flush(a, errp) < 0)
			goto out;
	}

	/* 5. The switch: size, L1 size and L1 offset are adjacent header
	 *    fields inside the first sector, written at once. */
	img_put_be64(hdr, new_size);
	img_put_be32(hdr + 8, q->crypt_method);
	img_put_be32(hdr + 12, (uint32_t)new_l1_size);
	img_put_be64(hdr + 16, l1_clusters ? l1_host : 0);
	if (do_write(a, hdr, sizeof(hdr), QCOW2_HDR_SIZE, "header", errp) < 0 || do_flush(a, errp) < 0)
		goto out;

	/* 6. The old tree and the old L1's clusters lose a reference. */
	if (walk_l1(a, q->l1, q->l1_size, -1, errp) < 0)
		goto out;
	for (uint64_t c = 0; c < old_l1_clusters; c++)
		if (rc_add(a, q->l1_offset + c * a->cs, -1, errp) < 0)
			goto out;
	if (write_dirty_blocks(a, errp) < 0)
		goto out;
	ret = 0;
out:
	free(sn_l1);
	free(l2_done);
	free(buf);
	return ret;
}

int img_snapshot_apply(const char *path, const char *name, struct img_apply_opts *opts, struct qc_error **errp)
{
	struct img_apply_opts none = { 0 };
	struct apply a = { 0 };
	const struct img_qcow2_snapshot *sn;
	struct img_qcow2 *q;
	uint8_t *rt = NULL;
	int ret = -1;

	a.opts = opts ? opts : &none;
	a.img = open_qcow2(path, IMG_OPEN_WRITE, errp);
	if (!a.img)
		return -1;
	q = a.q = a.img->qcow2;
	a.fd = a.img->fd;
	a.cs = q->cluster_size;
	if (q->incompat & (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)) {
		qc_error_set(errp, "%s: image is %s; repair it with 'qemu-img check -r all' first", path,
			     (q->incompat & QCOW2_INCOMPAT_CORRUPT) ? "marked corrupt" : "dirty (not cleanly closed)");
		goto out;
	}
	if (q->data_file || q->has_bitmaps_ext) {
		qc_error_set(errp, "%s: applying snapshots offline is not supported for images with %s", path,
			     q->data_file ? "an external data file" : "persistent bitmaps");
		goto out;
	}
	sn = find_snapshot(q, name);
	if (!sn) {
		qc_error_set(errp, "%s: no snapshot with id or name '%s'", path, name);
		goto out;
	}
	a.rb_entries = a.cs * 8 >> q->refcount_order;
	a.max_rc = q->refcount_order >= 6 ? UINT64_MAX : (1ull << (1u << q->refcount_order)) - 1;
	a.rt_entries = (uint64_t)q->reftable_clusters * a.cs / 8;
	rt = qc_malloc((size_t)(a.rt_entries * 8));
	if (img_io_pread(&a.img->io, rt, (size_t)(a.rt_entries * 8), q->reftable_offset, "refcount table", errp) < 0)
		goto out;
	a.reftable = qc_malloc((size_t)(a.rt_entries * 8));
	for (uint64_t i = 0; i < a.rt_entries; i++)
		a.reftable[i] = img_be64(rt + i * 8);
	a.blocks = qc_calloc(a.rt_entries, sizeof(*a.blocks));
	a.dirty = qc_calloc(a.rt_entries, sizeof(*a.dirty));
	a.l2buf = qc_malloc(a.cs);
	ret = apply_run(&a, sn, errp);
	if (ret < 0)
		qc_error_prepend(errp, "%s: cannot apply snapshot '%s'", path, name);
out:
	for (uint64_t i = 0; a.blocks && i < a.rt_entries; i++)
		free(a.blocks[i]);
	free(a.blocks);
	free(a.dirty);
	free(a.reftable);
	free(a.l2buf);
	free(rt);
	img_close(a.img);
	return ret;
}
