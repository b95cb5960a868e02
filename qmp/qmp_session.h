/*
 * qmp_session: the QMP protocol over one transport.
 *
 * States (one function, session_set_state, moves between them):
 *
 *   NEW --connect--> CONNECTING --connected--> GREETING --greeting-->
 *   NEGOTIATING --qmp_capabilities ok--> READY
 *   any --error / EOF / close--> CLOSED
 *
 * Commands may be executed in any state before CLOSED: they wait in a queue
 * until READY, and at most opts.max_inflight in-band commands are on the
 * wire at once (the rest queue here, not in QEMU).  Each gets a unique id;
 * replies are matched by id in whatever order they come.  Out-of-band
 * commands (QMP_EXEC_OOB) skip the queue once READY and need QEMU's "oob"
 * capability.  Events go to subscribers as they arrive, including those sent
 * before negotiation ends.  When the connection ends, every pending command
 * fails with an error naming the command.
 *
 * Callbacks may execute, cancel, subscribe, unsubscribe, close and free the
 * session; freeing from a callback is deferred until the callback returns.
 * Objects handed to callbacks are borrowed: valid during the call only
 * (json_object_get / qc_error_copy to keep them).
 */
#ifndef QMP_SESSION_H
#define QMP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qc_error.h"

struct event_base;
struct json_object;
struct qmp_session;
struct qmp_subscription;

enum qmp_session_state {
	QMP_SESSION_NEW,
	QMP_SESSION_CONNECTING,
	QMP_SESSION_GREETING,
	QMP_SESSION_NEGOTIATING,
	QMP_SESSION_READY,
	QMP_SESSION_CLOSED,
};

struct qmp_session_opts {
	size_t max_message;           /* bytes; 0: QMP_FRAMER_DEFAULT_MAX (64 MiB) */
	unsigned max_inflight;        /* 0: 8 */
	unsigned greeting_timeout_ms; /* connect + greeting + negotiation; 0: none */
	unsigned command_timeout_ms;  /* default per command; 0: none */
	bool no_oob;                  /* don't ask for "oob" even when offered */
};

/* Called once for each command: ret is the "return" value on success (never
 * NULL then), err is set on failure (QMP error reply: err->qmp_class set). */
typedef void (*qmp_reply_fn)(void *opaque, struct json_object *ret, const struct qc_error *err);
/* name is the event's name; event the whole message (event, data, timestamp). */
typedef void (*qmp_event_fn)(void *opaque, const char *name, struct json_object *event);
/* Called on every state change; err is set when entering CLOSED on failure. */
typedef void (*qmp_state_fn)(void *opaque, enum qmp_session_state state, const struct qc_error *err);
/* Every message as it flows: outgoing (true) as sent, incoming as received. */
typedef void (*qmp_trace_fn)(void *opaque, bool outgoing, const char *json);

#define QMP_EXEC_OOB 1u

struct qmp_session *qmp_session_new(struct event_base *base, const struct qmp_session_opts *opts);
void qmp_session_free(struct qmp_session *s);

void qmp_session_set_state_cb(struct qmp_session *s, qmp_state_fn fn, void *opaque);
void qmp_session_set_trace(struct qmp_session *s, qmp_trace_fn fn, void *opaque);

/* Connects to "unix:PATH", a plain PATH, or "tcp:HOST:PORT".  Fails at once
 * (-1, *errp) when the socket cannot be reached. */
int qmp_session_connect(struct qmp_session *s, const char *addr, struct qc_error **errp);
/* Speaks QMP over an already connected socket (the session owns fd). */
int qmp_session_attach_fd(struct qmp_session *s, int fd, struct qc_error **errp);
/* Closes the connection: pending commands fail, state becomes CLOSED. */
void qmp_session_close(struct qmp_session *s);

enum qmp_session_state qmp_session_state(const struct qmp_session *s);
/* The event loop the session runs on (for timers of the layers above). */
struct event_base *qmp_session_base(const struct qmp_session *s);
const char *qmp_session_state_name(enum qmp_session_state state);
/* The "QMP" member of the greeting, or NULL before it came. */
struct json_object *qmp_session_greeting(const struct qmp_session *s);
/* "7.2.0" style version from the greeting, or NULL. */
const char *qmp_session_version(const struct qmp_session *s);
bool qmp_session_has_oob(const struct qmp_session *s);
/* Why the session closed, or NULL. */
const struct qc_error *qmp_session_error(const struct qmp_session *s);
/* Commands waiting in the queue / on the wire. */
size_t qmp_session_queued(const struct qmp_session *s);
size_t qmp_session_inflight(const struct qmp_session *s);

/* Sends cmd with args (stolen; may be NULL).  timeout_ms: 0 uses the
 * session's default, UINT32_MAX means none.  fds are passed with the message
 * (for getfd / add-fd).  Returns the command's id (> 0), or 0 with *errp set
 * when the session is closed or the request is invalid; fn is not called
 * then.  Otherwise fn is called exactly once, never from inside this call. */
uint64_t qmp_session_execute(struct qmp_session *s, const char *cmd, struct json_object *args, unsigned flags,
			     const int *fds, size_t nfds, unsigned timeout_ms, qmp_reply_fn fn, void *opaque,
			     struct qc_error **errp);
/* Forgets a pending command: its callback will not run; a reply that comes
 * later is discarded.  Returns false if id is not pending. */
bool qmp_session_cancel(struct qmp_session *s, uint64_t id);

/* name NULL: every event. */
struct qmp_subscription *qmp_session_subscribe(struct qmp_session *s, const char *name, qmp_event_fn fn,
					       void *opaque);
void qmp_session_unsubscribe(struct qmp_session *s, struct qmp_subscription *sub);
/* fn is called once when the session closes, after every pending command
 * has failed, with the reason; for users that wait on events alone (a job)
 * and must hear of the end.  Unsubscribe with qmp_session_unsubscribe. */
struct qmp_subscription *qmp_session_watch_close(struct qmp_session *s, qmp_state_fn fn, void *opaque);

/* Whether the peer of a unix socket is a qmpctl process (a tap, which
 * greets its clients only once it reaches QEMU); *pid: its pid, 0 unknown. */
bool qmp_session_peer_is_tap(const struct qmp_session *s, int *pid);

#endif
