/*
 * img_convert: copy an image's guest view into a new raw or qcow2 file.
 *
 * The source's whole backing chain is read (the result has no backing
 * file), ranges the source knows to be zero are skipped without reading,
 * and data that turns out to be zero is not written: raw output gets holes,
 * qcow2 output leaves those clusters unallocated.  The output is written
 * under a temporary name beside DST and renamed at the end; any failure or
 * cancellation removes it (except with no_create, which writes in place).
 */
#ifndef IMG_CONVERT_H
#define IMG_CONVERT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "img_create.h"
#include "qc_error.h"

struct img_convert_opts {
	const char *src_fmt;	    /* NULL: probe */
	bool force_share;	    /* -U on the source */
	struct img_create_opts out; /* format and -o options of the output */
	bool compress;		    /* qcow2 output: compress clusters */
	/* -S: data is scanned for zeros in blocks of sparse_size bytes
	 * (0: 4096) that are left as holes; no_sparse (-S 0) writes every
	 * byte, zeros too: a fully allocated output. */
	uint64_t sparse_size;
	bool no_sparse;
	/* -n: write into the existing raw image or device dst in place (no
	 * temporary file, not truncated; it must be at least as large as the
	 * source).  Its old contents are not zeros: zero ranges are punched
	 * out (or written as zeros where that fails). */
	bool no_create;
	/* The operation (qc_op.h; NULL: none): its cancel request is polled
	 * between pieces, qc_op_progress gets the bytes done so far of the
	 * total after each, and it is finished with the result.  out.op is
	 * not used. */
	struct qc_op *op;
};

/* -S SIZE as qemu-img takes it: a multiple of 512 up to 16 MiB, 0 for no
 * sparseness. */
int img_convert_parse_sparse(const char *s, struct img_convert_opts *o, struct qc_error **errp);

int img_convert(const char *src, const char *dst, struct img_convert_opts *o, struct qc_error **errp);

#endif
