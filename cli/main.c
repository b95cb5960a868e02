/*
 * qmpctl: global options, then one verb.  Owns the event loop; the
 * libraries only register on it.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "discover.h"
#include "qc_buf.h"
#include "qc_log.h"
#include "qmp_sync.h"
#include "qmpctl.h"

static const char usage_text[] =
	"Usage: qmpctl [OPTIONS] COMMAND [ARGS...]\n"
	"\n"
	"Manage QEMU virtual machines by speaking QMP to their monitor sockets.\n"
	"\n"
	"Commands:\n"
	"%s"
	"\n"
	"Options:\n"
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

static void print_usage(FILE *f)
{
	char list[1024] = "";

	for (size_t i = 0; qc_commands[i]; i++) {
		char line[128];

		snprintf(line, sizeof(line), "  %-8s %s\n", qc_commands[i]->name, qc_commands[i]->summary);
		strncat(list, line, sizeof(list) - strlen(list) - 1);
	}
	fprintf(f, usage_text, list);
}

int cli_parse_timeout(const char *arg, unsigned *ms)
{
	char *end;
	double secs = strtod(arg, &end);

	if (end == arg || *end || !(secs > 0) || secs > 4000000.0) {
		cli_error("invalid timeout '%s': expected a number of seconds greater than 0", arg);
		return -1;
	}
	*ms = (unsigned)(secs * 1000 + 0.5);
	if (*ms == 0)
		*ms = 1;
	return 0;
}

void cli_getopt_reset(void)
{
	optind = 0; /* glibc: 0 re-initialises, honouring a new optstring */
	opterr = 0; /* we print our own message */
}

int cli_common_opt(struct qc_ctx *ctx, const struct qc_cmd *cmd, int opt, const char *arg, int *exit_now)
{
	*exit_now = -1;
	switch (opt) {
	case 's':
		ctx->socket = arg;
		return 1;
	case 'J':
		ctx->json = true;
		return 1;
	case 't':
		return cli_parse_timeout(arg, &ctx->timeout_ms) < 0 ? -1 : 1;
	case 'v':
		ctx->verbose++;
		return 1;
	case 'L':
		ctx->libvirt_dir = arg;
		return 1;
	case 'R':
		ctx->run_dir = arg;
		return 1;
	case 'h':
		if (cmd)
			fputs(cmd->usage, stdout);
		else
			print_usage(stdout);
		*exit_now = 0;
		return 1;
	}
	return 0;
}

int cli_bad_option(const struct qc_cmd *cmd, char **argv)
{
	const char *word = argv[optind - 1];

	if (optopt && strchr(QC_COMMON_SHORTOPTS "c:f:", optopt) && word[0] == '-' && word[1] != '-')
		return cli_usage_error(cmd, "option '-%c' requires an argument", optopt);
	if (!strncmp(word, "--", 2) && !strchr(word, '='))
		return cli_usage_error(cmd, "unknown option or missing argument: '%s'", word);
	return cli_usage_error(cmd, "unknown option '%s'", word);
}

int cli_parse_opts(struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv, const char *shortopts,
		   const struct option *longopts, int (*own)(void *opaque, int opt, const char *arg), void *opaque)
{
	int opt;

	cli_getopt_reset();
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int exit_now, rc;

		if (opt == '?' || opt == ':')
			return cli_bad_option(cmd, argv);
		rc = cli_common_opt(ctx, cmd, opt, optarg, &exit_now);
		if (rc < 0)
			return EXIT_USAGE;
		if (exit_now >= 0)
			return exit_now;
		if (rc == 0 && (!own || (rc = own(opaque, opt, optarg)) != 0))
			return rc < 0 ? EXIT_USAGE : cli_bad_option(cmd, argv);
	}
	return -1;
}

int cli_take_vm(const struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv, int *i,
		const char **vm)
{
	*vm = NULL;
	if (ctx->socket)
		return -1;
	if (*i >= argc)
		return cli_usage_error(cmd, "no VM given");
	*vm = argv[(*i)++];
	return -1;
}

int cli_no_more_args(const struct qc_cmd *cmd, int argc, char **argv, int i)
{
	return i < argc ? cli_usage_error(cmd, "unexpected argument '%s'", argv[i]) : -1;
}

unsigned cli_timeout(const struct qc_ctx *ctx)
{
	return ctx->timeout_ms ? ctx->timeout_ms : DEFAULT_TIMEOUT_MS;
}

bool cli_is_address(const char *vm)
{
	return strchr(vm, '/') || !strncmp(vm, "unix:", 5) || !strncmp(vm, "tcp:", 4);
}

void cli_disc_opts(const struct qc_ctx *ctx, struct disc_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->libvirt_dir = ctx->libvirt_dir ? ctx->libvirt_dir : DEFAULT_LIBVIRT_DIR;
	opts->run_dir = ctx->run_dir ? ctx->run_dir : DEFAULT_RUN_DIR;
}

static struct disc_vm *find_vm(const struct qc_ctx *ctx, const char *vm, struct disc_list *list, bool quiet)
{
	struct disc_opts opts;
	struct qc_error *err = NULL;
	struct disc_vm *found;

	cli_disc_opts(ctx, &opts);
	memset(list, 0, sizeof(*list));
	if (discover_scan(&opts, list, &err) < 0) {
		if (quiet)
			qc_error_free(err);
		else
			cli_fail(err);
		return NULL;
	}
	found = discover_select(list, vm, &err);
	if (!found && !quiet) {
		/* Broken files may be why: say which. */
		for (size_t i = 0; i < list->n_warnings; i++)
			cli_error("warning: %s", list->warnings[i]);
		if (err)
			cli_fail(err); /* it names several: never a guess */
		else
			cli_error("no VM named '%s' (looked in %s, %s and running processes)", vm, opts.libvirt_dir,
				  opts.run_dir);
		err = NULL;
	}
	qc_error_free(err);
	return found;
}

