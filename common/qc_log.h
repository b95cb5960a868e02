/*
 * qc_log: the libraries' only way to say something besides an error value.
 *
 * Libraries never print.  They call qc_log(), which hands the message to a
 * handler the program installs (the CLI writes to stderr when -v is given;
 * a daemon may send it to syslog).  Without a handler messages are dropped.
 */
#ifndef QC_LOG_H
#define QC_LOG_H

#include "qc_error.h"

enum qc_log_level {
	QC_LOG_ERROR,
	QC_LOG_WARN,
	QC_LOG_INFO,
	QC_LOG_DEBUG,
};

typedef void (*qc_log_fn)(void *opaque, enum qc_log_level level, const char *msg);

void qc_log_set_handler(qc_log_fn fn, void *opaque);
void qc_log(enum qc_log_level level, const char *fmt, ...) QC_PRINTF(2, 3);

#endif
