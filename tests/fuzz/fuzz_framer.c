/*
 * Fuzz target: the QMP framer, fed the input whole and then split where the
 * first byte says; both ways must agree on how many messages they found
 * before an error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "qmp_framer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_cb(void *opaque, struct json_object *obj)
{
	(*(size_t *)opaque)++;
	json_object_put(obj);
	return 0;
}

static size_t run(const char *data, size_t size, size_t split, int *rc)
{
	struct qmp_framer *f = qmp_framer_new(1024);
	struct qc_error *err = NULL;
	size_t n = 0;

	*rc = qmp_framer_feed(f, data, split, count_cb, &n, &err);
	if (*rc == 0)
		*rc = qmp_framer_feed(f, data + split, size - split, count_cb, &n, &err);
	if ((*rc < 0) != (err != NULL))
		abort(); /* an error must come with a message, and only then */
	qc_error_free(err);
	qmp_framer_free(f);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc1, rc2;
	size_t split = size ? data[0] % size : 0;
	size_t whole = run((const char *)data, size, size, &rc1);
	size_t parts = run((const char *)data, size, split, &rc2);

	if (whole != parts || rc1 != rc2)
		abort();
	return 0;
}
