/*
 * qmpctl __complete: shell completion from the verb table itself, so that
 * it never drifts from the verbs.  Prints the candidates for the last word
 * of a command line (verbs, sub-verbs, long options of the verb and the
 * common ones, VM names), one a line.  VM names come from discovery's scan
 * of files and processes only: no monitor is asked, so it stays fast.
 * Hidden: not in the program's --help.
 */
#include <stdio.h>
#include <string.h>

#include "discover.h"
#include "qmpctl.h"

static const char usage[] = "Usage: qmpctl __complete -- WORD... CURRENT\n"
			    "\n"
			    "Print completion candidates for CURRENT after WORD... (the words after\n"
			    "'qmpctl'), one a line; used by the bash completion script.\n";

static const char *const common_longs[] = { "--socket", "--json",	 "--timeout", "--verbose",
					    "--help",	"--libvirt-dir", "--run-dir" };

static bool takes_arg(const struct qc_cmd *cmd, const char *w)
{
	static const char *const common[] = { "-s", "-t", "--socket", "--timeout", "--libvirt-dir", "--run-dir" };

	if (strchr(w, '='))
		return false;
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (!strcmp(w, common[i]))
			return true;
	for (const struct option *o = cmd ? cmd->longopts : NULL; o && o->name; o++)
		if (!strncmp(w, "--", 2) && !strcmp(w + 2, o->name))
			return o->has_arg == required_argument;
	return false;
}

static void cand(const char *word, const char *cur)
{
	if (!strncmp(word, cur, strlen(cur)))
		puts(word);
}

static void complete_options(const struct qc_cmd *cmd, const char *cur)
{
	char buf[128];

	for (const struct option *o = cmd ? cmd->longopts : NULL; o && o->name; o++) {
		snprintf(buf, sizeof(buf), "--%s", o->name);
		cand(buf, cur);
	}
	for (size_t i = 0; i < sizeof(common_longs) / sizeof(common_longs[0]); i++)
		cand(common_longs[i], cur);
}

static void complete_vms(struct qc_ctx *ctx, const char *libvirt_dir, const char *cur)
{
	struct disc_opts opts;
	struct disc_list list = { 0 };
	struct qc_error *err = NULL;

	cli_disc_opts(ctx, &opts);
	if (libvirt_dir)
		opts.libvirt_dir = libvirt_dir;
	if (discover_scan(&opts, &list, &err) == 0)
		for (size_t i = 0; i < list.n; i++)
			if (list.vms[i].name)
				cand(list.vms[i].name, cur);
	qc_error_free(err);
	discover_list_free(&list);
}

static int exec_complete(struct qc_ctx *ctx, const struct qc_run *run)
{
	const char *pos[3], *cur = run->argc ? run->argv[run->argc - 1] : "", *libvirt_dir = NULL;
	const struct qc_cmd *cmd = NULL;
	int npos = 0, nwords = 0;

	/* The words before the current one: positionals, skipping options and
	 * their values. */
	for (int i = 0; i < run->argc - 1; i++) {
		const char *w = run->argv[i];

		if (w[0] == '-' && w[1]) {
			if (!strcmp(w, "--libvirt-dir") && i + 2 < run->argc)
				libvirt_dir = run->argv[i + 1];
			if (takes_arg(cmd, w))
				i++;
			continue;
		}
		if (npos < 3)
			pos[npos] = w;
		npos++;
		if (npos <= 2)
			cmd = qc_cmd_find(qc_commands, npos, (char **)pos, &nwords);
	}
	if (cur[0] == '-') {
		complete_options(cmd && nwords ? cmd : NULL, cur);
		return 0;
	}
	if (!npos) {
		for (size_t i = 0; qc_commands[i]; i++)
			if (!strchr(qc_commands[i]->name, ' ') && qc_commands[i]->name[0] != '_')
				cand(qc_commands[i]->name, cur);
		return 0;
	}
	if (cmd && !cmd->exec && npos == 1) {
		size_t len = strlen(cmd->name);

		for (size_t i = 0; qc_commands[i]; i++)
			if (!strncmp(qc_commands[i]->name, cmd->name, len) && qc_commands[i]->name[len] == ' ')
				cand(qc_commands[i]->name + len + 1, cur);
		return 0;
	}
	/* The VM comes first after the verb's words. */
	if (cmd && cmd->exec && cmd->vm != QC_VM_NONE && npos == nwords)
		complete_vms(ctx, libvirt_dir, cur);
	return 0;
}

const struct qc_cmd qc_cmd_complete = {
	.name = "__complete",
	.summary = "print shell completion candidates",
	.usage = usage,
	.max_args = -1,
	.vm = QC_VM_NONE,
	.exec = exec_complete,
};
