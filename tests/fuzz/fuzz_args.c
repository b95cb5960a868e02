/* Fuzz target: qmp-shell style command lines. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	struct qc_error *err = NULL;
	struct json_object *args = NULL;
	char *cmd = NULL;
	int rc;

	memcpy(line, data, size);
	line[size] = '\0';
	rc = qmp_args_parse_line(line, &cmd, &args, &err);
	if (rc == 0 && (!cmd || !json_object_is_type(args, json_type_object)))
		abort();
	if (rc < 0 && !err)
		abort();
	free(cmd);
	json_object_put(args);
	qc_error_free(err);
	free(line);
	return 0;
}
