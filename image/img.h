/*
 * img: an opened disk image of either format, with its backing chain.
 *
 * img_open probes the format (qcow2 magic, otherwise raw) unless one is
 * given; an image of another format (VMDK, VDI, VHDX, VHD, QED, LUKS, ...)
 * is refused by name rather than read as raw, unless "raw" is asked for.
 * It validates the metadata, takes QEMU-compatible OFD locks unless told
 * not to, and, with IMG_OPEN_CHAIN, opens the whole backing chain (relative
 * names resolve against the directory of the image naming them; loops and
 * chains deeper than IMG_MAX_CHAIN are refused).  Reads through img_read and
 * img_status see the guest's view of the whole chain.
 *
 * Errors are prefixed with the file's name, so they read "FILE: what".
 */
#ifndef IMG_H
#define IMG_H

#include <stdbool.h>
#include <stdint.h>

#include "img_io.h"
#include "img_qcow2.h"
#include "qc_error.h"

#define IMG_MAX_CHAIN 64

enum img_format {
	IMG_FMT_RAW,
	IMG_FMT_QCOW2,
};

#define IMG_OPEN_NO_LOCK 0x1u /* -U: read even what another process writes */
#define IMG_OPEN_CHAIN	 0x2u /* open backing files (needed for data reads) */
#define IMG_OPEN_WRITE	 0x4u /* read-write, exclusive lock */
#define IMG_OPEN_DATA	 0x8u /* open external data files (needed for data reads) */

struct img {
	char *path;
	enum img_format fmt;
	int fd;
	struct img_io io;
	uint64_t size; /* virtual size */
	struct img_qcow2 *qcow2;
	int data_fd; /* external data file, or -1 */
	struct img_io data_io;
	char *backing_path; /* backing name resolved like QEMU does, or NULL */
	struct img *backing;
	unsigned depth;
	/* The last compressed cluster read, decompressed. */
	uint8_t *zbuf, *zin;
	uint64_t zhost; /* its descriptor's host offset + 1; 0: none */
};

const char *img_format_name(enum img_format fmt);
/* "raw" / "qcow2" to a format; -1 with *errp for anything else. */
int img_format_parse(const char *name, enum img_format *fmt, struct qc_error **errp);

/* The name of a format qmpctl does not read ("VMDK", "VDI", ...) when the
 * first bytes (head) or the last 512 (tail) carry its signature; NULL
 * otherwise (qcow2, or raw). */
const char *img_probe_foreign(const uint8_t *head, size_t head_len, const uint8_t *tail, size_t tail_len);

/* fmt NULL: probe.  The caller frees with img_close (which also closes
 * the chain). */
struct img *img_open(const char *path, const char *fmt, unsigned flags, struct qc_error **errp);
void img_close(struct img *img);

/* Joins a backing name to the directory of the image that names it, as
 * QEMU does ("dir/name" unless name is absolute or path has no '/'). */
char *img_backing_resolve(const char *image_path, const char *backing);

/* Guest view, through the backing chain; ranges past the end of a shorter
 * backing image read as zeros. */
int img_read(struct img *img, void *buf, uint64_t off, size_t len, struct qc_error **errp);

/* From off: *len bytes (1 .. max) that are all data (*data true) or all
 * known zero (false).  Data may still contain zeros. */
int img_status(struct img *img, uint64_t off, uint64_t max, uint64_t *len, bool *data, struct qc_error **errp);

/* OFD locks as QEMU takes them (bytes 100+perm held, 200+perm for perms
 * not shared).  Reading: consistent-read held, write not shared.  Writing:
 * read, write held; nothing shared.  Fails naming the lock another process
 * holds. */
int img_lock(int fd, bool write, struct qc_error **errp);

#endif
