/*
 * qmp_transport: non-blocking stream socket on a bufferevent, with
 * SCM_RIGHTS for messages that carry file descriptors.
 *
 * Ordinary data goes through the bufferevent's output buffer.  A message
 * with fds must be written with sendmsg() so the fds ride on its first byte;
 * it may only be written once everything queued before it is on the wire.
 * Such messages (and anything sent after them) wait in `held` until the
 * output buffer drains, then go out in order.
 */
#include "qmp_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "qc_buf.h"

#define MAX_FDS 16 /* QEMU accepts few fds per message; keep control data small */
#define READ_CHUNK (256 * 1024)

struct held_msg {
	struct held_msg *next;
	char *data;
	size_t len, off;
	int fds[MAX_FDS];
	size_t nfds; /* 0 once the fds have gone out with the first byte */
};

struct qmp_transport {
	struct event_base *base;
	struct qmp_transport_cbs cbs;
	void *opaque;
	struct bufferevent *bev;
	struct event *connect_ev; /* write-ready wait (TCP) or deferred on_connect */
	struct event *retry_ev;   /* socket full while sending a message with fds */
	int fd;                   /* owned until bev takes it */
	bool is_unix;
	bool connected;
	bool closed;
	int busy;       /* callbacks on the stack */
	bool free_me;   /* qmp_transport_free called while busy */
	struct held_msg *held, **held_tail;
	struct qc_error *close_err;
};

static void held_free(struct held_msg *m)
{
	for (size_t i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	free(m->data);
	free(m);
}

static void transport_release(struct qmp_transport *t)
{
	struct held_msg *m;

	if (t->connect_ev) {
		event_free(t->connect_ev);
		t->connect_ev = NULL;
	}
	if (t->retry_ev) {
		event_free(t->retry_ev);
		t->retry_ev = NULL;
	}
	if (t->bev) {
		/* libevent closes the fd only when the loop next runs; end the
		 * connection now so QEMU's monitor is free for its next client
		 * even if the caller never runs the loop again. */
		int fd = bufferevent_getfd(t->bev);

		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
		bufferevent_free(t->bev); /* closes the fd (BEV_OPT_CLOSE_ON_FREE) */
		t->bev = NULL;
	} else if (t->fd >= 0) {
		close(t->fd);
	}
	t->fd = -1;
	while ((m = t->held)) {
		t->held = m->next;
		held_free(m);
	}
	t->held_tail = &t->held;
}

/* Runs at the end of every callback entry point: honours a free requested
 * from inside a user callback.  Returns true if t is gone. */
static bool leave(struct qmp_transport *t)
{
	if (--t->busy == 0 && t->free_me) {
		transport_release(t);
		qc_error_free(t->close_err);
		free(t);
		return true;
	}
	return false;
}

static void fail(struct qmp_transport *t, struct qc_error *err)
{
	if (t->closed) {
		qc_error_free(err);
		return;
	}
	t->closed = true;
	t->close_err = err;
	transport_release(t);
	if (t->cbs.on_close)
		t->cbs.on_close(t->opaque, err);
}

struct qmp_transport *qmp_transport_new(struct event_base *base, const struct qmp_transport_cbs *cbs,
					void *opaque)
{
	struct qmp_transport *t = qc_calloc(1, sizeof(*t));

	t->base = base;
	t->cbs = *cbs;
	t->opaque = opaque;
	t->fd = -1;
	t->held_tail = &t->held;
	return t;
}

/* Writes what it can of held messages; false when a socket error closed t. */
static bool flush_held(struct qmp_transport *t)
{
	struct held_msg *m;
	int fd = bufferevent_getfd(t->bev);

	while ((m = t->held) && evbuffer_get_length(bufferevent_get_output(t->bev)) == 0) {
		struct iovec iov = { m->data + m->off, m->len - m->off };
		union {
			char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
			struct cmsghdr align;
		} ctl;
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (m->nfds) {
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			msg.msg_control = ctl.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
			memcpy(CMSG_DATA(c), m->fds, sizeof(int) * m->nfds);
		}
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* The bufferevent only watches EV_WRITE while its own
				 * output is pending, so wait for the socket here. */
				event_add(t->retry_ev, NULL);
				return true;
			}
			struct qc_error *err = NULL;

			qc_error_set_errno(&err, errno, "cannot send to QEMU");
			fail(t, err);
			return false;
		}
		for (size_t i = 0; i < m->nfds; i++)
			close(m->fds[i]);
		m->nfds = 0;
		m->off += (size_t)n;
		if (m->off < m->len) {
			/* The fds are out; the rest is ordinary data. */
			bufferevent_write(t->bev, m->data + m->off, m->len - m->off);
			m->off = m->len;
		}
		t->held = m->next;
		if (!t->held)
			t->held_tail = &t->held;
		held_free(m);
	}
	return true;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct qmp_transport *t = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	static char chunk[READ_CHUNK];

	t->busy++;
	while (!t->closed && !t->free_me && evbuffer_get_length(in) > 0) {
		int n = evbuffer_remove(in, chunk, sizeof(chunk));

		if (n <= 0)
			break;
		if (t->cbs.on_data)
			t->cbs.on_data(t->opaque, chunk, (size_t)n);
	}
	leave(t);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct qmp_transport *t = arg;

	(void)bev;
	t->busy++;
	if (t->held)
		flush_held(t);
	leave(t);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_transport *t = arg;

	(void)fd;
	(void)what;
	t->busy++;
	if (t->held)
		flush_held(t);
	leave(t);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct qmp_transport *t = arg;
	struct qc_error *err = NULL;

	(void)bev;
	t->busy++;
	if (what & BEV_EVENT_EOF) {
		fail(t, NULL);
	} else if (what & BEV_EVENT_ERROR) {
		int e = EVUTIL_SOCKET_ERROR();

		qc_error_set_errno(&err, e ? e : EIO, "connection to QEMU failed");
		fail(t, err);
	}
	leave(t);
}

