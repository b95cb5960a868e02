/*
 * img_convert: the copy loop.
 *
 * The guest range is walked from the start: whatever the source reports as
 * zero (holes, unallocated or zero clusters, through the whole chain) is
 * skipped in whole output clusters at the cost of a few status queries; the
 * rest is read in chunks of CHUNK bytes (a multiple of the output cluster)
 * with img_read and scanned for zero blocks, so only real data is written,
 * in runs as long as the chunk.  Raw to raw, those runs are handed to
 * copy_file_range (the bytes are the source file's own, at the same offset).
 */
#include "img_convert.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img_io.h"
#include "img_qcow2_new.h"
#include "qc_buf.h"

#define CHUNK	       (4u << 20)
#define RAW_ZERO_BLOCK 4096u

static int cancelled(const struct img_convert_opts *o, struct qc_error **errp)
{
	if (o->out.cancel && *o->out.cancel) {
		qc_error_set(errp, "interrupted");
		return 1;
	}
	return 0;
}

/* How many bytes from off (at most max) read as zeros without reading. */
static int zero_run(struct img *src, uint64_t off, uint64_t max, uint64_t *run, struct qc_error **errp)
{
	*run = 0;
	while (*run < max) {
		uint64_t n;
		bool data;

		if (img_status(src, off + *run, max - *run, &n, &data, errp) < 0)
			return -1;
		if (data || !n)
			break;
		*run += n;
	}
	return 0;
}

/* Writes buf at off in the file, leaving holes where whole 4 KiB blocks
 * are zero (the file reads zeros there anyway). */
/* When the source is a raw file, its bytes at the same offset are the data:
 * copy_file_range lets the kernel copy them (sharing extents on file
 * systems that can).  src_fd < 0 or a refusal falls back to pwrite. */
