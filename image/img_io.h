/*
 * img_io: bounded reads from an image file or from memory.
 *
 * Every read of metadata goes through img_io_pread, which refuses ranges
 * past the size the file had when it was opened, so a hostile offset turns
 * into an error message instead of a short read.  A memory source (mem set,
 * fd -1) lets unit tests and fuzzers parse images without files.
 */
#ifndef IMG_IO_H
#define IMG_IO_H

#include <stddef.h>
#include <stdint.h>

#include "qc_error.h"

struct img_io {
	int fd;		    /* -1 for a memory source */
	const uint8_t *mem; /* the bytes of a memory source */
	uint64_t size;	    /* bytes readable */
};

/* Reads exactly len bytes at off.  what names the structure for the error
 * ("L1 table", "snapshot table"), which says where it was and that it lies
 * past the end of the file. */
int img_io_pread(const struct img_io *io, void *buf, size_t len, uint64_t off, const char *what,
		 struct qc_error **errp);

/* Full-length pread/pwrite on a descriptor, retrying on EINTR and short
 * transfers.  0, or -1 with *errp set (what names the file). */
int img_fd_pread(int fd, void *buf, size_t len, uint64_t off, const char *what, struct qc_error **errp);
int img_fd_pwrite(int fd, const void *buf, size_t len, uint64_t off, const char *what, struct qc_error **errp);

/* True when len bytes at p are all zero. */
int img_is_zero(const void *p, size_t len);

#endif
