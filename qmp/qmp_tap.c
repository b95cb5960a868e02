/*
 * qmp_tap: a QMP multiplexer.  One upstream qmp_session, many clients.
 *
 * A client moves WAITING (no connection to QEMU yet, no greeting) ->
 * NEGOTIATING (greeted) -> READY (qmp_capabilities accepted), and leaves
 * by client_close() from any state.  Its in-band commands sit on one FIFO
 * (`reqs`) from arrival until their reply has been written, so replies go
 * out in the order the commands came even when the tap answers some itself
 * (malformed input); QEMU answers in-band commands in order anyway.  At
 * most client_max_inflight of them are in the shared session at once, so
 * one busy client cannot fill QEMU's queue ahead of everyone else.
 * Out-of-band commands skip the FIFO and are answered as soon as QEMU does.
 *
 * When a client goes, its requests are cancelled in the session (a command
 * already on the wire runs on; its reply is dropped there).  Only requests
 * the session is failing at that very moment become orphans, freed by
 * their callback (or with the tap).  Closed clients are freed from the loop
 * (reap), never inside their own callbacks.
 */
#include "qmp_tap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "qc_buf.h"
#include "qmp_framer.h"

#define DEFAULT_MAX_MESSAGE  (1024u * 1024)
#define DEFAULT_MAX_QUEUE    64
#define DEFAULT_MAX_INFLIGHT 4
#define DEFAULT_MAX_OUTPUT   (16u * 1024 * 1024)
#define FEED_CHUNK	     1024	  /* bytes parsed before the queue cap is checked again */
#define READ_HIGH_WATER	     (256 * 1024) /* unparsed input held before reading pauses */

enum client_state {
	CLIENT_WAITING,
	CLIENT_NEGOTIATING,
	CLIENT_READY,
};

enum req_state {
	REQ_QUEUED, /* waiting for a slot in the session */
	REQ_SENT,   /* in the session */
	REQ_DONE,   /* reply ready, waiting for earlier commands' replies */
};

struct tap_client;

struct tap_req {
	TAILQ_ENTRY(tap_req) link;
	struct qmp_tap *t;
	struct tap_client *c; /* NULL once orphaned */
	enum req_state state;
	bool oob;
	bool has_id;
	struct json_object *id; /* the client's id (any JSON value, NULL is null) */
	char *name;
	struct json_object *args;  /* until submitted */
	struct json_object *reply; /* once DONE */
	uint64_t up_id;            /* the session's id once SENT */
	bool local;		   /* reply made by the tap */
	struct timespec t0;
};
TAILQ_HEAD(req_list, tap_req);

struct tap_client {
	TAILQ_ENTRY(tap_client) link;
	struct qmp_tap *t;
	unsigned num;
	enum client_state state;
	struct bufferevent *bev;
	struct qmp_framer *framer;
	bool oob;	/* negotiated "oob" */
	bool skip_line; /* after malformed input: drop bytes up to the next newline */
	bool eof;	/* sent EOF: answer what it sent, then go */
	bool closed;
	bool in_input;	      /* client_input on the stack */
	struct req_list reqs; /* in-band, in order of arrival */
	struct req_list oob_reqs;
	size_t n_reqs, n_oob, n_sent;
};
TAILQ_HEAD(client_list, tap_client);

struct qmp_tap {
	struct event_base *base;
	struct qmp_tap_opts opts;
	struct qmp_session *s;
	struct qmp_session *dead_s; /* closed, freed from the loop */
	struct qmp_subscription *sub;
	struct client_list clients;
	struct client_list graveyard;
	struct req_list orphans;
	size_t n_clients;
	unsigned next_num;
	struct evconnlistener *listener;
	struct event *reap_ev;
	struct event *relisten_ev;
	char *path;
	dev_t sock_dev;
	ino_t sock_ino;
	qmp_tap_record_fn record_fn;
	void *record_opaque;
	qmp_tap_upstream_fn upstream_fn;
	void *upstream_opaque;
	qmp_trace_fn trace_fn;
	void *trace_opaque;
};

static void client_close(struct tap_client *c, const char *why);
static void client_pump(struct tap_client *c);
static void client_input(struct tap_client *c);

/* ---- records ------------------------------------------------------------ */

