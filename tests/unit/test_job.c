/*
 * Unit tests for qmp_job (and qc_op) against a scripted peer playing QEMU
 * on a socketpair: every path a job can take from its start command to its
 * end, one QEMU message at a time, with the session's loop pumped on this
 * thread while the peer waits.
 */
#include <setjmp.h>
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
#include "qc_op.h"
#include "qmp_job.h"
#include "qmp_session.h"

#define WAIT_MS 2000

struct ctx;

/* What one job's callbacks saw. */
struct jrec {
	struct ctx *c;
	struct qmp_job *job;
	int done_calls, ready_calls, progress_calls;
	struct qc_error *err;
	bool cancelled; /* qmp_job_cancelled() inside done */
	uint64_t cur, total;
	/* What to do from inside the callbacks. */
	enum { ON_READY_NOTHING, ON_READY_COMPLETE, ON_READY_CANCEL } on_ready;
	bool free_in_done;
};

struct ctx {
	struct event_base *base;
	struct qmp_session *s;
	int session_fd;
	struct peer peer;
	struct jrec j[3];
};

static void on_progress(void *opaque, struct qmp_job *job, uint64_t current, uint64_t total)
{
	struct jrec *r = opaque;

	assert_ptr_equal(job, r->job);
	r->progress_calls++;
	r->cur = current;
	r->total = total;
}

static void on_ready(void *opaque, struct qmp_job *job)
{
	struct jrec *r = opaque;

	r->ready_calls++;
	if (r->on_ready == ON_READY_COMPLETE)
		assert_int_equal(qmp_job_complete(job, NULL), 0);
	else if (r->on_ready == ON_READY_CANCEL)
		qmp_job_cancel(job);
}

static void on_done(void *opaque, struct qmp_job *job, const struct qc_error *err)
{
	struct jrec *r = opaque;

	assert_ptr_equal(job, r->job);
	assert_int_equal(qmp_job_state(job), QMP_JOB_ENDED);
	r->done_calls++;
	r->err = qc_error_copy(err);
	r->cancelled = qmp_job_cancelled(job);
	if (r->free_in_done) {
		qmp_job_free(job);
		r->job = NULL;
	}
}

static const struct qmp_job_cbs cbs = { .ready = on_ready, .done = on_done };
static const struct qmp_job_cbs cbs_progress = { .progress = on_progress, .ready = on_ready, .done = on_done };

/* ---- fixture ------------------------------------------------------------------------ */

static struct json_object *expect(struct ctx *c, const char *cmd);

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct qc_error *err = NULL;
	struct json_object *m;

	if (!c)
		return -1;
	c->base = event_base_new();
	if (!c->base || peer_open(&c->peer, &c->session_fd, true) < 0)
		return -1;
	c->peer.pump_base = c->base;
	for (int i = 0; i < 3; i++)
		c->j[i].c = c;
	c->s = qmp_session_new(c->base, NULL);
	if (qmp_session_attach_fd(c->s, c->session_fd, &err) < 0)
		return -1;
	c->session_fd = -1;
	peer_send(&c->peer, PEER_GREETING_OOB);
	m = expect(c, "qmp_capabilities");
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	for (long long end = now_ms() + WAIT_MS; qmp_session_state(c->s) != QMP_SESSION_READY && now_ms() < end;)
		pump_for(c->base, 1);
	if (qmp_session_state(c->s) != QMP_SESSION_READY)
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	for (int i = 0; i < 3; i++) {
		qmp_job_free(c->j[i].job);
		qc_error_free(c->j[i].err);
	}
	qmp_session_free(c->s);
	event_base_free(c->base);
	peer_fini(&c->peer);
	free(c);
	return 0;
}

/* The next message from the session, which must be cmd. */
static struct json_object *expect(struct ctx *c, const char *cmd)
{
	struct json_object *m = peer_recv(&c->peer, c->base, WAIT_MS);

	if (!m)
		fail_msg("expected '%s', got nothing", cmd);
	if (!peer_msg_command(m) || strcmp(peer_msg_command(m), cmd)) {
		fail_msg("expected '%s', got %s", cmd, json_object_to_json_string(m));
	}
	return m;
}

/* Answers the next message, which must be cmd, with ret; returns nothing. */
static void answer(struct ctx *c, const char *cmd, const char *ret)
{
	struct json_object *m = expect(c, cmd);

	peer_reply(&c->peer, m, ret);
	json_object_put(m);
}

