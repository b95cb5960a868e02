/* qmpctl reset: QMP's system_reset, with virsh's message ("Domain 'x' was reset"). */
#include <stdio.h>

#include <json-c/json.h>

#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage[] = "Usage: qmpctl reset [OPTIONS] VM\n"
			    "\n"
			    "Reset a VM as if by its reset button (QMP's system_reset), like 'virsh reset'.\n"
			    "\n"
			    "  -s, --socket PATH   QMP socket (then VM is left out)\n"
			    "  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
			    "  -v, --verbose       print every QMP message on stderr\n"
			    "  -h, --help          show this help\n";

static int exec_reset(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL;
	struct json_object *ret;

	ret = qmp_sync_execute(ctx->base, run->s, "system_reset", NULL, &err);
	if (!ret)
		return cli_fail(err);
	json_object_put(ret);
	printf("Domain '%s' was reset\n", vm_name(run->vm));
	return 0;
}

const struct qc_cmd qc_cmd_reset = {
	.name = "reset",
	.summary = "reset a VM (system_reset)",
	.usage = usage,
	.vm = QC_VM_LIVE,
	.exec = exec_reset,
};