static double ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

static void record(struct qmp_tap *t, enum qmp_tap_dir dir, unsigned client, const char *json, bool local,
		   double latency_ms, const char *note)
{
	struct qmp_tap_record rec = { dir, client, json, local, latency_ms, note };

	if (t->record_fn)
		t->record_fn(t->record_opaque, &rec);
}

static const char *to_json(struct json_object *obj)
{
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* ---- requests ----------------------------------------------------------- */

static void req_free(struct tap_req *r)
{
	json_object_put(r->id);
	json_object_put(r->args);
	json_object_put(r->reply);
	free(r->name);
	free(r);
}

static struct json_object *make_error(const char *cls, const char *desc)
{
	struct json_object *reply = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(reply, "error", e);
	return reply;
}

/* Takes ret. */
static struct json_object *make_return(struct json_object *ret)
{
	struct json_object *reply = json_object_new_object();

	json_object_object_add(reply, "return", ret);
	return reply;
}

static void set_reply_id(struct tap_req *r)
{
	if (r->has_id)
		json_object_object_add(r->reply, "id", json_object_get(r->id));
}

/* ---- writing to clients ------------------------------------------------- */

/* Returns false when the client was dropped (gone, or not reading). */
static bool client_write(struct tap_client *c, const char *json)
{
	static char crlf[] = "\r\n";
	struct evbuffer *out;
	size_t len = strlen(json), done = 0, before;

	if (c->closed)
		return false;
	out = bufferevent_get_output(c->bev);
	before = evbuffer_get_length(out);
	if (before == 0) {
		/* Nothing waits: straight onto the socket, which saves a trip
		 * through the loop per message.  What does not fit is queued. */
		struct iovec iov[2] = { { (void *)json, len }, { crlf, 2 } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
		ssize_t n = sendmsg(bufferevent_getfd(c->bev), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			client_close(c, strerror(errno));
			return false;
		}
		done = n > 0 ? (size_t)n : 0;
	}
	if (done < len)
		evbuffer_add(out, json + done, len - done);
	if (done < len + 2)
		evbuffer_add(out, crlf + (done > len ? done - len : 0), len + 2 - (done > len ? done : len));
	/* One message larger than the limit is fine; piling up is not. */
	if (before && evbuffer_get_length(out) > c->t->opts.client_max_output) {
		char why[96];

		snprintf(why, sizeof(why), "not reading its replies (%zu bytes waiting)", evbuffer_get_length(out));
		client_close(c, why);
		return false;
	}
	return true;
}

static void client_send_reply(struct tap_client *c, struct tap_req *r)
{
	const char *json = to_json(r->reply);

	record(c->t, QMP_TAP_OUT, c->num, json, r->local, ms_since(&r->t0), NULL);
	client_write(c, json);
}

/* Writes the replies at the head of the FIFO that are ready. */
static void client_flush(struct tap_client *c)
{
	struct tap_req *r;

	while (!c->closed && (r = TAILQ_FIRST(&c->reqs)) && r->state == REQ_DONE) {
		TAILQ_REMOVE(&c->reqs, r, link);
		c->n_reqs--;
		client_send_reply(c, r);
		req_free(r);
	}
}

/* An EOF'd client leaves once everything it sent is answered and written. */
static void client_maybe_finish(struct tap_client *c)
{
	if (c->closed || !c->eof || c->state == CLIENT_WAITING || c->n_reqs || c->n_oob)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_close(c, "disconnected");
}

/* ---- the upstream session ----------------------------------------------- */

static void on_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct tap_req *r = opaque;
	struct tap_client *c = r->c;

	if (!c) {
		TAILQ_REMOVE(&r->t->orphans, r, link);
		req_free(r);
		return;
	}
	if (err)
		r->reply = make_error(err->qmp_class ? err->qmp_class : "GenericError", err->msg);
	else
		r->reply = make_return(json_object_get(ret));
	set_reply_id(r);
	r->state = REQ_DONE;
	if (r->oob) {
		TAILQ_REMOVE(&c->oob_reqs, r, link);
		c->n_oob--;
		client_send_reply(c, r);
		req_free(r);
	} else {
		c->n_sent--;
		client_flush(c);
		client_pump(c);
	}
	client_input(c);
	client_maybe_finish(c);
}

static void submit(struct tap_client *c, struct tap_req *r)
{
	struct qc_error *err = NULL;
	struct json_object *args = r->args;

	r->args = NULL;
	r->up_id = qmp_session_execute(c->t->s, r->name, args, r->oob ? QMP_EXEC_OOB : 0, NULL, 0, UINT32_MAX,
				       on_reply, r, &err);
	if (r->up_id) {
		r->state = REQ_SENT;
		if (!r->oob)
			c->n_sent++;
		return;
	}
	r->reply = make_error(err && err->qmp_class ? err->qmp_class : "GenericError", err ? err->msg : "failed");
	qc_error_free(err);
	set_reply_id(r);
	r->local = true;
	r->state = REQ_DONE;
}

/* Moves queued in-band commands into the session while the client's share
 * allows, then writes whatever is ready. */
static void client_pump(struct tap_client *c)
{
	struct tap_req *r;

	if (c->closed || !c->t->s)
		return;
	TAILQ_FOREACH(r, &c->reqs, link)
	{
		if (c->n_sent >= c->t->opts.client_max_inflight)
			break;
		if (r->state == REQ_QUEUED)
			submit(c, r);
	}
	client_flush(c);
}

static void greet(struct tap_client *c)
{
	struct json_object *g = qmp_session_greeting(c->t->s);
	struct json_object *msg = json_object_new_object(), *qmp = json_object_new_object();
	struct json_object *caps = json_object_new_array(), *ver;

	if (json_object_object_get_ex(g, "version", &ver))
		json_object_object_add(qmp, "version", json_object_get(ver));
	if (qmp_session_has_oob(c->t->s))
		json_object_array_add(caps, json_object_new_string("oob"));
	json_object_object_add(qmp, "capabilities", caps);
	json_object_object_add(msg, "QMP", qmp);
	c->state = CLIENT_NEGOTIATING;
	record(c->t, QMP_TAP_OUT, c->num, to_json(msg), true, -1, NULL);
	client_write(c, to_json(msg));
	json_object_put(msg);
	/* A scripted client may have sent everything already. */
	client_input(c);
	client_maybe_finish(c);
}

static void on_event(void *opaque, const char *name, struct json_object *event)
{
	struct qmp_tap *t = opaque;
	struct tap_client *c, *next;
	const char *json;

	/* QEMU names one of its own ids: that command's client gets an error
	 * reply through the session instead. */
	if (!strcmp(name, "COMMAND_DROPPED"))
		return;
	json = to_json(event);
	record(t, QMP_TAP_EVENT, 0, json, false, -1, NULL);
	for (c = TAILQ_FIRST(&t->clients); c; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CLIENT_READY)
			client_write(c, json);
	}
}

