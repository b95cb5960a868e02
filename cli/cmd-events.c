/*
 * qmpctl events: print events as JSON lines until --count, the timeout,
 * a signal, or QEMU going away.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "qc_buf.h"
#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage[] =
	"Usage: qmpctl events [OPTIONS] VM\n"
	"\n"
	"Print QMP events as they arrive, one JSON object per line, until COUNT events,\n"
	"the timeout, or Ctrl-C.\n"
	"\n"
	"  -c, --count N          stop after N events (exit 1 if the timeout comes first)\n"
	"  -f, --filter NAME,...  only events with these names (e.g. STOP,RESUME); a name\n"
	"                         that is no event of this QEMU is warned about\n"
	"  -s, --socket PATH      QMP socket (then VM is left out)\n"
	"  -t, --timeout SEC      stop after SEC seconds (default: run until stopped)\n"
	"  -v, --verbose          print every QMP message on stderr\n"
	"  -h, --help             show this help\n"
	"\n"
	"Example:\n"
	"  qmpctl events /run/vm.qmp --filter STOP,RESUME --count 2\n";

struct ev_opts {
	long count; /* 0: unlimited */
	char **names;
	size_t n_names;
};

struct ev_state {
	struct event_base *base;
	struct qmp_session *s;
	const struct ev_opts *o;
	long seen;
	bool done, timed_out;
	int signo;
	struct qc_error *err;
};

static void add_filter(struct ev_opts *o, const char *arg)
{
	char *copy = qc_strdup(arg), *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		o->names = qc_realloc(o->names, (o->n_names + 1) * sizeof(*o->names));
		o->names[o->n_names++] = qc_strdup(tok);
	}
	free(copy);
}

static int own_opt(void *opaque, int opt, const char *arg)
{
	struct ev_opts *o = opaque;
	char *end;

	switch (opt) {
	case 'c':
		o->count = strtol(arg, &end, 10);
		if (end == arg || *end || o->count <= 0) {
			cli_error("invalid count '%s': expected a number greater than 0", arg);
			return -1;
		}
		return 0;
	case 'f':
		add_filter(o, arg);
		return 0;
	}
	return 1;
}

static bool wanted(const struct ev_opts *o, const char *name)
{
	if (!o->n_names)
		return true;
	for (size_t i = 0; i < o->n_names; i++)
		if (!strcasecmp(o->names[i], name))
			return true;
	return false;
}

