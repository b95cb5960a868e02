/*
 * snap against a QEMU without the snapshot-* jobs: create, delete and
 * revert fall back to HMP savevm / delvm / loadvm through
 * human-monitor-command, and an interrupted create removes what it made;
 * the same interrupt against a QEMU with the jobs (which, like 7.2,
 * finishes the save before it sees the cancel).  The synchronous snap_*
 * functions run the loop on this thread while a scripted peer plays that
 * QEMU on a helper thread.
 */
#include <pthread.h>
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
#include "qc_buf.h"
#include "qmp_sync.h"
#include "snap.h"

#define MAX_LINES 16

struct qemu {
	struct peer peer;
	pthread_t thread;
	char failure[256];
	/* The script. */
	bool jobs;			 /* offers the snapshot-save/-delete jobs */
	const char *fail_line;		 /* HMP line answered with an error text */
	volatile bool *cancel_on_savevm; /* set before savevm is answered (a Ctrl-C meanwhile) */
	bool saved;			 /* a savevm happened: query-block shows the snapshot */
	/* What QEMU was asked. */
	char lines[MAX_LINES][128];
	int nlines;
	int jobs_commands; /* snapshot-*, job-* or query-jobs: must stay 0 without jobs */
	char job_id[128];  /* the one concluded job QEMU holds, or "" */
};

struct ctx {
	struct event_base *base;
	struct qmp_session *s;
	struct qemu q;
	struct snap_ctx sctx;
	volatile bool cancel;
	struct snap_disk disk;
};

static const char commands[] = "[{\"name\": \"query-status\"}, {\"name\": \"query-block\"}, {\"name\": "
			       "\"human-monitor-command\"}, {\"name\": \"query-commands\"}, {\"name\": "
			       "\"blockdev-snapshot-internal-sync\"}]";

static const char job_commands[] =
	"[{\"name\": \"query-status\"}, {\"name\": \"query-block\"}, {\"name\": "
	"\"query-commands\"}, {\"name\": \"snapshot-save\"}, {\"name\": \"snapshot-delete\"}, "
	"{\"name\": \"query-jobs\"}, {\"name\": \"job-dismiss\"}, {\"name\": \"job-cancel\"}]";

static void job_status(struct peer *p, const char *id, const char *st)
{
	char data[256];

	snprintf(data, sizeof(data), "{\"id\": \"%s\", \"status\": \"%s\"}", id, st);
	peer_event(p, "JOB_STATUS_CHANGE", data);
}

/* A snapshot-save or -delete as QEMU 7.2 runs it: to its end before
 * anything else is looked at. */
static void run_job(struct qemu *q, struct json_object *m, const char *cmd)
{
	struct json_object *args = peer_msg_arguments(m);
	const char *id = json_object_get_string(json_object_object_get(args, "job-id"));
	const char *tag = json_object_get_string(json_object_object_get(args, "tag"));

	if (q->nlines < MAX_LINES)
		snprintf(q->lines[q->nlines++], sizeof(q->lines[0]), "%s %s", cmd, tag ? tag : "?");
	snprintf(q->job_id, sizeof(q->job_id), "%s", id ? id : "?");
	job_status(&q->peer, q->job_id, "created");
	job_status(&q->peer, q->job_id, "running");
	peer_reply(&q->peer, m, "{}");
	if (!strcmp(cmd, "snapshot-save")) {
		q->saved = true;
		if (q->cancel_on_savevm)
			*q->cancel_on_savevm = true;
	} else {
		q->saved = false;
	}
	job_status(&q->peer, q->job_id, "waiting");
	job_status(&q->peer, q->job_id, "pending");
	job_status(&q->peer, q->job_id, "concluded");
}

static void block_reply(struct qemu *q, struct json_object *m)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "[{\"device\": \"drive0\", \"removable\": false, \"inserted\": {\"file\": \"/img/vda.qcow2\", "
		 "\"node-name\": \"n0\", \"drv\": \"qcow2\", \"ro\": false, \"image\": {\"filename\": "
		 "\"/img/vda.qcow2\", \"format\": \"qcow2\", \"snapshots\": [%s]}}}]",
		 q->saved ? "{\"id\": \"1\", \"name\": \"s1\", \"vm-state-size\": 1024, \"date-sec\": 1, "
			    "\"date-nsec\": 0, \"vm-clock-sec\": 0, \"vm-clock-nsec\": 0}"
			  : "");
	peer_reply(&q->peer, m, buf);
}