static void on_upstream_state(void *opaque, enum qmp_session_state state, const struct qc_error *err)
{
	struct qmp_tap *t = opaque;
	struct tap_client *c, *next;

	if (state == QMP_SESSION_READY) {
		for (c = TAILQ_FIRST(&t->clients); c; c = next) {
			next = TAILQ_NEXT(c, link);
			if (c->state == CLIENT_WAITING)
				greet(c);
		}
		if (t->upstream_fn)
			t->upstream_fn(t->upstream_opaque, true, NULL);
	} else if (state == QMP_SESSION_CLOSED) {
		/* Clients had state in that QEMU (ids, negotiation): they go
		 * too.  Commands still pending are failed by the session right
		 * after this returns, to the orphaned requests. */
		for (c = TAILQ_FIRST(&t->clients); c; c = next) {
			next = TAILQ_NEXT(c, link);
			if (c->state != CLIENT_WAITING)
				client_close(c, "the connection to QEMU ended");
		}
		if (t->dead_s) /* an earlier one the loop has not reaped yet */
			qmp_session_free(t->dead_s);
		t->dead_s = t->s;
		t->s = NULL;
		event_active(t->reap_ev, 0, 0);
		if (t->upstream_fn)
			t->upstream_fn(t->upstream_opaque, false, err);
	}
}

