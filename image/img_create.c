/* img_create: option parsing and new raw/qcow2 files. */
#include "img_create.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img_io.h"
#include "img_qcow2_format.h"
#include "qc_buf.h"

void img_create_opts_init(struct img_create_opts *o, enum img_format fmt)
{
	memset(o, 0, sizeof(*o));
	o->fmt = fmt;
	o->qcow2.version = 3;
	o->qcow2.cluster_bits = 16;
	o->qcow2.refcount_order = 4;
}

void img_create_opts_free(struct img_create_opts *o)
{
	free(o->backing_file);
	free(o->backing_fmt);
	o->backing_file = o->backing_fmt = NULL;
	free(o->said.compat);
	free(o->said.preallocation);
	free(o->said.lazy_refcounts);
	free(o->said.extended_l2);
	free(o->said.compression_type);
	memset(&o->said, 0, sizeof(o->said));
}

/* QEMU doubles the commas of string options it prints. */
static void append_escaped(struct qc_buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == ',')
			qc_buf_append_c(out, ',');
		qc_buf_append_c(out, *v);
	}
}

static void append_opt(struct qc_buf *out, const char *key, const char *v, bool escape)
{
	if (!v)
		return;
	qc_buf_printf(out, " %s=", key);
	if (escape)
		append_escaped(out, v);
	else
		qc_buf_append_str(out, v);
}

void img_create_describe(const struct img_create_opts *o, const char *path, struct qc_buf *out)
{
	qc_buf_printf(out, "Formatting '%s', fmt=%s", path, img_format_name(o->fmt));
	if (o->fmt == IMG_FMT_RAW) {
		qc_buf_printf(out, " size=%" PRIu64, o->said_size);
		append_opt(out, "preallocation", o->said.preallocation, true);
		qc_buf_append_c(out, '\n');
		return;
	}
	/* The order of QEMU's qcow2 option list; numbers as parsed, strings
	 * and booleans as written, defaults where nothing was said. */
	qc_buf_printf(out, " cluster_size=%" PRIu64, (uint64_t)1 << o->qcow2.cluster_bits);
	append_opt(out, "extended_l2", o->said.extended_l2 ? o->said.extended_l2 : "off", false);
	append_opt(out, "preallocation", o->said.preallocation, true);
	append_opt(out, "compression_type", o->said.compression_type ? o->said.compression_type : "zlib", true);
	qc_buf_printf(out, " size=%" PRIu64, o->said_size);
	append_opt(out, "compat", o->said.compat, true);
	append_opt(out, "backing_file", o->backing_file, true);
	append_opt(out, "backing_fmt", o->backing_fmt, true);
	append_opt(out, "lazy_refcounts", o->said.lazy_refcounts ? o->said.lazy_refcounts : "off", false);
	qc_buf_printf(out, " refcount_bits=%u\n", 1u << o->qcow2.refcount_order);
}

static void remember(char **slot, const char *v)
{
	free(*slot);
	*slot = qc_strdup(v);
}

int img_parse_size(const char *s, uint64_t *out, struct qc_error **errp)
{
	static const char units[] = "bkmgtpe";
	char *end;
	double v;
	const char *u;
	int shift = 0;

	errno = 0;
	/* Digits first, then at most a fraction and one suffix letter: no
	 * signs, blanks, hex, exponents, "inf" or "nan" reach strtod. */
	if (!(*s >= '0' && *s <= '9'))
		goto bad;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.' || (!p[1] && strchr("bBkKmMgGtTpPeE", *p))))
			goto bad;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v >= 0))
		goto bad;
	if (*end) {
		char c = (char)(*end >= 'A' && *end <= 'Z' ? *end - 'A' + 'a' : *end);

		u = strchr(units, c);
		if (!u || !c || end[1])
			goto bad;
		shift = (int)(u - units) * 10;
	}
	v = ldexp(v, shift);
	if (v >= 18446744073709551616.0 || v != floor(v))
		goto bad;
	*out = (uint64_t)v;
	return 0;
bad:
	qc_error_set(errp, "invalid size '%s': expected a number of bytes with an optional k, M, G, T, P or E suffix",
		     s);
	return -1;
}

static int parse_bool(const char *key, const char *v, bool *out, struct qc_error **errp)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no")) {
		*out = false;
		return 0;
	}
	qc_error_set(errp, "option %s: expected on or off, not '%s'", key, v);
	return -1;
}

