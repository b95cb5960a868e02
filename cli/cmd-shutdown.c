/*
 * qmpctl shutdown: asks the guest to power down (system_powerdown), like
 * 'virsh shutdown'; --wait waits on the event loop for QEMU's SHUTDOWN.
 */
#include <stdio.h>

#include <json-c/json.h>

#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage[] = "Usage: qmpctl shutdown [OPTIONS] VM\n"
			    "\n"
			    "Ask the guest to shut down (ACPI power button, QMP's system_powerdown), like\n"
			    "'virsh shutdown'.  A guest without ACPI support ignores it.\n"
			    "\n"
			    "      --wait          wait up to -t for the guest's shutdown (QEMU's SHUTDOWN\n"
			    "                      event); fails when it does not come\n"
			    "  -s, --socket PATH   QMP socket (then VM is left out)\n"
			    "  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
			    "  -v, --verbose       print every QMP message on stderr\n"
			    "  -h, --help          show this help\n";

struct shutdown_opts {
	bool wait;
};

static struct shutdown_opts opts;

enum { OPT_WAIT = 0x100 };

static const struct option longopts[] = {
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ NULL, 0, NULL, 0 },
};

static int opt_shutdown(void *o, int opt, const char *arg)
{
	struct shutdown_opts *d = o;

	(void)arg;
	if (opt != OPT_WAIT)
		return 1;
	d->wait = true;
	return 0;
}

static int exec_shutdown(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL;
	struct json_object *ret;

	ret = qmp_sync_execute(ctx->base, run->s, "system_powerdown", NULL, &err);
	if (!ret)
		return cli_fail(err);
	json_object_put(ret);
	printf("Domain '%s' is being shutdown\n", vm_name(run->vm));
	fflush(stdout);
	if (opts.wait && cli_wait_event(ctx, run->s, "SHUTDOWN", cli_timeout(ctx), &err) < 0)
		return cli_fail(err);
	return 0;
}

const struct qc_cmd qc_cmd_shutdown = {
	.name = "shutdown",
	.summary = "ask the guest to shut down (system_powerdown)",
	.usage = usage,
	.longopts = longopts,
	.opt = opt_shutdown,
	.opts = &opts,
	.vm = QC_VM_LIVE,
	.signals = QC_SIGINT | QC_SIGTERM,
	.exec = exec_shutdown,
};
