/*
 * qmpctl tap: share one QMP monitor among many clients through a socket of
 * our own, optionally logging every message (qmp_tap does the work).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "qc_buf.h"
#include "qmp_tap.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage[] =
	"Usage: qmpctl tap [OPTIONS] VM --listen PATH [--log FILE]\n"
	"\n"
	"Hold the one QMP connection QEMU allows per monitor and serve any number of\n"
	"clients on a new unix socket.  Each client gets its own greeting and capabilities\n"
	"negotiation, its command ids are kept apart from everyone else's, and every client\n"
	"sees every event.  Runs until Ctrl-C or SIGTERM (exit 0), or until QEMU goes away\n"
	"(every client is closed; exit 1 unless --reconnect).  File descriptors sent with\n"
	"a command (getfd, add-fd) are not passed on.\n"
	"\n"
	"  -l, --listen PATH     the socket to create for clients (removed on exit)\n"
	"  -m, --mode OCTAL      its permissions (default 0600)\n"
	"      --log FILE        append every message to FILE as JSON lines; '-' for stdout:\n"
	"                        {\"time\", \"dir\", \"client\", \"msg\", \"latency_ms\", \"local\", \"note\"}\n"
	"                        dir: in (from a client), out (to a client; replies carry\n"
	"                        latency_ms), event (to every client), connect, disconnect;\n"
	"                        local: answered by the tap, not QEMU\n"
	"  -r, --reconnect       when QEMU goes away (or is not there yet), keep the socket\n"
	"                        and connect again every second\n"
	"      --max-queue N     commands one client may have waiting before the tap stops\n"
	"                        reading from it (default 64)\n"
	"      --max-output BYTES  replies and events waiting for a client that does not\n"
	"                        read them before it is disconnected (default 16 MiB)\n"
	"  -s, --socket PATH     QEMU's QMP socket (then VM is left out)\n"
	"  -t, --timeout SEC     wait at most SEC seconds for QEMU's greeting (default 30)\n"
	"  -v, --verbose         print the messages to and from QEMU on stderr\n"
	"  -h, --help            show this help\n"
	"\n"
	"Example:\n"
	"  qmpctl tap /run/vm.qmp --listen /run/vm-tap.qmp --log - &\n"
	"  qmpctl qmp /run/vm-tap.qmp query-status\n";

enum {
	OPT_LOG = 1000,
	OPT_MAX_QUEUE,
	OPT_MAX_OUTPUT,
};

struct tap_opts {
	const char *listen;
	const char *log;
	mode_t mode;
	bool reconnect;
	size_t max_queue;
	size_t max_output;
};

struct tap_run {
	struct qc_ctx *ctx;
	struct qmp_tap *t;
	const struct tap_opts *o;
	const char *addr;
	FILE *log;
	struct event *retry;
	bool done;
	bool up_seen; /* initial connection done (or given up) */
	struct qc_error *err;
	int signo;
};

static int own_opt(void *opaque, int opt, const char *arg)
{
	struct tap_opts *o = opaque;
	char *end;
	long v;

	switch (opt) {
	case 'l':
		o->listen = arg;
		return 0;
	case OPT_LOG:
		o->log = arg;
		return 0;
	case 'm':
		v = strtol(arg, &end, 8);
		if (end == arg || *end || v < 0 || v > 0777) {
			cli_error("invalid mode '%s': expected octal permission bits such as 0600", arg);
			return -1;
		}
		o->mode = (mode_t)v;
		return 0;
	case 'r':
		o->reconnect = true;
		return 0;
	case OPT_MAX_QUEUE:
		v = strtol(arg, &end, 10);
		if (end == arg || *end || v < 1 || v > 100000) {
			cli_error("invalid --max-queue '%s': expected a number from 1 to 100000", arg);
			return -1;
		}
		o->max_queue = (size_t)v;
		return 0;
	case OPT_MAX_OUTPUT:
		v = strtol(arg, &end, 10);
		if (end == arg || *end || v < 65536) {
			cli_error("invalid --max-output '%s': expected a number of bytes, at least 65536", arg);
			return -1;
		}
		o->max_output = (size_t)v;
		return 0;
	}
	return 1;
}