static int pow2_bits(uint64_t v, uint32_t *bits)
{
	if (!v || (v & (v - 1)))
		return -1;
	*bits = 0;
	while ((1ull << *bits) < v)
		(*bits)++;
	return 0;
}

static int apply_option(struct img_create_opts *o, const char *key, const char *v, struct qc_error **errp)
{
	bool qcow2 = o->fmt == IMG_FMT_QCOW2;
	uint64_t n;

	if (!strcmp(key, "size"))
		return img_parse_size(v, &o->size, errp) < 0 ? -1 : (o->has_size = true, 0);
	if (!strcmp(key, "preallocation")) {
		static const char *const names[] = { "off", "metadata", "falloc", "full" };

		for (int i = 0; i < 4; i++) {
			if (!strcmp(v, names[i]) && (qcow2 || i != IMG_PREALLOC_METADATA)) {
				o->prealloc = (enum img_prealloc)i;
				remember(&o->said.preallocation, v);
				return 0;
			}
		}
		qc_error_set(errp, "option preallocation: '%s' is not one of %s", v,
			     qcow2 ? "off, metadata, falloc, full" : "off, falloc, full");
		return -1;
	}
	if (!qcow2) {
		qc_error_set(errp, "raw images have no option '%s' (only size and preallocation)", key);
		return -1;
	}
	if (!strcmp(key, "compat")) {
		if (!strcmp(v, "0.10") || !strcmp(v, "v2"))
			o->qcow2.version = 2;
		else if (!strcmp(v, "1.1") || !strcmp(v, "v3"))
			o->qcow2.version = 3;
		else
			goto bad_value;
		remember(&o->said.compat, v);
		return 0;
	}
	if (!strcmp(key, "cluster_size")) {
		if (img_parse_size(v, &n, errp) < 0)
			return -1;
		if (n < 512 || n > (2u << 20) || pow2_bits(n, &o->qcow2.cluster_bits) < 0) {
			qc_error_set(errp, "cluster size must be a power of two between 512 and 2048k");
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "refcount_bits")) {
		char *end;

		n = strtoull(v, &end, 10);
		if (*end || n > 64 || pow2_bits(n, &o->qcow2.refcount_order) < 0) {
			qc_error_set(errp, "refcount width must be a power of two and may not exceed 64 bits");
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "lazy_refcounts")) {
		if (parse_bool(key, v, &o->qcow2.lazy_refcounts, errp) < 0)
			return -1;
		remember(&o->said.lazy_refcounts, v);
		return 0;
	}
	if (!strcmp(key, "extended_l2")) {
		if (parse_bool(key, v, &o->qcow2.extended_l2, errp) < 0)
			return -1;
		remember(&o->said.extended_l2, v);
		return 0;
	}
	if (!strcmp(key, "compression_type")) {
		if (!strcmp(v, "zlib"))
			o->qcow2.compression_type = QCOW2_COMPRESSION_ZLIB;
		else if (!strcmp(v, "zstd"))
			o->qcow2.compression_type = QCOW2_COMPRESSION_ZSTD;
		else
			goto bad_value;
		remember(&o->said.compression_type, v);
		return 0;
	}
	if (!strcmp(key, "backing_file")) {
		free(o->backing_file);
		o->backing_file = qc_strdup(v);
		return 0;
	}
	if (!strcmp(key, "backing_fmt")) {
		free(o->backing_fmt);
		o->backing_fmt = qc_strdup(v);
		return 0;
	}
	if (!strcmp(key, "encryption") || !strncmp(key, "encrypt.", 8) || !strcmp(key, "data_file")) {
		qc_error_set(errp, "option '%s' is not supported by qmpctl (use qemu-img)", key);
		return -1;
	}
	qc_error_set(errp,
		     "unknown option '%s' (known: compat, cluster_size, preallocation, lazy_refcounts, "
		     "refcount_bits, extended_l2, compression_type, backing_file, backing_fmt, size)",
		     key);
	return -1;
bad_value:
	qc_error_set(errp, "option %s: invalid value '%s'", key, v);
	return -1;
}

