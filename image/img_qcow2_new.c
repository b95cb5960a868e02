/* img_qcow2_new: building a fresh qcow2 file front to back. */
#include "img_qcow2_new.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#ifdef QMPCTL_HAVE_ZSTD
#include <zstd.h>
#endif

#include "img_be.h"
#include "img_io.h"
#include "img_qcow2.h"
#include "img_qcow2_format.h"
#include "qc_buf.h"

struct rc_bump {
	uint64_t cluster;
	uint32_t count; /* refcount of a cluster holding compressed data */
};

struct img_qcow2_new {
	int fd;
	struct img_qcow2_new_opts o;
	uint64_t cs;
	uint32_t entry_words; /* 1, or 2 with extended L2 */
	uint64_t l2_entries;
	uint64_t l1_size;
	uint64_t **l2;     /* per L1 entry, host order, NULL when unused */
	uint64_t *l2_done; /* per L1 entry: where a table already written went */
	uint64_t flushed;  /* L1 entries below this are final */
	uint64_t next; /* next free byte; clusters are handed out from here */
	/* Clusters with compressed data, in ascending order. */
	struct rc_bump *bumps;
	size_t nbumps, capbumps;
	uint8_t *cbuf;
	void *zctx; /* zstd */
	z_stream *zlib;
};

static const struct {
	uint8_t type, bit;
	const char *name;
} feature_names[] = {
	{ QCOW2_FEATURE_TYPE_INCOMPAT, 0, "dirty bit" },
	{ QCOW2_FEATURE_TYPE_INCOMPAT, 1, "corrupt bit" },
	{ QCOW2_FEATURE_TYPE_INCOMPAT, 2, "external data file" },
	{ QCOW2_FEATURE_TYPE_INCOMPAT, 3, "compression type" },
	{ QCOW2_FEATURE_TYPE_INCOMPAT, 4, "extended L2 entries" },
	{ QCOW2_FEATURE_TYPE_COMPAT, 0, "lazy refcounts" },
	{ QCOW2_FEATURE_TYPE_AUTOCLEAR, 0, "bitmaps" },
	{ QCOW2_FEATURE_TYPE_AUTOCLEAR, 1, "raw external data" },
};

int img_qcow2_new_check(const struct img_qcow2_new_opts *o, struct qc_error **errp)
{
	if (o->cluster_bits < QCOW2_MIN_CLUSTER_BITS || o->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
		qc_error_set(errp, "cluster size must be a power of two between 512 and 2048k");
		return -1;
	}
	if (o->refcount_order > 6) {
		qc_error_set(errp, "refcount width must be a power of two and may not exceed 64 bits");
		return -1;
	}
	if (o->version == 2) {
		if (o->lazy_refcounts) {
			qc_error_set(errp, "lazy refcounts need compat=1.1");
			return -1;
		}
		if (o->refcount_order != 4) {
			qc_error_set(errp, "refcount widths other than 16 bits need compat=1.1");
			return -1;
		}
		if (o->extended_l2) {
			qc_error_set(errp, "extended L2 entries need compat=1.1");
			return -1;
		}
		if (o->compression_type != QCOW2_COMPRESSION_ZLIB) {
			qc_error_set(errp, "compression types other than zlib need compat=1.1");
			return -1;
		}
	}
	if (o->extended_l2 && o->cluster_bits < 14) {
		qc_error_set(errp, "extended L2 entries need clusters of at least 16384 bytes");
		return -1;
	}
	if (img_qcow2_l1_needed(o->cluster_bits, o->extended_l2, o->size) > QCOW2_MAX_L1_BYTES / 8 ||
	    o->size > INT64_MAX) {
		qc_error_set(errp, "size %" PRIu64 " is too large for %u-byte clusters", o->size,
			     1u << o->cluster_bits);
		return -1;
	}
	if (o->backing_file && strlen(o->backing_file) > QCOW2_MAX_BACKING_NAME) {
		qc_error_set(errp, "backing file name is longer than %u bytes", QCOW2_MAX_BACKING_NAME);
		return -1;
	}
	if (o->backing_fmt && strlen(o->backing_fmt) > QCOW2_MAX_BACKING_FORMAT) {
		qc_error_set(errp, "backing format name is too long");
		return -1;
	}
#ifndef QMPCTL_HAVE_ZSTD
	if (o->compression_type == QCOW2_COMPRESSION_ZSTD) {
		qc_error_set(errp, "this build of qmpctl has no zstd support");
		return -1;
	}
#endif
	return 0;
}