/* Nothing more comes from the session for a while. */
static void expect_quiet(struct ctx *c)
{
	struct json_object *m = peer_recv(&c->peer, c->base, 50);

	if (m)
		fail_msg("unexpected message: %s", json_object_to_json_string(m));
}

static const char *arg_str(struct json_object *m, const char *key)
{
	return json_object_get_string(json_object_object_get(peer_msg_arguments(m), key));
}

static void status(struct ctx *c, const char *id, const char *st)
{
	char data[256];

	snprintf(data, sizeof(data), "{\"id\": \"%s\", \"status\": \"%s\"}", id, st);
	peer_event(&c->peer, "JOB_STATUS_CHANGE", data);
}

static void block_event(struct ctx *c, const char *name, const char *id, const char *extra)
{
	char data[512];

	snprintf(data, sizeof(data),
		 "{\"type\": \"commit\", \"device\": \"%s\", \"len\": 100, \"offset\": 100, "
		 "\"speed\": 0%s}",
		 id, extra ? extra : "");
	peer_event(&c->peer, name, data);
}

static bool cond_done(void *arg)
{
	return ((struct jrec *)arg)->done_calls > 0;
}

static void wait_done(struct ctx *c, struct jrec *r)
{
	if (!pump_until(c->base, cond_done, r, WAIT_MS))
		fail_msg("done was not called (job in state %s)",
			 r->job ? qmp_job_state_name(qmp_job_state(r->job)) : "?");
	pump_for(c->base, 5);
	assert_int_equal(r->done_calls, 1);
}

/* Starts cmd and returns the start command as the peer saw it (its
 * job-id in *id). */
static struct json_object *start(struct ctx *c, struct jrec *r, const char *cmd, const struct qmp_job_opts *o,
				 const struct qmp_job_cbs *cb, char *id, size_t idlen)
{
	struct qc_error *err = NULL;
	struct json_object *m;

	r->job = qmp_job_start(c->s, cmd, NULL, o, cb, r, &err);
	assert_null(err);
	assert_non_null(r->job);
	assert_int_equal(qmp_job_state(r->job), QMP_JOB_STARTING);
	m = expect(c, cmd);
	snprintf(id, idlen, "%s", arg_str(m, "job-id"));
	assert_string_equal(id, qmp_job_id(r->job));
	return m;
}

/* QEMU's side of a job that started and runs. */
static void run_to_running(struct ctx *c, struct json_object *m, const char *id)
{
	status(c, id, "created");
	status(c, id, "running");
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
}

/* QEMU's side from running to the end: concluded, query-jobs, dismiss. */
static void conclude(struct ctx *c, const char *id, const char *error)
{
	char jobs[512];

	status(c, id, "waiting");
	status(c, id, "pending");
	status(c, id, "concluded");
	snprintf(jobs, sizeof(jobs),
		 "[{\"current-progress\": 100, \"status\": \"concluded\", \"total-progress\": 100, \"type\": "
		 "\"snapshot-save\", \"id\": \"%s\"%s%s%s}]",
		 id, error ? ", \"error\": \"" : "", error ? error : "", error ? "\"" : "");
	answer(c, "query-jobs", jobs);
	{
		struct json_object *d = expect(c, "job-dismiss");

		assert_string_equal(arg_str(d, "id"), id);
		peer_reply(&c->peer, d, "{}");
		json_object_put(d);
	}
	status(c, id, "null");
}

/* ---- the paths ------------------------------------------------------------------------ */

static void test_happy_path(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128];
	struct json_object *m = start(c, r, "snapshot-save", NULL, &cbs, id, sizeof(id));

	assert_non_null(strstr(id, "qmpctl-snapshot-save-"));
	status(c, id, "created");
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	pump_for(c->base, 5);
	assert_int_equal(qmp_job_state(r->job), QMP_JOB_CREATED);
	status(c, id, "running");
	pump_for(c->base, 5);
	assert_int_equal(qmp_job_state(r->job), QMP_JOB_RUNNING);
	assert_int_equal(r->done_calls, 0);
	conclude(c, id, NULL);
	wait_done(c, r);
	assert_null(r->err);
	assert_false(r->cancelled);
	expect_quiet(c);
}