int qmp_tap_connect(struct qmp_tap *t, const char *addr, struct qc_error **errp)
{
	struct qmp_session *s;

	if (t->s) {
		qc_error_set(errp, "the tap is already connected to QEMU");
		return -1;
	}
	s = qmp_session_new(t->base, &t->opts.session);
	t->sub = qmp_session_subscribe(s, NULL, on_event, t);
	qmp_session_set_state_cb(s, on_upstream_state, t);
	if (t->trace_fn)
		qmp_session_set_trace(s, t->trace_fn, t->trace_opaque);
	if (qmp_session_connect(s, addr, errp) < 0) {
		qmp_session_free(s);
		return -1;
	}
	t->s = s;
	return 0;
}

bool qmp_tap_upstream_ready(const struct qmp_tap *t)
{
	return t->s && qmp_session_state(t->s) == QMP_SESSION_READY;
}

/* ---- messages from clients ---------------------------------------------- */

static struct tap_req *new_req(struct tap_client *c, struct json_object *msg)
{
	struct tap_req *r = qc_calloc(1, sizeof(*r));
	struct json_object *id;

	r->t = c->t;
	r->c = c;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	if (msg && json_object_object_get_ex(msg, "id", &id)) {
		r->has_id = true;
		r->id = json_object_get(id);
	}
	return r;
}

/* Queues a reply the tap makes itself, in order with the client's others. */
static void local_reply(struct tap_client *c, struct tap_req *r, struct json_object *reply)
{
	r->reply = reply;
	r->local = true;
	r->state = REQ_DONE;
	set_reply_id(r);
	TAILQ_INSERT_TAIL(&c->reqs, r, link);
	c->n_reqs++;
	client_flush(c);
}

static void local_error(struct tap_client *c, struct tap_req *r, const char *cls, const char *fmt, ...) QC_PRINTF(4, 5);

