/*
 * Unit tests for qmp_tap: a scripted QEMU (peer.c) listening on a unix
 * socket in a temporary directory, clients that are peers too, all driven
 * from this thread by pumping the tap's event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "peer.h"
#include "qmp_tap.h"

#define WAIT_MS 2000

struct fx {
	struct event_base *base;
	struct qmp_tap *t;
	char dir[64];
	char qemu_path[96];
	char tap_path[96];
	int listen_fd;
	struct peer qemu;
	int ups, downs;
	char down_msg[256];
	int n_in, n_out, n_event, n_connect, n_disconnect;
	bool bad_latency;
};

static void on_record(void *opaque, const struct qmp_tap_record *rec)
{
	struct fx *f = opaque;

	switch (rec->dir) {
	case QMP_TAP_IN:
		f->n_in++;
		break;
	case QMP_TAP_OUT:
		f->n_out++;
		if (rec->json && !strstr(rec->json, "\"QMP\"") && rec->latency_ms < 0)
			f->bad_latency = true;
		break;
	case QMP_TAP_EVENT:
		f->n_event++;
		break;
	case QMP_TAP_CONNECT:
		f->n_connect++;
		break;
	case QMP_TAP_DISCONNECT:
		f->n_disconnect++;
		break;
	}
}

static void on_upstream(void *opaque, bool up, const struct qc_error *err)
{
	struct fx *f = opaque;

	if (up) {
		f->ups++;
	} else {
		f->downs++;
		snprintf(f->down_msg, sizeof(f->down_msg), "%s", err ? err->msg : "");
	}
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static bool ups_cond(void *arg)
{
	return ((struct fx *)arg)->ups > 0;
}

static bool downs_cond(void *arg)
{
	return ((struct fx *)arg)->downs > 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct qc_error *err = NULL;
	struct json_object *caps;
	long long deadline;
	int fd = -1;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_tap.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->qemu_path, sizeof(f->qemu_path), "%s/qemu.sock", f->dir);
	snprintf(f->tap_path, sizeof(f->tap_path), "%s/tap.sock", f->dir);
	f->base = event_base_new();
	f->listen_fd = listen_unix(f->qemu_path);
	f->t = qmp_tap_new(f->base, NULL);
	qmp_tap_set_record_cb(f->t, on_record, f);
	qmp_tap_set_upstream_cb(f->t, on_upstream, f);
	assert_int_equal(qmp_tap_connect(f->t, f->qemu_path, &err), 0);
	deadline = now_ms() + WAIT_MS;
	while ((fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0 && now_ms() < deadline)
		pump_for(f->base, 1);
	assert_true(fd >= 0);
	peer_init(&f->qemu, fd);
	peer_send(&f->qemu, PEER_GREETING_OOB);
	caps = peer_recv(&f->qemu, f->base, WAIT_MS);
	assert_string_equal(peer_msg_command(caps), "qmp_capabilities");
	peer_reply(&f->qemu, caps, "{}");
	json_object_put(caps);
	assert_true(pump_until(f->base, ups_cond, f, WAIT_MS));
	assert_int_equal(qmp_tap_listen(f->t, f->tap_path, 0600, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	qmp_tap_free(f->t);
	peer_fini(&f->qemu);
	close(f->listen_fd);
	unlink(f->qemu_path);
	/* The tap removes its own socket. */
	assert_int_equal(access(f->tap_path, F_OK), -1);
	rmdir(f->dir);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Connects a client; negotiates capabilities (with oob when asked) unless
 * negotiate is false. */
static void client(struct fx *f, struct peer *c, bool negotiate, bool oob)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_object *msg;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->tap_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	peer_init(c, fd);
	c->pump_base = f->base;
	msg = peer_recv(c, f->base, WAIT_MS);
	assert_non_null(msg);
	assert_true(json_object_object_get_ex(msg, "QMP", NULL));
	json_object_put(msg);
	if (!negotiate)
		return;
	peer_send(c, oob ? "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}"
			 : "{\"execute\": \"qmp_capabilities\"}");
	msg = peer_recv(c, f->base, WAIT_MS);
	assert_non_null(msg);
	assert_true(json_object_object_get_ex(msg, "return", NULL));
	json_object_put(msg);
}

static const char *str_at(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = json_object_object_get(o, a);

	if (b)
		v = json_object_object_get(v, b);
	return v ? json_object_get_string(v) : NULL;
}

/* Two clients, one id: QEMU sees two different ids, each client gets its
 * own reply with its own id back, whatever order QEMU answers in. */
