/* qmpctl resume: QMP's cont, with virsh's message ("Domain 'x' resumed"). */
#include <stdio.h>

#include <json-c/json.h>

#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage[] = "Usage: qmpctl resume [OPTIONS] VM\n"
			    "\n"
			    "Resume a paused VM's virtual CPUs (QMP's cont), like 'virsh resume'.\n"
			    "\n"
			    "  -s, --socket PATH   QMP socket (then VM is left out)\n"
			    "  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
			    "  -v, --verbose       print every QMP message on stderr\n"
			    "  -h, --help          show this help\n";

static int exec_resume(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL;
	struct json_object *ret;

	ret = qmp_sync_execute(ctx->base, run->s, "cont", NULL, &err);
	if (!ret)
		return cli_fail(err);
	json_object_put(ret);
	printf("Domain '%s' resumed\n", vm_name(run->vm));
	return 0;
}

const struct qc_cmd qc_cmd_resume = {
	.name = "resume",
	.summary = "resume a paused VM (cont)",
	.usage = usage,
	.vm = QC_VM_LIVE,
	.exec = exec_resume,
};
