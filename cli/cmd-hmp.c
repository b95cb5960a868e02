/* qmpctl hmp: a human-monitor command through human-monitor-command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qc_buf.h"
#include "qmp_sync.h"
#include "qmpctl.h"

static const char usage[] =
	"Usage: qmpctl hmp [OPTIONS] VM COMMAND-LINE...\n"
	"\n"
	"Run a human monitor (HMP) command, e.g. 'info status', through QMP's\n"
	"human-monitor-command and print its text.  Several words are joined with spaces.\n"
	"A command HMP does not know is an error (exit 1, HMP's \"unknown command\" line\n"
	"on stderr).\n"
	"\n"
	"  -s, --socket PATH   QMP socket (then VM is left out)\n"
	"      --json          print the output as a JSON string\n"
	"  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
	"  -v, --verbose       print every QMP message on stderr\n"
	"  -h, --help          show this help\n"
	"\n"
	"Example:\n"
	"  qmpctl hmp /run/vm.qmp 'info version'\n";

/* QEMU's HMP parser answers a command it does not know with exactly one
 * line, "unknown command: 'WORDS'", as text in a successful reply (QMP sees
 * no error).  Only that whole line counts: output that merely contains the
 * words is some command's output. */
static bool hmp_unknown_command(const char *text)
{
	static const char head[] = "unknown command: '";
	size_t len = strlen(text);

	if (strncmp(text, head, sizeof(head) - 1))
		return false;
	if (len >= 2 && text[len - 2] == '\r' && text[len - 1] == '\n')
		len -= 2;
	else if (len >= 1 && text[len - 1] == '\n')
		len--;
	if (len <= sizeof(head) - 1 || text[len - 1] != '\'')
		return false;
	return !memchr(text, '\n', len);
}

static int exec_hmp(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL;
	struct json_object *args, *ret;
	struct qc_buf line = { 0 };

	for (int i = 0; i < run->argc; i++) {
		if (line.len)
			qc_buf_append_c(&line, ' ');
		qc_buf_append_str(&line, run->argv[i]);
	}
	args = json_object_new_object();
	json_object_object_add(args, "command-line", json_object_new_string(qc_buf_str(&line)));
	qc_buf_free(&line);
	ret = qmp_sync_execute(ctx->base, run->s, "human-monitor-command", args, &err);
	if (!ret)
		return cli_fail(err);
	if (json_object_is_type(ret, json_type_string) && hmp_unknown_command(json_object_get_string(ret))) {
		const char *text = json_object_get_string(ret);

		cli_error("%.*s", (int)strcspn(text, "\r\n"), text);
		json_object_put(ret);
		return 1;
	}
	if (ctx->json) {
		cli_print_json(ctx, ret);
	} else {
		/* HMP ends lines with CRLF; a terminal or a pipe wants LF. */
		const char *text = json_object_get_string(ret);
		size_t len = strlen(text);

		for (size_t k = 0; k < len; k++)
			if (!(text[k] == '\r' && text[k + 1] == '\n'))
				putchar(text[k]);
		if (len && text[len - 1] != '\n')
			putchar('\n');
	}
	json_object_put(ret);
	return 0;
}

const struct qc_cmd qc_cmd_hmp = {
	.name = "hmp",
	.summary = "run a human monitor (HMP) command and print its output",
	.usage = usage,
	.min_args = 1,
	.max_args = -1,
	.args_name = "HMP command",
	.vm = QC_VM_LIVE,
	.exec = exec_hmp,
};