/* ---- the log ------------------------------------------------------------ */

static const char *dir_name(enum qmp_tap_dir dir)
{
	switch (dir) {
	case QMP_TAP_IN:
		return "in";
	case QMP_TAP_OUT:
		return "out";
	case QMP_TAP_EVENT:
		return "event";
	case QMP_TAP_CONNECT:
		return "connect";
	case QMP_TAP_DISCONNECT:
		return "disconnect";
	}
	return "?";
}

static void append_json_string(struct qc_buf *b, const char *s)
{
	qc_buf_append_c(b, '"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			qc_buf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			qc_buf_printf(b, "\\u%04x", ch);
		else
			qc_buf_append_c(b, (char)ch);
	}
	qc_buf_append_c(b, '"');
}

static void log_line(struct tap_run *r, const char *dir, unsigned client, const char *json, bool local,
		     double latency_ms, const char *note)
{
	struct qc_buf b = { 0 };
	struct timeval tv;
	char when[CLI_TIME_LEN];

	gettimeofday(&tv, NULL);
	/* UTC: logs of several hosts compare as they are. */
	cli_rfc3339(when, tv.tv_sec, (long)tv.tv_usec, true);
	qc_buf_printf(&b, "{\"time\":\"%s\",\"dir\":\"%s\"", when, dir);
	if (client)
		qc_buf_printf(&b, ",\"client\":%u", client);
	if (latency_ms >= 0)
		qc_buf_printf(&b, ",\"latency_ms\":%.3f", latency_ms);
	if (local)
		qc_buf_append_str(&b, ",\"local\":true");
	if (note) {
		qc_buf_append_str(&b, ",\"note\":");
		append_json_string(&b, note);
	}
	if (json) {
		qc_buf_append_str(&b, ",\"msg\":");
		qc_buf_append_str(&b, json);
	}
	qc_buf_append_str(&b, "}\n");
	fwrite(b.data, 1, b.len, r->log);
	fflush(r->log);
	qc_buf_free(&b);
}

static void on_record(void *opaque, const struct qmp_tap_record *rec)
{
	struct tap_run *r = opaque;

	log_line(r, dir_name(rec->dir), rec->client, rec->json, rec->local, rec->latency_ms, rec->note);
}

/* ---- the connection to QEMU --------------------------------------------- */

