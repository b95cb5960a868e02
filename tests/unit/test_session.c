/*
 * Unit tests for qmp_session against a scripted peer on a socketpair.
 *
 * The test thread plays QEMU on one end (peer.c) and runs the session's
 * event loop in small non-blocking steps while it waits, so every exchange
 * is deterministic and bounded by a 2 s deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "peer.h"
#include "qmp_session.h"

#define WAIT_MS 2000
#define NRECS 16
#define NEVS 16

struct ctx;

/* One command's outcome, as the reply callback saw it. */
struct rec {
	struct ctx *c;
	int calls;
	int order;               /* position among all callbacks, from 1 */
	struct json_object *ret; /* a reference of our own */
	struct qc_error *err;    /* a copy */
	bool bad;                /* broke the ret-xor-err contract */
	/* Things to do from inside the callback. */
	bool free_session;
	bool close_session;
	uint64_t cancel_id;
	struct rec *then_exec; /* execute "query-name" with this rec */
	uint64_t then_exec_id;
};

/* One subscriber's view of events. */
struct evrec {
	struct ctx *c;
	struct qmp_subscription *sub;
	int calls;
	char names[NEVS][32];
	int orders[NEVS];
	bool had_timestamp[NEVS];
	bool bad;
	bool unsub_self;
};

struct ctx {
	struct event_base *base;
	struct qmp_session *s;
	int session_fd;
	struct peer peer;
	enum qmp_session_state states[32];
	size_t nstates;
	struct qc_error *close_err;
	int order;
	struct rec recs[NRECS];
	struct evrec evs[4];
	char *trace_out;
	char *trace_in;
};

/* ---- callbacks ----------------------------------------------------------------- */

static void state_cb(void *opaque, enum qmp_session_state st, const struct qc_error *err)
{
	struct ctx *c = opaque;

	if (c->nstates < 32)
		c->states[c->nstates++] = st;
	if (st == QMP_SESSION_CLOSED && err && !c->close_err)
		c->close_err = qc_error_copy(err);
}

static void reply_cb(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct rec *r = opaque;
	struct ctx *c = r->c;

	r->calls++;
	r->order = ++c->order;
	if ((ret == NULL) == (err == NULL))
		r->bad = true;
	if (ret && !r->ret)
		r->ret = json_object_get(ret);
	if (err && !r->err)
		r->err = qc_error_copy(err);
	if (r->cancel_id)
		qmp_session_cancel(c->s, r->cancel_id);
	if (r->then_exec) {
		r->then_exec->c = c;
		r->then_exec_id = qmp_session_execute(c->s, "query-name", NULL, 0, NULL, 0, 0, reply_cb,
						      r->then_exec, NULL);
	}
	if (r->close_session)
		qmp_session_close(c->s);
	if (r->free_session) {
		qmp_session_free(c->s);
		c->s = NULL;
	}
}

static void event_cb(void *opaque, const char *name, struct json_object *event)
{
	struct evrec *e = opaque;
	struct json_object *v;

	if (e->calls < NEVS) {
		snprintf(e->names[e->calls], sizeof(e->names[0]), "%s", name ? name : "(null)");
		e->orders[e->calls] = ++e->c->order;
		e->had_timestamp[e->calls] = event && json_object_object_get_ex(event, "timestamp", NULL);
		if (!event || !json_object_object_get_ex(event, "event", &v) || !name ||
		    strcmp(json_object_get_string(v), name) != 0)
			e->bad = true;
	}
	e->calls++;
	if (e->unsub_self && e->sub) {
		qmp_session_unsubscribe(e->c->s, e->sub);
		e->sub = NULL;
	}
}

static void trace_cb(void *opaque, bool outgoing, const char *json)
{
	struct ctx *c = opaque;
	char **dst = outgoing ? &c->trace_out : &c->trace_in;
	size_t old = *dst ? strlen(*dst) : 0;
	char *n = realloc(*dst, old + strlen(json) + 2);

	assert_non_null(n);
	strcpy(n + old, json);
	strcat(n + old, "\n");
	*dst = n;
}

/* ---- fixture -------------------------------------------------------------------- */

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->base = event_base_new();
	if (!c->base || peer_open(&c->peer, &c->session_fd, true) < 0)
		return -1;
	c->peer.pump_base = c->base;
	for (int i = 0; i < NRECS; i++)
		c->recs[i].c = c;
	for (int i = 0; i < 4; i++)
		c->evs[i].c = c;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (c->s)
		qmp_session_free(c->s);
	c->s = NULL;
	if (c->session_fd >= 0)
		close(c->session_fd);
	event_base_free(c->base);
	peer_fini(&c->peer);
	for (int i = 0; i < NRECS; i++) {
		json_object_put(c->recs[i].ret);
		qc_error_free(c->recs[i].err);
	}
	qc_error_free(c->close_err);
	free(c->trace_out);
	free(c->trace_in);
	free(c);
	return 0;
}

/* Creates the session on c->base and hands it the session's end. */
static void start(struct ctx *c, const struct qmp_session_opts *opts)
{
	struct qmp_session_opts def = { 0 };
	struct qc_error *err = NULL;

	c->s = qmp_session_new(c->base, opts ? opts : &def);
	assert_non_null(c->s);
	qmp_session_set_state_cb(c->s, state_cb, c);
	assert_int_equal(qmp_session_attach_fd(c->s, c->session_fd, &err), 0);
	c->session_fd = -1; /* the session owns it now */
	assert_null(err);
}

static bool cond_ready(void *arg)
{
	struct ctx *c = arg;

	return c->s && qmp_session_state(c->s) == QMP_SESSION_READY;
}

static bool cond_closed(void *arg)
{
	struct ctx *c = arg;

	return c->s && qmp_session_state(c->s) == QMP_SESSION_CLOSED;
}

static bool cond_called(void *arg)
{
	return ((struct rec *)arg)->calls > 0;
}

/* All of recs[0..n) called: arg is a struct ctx with n in c->order's stead. */
struct all_arg {
	struct ctx *c;
	int n;
};

static bool cond_all_called(void *arg)
{
	struct all_arg *a = arg;

	for (int i = 0; i < a->n; i++)
		if (a->c->recs[i].calls == 0)
			return false;
	return true;
}

struct count_arg {
	const int *counter;
	int want;
};

static bool cond_count(void *arg)
{
	struct count_arg *a = arg;

	return *a->counter >= a->want;
}

/* Runs the loop until *counter reaches want, then a little longer so that
 * a call too many would show. */
static void wait_count(struct ctx *c, const int *counter, int want)
{
	struct count_arg a = { counter, want };

	if (!pump_until(c->base, cond_count, &a, WAIT_MS))
		fail_msg("count stuck at %d, expected %d", *counter, want);
	pump_for(c->base, 10);
}

