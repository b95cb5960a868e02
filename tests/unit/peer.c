/*
 * peer: a scripted stand-in for QEMU's side of a QMP socket (see peer.h).
 *
 * Failures inside the peer abort() instead of using cmocka's asserts, since
 * the peer also runs on helper threads where cmocka's longjmp is not allowed.
 */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

static void peer_die(const char *what)
{
	fprintf(stderr, "peer: %s: %s\n", what, strerror(errno));
	abort();
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool pump_until(struct event_base *base, bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (cond(arg))
			return true;
		if (now_ms() >= deadline)
			return cond(arg);
		sleep_ms(1);
	}
}

void pump_for(struct event_base *base, int ms)
{
	long long deadline = now_ms() + ms;

	do {
		event_base_loop(base, EVLOOP_NONBLOCK);
		sleep_ms(1);
	} while (now_ms() < deadline);
	event_base_loop(base, EVLOOP_NONBLOCK);
}

void peer_init(struct peer *p, int fd)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->tok = json_tokener_new();
	if (!p->tok)
		abort();
}

int peer_open(struct peer *p, int *session_fd, bool nonblock)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (nonblock) {
		int fl = fcntl(sv[1], F_GETFL);

		if (fl < 0 || fcntl(sv[1], F_SETFL, fl | O_NONBLOCK) < 0) {
			close(sv[0]);
			close(sv[1]);
			return -1;
		}
	}
	peer_init(p, sv[1]);
	*session_fd = sv[0];
	return 0;
}

void peer_close(struct peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

void peer_fini(struct peer *p)
{
	peer_close(p);
	for (size_t i = 0; i < p->nmsgs; i++)
		json_object_put(p->msgs[i]);
	p->nmsgs = 0;
	for (size_t i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	p->nfds = 0;
	if (p->tok)
		json_tokener_free(p->tok);
	p->tok = NULL;
}

void peer_send_raw(struct peer *p, const char *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(p->fd, data + off, len - off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };
				long long deadline = now_ms() + 2000;

				while (poll(&pfd, 1, p->pump_base ? 0 : 2000) == 0) {
					if (!p->pump_base || now_ms() > deadline)
						peer_die("send: socket stays full");
					event_base_loop(p->pump_base, EVLOOP_NONBLOCK);
					sleep_ms(1);
				}
				continue;
			}
			if (errno == EPIPE || errno == ECONNRESET) {
				/* The session hung up: what it missed is the test's to judge. */
				p->eof = true;
				return;
			}
			peer_die("send");
		}
		off += (size_t)n;
	}
}

void peer_send(struct peer *p, const char *json)
{
	size_t len = strlen(json);
	char *line = malloc(len + 2);

	if (!line)
		abort();
	/* One write, as QEMU does: the session may hang up right after. */
	memcpy(line, json, len);
	memcpy(line + len, "\r\n", 2);
	peer_send_raw(p, line, len + 2);
	free(line);
}

static void peer_send_obj(struct peer *p, struct json_object *obj)
{
	peer_send(p, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_SPACED));
}

static struct json_object *parse_or_die(const char *json)
{
	struct json_object *o = json_tokener_parse(json);

	if (!o && strcmp(json, "null") != 0) {
		fprintf(stderr, "peer: bad canned JSON: %s\n", json);
		abort();
	}
	return o;
}

static void add_id(struct json_object *msg, struct json_object *req)
{
	struct json_object *id;

	if (req && json_object_object_get_ex(req, "id", &id))
		json_object_object_add(msg, "id", json_object_get(id));
}

void peer_reply(struct peer *p, struct json_object *req, const char *ret_json)
{
	struct json_object *msg = json_object_new_object();

	json_object_object_add(msg, "return", parse_or_die(ret_json));
	add_id(msg, req);
	peer_send_obj(p, msg);
	json_object_put(msg);
}

void peer_reply_error(struct peer *p, struct json_object *req, const char *cls, const char *desc)
{
	struct json_object *msg = json_object_new_object();
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(msg, "error", e);
	add_id(msg, req);
	peer_send_obj(p, msg);
	json_object_put(msg);
}

