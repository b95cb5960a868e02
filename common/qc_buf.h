/*
 * qc_buf: a growable byte buffer, always NUL-terminated after len bytes.
 *
 * A zero-initialised struct qc_buf is an empty buffer.  Allocation failure
 * aborts (as glib's does): out-of-memory is not an error we can report in a
 * useful way, and callers cap what they accept from the outside instead.
 */
#ifndef QC_BUF_H
#define QC_BUF_H

#include <stddef.h>

#include "qc_error.h"

struct qc_buf {
	char *data; /* NULL while empty and never grown */
	size_t len;
	size_t cap;
};

void qc_buf_append(struct qc_buf *b, const void *data, size_t len);
void qc_buf_append_str(struct qc_buf *b, const char *s);
void qc_buf_append_c(struct qc_buf *b, char c);
void qc_buf_printf(struct qc_buf *b, const char *fmt, ...) QC_PRINTF(2, 3);
/* Removes the first n bytes (n <= len). */
void qc_buf_consume(struct qc_buf *b, size_t n);
void qc_buf_reset(struct qc_buf *b);
/* Returns the contents ("" when empty) for the caller to free(); b is emptied. */
char *qc_buf_steal(struct qc_buf *b);
void qc_buf_free(struct qc_buf *b);
/* Always a valid C string (a static "" when empty). */
const char *qc_buf_str(const struct qc_buf *b);

/* Writes at most max bytes of data as a printable, quoted C-like string
 * ("\x00", "\n", ...), appending "..." when truncated. */
void qc_buf_append_quoted(struct qc_buf *b, const void *data, size_t len, size_t max);

/* Common allocation helpers that abort on failure. */
void *qc_malloc(size_t n);
void *qc_calloc(size_t n, size_t size);
void *qc_realloc(void *p, size_t n);
char *qc_strdup(const char *s);
char *qc_strndup(const char *s, size_t n);
char *qc_asprintf(const char *fmt, ...) QC_PRINTF(1, 2);

#endif