int img_create_parse_options(struct img_create_opts *o, const char *s, struct qc_error **errp)
{
	struct qc_buf item = { 0 };
	int ret = 0;

	for (const char *p = s;; p++) {
		if (*p == ',' && p[1] == ',') {
			qc_buf_append_c(&item, ',');
			p++;
			continue;
		}
		if (*p && *p != ',') {
			qc_buf_append_c(&item, *p);
			continue;
		}
		if (item.len) {
			char *kv = (char *)qc_buf_str(&item), *eq = strchr(kv, '=');

			if (!eq) {
				qc_error_set(errp, "option '%s' has no value (expected key=value)", kv);
				ret = -1;
				break;
			}
			*eq = 0;
			if (apply_option(o, kv, eq + 1, errp) < 0) {
				ret = -1;
				break;
			}
			qc_buf_reset(&item);
		}
		if (!*p)
			break;
	}
	qc_buf_free(&item);
	return ret;
}

/* ---- temporary files ------------------------------------------------------ */

int img_tmp_open(struct img_tmp *t, const char *path, bool overwrite, struct qc_error **errp)
{
	const char *slash = strrchr(path, '/');
	struct stat st;

	t->path = path;
	t->fd = -1;
	t->tmp = NULL;
	if (!overwrite && lstat(path, &st) == 0) {
		qc_error_set(errp, "file exists; not replacing it");
		return -1;
	}
	t->tmp = slash ? qc_asprintf("%.*s/.%s.qmpctl-XXXXXX", (int)(slash - path), path, slash + 1)
		       : qc_asprintf(".%s.qmpctl-XXXXXX", path);
	t->fd = mkostemp(t->tmp, O_CLOEXEC);
	if (t->fd < 0) {
		qc_error_set_errno(errp, errno, "cannot create a temporary file beside it");
		free(t->tmp);
		t->tmp = NULL;
		return -1;
	}
	{
		mode_t mask = umask(0);

		umask(mask);
		if (fchmod(t->fd, 0644 & ~mask) < 0) {
			qc_error_set_errno(errp, errno, "cannot set the permissions of the temporary file");
			img_tmp_abort(t);
			return -1;
		}
	}
	return 0;
}

int img_tmp_commit(struct img_tmp *t, bool overwrite, struct qc_error **errp)
{
	/* Data first: a write error surfacing only at writeback must fail here,
	 * before the name appears. */
	if (fdatasync(t->fd) < 0) {
		qc_error_set_errno(errp, errno, "cannot flush");
		return -1;
	}
	if (overwrite) {
		if (rename(t->tmp, t->path) < 0) {
			qc_error_set_errno(errp, errno, "cannot rename the temporary file into place");
			return -1;
		}
	} else if (renameat2(AT_FDCWD, t->tmp, AT_FDCWD, t->path, RENAME_NOREPLACE) < 0) {
		qc_error_set_errno(errp, errno, "cannot rename the temporary file into place");
		return -1;
	}
	close(t->fd);
	t->fd = -1;
	free(t->tmp);
	t->tmp = NULL;
	return 0;
}

void img_tmp_abort(struct img_tmp *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->tmp)
		unlink(t->tmp);
	free(t->tmp);
	t->tmp = NULL;
	t->fd = -1;
}

/* ---- create ----------------------------------------------------------------- */

static int cancelled(const struct img_create_opts *o, struct qc_error **errp)
{
	if (o->op && qc_op_cancel_requested(o->op)) {
		qc_error_set(errp, "interrupted");
		return 1;
	}
	return 0;
}

static int write_zeros(int fd, uint64_t off, uint64_t len, const struct img_create_opts *o, struct qc_error **errp)
{
	static const uint8_t zeros[1 << 20];

	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);

		if (cancelled(o, errp) || img_fd_pwrite(fd, zeros, n, off, "zeros", errp) < 0)
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

static int prealloc_range(int fd, uint64_t off, uint64_t len, const struct img_create_opts *o, struct qc_error **errp)
{
	int rc;

	if (!len)
		return 0;
	switch (o->prealloc) {
	case IMG_PREALLOC_FALLOC:
		rc = posix_fallocate(fd, (off_t)off, (off_t)len);
		if (rc) {
			qc_error_set_errno(errp, rc, "cannot preallocate %" PRIu64 " bytes", len);
			return -1;
		}
		return 0;
	case IMG_PREALLOC_FULL:
		return write_zeros(fd, off, len, o, errp);
	default:
		return 0;
	}
}

