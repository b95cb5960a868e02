/*
 * Unit tests for qmp_args: qmp-shell style key=value words, dotted keys,
 * a JSON object argument, and whole command lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "qmp_args.h"

/* Splits words at spaces (no quoting: test inputs are chosen for it). */
static int split(char *line, char **argv, int max)
{
	int argc = 0;

	for (char *w = strtok(line, " "); w; w = strtok(NULL, " ")) {
		assert_true(argc < max);
		argv[argc++] = w;
	}
	return argc;
}

/* Parses the words and compares with expect_json (NULL: must fail). */
static void check_words(char **argv, int argc, const char *expect_json, const char *what)
{
	struct qc_error *err = NULL;
	struct json_object *got = qmp_args_parse(argc, argv, &err);

	if (!expect_json) {
		if (got)
			fail_msg("%s: accepted as %s, expected an error", what,
				 json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN));
		if (!err)
			fail_msg("%s: NULL without an error", what);
		if (!err->msg || !*err->msg)
			fail_msg("%s: empty error message", what);
		qc_error_free(err);
		return;
	}
	if (!got)
		fail_msg("%s: rejected: %s", what, err ? err->msg : "(no error set)");
	assert_null(err);
	struct json_object *expect = json_tokener_parse(expect_json);
	assert_non_null(expect);
	if (!json_object_is_type(got, json_type_object) || !json_object_equal(got, expect))
		fail_msg("%s: got %s, expected %s", what, json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN),
			 expect_json);
	json_object_put(expect);
	json_object_put(got);
}

static void check(const char *words, const char *expect_json)
{
	char line[1024];
	char *argv[32];
	int argc;

	snprintf(line, sizeof(line), "%s", words);
	argc = split(line, argv, 32);
	check_words(argv, argc, expect_json, words);
}

static void check1(const char *word, const char *expect_json)
{
	char copy[1024];
	char *argv[1] = { copy };

	snprintf(copy, sizeof(copy), "%s", word);
	check_words(argv, 1, expect_json, word);
}

static void test_no_args(void **state)
{
	char *argv[1] = { NULL };

	check_words(argv, 0, "{}", "(none)");
}

static void test_scalars(void **state)
{
	check("name=vm0", "{\"name\": \"vm0\"}");
	check("n=42", "{\"n\": 42}");
	check("n=-7", "{\"n\": -7}");
	check("size=1.5", "{\"size\": 1.5}");
	check("big=9007199254740993", "{\"big\": 9007199254740993}");
	check("t=true f=false", "{\"t\": true, \"f\": false}");
	check("z=null", "{\"z\": null}");
	check("s=\"42\"", "{\"s\": \"42\"}");
	check("s=\"true\"", "{\"s\": \"true\"}");
	check("path=/var/lib/a.qcow2", "{\"path\": \"/var/lib/a.qcow2\"}");
	check("node-name=#block143", "{\"node-name\": \"#block143\"}");
	/* Not quite JSON: strings. */
	check("v=12abc", "{\"v\": \"12abc\"}");
	check("v=True", "{\"v\": \"True\"}");
	check("v=[1,", "{\"v\": \"[1,\"}");
	check("v=", "{\"v\": \"\"}");
	/* Only the first '=' splits. */
	check("command-line=info=x", "{\"command-line\": \"info=x\"}");
}

static void test_null_is_present(void **state)
{
	char w[] = "z=null";
	char *argv[1] = { w };
	struct qc_error *err = NULL;
	struct json_object *got = qmp_args_parse(1, argv, &err);
	struct json_object *v = (struct json_object *)1;

	assert_non_null(got);
	assert_true(json_object_object_get_ex(got, "z", &v));
	assert_null(v); /* json-c's null */
	assert_true(json_object_is_type(v, json_type_null));
	json_object_put(got);
}

static void test_containers(void **state)
{
	check("devices=[\"vda\",\"vdb\"]", "{\"devices\": [\"vda\", \"vdb\"]}");
	check("l=[]", "{\"l\": []}");
	check("o={\"a\":{\"b\":[1,2]}}", "{\"o\": {\"a\": {\"b\": [1, 2]}}}");
	check("o={}", "{\"o\": {}}");
	check1("s=\"with space\"", "{\"s\": \"with space\"}");
	check1("o={\"k\": \"v w\"}", "{\"o\": {\"k\": \"v w\"}}");
}

static void test_dotted_keys(void **state)
{
	check("a.b.c=1", "{\"a\": {\"b\": {\"c\": 1}}}");
	check("a.b=1 a.c=2", "{\"a\": {\"b\": 1, \"c\": 2}}");
	check("file.driver=file file.filename=/tmp/x driver=qcow2 node-name=n0",
	      "{\"file\": {\"driver\": \"file\", \"filename\": \"/tmp/x\"}, \"driver\": \"qcow2\", "
	      "\"node-name\": \"n0\"}");
	check("a.b.c=1 a.b.d=[2] a.e=x", "{\"a\": {\"b\": {\"c\": 1, \"d\": [2]}, \"e\": \"x\"}}");
}