static void test_progress_polled(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	struct qmp_job_opts o = { .progress_ms = 10 };
	char id[128], jobs[512];
	struct json_object *m = start(c, r, "blockdev-create", &o, &cbs_progress, id, sizeof(id));

	run_to_running(c, m, id);
	m = expect(c, "query-jobs");
	snprintf(jobs, sizeof(jobs),
		 "[{\"current-progress\": 40, \"status\": \"running\", \"total-progress\": 160, \"type\": "
		 "\"create\", \"id\": \"%s\"}, {\"current-progress\": 1, \"status\": \"running\", "
		 "\"total-progress\": 2, \"type\": \"create\", \"id\": \"other\"}]",
		 id);
	peer_reply(&c->peer, m, jobs);
	json_object_put(m);
	pump_for(c->base, 5);
	assert_int_equal(r->progress_calls, 1);
	assert_int_equal(r->cur, 40);
	assert_int_equal(r->total, 160);
	/* The poll goes on; after the conclusion it stops. */
	m = expect(c, "query-jobs");
	status(c, id, "concluded");
	peer_reply(&c->peer, m, "[]");
	json_object_put(m);
	answer(c, "query-jobs", "[]");
	wait_done(c, r);
	assert_null(r->err);
	expect_quiet(c);
}

static void test_cancel_before_ready(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128];
	struct json_object *m = start(c, r, "block-commit", NULL, &cbs, id, sizeof(id));

	/* Block jobs stay until dismissed, so that their error can be read. */
	assert_false(json_object_get_boolean(json_object_object_get(peer_msg_arguments(m), "auto-dismiss")));
	assert_non_null(json_object_object_get(peer_msg_arguments(m), "auto-dismiss"));
	run_to_running(c, m, id);
	pump_for(c->base, 5);
	qmp_job_cancel(r->job);
	qmp_job_cancel(r->job); /* once is enough */
	assert_true(qmp_job_cancel_requested(r->job));
	m = expect(c, "job-cancel");
	assert_string_equal(arg_str(m, "id"), id);
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	status(c, id, "aborting");
	block_event(c, "BLOCK_JOB_CANCELLED", id, NULL);
	status(c, id, "concluded");
	answer(c, "query-jobs", "[{\"id\": \"x\", \"status\": \"running\"}, {\"id\": \"qmpctl-nothing\"}]");
	wait_done(c, r);
	assert_non_null(r->err);
	assert_non_null(strstr(r->err->msg, "block-commit cancelled"));
	assert_true(r->cancelled);
	/* Not listed any more: nothing to dismiss. */
	expect_quiet(c);
}

static void test_cancel_after_ready(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128];
	struct json_object *m = start(c, r, "blockdev-mirror", NULL, &cbs, id, sizeof(id));

	r->on_ready = ON_READY_CANCEL;
	run_to_running(c, m, id);
	block_event(c, "BLOCK_JOB_READY", id, NULL);
	status(c, id, "ready");
	m = expect(c, "job-cancel");
	assert_int_equal(r->ready_calls, 1);
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	status(c, id, "aborting");
	block_event(c, "BLOCK_JOB_CANCELLED", id, NULL);
	conclude(c, id, "Operation canceled");
	wait_done(c, r);
	assert_int_equal(r->ready_calls, 1);
	assert_non_null(strstr(r->err->msg, "blockdev-mirror cancelled: Operation canceled"));
	assert_true(r->cancelled);
}

static void test_complete_after_ready(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128];
	struct json_object *m = start(c, r, "block-commit", NULL, &cbs, id, sizeof(id));
	struct qc_error *err = NULL;

	r->on_ready = ON_READY_NOTHING;
	run_to_running(c, m, id);
	pump_for(c->base, 5);
	assert_int_equal(qmp_job_complete(r->job, &err), -1); /* not ready yet */
	assert_non_null(strstr(err->msg, "not ready"));
	qc_error_free(err);
	block_event(c, "BLOCK_JOB_READY", id, NULL);
	status(c, id, "ready");
	pump_for(c->base, 5);
	assert_int_equal(r->ready_calls, 1);
	assert_int_equal(qmp_job_state(r->job), QMP_JOB_READY);
	/* The caller decides, later. */
	assert_int_equal(qmp_job_complete(r->job, NULL), 0);
	m = expect(c, "job-complete");
	assert_string_equal(arg_str(m, "id"), id);
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	block_event(c, "BLOCK_JOB_COMPLETED", id, NULL);
	conclude(c, id, NULL);
	wait_done(c, r);
	assert_null(r->err);
	assert_false(r->cancelled);
}

