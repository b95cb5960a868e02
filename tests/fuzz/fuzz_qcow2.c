/*
 * Fuzz target: a whole qcow2 file in memory.  Parses header, extensions,
 * snapshot table, bitmap directory and LUKS header, then walks the active
 * L1/L2 tables over the guest range (a bounded number of steps) and
 * decompresses what compressed clusters it meets.  Any result is fine; a
 * crash, a leak, an over-read or a hang is not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "img_qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct img_io io = { .fd = -1, .mem = data, .size = size };
	struct qc_error *err = NULL;
	struct img_qcow2 *q = img_qcow2_open(&io, &err);
	uint64_t off = 0;
	uint8_t *in = NULL, *out = NULL;

	if (!q) {
		qc_error_free(err);
		return 0;
	}
	free(img_qcow2_unknown_incompat(q));
	for (int steps = 0; steps < 256 && off < q->size; steps++) {
		struct img_qcow2_extent e;

		if (img_qcow2_map(q, off, q->size - off, &e, &err) < 0) {
			qc_error_free(err);
			err = NULL;
			break;
		}
		if (e.len == 0)
			abort(); /* map must always make progress */
		if (e.kind == QCOW2_COMPRESSED) {
			if (!in) {
				in = malloc(2 * q->cluster_size);
				out = malloc(q->cluster_size);
			}
			if (e.csize <= 2 * q->cluster_size &&
			    img_io_pread(&io, in, (size_t)e.csize, e.host, "c", &err) == 0)
				img_qcow2_decompress(q, in, (size_t)e.csize, out, &err);
			qc_error_free(err);
			err = NULL;
		}
		off += e.len;
	}
	free(in);
	free(out);
	img_qcow2_free(q);
	return 0;
}