static void wait_all(struct ctx *c, int n)
{
	struct all_arg a = { c, n };

	if (!pump_until(c->base, cond_all_called, &a, WAIT_MS))
		fail_msg("not all %d callbacks ran", n);
}

static uint64_t exec(struct ctx *c, const char *cmd, const char *args_json, struct rec *r)
{
	struct qc_error *err = NULL;
	struct json_object *args = args_json ? json_tokener_parse(args_json) : NULL;
	uint64_t id = qmp_session_execute(c->s, cmd, args, 0, NULL, 0, 0, reply_cb, r, &err);

	if (id == 0)
		fail_msg("execute %s failed: %s", cmd, err ? err->msg : "(no error)");
	assert_null(err);
	assert_int_equal(r->calls, 0); /* never from inside execute */
	return id;
}

/* The next message from the session, which must be command name. */
static struct json_object *expect_cmd(struct ctx *c, const char *name)
{
	struct json_object *m = peer_recv(&c->peer, c->base, WAIT_MS);
	const char *cmd;

	if (!m)
		fail_msg("peer received nothing, expected %s", name);
	cmd = peer_msg_command(m);
	if (!cmd || strcmp(cmd, name) != 0)
		fail_msg("peer received %s, expected %s", json_object_to_json_string(m), name);
	return m;
}

static void expect_nothing(struct ctx *c, int ms)
{
	struct json_object *m = peer_recv(&c->peer, c->base, ms);

	if (m)
		fail_msg("peer received unexpected %s", json_object_to_json_string(m));
}

static bool caps_enable_oob(struct json_object *caps)
{
	struct json_object *args = peer_msg_arguments(caps), *en;

	if (!args || !json_object_object_get_ex(args, "enable", &en))
		return false;
	for (size_t i = 0; i < json_object_array_length(en); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(en, i)), "oob") == 0)
			return true;
	return false;
}

static void negotiate(struct ctx *c, const char *greeting)
{
	struct json_object *caps;

	peer_send(&c->peer, greeting);
	caps = expect_cmd(c, "qmp_capabilities");
	peer_reply(&c->peer, caps, "{}");
	json_object_put(caps);
	if (!pump_until(c->base, cond_ready, c, WAIT_MS))
		fail_msg("session not READY (state %s)", qmp_session_state_name(qmp_session_state(c->s)));
}

static int64_t ret_int(struct rec *r, const char *key)
{
	struct json_object *v;

	assert_non_null(r->ret);
	assert_true(json_object_object_get_ex(r->ret, key, &v));
	return json_object_get_int64(v);
}

static bool saw_state(struct ctx *c, enum qmp_session_state st)
{
	for (size_t i = 0; i < c->nstates; i++)
		if (c->states[i] == st)
			return true;
	return false;
}

/* ---- greeting and negotiation --------------------------------------------------- */

static void test_state_names(void **state)
{
	const char *names[6];

	for (int i = QMP_SESSION_NEW; i <= QMP_SESSION_CLOSED; i++) {
		names[i] = qmp_session_state_name((enum qmp_session_state)i);
		assert_non_null(names[i]);
		assert_true(strlen(names[i]) > 0);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(names[i], names[k]);
	}
}

static void test_greeting_oob(void **state)
{
	struct ctx *c = *state;
	struct json_object *caps, *g;

	start(c, NULL);
	assert_true(qmp_session_state(c->s) < QMP_SESSION_NEGOTIATING);
	assert_null(qmp_session_greeting(c->s));
	peer_send(&c->peer, PEER_GREETING_OOB);
	caps = expect_cmd(c, "qmp_capabilities");
	assert_false(peer_msg_is_oob(caps));
	assert_true(caps_enable_oob(caps));
	/* Not READY until QEMU says so. */
	pump_for(c->base, 20);
	assert_int_equal(qmp_session_state(c->s), QMP_SESSION_NEGOTIATING);
	peer_reply(&c->peer, caps, "{}");
	json_object_put(caps);
	assert_true(pump_until(c->base, cond_ready, c, WAIT_MS));

	/* The state callback saw the way there, in order, ending in READY. */
	assert_true(c->nstates >= 3);
	assert_int_equal(c->states[c->nstates - 1], QMP_SESSION_READY);
	assert_int_equal(c->states[c->nstates - 2], QMP_SESSION_NEGOTIATING);
	for (size_t i = 1; i < c->nstates; i++)
		assert_true(c->states[i] > c->states[i - 1]);
	assert_true(saw_state(c, QMP_SESSION_GREETING));
	assert_false(saw_state(c, QMP_SESSION_CLOSED));

	assert_true(qmp_session_has_oob(c->s));
	assert_non_null(qmp_session_version(c->s));
	assert_string_equal(qmp_session_version(c->s), "7.2.0");
	g = qmp_session_greeting(c->s);
	assert_non_null(g);
	assert_true(json_object_object_get_ex(g, "capabilities", NULL));
	assert_true(json_object_object_get_ex(g, "version", NULL));
	assert_null(qmp_session_error(c->s));
	assert_int_equal(qmp_session_queued(c->s), 0);
	assert_int_equal(qmp_session_inflight(c->s), 0);
}

static void test_greeting_without_oob(void **state)
{
	struct ctx *c = *state;
	struct json_object *caps;

	start(c, NULL);
	peer_send(&c->peer, PEER_GREETING_NO_OOB);
	caps = expect_cmd(c, "qmp_capabilities");
	assert_false(caps_enable_oob(caps));
	peer_reply(&c->peer, caps, "{}");
	json_object_put(caps);
	assert_true(pump_until(c->base, cond_ready, c, WAIT_MS));
	assert_false(qmp_session_has_oob(c->s));
	assert_string_equal(qmp_session_version(c->s), "7.2.0");
}

static void test_opts_no_oob(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .no_oob = true };
	struct json_object *caps;

	start(c, &o);
	peer_send(&c->peer, PEER_GREETING_OOB);
	caps = expect_cmd(c, "qmp_capabilities");
	assert_false(caps_enable_oob(caps));
	peer_reply(&c->peer, caps, "{}");
	json_object_put(caps);
	assert_true(pump_until(c->base, cond_ready, c, WAIT_MS));
	assert_false(qmp_session_has_oob(c->s));
}

static void test_bad_greeting(void **state)
{
	struct ctx *c = *state;

	/* Something that is not a greeting where the greeting belongs. */
	start(c, NULL);
	exec(c, "query-status", NULL, &c->recs[0]);
	peer_send(&c->peer, "{\"return\": {}}");
	assert_true(pump_until(c->base, cond_closed, c, WAIT_MS));
	assert_non_null(qmp_session_error(c->s));
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_non_null(c->recs[0].err);
}

