/*
 * img_qcow2_new: writing a brand-new qcow2 file (for create and convert).
 *
 * The image is built front to back: the header cluster is reserved, guest
 * data clusters are handed out in order from cluster 1 (callers write
 * their data there themselves, in as large pieces as they like), compressed
 * clusters are packed byte by byte, finished L2 tables may be written in
 * between (img_qcow2_new_flush_before), and img_qcow2_new_finish then
 * appends the refcount table and blocks, the L1 table and the remaining L2
 * tables and writes the header last.  With no data at all the layout is exactly qemu-img
 * create's (header, refcount table, refcount block, L1).
 *
 * Only for files nobody else sees yet (a temporary file renamed into place
 * on success): nothing here is crash-safe, nor needs to be.
 */
#ifndef IMG_QCOW2_NEW_H
#define IMG_QCOW2_NEW_H

#include <stdbool.h>
#include <stdint.h>

#include "qc_error.h"

struct img_qcow2_new_opts {
	uint64_t size;
	uint32_t cluster_bits;	 /* 9..21 */
	uint32_t version;	 /* 2 or 3 */
	uint32_t refcount_order; /* 0..6 */
	bool lazy_refcounts;
	bool extended_l2;
	uint8_t compression_type; /* QCOW2_COMPRESSION_* */
	const char *backing_file; /* or NULL */
	const char *backing_fmt;  /* or NULL */
	/* Leave zero 4 KiB blocks of metadata clusters unwritten (holes):
	 * smaller on disk; qemu-img create writes them, so create does too. */
	bool sparse_metadata;
};

struct img_qcow2_new;

/* Checks the options as qemu-img does (messages say which rule). */
int img_qcow2_new_check(const struct img_qcow2_new_opts *o, struct qc_error **errp);
struct img_qcow2_new *img_qcow2_new_start(int fd, const struct img_qcow2_new_opts *o, struct qc_error **errp);
/* Maps n guest clusters from guest_cluster on to new consecutive host
 * clusters and returns the first one's offset (the caller writes the
 * data).  Each guest cluster may be mapped once. */
uint64_t img_qcow2_new_alloc(struct img_qcow2_new *w, uint64_t guest_cluster, uint64_t n);
/* Compresses one full guest cluster and stores it compressed when that
 * saves space (returns 1), or returns 0 and stores nothing (the caller
 * then allocates it normally).  -1 on a write error. */
int img_qcow2_new_write_compressed(struct img_qcow2_new *w, uint64_t guest_cluster, const uint8_t *data,
				   struct qc_error **errp);
/* Writes out the L2 tables for guest clusters below guest_off (which will
 * not be mapped again), interleaved with the data, and frees them: memory
 * stays at a table or so however large the image. */
int img_qcow2_new_flush_before(struct img_qcow2_new *w, uint64_t guest_off, struct qc_error **errp);
/* The end of what has been handed out so far (bytes): everything below is
 * written and will not be written again until finish. */
uint64_t img_qcow2_new_end(const struct img_qcow2_new *w);
int img_qcow2_new_finish(struct img_qcow2_new *w, struct qc_error **errp);
void img_qcow2_new_free(struct img_qcow2_new *w);

#endif
