/*
 * qmpctl: global options, then one verb from the table.  main does the
 * common work once (options, argument count, the VM, its session, the
 * signals) and hands the verb what it resolved.  Owns the event loop; the
 * libraries only register on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "discover.h"
#include "qc_buf.h"
#include "qc_log.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage_head[] =
	"Usage: qmpctl [OPTIONS] COMMAND [ARGS...]\n"
	"\n"
	"Manage QEMU virtual machines by speaking QMP to their monitor sockets.\n"
	"\n"
	"Commands:\n";
static const char usage_tail[] =
	"\n"
	"Options (before or after COMMAND):\n"
	"  -s, --socket PATH   QMP socket to talk to (COMMAND then takes no VM argument);\n"
	"                      unix:PATH and tcp:HOST:PORT (loopback) are accepted too\n"
	"      --json          machine-readable (compact JSON) output\n"
	"  -t, --timeout SEC   give up after SEC seconds (default 30; for events: stop then)\n"
	"  -v, --verbose       print every QMP message on stderr as it flows\n"
	"      --libvirt-dir DIR  domain XML files (default /etc/libvirt/qemu,\n"
	"                      or $QMPCTL_LIBVIRT_DIR)\n"
	"      --run-dir DIR   libvirt status files (default /run/libvirt/qemu,\n"
	"                      or $QMPCTL_RUN_DIR)\n"
	"  -h, --help          show this help\n"
	"      --version       show the version\n"
	"\n"
	"VM is a name (from libvirt's XML or QEMU's -name), a uuid, a pid, or the path of a\n"
	"QMP socket (-qmp unix:PATH,server=on,wait=off).\n"
	"Run 'qmpctl COMMAND --help' for the options of a command.\n";

/* The program's help: every entry, sub-verbs indented under their group. */
static char *program_usage(void)
{
	struct qc_buf b = { 0 };

	qc_buf_append_str(&b, usage_head);
	for (size_t i = 0; qc_commands[i]; i++)
		if (qc_commands[i]->name[0] != '_') /* hidden: __complete */
			qc_buf_printf(&b, "  %-16s %s\n", qc_commands[i]->name, qc_commands[i]->summary);
	qc_buf_append_str(&b, usage_tail);
	return qc_buf_steal(&b);
}

static bool want_version;

static int program_opt(void *opts, int opt, const char *arg)
{
	(void)opts;
	(void)arg;
	if (opt != 'V')
		return 1;
	want_version = true;
	return 0;
}

unsigned cli_timeout(const struct qc_ctx *ctx)
{
	return ctx->timeout_ms ? ctx->timeout_ms : DEFAULT_TIMEOUT_MS;
}

void cli_disc_opts(const struct qc_ctx *ctx, struct disc_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->libvirt_dir = ctx->libvirt_dir ? ctx->libvirt_dir : DEFAULT_LIBVIRT_DIR;
	opts->run_dir = ctx->run_dir ? ctx->run_dir : DEFAULT_RUN_DIR;
}

char *cli_vm_address(const struct disc_list *list, const struct disc_vm *vm, struct qc_error **errp)
{
	return vm_policy_address(list, vm, errp);
}

struct qmp_session *cli_connect(struct qc_ctx *ctx, struct qmp_vm *vm, const struct qmp_session_opts *opts)
{
	struct qc_error *err = NULL;

	(void)ctx;
	if (vm_connect(vm, ctx->base, opts, &err) < 0) {
		cli_fail(err);
		return NULL;
	}
	return vm->s;
}

/* ---- signals ----------------------------------------------------------------- */

static struct qc_ctx *signal_ctx;

static void note_signal(int sig)
{
	signal_ctx->signo = sig;
	signal_ctx->cancel = true;
}

static void on_evsignal(evutil_socket_t sig, short what, void *arg)
{
	struct qc_ctx *ctx = arg;

	(void)what;
	note_signal((int)sig);
	if (ctx->on_signal)
		ctx->on_signal(ctx->signal_opaque, (int)sig);
}