static void test_colliding_ids(void **state)
{
	struct fx *f = *state;
	struct peer a, b;
	struct json_object *m1, *m2, *ra, *rb, *id1, *id2;

	client(f, &a, true, false);
	client(f, &b, true, false);
	peer_send(&a, "{\"execute\": \"query-name\", \"id\": \"same\"}");
	peer_send(&b, "{\"execute\": \"query-status\", \"id\": \"same\"}");
	m1 = peer_recv(&f->qemu, f->base, WAIT_MS);
	m2 = peer_recv(&f->qemu, f->base, WAIT_MS);
	assert_non_null(m1);
	assert_non_null(m2);
	assert_true(json_object_object_get_ex(m1, "id", &id1));
	assert_true(json_object_object_get_ex(m2, "id", &id2));
	assert_true(json_object_is_type(id1, json_type_int));
	assert_true(json_object_get_int64(id1) != json_object_get_int64(id2));
	/* Answer in reverse order. */
	peer_reply(&f->qemu, m2, "{\"status\": \"running\"}");
	peer_reply(&f->qemu, m1, "{\"name\": \"vm\"}");
	ra = peer_recv(&a, f->base, WAIT_MS);
	rb = peer_recv(&b, f->base, WAIT_MS);
	assert_string_equal(str_at(ra, "id", NULL), "same");
	assert_string_equal(str_at(rb, "id", NULL), "same");
	assert_string_equal(str_at(ra, "return", "name"), "vm");
	assert_string_equal(str_at(rb, "return", "status"), "running");
	assert_false(f->bad_latency);
	json_object_put(m1);
	json_object_put(m2);
	json_object_put(ra);
	json_object_put(rb);
	peer_fini(&a);
	peer_fini(&b);
}

/* A reply the tap makes itself (malformed input) waits for the replies to
 * commands the client sent before it; a command without an id gets a reply
 * without one. */
static void test_local_errors_in_order(void **state)
{
	struct fx *f = *state;
	struct peer a;
	struct json_object *m1, *m2, *r;

	client(f, &a, true, false);
	peer_send(&a, "{\"execute\": \"query-name\"}");
	peer_send(&a, "this is not JSON");
	peer_send(&a, "{\"execute\": \"query-status\", \"id\": 2}");
	m1 = peer_recv(&f->qemu, f->base, WAIT_MS);
	m2 = peer_recv(&f->qemu, f->base, WAIT_MS);
	assert_string_equal(peer_msg_command(m1), "query-name");
	assert_string_equal(peer_msg_command(m2), "query-status");
	pump_for(f->base, 50);
	peer_poll(&a);
	assert_int_equal(a.nmsgs, 0); /* the error did not overtake */
	peer_reply(&f->qemu, m1, "{\"name\": \"vm\"}");
	r = peer_recv(&a, f->base, WAIT_MS);
	assert_string_equal(str_at(r, "return", "name"), "vm");
	assert_false(json_object_object_get_ex(r, "id", NULL));
	json_object_put(r);
	r = peer_recv(&a, f->base, WAIT_MS);
	assert_string_equal(str_at(r, "error", "class"), "GenericError");
	json_object_put(r);
	peer_reply_error(&f->qemu, m2, "GenericError", "nope");
	r = peer_recv(&a, f->base, WAIT_MS);
	assert_string_equal(str_at(r, "error", "desc"), "nope");
	assert_int_equal(json_object_get_int(json_object_object_get(r, "id")), 2);
	json_object_put(r);
	json_object_put(m1);
	json_object_put(m2);
	peer_fini(&a);
}

/* A client that goes away: what QEMU already has runs on (its reply is
 * dropped), what QEMU has not seen yet is dropped, as QEMU itself does; the
 * other client is unaffected; freeing the tap with a command still pending
 * leaks nothing (ASan/valgrind). */