static void local_error(struct tap_client *c, struct tap_req *r, const char *cls, const char *fmt, ...)
{
	char desc[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	local_reply(c, r, make_error(cls, desc));
}

static void negotiate(struct tap_client *c, struct tap_req *r, struct json_object *args)
{
	struct json_object *enable = NULL;
	bool oob = false;

	if (args && json_object_is_type(args, json_type_object)) {
		json_object_object_foreach (args, key, val) {
			if (strcmp(key, "enable")) {
				local_error(c, r, "GenericError", "Parameter '%s' is unexpected", key);
				return;
			}
			enable = val;
		}
	}
	if (enable && !json_object_is_type(enable, json_type_array)) {
		local_error(c, r, "GenericError", "Invalid parameter type for 'enable', expected: array");
		return;
	}
	for (size_t i = 0; enable && i < json_object_array_length(enable); i++) {
		const char *cap = json_object_get_string(json_object_array_get_idx(enable, i));

		if (!cap || strcmp(cap, "oob")) {
			local_error(c, r, "GenericError", "Capability '%s' not available", cap ? cap : "?");
			return;
		}
		if (!qmp_session_has_oob(c->t->s)) {
			local_error(c, r, "GenericError", "Capability 'oob' not available");
			return;
		}
		oob = true;
	}
	c->oob = oob;
	c->state = CLIENT_READY;
	local_reply(c, r, make_return(json_object_new_object()));
}

static void handle_command(struct tap_client *c, struct json_object *msg)
{
	struct tap_req *r = new_req(c, msg);
	struct json_object *exec = NULL, *args = NULL;
	const char *member = "execute";

	json_object_object_foreach (msg, key, val) {
		if (!strcmp(key, "execute") || !strcmp(key, "exec-oob")) {
			if (exec) {
				local_error(c, r, "GenericError", "QMP input member '%s' is unexpected", key);
				return;
			}
			exec = val;
			member = key;
		} else if (!strcmp(key, "arguments")) {
			args = val;
		} else if (strcmp(key, "id")) {
			local_error(c, r, "GenericError", "QMP input member '%s' is unexpected", key);
			return;
		}
	}
	if (!exec) {
		local_error(c, r, "GenericError", "QMP input lacks member 'execute'");
		return;
	}
	if (!json_object_is_type(exec, json_type_string)) {
		local_error(c, r, "GenericError", "QMP input member '%s' must be a string", member);
		return;
	}
	if (args && !json_object_is_type(args, json_type_object)) {
		local_error(c, r, "GenericError", "QMP input member 'arguments' must be an object");
		return;
	}
	r->name = qc_strdup(json_object_get_string(exec));
	r->oob = !strcmp(member, "exec-oob");
	if (c->state == CLIENT_NEGOTIATING) {
		if (strcmp(r->name, "qmp_capabilities") || r->oob)
			local_error(c, r, "CommandNotFound",
				    "Expecting capabilities negotiation with 'qmp_capabilities'");
		else
			negotiate(c, r, args);
		return;
	}
	if (!strcmp(r->name, "qmp_capabilities")) {
		local_error(c, r, "CommandNotFound", "Capabilities negotiation is already complete, command ignored");
		return;
	}
	if (r->oob && !c->oob) {
		local_error(c, r, "GenericError",
			    "QMP input member 'exec-oob' is unexpected (enable the 'oob' capability)");
		return;
	}
	r->args = args && json_object_object_length(args) ? json_object_get(args) : NULL;
	if (r->oob) {
		TAILQ_INSERT_TAIL(&c->oob_reqs, r, link);
		c->n_oob++;
		submit(c, r);
		if (r->state == REQ_DONE) {
			TAILQ_REMOVE(&c->oob_reqs, r, link);
			c->n_oob--;
			client_send_reply(c, r);
			req_free(r);
		}
		return;
	}
	TAILQ_INSERT_TAIL(&c->reqs, r, link);
	c->n_reqs++;
	client_pump(c);
}

static int on_client_msg(void *opaque, struct json_object *msg)
{
	struct tap_client *c = opaque;

	if (c->t->record_fn)
		record(c->t, QMP_TAP_IN, c->num, to_json(msg), false, -1, NULL);
	handle_command(c, msg);
	json_object_put(msg);
	return c->closed;
}

/* Parses what the client sent, as far as its queue allows. */
static void client_input(struct tap_client *c)
{
	struct evbuffer *in;
	size_t len;

	if (c->closed || c->in_input || c->state == CLIENT_WAITING)
		return;
	c->in_input = true;
	in = bufferevent_get_input(c->bev);
	while (!c->closed && c->n_reqs + c->n_oob < c->t->opts.client_max_queue && (len = evbuffer_get_length(in))) {
		size_t n = len < FEED_CHUNK ? len : FEED_CHUNK;
		const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
		const char *nl = memchr(p, '\n', n);
		struct qc_error *err = NULL;

		/* A line at a time, so that malformed input costs at most the
		 * rest of its line. */
		if (nl)
			n = (size_t)(nl - p) + 1;
		if (c->skip_line) {
			evbuffer_drain(in, n);
			c->skip_line = !nl;
			continue;
		}
		if (qmp_framer_feed(c->framer, p, n, on_client_msg, c, &err) < 0) {
			if (qmp_framer_partial(c->framer) >= c->t->opts.client_max_message) {
				char why[96];

				snprintf(why, sizeof(why), "sent a message larger than %zu bytes",
					 c->t->opts.client_max_message);
				qc_error_free(err);
				client_close(c, why);
				break;
			}
			/* Like QEMU: say so and carry on with the next line. */
			qmp_framer_reset(c->framer);
			local_reply(c, new_req(c, NULL), make_error("GenericError", err->msg));
			qc_error_free(err);
			c->skip_line = !nl;
		}
		if (c->closed)
			break;
		evbuffer_drain(in, n);
	}
	c->in_input = false;
}

/* ---- client connections ------------------------------------------------- */

static void on_client_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	client_input(arg);
}

static void on_client_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	client_maybe_finish(arg);
}

static void on_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct tap_client *c = arg;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		/* Half-closed: answer what it sent first (echo ... | socat). */
		c->eof = true;
		bufferevent_disable(c->bev, EV_READ);
		client_input(c);
		client_maybe_finish(c);
		return;
	}
	client_close(c, (what & BEV_EVENT_ERROR) && errno ? strerror(errno) : "connection error");
}

/* A departed client's request.  As QEMU does when a client leaves: what
 * QEMU has not seen yet is dropped, what it has runs on with its reply
 * dropped. */
