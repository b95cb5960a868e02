/*
 * Unit tests for qmp_sync: the blocking helpers run the loop on this thread
 * while a scripted peer plays QEMU on a helper thread.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "peer.h"
#include "qmp_sync.h"

enum script {
	SCRIPT_SERVE,  /* greet, negotiate, answer commands until EOF */
	SCRIPT_SILENT, /* never greet (the monitor serves someone else) */
	SCRIPT_DROP,   /* greet, negotiate, hang up on the first command */
	SCRIPT_HANGUP, /* hang up at once */
};

struct qemu {
	enum script script;
	int listen_fd; /* accept one client from here, or... */
	int fd;        /* ...use this connected socket */
	pthread_t thread;
	char failure[256]; /* what went wrong on the peer's side, for the test */
	int commands;      /* commands answered */
	char path[108];
	char dir[64];
};

static void qemu_fail(struct qemu *q, const char *what)
{
	if (!q->failure[0])
		snprintf(q->failure, sizeof(q->failure), "%s", what);
}

static void serve(struct qemu *q, struct peer *p)
{
	for (;;) {
		struct json_object *m = peer_recv(p, NULL, 3000);
		const char *cmd;

		if (!m) {
			if (!p->eof)
				qemu_fail(q, "client went quiet without hanging up");
			return;
		}
		cmd = peer_msg_command(m);
		if (!cmd) {
			qemu_fail(q, "message without execute");
		} else if (strcmp(cmd, "query-status") == 0) {
			peer_event(p, "RESUME", NULL); /* noise before the reply */
			peer_reply(p, m, "{\"status\": \"running\", \"singlestep\": false, \"running\": true}");
		} else if (strcmp(cmd, "x-echo") == 0) {
			struct json_object *args = peer_msg_arguments(m);
			peer_reply(p, m, args ? json_object_to_json_string(args) : "{}");
		} else if (strcmp(cmd, "x-slow") == 0) {
			poll(NULL, 0, 150);
			peer_reply(p, m, "{}");
		} else if (strcmp(cmd, "human-monitor-command") == 0) {
			peer_reply(p, m, "\"VM status: running\\r\\n\"");
		} else {
			char desc[128];

			snprintf(desc, sizeof(desc), "The command %s has not been found", cmd);
			peer_reply_error(p, m, "CommandNotFound", desc);
		}
		q->commands++;
		json_object_put(m);
	}
}

static void *qemu_main(void *arg)
{
	struct qemu *q = arg;
	struct peer p;
	int fd = q->fd;

	if (q->listen_fd >= 0) {
		struct pollfd pfd = { .fd = q->listen_fd, .events = POLLIN };

		if (poll(&pfd, 1, 3000) != 1) {
			qemu_fail(q, "nobody connected");
			return NULL;
		}
		fd = accept(q->listen_fd, NULL, NULL);
		if (fd < 0) {
			qemu_fail(q, "accept failed");
			return NULL;
		}
	}
	peer_init(&p, fd);
	switch (q->script) {
	case SCRIPT_HANGUP:
		break;
	case SCRIPT_SILENT:
		/* Hold the connection until the client gives up. */
		if (!peer_wait_eof(&p, NULL, 3000))
			qemu_fail(q, "client did not give up waiting for the greeting");
		if (p.nmsgs)
			qemu_fail(q, "client sent something before the greeting");
		break;
	case SCRIPT_SERVE:
	case SCRIPT_DROP: {
		struct json_object *caps;

		peer_send(&p, PEER_GREETING_OOB);
		caps = peer_recv(&p, NULL, 3000);
		if (!caps || !peer_msg_command(caps) || strcmp(peer_msg_command(caps), "qmp_capabilities") != 0) {
			qemu_fail(q, "no qmp_capabilities");
			json_object_put(caps);
			break;
		}
		peer_event(&p, "STOP", NULL); /* before the negotiation ends */
		peer_reply(&p, caps, "{}");
		json_object_put(caps);
		if (q->script == SCRIPT_SERVE) {
			serve(q, &p);
		} else {
			struct json_object *m = peer_recv(&p, NULL, 3000);

			if (!m)
				qemu_fail(q, "no command before the hang-up");
			json_object_put(m);
		}
		break;
	}
	}
	peer_fini(&p);
	return NULL;
}

