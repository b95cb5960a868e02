/*
 * Fuzz target: the schema loader, its walks and the argument check.  The
 * input is a query-qmp-schema array, a newline, then a command line to
 * check: "COMMAND JSON-ARGS" (the JSON may be left out).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool count_fn(void *opaque, const struct qmp_schema_entity *owner, const struct qmp_schema_member *m)
{
	(void)owner;
	if (!m->name || !m->type_name)
		abort();
	(*(size_t *)opaque)++;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *nl, *cmd, *sp;
	struct json_object *info, *args = NULL;
	struct qc_error *err = NULL;
	struct qmp_schema *s;

	memcpy(text, data, size);
	text[size] = '\0';
	nl = strchr(text, '\n');
	if (nl)
		*nl = '\0';
	info = json_tokener_parse(text);
	s = qmp_schema_new(info, &err);
	if (!s != !!err)
		abort();
	qc_error_free(err);
	err = NULL;
	for (size_t i = 0; i < qmp_schema_count(s); i++) {
		const struct qmp_schema_entity *e = qmp_schema_at(s, i), *t = e->arg_type ? e->arg_type : e;
		size_t n = 0;
		char *name = qmp_schema_type_name(s, e);

		if (qmp_schema_lookup(s, e->name) == NULL)
			abort();
		free(name);
		if (qmp_schema_walk_members(t, count_fn, &n) != n)
			abort();
		for (size_t k = 0; k < t->n_members; k++)
			if (qmp_schema_find_member(t, t->members[k].name) == NULL)
				abort();
		qmp_schema_path_type(t, "a.b.c", 5);
	}
	cmd = nl ? nl + 1 : NULL;
	if (cmd) {
		sp = strchr(cmd, ' ');
		if (sp) {
			*sp = '\0';
			args = json_tokener_parse(sp + 1);
		}
		if (!qmp_schema_check(s, cmd, args, &err) && (!err || !err->msg))
			abort();
		qc_error_free(err);
		if (json_object_is_type(args, json_type_object)) {
			const struct qmp_schema_entity *c = qmp_schema_command(s, cmd);

			json_object_object_foreach (args, key, val) {
				(void)val;
				qmp_schema_path_type(c ? c->arg_type : NULL, key, strlen(key));
			}
		}
	}
	json_object_put(args);
	qmp_schema_free(s);
	json_object_put(info);
	free(text);
	return 0;
}