void peer_event(struct peer *p, const char *name, const char *data_json)
{
	struct json_object *msg = json_object_new_object();
	struct json_object *ts = json_object_new_object();

	json_object_object_add(ts, "seconds", json_object_new_int64(1732525200));
	json_object_object_add(ts, "microseconds", json_object_new_int(250000));
	json_object_object_add(msg, "timestamp", ts);
	json_object_object_add(msg, "event", json_object_new_string(name));
	if (data_json)
		json_object_object_add(msg, "data", parse_or_die(data_json));
	peer_send_obj(p, msg);
	json_object_put(msg);
}

static void peer_parse(struct peer *p, const char *data, size_t len)
{
	while (len > 0 && !p->bad) {
		struct json_object *o = json_tokener_parse_ex(p->tok, data, (int)len);
		enum json_tokener_error e = json_tokener_get_error(p->tok);
		size_t used = json_tokener_get_parse_end(p->tok);

		if (e == json_tokener_continue)
			return; /* all consumed, object incomplete */
		if (e != json_tokener_success || !o) {
			fprintf(stderr, "peer: session sent bad JSON: %s\n", json_tokener_error_desc(e));
			p->bad = true;
			return;
		}
		json_tokener_reset(p->tok);
		if (p->nmsgs == PEER_MAX_MSGS) {
			fprintf(stderr, "peer: too many unread messages\n");
			abort();
		}
		p->msgs[p->nmsgs++] = o;
		if (used == 0 || used > len)
			abort();
		data += used;
		len -= used;
	}
}

size_t peer_poll(struct peer *p)
{
	size_t total = 0;

	while (!p->eof && p->fd >= 0) {
		char buf[65536];
		union {
			struct cmsghdr hdr;
			char space[CMSG_SPACE(sizeof(int) * PEER_MAX_FDS)];
		} cbuf;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.space,
				     .msg_controllen = sizeof(cbuf.space) };
		ssize_t n = recvmsg(p->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ECONNRESET) {
				p->eof = true;
				break;
			}
			peer_die("recvmsg");
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (p->nfds < PEER_MAX_FDS)
					p->fds[p->nfds++] = fd;
				else
					close(fd);
			}
		}
		if (n == 0) {
			p->eof = true;
			break;
		}
		peer_parse(p, buf, (size_t)n);
		total += (size_t)n;
	}
	return total;
}

static struct json_object *peer_take_msg(struct peer *p)
{
	struct json_object *o;

	if (p->nmsgs == 0)
		return NULL;
	o = p->msgs[0];
	memmove(&p->msgs[0], &p->msgs[1], (p->nmsgs - 1) * sizeof(p->msgs[0]));
	p->nmsgs--;
	return o;
}

static void peer_wait_step(struct peer *p, struct event_base *base)
{
	if (base) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		sleep_ms(1);
	} else {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

		poll(&pfd, 1, 10);
	}
}

struct json_object *peer_recv(struct peer *p, struct event_base *base, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct json_object *o;

		peer_poll(p);
		o = peer_take_msg(p);
		if (o || p->eof || p->bad)
			return o;
		if (now_ms() >= deadline)
			return NULL;
		peer_wait_step(p, base);
	}
}

bool peer_wait_eof(struct peer *p, struct event_base *base, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		peer_poll(p);
		if (p->eof)
			return true;
		if (now_ms() >= deadline)
			return false;
		peer_wait_step(p, base);
	}
}

int peer_take_fd(struct peer *p)
{
	int fd;

	if (p->nfds == 0)
		return -1;
	fd = p->fds[0];
	memmove(&p->fds[0], &p->fds[1], (p->nfds - 1) * sizeof(int));
	p->nfds--;
	return fd;
}

const char *peer_msg_command(struct json_object *msg)
{
	struct json_object *v;

	if (!msg)
		return NULL;
	if (json_object_object_get_ex(msg, "execute", &v) || json_object_object_get_ex(msg, "exec-oob", &v))
		return json_object_get_string(v);
	return NULL;
}

bool peer_msg_is_oob(struct json_object *msg)
{
	return msg && json_object_object_get_ex(msg, "exec-oob", NULL);
}

struct json_object *peer_msg_arguments(struct json_object *msg)
{
	struct json_object *v = NULL;

	if (msg && json_object_object_get_ex(msg, "arguments", &v))
		return v;
	return NULL;
}