static void test_json_object_arg(void **state)
{
	check1("{\"device\": \"drive0\", \"opts\": {\"x\": [1, true, null]}}",
	       "{\"device\": \"drive0\", \"opts\": {\"x\": [1, true, null]}}");
	check1("{}", "{}");
}

static void test_errors(void **state)
{
	check("novalue", NULL);
	check("a=1 novalue", NULL);
	check("=1", NULL);
	check("a..b=1", NULL);
	check(".a=1", NULL);
	check("a.=1", NULL);
	check("a=1 a.b=2", NULL);
	check("a.b=2 a=1", NULL);
	check("a.b=1 a.b.c=2", NULL);
	check("a.b.c=1 a.b=2", NULL);
	/* A JSON argument must be an object. */
	check1("[1, 2]", NULL);
	check1("42", NULL);
	check1("\"str\"", NULL);
	check1("null", NULL);
	check1("{\"a\": 1", NULL);
	check1("{\"a\": 1} trailing", NULL);
}

static void test_conflict_with_null(void **state)
{
	/* null is a value like any other: it cannot become an object. */
	check("a=null a.b=2", NULL);
	check("a.b=null a.b.c=2", NULL);
}

static void test_duplicate_key(void **state)
{
	/* qmp-shell refuses to set a key twice rather than guessing. */
	check("a=1 a=2", NULL);
	check("x.y=1 x.y=2", NULL);
}

/* ---- qmp_args_parse_line ------------------------------------------------------ */

static void check_line(const char *line, const char *expect_cmd, const char *expect_args)
{
	char *cmd = (char *)0x1;
	struct json_object *args = NULL;
	struct qc_error *err = NULL;
	int rc = qmp_args_parse_line(line, &cmd, &args, &err);

	if (!expect_cmd) {
		if (rc != -1)
			fail_msg("'%s': returned %d, expected -1", line, rc);
		if (!err)
			fail_msg("'%s': -1 without an error", line);
		qc_error_free(err);
		return;
	}
	if (rc != 0)
		fail_msg("'%s': rejected: %s", line, err ? err->msg : "(no error)");
	assert_null(err);
	assert_non_null(cmd);
	assert_string_equal(cmd, expect_cmd);
	struct json_object *expect = json_tokener_parse(expect_args);
	assert_non_null(expect);
	/* No arguments: an empty object (or none at all). */
	if (args || json_object_object_length(expect) != 0) {
		if (!args || !json_object_equal(args, expect))
			fail_msg("'%s': args %s, expected %s", line,
				 args ? json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN) : "NULL",
				 expect_args);
	}
	json_object_put(expect);
	json_object_put(args);
	free(cmd);
}

static void test_line_plain(void **state)
{
	check_line("query-status", "query-status", "{}");
	check_line("  query-status  ", "query-status", "{}");
	check_line("query-status\n", "query-status", "{}");
	check_line("blockdev-add driver=null-co node-name=n0", "blockdev-add",
		   "{\"driver\": \"null-co\", \"node-name\": \"n0\"}");
	check_line("blockdev-add   driver=null-co\tnode-name=n0 size=1048576", "blockdev-add",
		   "{\"driver\": \"null-co\", \"node-name\": \"n0\", \"size\": 1048576}");
	check_line("job-dismiss id=snap-save-0", "job-dismiss", "{\"id\": \"snap-save-0\"}");
	check_line("snapshot-save job-id=j tag=t vmstate=n0 devices=[\"n0\"]", "snapshot-save",
		   "{\"job-id\": \"j\", \"tag\": \"t\", \"vmstate\": \"n0\", \"devices\": [\"n0\"]}");
}

static void test_line_quoted_value(void **state)
{
	/* HMP through QMP: a quoted value keeps its space. */
	check_line("human-monitor-command command-line=\"info status\"", "human-monitor-command",
		   "{\"command-line\": \"info status\"}");
}

static void test_line_json(void **state)
{
	check_line("{\"execute\": \"query-status\", \"arguments\": {}}", "query-status", "{}");
	check_line("{\"execute\": \"query-status\"}", "query-status", "{}");
	check_line(" {\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"null-co\", \"node-name\": \"n0\"}} ",
		   "blockdev-add", "{\"driver\": \"null-co\", \"node-name\": \"n0\"}");
}

static void test_line_errors(void **state)
{
	check_line("", NULL, NULL);
	check_line("   ", NULL, NULL);
	check_line("blockdev-add driver", NULL, NULL);
	check_line("blockdev-add =x", NULL, NULL);
	check_line("{\"arguments\": {}}", NULL, NULL);
	check_line("{\"execute\": 42}", NULL, NULL);
	check_line("{\"execute\": \"query-status\", \"arguments\": [1]}", NULL, NULL);
	check_line("{\"execute\": \"query-status\"", NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_args),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_null_is_present),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_dotted_keys),
		cmocka_unit_test(test_json_object_arg),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_conflict_with_null),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_line_plain),
		cmocka_unit_test(test_line_quoted_value),
		cmocka_unit_test(test_line_json),
		cmocka_unit_test(test_line_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
