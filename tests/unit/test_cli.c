/*
 * The verb table's machinery without QEMU: finding an entry by its words,
 * the nearest-name suggestion, and option parsing (common options after
 * the verb, the verb's own through its callback, the exit codes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "qmpctl.h"

static int exec_stub(struct qc_ctx *ctx, const struct qc_run *run)
{
	(void)ctx;
	(void)run;
	return 0;
}

struct own {
	bool all;
	const char *name;
};

static struct own own;

static int own_opt(void *opts, int opt, const char *arg)
{
	struct own *o = opts;

	switch (opt) {
	case 'a':
		o->all = true;
		return 0;
	case 'n':
		if (!strcmp(arg, "bad"))
			return -1;
		o->name = arg;
		return 0;
	}
	return 1;
}

static const struct option own_longopts[] = {
	{ "all", no_argument, NULL, 'a' },
	{ "name", required_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 },
};

static const struct qc_cmd t_list = { .name = "list", .usage = "Usage: list\n", .shortopts = "a",
				      .longopts = own_longopts, .opt = own_opt, .opts = &own, .exec = exec_stub };
static const struct qc_cmd t_snap = { .name = "snapshot", .usage = "Usage: snapshot\n" };
static const struct qc_cmd t_snap_list = { .name = "snapshot list", .usage = "Usage: snapshot list\n",
					   .exec = exec_stub };
static const struct qc_cmd t_snap_create = { .name = "snapshot create", .usage = "Usage: snapshot create\n",
					     .exec = exec_stub };
static const struct qc_cmd t_image_snap = { .name = "image snapshot", .usage = "Usage: image snapshot\n",
					    .exec = exec_stub };
static const struct qc_cmd *const table[] = { &t_list, &t_snap, &t_snap_list, &t_snap_create, &t_image_snap, NULL };

static const struct qc_cmd *find(int n, const char *a, const char *b, int *nwords)
{
	char *argv[] = { (char *)a, (char *)b, NULL };

	return qc_cmd_find(table, n, argv, nwords);
}

static void test_find(void **state)
{
	int n;

	(void)state;
	assert_ptr_equal(find(1, "list", NULL, &n), &t_list);
	assert_int_equal(n, 1);
	/* A verb's first argument is not a sub-verb of it. */
	assert_ptr_equal(find(2, "list", "create", &n), &t_list);
	assert_int_equal(n, 1);
	assert_ptr_equal(find(2, "snapshot", "create", &n), &t_snap_create);
	assert_int_equal(n, 2);
	assert_ptr_equal(find(2, "snapshot", "list", &n), &t_snap_list);
	assert_int_equal(n, 2);
	/* "image snapshot" is found by both words, not taken for the group. */
	assert_ptr_equal(find(2, "image", "snapshot", &n), &t_image_snap);
	assert_int_equal(n, 2);
	/* The group alone, or with a word that is no sub-verb. */
	assert_ptr_equal(find(1, "snapshot", NULL, &n), &t_snap);
	assert_int_equal(n, 1);
	assert_ptr_equal(find(2, "snapshot", "frob", &n), &t_snap);
	/* "image" has no entry of its own here: only its sub-verbs. */
	assert_null(find(1, "image", NULL, &n));
	assert_null(find(1, "snap", NULL, &n));
	assert_null(find(0, NULL, NULL, &n));
	/* A prefix of a group's name is not the group. */
	assert_null(find(2, "snap", "list", &n));
}

static void test_suggest(void **state)
{
	(void)state;
	assert_int_equal(qc_edit_distance("", ""), 0);
	assert_int_equal(qc_edit_distance("abc", ""), 3);
	assert_int_equal(qc_edit_distance("kitten", "sitting"), 3);
	assert_int_equal(qc_edit_distance("snapshot-list", "snapshot list"), 1);
	assert_string_equal(qc_cmd_suggest(table, "snapshot-list"), "snapshot list");
	assert_string_equal(qc_cmd_suggest(table, "snapshot_create"), "snapshot create");
	assert_string_equal(qc_cmd_suggest(table, "lsit"), "list");
	assert_string_equal(qc_cmd_suggest(table, "snapshots"), "snapshot");
	assert_null(qc_cmd_suggest(table, "frobnicate"));
	assert_null(qc_cmd_suggest(table, "x"));
}