static int copy_or_write(int src_fd, int fd, const uint8_t *buf, size_t len, uint64_t off, struct qc_error **errp)
{
	loff_t in = (loff_t)off, out = (loff_t)off;
	size_t done = 0;

	while (src_fd >= 0 && done < len) {
		ssize_t n = copy_file_range(src_fd, &in, fd, &out, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
			break; /* not here: write it ourselves */
		if (n < 0) {
			qc_error_set_errno(errp, errno, "cannot write output at offset %#" PRIx64, off + done);
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	if (done == len)
		return 0;
	return img_fd_pwrite(fd, buf + done, len - done, off + done, "output", errp);
}

static int write_sparse_from(int src_fd, int fd, const uint8_t *buf, uint64_t off, size_t len,
			     struct qc_error **errp)
{
	size_t i = 0;

	/* Blocks are aligned to the file, not to buf: a hole must cover a
	 * whole file system block to save anything. */
#define BLOCK_AT(i)                                                          \
	((size_t)(RAW_ZERO_BLOCK - (off + (i)) % RAW_ZERO_BLOCK) < len - (i) \
		 ? (size_t)(RAW_ZERO_BLOCK - (off + (i)) % RAW_ZERO_BLOCK)   \
		 : len - (i))
	while (i < len) {
		size_t start;

		/* Skip zero blocks, then gather the next run of non-zero ones. */
		while (i < len && img_is_zero(buf + i, BLOCK_AT(i)))
			i += BLOCK_AT(i);
		start = i;
		while (i < len && !img_is_zero(buf + i, BLOCK_AT(i)))
			i += BLOCK_AT(i);
		if (i > start && copy_or_write(src_fd, fd, buf + start, i - start, off + start, errp) < 0)
			return -1;
	}
#undef BLOCK_AT
	return 0;
}

static int write_sparse(int fd, const uint8_t *buf, uint64_t off, size_t len, struct qc_error **errp)
{
	return write_sparse_from(-1, fd, buf, off, len, errp);
}

static int write_qcow2_chunk(struct img_qcow2_new *w, int fd, uint64_t cs, const uint8_t *buf, uint64_t off, size_t len,
			     bool compress, struct qc_error **errp)
{
	size_t i = 0;

	while (i < len) {
		size_t start;
		uint64_t host;

		while (i < len && img_is_zero(buf + i, (size_t)cs))
			i += cs;
		if (compress && i < len) {
			int r = img_qcow2_new_write_compressed(w, (off + i) / cs, buf + i, errp);

			if (r < 0)
				return -1;
			if (r > 0) {
				i += cs;
				continue;
			}
			/* incompressible: store this one cluster normally */
			host = img_qcow2_new_alloc(w, (off + i) / cs, 1);
			if (write_sparse(fd, buf + i, host, (size_t)cs, errp) < 0)
				return -1;
			i += cs;
			continue;
		}
		start = i;
		while (i < len && !img_is_zero(buf + i, (size_t)cs))
			i += cs;
		if (i == start)
			continue;
		host = img_qcow2_new_alloc(w, (off + start) / cs, (i - start) / cs);
		if (write_sparse(fd, buf + start, host, i - start, errp) < 0)
			return -1;
	}
	return 0;
}

int img_convert(const char *src_path, const char *dst, struct img_convert_opts *o, struct qc_error **errp)
{
	struct img *src;
	struct img_tmp t = { 0 };
	struct img_qcow2_new *w = NULL;
	uint8_t *buf = NULL;
	uint64_t size, cs = 0, off, synced = 0;
	bool qcow2 = o->out.fmt == IMG_FMT_QCOW2;
	int ret = -1;

	if (o->compress && !qcow2) {
		qc_error_set(errp, "compression needs qcow2 output");
		return -1;
	}
	if (o->out.backing_file || o->out.backing_fmt) {
		qc_error_set(errp, "convert writes a self-contained image; backing_file is not supported");
		return -1;
	}
	if (o->out.prealloc != IMG_PREALLOC_OFF) {
		qc_error_set(errp, "convert does not preallocate; create the image instead");
		return -1;
	}
	src = img_open(src_path, o->src_fmt, IMG_OPEN_CHAIN | IMG_OPEN_DATA | (o->force_share ? IMG_OPEN_NO_LOCK : 0),
		       errp);
	if (!src)
		return -1;
	for (struct img *i = src; i; i = i->backing) {
		if (i->qcow2 && i->qcow2->crypt_method) {
			qc_error_set(errp, "%s: image is encrypted; qmpctl does not read encrypted data", i->path);
			goto out;
		}
	}
	size = src->size;
	if (o->out.has_size && o->out.size != size) {
		qc_error_set(errp, "convert keeps the source's size; do not give size=");
		goto out;
	}
	if (img_tmp_open(&t, dst, o->out.overwrite, errp) < 0) {
		qc_error_prepend(errp, "%s", dst);
		goto out;
	}
	if (qcow2) {
		o->out.qcow2.size = size;
		o->out.qcow2.backing_file = o->out.qcow2.backing_fmt = NULL;
		o->out.qcow2.sparse_metadata = true;
		w = img_qcow2_new_start(t.fd, &o->out.qcow2, errp);
		if (!w)
			goto fail_out;
		cs = 1ull << o->out.qcow2.cluster_bits;
	} else if (ftruncate(t.fd, (off_t)size) < 0) {
		qc_error_set_errno(errp, errno, "cannot set the output size");
		goto fail_out;
	}
	buf = qc_malloc(CHUNK > cs ? CHUNK : (size_t)cs);
	for (off = 0; off < size;) {
		uint64_t chunk = CHUNK > cs ? CHUNK : cs, len, run, unit = qcow2 ? cs : RAW_ZERO_BLOCK;
		size_t n;

		if (cancelled(o, errp) || zero_run(src, off, size - off, &run, errp) < 0)
			goto fail;
		/* Skip what reads as zeros, in whole output clusters. */
		run = off + run >= size ? size - off : run / unit * unit;
		if (run) {
			off += run;
			if (o->progress)
				o->progress(o->opaque, off, size);
			continue;
		}
		len = size - off < chunk ? size - off : chunk;
		/* qcow2 output works on whole clusters: the tail of the last
		 * one reads as zeros. */
		n = (size_t)len;
		if (qcow2 && (len % cs)) {
			n = (size_t)((len + cs - 1) / cs * cs);
			memset(buf + len, 0, n - len);
		}
		if (img_read(src, buf, off, (size_t)len, errp) < 0)
			goto fail;
		if (qcow2 ? write_qcow2_chunk(w, t.fd, cs, buf, off, n, o->compress, errp)
			  : write_sparse_from(src->fmt == IMG_FMT_RAW && src->io.size >= off + len ? src->fd : -1,
					      t.fd, buf, off, (size_t)len, errp))
			goto fail_out;
		if (qcow2 && img_qcow2_new_flush_before(w, off + len, errp) < 0)
			goto fail_out;
		/* Start writeback of what is written for good, so the final
		 * flush has little left to wait for.  Pages still being filled
		 * (packed compressed clusters) are left alone: writing to a page
		 * under writeback waits for it. */
		{
			uint64_t done = (qcow2 ? img_qcow2_new_end(w) : off + len) & ~(uint64_t)(RAW_ZERO_BLOCK - 1);

			if (done > synced) {
				sync_file_range(t.fd, (off_t)synced, (off_t)(done - synced), SYNC_FILE_RANGE_WRITE);
				synced = done;
			}
		}
		off += len;
		if (o->progress)
			o->progress(o->opaque, off, size);
	}
	if (w && img_qcow2_new_finish(w, errp) < 0)
		goto fail_out;
	if (cancelled(o, errp))
		goto fail;
	if (img_tmp_commit(&t, o->out.overwrite, errp) < 0)
		goto fail_out;
	ret = 0;
	goto out;
fail_out:
	/* errors writing the output name it; reading errors name the source */
	qc_error_prepend(errp, "%s", dst);
fail:
	img_tmp_abort(&t);
out:
	img_qcow2_new_free(w);
	free(buf);
	img_close(src);
	return ret;
}
