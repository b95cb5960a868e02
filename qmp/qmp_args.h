/*
 * qmp_args: command arguments as people type them (qmp-shell's syntax).
 *
 * Either one JSON object, or key=value words: dotted keys build nested
 * objects (a.b=1 gives {"a": {"b": 1}}), values that parse as JSON (numbers,
 * true, false, null, [...], {...}, "...") are used as JSON, anything else is
 * a string.
 */
#ifndef QMP_ARGS_H
#define QMP_ARGS_H

#include "qc_error.h"

struct json_object;

/* Returns a new object (possibly empty), or NULL with *errp set. */
struct json_object *qmp_args_parse(int argc, char *const argv[], struct qc_error **errp);

/* Parses a whole command line: "cmd key=value ..." or a JSON object with
 * "execute" and optional "arguments".  Returns 0 and sets *cmd (caller frees)
 * and *args (caller puts), or -1 with *errp set. */
int qmp_args_parse_line(const char *line, char **cmd, struct json_object **args, struct qc_error **errp);

#endif
