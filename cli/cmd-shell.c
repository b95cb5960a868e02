/* qmpctl shell: placeholder until the interactive shell lands. */
#include "qmpctl.h"

static int exec_shell(struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return cli_usage_error(cmd, "not implemented yet");
}

const struct qc_cmd qc_cmd_shell = {
	.name = "shell",
	.summary = "interactive QMP shell with completion and live events",
	.usage = "Usage: qmpctl shell [OPTIONS] VM\n",
	.exec = exec_shell,
};