static void *serve(void *arg)
{
	struct qemu *q = arg;
	struct peer *p = &q->peer;
	struct json_object *m;

	peer_send(p, PEER_GREETING_NO_OOB);
	while ((m = peer_recv(p, NULL, 5000))) {
		const char *cmd = peer_msg_command(m);

		if (!cmd) {
			snprintf(q->failure, sizeof(q->failure), "message without a command");
		} else if (!strcmp(cmd, "qmp_capabilities")) {
			peer_reply(p, m, "{}");
		} else if (!strcmp(cmd, "query-commands")) {
			peer_reply(p, m, q->jobs ? job_commands : commands);
		} else if (q->jobs && (!strcmp(cmd, "snapshot-save") || !strcmp(cmd, "snapshot-delete"))) {
			run_job(q, m, cmd);
		} else if (q->jobs && !strcmp(cmd, "query-jobs")) {
			char buf[256];

			snprintf(buf, sizeof(buf),
				 "[{\"id\": \"%s\", \"status\": \"concluded\", \"type\": \"snapshot-save\"}]",
				 q->job_id);
			peer_reply(p, m, q->job_id[0] ? buf : "[]");
		} else if (q->jobs && !strcmp(cmd, "job-dismiss")) {
			q->job_id[0] = '\0';
			peer_reply(p, m, "{}");
		} else if (q->jobs && !strcmp(cmd, "job-cancel")) {
			peer_reply_error(p, m, "GenericError",
					 "Job in state 'concluded' cannot accept command verb 'cancel'");
		} else if (!strcmp(cmd, "query-status")) {
			peer_reply(p, m, "{\"status\": \"running\", \"singlestep\": false, \"running\": true}");
		} else if (!strcmp(cmd, "query-block")) {
			block_reply(q, m);
		} else if (!strcmp(cmd, "human-monitor-command")) {
			const char *line =
				json_object_get_string(json_object_object_get(peer_msg_arguments(m), "command-line"));

			if (q->nlines < MAX_LINES)
				snprintf(q->lines[q->nlines++], sizeof(q->lines[0]), "%s", line ? line : "");
			if (line && !strncmp(line, "savevm ", 7)) {
				q->saved = true;
				if (q->cancel_on_savevm)
					*q->cancel_on_savevm = true;
			}
			if (line && !strncmp(line, "delvm ", 6))
				q->saved = false;
			if (q->fail_line && line && !strcmp(line, q->fail_line))
				peer_reply(
					p, m,
					"\"Error: Device 'drive0' is writable but does not support snapshots\\r\\n\"");
			else
				peer_reply(p, m, "\"\"");
		} else {
			char desc[128];

			if (strstr(cmd, "snapshot-") == cmd || strstr(cmd, "job-") == cmd || !strcmp(cmd, "query-jobs"))
				q->jobs_commands++;
			snprintf(desc, sizeof(desc), "The command %s has not been found", cmd);
			peer_reply_error(p, m, "CommandNotFound", desc);
		}
		json_object_put(m);
	}
	return NULL;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct qc_error *err = NULL;
	int fd;

	if (!c)
		return -1;
	c->base = event_base_new();
	if (!c->base || peer_open(&c->q.peer, &fd, false) < 0)
		return -1;
	c->s = qmp_session_new(c->base, NULL);
	if (qmp_session_attach_fd(c->s, fd, &err) < 0)
		return -1;
	if (pthread_create(&c->q.thread, NULL, serve, &c->q) != 0)
		return -1;
	if (qmp_sync_wait_ready(c->base, c->s, &err) < 0) {
		fprintf(stderr, "%s\n", err->msg);
		return -1;
	}
	c->sctx.base = c->base;
	c->sctx.s = c->s;
	c->sctx.cancel = &c->cancel;
	c->disk.target = qc_strdup("vda");
	c->disk.file = qc_strdup("/img/vda.qcow2");
	c->disk.format = qc_strdup("qcow2");
	c->disk.node = qc_strdup("n0");
	c->disk.snapshots = json_object_new_array();
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	qmp_session_free(c->s); /* the peer sees EOF and its thread ends */
	pthread_join(c->q.thread, NULL);
	assert_string_equal(c->q.failure, "");
	if (!c->q.jobs)
		assert_int_equal(c->q.jobs_commands, 0);
	peer_fini(&c->q.peer);
	event_base_free(c->base);
	free(c->disk.target);
	free(c->disk.file);
	free(c->disk.format);
	free(c->disk.node);
	json_object_put(c->disk.snapshots);
	free(c);
	return 0;
}

/* The disk holds snapshot s1 (with VM state). */
static void disk_has_s1(struct ctx *c)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string("1"));
	json_object_object_add(o, "name", json_object_new_string("s1"));
	json_object_object_add(o, "vm-state-size", json_object_new_int64(1024));
	json_object_array_add(c->disk.snapshots, o);
}