static void on_event(void *opaque, const char *name, struct json_object *msg)
{
	struct ev_state *st = opaque;

	if (st->done || !wanted(st->o, name))
		return;
	puts(json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	if (st->o->count && ++st->seen >= st->o->count) {
		st->done = true;
		event_base_loopbreak(st->base);
	}
}

/* A name in --filter that this QEMU never sends is most likely a typo:
 * say so (the run goes on, as asked).  The names are the schema's events. */
static void on_schema(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct ev_state *st = opaque;
	size_t n = json_object_is_type(ret, json_type_array) ? json_object_array_length(ret) : 0;

	if (err || !n)
		return; /* no schema: nothing to check against */
	for (size_t i = 0; i < st->o->n_names; i++) {
		bool known = false;

		for (size_t k = 0; k < n && !known; k++) {
			struct json_object *e = json_object_array_get_idx(ret, k);
			const char *meta = json_object_get_string(json_object_object_get(e, "meta-type"));
			const char *name = json_object_get_string(json_object_object_get(e, "name"));

			known = meta && name && !strcmp(meta, "event") && !strcasecmp(name, st->o->names[i]);
		}
		if (!known)
			cli_error("warning: '%s' is not an event of this QEMU (query-qmp-schema)", st->o->names[i]);
	}
}

static void on_state(void *opaque, enum qmp_session_state state, const struct qc_error *err)
{
	struct ev_state *st = opaque;

	if (state == QMP_SESSION_READY && st->o->n_names)
		qmp_session_execute(st->s, "query-qmp-schema", NULL, 0, NULL, 0, 0, on_schema, st, NULL);

	if (state == QMP_SESSION_CLOSED && !st->done) {
		st->err = qc_error_copy(err);
		st->done = true;
		event_base_loopbreak(st->base);
	}
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ev_state *st = arg;

	(void)fd;
	(void)what;
	st->timed_out = st->done = true;
	event_base_loopbreak(st->base);
}

static void on_signal(void *arg, int sig)
{
	struct ev_state *st = arg;

	st->signo = sig;
	st->done = true;
	event_base_loopbreak(st->base);
}

/* -t ran out before the greeting: who keeps it back. */
static void no_greeting(struct qc_error **errp, const struct qmp_session *s, const char *addr, unsigned ms)
{
	int pid;

	if (qmp_session_peer_is_tap(s, &pid))
		qc_error_set(errp, "no greeting from %s within %g s: it is a qmpctl tap (pid %d) waiting for QEMU to "
			     "come; it greets its clients once it reaches QEMU", addr, ms / 1000.0, pid);
	else
		qc_error_set(errp, "no greeting from %s within %g s: the monitor is probably serving another client "
			     "(QEMU serves one client per monitor socket)", addr, ms / 1000.0);
}

static const struct option longopts[] = {
	{ "count", required_argument, NULL, 'c' },
	{ "filter", required_argument, NULL, 'f' },
	{ NULL, 0, NULL, 0 },
};
static struct ev_opts o;

static int exec_events(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct ev_state st = { 0 };
	struct qmp_session_opts sopts = { 0 };
	struct qmp_subscription *sub;
	struct qmp_session *s = NULL;
	struct qc_error *err = NULL;
	struct event *timer = NULL;
	const char *addr = vm_address(run->vm, &err);
	int rc;

	if (!addr) {
		rc = cli_fail(err);
		goto out;
	}
	st.base = ctx->base;
	st.o = &o;
	/* The whole run is bounded by -t; the greeting by -t or the default. */
	sopts.greeting_timeout_ms = cli_timeout(ctx);
	s = qmp_session_new(ctx->base, &sopts);
	if (ctx->verbose)
		qmp_session_set_trace(s, cli_trace, NULL);
	/* Subscribed before connecting: events sent during negotiation count. */
	sub = qmp_session_subscribe(s, NULL, on_event, &st);
	(void)sub;
	ctx->on_signal = on_signal;
	ctx->signal_opaque = &st;
	if (ctx->signo) /* caught before we listened */
		on_signal(&st, ctx->signo);
	if (ctx->timeout_ms) {
		struct timeval tv = { ctx->timeout_ms / 1000, (ctx->timeout_ms % 1000) * 1000 };

		timer = evtimer_new(ctx->base, on_timeout, &st);
		evtimer_add(timer, &tv);
	}
	if (qmp_session_connect(s, addr, &err) < 0) {
		rc = cli_fail(err);
		goto out;
	}
	st.s = s;
	qmp_session_set_state_cb(s, on_state, &st);
	while (!st.done) {
		if (event_base_loop(ctx->base, EVLOOP_ONCE) < 0)
			break;
	}
	rc = 0;
	if (st.err) {
		rc = cli_fail(st.err);
	} else if (st.timed_out && o.count && st.seen < o.count) {
		if (qmp_session_state(s) != QMP_SESSION_READY)
			no_greeting(&err, s, addr, ctx->timeout_ms);
		else
			qc_error_set(&err, "timed out after %g s with %ld of %ld events", ctx->timeout_ms / 1000.0,
				     st.seen, o.count);
		rc = cli_fail(err);
	} else if (st.timed_out && qmp_session_state(s) != QMP_SESSION_READY) {
		no_greeting(&err, s, addr, ctx->timeout_ms);
		rc = cli_fail(err);
	}
out:
	ctx->on_signal = NULL;
	if (timer)
		event_free(timer);
	qmp_session_free(s);
	for (size_t k = 0; k < o.n_names; k++)
		free(o.names[k]);
	free(o.names);
	return rc;
}

const struct qc_cmd qc_cmd_events = {
	.name = "events",
	.summary = "print QMP events as they arrive",
	.usage = usage,
	.shortopts = "c:f:",
	.longopts = longopts,
	.opt = own_opt,
	.opts = &o,
	.vm = QC_VM_ARG,
	.signals = QC_SIGINT | QC_SIGTERM,
	.exec = exec_events,
};