static void test_capabilities_refused(void **state)
{
	struct ctx *c = *state;
	struct json_object *caps;

	start(c, NULL);
	exec(c, "query-status", NULL, &c->recs[0]);
	peer_send(&c->peer, PEER_GREETING_OOB);
	caps = expect_cmd(c, "qmp_capabilities");
	peer_reply_error(&c->peer, caps, "GenericError", "Capability negotiation is already complete");
	json_object_put(caps);
	assert_true(pump_until(c->base, cond_closed, c, WAIT_MS));
	assert_non_null(qmp_session_error(c->s));
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_non_null(c->recs[0].err);
	assert_false(saw_state(c, QMP_SESSION_READY));
}

/* ---- commands ------------------------------------------------------------------- */

static void test_queued_before_ready(void **state)
{
	struct ctx *c = *state;
	struct json_object *caps, *m;
	uint64_t a, b;

	start(c, NULL);
	a = exec(c, "query-status", NULL, &c->recs[0]);
	b = exec(c, "query-name", "{}", &c->recs[1]);
	assert_true(a > 0 && b > 0 && a != b);
	assert_int_equal(qmp_session_queued(c->s), 2);
	assert_int_equal(qmp_session_inflight(c->s), 0);
	expect_nothing(c, 50); /* no greeting yet: nothing may be sent */

	peer_send(&c->peer, PEER_GREETING_OOB);
	caps = expect_cmd(c, "qmp_capabilities");
	expect_nothing(c, 50); /* still negotiating */
	assert_int_equal(c->recs[0].calls + c->recs[1].calls, 0);
	peer_reply(&c->peer, caps, "{}");
	json_object_put(caps);

	m = expect_cmd(c, "query-status");
	peer_reply(&c->peer, m, "{\"status\": \"running\", \"singlestep\": false, \"running\": true}");
	json_object_put(m);
	m = expect_cmd(c, "query-name");
	peer_reply(&c->peer, m, "{\"name\": \"vm0\"}");
	json_object_put(m);
	wait_all(c, 2);
	assert_false(c->recs[0].bad || c->recs[1].bad);
	assert_non_null(c->recs[0].ret);
	struct json_object *v;
	assert_true(json_object_object_get_ex(c->recs[0].ret, "status", &v));
	assert_string_equal(json_object_get_string(v), "running");
	assert_true(json_object_object_get_ex(c->recs[1].ret, "name", &v));
	assert_string_equal(json_object_get_string(v), "vm0");
	assert_int_equal(qmp_session_queued(c->s), 0);
	assert_int_equal(qmp_session_inflight(c->s), 0);
}

static void test_reply_order_reversed(void **state)
{
	struct ctx *c = *state;
	struct json_object *msgs[4], *ids[4];
	uint64_t sid[4];
	char args[32];

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	for (int i = 0; i < 4; i++) {
		snprintf(args, sizeof(args), "{\"i\": %d}", i);
		sid[i] = exec(c, "x-test", args, &c->recs[i]);
		assert_true(sid[i] > 0);
		for (int k = 0; k < i; k++)
			assert_true(sid[k] != sid[i]);
	}
	for (int i = 0; i < 4; i++) {
		struct json_object *v;

		msgs[i] = expect_cmd(c, "x-test");
		assert_true(json_object_object_get_ex(msgs[i], "id", &ids[i]));
		for (int k = 0; k < i; k++)
			assert_false(json_object_equal(ids[k], ids[i]));
		assert_non_null(peer_msg_arguments(msgs[i]));
		assert_true(json_object_object_get_ex(peer_msg_arguments(msgs[i]), "i", &v));
		assert_int_equal(json_object_get_int(v), i);
	}
	assert_int_equal(qmp_session_inflight(c->s), 4);
	for (int i = 3; i >= 0; i--) {
		snprintf(args, sizeof(args), "{\"n\": %d}", 100 + i);
		peer_reply(&c->peer, msgs[i], args);
	}
	wait_all(c, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(c->recs[i].calls, 1);
		assert_false(c->recs[i].bad);
		assert_null(c->recs[i].err);
		assert_int_equal(ret_int(&c->recs[i], "n"), 100 + i);
		if (i < 3)
			assert_true(c->recs[i].order > c->recs[i + 1].order);
		json_object_put(msgs[i]);
	}
	assert_int_equal(qmp_session_inflight(c->s), 0);
}

static void test_error_replies(void **state)
{
	struct ctx *c = *state;
	struct json_object *m1, *m2;

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	exec(c, "foo", NULL, &c->recs[0]);
	exec(c, "blockdev-add", "{\"driver\": \"qcow2\"}", &c->recs[1]);
	m1 = expect_cmd(c, "foo");
	m2 = expect_cmd(c, "blockdev-add");
	peer_reply_error(&c->peer, m1, "CommandNotFound", "The command foo has not been found");
	peer_reply_error(&c->peer, m2, "GenericError", "Parameter 'file' is missing");
	json_object_put(m1);
	json_object_put(m2);
	wait_all(c, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(c->recs[i].calls, 1);
		assert_false(c->recs[i].bad);
		assert_null(c->recs[i].ret);
		assert_non_null(c->recs[i].err);
		assert_non_null(c->recs[i].err->qmp_class);
	}
	assert_string_equal(c->recs[0].err->qmp_class, "CommandNotFound");
	assert_non_null(strstr(c->recs[0].err->msg, "The command foo has not been found"));
	assert_string_equal(c->recs[1].err->qmp_class, "GenericError");
	assert_non_null(strstr(c->recs[1].err->msg, "Parameter 'file' is missing"));
	/* An error reply ends the command, not the session. */
	assert_int_equal(qmp_session_state(c->s), QMP_SESSION_READY);
}

static void test_command_timeout(void **state)
{
	struct ctx *c = *state;
	struct json_object *m;
	struct qc_error *err = NULL;
	long long t0;

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	t0 = now_ms();
	assert_true(qmp_session_execute(c->s, "query-status", NULL, 0, NULL, 0, 100, reply_cb, &c->recs[0], &err) >
		    0);
	m = expect_cmd(c, "query-status");
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_true(now_ms() - t0 >= 90);
	assert_false(c->recs[0].bad);
	assert_non_null(c->recs[0].err);
	if (!strcasestr(c->recs[0].err->msg, "time"))
		fail_msg("timeout error does not say so: %s", c->recs[0].err->msg);
	assert_non_null(strstr(c->recs[0].err->msg, "query-status"));

	/* The late reply is dropped: no second call, session still usable. */
	peer_reply(&c->peer, m, "{\"status\": \"running\"}");
	json_object_put(m);
	pump_for(c->base, 100);
	assert_int_equal(c->recs[0].calls, 1);
	assert_int_equal(qmp_session_state(c->s), QMP_SESSION_READY);

	exec(c, "query-name", NULL, &c->recs[1]);
	m = expect_cmd(c, "query-name");
	peer_reply(&c->peer, m, "{\"name\": \"after\"}");
	json_object_put(m);
	assert_true(pump_until(c->base, cond_called, &c->recs[1], WAIT_MS));
	assert_non_null(c->recs[1].ret);
	assert_null(c->recs[1].err);
	assert_int_equal(c->recs[0].calls, 1);
}