static int create_raw(int fd, struct img_create_opts *o, struct qc_error **errp)
{
	if (ftruncate(fd, (off_t)o->size) < 0) {
		qc_error_set_errno(errp, errno, "cannot set the file size");
		return -1;
	}
	if (o->prealloc != IMG_PREALLOC_OFF)
		return prealloc_range(fd, 0, o->size, o, errp);
	/* Like qemu-img: allocate the first block so that later probing of
	 * the file system's alignment works. */
	return write_zeros(fd, 0, o->size < 4096 ? o->size : 4096, o, errp);
}

static int create_qcow2(int fd, struct img_create_opts *o, struct qc_error **errp)
{
	struct img_qcow2_new *w;
	int ret = -1;

	o->qcow2.size = o->size;
	o->qcow2.backing_file = o->backing_file;
	o->qcow2.backing_fmt = o->backing_fmt;
	w = img_qcow2_new_start(fd, &o->qcow2, errp);
	if (!w)
		return -1;
	if (o->prealloc != IMG_PREALLOC_OFF) {
		uint64_t cs = 1ull << o->qcow2.cluster_bits, n = (o->size + cs - 1) / cs;
		uint64_t host = img_qcow2_new_alloc(w, 0, n);

		if (ftruncate(fd, (off_t)(host + n * cs)) < 0) {
			qc_error_set_errno(errp, errno, "cannot set the file size");
			goto out;
		}
		if (prealloc_range(fd, host, n * cs, o, errp) < 0)
			goto out;
	}
	ret = img_qcow2_new_finish(w, errp);
out:
	img_qcow2_new_free(w);
	return ret;
}

static int create_run(const char *path, struct img_create_opts *o, struct qc_error **errp)
{
	struct img_tmp t;
	int rc;

	if (o->fmt == IMG_FMT_RAW && (o->backing_file || o->backing_fmt)) {
		qc_error_set(errp, "raw images cannot have a backing file");
		return -1;
	}
	if (o->backing_fmt && !o->backing_file) {
		qc_error_set(errp, "a backing format was given without a backing file");
		return -1;
	}
	if (o->backing_file) {
		struct qc_error *err = NULL;
		char *bpath = img_backing_resolve(path, o->backing_file);
		struct img *b;

		if (!o->backing_fmt) {
			qc_error_set(errp, "backing file specified without its format (give -F raw or -F qcow2)");
			free(bpath);
			return -1;
		}
		b = img_open(bpath, o->backing_fmt, IMG_OPEN_NO_LOCK, &err);
		free(bpath);
		if (!b) {
			qc_error_prefix(errp, err, "cannot open backing file");
			return -1;
		}
		if (!o->has_size) {
			o->size = b->size;
			o->has_size = true;
		}
		img_close(b);
		if (o->prealloc != IMG_PREALLOC_OFF && !o->qcow2.extended_l2) {
			qc_error_set(errp,
				     "backing file and preallocation can only be used together with extended_l2=on");
			return -1;
		}
	}
	if (!o->has_size) {
		qc_error_set(errp, "no size given (and no backing file to take it from)");
		return -1;
	}
	/* Sizes are whole 512-byte sectors, as qemu-img rounds them. */
	if (o->size > INT64_MAX - 511) {
		qc_error_set(errp, "size %" PRIu64 " is too large", o->size);
		return -1;
	}
	o->said_size = o->size;
	o->size = (o->size + 511) & ~511ull;
	if (o->fmt == IMG_FMT_QCOW2) {
		o->qcow2.size = o->size;
		if (img_qcow2_new_check(&o->qcow2, errp) < 0)
			return -1;
	}
	if (img_tmp_open(&t, path, o->overwrite, errp) < 0)
		return -1;
	rc = o->fmt == IMG_FMT_RAW ? create_raw(t.fd, o, errp) : create_qcow2(t.fd, o, errp);
	if (rc == 0 && !cancelled(o, errp))
		rc = img_tmp_commit(&t, o->overwrite, errp);
	else
		rc = -1;
	if (rc < 0) {
		img_tmp_abort(&t);
		qc_error_prepend(errp, "%s", path);
	}
	return rc;
}

int img_create(const char *path, struct img_create_opts *o, struct qc_error **errp)
{
	struct qc_error *err = NULL;
	int rc = create_run(path, o, &err);

	if (o->op)
		qc_op_finish(o->op, err);
	qc_error_propagate(errp, err);
	return rc;
}
