/*
 * img_convert: copy an image's guest view into a new raw or qcow2 file.
 *
 * The source's whole backing chain is read (the result has no backing
 * file), ranges the source knows to be zero are skipped without reading,
 * and data that turns out to be zero is not written: raw output gets holes,
 * qcow2 output leaves those clusters unallocated.  The output is written
 * under a temporary name beside DST and renamed at the end; any failure or
 * cancellation removes it.
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
	/* Called after each piece with bytes done so far (of total). */
	void (*progress)(void *opaque, uint64_t done, uint64_t total);
	void *opaque;
};

int img_convert(const char *src, const char *dst, struct img_convert_opts *o, struct qc_error **errp);

#endif