static void test_default_timeout_and_none(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .command_timeout_ms = 100 };
	struct json_object *m1, *m2;
	struct qc_error *err = NULL;

	start(c, &o);
	negotiate(c, PEER_GREETING_OOB);
	/* 0: the session's default of 100 ms. */
	assert_true(qmp_session_execute(c->s, "slow", NULL, 0, NULL, 0, 0, reply_cb, &c->recs[0], &err) > 0);
	/* UINT32_MAX: no timeout at all. */
	assert_true(qmp_session_execute(c->s, "patient", NULL, 0, NULL, 0, UINT32_MAX, reply_cb, &c->recs[1], &err) >
		    0);
	m1 = expect_cmd(c, "slow");
	m2 = expect_cmd(c, "patient");
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_non_null(c->recs[0].err);
	pump_for(c->base, 250);
	assert_int_equal(c->recs[1].calls, 0);
	peer_reply(&c->peer, m2, "{\"ok\": 1}");
	assert_true(pump_until(c->base, cond_called, &c->recs[1], WAIT_MS));
	assert_null(c->recs[1].err);
	assert_int_equal(ret_int(&c->recs[1], "ok"), 1);
	json_object_put(m1);
	json_object_put(m2);
}

static void test_disconnect_mid_command(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .max_inflight = 1 };
	static const char *const names[] = { "query-status", "query-block", "query-name" };
	struct json_object *m;
	struct qc_error *err = NULL;

	start(c, &o);
	negotiate(c, PEER_GREETING_OOB);
	for (int i = 0; i < 3; i++)
		exec(c, names[i], NULL, &c->recs[i]);
	m = expect_cmd(c, "query-status");
	json_object_put(m);
	assert_int_equal(qmp_session_inflight(c->s), 1);
	assert_int_equal(qmp_session_queued(c->s), 2);
	peer_close(&c->peer);

	wait_all(c, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(c->recs[i].calls, 1);
		assert_false(c->recs[i].bad);
		assert_non_null(c->recs[i].err);
		if (!strstr(c->recs[i].err->msg, names[i]))
			fail_msg("error does not name %s: %s", names[i], c->recs[i].err->msg);
	}
	assert_true(pump_until(c->base, cond_closed, c, WAIT_MS));
	assert_non_null(qmp_session_error(c->s));
	assert_int_equal(c->states[c->nstates - 1], QMP_SESSION_CLOSED);
	assert_non_null(c->close_err);
	assert_int_equal(qmp_session_queued(c->s), 0);
	assert_int_equal(qmp_session_inflight(c->s), 0);

	/* Closed: execute refuses at once and never calls back. */
	assert_int_equal(qmp_session_execute(c->s, "query-status", NULL, 0, NULL, 0, 0, reply_cb, &c->recs[3], &err),
			 0);
	assert_non_null(err);
	qc_error_free(err);
	pump_for(c->base, 20);
	assert_int_equal(c->recs[3].calls, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(c->recs[i].calls, 1);
}

/* QEMU closes the socket at quit, sometimes before its reply: that end is
 * quit's success.  A command behind it, and quit that never reached the
 * wire, still fail. */
static void test_quit_then_close(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .max_inflight = 1 };
	struct json_object *m;

	start(c, &o);
	negotiate(c, PEER_GREETING_OOB);
	exec(c, "quit", NULL, &c->recs[0]);
	exec(c, "query-name", NULL, &c->recs[1]);
	m = expect_cmd(c, "quit");
	json_object_put(m);
	peer_event(&c->peer, "SHUTDOWN", "{\"guest\": false, \"reason\": \"host-qmp-quit\"}");
	peer_close(&c->peer);

	wait_all(c, 2);
	assert_int_equal(c->recs[0].calls, 1);
	assert_false(c->recs[0].bad);
	assert_null(c->recs[0].err);
	assert_non_null(c->recs[0].ret);
	assert_int_equal(c->recs[1].calls, 1);
	assert_non_null(c->recs[1].err);
	assert_non_null(strstr(c->recs[1].err->msg, "query-name"));
	assert_true(pump_until(c->base, cond_closed, c, WAIT_MS));
}

/* Only QEMU closing counts: a quit whose session ends on a bad message
 * from QEMU fails as any command would. */
static void test_quit_bad_data_fails(void **state)
{
	struct ctx *c = *state;
	struct json_object *m;

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	exec(c, "quit", NULL, &c->recs[0]);
	m = expect_cmd(c, "quit");
	json_object_put(m);
	peer_send(&c->peer, "this is not json");
	wait_all(c, 1);
	assert_non_null(c->recs[0].err);
	assert_null(c->recs[0].ret);
}

static void test_close_by_caller(void **state)
{
	struct ctx *c = *state;
	struct json_object *m;

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	exec(c, "query-status", NULL, &c->recs[0]);
	m = expect_cmd(c, "query-status");
	qmp_session_close(c->s);
	assert_int_equal(qmp_session_state(c->s), QMP_SESSION_CLOSED);
	wait_count(c, &c->recs[0].calls, 1);
	assert_int_equal(c->recs[0].calls, 1);
	assert_non_null(c->recs[0].err);
	assert_true(peer_wait_eof(&c->peer, c->base, WAIT_MS));
	/* The reply can no longer arrive; closing twice is harmless. */
	qmp_session_close(c->s);
	pump_for(c->base, 10);
	assert_int_equal(c->recs[0].calls, 1);
	json_object_put(m);
}

static void test_garbage_from_peer(void **state)
{
	struct ctx *c = *state;
	struct json_object *m;

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	exec(c, "query-status", NULL, &c->recs[0]);
	m = expect_cmd(c, "query-status");
	json_object_put(m);
	peer_send(&c->peer, "this is not json");
	assert_true(pump_until(c->base, cond_closed, c, WAIT_MS));
	assert_non_null(qmp_session_error(c->s));
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_non_null(c->recs[0].err);
	assert_true(peer_wait_eof(&c->peer, c->base, WAIT_MS));
}

static void test_oversize_from_peer(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .max_message = 512 };
	struct json_object *m;
	char big[2048];

	start(c, &o);
	negotiate(c, PEER_GREETING_OOB);
	exec(c, "query-qmp-schema", NULL, &c->recs[0]);
	m = expect_cmd(c, "query-qmp-schema");
	json_object_put(m);
	snprintf(big, sizeof(big), "{\"return\": \"%01500d\"}", 0);
	peer_send(&c->peer, big);
	assert_true(pump_until(c->base, cond_closed, c, WAIT_MS));
	assert_non_null(qmp_session_error(c->s));
	if (!strstr(qmp_session_error(c->s)->msg, "512"))
		fail_msg("error does not mention the limit: %s", qmp_session_error(c->s)->msg);
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_non_null(c->recs[0].err);
}