struct disc_vm *cli_find_vm(const struct qc_ctx *ctx, const char *vm, struct disc_list *list)
{
	return find_vm(ctx, vm, list, false);
}

static struct disc_vm *cli_find_vm_quiet(const struct qc_ctx *ctx, const char *vm, struct disc_list *list)
{
	return find_vm(ctx, vm, list, true);
}

char *cli_vm_address(const struct disc_list *list, const struct disc_vm *vm, struct qc_error **errp)
{
	const char *name = vm->name ? vm->name : "?";

	if (vm->qmp)
		return qc_strdup(vm->qmp);
	if (vm->monitor && vm->pid) {
		if (!list->libvirtd_running)
			return qc_strdup(vm->monitor);
		qc_error_set(errp,
			     "VM '%s' has only libvirt's monitor socket (%s), which libvirtd holds while it runs "
			     "(QEMU serves one client per monitor): add a QMP socket to the domain's "
			     "<qemu:commandline> (-qmp unix:PATH,server=on,wait=off) or stop libvirtd",
			     name, vm->monitor);
		return NULL;
	}
	if (vm->state == DISC_STATE_SHUTOFF)
		qc_error_set(errp, "VM '%s' is shut off", name);
	else
		qc_error_set(errp,
			     "VM '%s' has no QMP socket qmpctl can use (start QEMU with "
			     "-qmp unix:PATH,server=on,wait=off)",
			     name);
	return NULL;
}

char *cli_resolve_vm(const struct qc_ctx *ctx, const char *vm)
{
	struct disc_list list;
	struct disc_vm *found;
	struct qc_error *err = NULL;
	char *addr;

	if (ctx->socket)
		return qc_strdup(ctx->socket);
	if (cli_is_address(vm))
		return qc_strdup(vm);
	found = cli_find_vm_quiet(ctx, vm, &list);
	if (!found) {
		struct stat st;

		discover_list_free(&list);
		/* "vm.qmp" in the current directory is a socket, not a name. */
		if (stat(vm, &st) == 0 && S_ISSOCK(st.st_mode))
			return qc_strdup(vm);
		found = cli_find_vm(ctx, vm, &list); /* says what is missing */
		discover_list_free(&list);
		return NULL;
	}
	addr = cli_vm_address(&list, found, &err);
	discover_list_free(&list);
	if (!addr)
		cli_fail(err);
	return addr;
}

struct qmp_session *cli_open_vm(struct qc_ctx *ctx, const char *vm)
{
	return cli_open_vm_opts(ctx, vm, NULL);
}

struct qmp_session *cli_open_vm_opts(struct qc_ctx *ctx, const char *vm, const struct qmp_session_opts *base)
{
	struct qmp_session_opts opts = { 0 };
	struct qc_error *err = NULL;
	struct qmp_session *s;
	char *addr = cli_resolve_vm(ctx, vm);

	if (base)
		opts = *base;
	opts.greeting_timeout_ms = opts.command_timeout_ms = cli_timeout(ctx);
	if (!addr)
		return NULL;
	s = qmp_session_new(ctx->base, &opts);
	if (ctx->verbose)
		qmp_session_set_trace(s, cli_trace, NULL);
	if (qmp_session_connect(s, addr, &err) < 0 || qmp_sync_wait_ready(ctx->base, s, &err) < 0) {
		qmp_session_free(s);
		free(addr);
		cli_fail(err);
		return NULL;
	}
	free(addr);
	return s;
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
	static const struct option longopts[] = {
		QC_COMMON_LONGOPTS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct qc_ctx ctx = { 0 };
	const struct qc_cmd *cmd;
	int opt, rc;

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
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+" QC_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		int exit_now;

		if (opt == '?' || opt == ':')
			return cli_bad_option(NULL, argv);
		if (opt == 'V') {
			printf("qmpctl %s\n", QMPCTL_VERSION);
			return 0;
		}
		rc = cli_common_opt(&ctx, NULL, opt, optarg, &exit_now);
		if (rc < 0)
			return EXIT_USAGE;
		if (exit_now >= 0)
			return exit_now;
		if (rc == 0)
			return cli_bad_option(NULL, argv);
	}
	if (optind >= argc) {
		fputs("qmpctl: no command given\n", stderr);
		print_usage(stderr);
		return EXIT_USAGE;
	}
	cmd = qc_command_find(argv[optind]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);

	if (!ctx.libvirt_dir && getenv("QMPCTL_LIBVIRT_DIR") && *getenv("QMPCTL_LIBVIRT_DIR"))
		ctx.libvirt_dir = getenv("QMPCTL_LIBVIRT_DIR");
	if (!ctx.run_dir && getenv("QMPCTL_RUN_DIR") && *getenv("QMPCTL_RUN_DIR"))
		ctx.run_dir = getenv("QMPCTL_RUN_DIR");
	qc_log_set_handler(log_handler, &ctx);
	ctx.base = event_base_new();
	if (!ctx.base) {
		cli_error("cannot create an event loop");
		return 1;
	}
	/* The verb parses its own options from its name on. */
	rc = cmd->exec(&ctx, cmd, argc - optind, argv + optind);
	event_base_free(ctx.base);
	fflush(stdout);
	if (ferror(stdout)) {
		cli_error("error writing output");
		rc = 1;
	}
	return rc;
}
