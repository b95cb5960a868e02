/*
 * qmpctl qmp: one QMP command, or (--batch) many from stdin pipelined on
 * one session with replies printed in input order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "qc_buf.h"
#include "qmp_args.h"
#include "qmp_sync.h"
#include "qmpctl.h"

static const char usage[] =
	"Usage: qmpctl qmp [OPTIONS] VM COMMAND [ARGS...]\n"
	"       qmpctl qmp [OPTIONS] VM --batch < COMMANDS\n"
	"\n"
	"Run a QMP command and print its return value as JSON (pretty; compact with --json).\n"
	"\n"
	"COMMAND may also be a whole QMP command, {\"execute\": ..., \"arguments\": ...}.\n"
	"ARGS is one JSON object, or key=value words as in qmp-shell: dotted keys build\n"
	"nested objects (a.b=1), values that parse as JSON (numbers, true, false, null,\n"
	"[...], {...}, \"...\") are used as JSON, anything else is a string.\n"
	"\n"
	"  -b, --batch         read commands from stdin, one per line ('cmd key=value ...'\n"
	"                      or {\"execute\": ..., \"arguments\": ...}), send them all at\n"
	"                      once and print each return value as one JSON line, in order\n"
	"                      (a failed command: its {\"error\": ...} line, and the message\n"
	"                      with its line number on stderr)\n"
	"  -F, --fd FILE       open FILE and pass its descriptor with the command\n"
	"                      (SCM_RIGHTS, for getfd and add-fd; unix sockets only)\n"
	"  -s, --socket PATH   QMP socket (then VM is left out)\n"
	"      --json          compact JSON output\n"
	"  -t, --timeout SEC   give up on a reply after SEC seconds (default 30)\n"
	"  -v, --verbose       print every QMP message on stderr\n"
	"  -h, --help          show this help\n"
	"\n"
	"Examples:\n"
	"  qmpctl qmp /run/vm.qmp query-status\n"
	"  qmpctl qmp /run/vm.qmp human-monitor-command command-line='info version'\n"
	"  qmpctl qmp /run/vm.qmp blockdev-add '{\"driver\": \"null-co\", \"node-name\": \"n0\"}'\n"
	"  qmpctl qmp /run/vm.qmp '{\"execute\": \"query-name\"}'\n"
	"\n"
	"Exit status: 0 on success, 1 on an error (\"qmpctl: CLASS: description\"), 2 on bad usage.\n";

#define BATCH_INFLIGHT 256

struct qmp_opts {
	bool batch;
	const char *fd_file;
};

static int own_opt(void *opaque, int opt, const char *arg)
{
	struct qmp_opts *o = opaque;

	(void)arg;
	if (opt == 'b') {
		o->batch = true;
		return 0;
	}
	if (opt == 'F') {
		o->fd_file = arg;
		return 0;
	}
	return 1;
}

/* ---- batch mode ----------------------------------------------------- */

struct slot {
	char *out; /* compact JSON of the return value; NULL until done */
	struct qc_error *err;
	unsigned lineno; /* of the command in the input */
	bool done;
};

struct batch {
	struct qc_ctx *ctx;
	struct qmp_session *s;
	struct slot *slots;
	size_t n, cap, next_print;
	size_t failed;
	struct qc_buf pending; /* an incomplete line from stdin */
	struct event *stdin_ev;
	bool eof;
	struct qc_error *fatal;
	unsigned lineno;
};

struct batch_req {
	struct batch *b;
	size_t index;
};

/* {"error": {"class": ..., "desc": ...}}, as QEMU words a failure. */
static void print_error_line(const struct qc_error *err)
{
	struct json_object *reply = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(err->qmp_class ? err->qmp_class : "GenericError"));
	json_object_object_add(e, "desc", json_object_new_string(err->msg));
	json_object_object_add(reply, "error", e);
	puts(json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(reply);
}

static void batch_flush(struct batch *b)
{
	while (b->next_print < b->n && b->slots[b->next_print].done) {
		struct slot *sl = &b->slots[b->next_print++];

		if (sl->err) {
			struct qc_error *e = sl->err;

			/* A line for every command, so that output N answers input
			 * line N; the message on stderr says which line it was. */
			b->failed++;
			print_error_line(e);
			fflush(stdout);
			cli_error("line %u: %s%s%s", sl->lineno, e->qmp_class ? e->qmp_class : "",
				  e->qmp_class ? ": " : "", e->msg);
			qc_error_free(e);
			sl->err = NULL;
		} else {
			puts(sl->out);
		}
		free(sl->out);
		sl->out = NULL;
	}
	/* Flush when caught up, not per line: a write per reply would cost
	 * as much as the reply itself. */
	if (b->next_print == b->n)
		fflush(stdout);
}

