/*
 * Fuzz target: the snapshot table.  A fixed, valid version 3 header (64 KiB
 * clusters, 1 GiB) points at a snapshot table made of the input; the first
 * two input bytes give the number of entries.  Mutations then land in the
 * table instead of being rejected by header checks first.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "img_be.h"
#include "img_qcow2.h"
#include "img_qcow2_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CL 65536u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t total;
	uint8_t *img;
	struct img_io io;
	struct qc_error *err = NULL;
	struct img_qcow2 *q;

	if (size < 2 || size > 1u << 20)
		return 0;
	/* header | refcount table | L1 | snapshot table (the input) */
	total = 3 * CL + size - 2;
	img = calloc(1, total);
	if (!img)
		return 0;
	img_put_be32(img + QCOW2_HDR_MAGIC, QCOW2_MAGIC);
	img_put_be32(img + QCOW2_HDR_VERSION, 3);
	img_put_be32(img + QCOW2_HDR_CLUSTER_BITS, 16);
	img_put_be64(img + QCOW2_HDR_SIZE, 1ull << 30);
	img_put_be32(img + QCOW2_HDR_L1_SIZE, 2);
	img_put_be64(img + QCOW2_HDR_L1_OFFSET, 2 * CL);
	img_put_be64(img + QCOW2_HDR_REFTABLE_OFFSET, CL);
	img_put_be32(img + QCOW2_HDR_REFTABLE_CLUSTERS, 1);
	img_put_be32(img + QCOW2_HDR_NB_SNAPSHOTS, img_be16(data));
	img_put_be64(img + QCOW2_HDR_SNAPSHOTS_OFFSET, 3 * CL);
	img_put_be32(img + QCOW2_HDR_REFCOUNT_ORDER, 4);
	img_put_be32(img + QCOW2_HDR_HEADER_LENGTH, QCOW2_HDR_V3_LENGTH);
	memcpy(img + 3 * CL, data + 2, size - 2);
	io = (struct img_io){ .fd = -1, .mem = img, .size = total };
	q = img_qcow2_open(&io, &err);
	if (q) {
		/* Every entry parsed must lie inside the file. */
		for (uint32_t i = 0; i < q->nb_snapshots; i++)
			if (q->snapshots[i].entry_offset + QCOW2_SN_HEADER > total || !q->snapshots[i].id ||
			    !q->snapshots[i].name)
				abort();
		img_qcow2_free(q);
	}
	qc_error_free(err);
	free(img);
	return 0;
}
