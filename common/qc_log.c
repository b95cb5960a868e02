/* qc_log: forwards library diagnostics to the program's handler. */
#include "qc_log.h"

#include <stdio.h>
#include <stdlib.h>

static qc_log_fn log_fn;
static void *log_opaque;

void qc_log_set_handler(qc_log_fn fn, void *opaque)
{
	log_fn = fn;
	log_opaque = opaque;
}

void qc_log(enum qc_log_level level, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (!log_fn)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg)
		log_fn(log_opaque, level, msg);
	free(msg);
}