static void qemu_start(struct qemu *q)
{
	assert_int_equal(pthread_create(&q->thread, NULL, qemu_main, q), 0);
}

/* Call after event_base_free(): libevent closes a freed bufferevent's
 * socket from the loop (or when the base goes), and the peer waits for
 * that EOF. */
static void qemu_join(struct qemu *q)
{
	pthread_join(q->thread, NULL);
	if (q->listen_fd >= 0)
		close(q->listen_fd);
	q->listen_fd = -1;
	if (q->path[0])
		unlink(q->path);
	if (q->dir[0])
		rmdir(q->dir);
	if (q->failure[0])
		fail_msg("peer: %s", q->failure);
}

/* A listening unix socket in a fresh directory. */
static void qemu_listen(struct qemu *q, enum script script)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(q, 0, sizeof(*q));
	q->script = script;
	q->fd = -1;
	snprintf(q->dir, sizeof(q->dir), "/tmp/qmpctl-test-XXXXXX");
	assert_non_null(mkdtemp(q->dir));
	snprintf(q->path, sizeof(q->path), "%s/qmp.sock", q->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", q->path);
	q->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(q->listen_fd >= 0);
	assert_int_equal(bind(q->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(q->listen_fd, 4), 0);
	qemu_start(q);
}

/* A socketpair: *session_fd for the session, the other end for the thread. */
static void qemu_pair(struct qemu *q, enum script script, int *session_fd)
{
	int sv[2];

	memset(q, 0, sizeof(*q));
	q->script = script;
	q->listen_fd = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	q->fd = sv[1];
	*session_fd = sv[0];
	qemu_start(q);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_open_and_execute(void **state)
{
	struct event_base *base = event_base_new();
	struct qmp_session_opts o = { .greeting_timeout_ms = 2000 };
	struct qc_error *err = NULL;
	struct qemu q;
	struct json_object *ret, *v;
	char addr[200];

	qemu_listen(&q, SCRIPT_SERVE);
	snprintf(addr, sizeof(addr), "unix:%s", q.path);
	struct qmp_session *s = qmp_sync_open(base, addr, &o, &err);
	if (!s)
		fail_msg("qmp_sync_open: %s", err ? err->msg : "(no error)");
	assert_null(err);
	assert_int_equal(qmp_session_state(s), QMP_SESSION_READY);
	assert_true(qmp_session_has_oob(s));

	ret = qmp_sync_execute(base, s, "query-status", NULL, &err);
	assert_non_null(ret);
	assert_null(err);
	assert_true(json_object_object_get_ex(ret, "status", &v));
	assert_string_equal(json_object_get_string(v), "running");
	json_object_put(ret);

	ret = qmp_sync_execute(base, s, "x-echo", json_tokener_parse("{\"a\": [1, 2], \"b\": \"c\"}"), &err);
	assert_non_null(ret);
	struct json_object *expect = json_tokener_parse("{\"a\": [1, 2], \"b\": \"c\"}");
	assert_true(json_object_equal(ret, expect));
	json_object_put(expect);
	json_object_put(ret);

	ret = qmp_sync_execute(base, s, "human-monitor-command",
			       json_tokener_parse("{\"command-line\": \"info status\"}"), &err);
	assert_non_null(ret);
	assert_string_equal(json_object_get_string(ret), "VM status: running\r\n");
	json_object_put(ret);

	ret = qmp_sync_execute(base, s, "foo", NULL, &err);
	assert_null(ret);
	assert_non_null(err);
	assert_non_null(err->qmp_class);
	assert_string_equal(err->qmp_class, "CommandNotFound");
	assert_non_null(strstr(err->msg, "The command foo has not been found"));
	qc_error_free(err);
	err = NULL;
	assert_int_equal(qmp_session_state(s), QMP_SESSION_READY);

	qmp_session_free(s);
	event_base_free(base);
	qemu_join(&q);
	assert_int_equal(q.commands, 4);
}

static void test_open_plain_path(void **state)
{
	struct event_base *base = event_base_new();
	struct qc_error *err = NULL;
	struct qemu q;
	struct qmp_session_opts o = { .greeting_timeout_ms = 2000 };

	qemu_listen(&q, SCRIPT_SERVE);
	struct qmp_session *s = qmp_sync_open(base, q.path, &o, &err);
	if (!s)
		fail_msg("qmp_sync_open: %s", err ? err->msg : "(no error)");
	struct json_object *ret = qmp_sync_execute(base, s, "query-status", NULL, &err);
	assert_non_null(ret);
	json_object_put(ret);
	qmp_session_free(s);
	event_base_free(base);
	qemu_join(&q);
}

static void test_open_missing(void **state)
{
	struct event_base *base = event_base_new();
	struct qc_error *err = NULL;
	struct qmp_session_opts o = { .greeting_timeout_ms = 500 };
	long long t0 = now_ms();

	assert_null(qmp_sync_open(base, "unix:/nonexistent/qmpctl/qmp.sock", &o, &err));
	assert_non_null(err);
	assert_true(now_ms() - t0 < 400); /* at once, not after the timeout */
	qc_error_free(err);
	event_base_free(base);
}

static void test_open_busy_monitor(void **state)
{
	struct event_base *base = event_base_new();
	struct qmp_session_opts o = { .greeting_timeout_ms = 150 };
	struct qc_error *err = NULL;
	struct qemu q;
	long long t0;

	qemu_listen(&q, SCRIPT_SILENT);
	t0 = now_ms();
	assert_null(qmp_sync_open(base, q.path, &o, &err));
	long long took = now_ms() - t0;
	assert_non_null(err);
	assert_true(took >= 140);
	assert_true(took < 2000);
	if (!strcasestr(err->msg, "client") && !strcasestr(err->msg, "another") && !strcasestr(err->msg, "busy"))
		fail_msg("error does not say another client holds the monitor: %s", err->msg);
	qc_error_free(err);
	event_base_free(base);
	qemu_join(&q);
}

static void test_wait_ready_attached(void **state)
{
	struct event_base *base = event_base_new();
	struct qmp_session_opts o = { 0 };
	struct qc_error *err = NULL;
	struct qemu q;
	int fd;

	qemu_pair(&q, SCRIPT_SERVE, &fd);
	struct qmp_session *s = qmp_session_new(base, &o);
	assert_non_null(s);
	assert_int_equal(qmp_session_attach_fd(s, fd, &err), 0);
	assert_int_equal(qmp_sync_wait_ready(base, s, &err), 0);
	assert_null(err);
	assert_int_equal(qmp_session_state(s), QMP_SESSION_READY);
	/* Already READY: returns at once. */
	assert_int_equal(qmp_sync_wait_ready(base, s, &err), 0);
	struct json_object *ret = qmp_sync_execute(base, s, "x-echo", NULL, &err);
	assert_non_null(ret);
	json_object_put(ret);
	qmp_session_free(s);
	event_base_free(base);
	qemu_join(&q);
}

static void test_wait_ready_hangup(void **state)
{
	struct event_base *base = event_base_new();
	struct qmp_session_opts o = { 0 };
	struct qc_error *err = NULL;
	struct qemu q;
	int fd;

	qemu_pair(&q, SCRIPT_HANGUP, &fd);
	struct qmp_session *s = qmp_session_new(base, &o);
	assert_int_equal(qmp_session_attach_fd(s, fd, &err), 0);
	assert_int_equal(qmp_sync_wait_ready(base, s, &err), -1);
	assert_non_null(err);
	qc_error_free(err);
	err = NULL;
	assert_int_equal(qmp_session_state(s), QMP_SESSION_CLOSED);
	/* Executing on a closed session fails at once. */
	assert_null(qmp_sync_execute(base, s, "query-status", NULL, &err));
	assert_non_null(err);
	qc_error_free(err);
	qmp_session_free(s);
	event_base_free(base);
	qemu_join(&q);
}

static void test_execute_connection_dropped(void **state)
{
	struct event_base *base = event_base_new();
	struct qmp_session_opts o = { 0 };
	struct qc_error *err = NULL;
	struct qemu q;
	int fd;

	qemu_pair(&q, SCRIPT_DROP, &fd);
	struct qmp_session *s = qmp_session_new(base, &o);
	assert_int_equal(qmp_session_attach_fd(s, fd, &err), 0);
	assert_int_equal(qmp_sync_wait_ready(base, s, &err), 0);
	assert_null(qmp_sync_execute(base, s, "query-status", NULL, &err));
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "query-status"));
	qc_error_free(err);
	assert_int_equal(qmp_session_state(s), QMP_SESSION_CLOSED);
	qmp_session_free(s);
	event_base_free(base);
	qemu_join(&q);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	(*(int *)arg)++;
}

