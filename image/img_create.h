/*
 * img_create: new raw and qcow2 images, and the option syntax shared with
 * convert ("-o key=value,...", sizes with k/M/G/T suffixes).
 *
 * Files are written under a temporary name in the target's directory and
 * renamed into place at the end, so a failure or an interruption leaves
 * neither a partial image nor a temporary file.  An existing target is
 * never replaced unless opts->overwrite is set.
 */
#ifndef IMG_CREATE_H
#define IMG_CREATE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "img.h"
#include "img_qcow2_new.h"
#include "qc_buf.h"
#include "qc_error.h"
#include "qc_op.h"

enum img_prealloc {
	IMG_PREALLOC_OFF,
	IMG_PREALLOC_METADATA,
	IMG_PREALLOC_FALLOC,
	IMG_PREALLOC_FULL,
};

struct img_create_opts {
	enum img_format fmt;
	bool has_size;
	uint64_t size;
	struct img_qcow2_new_opts qcow2; /* size, backing fields filled by img_create */
	char *backing_file;
	char *backing_fmt;
	enum img_prealloc prealloc;
	bool overwrite;
	/* Option values as the user wrote them (NULL: not given), for the line
	 * qemu-img prints; set by img_create_parse_options. */
	struct {
		char *compat, *preallocation, *lazy_refcounts, *extended_l2, *compression_type;
	} said;
	uint64_t said_size; /* set by img_create: the size before rounding */
	/* The operation's cancel request and its end (qc_op.h; NULL: none):
	 * polled between chunks, finished with the result. */
	struct qc_op *op;
};

/* Defaults as qemu-img's: compat 1.1, 64 KiB clusters, 16-bit refcounts. */
void img_create_opts_init(struct img_create_opts *o, enum img_format fmt);
void img_create_opts_free(struct img_create_opts *o);
/* Applies "key=value,key=value" (",," is a literal comma). */
int img_create_parse_options(struct img_create_opts *o, const char *s, struct qc_error **errp);
/* "10G", "512", "1.5M", "64k": bytes.  Suffixes k/K M G T P E (powers of 1024). */
int img_parse_size(const char *s, uint64_t *out, struct qc_error **errp);

int img_create(const char *path, struct img_create_opts *o, struct qc_error **errp);

/* qemu-img create's "Formatting 'PATH', fmt=... size=..." line for the
 * options of a successful img_create (o as it left them), with a newline:
 * the same options in qemu-img 7.2's order, defaults filled in. */
void img_create_describe(const struct img_create_opts *o, const char *path, struct qc_buf *out);

/* Temporary file beside path (for create and convert).  img_tmp_commit
 * renames it to path (refusing to replace an existing file unless
 * overwrite); img_tmp_abort removes it. */
struct img_tmp {
	char *tmp;
	const char *path;
	int fd;
};
int img_tmp_open(struct img_tmp *t, const char *path, bool overwrite, struct qc_error **errp);
int img_tmp_commit(struct img_tmp *t, bool overwrite, struct qc_error **errp);
void img_tmp_abort(struct img_tmp *t);

#endif