static bool parse(struct qc_ctx *ctx, const struct qc_cmd *cmd, int *rc, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	va_start(ap, rc);
	for (char *a; (a = va_arg(ap, char *)) && argc < 15;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	memset(&own, 0, sizeof(own));
	return cli_parse_opts(ctx, cmd, argc, argv, rc);
}

static void test_parse(void **state)
{
	struct qc_ctx ctx = { 0 };
	int rc = -1;

	(void)state;
	/* Common options after the verb, mixed with its own and positionals. */
	assert_true(parse(&ctx, &t_list, &rc, "list", "pos", "--json", "-a", "-t", "2.5", "--name", "x", "-v", NULL));
	assert_int_equal(rc, 0);
	assert_true(ctx.json);
	assert_int_equal(ctx.timeout_ms, 2500);
	assert_int_equal(ctx.verbose, 1);
	assert_true(own.all);
	assert_string_equal(own.name, "x");
	assert_int_equal(optind, 8); /* "pos" was moved last */

	/* --socket and the directories are common too. */
	memset(&ctx, 0, sizeof(ctx));
	assert_true(parse(&ctx, &t_snap_list, &rc, "list", "-s", "/tmp/s", "--run-dir", "/r", NULL));
	assert_string_equal(ctx.socket, "/tmp/s");
	assert_string_equal(ctx.run_dir, "/r");

	/* A verb without options of its own refuses another verb's. */
	assert_false(parse(&ctx, &t_snap_list, &rc, "list", "-a", NULL));
	assert_int_equal(rc, EXIT_USAGE);
	assert_false(parse(&ctx, &t_list, &rc, "list", "--no-such", NULL));
	assert_int_equal(rc, EXIT_USAGE);
	assert_false(parse(&ctx, &t_list, &rc, "list", "--name", NULL));
	assert_int_equal(rc, EXIT_USAGE);
	/* A bad value, said by the callback or by the common parser. */
	assert_false(parse(&ctx, &t_list, &rc, "list", "--name", "bad", NULL));
	assert_int_equal(rc, EXIT_USAGE);
	assert_false(parse(&ctx, &t_list, &rc, "list", "-t", "zero", NULL));
	assert_int_equal(rc, EXIT_USAGE);
	/* --help ends the run with 0, wherever it stands. */
	assert_false(parse(&ctx, &t_list, &rc, "list", "-a", "--help", "--no-such", NULL));
	assert_int_equal(rc, 0);
	assert_false(parse(&ctx, &t_list, &rc, "list", "-h", NULL));
	assert_int_equal(rc, 0);
}

/* RFC 3339 with the colon in the offset, in UTC and in local time. */
static void test_rfc3339(void **state)
{
	char buf[CLI_TIME_LEN];

	(void)state;
	cli_rfc3339(buf, 1796155390, -1, true);
	assert_string_equal(buf, "2026-12-01T20:03:10+00:00");
	cli_rfc3339(buf, 1796155390, 42, true);
	assert_string_equal(buf, "2026-12-01T20:03:10.000042+00:00");
	/* POSIX TZ: the offset is east-positive in RFC 3339, west-positive in TZ. */
	setenv("TZ", "XYZ-05:30", 1);
	tzset();
	cli_rfc3339(buf, 1796155390, -1, false);
	assert_string_equal(buf, "2026-12-02T01:33:10+05:30");
	setenv("TZ", "ABC+03", 1);
	tzset();
	cli_rfc3339(buf, 1796155390, -1, false);
	assert_string_equal(buf, "2026-12-01T17:03:10-03:00");
	unsetenv("TZ");
	tzset();
}

static void test_program_options(void **state)
{
	/* The program's own parse stops at the verb ('+'). */
	static const struct qc_cmd program = { .name = "", .usage = "Usage: qmpctl\n", .shortopts = "+" };
	struct qc_ctx ctx = { 0 };
	int rc;

	(void)state;
	assert_true(parse(&ctx, &program, &rc, "qmpctl", "--json", "list", "-a", NULL));
	assert_true(ctx.json);
	assert_int_equal(optind, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_program_options),
		cmocka_unit_test(test_rfc3339),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