static void test_unknown_id_ignored(void **state)
{
	struct ctx *c = *state;
	struct json_object *m;

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	peer_send(&c->peer, "{\"return\": {}, \"id\": 987654321}");
	peer_send(&c->peer, "{\"return\": {}, \"id\": \"not-ours\"}");
	pump_for(c->base, 30);
	assert_int_equal(qmp_session_state(c->s), QMP_SESSION_READY);
	exec(c, "query-status", NULL, &c->recs[0]);
	m = expect_cmd(c, "query-status");
	peer_reply(&c->peer, m, "{\"running\": true}");
	json_object_put(m);
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_non_null(c->recs[0].ret);
}

/* ---- events ------------------------------------------------------------------- */

static void test_events(void **state)
{
	struct ctx *c = *state;
	struct evrec *all = &c->evs[0], *stop = &c->evs[1];
	struct json_object *caps, *m;

	start(c, NULL);
	all->sub = qmp_session_subscribe(c->s, NULL, event_cb, all);
	stop->sub = qmp_session_subscribe(c->s, "STOP", event_cb, stop);
	assert_non_null(all->sub);
	assert_non_null(stop->sub);

	/* Events before negotiation ends still reach subscribers. */
	peer_send(&c->peer, PEER_GREETING_OOB);
	caps = expect_cmd(c, "qmp_capabilities");
	peer_event(&c->peer, "RESUME", NULL);
	peer_event(&c->peer, "STOP", NULL);
	wait_count(c, &all->calls, 2);
	assert_int_equal(all->calls, 2);
	assert_int_equal(stop->calls, 1);
	peer_reply(&c->peer, caps, "{}");
	json_object_put(caps);
	assert_true(pump_until(c->base, cond_ready, c, WAIT_MS));

	/* Between replies, in the order they come. */
	exec(c, "stop", NULL, &c->recs[0]);
	m = expect_cmd(c, "stop");
	peer_event(&c->peer, "STOP", NULL);
	peer_reply(&c->peer, m, "{}");
	peer_event(&c->peer, "SHUTDOWN", "{\"guest\": false, \"reason\": \"host-qmp-quit\"}");
	json_object_put(m);
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	wait_count(c, &all->calls, 4);

	assert_int_equal(all->calls, 4);
	assert_string_equal(all->names[0], "RESUME");
	assert_string_equal(all->names[1], "STOP");
	assert_string_equal(all->names[2], "STOP");
	assert_string_equal(all->names[3], "SHUTDOWN");
	for (int i = 0; i < 4; i++)
		assert_true(all->had_timestamp[i]);
	assert_false(all->bad);
	assert_int_equal(stop->calls, 2);
	assert_string_equal(stop->names[0], "STOP");
	assert_string_equal(stop->names[1], "STOP");
	assert_false(stop->bad);
	/* STOP, then the reply, then SHUTDOWN. */
	assert_true(all->orders[2] < c->recs[0].order);
	assert_true(c->recs[0].order < all->orders[3]);
	assert_null(c->recs[0].err);
}

static void test_unsubscribe(void **state)
{
	struct ctx *c = *state;
	struct evrec *a = &c->evs[0], *b = &c->evs[1], *once = &c->evs[2], *named = &c->evs[3];

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	a->sub = qmp_session_subscribe(c->s, NULL, event_cb, a);
	b->sub = qmp_session_subscribe(c->s, NULL, event_cb, b);
	named->sub = qmp_session_subscribe(c->s, "RESUME", event_cb, named);

	peer_event(&c->peer, "STOP", NULL);
	wait_count(c, &b->calls, 1);
	assert_int_equal(a->calls, 1);
	assert_int_equal(b->calls, 1);
	assert_int_equal(named->calls, 0);

	qmp_session_unsubscribe(c->s, a->sub);
	a->sub = NULL;
	qmp_session_unsubscribe(c->s, named->sub);
	named->sub = NULL;
	/* Unsubscribing itself from its callback: of two events in one read
	 * it sees only the first. */
	once->sub = qmp_session_subscribe(c->s, NULL, event_cb, once);
	once->unsub_self = true;
	static const char two[] =
		"{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}\r\n"
		"{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 2, \"microseconds\": 0}}\r\n";
	peer_send_raw(&c->peer, two, sizeof(two) - 1);
	wait_count(c, &b->calls, 3);
	assert_int_equal(a->calls, 1);
	assert_int_equal(b->calls, 3);
	assert_int_equal(once->calls, 1);
	assert_int_equal(named->calls, 0);
	assert_false(a->bad || b->bad || once->bad);
}

/* ---- flow control, oob, cancel ------------------------------------------------- */

static void test_inflight_limit(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .max_inflight = 2 };
	struct json_object *m[5];
	char name[16];

	start(c, &o);
	negotiate(c, PEER_GREETING_OOB);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "cmd-%d", i);
		exec(c, name, NULL, &c->recs[i]);
	}
	m[0] = expect_cmd(c, "cmd-0");
	m[1] = expect_cmd(c, "cmd-1");
	expect_nothing(c, 80);
	assert_int_equal(qmp_session_inflight(c->s), 2);
	assert_int_equal(qmp_session_queued(c->s), 3);

	/* Replies in the order 1, 0, 3, 2, 4: each frees a slot. */
	peer_reply(&c->peer, m[1], "{\"n\": 1}");
	m[2] = expect_cmd(c, "cmd-2");
	expect_nothing(c, 30);
	peer_reply(&c->peer, m[0], "{\"n\": 0}");
	m[3] = expect_cmd(c, "cmd-3");
	expect_nothing(c, 30);
	assert_int_equal(qmp_session_inflight(c->s), 2);
	assert_int_equal(qmp_session_queued(c->s), 1);
	peer_reply(&c->peer, m[3], "{\"n\": 3}");
	m[4] = expect_cmd(c, "cmd-4");
	peer_reply(&c->peer, m[2], "{\"n\": 2}");
	peer_reply(&c->peer, m[4], "{\"n\": 4}");
	wait_all(c, 5);

	static const int done_order[5] = { 1, 0, 3, 2, 4 };
	for (int k = 0; k < 5; k++) {
		struct rec *r = &c->recs[done_order[k]];

		assert_int_equal(r->calls, 1);
		assert_int_equal(r->order, k + 1);
		assert_int_equal(ret_int(r, "n"), done_order[k]);
	}
	for (int i = 0; i < 5; i++)
		json_object_put(m[i]);
	assert_int_equal(qmp_session_inflight(c->s), 0);
	assert_int_equal(qmp_session_queued(c->s), 0);
}

