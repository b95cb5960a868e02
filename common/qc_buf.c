/* qc_buf: growable buffer and allocation helpers. */
#include "qc_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *qc_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

void *qc_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		abort();
	return p;
}

void *qc_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *qc_strdup(const char *s)
{
	return qc_strndup(s, strlen(s));
}

char *qc_strndup(const char *s, size_t n)
{
	char *d;

	n = strnlen(s, n);
	d = qc_malloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *qc_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static void buf_reserve(struct qc_buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > SIZE_MAX - b->len - 1)
		abort();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = qc_realloc(b->data, cap);
	b->cap = cap;
}

void qc_buf_append(struct qc_buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void qc_buf_append_str(struct qc_buf *b, const char *s)
{
	qc_buf_append(b, s, strlen(s));
}

void qc_buf_append_c(struct qc_buf *b, char c)
{
	qc_buf_append(b, &c, 1);
}

void qc_buf_printf(struct qc_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void qc_buf_consume(struct qc_buf *b, size_t n)
{
	if (n >= b->len) {
		qc_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void qc_buf_reset(struct qc_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *qc_buf_steal(struct qc_buf *b)
{
	char *s = b->data ? b->data : qc_strdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void qc_buf_free(struct qc_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *qc_buf_str(const struct qc_buf *b)
{
	return b->data ? b->data : "";
}

void qc_buf_append_quoted(struct qc_buf *b, const void *data, size_t len, size_t max)
{
	const unsigned char *p = data;
	size_t n = len < max ? len : max;

	qc_buf_append_c(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];

		switch (c) {
		case '"':
			qc_buf_append_str(b, "\\\"");
			break;
		case '\\':
			qc_buf_append_str(b, "\\\\");
			break;
		case '\n':
			qc_buf_append_str(b, "\\n");
			break;
		case '\r':
			qc_buf_append_str(b, "\\r");
			break;
		case '\t':
			qc_buf_append_str(b, "\\t");
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				qc_buf_printf(b, "\\x%02x", c);
			else
				qc_buf_append_c(b, (char)c);
		}
	}
	qc_buf_append_c(b, '"');
	if (n < len)
		qc_buf_append_str(b, "...");
}
