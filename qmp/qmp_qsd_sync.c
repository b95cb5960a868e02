/* qmp_qsd_sync: qmp_qsd start and stop as blocking calls (the loop runs
 * until the callback came). */
#include "qmp_qsd_sync.h"

#include <stdlib.h>

#include <event2/event.h>

struct waiter {
	bool done;
	struct qc_error *err;
};

static void done_cb(void *opaque, struct qmp_qsd *q, const struct qc_error *err)
{
	struct waiter *w = opaque;

	(void)q;
	w->done = true;
	w->err = qc_error_copy(err);
}

/* Runs the loop until w->done or *cancel; -1 with *errp otherwise. */
static int run(struct event_base *base, struct waiter *w, const volatile bool *cancel, struct qc_error **errp)
{
	while (!w->done) {
		int rc;

		if (cancel && *cancel) {
			qc_error_set(errp, "interrupted");
			return -1;
		}
		rc = event_base_loop(base, EVLOOP_ONCE);
		if (w->done)
			break;
		if (rc < 0) {
			qc_error_set(errp, "event loop failed");
			return -1;
		}
		if (rc == 1) {
			qc_error_set(errp, "nothing left to wait for");
			return -1;
		}
	}
	return 0;
}

struct qmp_qsd *qmp_qsd_start(struct event_base *base, const struct qmp_qsd_disk *disks, size_t n, unsigned timeout_ms,
			      const volatile bool *cancel, struct qc_error **errp)
{
	struct waiter w = { 0 };
	struct qmp_qsd *q;

	if (cancel && *cancel) {
		qc_error_set(errp, "interrupted");
		return NULL;
	}
	q = qmp_qsd_spawn(base, disks, n, timeout_ms, done_cb, &w, errp);
	if (!q)
		return NULL;
	if (run(base, &w, cancel, errp) < 0 || w.err) {
		qc_error_propagate(errp, w.err);
		qmp_qsd_free(q);
		return NULL;
	}
	return q;
}

int qmp_qsd_stop(struct qmp_qsd *q, struct qc_error **errp)
{
	struct waiter w = { 0 };
	int rc = 0;

	if (!q)
		return 0;
	qmp_qsd_quit(q, done_cb, &w);
	if (run(qmp_qsd_base(q), &w, NULL, errp) < 0)
		rc = -1;
	if (w.err) {
		qc_error_propagate(errp, w.err);
		rc = -1;
	}
	qmp_qsd_free(q);
	return rc;
}