static void test_default_inflight_is_8(void **state)
{
	struct ctx *c = *state;
	struct json_object *m[10];

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	for (int i = 0; i < 10; i++)
		exec(c, "query-status", NULL, &c->recs[i]);
	for (int i = 0; i < 8; i++)
		m[i] = expect_cmd(c, "query-status");
	expect_nothing(c, 50);
	assert_int_equal(qmp_session_inflight(c->s), 8);
	assert_int_equal(qmp_session_queued(c->s), 2);
	peer_reply(&c->peer, m[0], "{}");
	peer_reply(&c->peer, m[1], "{}");
	m[8] = expect_cmd(c, "query-status");
	m[9] = expect_cmd(c, "query-status");
	for (int i = 2; i < 10; i++)
		peer_reply(&c->peer, m[i], "{}");
	wait_all(c, 10);
	for (int i = 0; i < 10; i++) {
		assert_null(c->recs[i].err);
		json_object_put(m[i]);
	}
}

static void test_oob(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .max_inflight = 1 };
	struct json_object *inband, *oob;
	struct qc_error *err = NULL;

	start(c, &o);
	negotiate(c, PEER_GREETING_OOB);
	assert_true(qmp_session_has_oob(c->s));
	/* The in-band slot is taken and not answered... */
	exec(c, "migrate", "{\"uri\": \"exec:cat>/dev/null\"}", &c->recs[0]);
	inband = expect_cmd(c, "migrate");
	/* ...yet the oob command goes out at once, as exec-oob. */
	assert_true(qmp_session_execute(c->s, "migrate-pause", NULL, QMP_EXEC_OOB, NULL, 0, 0, reply_cb, &c->recs[1],
					&err) > 0);
	assert_null(err);
	oob = expect_cmd(c, "migrate-pause");
	assert_true(peer_msg_is_oob(oob));
	assert_false(json_object_object_get_ex(oob, "execute", NULL));
	assert_true(json_object_object_get_ex(oob, "id", NULL));
	assert_false(peer_msg_is_oob(inband));
	peer_reply(&c->peer, oob, "{}");
	assert_true(pump_until(c->base, cond_called, &c->recs[1], WAIT_MS));
	assert_null(c->recs[1].err);
	assert_int_equal(c->recs[0].calls, 0);
	peer_reply(&c->peer, inband, "{}");
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_null(c->recs[0].err);
	json_object_put(inband);
	json_object_put(oob);
}

static void check_oob_refused(struct ctx *c)
{
	struct qc_error *err = NULL;
	uint64_t id = qmp_session_execute(c->s, "migrate-pause", NULL, QMP_EXEC_OOB, NULL, 0, 0, reply_cb,
					  &c->recs[0], &err);

	/* Either refused at once, or failed through the callback; never sent. */
	if (id == 0) {
		assert_non_null(err);
		qc_error_free(err);
		pump_for(c->base, 30);
		assert_int_equal(c->recs[0].calls, 0);
	} else {
		assert_null(err);
		assert_int_equal(c->recs[0].calls, 0);
		assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
		assert_non_null(c->recs[0].err);
	}
	expect_nothing(c, 50);
	assert_int_equal(qmp_session_state(c->s), QMP_SESSION_READY);
}

static void test_oob_not_offered(void **state)
{
	struct ctx *c = *state;

	start(c, NULL);
	negotiate(c, PEER_GREETING_NO_OOB);
	check_oob_refused(c);
}

static void test_oob_not_asked(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .no_oob = true };

	start(c, &o);
	negotiate(c, PEER_GREETING_OOB);
	check_oob_refused(c);
}

static void test_cancel(void **state)
{
	struct ctx *c = *state;
	struct json_object *m[2];
	uint64_t a, b;
	int got = 0;

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	a = exec(c, "cmd-a", NULL, &c->recs[0]);
	b = exec(c, "cmd-b", NULL, &c->recs[1]);
	assert_true(qmp_session_cancel(c->s, a));
	assert_false(qmp_session_cancel(c->s, a));
	assert_false(qmp_session_cancel(c->s, a + b + 1000));
	/* cmd-a may or may not have reached the wire; answer whatever did. */
	while (got < 2) {
		struct json_object *x = peer_recv(&c->peer, c->base, 200);

		if (!x)
			break;
		m[got++] = x;
		if (strcmp(peer_msg_command(x), "cmd-b") == 0)
			break;
	}
	assert_true(got >= 1);
	assert_string_equal(peer_msg_command(m[got - 1]), "cmd-b");
	for (int i = 0; i < got; i++) {
		peer_reply(&c->peer, m[i], "{}");
		json_object_put(m[i]);
	}
	assert_true(pump_until(c->base, cond_called, &c->recs[1], WAIT_MS));
	pump_for(c->base, 30);
	assert_int_equal(c->recs[0].calls, 0);
	assert_int_equal(c->recs[1].calls, 1);
	assert_false(qmp_session_cancel(c->s, b)); /* done: no longer pending */
	assert_int_equal(qmp_session_inflight(c->s), 0);
}

static void test_cancel_queued_and_from_callback(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .max_inflight = 2 };
	struct json_object *m1, *m2, *x;
	uint64_t idq, id2;

	start(c, &o);
	negotiate(c, PEER_GREETING_OOB);
	exec(c, "cmd-1", NULL, &c->recs[0]);
	id2 = exec(c, "cmd-2", NULL, &c->recs[1]);
	idq = exec(c, "cmd-3", NULL, &c->recs[2]); /* queued behind the limit */
	m1 = expect_cmd(c, "cmd-1");
	m2 = expect_cmd(c, "cmd-2");
	assert_true(qmp_session_cancel(c->s, idq));
	/* cmd-1's callback cancels cmd-2, whose reply is in the same read. */
	c->recs[0].cancel_id = id2;
	peer_reply(&c->peer, m1, "{}");
	peer_reply(&c->peer, m2, "{}");
	json_object_put(m1);
	json_object_put(m2);
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	/* A cancelled queued command need not be sent; answer it if it was. */
	x = peer_recv(&c->peer, c->base, 50);
	if (x) {
		assert_string_equal(peer_msg_command(x), "cmd-3");
		peer_reply(&c->peer, x, "{}");
		json_object_put(x);
	}
	pump_for(c->base, 30);
	assert_int_equal(c->recs[0].calls, 1);
	assert_int_equal(c->recs[1].calls, 0);
	assert_int_equal(c->recs[2].calls, 0);
	assert_int_equal(qmp_session_state(c->s), QMP_SESSION_READY);
}

/* ---- re-entrancy ----------------------------------------------------------------- */