static void arm_retry(struct tap_run *r)
{
	struct timeval tv = { 1, 0 };

	evtimer_add(r->retry, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct tap_run *r = arg;
	struct qc_error *err = NULL;

	(void)fd;
	(void)what;
	if (qmp_tap_connect(r->t, r->addr, &err) < 0) {
		if (r->ctx->verbose)
			cli_error("%s; trying again in a second", err->msg);
		qc_error_free(err);
		arm_retry(r);
	}
}

static void on_upstream(void *opaque, bool up, const struct qc_error *err)
{
	struct tap_run *r = opaque;

	r->up_seen = true;
	if (up) {
		if (r->log)
			log_line(r, "connect", 0, NULL, false, -1, "connected to QEMU");
		return;
	}
	if (r->log)
		log_line(r, "disconnect", 0, NULL, false, -1, err ? err->msg : "connection to QEMU closed");
	if (r->o->reconnect) {
		cli_error("%s; connecting again", err ? err->msg : "connection to QEMU closed");
		arm_retry(r);
		return;
	}
	r->err = err ? qc_error_copy(err) : NULL;
	if (!r->err)
		qc_error_set(&r->err, "connection to QEMU closed");
	r->done = true;
	event_base_loopbreak(r->ctx->base);
}

static void on_signal(void *arg, int sig)
{
	struct tap_run *r = arg;

	r->signo = sig;
	r->done = true;
	event_base_loopbreak(r->ctx->base);
}

static int open_log(struct tap_run *r, const char *path, struct qc_error **errp)
{
	int fd;

	if (!strcmp(path, "-")) {
		r->log = stdout;
		return 0;
	}
	/* The log holds everything said to QEMU: keep it private. */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || !(r->log = fdopen(fd, "a"))) {
		qc_error_set_errno(errp, errno, "cannot open the log %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return 0;
}

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "mode", required_argument, NULL, 'm' },
	{ "reconnect", no_argument, NULL, 'r' },
	{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
	{ "max-output", required_argument, NULL, OPT_MAX_OUTPUT },
	{ NULL, 0, NULL, 0 },
};
static struct tap_opts o = { .mode = 0600 };

extern const struct qc_cmd qc_cmd_tap;

static int exec_tap(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct tap_run r = { .ctx = ctx, .o = &o };
	struct qmp_tap_opts topts = { 0 };
	struct qc_error *err = NULL;
	const char *addr;
	int rc;

	if (!o.listen)
		return cli_usage_error(&qc_cmd_tap, "--listen PATH is required");
	addr = vm_address(run->vm, &err);
	if (!addr)
		return cli_fail(err);
	r.addr = addr;
	if (o.log && open_log(&r, o.log, &err) < 0)
		return cli_fail(err);

	topts.session.greeting_timeout_ms = cli_timeout(ctx);
	topts.client_max_queue = o.max_queue;
	topts.client_max_output = o.max_output;
	r.t = qmp_tap_new(ctx->base, &topts);
	if (r.log)
		qmp_tap_set_record_cb(r.t, on_record, &r);
	qmp_tap_set_upstream_cb(r.t, on_upstream, &r);
	if (ctx->verbose)
		qmp_tap_set_trace(r.t, cli_trace, NULL);
	r.retry = evtimer_new(ctx->base, on_retry, &r);
	ctx->on_signal = on_signal;
	ctx->signal_opaque = &r;
	if (ctx->signo) /* caught before we listened */
		on_signal(&r, ctx->signo);

	if (o.reconnect) {
		/* Clients may connect at once; they are greeted once QEMU is there. */
		if (qmp_tap_listen(r.t, o.listen, o.mode, &err) < 0) {
			rc = cli_fail(err);
			goto out;
		}
		on_retry(-1, 0, &r);
	} else {
		/* QEMU first: a tap that cannot reach it should say so and end. */
		if (qmp_tap_connect(r.t, addr, &err) < 0) {
			rc = cli_fail(err);
			goto out;
		}
		while (!r.up_seen && !r.done)
			if (event_base_loop(ctx->base, EVLOOP_ONCE) < 0)
				break;
		if (r.done) {
			rc = r.err ? cli_fail(r.err) : 0;
			r.err = NULL;
			goto out;
		}
		if (qmp_tap_listen(r.t, o.listen, o.mode, &err) < 0) {
			rc = cli_fail(err);
			goto out;
		}
	}
	if (ctx->verbose)
		cli_error("serving %s on %s", addr, o.listen);
	while (!r.done)
		if (event_base_loop(ctx->base, EVLOOP_ONCE) < 0)
			break;
	rc = 0;
	if (r.err) {
		rc = cli_fail(r.err);
		r.err = NULL;
	}
out:
	qmp_tap_free(r.t);
	if (r.retry)
		event_free(r.retry);
	ctx->on_signal = NULL;
	if (r.log && r.log != stdout)
		fclose(r.log);
	qc_error_free(r.err);
	return rc;
}

const struct qc_cmd qc_cmd_tap = {
	.name = "tap",
	.summary = "share one QMP monitor among many clients, logging all traffic",
	.usage = usage,
	.shortopts = "l:m:r",
	.longopts = longopts,
	.opt = own_opt,
	.opts = &o,
	.vm = QC_VM_ARG,
	.signals = QC_SIGS,
	.exec = exec_tap,
};