static void forget_req(struct qmp_tap *t, struct tap_req *r)
{
	if (r->state == REQ_SENT && !(t->s && qmp_session_cancel(t->s, r->up_id))) {
		/* The session is failing it right now: on_reply frees it. */
		r->c = NULL;
		TAILQ_INSERT_TAIL(&t->orphans, r, link);
		return;
	}
	req_free(r);
}

static void client_close(struct tap_client *c, const char *why)
{
	struct qmp_tap *t = c->t;
	struct tap_req *r;
	int fd;

	if (c->closed)
		return;
	c->closed = true;
	while ((r = TAILQ_FIRST(&c->reqs))) {
		TAILQ_REMOVE(&c->reqs, r, link);
		forget_req(t, r);
	}
	while ((r = TAILQ_FIRST(&c->oob_reqs))) {
		TAILQ_REMOVE(&c->oob_reqs, r, link);
		forget_req(t, r);
	}
	c->n_reqs = c->n_oob = c->n_sent = 0;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	fd = bufferevent_getfd(c->bev);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	TAILQ_REMOVE(&t->clients, c, link);
	t->n_clients--;
	TAILQ_INSERT_TAIL(&t->graveyard, c, link);
	event_active(t->reap_ev, 0, 0);
	record(t, QMP_TAP_DISCONNECT, c->num, NULL, false, -1, why);
}

static void client_destroy(struct tap_client *c)
{
	bufferevent_free(c->bev);
	qmp_framer_free(c->framer);
	free(c);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_tap *t = arg;
	struct tap_client *c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&t->graveyard))) {
		TAILQ_REMOVE(&t->graveyard, c, link);
		client_destroy(c);
	}
	if (t->dead_s) {
		qmp_session_free(t->dead_s);
		t->dead_s = NULL;
	}
}

/* "pid 123 uid 0 (socat)": which program a client is, for the record. */
static void peer_note(int fd, char *buf, size_t size)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char path[64], comm[32] = "";
	FILE *f;

	buf[0] = '\0';
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)cred.pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(buf, size, "pid %d uid %u%s%s%s", (int)cred.pid, (unsigned)cred.uid, comm[0] ? " (" : "", comm,
		 comm[0] ? ")" : "");
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
	struct qmp_tap *t = arg;
	struct tap_client *c = qc_calloc(1, sizeof(*c));
	char note[96];

	(void)l;
	(void)sa;
	(void)socklen;
	c->t = t;
	c->num = ++t->next_num;
	c->state = CLIENT_WAITING;
	c->framer = qmp_framer_new(t->opts.client_max_message);
	TAILQ_INIT(&c->reqs);
	TAILQ_INIT(&c->oob_reqs);
	c->bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		qmp_framer_free(c->framer);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, on_client_read, on_client_write, on_client_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH_WATER);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&t->clients, c, link);
	t->n_clients++;
	peer_note(fd, note, sizeof(note));
	record(t, QMP_TAP_CONNECT, c->num, NULL, false, -1, note[0] ? note : NULL);
	if (qmp_tap_upstream_ready(t))
		greet(c);
}

static void on_relisten(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_tap *t = arg;

	(void)fd;
	(void)what;
	if (t->listener)
		evconnlistener_enable(t->listener);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct qmp_tap *t = arg;
	struct timeval tv = { 0, 200 * 1000 };

	/* Out of descriptors, most likely: pause rather than spin. */
	evconnlistener_disable(l);
	evtimer_add(t->relisten_ev, &tv);
}

/* ---- the listening socket ----------------------------------------------- */