static void test_session_lost(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128];
	struct json_object *m = start(c, r, "snapshot-save", NULL, &cbs, id, sizeof(id));

	run_to_running(c, m, id);
	pump_for(c->base, 5);
	peer_close(&c->peer); /* QEMU dies */
	wait_done(c, r);
	assert_non_null(r->err);
	assert_non_null(strstr(r->err->msg, "QEMU went away while job"));
	assert_non_null(strstr(r->err->msg, id));
	assert_non_null(strstr(r->err->msg, "snapshot-save"));
}

static void test_session_lost_with_poll_pending(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	struct qmp_job_opts o = { .progress_ms = 5 };
	char id[128];
	struct json_object *m = start(c, r, "snapshot-save", &o, &cbs_progress, id, sizeof(id));

	r->free_in_done = true; /* freed while the poll's failure is still to come */
	run_to_running(c, m, id);
	json_object_put(expect(c, "query-jobs"));
	qmp_session_close(c->s);
	assert_int_equal(r->done_calls, 1);
	assert_null(r->job);
	assert_non_null(strstr(r->err->msg, id));
	pump_for(c->base, 10);
	assert_int_equal(r->done_calls, 1);
}

static void test_command_dropped(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128], data[128];
	struct json_object *m = start(c, r, "snapshot-delete", NULL, &cbs, id, sizeof(id));

	snprintf(data, sizeof(data), "{\"id\": %s, \"reason\": \"queue-full\"}",
		 json_object_to_json_string(json_object_object_get(m, "id")));
	json_object_put(m);
	peer_event(&c->peer, "COMMAND_DROPPED", data);
	wait_done(c, r);
	assert_non_null(r->err);
	assert_non_null(strstr(r->err->msg, id));
	assert_non_null(strstr(r->err->msg, "dropped"));
	assert_non_null(strstr(r->err->msg, "queue-full"));
	expect_quiet(c);
}

static void test_start_refused(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128];
	struct json_object *m = start(c, r, "snapshot-load", NULL, &cbs, id, sizeof(id));

	peer_reply_error(&c->peer, m, "GenericError", "Device 'x' not found");
	json_object_put(m);
	wait_done(c, r);
	assert_string_equal(r->err->qmp_class, "GenericError");
	assert_string_equal(r->err->msg, "Device 'x' not found");
	expect_quiet(c);
}

static void test_error_in_query_jobs(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128];
	struct json_object *m = start(c, r, "snapshot-save", NULL, &cbs, id, sizeof(id));

	run_to_running(c, m, id);
	status(c, id, "aborting");
	conclude(c, id, "Error while writing VM state: No space left on device");
	wait_done(c, r);
	assert_string_equal(r->err->msg, "snapshot-save failed: Error while writing VM state: No space left on device");
	assert_false(r->cancelled);
}

static void test_cancel_too_late(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128];
	struct json_object *m = start(c, r, "snapshot-save", NULL, &cbs, id, sizeof(id));

	run_to_running(c, m, id);
	pump_for(c->base, 5);
	qmp_job_cancel(r->job);
	m = expect(c, "job-cancel");
	status(c, id, "waiting");
	status(c, id, "pending");
	status(c, id, "concluded");
	peer_reply_error(&c->peer, m, "GenericError",
			 "Job 'x' in state 'concluded' cannot accept command verb 'cancel'");
	json_object_put(m);
	answer(c, "query-jobs", "[]");
	wait_done(c, r);
	assert_null(r->err); /* the outcome stands */
	assert_false(r->cancelled);
}

static void test_cancel_while_starting(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128];
	struct json_object *m = start(c, r, "snapshot-save", NULL, &cbs, id, sizeof(id));

	qmp_job_cancel(r->job); /* QEMU does not know the job yet */
	expect_quiet(c);
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	json_object_put(expect(c, "job-cancel"));
}

static void test_two_jobs(void **state)
{
	struct ctx *c = *state;
	struct jrec *a = &c->j[0], *b = &c->j[1];
	char ida[128], idb[128], jobs[512];
	struct json_object *ma = start(c, a, "block-stream", NULL, &cbs, ida, sizeof(ida));
	struct json_object *mb = start(c, b, "block-stream", NULL, &cbs, idb, sizeof(idb));

	assert_string_not_equal(ida, idb);
	run_to_running(c, mb, idb);
	run_to_running(c, ma, ida);
	/* b ends first, with an error; a's events must not touch b. */
	status(c, idb, "aborting");
	status(c, idb, "concluded");
	snprintf(jobs, sizeof(jobs),
		 "[{\"id\": \"%s\", \"status\": \"running\"}, {\"id\": \"%s\", \"status\": \"concluded\", "
		 "\"error\": \"Input/output error\"}]",
		 ida, idb);
	answer(c, "query-jobs", jobs);
	answer(c, "job-dismiss", "{}");
	wait_done(c, b);
	assert_int_equal(a->done_calls, 0);
	assert_int_equal(qmp_job_state(a->job), QMP_JOB_RUNNING);
	assert_string_equal(b->err->msg, "block-stream failed: Input/output error");
	conclude(c, ida, NULL);
	wait_done(c, a);
	assert_null(a->err);
	assert_int_equal(b->done_calls, 1);
}