static void batch_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct batch_req *r = opaque;
	struct batch *b = r->b;
	struct slot *sl = &b->slots[r->index];

	sl->done = true;
	if (err)
		sl->err = qc_error_copy(err);
	else
		sl->out = qc_strdup(json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN |
									     JSON_C_TO_STRING_NOSLASHESCAPE));
	free(r);
	batch_flush(b);
}

static struct slot *batch_slot(struct batch *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->slots = qc_realloc(b->slots, b->cap * sizeof(*b->slots));
	}
	memset(&b->slots[b->n], 0, sizeof(b->slots[0]));
	return &b->slots[b->n++];
}

static void batch_line(struct batch *b, const char *line)
{
	struct qc_error *err = NULL;
	struct json_object *args;
	struct batch_req *r;
	char *cmd;
	const char *p = line;

	b->lineno++;
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (!*p || *p == '#')
		return;
	struct slot *sl = batch_slot(b);

	sl->lineno = b->lineno;
	if (qmp_args_parse_line(p, &cmd, &args, &err) < 0) {
		sl->err = err;
		sl->done = true;
		return;
	}
	r = qc_calloc(1, sizeof(*r));
	r->b = b;
	r->index = b->n - 1;
	if (!qmp_session_execute(b->s, cmd, args, 0, NULL, 0, 0, batch_reply, r, &err)) {
		sl->err = err;
		sl->done = true;
		free(r);
	}
	free(cmd);
}

static void batch_feed(struct batch *b, const char *data, size_t len)
{
	char *nl;

	size_t done = 0;

	qc_buf_append(&b->pending, data, len);
	/* Lines are taken in place; the buffer moves once per read, not per
	 * line. */
	while (done < b->pending.len && (nl = memchr(b->pending.data + done, '\n', b->pending.len - done))) {
		*nl = '\0';
		batch_line(b, b->pending.data + done);
		done = (size_t)(nl - b->pending.data) + 1;
	}
	qc_buf_consume(&b->pending, done);
}