static int remove_stale(const char *path, struct qc_error **errp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : (qc_error_set_errno(errp, errno, "cannot use %s", path), -1);
	if (!S_ISSOCK(st.st_mode)) {
		qc_error_set(errp, "%s exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		qc_error_set_errno(errp, errno, "cannot create a socket");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		qc_error_set(errp, "%s is in use: something already listens there", path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		qc_error_set_errno(errp, errno, "cannot check %s", path);
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		qc_error_set_errno(errp, errno, "cannot remove the stale socket %s", path);
		return -1;
	}
	return 0;
}

int qmp_tap_listen(struct qmp_tap *t, const char *path, mode_t mode, struct qc_error **errp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (t->listener) {
		qc_error_set(errp, "the tap already listens on %s", t->path);
		return -1;
	}
	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		qc_error_set(errp, "socket path '%s' is empty or too long (at most %zu bytes)", path,
			     sizeof(sa.sun_path) - 1);
		return -1;
	}
	if (remove_stale(path, errp) < 0)
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		qc_error_set_errno(errp, errno, "cannot create a socket");
		return -1;
	}
	/* Linux gives the socket file the inode's mode (less the umask) at
	 * bind: never a moment with wider permissions than asked for. */
	if (fchmod(fd, mode & 0777) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		qc_error_set_errno(errp, errno, "cannot create the socket %s", path);
		close(fd);
		return -1;
	}
	if (chmod(path, mode & 0777) < 0 || stat(path, &st) < 0 || listen(fd, 128) < 0) {
		qc_error_set_errno(errp, errno, "cannot listen on %s", path);
		unlink(path);
		close(fd);
		return -1;
	}
	t->sock_dev = st.st_dev;
	t->sock_ino = st.st_ino;
	t->listener = evconnlistener_new(t->base, on_accept, t, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!t->listener) {
		qc_error_set(errp, "cannot listen on %s", path);
		unlink(path);
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(t->listener, on_accept_error);
	t->path = qc_strdup(path);
	return 0;
}

/* ---- the tap ------------------------------------------------------------ */

struct qmp_tap *qmp_tap_new(struct event_base *base, const struct qmp_tap_opts *opts)
{
	struct qmp_tap *t = qc_calloc(1, sizeof(*t));

	t->base = base;
	if (opts)
		t->opts = *opts;
	if (!t->opts.client_max_message)
		t->opts.client_max_message = DEFAULT_MAX_MESSAGE;
	if (!t->opts.client_max_queue)
		t->opts.client_max_queue = DEFAULT_MAX_QUEUE;
	if (!t->opts.client_max_inflight)
		t->opts.client_max_inflight = DEFAULT_MAX_INFLIGHT;
	if (!t->opts.client_max_output)
		t->opts.client_max_output = DEFAULT_MAX_OUTPUT;
	TAILQ_INIT(&t->clients);
	TAILQ_INIT(&t->graveyard);
	TAILQ_INIT(&t->orphans);
	t->reap_ev = event_new(base, -1, 0, on_reap, t);
	t->relisten_ev = evtimer_new(base, on_relisten, t);
	return t;
}

void qmp_tap_set_record_cb(struct qmp_tap *t, qmp_tap_record_fn fn, void *opaque)
{
	t->record_fn = fn;
	t->record_opaque = opaque;
}

void qmp_tap_set_upstream_cb(struct qmp_tap *t, qmp_tap_upstream_fn fn, void *opaque)
{
	t->upstream_fn = fn;
	t->upstream_opaque = opaque;
}

void qmp_tap_set_trace(struct qmp_tap *t, qmp_trace_fn fn, void *opaque)
{
	t->trace_fn = fn;
	t->trace_opaque = opaque;
}

size_t qmp_tap_clients(const struct qmp_tap *t)
{
	return t->n_clients;
}

void qmp_tap_free(struct qmp_tap *t)
{
	struct tap_client *c;
	struct tap_req *r;
	struct stat st;

	if (!t)
		return;
	t->record_fn = NULL;
	t->upstream_fn = NULL;
	if (t->listener) {
		evconnlistener_free(t->listener);
		if (stat(t->path, &st) == 0 && st.st_dev == t->sock_dev && st.st_ino == t->sock_ino)
			unlink(t->path);
	}
	while ((c = TAILQ_FIRST(&t->clients)))
		client_close(c, "the tap is closing");
	/* The session drops pending commands without calling back. */
	if (t->s) {
		qmp_session_set_state_cb(t->s, NULL, NULL);
		qmp_session_free(t->s);
	}
	qmp_session_free(t->dead_s);
	while ((r = TAILQ_FIRST(&t->orphans))) {
		TAILQ_REMOVE(&t->orphans, r, link);
		req_free(r);
	}
	while ((c = TAILQ_FIRST(&t->graveyard))) {
		TAILQ_REMOVE(&t->graveyard, c, link);
		client_destroy(c);
	}
	event_free(t->reap_ev);
	event_free(t->relisten_ev);
	free(t->path);
	free(t);
}