static void test_departed_client(void **state)
{
	struct fx *f = *state;
	struct peer a, b;
	struct json_object *m, *r, *got[8];
	int seen = 0;

	client(f, &a, true, false);
	client(f, &b, true, false);
	for (int i = 0; i < 10; i++) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "{\"execute\": \"cmd%d\", \"id\": %d}", i, i);
		peer_send(&a, cmd);
	}
	/* The client's share of the session (4) reaches QEMU. */
	while (seen < 8 && (m = peer_recv(&f->qemu, f->base, 200)))
		got[seen++] = m;
	assert_int_equal(seen, 4);
	peer_fini(&a);
	pump_for(f->base, 20);
	/* The first reply finds a closed socket: the client is dropped. */
	for (int i = 0; i < seen; i++) {
		peer_reply(&f->qemu, got[i], "{}");
		json_object_put(got[i]);
	}
	m = peer_recv(&f->qemu, f->base, 200);
	assert_null(m); /* cmd4..cmd9 never reached QEMU */
	assert_int_equal(qmp_tap_clients(f->t), 1);
	peer_send(&b, "{\"execute\": \"query-name\", \"id\": \"b\"}");
	m = peer_recv(&f->qemu, f->base, WAIT_MS);
	peer_reply(&f->qemu, m, "{\"name\": \"vm\"}");
	r = peer_recv(&b, f->base, WAIT_MS);
	assert_string_equal(str_at(r, "id", NULL), "b");
	assert_string_equal(str_at(r, "return", "name"), "vm");
	json_object_put(m);
	json_object_put(r);
	/* One left pending for teardown. */
	peer_send(&b, "{\"execute\": \"never-answered\"}");
	m = peer_recv(&f->qemu, f->base, WAIT_MS);
	assert_string_equal(peer_msg_command(m), "never-answered");
	json_object_put(m);
	peer_fini(&b);
	pump_for(f->base, 20);
	/* EOF may be a half-close (echo ... | socat): b is kept until its
	 * reply is due. */
	assert_int_equal(qmp_tap_clients(f->t), 1);
}

/* Events reach negotiated clients only; a client still negotiating gets
 * CommandNotFound for anything but qmp_capabilities. */
static void test_events(void **state)
{
	struct fx *f = *state;
	struct peer a, c;
	struct json_object *r;

	client(f, &a, true, false);
	client(f, &c, false, false);
	peer_event(&f->qemu, "STOP", "{}");
	r = peer_recv(&a, f->base, WAIT_MS);
	assert_string_equal(str_at(r, "event", NULL), "STOP");
	json_object_put(r);
	pump_for(f->base, 30);
	peer_poll(&c);
	assert_int_equal(c.nmsgs, 0);
	peer_send(&c, "{\"execute\": \"query-name\", \"id\": 1}");
	r = peer_recv(&c, f->base, WAIT_MS);
	assert_string_equal(str_at(r, "error", "class"), "CommandNotFound");
	json_object_put(r);
	assert_int_equal(f->n_event, 1);
	peer_fini(&a);
	peer_fini(&c);
}

/* exec-oob goes up as exec-oob for a client that enabled oob, and is
 * refused for one that did not. */
static void test_oob(void **state)
{
	struct fx *f = *state;
	struct peer a, b;
	struct json_object *m, *r;

	client(f, &a, true, true);
	client(f, &b, true, false);
	peer_send(&a, "{\"exec-oob\": \"migrate-pause\", \"id\": \"o\"}");
	m = peer_recv(&f->qemu, f->base, WAIT_MS);
	assert_true(peer_msg_is_oob(m));
	peer_reply(&f->qemu, m, "{}");
	r = peer_recv(&a, f->base, WAIT_MS);
	assert_string_equal(str_at(r, "id", NULL), "o");
	json_object_put(m);
	json_object_put(r);
	peer_send(&b, "{\"exec-oob\": \"migrate-pause\", \"id\": \"o\"}");
	r = peer_recv(&b, f->base, WAIT_MS);
	assert_string_equal(str_at(r, "error", "class"), "GenericError");
	json_object_put(r);
	peer_fini(&a);
	peer_fini(&b);
}

/* QEMU going away: every client is closed, the upstream callback says so. */
static void test_upstream_gone(void **state)
{
	struct fx *f = *state;
	struct peer a;
	struct json_object *m;

	client(f, &a, true, false);
	peer_send(&a, "{\"execute\": \"query-name\", \"id\": 1}");
	m = peer_recv(&f->qemu, f->base, WAIT_MS);
	json_object_put(m);
	peer_close(&f->qemu);
	assert_true(pump_until(f->base, downs_cond, f, WAIT_MS));
	assert_non_null(strstr(f->down_msg, "closed"));
	assert_true(peer_wait_eof(&a, f->base, WAIT_MS));
	assert_false(qmp_tap_upstream_ready(f->t));
	assert_int_equal(qmp_tap_clients(f->t), 0);
	peer_fini(&a);
}

/* The socket's mode; a live socket is not taken over. */
static void test_listen(void **state)
{
	struct fx *f = *state;
	struct qmp_tap *t2 = qmp_tap_new(f->base, NULL);
	struct qc_error *err = NULL;
	struct stat st;

	assert_int_equal(stat(f->tap_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(qmp_tap_listen(t2, f->tap_path, 0600, &err), -1);
	assert_non_null(strstr(err->msg, "in use"));
	qc_error_free(err);
	qmp_tap_free(t2);
	assert_int_equal(access(f->tap_path, F_OK), 0); /* still the first tap's */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_colliding_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_errors_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_departed_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upstream_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
