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
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img_io.h"
#include "img_qcow2_new.h"
#include "qc_buf.h"

#define CHUNK	       (4u << 20)
#define RAW_ZERO_BLOCK 4096u
#define MAX_SPARSE     (16u << 20)

int img_convert_parse_sparse(const char *s, struct img_convert_opts *o, struct qc_error **errp)
{
	uint64_t v;

	if (img_parse_size(s, &v, NULL) < 0 || v % 512 || v > MAX_SPARSE) {
		qc_error_set(errp,
			     "invalid buffer size for sparse output '%s': valid sizes are multiples of 512 up to %u; "
			     "0 disables sparse detection (fully allocates output)",
			     s, MAX_SPARSE);
		return -1;
	}
	o->no_sparse = v == 0;
	o->sparse_size = v;
	return 0;
}

/* How the raw output is written: zero blocks of `block` bytes are holes
 * (block 0: everything written); over an existing target (!known_zero)
 * those holes must be made, not just left. */
struct raw_out {
	int src_fd; /* a raw source's file: its bytes are copied by the kernel */
	int fd;
	uint32_t block;
	bool known_zero;
};

/* Zeros at off..off+len of an output that may hold old data: a hole where
 * the file system can punch one, written zeros elsewhere (devices). */
static int zero_out(int fd, uint64_t off, uint64_t len, struct qc_error **errp)
{
	static const uint8_t zeros[65536];

	if (!len || fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);

		if (img_fd_pwrite(fd, zeros, n, off, "output", errp) < 0)
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

static int cancelled(const struct img_convert_opts *o, struct qc_error **errp)
{
	if (o->op && qc_op_cancel_requested(o->op)) {
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

/* Blocks are aligned to the file, not to buf: a hole must cover a whole
 * file system block to save anything. */
#define BLOCK_AT(i) ((size_t)(bs - (off + (i)) % bs) < len - (i) ? (size_t)(bs - (off + (i)) % bs) : len - (i))

static int write_raw(const struct raw_out *r, const uint8_t *buf, uint64_t off, size_t len, struct qc_error **errp)
{
	const uint32_t bs = r->block;
	size_t i = 0;

	if (!bs)
		return copy_or_write(r->src_fd, r->fd, buf, len, off, errp);
	while (i < len) {
		size_t start = i;

		/* A run of zero blocks, then the next run of non-zero ones. */
		while (i < len && img_is_zero(buf + i, BLOCK_AT(i)))
			i += BLOCK_AT(i);
		if (i > start && !r->known_zero && zero_out(r->fd, off + start, i - start, errp) < 0)
			return -1;
		start = i;
		while (i < len && !img_is_zero(buf + i, BLOCK_AT(i)))
			i += BLOCK_AT(i);
		if (i > start && copy_or_write(r->src_fd, r->fd, buf + start, i - start, off + start, errp) < 0)
			return -1;
	}
#undef BLOCK_AT
	return 0;
}

static int write_sparse(int fd, const uint8_t *buf, uint64_t off, size_t len, struct qc_error **errp)
{
	const struct raw_out r = { .src_fd = -1, .fd = fd, .block = RAW_ZERO_BLOCK, .known_zero = true };

	return write_raw(&r, buf, off, len, errp);
}

static int write_qcow2_chunk(struct img_qcow2_new *w, int fd, uint64_t cs, const uint8_t *buf, uint64_t off, size_t len,
			     bool compress, bool sparse, struct qc_error **errp)
{
	size_t i = 0;

	while (i < len) {
		size_t start;
		uint64_t host;

		while (sparse && i < len && img_is_zero(buf + i, (size_t)cs))
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
		while (i < len && (!sparse || !img_is_zero(buf + i, (size_t)cs)))
			i += cs;
		if (i == start)
			continue;
		host = img_qcow2_new_alloc(w, (off + start) / cs, (i - start) / cs);
		if (sparse ? write_sparse(fd, buf + start, host, i - start, errp)
			   : img_fd_pwrite(fd, buf + start, i - start, host, "output", errp))
			return -1;
	}
	return 0;
}

/* -n: the target as it is, locked as QEMU would, and large enough. */
static int open_existing(const char *dst, uint64_t size, int *fdp, struct qc_error **errp)
{
	struct stat st;
	uint64_t have = 0;
	int fd = open(dst, O_RDWR | O_CLOEXEC); /* read too: OFD read locks need it */

	if (fd < 0) {
		qc_error_set_errno(errp, errno, "%s: cannot open", dst);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		qc_error_set_errno(errp, errno, "%s: cannot stat", dst);
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		have = (uint64_t)st.st_size;
	} else if (!S_ISBLK(st.st_mode) || ioctl(fd, BLKGETSIZE64, &have) < 0) {
		qc_error_set(errp, "%s: not a regular file or block device", dst);
		goto fail;
	}
	if (img_lock(fd, true, errp) < 0) {
		qc_error_prepend(errp, "%s", dst);
		goto fail;
	}
	if (have < size) {
		qc_error_set(errp, "%s: output is smaller than the input (%" PRIu64 " < %" PRIu64 " bytes)", dst, have,
			     size);
		goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

static int convert_run(const char *src_path, const char *dst, struct img_convert_opts *o, struct qc_error **errp)
{
	struct img *src;
	struct img_tmp t = { .fd = -1 };
	struct img_qcow2_new *w = NULL;
	struct raw_out r = { .src_fd = -1, .fd = -1 };
	uint8_t *buf = NULL;
	uint64_t size, cs = 0, off, synced = 0;
	bool qcow2 = o->out.fmt == IMG_FMT_QCOW2;
	int ret = -1, fd = -1;

	if (o->compress && !qcow2) {
		qc_error_set(errp, "compression needs qcow2 output");
		return -1;
	}
	if (o->out.backing_file || o->out.backing_fmt) {
		qc_error_set(errp, "convert writes a self-contained image; backing_file is not supported");
		return -1;
	}
	if (o->out.prealloc != IMG_PREALLOC_OFF) {
		qc_error_set(errp, "convert does not take preallocation=; -S 0 writes every byte (a fully allocated "
				   "output)");
		return -1;
	}
	if (o->no_create && qcow2) {
		qc_error_set(errp, "-n writes into existing raw images and devices only");
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
	if (o->no_create) {
		if (open_existing(dst, size, &fd, errp) < 0)
			goto out;
	} else if (img_tmp_open(&t, dst, o->out.overwrite, errp) < 0) {
		qc_error_prepend(errp, "%s", dst);
		goto out;
	} else {
		fd = t.fd;
	}
	r.fd = fd;
	r.block = o->no_sparse ? 0 : o->sparse_size ? (uint32_t)o->sparse_size : RAW_ZERO_BLOCK;
	r.known_zero = !o->no_create;
	if (qcow2) {
		o->out.qcow2.size = size;
		o->out.qcow2.backing_file = o->out.qcow2.backing_fmt = NULL;
		o->out.qcow2.sparse_metadata = true;
		w = img_qcow2_new_start(fd, &o->out.qcow2, errp);
		if (!w)
			goto fail_out;
		cs = 1ull << o->out.qcow2.cluster_bits;
	} else if (!o->no_create && ftruncate(fd, (off_t)size) < 0) {
		qc_error_set_errno(errp, errno, "cannot set the output size");
		goto fail_out;
	}
	buf = qc_malloc(CHUNK > cs ? CHUNK : (size_t)cs);
	for (off = 0; off < size;) {
		uint64_t chunk = CHUNK > cs ? CHUNK : cs, len, run = 0, unit = qcow2 ? cs : r.block;
		size_t n;

		/* Skip what reads as zeros, in whole output clusters (-S 0:
		 * nothing is skipped, the zeros are written). */
		if (cancelled(o, errp) || (!o->no_sparse && zero_run(src, off, size - off, &run, errp) < 0))
			goto fail;
		if (run)
			run = off + run >= size ? size - off : run / unit * unit;
		if (run && !r.known_zero && zero_out(fd, off, run, errp) < 0)
			goto fail_out;
		if (run) {
			off += run;
			if (o->op)
				qc_op_progress(o->op, off, size);
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
		r.src_fd = src->fmt == IMG_FMT_RAW && src->io.size >= off + len ? src->fd : -1;
		if (qcow2 ? write_qcow2_chunk(w, fd, cs, buf, off, n, o->compress, !o->no_sparse, errp)
			  : write_raw(&r, buf, off, (size_t)len, errp))
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
				sync_file_range(fd, (off_t)synced, (off_t)(done - synced), SYNC_FILE_RANGE_WRITE);
				synced = done;
			}
		}
		off += len;
		if (o->op)
			qc_op_progress(o->op, off, size);
	}
	if (w && img_qcow2_new_finish(w, errp) < 0)
		goto fail_out;
	if (cancelled(o, errp))
		goto fail;
	if (o->no_create) {
		if (fdatasync(fd) < 0 && errno != EINVAL) {
			qc_error_set_errno(errp, errno, "cannot flush the output");
			goto fail_out;
		}
	} else if (img_tmp_commit(&t, o->out.overwrite, errp) < 0) {
		goto fail_out;
	}
	ret = 0;
	goto out;
fail_out:
	/* errors writing the output name it; reading errors name the source */
	qc_error_prepend(errp, "%s", dst);
fail:
	if (!o->no_create)
		img_tmp_abort(&t);
out:
	if (o->no_create && fd >= 0)
		close(fd);
	img_qcow2_new_free(w);
	free(buf);
	img_close(src);
	return ret;
}

int img_convert(const char *src_path, const char *dst, struct img_convert_opts *o, struct qc_error **errp)
{
	struct qc_error *err = NULL;
	int rc = convert_run(src_path, dst, o, &err);

	if (o->op)
		qc_op_finish(o->op, err);
	qc_error_propagate(errp, err);
	return rc;
}