static void test_other_events_served(void **state)
{
	struct event_base *base = event_base_new();
	struct qmp_session_opts o = { 0 };
	struct qc_error *err = NULL;
	struct qemu q;
	int fd, ticks = 0;
	struct timeval tv = { 0, 10000 };
	struct event *ev = event_new(base, -1, EV_PERSIST, tick, &ticks);

	event_add(ev, &tv);
	qemu_pair(&q, SCRIPT_SERVE, &fd);
	struct qmp_session *s = qmp_session_new(base, &o);
	assert_int_equal(qmp_session_attach_fd(s, fd, &err), 0);
	assert_int_equal(qmp_sync_wait_ready(base, s, &err), 0);
	ticks = 0;
	struct json_object *ret = qmp_sync_execute(base, s, "x-slow", NULL, &err); /* 150 ms */
	assert_non_null(ret);
	json_object_put(ret);
	assert_true(ticks >= 3);
	/* And the persistent timer is still registered afterwards. */
	assert_int_equal(event_pending(ev, EV_TIMEOUT, NULL) != 0, 1);
	event_free(ev);
	qmp_session_free(s);
	event_base_free(base);
	qemu_join(&q);
}

/* A session closed by a reset: asking a CLOSED session again (wait, execute)
 * gives its error with the errnum callers decide on, not only its words. */