static void test_group_finalize(void **state)
{
	struct ctx *c = *state;
	struct jrec *a = &c->j[0], *b = &c->j[1];
	struct qmp_job_group *g = qmp_job_group_new();
	struct qmp_job_opts o = { .group = g };
	char ida[128], idb[128];
	struct json_object *ma = start(c, a, "blockdev-backup", &o, &cbs, ida, sizeof(ida));
	struct json_object *mb = start(c, b, "blockdev-backup", &o, &cbs, idb, sizeof(idb));
	struct json_object *f1, *f2;

	assert_non_null(json_object_object_get(peer_msg_arguments(ma), "auto-finalize"));
	assert_false(json_object_get_boolean(json_object_object_get(peer_msg_arguments(ma), "auto-finalize")));
	run_to_running(c, ma, ida);
	run_to_running(c, mb, idb);
	status(c, ida, "waiting");
	status(c, ida, "pending");
	expect_quiet(c); /* a waits for b */
	assert_int_equal(qmp_job_state(a->job), QMP_JOB_PENDING);
	status(c, idb, "waiting");
	status(c, idb, "pending");
	f1 = expect(c, "job-finalize");
	f2 = expect(c, "job-finalize");
	assert_string_equal(arg_str(f1, "id"), ida);
	assert_string_equal(arg_str(f2, "id"), idb);
	peer_reply(&c->peer, f1, "{}");
	peer_reply(&c->peer, f2, "{}");
	json_object_put(f1);
	json_object_put(f2);
	status(c, ida, "concluded");
	answer(c, "query-jobs", "[]");
	status(c, idb, "concluded");
	answer(c, "query-jobs", "[]");
	wait_done(c, a);
	wait_done(c, b);
	assert_null(a->err);
	assert_null(b->err);
	qmp_job_free(a->job);
	qmp_job_free(b->job);
	a->job = b->job = NULL;
	qmp_job_group_free(g);
}

static void test_group_member_fails(void **state)
{
	struct ctx *c = *state;
	struct jrec *a = &c->j[0], *b = &c->j[1];
	struct qmp_job_group *g = qmp_job_group_new();
	struct qmp_job_opts o = { .group = g };
	char ida[128], idb[128];
	struct json_object *ma = start(c, a, "blockdev-backup", &o, &cbs, ida, sizeof(ida));
	struct json_object *mb = start(c, b, "blockdev-backup", &o, &cbs, idb, sizeof(idb));
	struct json_object *m;

	run_to_running(c, ma, ida);
	run_to_running(c, mb, idb);
	status(c, ida, "pending");
	status(c, idb, "aborting"); /* b fails: a must not be finalized alone */
	m = expect(c, "job-cancel");
	assert_string_equal(arg_str(m, "id"), ida);
	json_object_put(m);
	qmp_job_group_free(g); /* the jobs outlive their group */
	assert_int_equal(a->done_calls, 0);
}

static void test_group_refuses_jobs_without_finalize(void **state)
{
	struct ctx *c = *state;
	struct qmp_job_group *g = qmp_job_group_new();
	struct qmp_job_opts o = { .group = g };
	struct qc_error *err = NULL;

	assert_null(qmp_job_start(c->s, "snapshot-save", NULL, &o, &cbs, &c->j[0], &err));
	assert_non_null(strstr(err->msg, "group"));
	qc_error_free(err);
	qmp_job_group_free(g);
	expect_quiet(c);
}

