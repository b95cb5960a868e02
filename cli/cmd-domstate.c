/*
 * qmpctl domstate: a VM's state in virsh's words, from query-status.  The
 * reason follows libvirt's mapping of QEMU's run states; QMP cannot tell
 * "booted" from "unpaused", so a running VM's reason is "unknown".
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage[] = "Usage: qmpctl domstate [OPTIONS] VM\n"
			    "\n"
			    "Print a VM's state as 'virsh domstate' does (running, paused, shut off,\n"
			    "crashed, pmsuspended), from QMP's query-status; a domain with no process\n"
			    "is shut off.\n"
			    "\n"
			    "      --reason        add the reason in parentheses, e.g. 'paused (user)';\n"
			    "                      a running VM's reason is 'unknown' (QMP cannot tell\n"
			    "                      booted from unpaused)\n"
			    "      --json          an object: state, reason, status (QEMU's run state)\n"
			    "  -s, --socket PATH   QMP socket (then VM is left out)\n"
			    "  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
			    "  -v, --verbose       print every QMP message on stderr\n"
			    "  -h, --help          show this help\n";

struct domstate_opts {
	bool reason;
};

static struct domstate_opts opts;

enum { OPT_REASON = 0x100 };

static const struct option longopts[] = {
	{ "reason", no_argument, NULL, OPT_REASON },
	{ NULL, 0, NULL, 0 },
};

static int opt_domstate(void *o, int opt, const char *arg)
{
	struct domstate_opts *d = o;

	(void)arg;
	if (opt != OPT_REASON)
		return 1;
	d->reason = true;
	return 0;
}

static int exec_domstate(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL;
	struct json_object *ret = NULL, *st;
	const char *status, *state, *reason;

	/* A VM that only its configuration knows is shut off, as virsh says of
	 * a defined domain that does not run. */
	if (vm_open(run->vm, ctx->base, &err) < 0)
		return cli_fail(err);
	if (run->vm->mode == VM_SHUTOFF) {
		status = "shutoff";
		state = "shut off";
		reason = "unknown";
	} else {
		ret = qmp_sync_execute(ctx->base, run->vm->s, "query-status", NULL, &err);
		if (!ret)
			return cli_fail(err);
		status = json_object_object_get_ex(ret, "status", &st) ? json_object_get_string(st) : "";
		cli_state_words(status, &state, &reason);
	}
	if (ctx->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "state", json_object_new_string(state));
		json_object_object_add(o, "reason", json_object_new_string(reason));
		json_object_object_add(o, "status", json_object_new_string(status));
		cli_print_json(ctx, o);
		json_object_put(o);
	} else if (opts.reason) {
		printf("%s (%s)\n", state, reason);
	} else {
		printf("%s\n", state);
	}
	json_object_put(ret);
	return 0;
}

const struct qc_cmd qc_cmd_domstate = {
	.name = "domstate",
	.summary = "print a VM's state as virsh does",
	.usage = usage,
	.longopts = longopts,
	.opt = opt_domstate,
	.opts = &opts,
	.vm = QC_VM_ARG, /* live or shut off: the verb decides */
	.exec = exec_domstate,
};
