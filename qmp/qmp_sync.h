/*
 * qmp_sync: run the caller's event loop until one operation completes.
 *
 * For the CLI's one-shot verbs.  Other events registered on the base (signal
 * handlers, other sessions) keep being served meanwhile.  Not for use from
 * inside a callback of the same base.
 */
#ifndef QMP_SYNC_H
#define QMP_SYNC_H

#include "qmp_session.h"

struct qc_op;

/* Creates a session, connects and waits until READY.  Returns NULL with
 * *errp set on failure (no greeting within opts->greeting_timeout_ms means
 * the monitor serves another client; the error says so). */
struct qmp_session *qmp_sync_open(struct event_base *base, const char *addr, const struct qmp_session_opts *opts,
				  struct qc_error **errp);
/* Waits until s is READY or CLOSED. */
int qmp_sync_wait_ready(struct event_base *base, struct qmp_session *s, struct qc_error **errp);
/* Executes cmd (args stolen) and waits for its reply.  Returns the "return"
 * value (caller puts it), or NULL with *errp set. */
struct json_object *qmp_sync_execute(struct event_base *base, struct qmp_session *s, const char *cmd,
				     struct json_object *args, struct qc_error **errp);
/* The same, passing fds (SCM_RIGHTS) with the command and with a timeout
 * of its own (0: the session's default, UINT32_MAX: none; as for
 * qmp_session_execute). */
struct json_object *qmp_sync_execute_ex(struct event_base *base, struct qmp_session *s, const char *cmd,
					struct json_object *args, const int *fds, size_t nfds, unsigned timeout_ms,
					struct qc_error **errp);

/* Runs the loop until op (already started) is done; returns 0, or -1 with
 * *errp set to the operation's error.  When cancel is given and becomes
 * true (set by a signal event on the same base, say), the operation is
 * asked to cancel, once, and the loop runs on until it ends. */
int qmp_sync_run_op(struct event_base *base, struct qc_op *op, const volatile bool *cancel, struct qc_error **errp);

#endif