static int start_bev(struct qmp_transport *t, struct qc_error **errp)
{
	t->bev = bufferevent_socket_new(t->base, t->fd, BEV_OPT_CLOSE_ON_FREE);
	if (!t->bev) {
		qc_error_set(errp, "cannot set up the connection");
		return -1;
	}
	t->retry_ev = event_new(t->base, bufferevent_getfd(t->bev), EV_WRITE, on_retry, t);
	t->fd = -1;
	bufferevent_setcb(t->bev, on_read, on_write, on_event, t);
	bufferevent_set_max_single_read(t->bev, READ_CHUNK);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
	return 0;
}

static void on_connected(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_transport *t = arg;
	struct qc_error *err = NULL;
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	(void)what;
	t->busy++;
	event_free(t->connect_ev);
	t->connect_ev = NULL;
	if (!t->bev) {
		/* TCP connect finished: see how. */
		if (getsockopt((int)fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr) {
			qc_error_set_errno(&err, soerr, "cannot connect");
			fail(t, err);
			leave(t);
			return;
		}
		if (start_bev(t, &err) < 0) {
			fail(t, err);
			leave(t);
			return;
		}
	}
	t->connected = true;
	if (t->cbs.on_connect)
		t->cbs.on_connect(t->opaque);
	if (!t->closed && !t->free_me && t->held)
		flush_held(t);
	leave(t);
}

static int resolve(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen, bool *is_unix,
		   struct qc_error **errp)
{
	const char *path = addr;

	memset(ss, 0, sizeof(*ss));
	if (!strncmp(addr, "tcp:", 4)) {
		const char *hp = addr + 4, *colon = strrchr(hp, ':');
		char host[256];
		char *end;
		unsigned long port;
		size_t hl;

		if (!colon || colon == hp) {
			qc_error_set(errp, "invalid address '%s': expected tcp:HOST:PORT", addr);
			return -1;
		}
		hl = (size_t)(colon - hp);
		if (hp[0] == '[' && hl >= 2 && hp[hl - 1] == ']') {
			hp++;
			hl -= 2;
		}
		if (hl >= sizeof(host)) {
			qc_error_set(errp, "invalid address '%s': host name too long", addr);
			return -1;
		}
		memcpy(host, hp, hl);
		host[hl] = '\0';
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || !colon[1] || port == 0 || port > 65535) {
			qc_error_set(errp, "invalid address '%s': bad port", addr);
			return -1;
		}
		if (!strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
		struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
			if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
				goto not_loopback;
			in4->sin_family = AF_INET;
			in4->sin_port = htons((uint16_t)port);
			*sslen = sizeof(*in4);
		} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
			if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
				goto not_loopback;
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons((uint16_t)port);
			*sslen = sizeof(*in6);
		} else {
			qc_error_set(errp, "invalid address '%s': host must be a loopback address", addr);
			return -1;
		}
		*is_unix = false;
		return 0;
not_loopback:
		qc_error_set(errp, "refusing '%s': QMP has no authentication, only loopback TCP is allowed", addr);
		return -1;
	}
	if (!strncmp(addr, "unix:", 5))
		path = addr + 5;
	struct sockaddr_un *un = (struct sockaddr_un *)ss;

	if (!*path) {
		qc_error_set(errp, "empty socket path");
		return -1;
	}
	if (strlen(path) >= sizeof(un->sun_path)) {
		qc_error_set(errp, "socket path too long (%zu bytes, the limit is %zu): %s", strlen(path),
			     sizeof(un->sun_path) - 1, path);
		return -1;
	}
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, path);
	*sslen = (socklen_t)sizeof(*un);
	*is_unix = true;
	return 0;
}

char *qmp_transport_describe(const char *addr)
{
	if (!strncmp(addr, "unix:", 5))
		return qc_strdup(addr + 5);
	if (!strncmp(addr, "tcp:", 4))
		return qc_strdup(addr + 4);
	return qc_strdup(addr);
}