struct img_qcow2_new *img_qcow2_new_start(int fd, const struct img_qcow2_new_opts *o, struct qc_error **errp)
{
	struct img_qcow2_new *w;

	if (img_qcow2_new_check(o, errp) < 0)
		return NULL;
	w = qc_calloc(1, sizeof(*w));
	w->fd = fd;
	w->o = *o;
	w->cs = 1ull << o->cluster_bits;
	w->entry_words = o->extended_l2 ? 2 : 1;
	w->l2_entries = w->cs / (8 * w->entry_words);
	w->l1_size = img_qcow2_l1_needed(o->cluster_bits, o->extended_l2, o->size);
	w->l2 = qc_calloc(w->l1_size ? w->l1_size : 1, sizeof(*w->l2));
	w->l2_done = qc_calloc(w->l1_size ? w->l1_size : 1, sizeof(*w->l2_done));
	w->next = w->cs; /* cluster 0: the header */
	return w;
}

static uint64_t *l2_slot(struct img_qcow2_new *w, uint64_t guest_cluster)
{
	uint64_t l1i = guest_cluster / w->l2_entries;

	if (!w->l2[l1i])
		w->l2[l1i] = qc_calloc(w->l2_entries * w->entry_words, sizeof(uint64_t));
	return &w->l2[l1i][(guest_cluster % w->l2_entries) * w->entry_words];
}

uint64_t img_qcow2_new_alloc(struct img_qcow2_new *w, uint64_t guest_cluster, uint64_t n)
{
	uint64_t host;

	w->next = (w->next + w->cs - 1) & ~(w->cs - 1);
	host = w->next;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t *e = l2_slot(w, guest_cluster + i);

		e[0] = QCOW2_OFLAG_COPIED | (host + i * w->cs);
		if (w->entry_words == 2)
			e[1] = 0xffffffffull; /* all 32 subclusters allocated */
	}
	w->next += n * w->cs;
	return host;
}

static void bump(struct img_qcow2_new *w, uint64_t cluster)
{
	if (w->nbumps && w->bumps[w->nbumps - 1].cluster == cluster) {
		w->bumps[w->nbumps - 1].count++;
		return;
	}
	if (w->nbumps == w->capbumps) {
		w->capbumps = w->capbumps ? w->capbumps * 2 : 256;
		w->bumps = qc_realloc(w->bumps, w->capbumps * sizeof(*w->bumps));
	}
	w->bumps[w->nbumps].cluster = cluster;
	w->bumps[w->nbumps].count = 1;
	w->nbumps++;
}

/* Compresses into w->cbuf; returns the compressed length, or 0 when the
 * result would not be smaller than a cluster. */