static void test_closed_keeps_errnum(void **state)
{
	static const char greeting[] = "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, "
				       "\"micro\": 0}, \"package\": \"\"}, \"capabilities\": []}}\r\n";
	struct event_base *base = event_base_new();
	struct qmp_session_opts o = { 0 };
	struct qc_error *err = NULL;
	struct pollfd pfd;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], greeting, sizeof(greeting) - 1), (ssize_t)(sizeof(greeting) - 1));
	struct qmp_session *s = qmp_session_new(base, &o);
	assert_int_equal(qmp_session_attach_fd(s, sv[0], &err), 0);
	while (qmp_session_state(s) != QMP_SESSION_NEGOTIATING)
		assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
	/* qmp_capabilities arrives and is left unread: closing this end
	 * then resets the connection (ECONNRESET on the session's side). */
	pfd.fd = sv[1];
	pfd.events = POLLIN;
	for (int i = 0; i < 1000 && poll(&pfd, 1, 0) == 0; i++)
		assert_true(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	close(sv[1]);
	assert_int_equal(qmp_sync_wait_ready(base, s, &err), -1);
	assert_int_equal(err->errnum, ECONNRESET);
	qc_error_free(err);
	err = NULL;
	assert_int_equal(qmp_session_state(s), QMP_SESSION_CLOSED);
	assert_int_equal(qmp_sync_wait_ready(base, s, &err), -1);
	assert_int_equal(err->errnum, ECONNRESET);
	qc_error_free(err);
	err = NULL;
	assert_null(qmp_sync_execute(base, s, "query-status", NULL, &err));
	assert_int_equal(err->errnum, ECONNRESET);
	qc_error_free(err);
	qmp_session_free(s);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_and_execute),
		cmocka_unit_test(test_open_plain_path),
		cmocka_unit_test(test_open_missing),
		cmocka_unit_test(test_open_busy_monitor),
		cmocka_unit_test(test_wait_ready_attached),
		cmocka_unit_test(test_wait_ready_hangup),
		cmocka_unit_test(test_execute_connection_dropped),
		cmocka_unit_test(test_other_events_served),
		cmocka_unit_test(test_closed_keeps_errnum),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
