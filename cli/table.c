/*
 * The verb table's machinery: finding an entry by its words, suggesting
 * the nearest name, and parsing a verb's options together with the common
 * ones.  No verb is referenced here, so unit tests bring their own table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qc_buf.h"
#include "qmpctl.h"

/* Options every verb accepts beside its own, before or after its name. */
static const struct option common_longopts[] = {
	{ "socket", required_argument, NULL, 's' },   { "json", no_argument, NULL, 'J' },
	{ "timeout", required_argument, NULL, 't' },  { "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },	      { "libvirt-dir", required_argument, NULL, 'L' },
	{ "run-dir", required_argument, NULL, 'R' },
};
#define COMMON_SHORTOPTS "s:t:vh"
#define N_COMMON (sizeof(common_longopts) / sizeof(common_longopts[0]))

const struct qc_cmd *qc_cmd_find(const struct qc_cmd *const *table, int argc, char **argv, int *nwords)
{
	const struct qc_cmd *one = NULL;

	*nwords = 0;
	if (argc < 1)
		return NULL;
	for (size_t i = 0; table[i]; i++) {
		const char *name = table[i]->name, *sp = strchr(name, ' ');

		if (sp && argc >= 2 && !strncmp(name, argv[0], (size_t)(sp - name)) && !argv[0][sp - name] &&
		    !strcmp(sp + 1, argv[1])) {
			*nwords = 2;
			return table[i];
		}
		if (!sp && !strcmp(name, argv[0]))
			one = table[i];
	}
	if (one)
		*nwords = 1;
	return one;
}

size_t qc_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), *row = qc_malloc((lb + 1) * sizeof(*row)), d;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	d = row[lb];
	free(row);
	return d;
}

const char *qc_cmd_suggest(const struct qc_cmd *const *table, const char *word)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;

	for (size_t i = 0; table[i]; i++) {
		size_t d = qc_edit_distance(word, table[i]->name);

		if (d < best_d) {
			best_d = d;
			best = table[i]->name;
		}
	}
	/* Near means a slip of a key or two, not another word. */
	if (best && (best_d <= 2 || best_d * 3 <= strlen(word)) && best_d < strlen(word))
		return best;
	return NULL;
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

/* 0 when opt is a common option (taken), 1 when it is not one, else the
 * exit code of a bad value.  --help sets *help. */
static int common_opt(struct qc_ctx *ctx, int opt, const char *arg, bool *help)
{
	switch (opt) {
	case 's':
		ctx->socket = arg;
		return 0;
	case 'J':
		ctx->json = true;
		return 0;
	case 't':
		return cli_parse_timeout(arg, &ctx->timeout_ms) < 0 ? EXIT_USAGE : 0;
	case 'v':
		ctx->verbose++;
		return 0;
	case 'L':
		ctx->libvirt_dir = arg;
		return 0;
	case 'R':
		ctx->run_dir = arg;
		return 0;
	case 'h':
		*help = true;
		return 0;
	}
	return 1;
}

/* getopt calls a prefix of two long options ("--disk" for --disk-only and
 * --disks) unknown: name what it could be. */
static int ambiguous_option(const struct qc_cmd *cmd, const char *word, const struct option *longopts)
{
	size_t len = strcspn(word + 2, "="), hits = 0;
	struct qc_buf b = { 0 };
	bool exact = false;
	int rc = 0;

	for (const struct option *lo = longopts; lo->name; lo++) {
		if (strncmp(lo->name, word + 2, len))
			continue;
		exact |= strlen(lo->name) == len; /* then not the reason */
		qc_buf_printf(&b, "%s--%s", b.len ? " or " : "", lo->name);
		hits++;
	}
	if (hits > 1 && !exact)
		rc = cli_usage_error(cmd, "option '--%.*s' is ambiguous: %s", (int)len, word + 2, qc_buf_str(&b));
	qc_buf_free(&b);
	return rc;
}

static int bad_option(const struct qc_cmd *cmd, char **argv, const char *shortopts, const struct option *longopts)
{
	const char *word = argv[optind - 1];
	int rc;

	if (!strncmp(word, "--", 2) && word[2] && (rc = ambiguous_option(cmd, word, longopts)))
		return rc;
	if (optopt && strchr(shortopts, optopt) && word[0] == '-' && word[1] != '-')
		return cli_usage_error(cmd, "option '-%c' requires an argument", optopt);
	if (!strncmp(word, "--", 2) && !strchr(word, '='))
		return cli_usage_error(cmd, "unknown option or missing argument: '%s'", word);
	return cli_usage_error(cmd, "unknown option '%s'", word);
}

bool cli_parse_opts(struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv, int *exit_code)
{
	bool help = false;
	struct option *longopts;
	size_t n_own = 0;
	const char *own;
	char *shortopts;
	int opt, rc = 0;

	while (cmd->longopts && cmd->longopts[n_own].name)
		n_own++;
	longopts = qc_malloc((N_COMMON + n_own + 1) * sizeof(*longopts));
	memcpy(longopts, common_longopts, sizeof(common_longopts));
	if (n_own)
		memcpy(longopts + N_COMMON, cmd->longopts, n_own * sizeof(*longopts));
	memset(&longopts[N_COMMON + n_own], 0, sizeof(*longopts));
	/* A leading '+' (stop at the first non-option) must stay first. */
	own = cmd->shortopts ? cmd->shortopts : "";
	shortopts = qc_asprintf("%s" COMMON_SHORTOPTS "%s", *own == '+' ? "+" : "", own + (*own == '+'));

	optind = 0; /* glibc: 0 re-initialises, honouring a new optstring */
	opterr = 0; /* we print our own message */
	while (!rc && !help && (opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			rc = bad_option(cmd, argv, shortopts, longopts);
			break;
		}
		rc = common_opt(ctx, opt, optarg, &help);
		if (rc == 1) {
			rc = cmd->opt ? cmd->opt(cmd->opts, opt, optarg) : 1;
			if (rc == 1)
				rc = bad_option(cmd, argv, shortopts, longopts);
			else if (rc < 0)
				rc = cli_try_help(cmd); /* the value's fault, said */
		} else if (rc) {
			cli_try_help(cmd);
		}
	}
	free(longopts);
	free(shortopts);
	if (help && !rc)
		fputs(cmd->usage, stdout);
	*exit_code = rc;
	return !rc && !help;
}
