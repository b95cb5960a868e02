/*
 * Fuzz target: what a client sends to a tap (qmp_tap.c), the one input of
 * the tap any local user with access to its socket chooses.  Everything runs
 * in this process on one event loop: the tap's upstream is a scripted QEMU
 * (tests/unit/peer.c) that answers every command with {}, and each input is
 * sent by a fresh client, which then half-closes its socket.  The tap must
 * answer and close that client within the time limit, and stay connected
 * upstream, whatever the bytes were.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "peer.h"
#include "qmp_tap.h"

#define LIMIT_MS 5000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct event_base *base;
	struct qmp_tap *t;
	struct peer qemu;
	char dir[64], qemu_path[96], tap_path[96];
	bool up;
} fx;

static void on_upstream(void *opaque, bool up, const struct qc_error *err)
{
	(void)opaque;
	(void)err;
	fx.up = up;
}

static int unix_socket(const char *path, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || (listening ? bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4)
				 : connect(fd, (struct sockaddr *)&sa, sizeof(sa))))
		abort();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* The scripted QEMU answers whatever arrived. */
static void serve_upstream(void)
{
	struct json_object *m;

	while ((m = peer_recv(&fx.qemu, NULL, 0))) {
		if (peer_msg_command(m))
			peer_reply(&fx.qemu, m, "{}");
		json_object_put(m);
	}
	if (fx.qemu.eof || fx.qemu.bad)
		abort(); /* the tap dropped QEMU or sent it garbage over a client's input */
}

/* libFuzzer ends with exit(): the tap removes its socket, then the
 * directory goes. */
static void tear_down(void)
{
	qmp_tap_free(fx.t);
	peer_fini(&fx.qemu);
	event_base_free(fx.base);
	rmdir(fx.dir);
}

static void set_up(void)
{
	struct json_object *caps;
	struct qc_error *err = NULL;
	int lfd, fd = -1;
	long long deadline;

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/fuzz_tap.XXXXXX");
	if (!mkdtemp(fx.dir))
		abort();
	snprintf(fx.qemu_path, sizeof(fx.qemu_path), "%s/qemu.sock", fx.dir);
	snprintf(fx.tap_path, sizeof(fx.tap_path), "%s/tap.sock", fx.dir);
	signal(SIGPIPE, SIG_IGN); /* as qmpctl tap runs */
	fx.base = event_base_new();
	lfd = unix_socket(fx.qemu_path, true);
	fx.t = qmp_tap_new(fx.base, NULL);
	qmp_tap_set_upstream_cb(fx.t, on_upstream, NULL);
	if (qmp_tap_connect(fx.t, fx.qemu_path, &err) < 0)
		abort();
	deadline = now_ms() + LIMIT_MS;
	while ((fd = accept(lfd, NULL, NULL)) < 0 && now_ms() < deadline)
		pump_for(fx.base, 1);
	if (fd < 0)
		abort();
	close(lfd);
	unlink(fx.qemu_path);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	peer_init(&fx.qemu, fd);
	peer_send(&fx.qemu, PEER_GREETING_OOB);
	caps = peer_recv(&fx.qemu, fx.base, LIMIT_MS);
	if (!caps)
		abort();
	peer_reply(&fx.qemu, caps, "{}");
	json_object_put(caps);
	while (!fx.up && now_ms() < deadline)
		pump_for(fx.base, 1);
	if (!fx.up || qmp_tap_listen(fx.t, fx.tap_path, 0600, &err) < 0)
		abort();
	atexit(tear_down);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long long deadline = now_ms() + LIMIT_MS;
	size_t sent = 0;
	bool eof = false;
	int fd;

	if (!fx.base)
		set_up();
	fd = unix_socket(fx.tap_path, false);
	if (!size)
		shutdown(fd, SHUT_WR);
	while (!eof) {
		char buf[65536];
		ssize_t n;

		if (now_ms() > deadline) {
			fprintf(stderr, "the tap neither answered nor closed a half-closed client\n");
			abort();
		}
		if (sent < size) {
			n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno == EPIPE)
				sent = size; /* the tap closed it (a message too large) */
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				abort();
			if (sent == size)
				shutdown(fd, SHUT_WR);
		}
		event_base_loop(fx.base, EVLOOP_NONBLOCK);
		serve_upstream();
		/* What the tap says to the client is read and dropped. */
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			;
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			eof = true;
	}
	close(fd);
	/* Let the tap see the close before the next client comes. */
	while (qmp_tap_clients(fx.t) && now_ms() < deadline) {
		event_base_loop(fx.base, EVLOOP_NONBLOCK);
		serve_upstream();
	}
	if (qmp_tap_clients(fx.t) || !qmp_tap_upstream_ready(fx.t))
		abort();
	return 0;
}