static size_t compress_cluster(struct img_qcow2_new *w, const uint8_t *data)
{
	size_t cap = (size_t)w->cs - 1;

	if (!w->cbuf)
		w->cbuf = qc_malloc((size_t)w->cs);
	if (w->o.compression_type == QCOW2_COMPRESSION_ZLIB) {
		z_stream *zs = w->zlib;
		size_t n;

		/* One stream for the whole image, reset per cluster: setting
		 * one up costs more than compressing a cluster. */
		if (!zs) {
			zs = w->zlib = qc_calloc(1, sizeof(*zs));
			/* Raw deflate with a 4 KiB window, as QEMU writes it. */
			if (deflateInit2(zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
				free(zs);
				w->zlib = NULL;
				return 0;
			}
		} else if (deflateReset(zs) != Z_OK) {
			return 0;
		}
		zs->next_in = (Bytef *)(uintptr_t)data;
		zs->avail_in = (uInt)w->cs;
		zs->next_out = w->cbuf;
		zs->avail_out = (uInt)cap;
		n = deflate(zs, Z_FINISH) == Z_STREAM_END ? cap - zs->avail_out : 0;
		return n;
	}
#ifdef QMPCTL_HAVE_ZSTD
	{
		size_t n;

		if (!w->zctx)
			w->zctx = ZSTD_createCCtx();
		if (!w->zctx)
			return 0;
		n = ZSTD_compressCCtx(w->zctx, w->cbuf, cap, data, (size_t)w->cs, 1);
		return ZSTD_isError(n) ? 0 : n;
	}
#else
	return 0;
#endif
}

int img_qcow2_new_write_compressed(struct img_qcow2_new *w, uint64_t guest_cluster, const uint8_t *data,
				   struct qc_error **errp)
{
	size_t n = compress_cluster(w, data);
	uint64_t off, first, last, extra,
		max_rc = (w->o.refcount_order >= 6) ? UINT64_MAX : (1ull << (1u << w->o.refcount_order)) - 1;
	uint32_t csize_shift = 62 - (w->o.cluster_bits - 8);
	uint64_t *e;

	if (!n)
		return 0;
	off = w->next;
	/* A cluster shared by several compressed clusters carries their count
	 * as its refcount: start a new cluster before that would overflow. */
	if (w->nbumps && w->bumps[w->nbumps - 1].cluster == off / w->cs && w->bumps[w->nbumps - 1].count >= max_rc &&
	    (off & (w->cs - 1)))
		off = (off + w->cs - 1) & ~(w->cs - 1);
	extra = (off + n - 1) / QCOW2_COMPRESSED_SECTOR - off / QCOW2_COMPRESSED_SECTOR;
	if (img_fd_pwrite(w->fd, w->cbuf, n, off, "compressed cluster", errp) < 0)
		return -1;
	first = off / w->cs;
	last = (off + n - 1) / w->cs;
	for (uint64_t c = first; c <= last; c++)
		bump(w, c);
	e = l2_slot(w, guest_cluster);
	e[0] = QCOW2_OFLAG_COMPRESSED | (extra << csize_shift) | off;
	if (w->entry_words == 2)
		e[1] = 0;
	w->next = off + n;
	return 1;
}

static void put_refcount(uint8_t *blk, uint32_t order, uint64_t idx, uint64_t v)
{
	uint32_t bits = 1u << order;

	if (bits < 8) {
		uint32_t per = 8 / bits, shift = (uint32_t)(idx % per) * bits;

		blk[idx / per] = (uint8_t)((blk[idx / per] & ~(((1u << bits) - 1) << shift)) | (v << shift));
		return;
	}
	for (uint32_t b = 0; b < bits / 8; b++)
		blk[idx * (bits / 8) + b] = (uint8_t)(v >> (bits - 8 - 8 * b));
}

static int write_meta(const struct img_qcow2_new *w, const uint8_t *buf, size_t len, uint64_t off, const char *what,
		      struct qc_error **errp)
{
	size_t i = 0;

	if (!w->o.sparse_metadata)
		return img_fd_pwrite(w->fd, buf, len, off, what, errp);
	while (i < len) {
		size_t start, bs;

		while (i < len && img_is_zero(buf + i, (bs = len - i < 4096 ? len - i : 4096)))
			i += bs;
		start = i;
		while (i < len && !img_is_zero(buf + i, (bs = len - i < 4096 ? len - i : 4096)))
			i += bs;
		if (i > start && img_fd_pwrite(w->fd, buf + start, i - start, off + start, what, errp) < 0)
			return -1;
	}
	return 0;
}

static size_t write_header(const struct img_qcow2_new *w, uint8_t *h, uint64_t l1_off, uint64_t rt_off,
			   uint32_t rt_clusters)
{
	size_t off;

	img_put_be32(h + QCOW2_HDR_MAGIC, QCOW2_MAGIC);
	img_put_be32(h + QCOW2_HDR_VERSION, w->o.version);
	img_put_be32(h + QCOW2_HDR_CLUSTER_BITS, w->o.cluster_bits);
	img_put_be64(h + QCOW2_HDR_SIZE, w->o.size);
	img_put_be32(h + QCOW2_HDR_L1_SIZE, (uint32_t)w->l1_size);
	img_put_be64(h + QCOW2_HDR_L1_OFFSET, w->l1_size ? l1_off : 0);
	img_put_be64(h + QCOW2_HDR_REFTABLE_OFFSET, rt_off);
	img_put_be32(h + QCOW2_HDR_REFTABLE_CLUSTERS, rt_clusters);
	if (w->o.version == 2) {
		off = QCOW2_HDR_V2_LENGTH;
	} else {
		uint64_t incompat = 0;

		if (w->o.extended_l2)
			incompat |= QCOW2_INCOMPAT_EXTL2;
		if (w->o.compression_type != QCOW2_COMPRESSION_ZLIB)
			incompat |= QCOW2_INCOMPAT_COMPRESSION;
		img_put_be64(h + QCOW2_HDR_INCOMPAT, incompat);
		img_put_be64(h + QCOW2_HDR_COMPAT, w->o.lazy_refcounts ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0);
		img_put_be32(h + QCOW2_HDR_REFCOUNT_ORDER, w->o.refcount_order);
		img_put_be32(h + QCOW2_HDR_HEADER_LENGTH, QCOW2_HDR_V3_LENGTH);
		h[QCOW2_HDR_COMPRESSION_TYPE] = w->o.compression_type;
		off = QCOW2_HDR_V3_LENGTH;
	}
	if (w->o.backing_fmt) {
		size_t n = strlen(w->o.backing_fmt);

		img_put_be32(h + off, QCOW2_EXT_BACKING_FORMAT);
		img_put_be32(h + off + 4, (uint32_t)n);
		memcpy(h + off + 8, w->o.backing_fmt, n);
		off += 8 + ((n + 7) & ~(size_t)7);
	}
	if (w->o.version >= 3) {
		size_t n = sizeof(feature_names) / sizeof(feature_names[0]);

		img_put_be32(h + off, QCOW2_EXT_FEATURE_TABLE);
		img_put_be32(h + off + 4, (uint32_t)(n * QCOW2_FEATURE_ENTRY_SIZE));
		off += 8;
		for (size_t i = 0; i < n; i++) {
			h[off] = feature_names[i].type;
			h[off + 1] = feature_names[i].bit;
			memcpy(h + off + 2, feature_names[i].name, strlen(feature_names[i].name));
			off += QCOW2_FEATURE_ENTRY_SIZE;
		}
	}
	off += 8; /* end of extensions */
	if (w->o.backing_file) {
		size_t n = strlen(w->o.backing_file);

		img_put_be64(h + QCOW2_HDR_BACKING_OFFSET, off);
		img_put_be32(h + QCOW2_HDR_BACKING_SIZE, (uint32_t)n);
		memcpy(h + off, w->o.backing_file, n);
		off += n;
	}
	return off;
}

static void l2_to_be(const struct img_qcow2_new *w, const uint64_t *t, uint8_t *buf)
{
	for (uint64_t j = 0; j < w->l2_entries * w->entry_words; j++)
		img_put_be64(buf + j * 8, t[j]);
}

int img_qcow2_new_flush_before(struct img_qcow2_new *w, uint64_t guest_off, struct qc_error **errp)
{
	uint64_t span = w->l2_entries * w->cs, limit = guest_off / span;
	uint8_t *buf = NULL;
	int ret = 0;

	if (limit > w->l1_size)
		limit = w->l1_size;
	for (; w->flushed < limit; w->flushed++) {
		uint64_t i = w->flushed, host;

		if (!w->l2[i])
			continue;
		if (!buf)
			buf = qc_malloc((size_t)w->cs);
		l2_to_be(w, w->l2[i], buf);
		w->next = (w->next + w->cs - 1) & ~(w->cs - 1);
		host = w->next;
		w->next += w->cs;
		if (write_meta(w, buf, (size_t)w->cs, host, "L2 table", errp) < 0) {
			ret = -1;
			break;
		}
		w->l2_done[i] = host;
		free(w->l2[i]);
		w->l2[i] = NULL;
	}
	free(buf);
	return ret;
}

int img_qcow2_new_finish(struct img_qcow2_new *w, struct qc_error **errp)
{
	uint64_t cs = w->cs, data_end = (w->next + cs - 1) / cs; /* in clusters */
	uint64_t rb_entries = cs * 8 >> w->o.refcount_order;
	uint64_t n_l2 = 0, l1_clusters, rt_clusters = 1, rblocks = 1, total, l1_off, rt_off, l2_off, end;
	uint8_t *buf = qc_calloc(1, (size_t)cs);
	size_t bi = 0;
	int ret = -1;

	for (uint64_t i = 0; i < w->l1_size; i++)
		n_l2 += w->l2[i] != NULL;
	l1_clusters = (w->l1_size * 8 + cs - 1) / cs;
	/* The refcount structures count themselves: iterate to a fixed point. */
	for (;;) {
		uint64_t nb, nt;

		total = data_end + rt_clusters + rblocks + l1_clusters + n_l2;
		nb = (total + rb_entries - 1) / rb_entries;
		nt = (nb * 8 + cs - 1) / cs;
		if (nb == rblocks && nt == rt_clusters)
			break;
		rblocks = nb > rblocks ? nb : rblocks;
		rt_clusters = nt > rt_clusters ? nt : rt_clusters;
	}
	if (rt_clusters * cs > QCOW2_MAX_REFTABLE_BYTES) {
		qc_error_set(errp, "image needs a refcount table larger than QEMU allows");
		goto out;
	}
	rt_off = data_end * cs;
	l1_off = rt_off + (rt_clusters + rblocks) * cs;
	l2_off = l1_off + l1_clusters * cs;

	/* L2 tables, in L1 order. */
	for (uint64_t i = 0, k = 0; i < w->l1_size; i++) {
		if (!w->l2[i])
			continue;
		l2_to_be(w, w->l2[i], buf);
		if (write_meta(w, buf, (size_t)cs, l2_off + k * cs, "L2 table", errp) < 0)
			goto out;
		k++;
	}
	/* L1: exactly its entries, as qemu-img writes it. */
	if (w->l1_size) {
		uint8_t *l1 = qc_calloc(w->l1_size, 8);
		uint64_t k = 0;

		for (uint64_t i = 0; i < w->l1_size; i++) {
			if (w->l2[i])
				img_put_be64(l1 + i * 8, QCOW2_OFLAG_COPIED | (l2_off + k++ * cs));
			else if (w->l2_done[i])
				img_put_be64(l1 + i * 8, QCOW2_OFLAG_COPIED | w->l2_done[i]);
		}
		ret = write_meta(w, l1, (size_t)(w->l1_size * 8), l1_off, "L1 table", errp);
		free(l1);
		if (ret < 0)
			goto out;
		ret = -1;
	}
	/* Refcount blocks: 1 for every cluster in use, the count for clusters
	 * holding compressed data. */
	for (uint64_t b = 0; b < rblocks; b++) {
		memset(buf, 0, (size_t)cs);
		for (uint64_t i = 0; i < rb_entries; i++) {
			uint64_t c = b * rb_entries + i, v;

			if (c >= total)
				break;
			v = 1;
			while (bi < w->nbumps && w->bumps[bi].cluster < c)
				bi++;
			if (bi < w->nbumps && w->bumps[bi].cluster == c)
				v = w->bumps[bi].count;
			put_refcount(buf, w->o.refcount_order, i, v);
		}
		if (write_meta(w, buf, (size_t)cs, rt_off + (rt_clusters + b) * cs, "refcount block", errp) < 0)
			goto out;
	}
	/* Refcount table. */
	for (uint64_t t = 0; t < rt_clusters; t++) {
		memset(buf, 0, (size_t)cs);
		for (uint64_t i = 0; i < cs / 8; i++) {
			uint64_t b = t * (cs / 8) + i;

			if (b < rblocks)
				img_put_be64(buf + i * 8, rt_off + (rt_clusters + b) * cs);
		}
		if (write_meta(w, buf, (size_t)cs, rt_off + t * cs, "refcount table", errp) < 0)
			goto out;
	}
	/* Header last, then the file's exact length. */
	memset(buf, 0, (size_t)cs);
	write_header(w, buf, l1_off, rt_off, (uint32_t)rt_clusters);
	if (write_meta(w, buf, (size_t)cs, 0, "header", errp) < 0)
		goto out;
	end = n_l2 ? l2_off + n_l2 * cs : (w->l1_size ? l1_off + w->l1_size * 8 : l1_off);
	if (ftruncate(w->fd, (off_t)end) < 0) {
		qc_error_set_errno(errp, errno, "cannot set the file size");
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

uint64_t img_qcow2_new_end(const struct img_qcow2_new *w)
{
	return w->next;
}

void img_qcow2_new_free(struct img_qcow2_new *w)
{
	if (!w)
		return;
	for (uint64_t i = 0; i < w->l1_size; i++)
		free(w->l2[i]);
	free(w->l2);
	free(w->l2_done);
	free(w->bumps);
	free(w->cbuf);
	if (w->zlib) {
		deflateEnd(w->zlib);
		free(w->zlib);
	}
#ifdef QMPCTL_HAVE_ZSTD
	ZSTD_freeCCtx(w->zctx);
#endif
	free(w);
}