static void test_follow_group(void **state)
{
	struct ctx *c = *state;
	struct jrec *a = &c->j[0], *b = &c->j[1], *x = &c->j[2];
	struct qmp_job_group *g = qmp_job_group_new();
	struct qmp_job_opts o = { .group = g };
	struct json_object *f1, *f2;

	/* Two backups started by one transaction (not by us): followed by id. */
	a->job = qmp_job_follow(c->s, "bk0", "backup", &o, &cbs, a, NULL);
	b->job = qmp_job_follow(c->s, "bk1", "backup", &o, &cbs, b, NULL);
	x->job = qmp_job_follow(c->s, "nosuch", NULL, NULL, &cbs, x, NULL);
	assert_non_null(a->job);
	assert_non_null(b->job);
	answer(c, "query-jobs",
	       "[{\"id\": \"bk0\", \"status\": \"running\"}, {\"id\": \"bk1\", \"status\": "
	       "\"pending\"}]");
	answer(c, "query-jobs",
	       "[{\"id\": \"bk0\", \"status\": \"running\"}, {\"id\": \"bk1\", \"status\": "
	       "\"pending\"}]");
	answer(c, "query-jobs", "[]");
	wait_done(c, x);
	assert_non_null(strstr(x->err->msg, "'nosuch'"));
	assert_int_equal(qmp_job_state(a->job), QMP_JOB_RUNNING);
	assert_int_equal(qmp_job_state(b->job), QMP_JOB_PENDING);
	expect_quiet(c);
	status(c, "bk0", "waiting");
	status(c, "bk0", "pending");
	f1 = expect(c, "job-finalize");
	f2 = expect(c, "job-finalize");
	peer_reply(&c->peer, f1, "{}");
	peer_reply(&c->peer, f2, "{}");
	json_object_put(f1);
	json_object_put(f2);
	status(c, "bk0", "concluded");
	status(c, "bk1", "concluded");
	answer(c, "query-jobs", "[{\"id\": \"bk0\", \"status\": \"concluded\"}]");
	answer(c, "query-jobs",
	       "[{\"id\": \"bk1\", \"status\": \"concluded\", \"error\": \"No space left on device\"}]");
	answer(c, "job-dismiss", "{}");
	answer(c, "job-dismiss", "{}");
	wait_done(c, a);
	wait_done(c, b);
	assert_null(a->err);
	assert_string_equal(b->err->msg, "backup failed: No space left on device");
	qmp_job_free(a->job);
	qmp_job_free(b->job);
	a->job = b->job = NULL;
	qmp_job_group_free(g);
}

/* The session dies with two of the job's commands pending: the first
 * failure ends the job, done frees it, and the second failure must not
 * reach it (the session lets it forget that command meanwhile). */
static void test_freed_while_session_dies(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	char id[128];
	struct json_object *m = start(c, r, "snapshot-save", NULL, &cbs, id, sizeof(id));

	r->free_in_done = true;
	status(c, id, "running"); /* QEMU knows it; the start reply is still owed */
	pump_for(c->base, 5);
	qmp_job_cancel(r->job);
	json_object_put(expect(c, "job-cancel"));
	json_object_put(m);
	qmp_session_close(c->s);
	assert_int_equal(r->done_calls, 1);
	assert_null(r->job);
	assert_non_null(strstr(r->err->msg, "QEMU went away while job"));
	pump_for(c->base, 10);
}

static void migrate_start(struct ctx *c, struct jrec *r, const struct qmp_job_opts *o, const struct qmp_job_cbs *cb)
{
	struct json_object *args = json_object_new_object(), *m, *caps;

	json_object_object_add(args, "uri", json_object_new_string("exec:cat > /dev/null"));
	r->job = qmp_job_start(c->s, "migrate", args, o, cb, r, NULL);
	assert_non_null(r->job);
	m = expect(c, "migrate-set-capabilities");
	caps = json_object_array_get_idx(json_object_object_get(peer_msg_arguments(m), "capabilities"), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(caps, "capability")), "events");
	assert_true(json_object_get_boolean(json_object_object_get(caps, "state")));
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	m = expect(c, "migrate");
	assert_string_equal(arg_str(m, "uri"), "exec:cat > /dev/null");
	assert_null(json_object_object_get(peer_msg_arguments(m), "job-id"));
	peer_event(&c->peer, "MIGRATION", "{\"status\": \"setup\"}");
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	peer_event(&c->peer, "MIGRATION", "{\"status\": \"active\"}");
}

static void test_migrate_completed(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];
	struct qmp_job_opts o = { .progress_ms = 10 };

	migrate_start(c, r, &o, &cbs_progress);
	answer(c, "query-migrate",
	       "{\"status\": \"active\", \"ram\": {\"total\": 1000, \"remaining\": 250, \"transferred\": 750}}");
	pump_for(c->base, 5);
	assert_int_equal(r->progress_calls, 1);
	assert_int_equal(r->cur, 750);
	assert_int_equal(r->total, 1000);
	peer_event(&c->peer, "MIGRATION", "{\"status\": \"completed\"}");
	wait_done(c, r);
	assert_null(r->err);
	/* A poll may have been on its way; nothing after it (no dismiss). */
	{
		struct json_object *m = peer_recv(&c->peer, c->base, 30);

		if (m) {
			assert_string_equal(peer_msg_command(m), "query-migrate");
			json_object_put(m);
		}
	}
	expect_quiet(c);
}