static void batch_eof(struct batch *b)
{
	b->eof = true;
	if (b->pending.len) {
		char *last = qc_buf_steal(&b->pending);

		batch_line(b, last);
		free(last);
	}
	batch_flush(b);
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	char buf[65536];
	ssize_t n;

	(void)what;
	n = read((int)fd, buf, sizeof(buf));
	if (n > 0) {
		batch_feed(b, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		qc_error_set_errno(&b->fatal, errno, "cannot read commands from stdin");
	event_del(b->stdin_ev);
	batch_eof(b);
}

static void batch_state(void *opaque, enum qmp_session_state state, const struct qc_error *err)
{
	struct batch *b = opaque;

	/* Pending commands fail one by one with their own message; this only
	 * stops reading more input. */
	if (state == QMP_SESSION_CLOSED && !b->eof) {
		if (b->stdin_ev)
			event_del(b->stdin_ev);
		b->eof = true;
	}
	(void)err;
}

static int run_batch(struct qc_ctx *ctx, struct qmp_session *s)
{
	struct batch b = { .ctx = ctx, .s = s };
	struct stat st;
	int rc = 0;

	qmp_session_set_state_cb(s, batch_state, &b);
	if (fstat(STDIN_FILENO, &st) < 0) {
		batch_eof(&b); /* stdin closed: nothing to run */
	} else if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !isatty(STDIN_FILENO)) {
		/* epoll cannot watch regular files or /dev/null: just read them. */
		char buf[65536];
		ssize_t n;

		while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
			batch_feed(&b, buf, (size_t)n);
		if (n < 0)
			qc_error_set_errno(&b.fatal, errno, "cannot read commands from stdin");
		batch_eof(&b);
	} else {
		fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
		b.stdin_ev = event_new(ctx->base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin, &b);
		event_add(b.stdin_ev, NULL);
	}
	while (!(b.eof && b.next_print == b.n) && !b.fatal) {
		if (event_base_loop(ctx->base, EVLOOP_ONCE) != 0)
			break;
	}
	if (b.stdin_ev)
		event_free(b.stdin_ev);
	qmp_session_set_state_cb(s, NULL, NULL);
	if (b.fatal)
		rc = cli_fail(b.fatal);
	else if (b.failed || b.next_print != b.n)
		rc = 1;
	/* Requests still pending (loop ended early) are freed with the session. */
	for (size_t i = b.next_print; i < b.n; i++) {
		free(b.slots[i].out);
		qc_error_free(b.slots[i].err);
	}
	free(b.slots);
	qc_buf_free(&b.pending);
	return rc;
}

/* ---- the verb ----------------------------------------------------------- */

static const struct option longopts[] = {
	{ "batch", no_argument, NULL, 'b' },
	{ "fd", required_argument, NULL, 'F' },
	{ NULL, 0, NULL, 0 },
};
static struct qmp_opts o;
extern const struct qc_cmd qc_cmd_qmp;

static int exec_qmp(struct qc_ctx *ctx, const struct qc_run *run)
{
	const struct qc_cmd *cmd = &qc_cmd_qmp;
	struct qc_error *err = NULL;
	struct json_object *args = NULL, *ret;
	struct qmp_session *s;
	const char *name;
	char *owned_name = NULL;
	int argc = run->argc, rc, i = 0, fd = -1;
	char **argv = run->argv;

	if (o.batch) {
		if (o.fd_file)
			return cli_usage_error(cmd, "--fd goes with a single command, not --batch");
		if (i < argc)
			return cli_usage_error(cmd, "--batch reads commands from stdin: no COMMAND expected");
		/* Without oob QEMU reads the next command only when done with
		 * the last, so a deep pipeline costs it nothing and keeps it busy
		 * (with oob it would queue 8 and hand each to another thread). */
		struct qmp_session_opts bopts = { .no_oob = true, .max_inflight = BATCH_INFLIGHT };

		s = cli_connect(ctx, run->vm, &bopts);
		if (!s)
			return 1;
		return run_batch(ctx, s);
	}
	if (i >= argc)
		return cli_usage_error(cmd, "no QMP command given");
	name = argv[i];
	while (*name == ' ' || *name == '\t' || *name == '\n')
		name++;
	if (*name == '{') {
		/* A whole QMP object ({"execute": ..., "arguments": ...}), as
		 * --batch and the shell take it. */
		if (argc - i > 1)
			return cli_usage_error(cmd, "unexpected argument '%s' after a whole QMP command", argv[i + 1]);
		if (qmp_args_parse_line(name, &owned_name, &args, &err) < 0) {
			rc = cli_usage_error(cmd, "%s", err->msg);
			qc_error_free(err);
			return rc;
		}
		name = owned_name;
	} else {
		name = argv[i++];
		args = qmp_args_parse(argc - i, argv + i, &err);
		if (!args) {
			rc = cli_usage_error(cmd, "%s", err->msg);
			qc_error_free(err);
			return rc;
		}
	}
	if (args && json_object_object_length(args) == 0) {
		json_object_put(args);
		args = NULL;
	}
	if (o.fd_file) {
		fd = open(o.fd_file, O_RDWR | O_CLOEXEC);
		if (fd < 0 && (errno == EACCES || errno == EISDIR || errno == EROFS))
			fd = open(o.fd_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			qc_error_set_errno(&err, errno, "cannot open %s", o.fd_file);
			json_object_put(args);
			free(owned_name);
			return cli_fail(err);
		}
	}
	s = cli_connect(ctx, run->vm, NULL);
	if (!s) {
		json_object_put(args);
		if (fd >= 0)
			close(fd);
		free(owned_name);
		return 1;
	}
	ret = qmp_sync_execute_ex(ctx->base, s, name, args, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, 0, &err);
	free(owned_name);
	if (fd >= 0)
		close(fd);
	if (!ret && err)
		return cli_fail(err);
	cli_print_json(ctx, ret);
	json_object_put(ret);
	return 0;
}

const struct qc_cmd qc_cmd_qmp = {
	.name = "qmp",
	.summary = "run a QMP command and print its return value",
	.usage = usage,
	.shortopts = "bF:",
	.longopts = longopts,
	.opt = own_opt,
	.opts = &o,
	.min_args = 0,
	.max_args = -1,
	.vm = QC_VM_ARG,
	.exec = exec_qmp,
};
