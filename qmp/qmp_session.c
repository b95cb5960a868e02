/*
 * qmp_session: greeting, capabilities, ids, queueing, events, timeouts.
 *
 * Commands live on one of two lists: `queue` (not yet sent, FIFO) and
 * `wire` (sent, awaiting a reply).  A command whose caller gave up (timeout
 * or cancel) stays on `wire` without a callback until its reply comes, so
 * the late reply is recognised and dropped and QEMU's own queue is never
 * overrun.  Every entry point from the event loop brackets its work with
 * enter()/leave() so that callbacks can free the session safely.
 */
#include "qmp_session.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "qc_buf.h"
#include "qc_log.h"
#include "qmp_framer.h"
#include "qmp_transport.h"

#define DEFAULT_INFLIGHT 8
#define CAPS_ID 0 /* ids of user commands start at 1 */

struct cmd {
	TAILQ_ENTRY(cmd) link;
	struct qmp_session *s;
	uint64_t id;
	char *name;
	struct json_object *msg; /* the whole message, id included */
	int *fds;
	size_t nfds;
	bool oob;
	bool on_wire;
	qmp_reply_fn fn; /* NULL once the caller gave up */
	void *opaque;
	struct event *timer;
	unsigned timeout_ms;
};
TAILQ_HEAD(cmd_list, cmd);

struct qmp_subscription {
	TAILQ_ENTRY(qmp_subscription) link;
	char *name; /* NULL: all events */
	qmp_event_fn fn;
	qmp_state_fn close_fn; /* set: a close watcher, not an event subscriber */
	void *opaque;
	bool dead;
};
TAILQ_HEAD(sub_list, qmp_subscription);

struct qmp_session {
	struct event_base *base;
	struct qmp_session_opts opts;
	enum qmp_session_state state;
	struct qmp_transport *tr;
	struct qmp_framer *framer;
	char *peer; /* for messages: the socket path or host:port */

	struct cmd_list queue;
	struct cmd_list wire;
	size_t n_queue, n_wire_inband;
	uint64_t next_id;

	struct sub_list subs;
	int dispatching_events;

	struct json_object *greeting;
	char version[48];
	bool oob;
	struct event *greeting_timer;
	struct qc_error *error;

	qmp_state_fn state_fn;
	void *state_opaque;
	qmp_trace_fn trace_fn;
	void *trace_opaque;

	int busy;
	bool free_me;
	bool peer_closed; /* the failure is QEMU (or the socket) ending the connection */
	struct event *pump_ev;
};

static void session_destroy(struct qmp_session *s);
static void session_fail(struct qmp_session *s, struct qc_error *err);
static void pump(struct qmp_session *s);

static void enter(struct qmp_session *s)
{
	s->busy++;
}

/* Returns true when the session was freed. */
static bool leave(struct qmp_session *s)
{
	if (--s->busy == 0 && s->free_me) {
		session_destroy(s);
		return true;
	}
	return false;
}

const char *qmp_session_state_name(enum qmp_session_state state)
{
	switch (state) {
	case QMP_SESSION_NEW:
		return "new";
	case QMP_SESSION_CONNECTING:
		return "connecting";
	case QMP_SESSION_GREETING:
		return "greeting";
	case QMP_SESSION_NEGOTIATING:
		return "negotiating";
	case QMP_SESSION_READY:
		return "ready";
	case QMP_SESSION_CLOSED:
		return "closed";
	}
	return "?";
}

/* The one place the state changes. */
static void session_set_state(struct qmp_session *s, enum qmp_session_state state)
{
	if (s->state == state)
		return;
	qc_log(QC_LOG_DEBUG, "qmp %s: %s -> %s", s->peer ? s->peer : "?", qmp_session_state_name(s->state),
	       qmp_session_state_name(state));
	s->state = state;
	if ((state == QMP_SESSION_READY || state == QMP_SESSION_CLOSED) && s->greeting_timer)
		event_del(s->greeting_timer);
	if (state == QMP_SESSION_READY)
		pump(s);
	if (s->state_fn)
		s->state_fn(s->state_opaque, state, state == QMP_SESSION_CLOSED ? s->error : NULL);
}

