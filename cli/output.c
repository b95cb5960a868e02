/* What a person sees: errors, JSON, the -v message trace. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <json-c/json.h>

#include "qc_buf.h"
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
	return cli_try_help(cmd);
}

int cli_try_help(const struct qc_cmd *cmd)
{
	/* One line and where to read more, as qemu-img and virsh do. */
	if (cmd && cmd->name && *cmd->name)
		fprintf(stderr, "Try 'qmpctl %s --help' for more information.\n", cmd->name);
	else
		fputs("Try 'qmpctl --help' for more information.\n", stderr);
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

struct json_object *cli_json_str(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

void cli_rfc3339(char buf[CLI_TIME_LEN], int64_t sec, long usec, bool utc)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char frac[16] = "";
	long off;

	if ((int64_t)t != sec || !(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm))) {
		snprintf(buf, CLI_TIME_LEN, "-");
		return;
	}
	if (usec >= 0)
		snprintf(frac, sizeof(frac), ".%06ld", usec % 1000000);
	/* strftime's %z has no colon (+0000); RFC 3339 wants +00:00. */
	off = utc ? 0 : tm.tm_gmtoff / 60;
	snprintf(buf, CLI_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac, off < 0 ? '-' : '+', (int)(labs(off) / 60 % 100),
		 (int)(labs(off) % 60));
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

void cli_table_init(struct cli_table *t, size_t ncols, const char *const heads[])
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->heads = heads;
}

void cli_table_add(struct cli_table *t, const char *const cells[])
{
	char **row = qc_calloc(t->ncols, sizeof(char *));

	for (size_t i = 0; i < t->ncols; i++) {
		row[i] = qc_strdup(cells[i] ? cells[i] : "-");
		/* Names come from images and XML files: no escape sequences
		 * reach the terminal through them. */
		for (char *p = row[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	t->rows = qc_realloc(t->rows, (t->nrows + 1) * sizeof(*t->rows));
	t->rows[t->nrows++] = row;
}

/* Columns of a terminal a UTF-8 string takes: one per character (wide
 * East Asian characters are taken as one, too). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* virsh's layout: a leading blank, columns three blanks apart, a rule of
 * dashes under the heading. */
static void print_row(const struct cli_table *t, const size_t *w, const char *const *cells)
{
	struct qc_buf line = { 0 };

	for (size_t c = 0; c < t->ncols; c++) {
		qc_buf_append_c(&line, ' ');
		qc_buf_append_str(&line, cells[c]);
		if (c + 1 < t->ncols)
			for (size_t k = text_width(cells[c]); k < w[c] + 2; k++)
				qc_buf_append_c(&line, ' ');
	}
	while (line.len && line.data[line.len - 1] == ' ')
		line.data[--line.len] = '\0';
	puts(qc_buf_str(&line));
	qc_buf_free(&line);
}

void cli_table_print(const struct cli_table *t)
{
	size_t *w = qc_calloc(t->ncols, sizeof(size_t)), total = 0;

	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = text_width(t->heads[c]);
		for (size_t r = 0; r < t->nrows; r++)
			if (text_width(t->rows[r][c]) > w[c])
				w[c] = text_width(t->rows[r][c]);
		total += w[c] + 3;
	}
	print_row(t, w, t->heads);
	for (size_t k = 0; k < total; k++)
		putchar('-');
	putchar('\n');
	for (size_t r = 0; r < t->nrows; r++)
		print_row(t, w, (const char *const *)t->rows[r]);
	free(w);
}

void cli_table_free(struct cli_table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++)
			free(t->rows[r][c]);
		free(t->rows[r]);
	}
	free(t->rows);
	memset(t, 0, sizeof(*t));
}
