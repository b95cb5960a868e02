/* qmp_sync: turns one asynchronous operation into a blocking call. */
#include "qmp_sync.h"

#include <stdlib.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "qc_buf.h"
#include "qc_op.h"

struct waiter {
	bool done;
	struct json_object *ret;
	struct qc_error *err;
};

/* Runs the loop until *done.  Fails when the loop has nothing left to wait
 * for or somebody broke it (a signal handler asking us to stop). */
static int run_until(struct event_base *base, const bool *done, struct qc_error **errp)
{
	while (!*done) {
		int rc = event_base_loop(base, EVLOOP_ONCE);

		if (*done)
			break;
		if (rc < 0) {
			qc_error_set(errp, "event loop failed");
			return -1;
		}
		if (rc == 1) {
			qc_error_set(errp, "nothing left to wait for");
			return -1;
		}
		if (event_base_got_break(base) || event_base_got_exit(base)) {
			qc_error_set(errp, "interrupted");
			return -1;
		}
	}
	return 0;
}

static void ready_cb(void *opaque, enum qmp_session_state state, const struct qc_error *err)
{
	struct waiter *w = opaque;

	if (state == QMP_SESSION_READY || state == QMP_SESSION_CLOSED) {
		w->done = true;
		if (err && !w->err)
			w->err = qc_error_copy(err);
	}
}

int qmp_sync_wait_ready(struct event_base *base, struct qmp_session *s, struct qc_error **errp)
{
	struct waiter w = { 0 };
	int rc = 0;

	if (qmp_session_state(s) == QMP_SESSION_READY)
		return 0;
	if (qmp_session_state(s) == QMP_SESSION_CLOSED) {
		if (qmp_session_error(s))
			qc_error_propagate(errp, qc_error_copy(qmp_session_error(s)));
		else
			qc_error_set(errp, "session closed");
		return -1;
	}
	qmp_session_set_state_cb(s, ready_cb, &w);
	if (run_until(base, &w.done, errp) < 0)
		rc = -1;
	qmp_session_set_state_cb(s, NULL, NULL);
	if (!rc && qmp_session_state(s) != QMP_SESSION_READY) {
		if (w.err) {
			qc_error_propagate(errp, w.err);
			w.err = NULL;
		} else {
			qc_error_set(errp, "session closed");
		}
		rc = -1;
	}
	qc_error_free(w.err);
	return rc;
}

struct qmp_session *qmp_sync_open(struct event_base *base, const char *addr, const struct qmp_session_opts *opts,
				  struct qc_error **errp)
{
	struct qmp_session *s = qmp_session_new(base, opts);

	if (qmp_session_connect(s, addr, errp) < 0 || qmp_sync_wait_ready(base, s, errp) < 0) {
		qmp_session_free(s);
		return NULL;
	}
	return s;
}

static void reply_cb(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct waiter *w = opaque;

	w->done = true;
	w->ret = json_object_get(ret);
	w->err = qc_error_copy(err);
}

struct json_object *qmp_sync_execute(struct event_base *base, struct qmp_session *s, const char *cmd,
				     struct json_object *args, struct qc_error **errp)
{
	return qmp_sync_execute_ex(base, s, cmd, args, NULL, 0, 0, errp);
}

struct json_object *qmp_sync_execute_ex(struct event_base *base, struct qmp_session *s, const char *cmd,
					struct json_object *args, const int *fds, size_t nfds, unsigned timeout_ms,
					struct qc_error **errp)
{
	struct waiter w = { 0 };
	uint64_t id = qmp_session_execute(s, cmd, args, 0, fds, nfds, timeout_ms, reply_cb, &w, errp);

	if (!id)
		return NULL;
	if (run_until(base, &w.done, errp) < 0) {
		qmp_session_cancel(s, id);
		json_object_put(w.ret);
		qc_error_free(w.err);
		return NULL;
	}
	if (w.err) {
		qc_error_propagate(errp, w.err);
		json_object_put(w.ret);
		return NULL;
	}
	return w.ret;
}

int qmp_sync_run_op(struct event_base *base, struct qc_op *op, const volatile bool *cancel, struct qc_error **errp)
{
	while (!op->finished) {
		int rc;

		if (cancel && *cancel)
			qc_op_cancel(op);
		rc = event_base_loop(base, EVLOOP_ONCE);
		if (op->finished)
			break;
		if (rc < 0 || rc == 1) {
			/* The operation would never end: nothing to wake us. */
			qc_error_set(errp, rc < 0 ? "event loop failed" : "nothing left to wait for");
			return -1;
		}
	}
	if (op->err) {
		qc_error_propagate(errp, qc_error_copy(op->err));
		return -1;
	}
	return 0;
}
