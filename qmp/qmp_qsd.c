/* qmp_qsd: spawn, talk to and always end a private qemu-storage-daemon,
 * as a state machine on the caller's event_base. */
#include "qmp_qsd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "qc_buf.h"
#include "qc_spawn.h"
#include "qmp_session.h"

/*
 *   STARTING --greeting, capabilities--> READY --quit--> QUITTING --exit--> DONE
 *   STARTING --daemon exits / monitor closes / timeout--> DONE (ready gets the error)
 */
enum qsd_state {
	QSD_STARTING,
	QSD_READY,
	QSD_QUITTING,
	QSD_DONE,
};

#define QSD_QUIT_MS  10000
#define QSD_ABORT_MS 2000

struct qmp_qsd {
	struct event_base *base;
	enum qsd_state state;
	unsigned timeout_ms;
	pid_t pid; /* > 0 until reaped */
	int status;
	bool exited;
	int pidfd;	       /* readable once the daemon has exited; -1: none */
	struct event *exit_ev; /* on pidfd, or a periodic reaper without one */
	struct event *timer;   /* the deadline of the start or of the quit */
	int logfd;	       /* the daemon's stdout and stderr (memfd) */
	struct qmp_session *s;
	char **nodes;
	size_t n;
	qmp_qsd_fn cb;
	void *opaque;
};

/* The daemon's own words: the first line that says something. */
static char *daemon_message(const struct qmp_qsd *q)
{
	char buf[2048];
	ssize_t got;
	char *p, *msg = NULL;

	if (q->logfd < 0)
		return NULL;
	got = pread(q->logfd, buf, sizeof(buf) - 1, 0);
	if (got <= 0)
		return NULL;
	buf[got] = '\0';
	for (p = strtok(buf, "\r\n"); p && !msg; p = strtok(NULL, "\r\n"))
		if (*p)
			msg = qc_strdup(p);
	return msg;
}

/* Collects the exit status if the daemon has exited. */
static bool reap(struct qmp_qsd *q)
{
	int st;
	pid_t r;

	if (q->pid <= 0)
		return q->exited;
	do
		r = waitpid(q->pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r != q->pid)
		return false;
	q->status = st;
	q->exited = true;
	q->pid = 0;
	if (q->exit_ev)
		event_del(q->exit_ev);
	return true;
}

/* Moves to next and makes the one callback of the current request. */
static void finish(struct qmp_qsd *q, enum qsd_state next, const struct qc_error *err)
{
	qmp_qsd_fn cb = q->cb;

	q->state = next;
	q->cb = NULL;
	if (q->timer)
		event_del(q->timer);
	if (cb)
		cb(q->opaque, q, err);
}

/* The daemon exited (or its time ran out) before its monitor was READY:
 * its own words, if any, are the error. */
static void start_failed(struct qmp_qsd *q, bool timed_out)
{
	struct qc_error *err = NULL;
	char *msg = daemon_message(q);

	if (msg && strstr(msg, "lock"))
		qc_error_set(&err, "an image is in use by a running QEMU (%s)", msg);
	else if (msg)
		qc_error_set(&err, "qemu-storage-daemon failed: %s", msg);
	else if (timed_out)
		qc_error_set(&err, "qemu-storage-daemon did not open its monitor within %u ms", q->timeout_ms);
	else
		qc_error_set(&err, "qemu-storage-daemon failed: it exited without saying why");
	free(msg);
	finish(q, QSD_DONE, err);
	qc_error_free(err);
}

static void quit_done(struct qmp_qsd *q)
{
	struct qc_error *err = NULL;

	if (!WIFEXITED(q->status) || WEXITSTATUS(q->status) != 0) {
		char *msg = daemon_message(q);

		qc_error_set(&err, "qemu-storage-daemon ended badly%s%s", msg ? ": " : "", msg ? msg : "");
		free(msg);
	}
	finish(q, QSD_DONE, err);
	qc_error_free(err);
}

static void on_exit_ev(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_qsd *q = arg;

	(void)fd;
	(void)what;
	if (!reap(q))
		return;
	if (q->state == QSD_STARTING)
		start_failed(q, false);
	else if (q->state == QSD_QUITTING)
		quit_done(q);
}

