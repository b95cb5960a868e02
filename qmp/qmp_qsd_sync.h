/*
 * qmp_qsd_sync: blocking wrappers around qmp_qsd for the CLI's one-shot
 * verbs: they run the caller's event loop until the daemon is ready or
 * gone.  Other events on the base (signal handlers) keep being served, so
 * a signal that sets *cancel ends the start at once.  Not for use from
 * inside a callback of the same base.
 */
#ifndef QMP_QSD_SYNC_H
#define QMP_QSD_SYNC_H

#include <stdbool.h>

#include "qmp_qsd.h"

/* qmp_qsd_spawn and wait until READY.  When *cancel becomes true first,
 * the daemon is ended and the error is "interrupted". */
struct qmp_qsd *qmp_qsd_start(struct event_base *base, const struct qmp_qsd_disk *disks, size_t n, unsigned timeout_ms,
			      const volatile bool *cancel, struct qc_error **errp);
/* qmp_qsd_quit, wait, and qmp_qsd_free.  -1 with *errp set when the daemon
 * did not end cleanly. */
int qmp_qsd_stop(struct qmp_qsd *q, struct qc_error **errp);

#endif
