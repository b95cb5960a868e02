/* qmp_qsd: spawn, talk to and always end a private qemu-storage-daemon. */
#include "qmp_qsd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qc_buf.h"
#include "qc_spawn.h"
#include "qmp_session.h"
#include "qmp_sync.h"

struct qmp_qsd {
	struct event_base *base;
	pid_t pid;
	char *dir, *sock, *log;
	struct qmp_session *s;
	char **nodes;
	size_t n;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The daemon's own words, first line that says something. */
static char *daemon_message(const char *log)
{
	FILE *f = fopen(log, "r");
	char line[1024];
	char *msg = NULL;

	if (!f)
		return NULL;
	while (!msg && fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);

		while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (l)
			msg = qc_strdup(line);
	}
	fclose(f);
	return msg;
}

static void cleanup(struct qmp_qsd *q)
{
	if (q->s)
		qmp_session_free(q->s);
	if (q->pid > 0) {
		int st;
		struct qc_error *err = NULL;

		if (qc_spawn_wait(q->pid, 0, &st, &err) < 0) {
			qc_error_free(err);
			err = NULL;
			kill(q->pid, SIGTERM);
			if (qc_spawn_wait(q->pid, 3000, &st, &err) < 0) {
				qc_error_free(err);
				kill(q->pid, SIGKILL);
				waitpid(q->pid, &st, 0);
			}
		}
	}
	if (q->sock)
		unlink(q->sock);
	if (q->log)
		unlink(q->log);
	if (q->dir)
		rmdir(q->dir);
	for (size_t i = 0; i < q->n; i++)
		free(q->nodes[i]);
	free(q->nodes);
	free(q->sock);
	free(q->log);
	free(q->dir);
	free(q);
}

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

struct qmp_qsd *qmp_qsd_start(struct event_base *base, const struct qmp_qsd_disk *disks, size_t n,
			      unsigned timeout_ms, struct qc_error **errp)
{
	struct qmp_qsd *q = qc_calloc(1, sizeof(*q));
	const char *bin = getenv("QMPCTL_QSD") && *getenv("QMPCTL_QSD") ? getenv("QMPCTL_QSD")
									   : "qemu-storage-daemon";
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct qc_spawn_opts so = { -1, -1, -1, true };
	const char **argv = NULL;
	char **owned = NULL;
	size_t argc = 0, n_owned = 0;
	char *chardev, *tmpl;
	long long deadline;
	int logfd = -1;
	struct qmp_session_opts sopts = { 0 };

	q->base = base;
	tmpl = qc_asprintf("%s/qmpctl-qsd.XXXXXX", tmp);
	if (!mkdtemp(tmpl)) {
		qc_error_set_errno(errp, errno, "cannot create a temporary directory in %s", tmp);
		free(tmpl);
		free(q);
		return NULL;
	}
	q->dir = tmpl;
	q->sock = qc_asprintf("%s/qmp.sock", q->dir);
	q->log = qc_asprintf("%s/stderr.log", q->dir);
	logfd = open(q->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	argv = qc_calloc(4 * n + 8, sizeof(*argv));
	owned = qc_calloc(2 * n + 2, sizeof(*owned));
	argv[argc++] = bin;
	q->nodes = qc_calloc(n ? n : 1, sizeof(*q->nodes));
	for (size_t i = 0; i < n; i++) {
		char file_node[32];

		snprintf(file_node, sizeof(file_node), "f%zu", i);
		q->nodes[i] = qc_asprintf("d%zu", i);
		q->n++;
		argv[argc++] = "--blockdev";
		argv[argc++] = owned[n_owned++] =
			blockdev_json("file", file_node, "filename", disks[i].file, disks[i].readonly);
		argv[argc++] = "--blockdev";
		argv[argc++] = owned[n_owned++] = blockdev_json(disks[i].format ? disks[i].format : "qcow2",
								 q->nodes[i], "file", file_node, disks[i].readonly);
	}
	chardev = qc_asprintf("socket,path=%s,server=on,wait=off,id=qmpctl", q->sock);
	argv[argc++] = "--chardev";
	argv[argc++] = owned[n_owned++] = chardev;
	argv[argc++] = "--monitor";
	argv[argc++] = "chardev=qmpctl";
	argv[argc] = NULL;
	so.stderr_fd = logfd;
	so.stdout_fd = logfd;
	q->pid = qc_spawn(argv, &so, errp);
	if (logfd >= 0)
		close(logfd);
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	free(owned);
	free(argv);
	if (q->pid < 0) {
		q->pid = 0;
		goto fail;
	}

	/* Wait for the socket, or for the daemon to give up (a lock, a bad
	 * image): then its message is the error. */
	deadline = now_ms() + (timeout_ms ? timeout_ms : 30000);
	for (;;) {
		struct stat st;
		int status;
		pid_t r = waitpid(q->pid, &status, WNOHANG);

		if (r == q->pid) {
			char *msg = daemon_message(q->log);

			q->pid = 0;
			if (msg && strstr(msg, "lock"))
				qc_error_set(errp, "an image is in use by a running QEMU (%s)", msg);
			else
				qc_error_set(errp, "qemu-storage-daemon failed: %s",
					     msg ? msg : "it exited without saying why");
			free(msg);
			goto fail;
		}
		if (stat(q->sock, &st) == 0 && S_ISSOCK(st.st_mode))
			break;
		if (now_ms() > deadline) {
			qc_error_set(errp, "qemu-storage-daemon did not open its monitor within %u ms", timeout_ms);
			goto fail;
		}
		usleep(5000);
	}
	/* The socket exists from bind(); the daemon listens a moment later. */
	sopts.greeting_timeout_ms = sopts.command_timeout_ms = timeout_ms ? timeout_ms : 30000;
	for (;;) {
		struct qc_error *err = NULL;

		q->s = qmp_sync_open(base, q->sock, &sopts, &err);
		if (q->s)
			break;
		if (err->errnum != ECONNREFUSED || now_ms() > deadline) {
			qc_error_propagate(errp, err);
			goto fail;
		}
		qc_error_free(err);
		usleep(5000);
	}
	return q;
fail:
	cleanup(q);
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

int qmp_qsd_stop(struct qmp_qsd *q, struct qc_error **errp)
{
	struct qc_error *err = NULL;
	struct json_object *ret;
	int status, rc = 0;

	if (!q)
		return 0;
	if (q->s && qmp_session_state(q->s) == QMP_SESSION_READY) {
		ret = qmp_sync_execute(q->base, q->s, "quit", NULL, &err);
		json_object_put(ret);
		/* The daemon may close the socket before answering: fine. */
		qc_error_free(err);
		err = NULL;
	}
	if (q->pid > 0) {
		if (qc_spawn_wait(q->pid, 10000, &status, &err) < 0) {
			qc_error_free(err);
			kill(q->pid, SIGKILL);
			waitpid(q->pid, &status, 0);
			qc_error_set(errp, "qemu-storage-daemon (pid %d) did not quit; killed it", (int)q->pid);
			rc = -1;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char *msg = daemon_message(q->log);

			qc_error_set(errp, "qemu-storage-daemon ended badly%s%s", msg ? ": " : "", msg ? msg : "");
			free(msg);
			rc = -1;
		}
		q->pid = 0;
	}
	cleanup(q);
	return rc;
}
