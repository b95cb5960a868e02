/*
 * qc_error: errors as values.
 *
 * A function that can fail takes `struct qc_error **errp` as its last
 * parameter, returns a failure indication (-1, NULL, false) and sets *errp
 * with one message written where the failure is understood.  errp may be
 * NULL when the caller does not care.  Setting an error where *errp is
 * already set keeps the first one (the root cause) and drops the new one.
 *
 * The caller owns the error it receives and frees it with qc_error_free().
 */
#ifndef QC_ERROR_H
#define QC_ERROR_H

#include <stdarg.h>

struct qc_error {
	char *msg;       /* one line, no trailing newline, never NULL */
	char *qmp_class; /* QMP error class ("GenericError", ...) or NULL */
	int errnum;      /* errno behind the failure, or 0 */
};

#if defined(__GNUC__)
#define QC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define QC_PRINTF(a, b)
#endif

void qc_error_set(struct qc_error **errp, const char *fmt, ...) QC_PRINTF(2, 3);
void qc_error_setv(struct qc_error **errp, const char *fmt, va_list ap) QC_PRINTF(2, 0);
/* Appends ": strerror(errnum)" to the message and records errnum. */
void qc_error_set_errno(struct qc_error **errp, int errnum, const char *fmt, ...) QC_PRINTF(3, 4);
/* An error reply from QEMU: class and description as QEMU sent them. */
void qc_error_set_qmp(struct qc_error **errp, const char *qmp_class, const char *desc);
/* Puts "PREFIX: " in front of an existing error's message; no-op if unset. */
void qc_error_prepend(struct qc_error **errp, const char *fmt, ...) QC_PRINTF(2, 3);
/* Moves src into *dst with "PREFIX: " in front of its message, keeping its
 * errnum and QMP class (what callers decide on); as qc_error_propagate
 * when *dst is set or dst is NULL. */
void qc_error_prefix(struct qc_error **dst, struct qc_error *src, const char *fmt, ...) QC_PRINTF(3, 4);
/* Moves src into *dst (or frees src if dst is NULL or already set). */
void qc_error_propagate(struct qc_error **dst, struct qc_error *src);
struct qc_error *qc_error_copy(const struct qc_error *err);
void qc_error_free(struct qc_error *err);

#endif
