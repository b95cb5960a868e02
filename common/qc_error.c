/* qc_error: construction and ownership of error values. */
#include "qc_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qc_buf.h"

static struct qc_error *error_new(char *msg)
{
	struct qc_error *err = qc_calloc(1, sizeof(*err));

	/* One line: a newline inside would break "qmpctl: msg" output. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	err->msg = msg;
	return err;
}

static char *vformat(const char *fmt, va_list ap) QC_PRINTF(1, 0);

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	return s;
}

void qc_error_setv(struct qc_error **errp, const char *fmt, va_list ap)
{
	if (!errp || *errp)
		return;
	*errp = error_new(vformat(fmt, ap));
}

void qc_error_set(struct qc_error **errp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qc_error_setv(errp, fmt, ap);
	va_end(ap);
}

void qc_error_set_errno(struct qc_error **errp, int errnum, const char *fmt, ...)
{
	va_list ap;
	char *head;

	if (!errp || *errp)
		return;
	va_start(ap, fmt);
	head = vformat(fmt, ap);
	va_end(ap);
	*errp = error_new(qc_asprintf("%s: %s", head, strerror(errnum)));
	(*errp)->errnum = errnum;
	free(head);
}

void qc_error_set_qmp(struct qc_error **errp, const char *qmp_class, const char *desc)
{
	if (!errp || *errp)
		return;
	*errp = error_new(qc_strdup(desc ? desc : "(no description)"));
	(*errp)->qmp_class = qc_strdup(qmp_class ? qmp_class : "GenericError");
}

void qc_error_prepend(struct qc_error **errp, const char *fmt, ...)
{
	va_list ap;
	char *head, *msg;

	if (!errp || !*errp)
		return;
	va_start(ap, fmt);
	head = vformat(fmt, ap);
	va_end(ap);
	msg = qc_asprintf("%s: %s", head, (*errp)->msg);
	free(head);
	free((*errp)->msg);
	(*errp)->msg = msg;
}

void qc_error_prefix(struct qc_error **dst, struct qc_error *src, const char *fmt, ...)
{
	va_list ap;
	char *head, *msg;

	if (!src)
		return;
	if (!dst || *dst) {
		qc_error_free(src);
		return;
	}
	va_start(ap, fmt);
	head = vformat(fmt, ap);
	va_end(ap);
	msg = qc_asprintf("%s: %s", head, src->msg);
	free(head);
	free(src->msg);
	src->msg = msg;
	*dst = src;
}

void qc_error_propagate(struct qc_error **dst, struct qc_error *src)
{
	if (!src)
		return;
	if (dst && !*dst)
		*dst = src;
	else
		qc_error_free(src);
}

struct qc_error *qc_error_copy(const struct qc_error *err)
{
	struct qc_error *c;

	if (!err)
		return NULL;
	c = qc_calloc(1, sizeof(*c));
	c->msg = qc_strdup(err->msg);
	c->qmp_class = err->qmp_class ? qc_strdup(err->qmp_class) : NULL;
	c->errnum = err->errnum;
	return c;
}

void qc_error_free(struct qc_error *err)
{
	if (!err)
		return;
	free(err->msg);
	free(err->qmp_class);
	free(err);
}
