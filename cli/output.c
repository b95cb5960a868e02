/* What a person sees: errors, JSON, the -v message trace. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include <json-c/json.h>

#include "qmpctl.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("qmpctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_fail(struct qc_error *err)
{
	if (!err)
		cli_error("unknown error");
	else if (err->qmp_class)
		cli_error("%s: %s", err->qmp_class, err->msg);
	else
		cli_error("%s", err->msg);
	qc_error_free(err);
	return 1;
}

int cli_usage_error(const struct qc_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("qmpctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd)
		fputs(cmd->usage, stderr);
	else
		fputs("Run 'qmpctl --help' for usage.\n", stderr);
	return EXIT_USAGE;
}

void cli_print_json(const struct qc_ctx *ctx, struct json_object *v)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

	/* json-c's pretty printer spreads an empty object over two lines. */
	if (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 0) {
		puts("{}");
		return;
	}
	if (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0) {
		puts("[]");
		return;
	}
	flags |= ctx->json ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;
	puts(json_object_to_json_string_ext(v, flags));
}

void cli_trace(void *opaque, bool outgoing, const char *json)
{
	struct timeval tv;
	struct tm tm;

	(void)opaque;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	fprintf(stderr, "[%02d:%02d:%02d.%03ld] %s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
		outgoing ? "->" : "<-", json);
}