void cli_catch_signals(struct qc_ctx *ctx, unsigned which)
{
	struct event **evs = ctx->sig_events;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	static const unsigned bits[] = { QC_SIGINT, QC_SIGTERM, QC_SIGHUP };

	signal_ctx = ctx;
	for (size_t k = 0; k < 3; k++) {
		if (!(which & bits[k]))
			continue;
		if (which & QC_SIG_NOLOOP) {
			struct sigaction sa = { .sa_handler = note_signal };

			sigemptyset(&sa.sa_mask);
			sigaction(sigs[k], &sa, NULL);
		} else if (!evs[k]) {
			evs[k] = evsignal_new(ctx->base, sigs[k], on_evsignal, ctx);
			event_add(evs[k], NULL);
		}
	}
}

/* A verb that a signal interrupted has said what it cleaned up; it then ends
 * as any program killed by that signal, so that a calling shell sees 130
 * (SIGINT) and stops its loop, which it does not for a plain exit 1. */
static void die_of_signal(int sig)
{
	sigset_t set;

	fflush(NULL);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig); /* not reached: the default action of these ends us */
}

/* ---- running one verb ------------------------------------------------------------ */

static int resolve(struct qc_ctx *ctx, const char *what, struct qmp_vm *vm)
{
	struct vm_opts o = {
		.socket = ctx->socket,
		.libvirt_dir = ctx->libvirt_dir,
		.run_dir = ctx->run_dir,
		.timeout_ms = cli_timeout(ctx),
		.trace = ctx->verbose ? cli_trace : NULL,
	};
	struct qc_error *err = NULL;

	if (vm_resolve(vm, &o, what, &err) == 0)
		return 0;
	/* Broken files may be why: say which. */
	for (size_t i = 0; i < vm->list.n_warnings; i++)
		cli_error("warning: %s", vm->list.warnings[i]);
	return cli_fail(err);
}

static int run_cmd(struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv)
{
	struct qmp_vm vm = { 0 };
	struct qc_run run = { 0 };
	const char *what = NULL;
	int rc, n;

	if (!cli_parse_opts(ctx, cmd, argc, argv, &rc))
		return rc;
	run.cmd = cmd;
	run.argc = argc - optind;
	run.argv = argv + optind;
	if (cmd->vm != QC_VM_NONE && !ctx->socket) {
		if (run.argc < 1)
			return cli_usage_error(cmd, "no VM given");
		what = run.argv[0];
		run.argc--;
		run.argv++;
	}
	n = run.argc;
	if (n < cmd->min_args) {
		if (cmd->args_name)
			return cli_usage_error(cmd, "no %s given", cmd->args_name);
		return cli_usage_error(cmd, "missing argument");
	}
	if (cmd->max_args >= 0 && n > cmd->max_args)
		return cli_usage_error(cmd, "unexpected argument '%s'", run.argv[cmd->max_args]);

	if (cmd->vm != QC_VM_NONE) {
		rc = resolve(ctx, what, &vm);
		if (rc)
			goto out;
		run.vm = &vm;
	}
	if (cmd->vm == QC_VM_LIVE) {
		run.s = cli_connect(ctx, &vm, NULL);
		if (!run.s) {
			rc = 1;
			goto out;
		}
	}
	cli_catch_signals(ctx, cmd->signals);
	rc = cmd->exec(ctx, &run);
out:
	for (size_t k = 0; k < 3; k++)
		if (ctx->sig_events[k])
			event_free(ctx->sig_events[k]);
	vm_clear(&vm);
	return rc;
}