static void test_free_in_callback(void **state)
{
	struct ctx *c = *state;
	struct json_object *m1, *m2;
	char both[256];

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	c->evs[0].sub = qmp_session_subscribe(c->s, NULL, event_cb, &c->evs[0]);
	exec(c, "cmd-1", NULL, &c->recs[0]);
	exec(c, "cmd-2", NULL, &c->recs[1]);
	m1 = expect_cmd(c, "cmd-1");
	m2 = expect_cmd(c, "cmd-2");
	c->recs[0].free_session = true;
	/* Reply 1, reply 2 and an event in one write: all in one read. */
	struct json_object *id1, *id2;
	assert_true(json_object_object_get_ex(m1, "id", &id1));
	assert_true(json_object_object_get_ex(m2, "id", &id2));
	snprintf(both, sizeof(both),
		 "{\"return\": {}, \"id\": %s}\r\n{\"return\": {}, \"id\": %s}\r\n"
		 "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n",
		 json_object_to_json_string(id1), json_object_to_json_string(id2));
	json_object_put(m1);
	json_object_put(m2);
	peer_send_raw(&c->peer, both, strlen(both));
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_null(c->s);
	pump_for(c->base, 50);
	assert_int_equal(c->recs[0].calls, 1);
	assert_null(c->recs[0].err);
	/* Whatever becomes of cmd-2, at most one call and no success after the free. */
	assert_true(c->recs[1].calls <= 1);
	if (c->recs[1].calls)
		assert_non_null(c->recs[1].err);
	assert_true(peer_wait_eof(&c->peer, c->base, WAIT_MS));
}

static void test_close_in_callback(void **state)
{
	struct ctx *c = *state;
	struct json_object *m1, *m2;

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	exec(c, "cmd-1", NULL, &c->recs[0]);
	exec(c, "cmd-2", NULL, &c->recs[1]);
	m1 = expect_cmd(c, "cmd-1");
	m2 = expect_cmd(c, "cmd-2");
	c->recs[0].close_session = true;
	peer_reply(&c->peer, m1, "{}");
	peer_reply(&c->peer, m2, "{}");
	json_object_put(m1);
	json_object_put(m2);
	wait_all(c, 2);
	pump_for(c->base, 20);
	assert_int_equal(c->recs[0].calls, 1);
	assert_null(c->recs[0].err);
	/* cmd-2 was still pending when the session closed: it fails. */
	assert_int_equal(c->recs[1].calls, 1);
	assert_non_null(c->recs[1].err);
	assert_int_equal(qmp_session_state(c->s), QMP_SESSION_CLOSED);
}

static void test_execute_from_callback(void **state)
{
	struct ctx *c = *state;
	struct json_object *m;

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	c->recs[0].then_exec = &c->recs[1];
	exec(c, "cmd-1", NULL, &c->recs[0]);
	m = expect_cmd(c, "cmd-1");
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_true(c->recs[0].then_exec_id > 0);
	m = expect_cmd(c, "query-name");
	peer_reply(&c->peer, m, "{\"name\": \"nested\"}");
	json_object_put(m);
	assert_true(pump_until(c->base, cond_called, &c->recs[1], WAIT_MS));
	assert_non_null(c->recs[1].ret);
	assert_int_equal(c->recs[1].calls, 1);
}

/* ---- fd passing ------------------------------------------------------------------- */

static void test_fd_passing(void **state)
{
	struct ctx *c = *state;
	struct json_object *m, *v;
	struct qc_error *err = NULL;
	int p[2], got;
	char buf[16];

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	assert_int_equal(c->peer.nfds, 0);
	assert_int_equal(pipe(p), 0);
	assert_true(qmp_session_execute(c->s, "getfd", json_tokener_parse("{\"fdname\": \"fd0\"}"), 0, &p[1], 1, 0,
					reply_cb, &c->recs[0], &err) > 0);
	assert_null(err);
	close(p[1]); /* the session keeps its own copy until it is sent */
	m = expect_cmd(c, "getfd");
	assert_true(json_object_object_get_ex(peer_msg_arguments(m), "fdname", &v));
	assert_string_equal(json_object_get_string(v), "fd0");
	got = peer_take_fd(&c->peer);
	assert_true(got >= 0);
	assert_int_equal(write(got, "hello", 5), 5);
	close(got);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);

	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_null(c->recs[0].err);
	/* Every write end is closed now: the session kept no copy. */
	pump_for(c->base, 10);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 0);
	close(p[0]);
}

static void test_fd_passing_order(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .max_inflight = 8 };
	struct json_object *m;
	struct qc_error *err = NULL;
	int p1[2], p2[2], fds[2];
	char buf[8];

	start(c, &o);
	negotiate(c, PEER_GREETING_OOB);
	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	fds[0] = p1[1];
	fds[1] = p2[1];
	exec(c, "cmd-before", NULL, &c->recs[0]);
	assert_true(qmp_session_execute(c->s, "add-fd", NULL, 0, fds, 2, 0, reply_cb, &c->recs[1], &err) > 0);
	assert_null(err);
	exec(c, "cmd-after", NULL, &c->recs[2]);
	close(p1[1]);
	close(p2[1]);
	static const char *const order[] = { "cmd-before", "add-fd", "cmd-after" };
	for (int i = 0; i < 3; i++) {
		m = expect_cmd(c, order[i]);
		peer_reply(&c->peer, m, "{}");
		json_object_put(m);
	}
	/* Both fds, in the order given. */
	assert_int_equal(c->peer.nfds, 2);
	int a = peer_take_fd(&c->peer), b = peer_take_fd(&c->peer);
	assert_int_equal(write(a, "1", 1), 1);
	assert_int_equal(write(b, "2", 1), 1);
	close(a);
	close(b);
	assert_int_equal(read(p1[0], buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], '1');
	assert_int_equal(read(p2[0], buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], '2');
	wait_all(c, 3);
	for (int i = 0; i < 3; i++)
		assert_null(c->recs[i].err);
	close(p1[0]);
	close(p2[0]);
}

/* ---- big and many -------------------------------------------------------------- */

static void test_big_reply(void **state)
{
	struct ctx *c = *state;
	struct json_object *m, *v;
	size_t n = 1024 * 1024;
	char *big = malloc(n + 64);

	assert_non_null(big);
	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	exec(c, "query-qmp-schema", NULL, &c->recs[0]);
	m = expect_cmd(c, "query-qmp-schema");
	assert_true(json_object_object_get_ex(m, "id", &v));
	int k = snprintf(big, 64, "{\"id\": %s, \"return\": {\"s\": \"", json_object_to_json_string(v));
	memset(big + k, 'q', n);
	strcpy(big + k + n, "\"}}");
	json_object_put(m);
	/* peer.pump_base runs the loop whenever the socket is full. */
	peer_send_raw(&c->peer, big, strlen(big));
	peer_send_raw(&c->peer, "\r\n", 2);
	free(big);
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_null(c->recs[0].err);
	assert_true(json_object_object_get_ex(c->recs[0].ret, "s", &v));
	assert_int_equal(json_object_get_string_len(v), n);
}