static void test_migrate_failed(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];

	migrate_start(c, r, NULL, &cbs);
	peer_event(&c->peer, "MIGRATION", "{\"status\": \"failed\"}");
	answer(c, "query-migrate",
	       "{\"status\": \"failed\", \"error-desc\": \"Unable to write to command: Broken pipe\"}");
	wait_done(c, r);
	assert_string_equal(r->err->msg, "migrate failed: Unable to write to command: Broken pipe");
	expect_quiet(c);
}

static void test_migrate_cancelled(void **state)
{
	struct ctx *c = *state;
	struct jrec *r = &c->j[0];

	migrate_start(c, r, NULL, &cbs);
	pump_for(c->base, 5);
	qmp_job_cancel(r->job);
	answer(c, "migrate_cancel", "{}");
	peer_event(&c->peer, "MIGRATION", "{\"status\": \"cancelling\"}");
	peer_event(&c->peer, "MIGRATION", "{\"status\": \"cancelled\"}");
	wait_done(c, r);
	assert_non_null(strstr(r->err->msg, "migrate cancelled"));
	assert_true(r->cancelled);
}

/* ---- qc_op -------------------------------------------------------------------------------- */

struct oprec {
	int done_calls, progress_calls;
	struct qc_error *err;
};

static void op_done(void *opaque, const struct qc_error *err)
{
	struct oprec *o = opaque;

	o->done_calls++;
	o->err = qc_error_copy(err);
}

static void op_progress(void *opaque, uint64_t current, uint64_t total)
{
	struct oprec *o = opaque;

	(void)current;
	(void)total;
	o->progress_calls++;
}

static bool cond_op(void *arg)
{
	return ((struct qc_op *)arg)->finished;
}

static void test_op_cancel(void **state)
{
	struct ctx *c = *state;
	struct oprec rec = { 0 };
	struct qc_op op;
	struct json_object *m;
	const char *id;
	char jobs[256];

	qc_op_init(&op, NULL, op_done, &rec);
	assert_int_equal(qmp_job_start_op(c->s, "snapshot-save", NULL, NULL, &op, NULL), 0);
	m = expect(c, "snapshot-save");
	id = arg_str(m, "job-id");
	qc_op_cancel(&op); /* before QEMU has said a word: sent once the job shows */
	expect_quiet(c);
	status(c, id, "running");
	answer(c, "job-cancel", "{}");
	status(c, id, "aborting");
	status(c, id, "concluded");
	peer_reply(&c->peer, m, "{}");
	snprintf(jobs, sizeof(jobs), "[{\"id\": \"%s\", \"status\": \"concluded\", \"error\": \"Operation canceled\"}]",
		 id);
	answer(c, "query-jobs", jobs);
	answer(c, "job-dismiss", "{}");
	assert_true(pump_until(c->base, cond_op, &op, WAIT_MS));
	json_object_put(m);
	assert_int_equal(rec.done_calls, 1);
	assert_non_null(op.err);
	assert_string_equal(op.err->msg, "snapshot-save cancelled: Operation canceled");
	qc_op_cancel(&op); /* after done: nothing */
	qc_op_fini(&op);
	qc_error_free(rec.err);
}

static void count_hook(void *impl)
{
	(*(int *)impl)++;
}

static void test_op_basics(void **state)
{
	struct oprec rec = { 0 };
	struct qc_op op;
	struct qc_error *err = NULL;
	int hook_calls = 0;

	(void)state;
	qc_op_init(&op, op_progress, op_done, &rec);
	qc_op_cancel(&op); /* before the operation set its hook */
	assert_true(qc_op_cancel_requested(&op));
	qc_op_set_cancel(&op, count_hook, &hook_calls);
	assert_int_equal(hook_calls, 1); /* the earlier request reaches the operation */
	qc_op_cancel(&op);
	assert_int_equal(hook_calls, 1);
	qc_op_progress(&op, 1, 2);
	assert_int_equal(rec.progress_calls, 1);
	qc_error_set(&err, "boom");
	qc_op_finish(&op, err);
	qc_op_finish(&op, NULL); /* once */
	qc_op_progress(&op, 2, 2);
	assert_int_equal(rec.done_calls, 1);
	assert_int_equal(rec.progress_calls, 1);
	assert_string_equal(op.err->msg, "boom");
	assert_true(qc_op_finished(&op));
	qc_op_cancel(&op);
	assert_int_equal(hook_calls, 1);
	qc_error_free(err);
	qc_error_free(rec.err);
	qc_op_fini(&op);
}

