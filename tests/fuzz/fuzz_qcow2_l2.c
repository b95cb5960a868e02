/*
 * Fuzz target: the L1/L2 walk and the data path.  A fixed, valid header (a
 * 512 KiB guest, L1 at cluster 3: the layout qemu-img create gives such an
 * image, so its files minus the first cluster make seeds) is followed by
 * the input as the rest of the file, so mutations land in the L1 table,
 * the L2 tables and compressed data.  The input's first byte (the refcount
 * table's, zero in the seeds) picks the cluster size, 512 bytes to 64 KiB,
 * so that compressed descriptors of every width are met.  Every guest byte
 * is read through img_read and classified through img_status; reads past
 * the end of the file must not happen (the memory source would catch them)
 * and status must always make progress.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"
#include "img_be.h"
#include "img_qcow2.h"
#include "img_qcow2_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GUEST (512u * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qc_error *err = NULL;
	struct img img = { .fd = -1, .data_fd = -1, .fmt = IMG_FMT_QCOW2, .path = (char *)"fuzz" };
	uint32_t bits = 9 + (size ? data[0] % 8 : 0);
	size_t cl = (size_t)1 << bits, total;
	uint8_t *file, *buf;

	if (size > 256 * 1024)
		return 0;
	total = cl + size;
	if (total < 4 * cl)
		total = 4 * cl;
	file = calloc(1, total);
	if (!file)
		return 0;
	img_put_be32(file + QCOW2_HDR_MAGIC, QCOW2_MAGIC);
	img_put_be32(file + QCOW2_HDR_VERSION, 3);
	img_put_be32(file + QCOW2_HDR_CLUSTER_BITS, bits);
	img_put_be64(file + QCOW2_HDR_SIZE, GUEST);
	img_put_be32(file + QCOW2_HDR_L1_SIZE, (uint32_t)img_qcow2_l1_needed(bits, false, GUEST));
	img_put_be64(file + QCOW2_HDR_L1_OFFSET, 3 * (uint64_t)cl);
	img_put_be64(file + QCOW2_HDR_REFTABLE_OFFSET, cl);
	img_put_be32(file + QCOW2_HDR_REFTABLE_CLUSTERS, 1);
	img_put_be32(file + QCOW2_HDR_REFCOUNT_ORDER, 4);
	img_put_be32(file + QCOW2_HDR_HEADER_LENGTH, QCOW2_HDR_V3_LENGTH);
	memcpy(file + cl, data, size);
	img.io = (struct img_io){ .fd = -1, .mem = file, .size = total };
	img.qcow2 = img_qcow2_open(&img.io, &err);
	if (!img.qcow2) {
		qc_error_free(err);
		free(file);
		return 0;
	}
	img.size = img.qcow2->size;
	buf = malloc(img.size);
	if (buf && img_read(&img, buf, 0, img.size, &err) < 0) {
		qc_error_free(err);
		err = NULL;
	}
	for (uint64_t off = 0; off < img.size;) {
		uint64_t len;
		bool isdata;

		if (img_status(&img, off, img.size - off, &len, &isdata, &err) < 0) {
			qc_error_free(err);
			err = NULL;
			break;
		}
		if (len == 0)
			abort();
		off += len;
	}
	free(buf);
	free(img.zbuf);
	free(img.zin);
	img_qcow2_free(img.qcow2);
	free(file);
	return 0;
}
