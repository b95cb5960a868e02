/*
 * qmpctl destroy: ends a VM's QEMU with quit, like 'virsh destroy'.  QEMU
 * may close the monitor before it answers quit: a session that closes once
 * quit was sent is success.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage[] = "Usage: qmpctl destroy [OPTIONS] VM\n"
			    "\n"
			    "End a VM's QEMU at once (QMP's quit), like 'virsh destroy'; the guest gets no\n"
			    "chance to shut down unless --graceful is given.\n"
			    "\n"
			    "      --graceful      first ask the guest to power down (system_powerdown) and\n"
			    "                      wait up to -t for its SHUTDOWN, then quit\n"
			    "  -s, --socket PATH   QMP socket (then VM is left out)\n"
			    "  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
			    "  -v, --verbose       print every QMP message on stderr\n"
			    "  -h, --help          show this help\n";

struct destroy_opts {
	bool graceful;
};

static struct destroy_opts opts;

enum { OPT_GRACEFUL = 0x100 };

static const struct option longopts[] = {
	{ "graceful", no_argument, NULL, OPT_GRACEFUL },
	{ NULL, 0, NULL, 0 },
};

static int opt_destroy(void *o, int opt, const char *arg)
{
	struct destroy_opts *d = o;

	(void)arg;
	if (opt != OPT_GRACEFUL)
		return 1;
	d->graceful = true;
	return 0;
}

static int exec_destroy(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL;
	struct json_object *ret;

	if (opts.graceful) {
		ret = qmp_sync_execute(ctx->base, run->s, "system_powerdown", NULL, &err);
		if (!ret)
			return cli_fail(err);
		json_object_put(ret);
		if (cli_wait_event(ctx, run->s, "SHUTDOWN", cli_timeout(ctx), &err) == 0) {
			/* QEMU ends by itself after a guest's shutdown unless told to
			 * pause; quit makes sure of it either way. */
		} else if (ctx->verbose) {
			cli_error("note: %s; quitting", err->msg);
		}
		qc_error_free(err);
		err = NULL;
		if (qmp_session_state(run->s) == QMP_SESSION_CLOSED)
			goto done;
	}
	ret = qmp_sync_execute(ctx->base, run->s, "quit", NULL, &err);
	if (!ret) {
		/* No reply and a closed session: QEMU quit before answering. */
		if (err->qmp_class || qmp_session_state(run->s) != QMP_SESSION_CLOSED)
			return cli_fail(err);
		qc_error_free(err);
	}
	json_object_put(ret);
done:
	printf("Domain '%s' destroyed\n", vm_name(run->vm));
	return 0;
}

const struct qc_cmd qc_cmd_destroy = {
	.name = "destroy",
	.summary = "end a VM's QEMU (quit)",
	.usage = usage,
	.longopts = longopts,
	.opt = opt_destroy,
	.opts = &opts,
	.vm = QC_VM_LIVE,
	.signals = QC_SIGINT | QC_SIGTERM,
	.exec = exec_destroy,
};