static void test_create_savevm(void **state)
{
	struct ctx *c = *state;
	struct snap_create_opts o = { .name = "s1" };
	struct qc_error *err = NULL;

	assert_int_equal(snap_create(&c->sctx, &c->disk, 1, &o, &err), 0);
	assert_null(err);
	assert_int_equal(c->q.nlines, 1);
	assert_string_equal(c->q.lines[0], "savevm s1");
}

static void test_create_savevm_error(void **state)
{
	struct ctx *c = *state;
	struct snap_create_opts o = { .name = "s1" };
	struct qc_error *err = NULL;

	c->q.fail_line = "savevm s1";
	assert_int_equal(snap_create(&c->sctx, &c->disk, 1, &o, &err), -1);
	assert_non_null(err);
	/* HMP's text, without its line end. */
	assert_string_equal(err->msg, "Error: Device 'drive0' is writable but does not support snapshots");
	qc_error_free(err);
}

static void test_delete_delvm(void **state)
{
	struct ctx *c = *state;
	struct qc_error *err = NULL;

	disk_has_s1(c);
	assert_int_equal(snap_delete(&c->sctx, &c->disk, 1, "s1", &err), 0);
	assert_null(err);
	assert_int_equal(c->q.nlines, 1);
	assert_string_equal(c->q.lines[0], "delvm s1");
}

static void test_revert_loadvm(void **state)
{
	struct ctx *c = *state;
	struct snap_revert_opts o = { 0 };
	struct qc_error *err = NULL;

	disk_has_s1(c);
	assert_int_equal(snap_revert(&c->sctx, &c->disk, 1, "s1", &o, &err), 0);
	assert_null(err);
	assert_int_equal(c->q.nlines, 1);
	assert_string_equal(c->q.lines[0], "loadvm s1");
}

static void test_create_interrupted(void **state)
{
	struct ctx *c = *state;
	struct snap_create_opts o = { .name = "s1" };
	struct qc_error *err = NULL;

	/* The interrupt comes while savevm runs: HMP cannot be cancelled, so
	 * the snapshot it made is deleted again. */
	c->q.cancel_on_savevm = &c->cancel;
	assert_int_equal(snap_create(&c->sctx, &c->disk, 1, &o, &err), -1);
	assert_non_null(err);
	assert_string_equal(err->msg, "interrupted: snapshot s1 removed");
	qc_error_free(err);
	assert_int_equal(c->q.nlines, 2);
	assert_string_equal(c->q.lines[0], "savevm s1");
	assert_string_equal(c->q.lines[1], "delvm s1");
	assert_false(c->q.saved);
}

static void test_create_interrupted_before(void **state)
{
	struct ctx *c = *state;
	struct snap_create_opts o = { .name = "s1" };
	struct qc_error *err = NULL;

	c->cancel = true;
	assert_int_equal(snap_create(&c->sctx, &c->disk, 1, &o, &err), -1);
	assert_string_equal(err->msg, "interrupted: snapshot s1 not created");
	qc_error_free(err);
	assert_int_equal(c->q.nlines, 0);
}

static void test_job_create_interrupted(void **state)
{
	struct ctx *c = *state;
	struct snap_create_opts o = { .name = "s1" };
	struct qc_error *err = NULL;

	c->q.jobs = true;
	c->q.cancel_on_savevm = &c->cancel;
	assert_int_equal(snap_create(&c->sctx, &c->disk, 1, &o, &err), -1);
	assert_non_null(err);
	assert_string_equal(err->msg, "interrupted: snapshot s1 removed");
	qc_error_free(err);
	assert_int_equal(c->q.nlines, 2);
	assert_string_equal(c->q.lines[0], "snapshot-save s1");
	assert_string_equal(c->q.lines[1], "snapshot-delete s1");
	assert_false(c->q.saved);
	assert_string_equal(c->q.job_id, ""); /* both jobs dismissed */
}

static void test_job_create(void **state)
{
	struct ctx *c = *state;
	struct snap_create_opts o = { .name = "s1" };
	struct qc_error *err = NULL;

	c->q.jobs = true;
	assert_int_equal(snap_create(&c->sctx, &c->disk, 1, &o, &err), 0);
	assert_null(err);
	assert_int_equal(c->q.nlines, 1);
	assert_string_equal(c->q.lines[0], "snapshot-save s1");
	assert_true(c->q.saved);
	assert_string_equal(c->q.job_id, "");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_savevm), T(test_create_savevm_error),    T(test_delete_delvm),
		T(test_revert_loadvm), T(test_create_interrupted),     T(test_create_interrupted_before),
		T(test_job_create),    T(test_job_create_interrupted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