/* ---- jobs left behind --------------------------------------------------------------------- */

static void test_reap_stale(void **state)
{
	struct ctx *c = *state;
	struct oprec rec = { 0 };
	struct qc_op op;
	char jobs[1024], live[64];
	struct json_object *m;

	/* 2147483647 exceeds any pid_max: that process cannot exist. */
	snprintf(live, sizeof(live), "qmpctl-snapshot-save-%d-1", (int)getppid());
	snprintf(jobs, sizeof(jobs),
		 "[{\"id\": \"qmpctl-snapshot-save-2147483647-1\", \"status\": \"concluded\"},"
		 " {\"id\": \"%s\", \"status\": \"concluded\"},"
		 " {\"id\": \"qmpctl-block-commit-2147483647-2\", \"status\": \"running\"},"
		 " {\"id\": \"libvirt-job-2147483647-1\", \"status\": \"concluded\"},"
		 " {\"id\": \"qmpctl-x-2147483647-\", \"status\": \"concluded\"},"
		 " {\"id\": \"qmpctl-2147483647-1\", \"status\": \"concluded\"},"
		 " {\"id\": \"qmpctl-snapshot-delete-2147483647-7\", \"status\": \"concluded\"}]",
		 live);
	qc_op_init(&op, NULL, op_done, &rec);
	assert_int_equal(qmp_job_reap_stale(c->s, &op, NULL), 0);
	answer(c, "query-jobs", jobs);
	m = expect(c, "job-dismiss");
	assert_string_equal(arg_str(m, "id"), "qmpctl-snapshot-save-2147483647-1");
	peer_reply(&c->peer, m, "{}");
	json_object_put(m);
	m = expect(c, "job-dismiss");
	assert_string_equal(arg_str(m, "id"), "qmpctl-snapshot-delete-2147483647-7");
	assert_int_equal(rec.done_calls, 0);
	peer_reply_error(&c->peer, m, "GenericError", "gone already");
	json_object_put(m);
	assert_true(pump_until(c->base, cond_op, &op, WAIT_MS));
	assert_null(op.err); /* a dismiss that fails is no failure */
	expect_quiet(c);
	qc_op_fini(&op);
}

static void test_reap_query_fails(void **state)
{
	struct ctx *c = *state;
	struct oprec rec = { 0 };
	struct qc_op op;

	qc_op_init(&op, NULL, op_done, &rec);
	assert_int_equal(qmp_job_reap_stale(c->s, &op, NULL), 0);
	{
		struct json_object *m = expect(c, "query-jobs");

		peer_reply_error(&c->peer, m, "CommandNotFound", "The command query-jobs has not been found");
		json_object_put(m);
	}
	assert_true(pump_until(c->base, cond_op, &op, WAIT_MS));
	assert_string_equal(op.err->qmp_class, "CommandNotFound");
	qc_op_fini(&op);
	qc_error_free(rec.err);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(qmp_job_state_name(QMP_JOB_STARTING), "starting");
	assert_string_equal(qmp_job_state_name(QMP_JOB_PENDING), "pending");
	assert_string_equal(qmp_job_state_name(QMP_JOB_ENDED), "ended");
	assert_string_equal(qmp_job_state_name((enum qmp_job_state)99), "?");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_op_basics),
		T(test_happy_path),
		T(test_progress_polled),
		T(test_cancel_before_ready),
		T(test_cancel_after_ready),
		T(test_complete_after_ready),
		T(test_session_lost),
		T(test_session_lost_with_poll_pending),
		T(test_command_dropped),
		T(test_start_refused),
		T(test_error_in_query_jobs),
		T(test_cancel_too_late),
		T(test_cancel_while_starting),
		T(test_two_jobs),
		T(test_group_finalize),
		T(test_group_member_fails),
		T(test_group_refuses_jobs_without_finalize),
		T(test_follow_group),
		T(test_freed_while_session_dies),
		T(test_migrate_completed),
		T(test_migrate_failed),
		T(test_migrate_cancelled),
		T(test_op_cancel),
		T(test_reap_stale),
		T(test_reap_query_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
