/* Fuzz target: the search for QEMU's globalstate section in a piece of a
 * migration stream (snapshot State). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snap_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[101];
	/* A copy of exactly size bytes, so that a read past the end is caught. */
	uint8_t *buf = malloc(size ? size : 1);

	memcpy(buf, data, size);
	if (snap_state_find_runstate(buf, size, out, sizeof(out))) {
		size_t len = strnlen(out, sizeof(out));

		/* A run state is a non-empty string of at most 99 bytes. */
		if (!len || len >= sizeof(out))
			abort();
		(void)snap_state_name(snap_state_of_runstate(out));
	}
	free(buf);
	return 0;
}