static void on_state(void *opaque, enum qmp_session_state state, const struct qc_error *err)
{
	struct qmp_qsd *q = opaque;

	if (q->state != QSD_STARTING)
		return;
	(void)err;
	if (state == QMP_SESSION_READY)
		finish(q, QSD_READY, NULL);
	else if (state == QMP_SESSION_CLOSED && reap(q))
		start_failed(q, false);
	/* Closed, not yet reaped: it is exiting; its exit (or the deadline)
	 * decides, once its last words are written. */
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

static char *blockdev_json(const char *driver, const char *node, const char *file_key, const char *file_val,
			   bool readonly)
{
	struct json_object *o = json_object_new_object();
	char *s;

	json_object_object_add(o, "driver", json_object_new_string(driver));
	json_object_object_add(o, "node-name", json_object_new_string(node));
	json_object_object_add(o, file_key, json_object_new_string(file_val));
	json_object_object_add(o, "read-only", json_object_new_boolean(readonly));
	s = qc_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static pid_t spawn_daemon(struct qmp_qsd *q, const struct qmp_qsd_disk *disks, size_t n, int monfd,
			  struct qc_error **errp)
{
	const char *env = getenv("QMPCTL_QSD");
	const char *bin = env && *env ? env : "qemu-storage-daemon";
	struct qc_spawn_opts so = {
		.stdin_fd = -1,
		.stdout_fd = q->logfd,
		.stderr_fd = q->logfd,
		.search_path = true,
		.die_with_parent = true,
		.keep_fd = monfd,
	};
	const char **argv = qc_calloc(4 * n + 8, sizeof(*argv));
	char **owned = qc_calloc(2 * n + 2, sizeof(*owned));
	size_t argc = 0, n_owned = 0;
	pid_t pid;

	argv[argc++] = bin;
	for (size_t i = 0; i < n; i++) {
		char file_node[32];

		snprintf(file_node, sizeof(file_node), "f%zu", i);
		argv[argc++] = "--blockdev";
		argv[argc++] = owned[n_owned++] =
			blockdev_json("file", file_node, "filename", disks[i].file, disks[i].readonly);
		argv[argc++] = "--blockdev";
		argv[argc++] = owned[n_owned++] = blockdev_json(disks[i].format ? disks[i].format : "qcow2",
								q->nodes[i], "file", file_node, disks[i].readonly);
	}
	/* A connected socket by number: no path, nothing to escape. */
	argv[argc++] = "--chardev";
	argv[argc++] = owned[n_owned++] = qc_asprintf("socket,id=qmpctl,fd=%d", monfd);
	argv[argc++] = "--monitor";
	argv[argc++] = "chardev=qmpctl";
	argv[argc] = NULL;
	pid = qc_spawn(argv, &so, errp);
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	free(owned);
	free(argv);
	return pid;
}

struct qmp_qsd *qmp_qsd_spawn(struct event_base *base, const struct qmp_qsd_disk *disks, size_t n, unsigned timeout_ms,
			      qmp_qsd_fn ready, void *opaque, struct qc_error **errp)
{
	struct qmp_qsd *q = qc_calloc(1, sizeof(*q));
	struct qmp_session_opts sopts = { 0 };
	int sv[2] = { -1, -1 };

	q->base = base;
	q->timeout_ms = timeout_ms ? timeout_ms : 30000;
	q->pidfd = q->logfd = -1;
	q->nodes = qc_calloc(n ? n : 1, sizeof(*q->nodes));
	for (size_t i = 0; i < n; i++)
		q->nodes[q->n++] = qc_asprintf("d%zu", i);
	q->logfd = memfd_create("qemu-storage-daemon.log", MFD_CLOEXEC);
	if (q->logfd < 0) {
		qc_error_set_errno(errp, errno, "cannot create a log for qemu-storage-daemon");
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		qc_error_set_errno(errp, errno, "cannot create a socket for qemu-storage-daemon");
		goto fail;
	}
	q->pid = spawn_daemon(q, disks, n, sv[1], errp);
	close(sv[1]);
	if (q->pid < 0) {
		q->pid = 0;
		close(sv[0]);
		goto fail;
	}
#ifdef SYS_pidfd_open
	q->pidfd = (int)syscall(SYS_pidfd_open, q->pid, 0);
#endif
	if (q->pidfd >= 0) {
		q->exit_ev = event_new(base, q->pidfd, EV_READ | EV_PERSIST, on_exit_ev, q);
		event_add(q->exit_ev, NULL);
	} else {
		/* No pidfds (Linux < 5.3): look now and then, on the loop. */
		struct timeval tv = { 0, 50 * 1000 };

		q->exit_ev = event_new(base, -1, EV_PERSIST, on_exit_ev, q);
		event_add(q->exit_ev, &tv);
	}
	q->timer = evtimer_new(base, on_timer, q);
	{
		struct timeval tv = { q->timeout_ms / 1000, (q->timeout_ms % 1000) * 1000 };

		evtimer_add(q->timer, &tv);
	}
	/* The start has its own deadline (above); commands have the same. */
	sopts.command_timeout_ms = q->timeout_ms;
	q->s = qmp_session_new(base, &sopts);
	q->cb = ready;
	q->opaque = opaque;
	qmp_session_set_state_cb(q->s, on_state, q);
	if (qmp_session_attach_fd(q->s, sv[0], errp) < 0) {
		q->cb = NULL;
		goto fail;
	}
	return q;
fail:
	qmp_qsd_free(q);
	return NULL;
}

struct qmp_session *qmp_qsd_session(struct qmp_qsd *q)
{
	return q->s;
}

const char *qmp_qsd_node(const struct qmp_qsd *q, size_t i)
{
	return i < q->n ? q->nodes[i] : NULL;
}

pid_t qmp_qsd_pid(const struct qmp_qsd *q)
{
	return q->pid;
}

struct event_base *qmp_qsd_base(const struct qmp_qsd *q)
{
	return q->base;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_qsd *q = arg;
	struct qc_error *err = NULL;

	(void)fd;
	(void)what;
	if (q->state == QSD_STARTING) {
		start_failed(q, !reap(q));
		return;
	}
	if (reap(q)) {
		quit_done(q);
		return;
	}
	/* The deadline: it will not quit. */
	kill(q->pid, SIGKILL);
	while (waitpid(q->pid, &q->status, 0) < 0 && errno == EINTR)
		;
	qc_error_set(&err, "qemu-storage-daemon (pid %d) did not quit; killed it", (int)q->pid);
	q->pid = 0;
	q->exited = true;
	finish(q, QSD_DONE, err);
	qc_error_free(err);
}

static void ignore_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	/* The daemon may close the socket before it answers: fine. */
	(void)opaque;
	(void)ret;
	(void)err;
}

void qmp_qsd_quit(struct qmp_qsd *q, qmp_qsd_fn done, void *opaque)
{
	struct timeval tv = { QSD_QUIT_MS / 1000, 0 };

	q->cb = done;
	q->opaque = opaque;
	q->state = QSD_QUITTING;
	if (reap(q)) {
		/* Gone already: report from the loop, not from inside this call. */
		tv.tv_sec = 0;
	} else if (q->s && qmp_session_state(q->s) == QMP_SESSION_READY) {
		qmp_session_execute(q->s, "quit", NULL, 0, NULL, 0, 0, ignore_reply, NULL, NULL);
	} else {
		kill(q->pid, SIGTERM);
	}
	evtimer_add(q->timer, &tv);
}

void qmp_qsd_free(struct qmp_qsd *q)
{
	if (!q)
		return;
	q->cb = NULL;
	if (q->s) {
		qmp_session_set_state_cb(q->s, NULL, NULL);
		qmp_session_free(q->s);
	}
	if (q->pid > 0 && !reap(q)) {
		int st;
		struct qc_error *err = NULL;

		/* An abort: let it close the images cleanly, but wait for the
		 * exit, so that nothing is left holding their locks. */
		kill(q->pid, SIGTERM);
		if (qc_spawn_wait(q->pid, QSD_ABORT_MS, &st, &err) < 0) {
			qc_error_free(err);
			kill(q->pid, SIGKILL);
			while (waitpid(q->pid, &st, 0) < 0 && errno == EINTR)
				;
		}
	}
	if (q->exit_ev)
		event_free(q->exit_ev);
	if (q->timer)
		event_free(q->timer);
	if (q->pidfd >= 0)
		close(q->pidfd);
	if (q->logfd >= 0)
		close(q->logfd);
	for (size_t i = 0; i < q->n; i++)
		free(q->nodes[i]);
	free(q->nodes);
	free(q);
}