static void test_many_commands(void **state)
{
	struct ctx *c = *state;
	static struct rec recs[200]; /* outlives a failed test: teardown may still call back */
	int replied = 0;
	char ret[32];

	memset(recs, 0, sizeof(recs));
	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	for (int i = 0; i < 200; i++) {
		recs[i].c = c;
		exec(c, "query-status", NULL, &recs[i]);
	}
	/* Answer as they come, newest waiting one first each round. */
	while (replied < 200) {
		struct json_object *m = peer_recv(&c->peer, c->base, WAIT_MS);

		assert_non_null(m);
		snprintf(ret, sizeof(ret), "{\"k\": %d}", replied);
		peer_reply(&c->peer, m, ret);
		json_object_put(m);
		replied++;
		assert_true(qmp_session_inflight(c->s) <= 8);
	}
	long long deadline = now_ms() + WAIT_MS;
	int done;
	do {
		event_base_loop(c->base, EVLOOP_NONBLOCK);
		done = 0;
		for (int i = 0; i < 200; i++)
			done += recs[i].calls;
	} while (done < 200 && now_ms() < deadline);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(recs[i].calls, 1);
		assert_null(recs[i].err);
		assert_int_equal(ret_int(&recs[i], "k"), i); /* in-order replies: in-order results */
		json_object_put(recs[i].ret);
		recs[i].ret = NULL;
	}
}

static void test_execute_args_not_object(void **state)
{
	struct ctx *c = *state;
	struct qc_error *err = NULL;
	uint64_t id;

	start(c, NULL);
	negotiate(c, PEER_GREETING_OOB);
	/* args are stolen whatever happens (valgrind/ASan check the leak). */
	id = qmp_session_execute(c->s, "query-status", json_tokener_parse("[1, 2]"), 0, NULL, 0, 0, reply_cb,
				 &c->recs[0], &err);
	if (id == 0) {
		assert_non_null(err);
		qc_error_free(err);
	} else {
		struct json_object *m = expect_cmd(c, "query-status");
		peer_reply_error(&c->peer, m, "GenericError", "QMP input member 'arguments' must be an object");
		json_object_put(m);
		assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
		assert_non_null(c->recs[0].err);
	}
}

/* ---- greeting timeout ------------------------------------------------------------- */

static void test_greeting_timeout(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .greeting_timeout_ms = 100 };
	long long t0 = now_ms();

	start(c, &o);
	exec(c, "query-status", NULL, &c->recs[0]);
	assert_true(pump_until(c->base, cond_closed, c, WAIT_MS));
	assert_true(now_ms() - t0 >= 90);
	assert_non_null(qmp_session_error(c->s));
	assert_non_null(c->close_err);
	assert_int_equal(c->states[c->nstates - 1], QMP_SESSION_CLOSED);
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_non_null(c->recs[0].err);
	assert_true(peer_wait_eof(&c->peer, c->base, WAIT_MS));
}

static void test_negotiation_timeout(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .greeting_timeout_ms = 150 };
	struct json_object *caps;

	start(c, &o);
	peer_send(&c->peer, PEER_GREETING_OOB);
	caps = expect_cmd(c, "qmp_capabilities"); /* and never answered */
	json_object_put(caps);
	assert_true(pump_until(c->base, cond_closed, c, WAIT_MS));
	assert_non_null(qmp_session_error(c->s));
	assert_false(saw_state(c, QMP_SESSION_READY));
}

static void test_greeting_timeout_not_after_ready(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { .greeting_timeout_ms = 100 };

	start(c, &o);
	negotiate(c, PEER_GREETING_OOB);
	pump_for(c->base, 200);
	assert_int_equal(qmp_session_state(c->s), QMP_SESSION_READY);
}

/* ---- odds and ends ---------------------------------------------------------------- */

static void test_trace(void **state)
{
	struct ctx *c = *state;
	struct json_object *m;

	start(c, NULL);
	qmp_session_set_trace(c->s, trace_cb, c);
	negotiate(c, PEER_GREETING_OOB);
	exec(c, "query-status", NULL, &c->recs[0]);
	m = expect_cmd(c, "query-status");
	peer_reply(&c->peer, m, "{\"status\": \"paused\"}");
	json_object_put(m);
	assert_true(pump_until(c->base, cond_called, &c->recs[0], WAIT_MS));
	assert_non_null(c->trace_out);
	assert_non_null(c->trace_in);
	assert_non_null(strstr(c->trace_out, "qmp_capabilities"));
	assert_non_null(strstr(c->trace_out, "query-status"));
	assert_non_null(strstr(c->trace_in, "QMP"));
	assert_non_null(strstr(c->trace_in, "paused"));
	assert_null(strstr(c->trace_in, "qmp_capabilities"));
}

static void test_connect_missing(void **state)
{
	struct ctx *c = *state;
	struct qmp_session_opts o = { 0 };
	struct qc_error *err = NULL;

	c->s = qmp_session_new(c->base, &o);
	assert_non_null(c->s);
	assert_int_equal(qmp_session_connect(c->s, "unix:/nonexistent/qmpctl-test/qmp.sock", &err), -1);
	assert_non_null(err);
	qc_error_free(err);
	err = NULL;
	qmp_session_free(c->s);
	c->s = qmp_session_new(c->base, &o);
	assert_int_equal(qmp_session_connect(c->s, "/nonexistent/qmpctl-test/qmp.sock", &err), -1);
	assert_non_null(err);
	qc_error_free(err);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		T(test_greeting_oob),
		T(test_greeting_without_oob),
		T(test_opts_no_oob),
		T(test_bad_greeting),
		T(test_capabilities_refused),
		T(test_queued_before_ready),
		T(test_reply_order_reversed),
		T(test_error_replies),
		T(test_command_timeout),
		T(test_default_timeout_and_none),
		T(test_disconnect_mid_command),
		T(test_quit_then_close),
		T(test_quit_bad_data_fails),
		T(test_close_by_caller),
		T(test_garbage_from_peer),
		T(test_oversize_from_peer),
		T(test_unknown_id_ignored),
		T(test_events),
		T(test_unsubscribe),
		T(test_inflight_limit),
		T(test_default_inflight_is_8),
		T(test_oob),
		T(test_oob_not_offered),
		T(test_oob_not_asked),
		T(test_cancel),
		T(test_cancel_queued_and_from_callback),
		T(test_free_in_callback),
		T(test_close_in_callback),
		T(test_execute_from_callback),
		T(test_fd_passing),
		T(test_fd_passing_order),
		T(test_big_reply),
		T(test_many_commands),
		T(test_execute_args_not_object),
		T(test_greeting_timeout),
		T(test_negotiation_timeout),
		T(test_greeting_timeout_not_after_ready),
		T(test_trace),
		T(test_connect_missing),
	};
#undef T

	/* A program using the library ignores SIGPIPE; so do we. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