int qmp_transport_connect(struct qmp_transport *t, const char *addr, struct qc_error **errp)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	bool is_unix;
	int fd;

	if (t->fd >= 0 || t->bev || t->closed) {
		qc_error_set(errp, "transport already in use");
		return -1;
	}
	if (resolve(addr, &ss, &sslen, &is_unix, errp) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		qc_error_set_errno(errp, errno, "cannot create a socket");
		return -1;
	}
	t->is_unix = is_unix;
	t->fd = fd;
	while (connect(fd, (struct sockaddr *)&ss, sslen) < 0) {
		char *what;

		if (errno == EINTR)
			continue;
		if (errno == EINPROGRESS && !is_unix) {
			t->connect_ev = event_new(t->base, fd, EV_WRITE, on_connected, t);
			event_add(t->connect_ev, NULL);
			return 0;
		}
		what = qmp_transport_describe(addr);
		if (errno == EAGAIN)
			qc_error_set(errp,
				     "cannot connect to %s: the monitor's queue of waiting clients is full "
				     "(QEMU serves one client per monitor socket)",
				     what);
		else
			qc_error_set_errno(errp, errno, "cannot connect to %s", what);
		free(what);
		close(fd);
		t->fd = -1;
		return -1;
	}
	if (start_bev(t, errp) < 0)
		return -1;
	/* Tell the caller from the loop, never from inside this call. */
	t->connect_ev = event_new(t->base, -1, 0, on_connected, t);
	event_active(t->connect_ev, 0, 0);
	return 0;
}

int qmp_transport_attach_fd(struct qmp_transport *t, int fd, struct qc_error **errp)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fl;

	if (t->fd >= 0 || t->bev || t->closed) {
		close(fd);
		qc_error_set(errp, "transport already in use");
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		qc_error_set_errno(errp, errno, "cannot use socket %d", fd);
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	t->is_unix = getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_UNIX;
	t->fd = fd;
	if (start_bev(t, errp) < 0)
		return -1;
	t->connect_ev = event_new(t->base, -1, 0, on_connected, t);
	event_active(t->connect_ev, 0, 0);
	return 0;
}

int qmp_transport_send(struct qmp_transport *t, const void *data, size_t len, const int *fds, size_t nfds,
		       struct qc_error **errp)
{
	struct held_msg *m;

	if (t->closed || !t->bev) {
		qc_error_set(errp, "not connected");
		return -1;
	}
	if (nfds > MAX_FDS) {
		qc_error_set(errp, "too many file descriptors in one message (%zu, at most %d)", nfds, MAX_FDS);
		return -1;
	}
	if (nfds && !t->is_unix) {
		qc_error_set(errp, "file descriptors can only be passed over a unix socket");
		return -1;
	}
	if (!nfds && !t->held) {
		if (bufferevent_write(t->bev, data, len) < 0) {
			qc_error_set(errp, "cannot queue %zu bytes", len);
			return -1;
		}
		return 0;
	}
	m = qc_calloc(1, sizeof(*m));
	for (size_t i = 0; i < nfds; i++) {
		m->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (m->fds[i] < 0) {
			qc_error_set_errno(errp, errno, "cannot pass file descriptor %d", fds[i]);
			m->nfds = i;
			held_free(m);
			return -1;
		}
	}
	m->nfds = nfds;
	m->data = qc_malloc(len);
	memcpy(m->data, data, len);
	m->len = len;
	*t->held_tail = m;
	t->held_tail = &m->next;
	/* Written from the loop, so a failure reaches on_close from there
	 * and never from inside this call. */
	if (t->connected && evbuffer_get_length(bufferevent_get_output(t->bev)) == 0)
		event_active(t->retry_ev, EV_WRITE, 0);
	return 0;
}

size_t qmp_transport_pending(const struct qmp_transport *t)
{
	size_t n = 0;

	if (t->bev)
		n = evbuffer_get_length(bufferevent_get_output(t->bev));
	for (const struct held_msg *m = t->held; m; m = m->next)
		n += m->len - m->off;
	return n;
}

bool qmp_transport_is_unix(const struct qmp_transport *t)
{
	return t->is_unix;
}

int qmp_transport_peer_pid(const struct qmp_transport *t)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = t->bev ? (int)bufferevent_getfd(t->bev) : t->fd;

	if (!t->is_unix || fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0)
		return 0;
	return (int)cred.pid;
}

void qmp_transport_close(struct qmp_transport *t)
{
	if (t->closed)
		return;
	t->closed = true;
	transport_release(t);
}

void qmp_transport_free(struct qmp_transport *t)
{
	if (!t)
		return;
	if (t->busy) {
		t->free_me = true;
		t->closed = true;
		return;
	}
	transport_release(t);
	qc_error_free(t->close_err);
	free(t);
}
