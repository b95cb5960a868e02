/*
 * qmpctl reboot: the guest's own reboot as libvirt's "fake reboot" does it.
 * QEMU is told to pause on the guest's shutdown instead of ending
 * (set-action shutdown=pause), the guest is asked to power down, and once
 * it has (SHUTDOWN), the VM is reset and continued.  The shutdown action is
 * put back in every case.
 */
#include <stdio.h>

#include <json-c/json.h>

#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage[] = "Usage: qmpctl reboot [OPTIONS] VM\n"
			    "\n"
			    "Reboot a VM, like 'virsh reboot'.  The guest is asked to shut down\n"
			    "(system_powerdown) with QEMU told to pause instead of ending when it does\n"
			    "(set-action shutdown=pause); once the guest has shut down (SHUTDOWN event,\n"
			    "waited for up to -t) the VM is reset (system_reset) and continued (cont).\n"
			    "Afterwards, or when the guest does not shut down in time, the shutdown\n"
			    "action is set back to QEMU's default, poweroff (QMP cannot tell the action\n"
			    "in force before; a VM started with -no-shutdown or -action shutdown=pause\n"
			    "loses it).\n"
			    "\n"
			    "      --reset         reset at once (system_reset), without the guest's part\n"
			    "  -s, --socket PATH   QMP socket (then VM is left out)\n"
			    "  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
			    "  -v, --verbose       print every QMP message on stderr\n"
			    "  -h, --help          show this help\n";

struct reboot_opts {
	bool reset;
};

static struct reboot_opts opts;

enum { OPT_RESET = 0x100 };

static const struct option longopts[] = {
	{ "reset", no_argument, NULL, OPT_RESET },
	{ NULL, 0, NULL, 0 },
};

static int opt_reboot(void *o, int opt, const char *arg)
{
	struct reboot_opts *d = o;

	(void)arg;
	if (opt != OPT_RESET)
		return 1;
	d->reset = true;
	return 0;
}

static int run_cmd(struct qc_ctx *ctx, struct qmp_session *s, const char *cmd, struct json_object *args,
		   struct qc_error **errp)
{
	struct json_object *ret = qmp_sync_execute(ctx->base, s, cmd, args, errp);

	if (!ret)
		return -1;
	json_object_put(ret);
	return 0;
}

static int set_shutdown_action(struct qc_ctx *ctx, struct qmp_session *s, const char *action, struct qc_error **errp)
{
	struct json_object *args = json_object_new_object();

	json_object_object_add(args, "shutdown", json_object_new_string(action));
	return run_cmd(ctx, s, "set-action", args, errp);
}

static int exec_reboot(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL, *err2 = NULL;
	int rc = 0;

	if (opts.reset) {
		if (run_cmd(ctx, run->s, "system_reset", NULL, &err) < 0)
			return cli_fail(err);
		printf("Domain '%s' was reset\n", vm_name(run->vm));
		return 0;
	}
	if (set_shutdown_action(ctx, run->s, "pause", &err) < 0)
		return cli_fail(err);
	if (run_cmd(ctx, run->s, "system_powerdown", NULL, &err) < 0 ||
	    cli_wait_event(ctx, run->s, "SHUTDOWN", cli_timeout(ctx), &err) < 0 ||
	    run_cmd(ctx, run->s, "system_reset", NULL, &err) < 0 || run_cmd(ctx, run->s, "cont", NULL, &err) < 0)
		rc = -1;
	/* Put the action back even after a failure, else the VM would pause
	 * instead of ending at its next shutdown. */
	if (qmp_session_state(run->s) != QMP_SESSION_READY) {
		qc_error_prepend(&err, "reboot failed");
		return cli_fail(err);
	}
	if (set_shutdown_action(ctx, run->s, "poweroff", &err2) < 0) {
		if (rc == 0)
			return cli_fail(err2);
		qc_error_prepend(&err, "reboot failed, the shutdown action stays pause (%s)", err2->msg);
		qc_error_free(err2);
		return cli_fail(err);
	}
	if (rc < 0) {
		qc_error_prepend(&err, "reboot failed, shutdown action set back to poweroff");
		return cli_fail(err);
	}
	printf("Domain '%s' is being rebooted\n", vm_name(run->vm));
	return 0;
}

const struct qc_cmd qc_cmd_reboot = {
	.name = "reboot",
	.summary = "reboot a VM through the guest (or --reset at once)",
	.usage = usage,
	.longopts = longopts,
	.opt = opt_reboot,
	.opts = &opts,
	.vm = QC_VM_LIVE,
	.signals = QC_SIGINT | QC_SIGTERM,
	.exec = exec_reboot,
};