/* A group's own words: its help, or which sub-verb was meant. */
static int run_group(const struct qc_cmd *group, int argc, char **argv)
{
	struct qc_buf subs = { 0 };
	size_t len = strlen(group->name);
	int rc;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(group->usage, stdout);
		return 0;
	}
	for (size_t i = 0; qc_commands[i]; i++)
		if (!strncmp(qc_commands[i]->name, group->name, len) && qc_commands[i]->name[len] == ' ')
			qc_buf_printf(&subs, "%s%s", subs.len ? ", " : "", qc_commands[i]->name + len + 1);
	if (argc < 2) {
		rc = cli_usage_error(group, "no subcommand given (%s)", qc_buf_str(&subs));
	} else {
		char *word = qc_asprintf("%s %s", group->name, argv[1]);
		const char *near = qc_cmd_suggest(qc_commands, word);

		rc = cli_usage_error(group, "unknown subcommand '%s' (one of %s)", argv[1], qc_buf_str(&subs));
		if (near && strchr(near, ' '))
			fprintf(stderr, "Did you mean '%s'?\n", near);
		free(word);
	}
	qc_buf_free(&subs);
	return rc;
}

static int unknown_cmd(const char *word)
{
	const char *near = qc_cmd_suggest(qc_commands, word);

	cli_error("unknown command '%s'", word);
	if (near)
		fprintf(stderr, "Did you mean '%s'?\n", near);
	fputs("Try 'qmpctl --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

static void log_handler(void *opaque, enum qc_log_level level, const char *msg)
{
	const struct qc_ctx *ctx = opaque;
	static const char *const names[] = { "error", "warning", "info", "debug" };

	if (level > QC_LOG_WARN && ctx->verbose < 2)
		return;
	fprintf(stderr, "qmpctl: %s: %s\n", names[level], msg);
}

int main(int argc, char **argv)
{
	static const struct option version_opt[] = {
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct qc_cmd program = {
		.name = "",
		.shortopts = "+",
		.longopts = version_opt,
		.opt = program_opt,
	};
	struct qc_ctx ctx = { 0 };
	const struct qc_cmd *cmd;
	char *usage = program_usage();
	int rc, nwords;

	/* A closed stdin/stdout/stderr would be reused by the first socket we
	 * open, and then read from or written to as if it were the terminal. */
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0) {
			int nul = open("/dev/null", fd ? O_WRONLY : O_RDONLY);

			if (nul >= 0 && nul != fd)
				close(nul); /* cannot happen: the lowest fd is fd */
		}
	}
	signal(SIGPIPE, SIG_IGN);
	program.usage = usage;
	if (!cli_parse_opts(&ctx, &program, argc, argv, &rc))
		goto done;
	if (want_version) {
		printf("qmpctl %s\n", QMPCTL_VERSION);
		rc = 0;
		goto done;
	}
	if (optind >= argc) {
		rc = cli_usage_error(&program, "no command given");
		goto done;
	}
	cmd = qc_cmd_find(qc_commands, argc - optind, argv + optind, &nwords);
	if (!cmd) {
		rc = unknown_cmd(argv[optind]);
		goto done;
	}
	if (!cmd->exec) {
		rc = run_group(cmd, argc - optind, argv + optind);
		goto done;
	}

	if (!ctx.libvirt_dir && getenv("QMPCTL_LIBVIRT_DIR") && *getenv("QMPCTL_LIBVIRT_DIR"))
		ctx.libvirt_dir = getenv("QMPCTL_LIBVIRT_DIR");
	if (!ctx.run_dir && getenv("QMPCTL_RUN_DIR") && *getenv("QMPCTL_RUN_DIR"))
		ctx.run_dir = getenv("QMPCTL_RUN_DIR");
	qc_log_set_handler(log_handler, &ctx);
	ctx.base = event_base_new();
	if (!ctx.base) {
		cli_error("cannot create an event loop");
		rc = 1;
		goto done;
	}
	/* The verb's options follow its name (argv[0] for getopt is its last word). */
	rc = run_cmd(&ctx, cmd, argc - optind - nwords + 1, argv + optind + nwords - 1);
	event_base_free(ctx.base);
	fflush(stdout);
	if (ferror(stdout)) {
		cli_error("error writing output");
		rc = 1;
	}
	if (rc && ctx.signo) {
		free(usage);
		die_of_signal(ctx.signo);
	}
done:
	free(usage);
	return rc;
}