static void cmd_free(struct cmd *c)
{
	if (c->timer)
		event_free(c->timer);
	for (size_t i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	free(c->fds);
	json_object_put(c->msg);
	free(c->name);
	free(c);
}

static void unlink_cmd(struct qmp_session *s, struct cmd *c)
{
	if (c->on_wire) {
		TAILQ_REMOVE(&s->wire, c, link);
		if (!c->oob && c->id != CAPS_ID)
			s->n_wire_inband--;
	} else {
		TAILQ_REMOVE(&s->queue, c, link);
		s->n_queue--;
	}
}

/* Delivers the one callback a command gets.  The command is already off
 * its list. */
static void complete(struct qmp_session *s, struct cmd *c, struct json_object *ret, const struct qc_error *err)
{
	qmp_reply_fn fn = c->fn;

	c->fn = NULL;
	if (c->timer)
		event_del(c->timer);
	if (fn)
		fn(c->opaque, ret, err);
	(void)s;
	cmd_free(c);
}

static void trace(struct qmp_session *s, bool out, struct json_object *msg, const char *text)
{
	if (!s->trace_fn)
		return;
	s->trace_fn(s->trace_opaque, out,
		    text ? text : json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN |
									 JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int send_cmd(struct qmp_session *s, struct cmd *c, struct qc_error **errp)
{
	const char *text = json_object_to_json_string_ext(c->msg, JSON_C_TO_STRING_PLAIN |
								       JSON_C_TO_STRING_NOSLASHESCAPE);
	struct qc_buf line = { 0 };
	int rc;

	qc_buf_append_str(&line, text);
	qc_buf_append_c(&line, '\n');
	trace(s, true, c->msg, text);
	rc = qmp_transport_send(s->tr, line.data, line.len, c->fds, c->nfds, errp);
	qc_buf_free(&line);
	/* The transport holds its own copies of the fds now. */
	for (size_t i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	c->nfds = 0;
	if (rc < 0)
		return -1;
	c->on_wire = true;
	TAILQ_INSERT_TAIL(&s->wire, c, link);
	if (!c->oob && c->id != CAPS_ID)
		s->n_wire_inband++;
	return 0;
}

/* Moves queued commands onto the wire while the in-flight cap allows. */
static void pump(struct qmp_session *s)
{
	struct cmd *c, *next;

	if (s->state != QMP_SESSION_READY)
		return;
	for (c = TAILQ_FIRST(&s->queue); c; c = next) {
		struct qc_error *err = NULL;

		next = TAILQ_NEXT(c, link);
		if (!c->oob && s->n_wire_inband >= s->opts.max_inflight)
			continue;
		TAILQ_REMOVE(&s->queue, c, link);
		s->n_queue--;
		if (c->oob && !s->oob) {
			qc_error_set(&err, "cannot run '%s' out-of-band: QEMU at %s did not offer the 'oob' capability",
				     c->name, s->peer);
		} else {
			if (c->oob) {
				json_object_object_add(c->msg, "exec-oob",
						       json_object_get(json_object_object_get(c->msg, "execute")));
				json_object_object_del(c->msg, "execute");
			}
			if (send_cmd(s, c, &err) == 0)
				continue;
		}
		/* Failed before reaching QEMU: report from the loop, like any reply. */
		complete(s, c, NULL, err);
		qc_error_free(err);
		if (s->free_me || s->state != QMP_SESSION_READY)
			return;
	}
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_session *s = arg;

	(void)fd;
	(void)what;
	enter(s);
	pump(s);
	leave(s);
}

static struct cmd *find_wire(struct qmp_session *s, uint64_t id)
{
	struct cmd *c;

	TAILQ_FOREACH(c, &s->wire, link)
		if (c->id == id)
			return c;
	return NULL;
}

static void reap_subs(struct qmp_session *s)
{
	struct qmp_subscription *sub, *next;

	for (sub = TAILQ_FIRST(&s->subs); sub; sub = next) {
		next = TAILQ_NEXT(sub, link);
		if (sub->dead) {
			TAILQ_REMOVE(&s->subs, sub, link);
			free(sub->name);
			free(sub);
		}
	}
}

static void dispatch_event(struct qmp_session *s, struct json_object *msg, const char *name)
{
	struct qmp_subscription *sub;

	if (!strcmp(name, "COMMAND_DROPPED")) {
		/* QEMU's queue was full: that command will never be answered. */
		struct json_object *data = json_object_object_get(msg, "data");
		struct json_object *jid = json_object_object_get(data, "id");
		struct cmd *c = json_object_is_type(jid, json_type_int) ? find_wire(s, (uint64_t)json_object_get_int64(jid))
									 : NULL;

		if (c) {
			struct qc_error *err = NULL;

			qc_error_set(&err, "QEMU dropped '%s' (%s)", c->name,
				     json_object_get_string(json_object_object_get(data, "reason")));
			unlink_cmd(s, c);
			complete(s, c, NULL, err);
			qc_error_free(err);
		}
	}
	s->dispatching_events++;
	TAILQ_FOREACH(sub, &s->subs, link) {
		if (sub->dead || sub->close_fn || (sub->name && strcmp(sub->name, name)))
			continue;
		sub->fn(sub->opaque, name, msg);
		if (s->free_me)
			break;
	}
	if (--s->dispatching_events == 0)
		reap_subs(s);
}

/* Tells the close watchers, once every pending command has failed. */
static void notify_close(struct qmp_session *s)
{
	struct qmp_subscription *sub;

	s->dispatching_events++;
	TAILQ_FOREACH(sub, &s->subs, link) {
		qmp_state_fn fn = sub->close_fn;

		if (sub->dead || !fn)
			continue;
		sub->close_fn = NULL; /* once */
		sub->dead = true;
		fn(sub->opaque, QMP_SESSION_CLOSED, s->error);
		if (s->free_me)
			break;
	}
	if (--s->dispatching_events == 0)
		reap_subs(s);
}

static void caps_reply(struct qmp_session *s, struct json_object *msg)
{
	struct json_object *e = json_object_object_get(msg, "error");

	if (e) {
		struct qc_error *err = NULL;

		qc_error_set(&err, "QEMU at %s refused qmp_capabilities: %s", s->peer,
			     json_object_get_string(json_object_object_get(e, "desc")));
		session_fail(s, err);
		return;
	}
	session_set_state(s, QMP_SESSION_READY);
}

static void handle_greeting(struct qmp_session *s, struct json_object *qmp)
{
	struct json_object *caps = json_object_object_get(qmp, "capabilities");
	struct json_object *ver = json_object_object_get(json_object_object_get(qmp, "version"), "qemu");
	struct json_object *msg, *args;
	struct qc_error *err = NULL;
	struct cmd *c;
	bool offer_oob = false;

	s->greeting = json_object_get(qmp);
	if (ver)
		snprintf(s->version, sizeof(s->version), "%" PRId64 ".%" PRId64 ".%" PRId64,
			 json_object_get_int64(json_object_object_get(ver, "major")),
			 json_object_get_int64(json_object_object_get(ver, "minor")),
			 json_object_get_int64(json_object_object_get(ver, "micro")));
	if (json_object_is_type(caps, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(caps); i++) {
			const char *cap = json_object_get_string(json_object_array_get_idx(caps, i));

			if (cap && !strcmp(cap, "oob"))
				offer_oob = true;
		}
	}
	s->oob = offer_oob && !s->opts.no_oob;
	msg = json_object_new_object();
	json_object_object_add(msg, "execute", json_object_new_string("qmp_capabilities"));
	if (s->oob) {
		args = json_object_new_object();
		caps = json_object_new_array();
		json_object_array_add(caps, json_object_new_string("oob"));
		json_object_object_add(args, "enable", caps);
		json_object_object_add(msg, "arguments", args);
	}
	json_object_object_add(msg, "id", json_object_new_int64(CAPS_ID));
	c = qc_calloc(1, sizeof(*c));
	c->id = CAPS_ID;
	c->name = qc_strdup("qmp_capabilities");
	c->msg = msg;
	session_set_state(s, QMP_SESSION_NEGOTIATING);
	if (send_cmd(s, c, &err) < 0) {
		cmd_free(c);
		session_fail(s, err);
	}
}

static void handle_reply(struct qmp_session *s, struct json_object *msg)
{
	struct json_object *jid = json_object_object_get(msg, "id");
	struct json_object *e;
	struct qc_error *err = NULL;
	struct cmd *c;

	if (!json_object_is_type(jid, json_type_int)) {
		/* QEMU answers without an id only when it could not parse a
		 * command at all; nothing of ours to match it to. */
		qc_log(QC_LOG_WARN, "qmp %s: reply without a known id ignored: %s", s->peer,
		       json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
		return;
	}
	c = find_wire(s, (uint64_t)json_object_get_int64(jid));
	if (!c) {
		qc_log(QC_LOG_DEBUG, "qmp %s: reply to unknown or abandoned id %" PRId64 " dropped", s->peer,
		       json_object_get_int64(jid));
		return;
	}
	unlink_cmd(s, c);
	if (c->id == CAPS_ID) {
		cmd_free(c);
		caps_reply(s, msg);
		return;
	}
	e = json_object_object_get(msg, "error");
	if (e) {
		qc_error_set_qmp(&err, json_object_get_string(json_object_object_get(e, "class")),
				 json_object_get_string(json_object_object_get(e, "desc")));
		complete(s, c, NULL, err);
		qc_error_free(err);
	} else {
		complete(s, c, json_object_object_get(msg, "return"), NULL);
	}
	/* A slot came free. */
	if (!s->free_me && s->state == QMP_SESSION_READY && s->n_queue)
		pump(s);
}

/* Framer callback: one complete message. */
static int on_message(void *opaque, struct json_object *msg)
{
	struct qmp_session *s = opaque;
	struct json_object *v;

	trace(s, false, msg, NULL);
	if ((v = json_object_object_get(msg, "event")) && json_object_is_type(v, json_type_string)) {
		dispatch_event(s, msg, json_object_get_string(v));
	} else if (json_object_object_get_ex(msg, "QMP", &v)) {
		if (s->state == QMP_SESSION_GREETING && json_object_is_type(v, json_type_object))
			handle_greeting(s, v);
		else
			qc_log(QC_LOG_WARN, "qmp %s: unexpected greeting ignored", s->peer);
	} else if (json_object_object_get_ex(msg, "return", NULL) || json_object_object_get_ex(msg, "error", NULL)) {
		if (s->state == QMP_SESSION_GREETING) {
			struct qc_error *err = NULL;

			qc_error_set(&err, "%s sent a reply before its greeting: not a QMP monitor?", s->peer);
			session_fail(s, err);
		} else {
			handle_reply(s, msg);
		}
	} else {
		qc_log(QC_LOG_WARN, "qmp %s: message of unknown kind ignored", s->peer);
	}
	json_object_put(msg);
	/* Stop feeding once the session is closed or being freed. */
	return s->free_me || s->state == QMP_SESSION_CLOSED;
}

static void tr_connect(void *opaque)
{
	struct qmp_session *s = opaque;

	enter(s);
	session_set_state(s, QMP_SESSION_GREETING);
	leave(s);
}

static void tr_data(void *opaque, const char *data, size_t len)
{
	struct qmp_session *s = opaque;
	struct qc_error *err = NULL;

	if (s->state == QMP_SESSION_CLOSED)
		return;
	enter(s);
	if (qmp_framer_feed(s->framer, data, len, on_message, s, &err) < 0) {
		qc_error_prepend(&err, "bad data from QEMU at %s", s->peer);
		session_fail(s, err);
	}
	leave(s);
}

static void tr_close(void *opaque, const struct qc_error *cause)
{
	struct qmp_session *s = opaque;
	struct qc_error *err = NULL;

	enter(s);
	if (s->state == QMP_SESSION_GREETING || s->state == QMP_SESSION_CONNECTING)
		qc_error_set(&err, "%s closed the connection before its greeting%s%s", s->peer, cause ? ": " : "",
			     cause ? cause->msg : "");
	else
		qc_error_set(&err, "connection to QEMU at %s closed%s%s", s->peer, cause ? ": " : "",
			     cause ? cause->msg : "");
	if (cause && err)
		err->errnum = cause->errnum;
	s->peer_closed = true;
	session_fail(s, err);
	leave(s);
}

/* Takes err.  Ends the connection and fails everything pending. */
static void session_fail(struct qmp_session *s, struct qc_error *err)
{
	struct cmd *c;

	if (s->state == QMP_SESSION_CLOSED) {
		qc_error_free(err);
		return;
	}
	if (!err)
		qc_error_set(&err, "connection to QEMU at %s closed", s->peer);
	s->error = err;
	if (s->tr)
		qmp_transport_close(s->tr);
	session_set_state(s, QMP_SESSION_CLOSED);
	/* One at a time off the session's own lists, so that a callback can
	 * still cancel the commands that have not failed yet. */
	while ((c = TAILQ_FIRST(&s->wire)) || (c = TAILQ_FIRST(&s->queue))) {
		struct qc_error *cerr = NULL;

		unlink_cmd(s, c);
		/* QEMU ends at quit and may close the socket before its reply
		 * is read (or written): the end is the answer. */
		if (s->peer_closed && c->on_wire && !strcmp(c->name, "quit")) {
			struct json_object *ok = json_object_new_object();

			complete(s, c, ok, NULL);
			json_object_put(ok);
			continue;
		}
		if (c->fn) {
			qc_error_set(&cerr, "%s (while waiting for the reply to '%s')", err->msg, c->name);
			cerr->errnum = err->errnum;
		}
		complete(s, c, NULL, cerr);
		qc_error_free(cerr);
	}
	if (!s->free_me)
		notify_close(s);
}

/* A qmpctl process listening where a monitor was expected is a tap (tap
 * --reconnect keeps its socket while QEMU is away): its clients wait for
 * QEMU, not for another client of QEMU's. */
bool qmp_session_peer_is_tap(const struct qmp_session *s, int *pid)
{
	char path[64], buf[4096];
	size_t n;
	FILE *f;
	bool tap = false;

	*pid = s->tr ? qmp_transport_peer_pid(s->tr) : 0;
	if (*pid <= 0)
		return false;
	/* The command line, not comm: under a wrapper (valgrind) the program
	 * is one of its words. */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", *pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n && !tap; i += strlen(buf + i) + 1) {
		const char *base = strrchr(buf + i, '/');

		tap = !strcmp(base ? base + 1 : buf + i, "qmpctl");
	}
	return tap;
}

static void on_greeting_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_session *s = arg;
	struct qc_error *err = NULL;
	int pid;
	double secs = s->opts.greeting_timeout_ms / 1000.0;

	(void)fd;
	(void)what;
	enter(s);
	if ((s->state == QMP_SESSION_GREETING || s->state == QMP_SESSION_CONNECTING) && qmp_session_peer_is_tap(s, &pid))
		qc_error_set(&err,
			     "no greeting from %s within %g s: it is a qmpctl tap (pid %d) waiting for QEMU to come; "
			     "it greets its clients once it reaches QEMU",
			     s->peer, secs, pid);
	else if (s->state == QMP_SESSION_GREETING || s->state == QMP_SESSION_CONNECTING)
		qc_error_set(&err,
			     "no greeting from %s within %g s: the monitor is probably serving another client "
			     "(QEMU serves one client per monitor socket)",
			     s->peer, secs);
	else
		qc_error_set(&err, "QEMU at %s did not answer qmp_capabilities within %g s", s->peer, secs);
	session_fail(s, err);
	leave(s);
}

static void on_cmd_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct cmd *c = arg;
	struct qmp_session *s = c->s;
	struct qc_error *err = NULL;

	(void)fd;
	(void)what;
	enter(s);
	qc_error_set(&err, "timed out after %g s waiting for QEMU at %s to answer '%s'", c->timeout_ms / 1000.0,
		     s->peer, c->name);
	if (c->on_wire) {
		/* Stays on the wire list without a callback: the late reply
		 * is recognised and dropped. */
		qmp_reply_fn fn = c->fn;

		c->fn = NULL;
		if (fn)
			fn(c->opaque, NULL, err);
	} else {
		unlink_cmd(s, c);
		complete(s, c, NULL, err);
	}
	qc_error_free(err);
	leave(s);
}

struct qmp_session *qmp_session_new(struct event_base *base, const struct qmp_session_opts *opts)
{
	struct qmp_session *s = qc_calloc(1, sizeof(*s));
	static const struct qmp_transport_cbs cbs = { tr_connect, tr_data, tr_close };

	s->base = base;
	if (opts)
		s->opts = *opts;
	if (!s->opts.max_inflight)
		s->opts.max_inflight = DEFAULT_INFLIGHT;
	s->state = QMP_SESSION_NEW;
	s->framer = qmp_framer_new(s->opts.max_message);
	s->tr = qmp_transport_new(base, &cbs, s);
	TAILQ_INIT(&s->queue);
	TAILQ_INIT(&s->wire);
	TAILQ_INIT(&s->subs);
	s->next_id = 1;
	s->pump_ev = event_new(base, -1, 0, on_pump, s);
	s->greeting_timer = evtimer_new(base, on_greeting_timeout, s);
	return s;
}

static void session_destroy(struct qmp_session *s)
{
	struct qmp_subscription *sub;
	struct cmd *c;

	/* Pending commands are dropped silently: the owner is going away. */
	while ((c = TAILQ_FIRST(&s->wire))) {
		TAILQ_REMOVE(&s->wire, c, link);
		cmd_free(c);
	}
	while ((c = TAILQ_FIRST(&s->queue))) {
		TAILQ_REMOVE(&s->queue, c, link);
		cmd_free(c);
	}
	while ((sub = TAILQ_FIRST(&s->subs))) {
		TAILQ_REMOVE(&s->subs, sub, link);
		free(sub->name);
		free(sub);
	}
	qmp_transport_free(s->tr);
	qmp_framer_free(s->framer);
	event_free(s->pump_ev);
	event_free(s->greeting_timer);
	json_object_put(s->greeting);
	qc_error_free(s->error);
	free(s->peer);
	free(s);
}

void qmp_session_free(struct qmp_session *s)
{
	if (!s)
		return;
	if (s->busy) {
		s->free_me = true;
		if (s->tr)
			qmp_transport_close(s->tr);
		return;
	}
	session_destroy(s);
}

void qmp_session_set_state_cb(struct qmp_session *s, qmp_state_fn fn, void *opaque)
{
	s->state_fn = fn;
	s->state_opaque = opaque;
}

void qmp_session_set_trace(struct qmp_session *s, qmp_trace_fn fn, void *opaque)
{
	s->trace_fn = fn;
	s->trace_opaque = opaque;
}

static void start_greeting_timer(struct qmp_session *s)
{
	if (s->opts.greeting_timeout_ms) {
		struct timeval tv = { s->opts.greeting_timeout_ms / 1000, (s->opts.greeting_timeout_ms % 1000) * 1000 };

		evtimer_add(s->greeting_timer, &tv);
	}
}

int qmp_session_connect(struct qmp_session *s, const char *addr, struct qc_error **errp)
{
	if (s->state != QMP_SESSION_NEW) {
		qc_error_set(errp, "session already %s", qmp_session_state_name(s->state));
		return -1;
	}
	free(s->peer);
	s->peer = qmp_transport_describe(addr);
	if (qmp_transport_connect(s->tr, addr, errp) < 0)
		return -1;
	s->state = QMP_SESSION_CONNECTING;
	start_greeting_timer(s);
	return 0;
}

int qmp_session_attach_fd(struct qmp_session *s, int fd, struct qc_error **errp)
{
	if (s->state != QMP_SESSION_NEW) {
		close(fd);
		qc_error_set(errp, "session already %s", qmp_session_state_name(s->state));
		return -1;
	}
	free(s->peer);
	s->peer = qc_asprintf("fd %d", fd);
	if (qmp_transport_attach_fd(s->tr, fd, errp) < 0)
		return -1;
	s->state = QMP_SESSION_CONNECTING;
	start_greeting_timer(s);
	return 0;
}

void qmp_session_close(struct qmp_session *s)
{
	struct qc_error *err = NULL;

	if (s->state == QMP_SESSION_CLOSED)
		return;
	enter(s);
	qc_error_set(&err, "connection to %s closed by us", s->peer ? s->peer : "QEMU");
	session_fail(s, err);
	leave(s);
}

enum qmp_session_state qmp_session_state(const struct qmp_session *s)
{
	return s->state;
}

struct event_base *qmp_session_base(const struct qmp_session *s)
{
	return s->base;
}

struct json_object *qmp_session_greeting(const struct qmp_session *s)
{
	return s->greeting;
}

const char *qmp_session_version(const struct qmp_session *s)
{
	return s->version[0] ? s->version : NULL;
}

bool qmp_session_has_oob(const struct qmp_session *s)
{
	return s->oob;
}

const struct qc_error *qmp_session_error(const struct qmp_session *s)
{
	return s->error;
}

size_t qmp_session_queued(const struct qmp_session *s)
{
	return s->n_queue;
}

size_t qmp_session_inflight(const struct qmp_session *s)
{
	size_t n = 0;
	const struct cmd *c;

	TAILQ_FOREACH(c, &s->wire, link)
		n++;
	return n;
}

uint64_t qmp_session_execute(struct qmp_session *s, const char *cmd, struct json_object *args, unsigned flags,
			     const int *fds, size_t nfds, unsigned timeout_ms, qmp_reply_fn fn, void *opaque,
			     struct qc_error **errp)
{
	struct cmd *c;

	if (!cmd || !*cmd || (args && !json_object_is_type(args, json_type_object))) {
		json_object_put(args);
		qc_error_set(errp, "invalid command: %s", !cmd || !*cmd ? "no name" : "arguments must be an object");
		return 0;
	}
	if (s->state == QMP_SESSION_CLOSED || s->free_me) {
		json_object_put(args);
		if (s->error)
			qc_error_propagate(errp, qc_error_copy(s->error)); /* errnum and class too */
		else
			qc_error_set(errp, "connection to QEMU is closed");
		return 0;
	}
	if ((flags & QMP_EXEC_OOB) && s->state == QMP_SESSION_READY && !s->oob) {
		json_object_put(args);
		qc_error_set(errp, "cannot run '%s' out-of-band: QEMU at %s did not offer the 'oob' capability", cmd,
			     s->peer);
		return 0;
	}
	c = qc_calloc(1, sizeof(*c));
	c->s = s;
	c->id = s->next_id++;
	c->name = qc_strdup(cmd);
	c->oob = flags & QMP_EXEC_OOB;
	c->fn = fn;
	c->opaque = opaque;
	c->msg = json_object_new_object();
	json_object_object_add(c->msg, "execute", json_object_new_string(cmd));
	/* An empty "arguments" is what no arguments means; leave it out. */
	if (args && json_object_object_length(args))
		json_object_object_add(c->msg, "arguments", args);
	else
		json_object_put(args);
	json_object_object_add(c->msg, "id", json_object_new_int64((int64_t)c->id));
	if (nfds) {
		c->fds = qc_calloc(nfds, sizeof(int));
		for (size_t i = 0; i < nfds; i++) {
			c->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			if (c->fds[i] < 0) {
				qc_error_set_errno(errp, errno, "cannot pass file descriptor %d", fds[i]);
				c->nfds = i;
				cmd_free(c);
				return 0;
			}
		}
		c->nfds = nfds;
	}
	c->timeout_ms = timeout_ms ? timeout_ms : s->opts.command_timeout_ms;
	if (timeout_ms == UINT32_MAX)
		c->timeout_ms = 0;
	if (c->timeout_ms) {
		struct timeval tv = { c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000 };

		c->timer = evtimer_new(s->base, on_cmd_timeout, c);
		evtimer_add(c->timer, &tv);
	}
	TAILQ_INSERT_TAIL(&s->queue, c, link);
	s->n_queue++;
	/* Sent from the loop: a failure must not call fn from inside here. */
	if (s->state == QMP_SESSION_READY)
		event_active(s->pump_ev, 0, 0);
	return c->id;
}

bool qmp_session_cancel(struct qmp_session *s, uint64_t id)
{
	struct cmd *c;

	TAILQ_FOREACH(c, &s->queue, link) {
		if (c->id == id) {
			unlink_cmd(s, c);
			cmd_free(c);
			return true;
		}
	}
	c = find_wire(s, id);
	if (!c || !c->fn)
		return false;
	c->fn = NULL;
	if (c->timer)
		event_del(c->timer);
	return true;
}

struct qmp_subscription *qmp_session_subscribe(struct qmp_session *s, const char *name, qmp_event_fn fn,
					       void *opaque)
{
	struct qmp_subscription *sub = qc_calloc(1, sizeof(*sub));

	sub->name = name ? qc_strdup(name) : NULL;
	sub->fn = fn;
	sub->opaque = opaque;
	TAILQ_INSERT_TAIL(&s->subs, sub, link);
	return sub;
}

struct qmp_subscription *qmp_session_watch_close(struct qmp_session *s, qmp_state_fn fn, void *opaque)
{
	struct qmp_subscription *sub = qc_calloc(1, sizeof(*sub));

	sub->close_fn = fn;
	sub->opaque = opaque;
	TAILQ_INSERT_TAIL(&s->subs, sub, link);
	return sub;
}

void qmp_session_unsubscribe(struct qmp_session *s, struct qmp_subscription *sub)
{
	if (!sub)
		return;
	if (s->dispatching_events) {
		sub->dead = true;
		return;
	}
	TAILQ_REMOVE(&s->subs, sub, link);
	free(sub->name);
	free(sub);
}
