/*
 * Unit tests for qmp_schema: on the query-qmp-schema of a real QEMU 7.2
 * (tests/data/qemu-7.2-schema.json) and on small hostile schemas (cycles,
 * missing types, wrong shapes, deep nesting) that must neither hang nor
 * crash the walks.
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

#include "qc_buf.h"
#include "qmp_schema.h"

#ifndef QMPCTL_TEST_DATA_DIR
#define QMPCTL_TEST_DATA_DIR "tests/data"
#endif

static struct qmp_schema *real;

static int load_real(void **state)
{
	const char *dir = getenv("QMPCTL_TEST_DATA");
	char path[4096];
	struct json_object *info;
	struct qc_error *err = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/qemu-7.2-schema.json", dir && *dir ? dir : QMPCTL_TEST_DATA_DIR);
	info = json_object_from_file(path);
	if (!info)
		return -1;
	real = qmp_schema_new(info, &err);
	json_object_put(info); /* the schema holds its own reference */
	return real ? 0 : -1;
}

static int free_real(void **state)
{
	(void)state;
	qmp_schema_free(real);
	return 0;
}

static struct qmp_schema *parse(const char *json)
{
	struct json_object *info = json_tokener_parse(json);
	struct qc_error *err = NULL;
	struct qmp_schema *s;

	assert_non_null(info);
	s = qmp_schema_new(info, &err);
	json_object_put(info);
	if (!s)
		fail_msg("rejected: %s", err ? err->msg : "(no error)");
	return s;
}

static void check_name(const struct qmp_schema *s, const struct qmp_schema_entity *e, const char *want)
{
	char *got = qmp_schema_type_name(s, e);

	if (strcmp(got, want) != 0)
		fail_msg("type name: got '%s', expected '%s'", got, want);
	free(got);
}

/* Checks args (JSON text, or NULL) for command; err_prefix NULL: must pass. */
static void check_args(const struct qmp_schema *s, const char *command, const char *args, const char *err_prefix)
{
	struct json_object *a = args ? json_tokener_parse(args) : NULL;
	struct qc_error *err = NULL;
	bool ok;

	if (args)
		assert_non_null(a);
	ok = qmp_schema_check(s, command, a, &err);
	json_object_put(a);
	if (!err_prefix) {
		if (!ok)
			fail_msg("%s %s: refused: %s", command, args ? args : "", err ? err->msg : "(no error)");
		assert_null(err);
		return;
	}
	if (ok)
		fail_msg("%s %s: accepted, expected '%s...'", command, args ? args : "", err_prefix);
	assert_non_null(err);
	if (strncmp(err->msg, err_prefix, strlen(err_prefix)) != 0)
		fail_msg("%s %s: error '%s', expected '%s...'", command, args ? args : "", err->msg, err_prefix);
	qc_error_free(err);
}

/* ---- the real schema ------------------------------------------------------ */

static void test_real_index(void **state)
{
	const struct qmp_schema_entity *c, *e, *first;
	size_t commands = 0, events = 0;

	(void)state;
	/* jq: group_by(."meta-type") of the captured file. */
	assert_int_equal(qmp_schema_count(real), 1051);
	for (size_t i = 0; i < qmp_schema_count(real); i++) {
		commands += qmp_schema_at(real, i)->meta == QMP_SCHEMA_COMMAND;
		events += qmp_schema_at(real, i)->meta == QMP_SCHEMA_EVENT;
	}
	assert_int_equal(commands, 216);
	assert_int_equal(events, 52);
	first = qmp_schema_at(real, 0);
	assert_string_equal(first->name, "query-status");
	assert_null(qmp_schema_at(real, 1051));

	c = qmp_schema_command(real, "blockdev-add");
	assert_non_null(c);
	assert_ptr_equal(c, qmp_schema_lookup(real, "blockdev-add"));
	assert_null(qmp_schema_event(real, "blockdev-add"));
	assert_null(qmp_schema_command(real, "STOP"));
	assert_non_null(qmp_schema_event(real, "STOP"));
	assert_null(qmp_schema_lookup(real, "no-such-thing"));
	/* Every command's and event's arg-type resolves. */
	for (size_t i = 0; i < qmp_schema_count(real); i++) {
		e = qmp_schema_at(real, i);
		if (e->meta == QMP_SCHEMA_COMMAND || e->meta == QMP_SCHEMA_EVENT) {
			if (!e->arg_type || e->arg_type->meta != QMP_SCHEMA_OBJECT)
				fail_msg("%s: arg-type unresolved", e->name);
		}
		if (e->meta == QMP_SCHEMA_COMMAND && !e->ret_type)
			fail_msg("%s: ret-type unresolved", e->name);
	}
	assert_true(qmp_schema_command(real, "qmp_capabilities")->allow_oob == false);
	e = qmp_schema_lookup(real, "str");
	assert_int_equal(e->meta, QMP_SCHEMA_BUILTIN);
	assert_string_equal(e->json_type, "string");
	assert_true(qmp_schema_is_bool(qmp_schema_lookup(real, "bool")));
	assert_false(qmp_schema_is_bool(e));
}

static void test_real_blockdev_add(void **state)
{
	const struct qmp_schema_entity *args = qmp_schema_command(real, "blockdev-add")->arg_type, *file, *v;
	const struct qmp_schema_member *m;

	(void)state;
	assert_int_equal(args->meta, QMP_SCHEMA_OBJECT);
	assert_string_equal(args->tag, "driver");
	assert_int_equal(args->n_variants, 42);
	m = qmp_schema_find_member(args, "driver");
	assert_non_null(m);
	assert_false(m->optional);
	assert_int_equal(m->type->meta, QMP_SCHEMA_ENUM);
	assert_int_equal(m->type->n_values, 42); /* jq: .values | length */
	assert_string_equal(m->type->values[0], "blkdebug");
	m = qmp_schema_find_member(args, "node-name");
	assert_true(m->optional);
	assert_string_equal(m->type->name, "str");

	/* Members of a variant, found through the union. */
	v = qmp_schema_variant(args, "file");
	assert_non_null(v);
	m = qmp_schema_find_member(v, "filename");
	assert_non_null(m);
	assert_false(m->optional);
	assert_ptr_equal(qmp_schema_find_member(args, "filename"), m);
	assert_null(qmp_schema_variant(args, "no-such-driver"));
	assert_null(qmp_schema_find_member(args, "no-such-member"));

	/* file is BlockdevRef: an alternate of BlockdevOptions and a node name. */
	file = qmp_schema_find_member(args, "file")->type;
	assert_int_equal(file->meta, QMP_SCHEMA_ALTERNATE);
	assert_int_equal(file->n_alternatives, 2);
	assert_ptr_equal(qmp_schema_as_object(file), args);
	assert_ptr_equal(qmp_schema_path_type(args, "file.driver", 11), qmp_schema_find_member(args, "driver")->type);
	assert_ptr_equal(qmp_schema_path_type(args, "file.driver=x", 11), qmp_schema_find_member(args, "driver")->type);
	assert_ptr_equal(qmp_schema_path_type(args, "file.filename", 13), qmp_schema_lookup(real, "str"));
	assert_ptr_equal(qmp_schema_path_type(args, "", 0), args);
	assert_null(qmp_schema_path_type(args, "file.nope", 9));
	assert_null(qmp_schema_path_type(args, "driver.x", 8)); /* an enum has no members */
}

struct collect {
	struct qc_buf names;
	size_t stop_after;
	size_t calls;
};

static bool collect_fn(void *opaque, const struct qmp_schema_entity *owner, const struct qmp_schema_member *m)
{
	struct collect *c = opaque;

	(void)owner;
	qc_buf_printf(&c->names, " %s", m->name);
	c->calls++;
	return !c->stop_after || c->calls < c->stop_after;
}

static void test_real_walk(void **state)
{
	const struct qmp_schema_entity *args = qmp_schema_command(real, "blockdev-add")->arg_type;
	struct collect c = { 0 };
	size_t n;

	(void)state;
	n = qmp_schema_walk_members(args, collect_fn, &c);
	assert_int_equal(n, c.calls);
	/* Own members first, in order, then the variants' (each variant type once). */
	assert_true(!strncmp(qc_buf_str(&c.names), " driver node-name discard cache read-only", 41));
	assert_non_null(strstr(qc_buf_str(&c.names), " filename"));
	assert_non_null(strstr(qc_buf_str(&c.names), " backing"));
	assert_int_equal(n, 167); /* jq: own members + those of each distinct variant type */
	qc_buf_free(&c.names);

	/* object-add, the union with the most variant types (40). */
	c = (struct collect){ 0 };
	assert_int_equal(qmp_schema_walk_members(qmp_schema_command(real, "object-add")->arg_type, collect_fn, &c),
			 210);
	qc_buf_free(&c.names);

	c = (struct collect){ .stop_after = 3 };
	assert_int_equal(qmp_schema_walk_members(args, collect_fn, &c), 3);
	assert_string_equal(qc_buf_str(&c.names), " driver node-name discard");
	qc_buf_free(&c.names);
	/* Not an object: nothing. */
	assert_int_equal(qmp_schema_walk_members(qmp_schema_lookup(real, "str"), collect_fn, &c), 0);
	assert_int_equal(qmp_schema_walk_members(NULL, collect_fn, &c), 0);
}

static void test_real_features(void **state)
{
	const struct qmp_schema_entity *e = qmp_schema_event(real, "MEM_UNPLUG_ERROR");
	const struct qmp_schema_member *m;

	(void)state;
	assert_true(qmp_schema_has_feature(e, "deprecated"));
	assert_false(qmp_schema_has_feature(e, "unstable"));
	assert_false(qmp_schema_has_feature(qmp_schema_command(real, "query-status"), "deprecated"));
	/* x-exit-preconfig is unstable; query-migrate's blocked member is deprecated. */
	assert_true(qmp_schema_has_feature(qmp_schema_command(real, "x-exit-preconfig"), "unstable"));
	m = qmp_schema_find_member(qmp_schema_command(real, "block-commit")->arg_type, "backing-file");
	assert_non_null(m);
	assert_false(qmp_schema_member_has_feature(m, "deprecated"));
	m = qmp_schema_find_member(qmp_schema_command(real, "block_set_io_throttle")->arg_type, "device");
	assert_non_null(m);
	assert_true(qmp_schema_member_has_feature(m, "deprecated"));
}

static void test_real_names(void **state)
{
	const struct qmp_schema_entity *args = qmp_schema_command(real, "blockdev-add")->arg_type;

	(void)state;
	check_name(real, args, "arguments of blockdev-add");
	check_name(real, qmp_schema_command(real, "query-status")->ret_type, "return value of query-status");
	check_name(real, qmp_schema_command(real, "query-commands")->ret_type,
		   "array of element of return value of query-commands");
	check_name(real, qmp_schema_find_member(args, "driver")->type, "driver in arguments of blockdev-add");
	check_name(real, qmp_schema_variant(args, "file"), "arguments of blockdev-add when driver is file");
	check_name(real, qmp_schema_find_member(qmp_schema_variant(args, "file"), "aio")->type,
		   "aio in arguments of blockdev-add when driver is file");
	check_name(real, qmp_schema_lookup(real, "str"), "string");
	check_name(real, qmp_schema_lookup(real, "any"), "value");
	check_name(real, qmp_schema_lookup(real, "[str]"), "array of string");
	check_name(real, NULL, "(missing type)");
}

static void test_real_check(void **state)
{
	(void)state;
	check_args(real, "query-status", NULL, NULL);
	check_args(real, "query-status", "{}", NULL);
	check_args(real, "query-status", "{\"x\": 1}", "x: unknown member");
	check_args(real, "no-such-command", NULL, "no-such-command: no such command");
	check_args(real, "STOP", NULL, "STOP: no such command");
	check_args(real, "blockdev-add", "{\"driver\": \"null-co\", \"node-name\": \"n1\", \"size\": 65536}", NULL);
	check_args(real, "blockdev-add", "{\"driver\": \"null-co\", \"size\": \"big\"}",
		   "size: expected int, got string");
	check_args(real, "blockdev-add", "{\"driver\": \"nope\"}", "driver: expected one of: blkdebug, blklogwrites, ");
	check_args(real, "blockdev-add", "{\"driver\": 1}", "driver: expected one of: blkdebug");
	check_args(real, "blockdev-add", "{\"node-name\": \"n\"}", "driver: missing required member");
	check_args(real, "blockdev-add", "[]", "arguments: expected an object, got array");
	/* Members of the selected variant only. */
	check_args(real, "blockdev-add", "{\"driver\": \"file\", \"filename\": \"/x\", \"aio\": \"threads\"}", NULL);
	check_args(real, "blockdev-add", "{\"driver\": \"file\"}", "filename: missing required member");
	check_args(real, "blockdev-add", "{\"driver\": \"null-co\", \"filename\": \"/x\"}", "filename: unknown member");
	check_args(real, "blockdev-add", "{\"driver\": \"file\", \"filename\": \"/x\", \"aio\": \"fast\"}",
		   "aio: expected one of: threads, native");
	/* Nested, through the alternate BlockdevRef. */
	check_args(real, "blockdev-add",
		   "{\"driver\": \"raw\", \"node-name\": \"r0\", \"file\": {\"driver\": \"null-co\", \"size\": 1}}",
		   NULL);
	check_args(real, "blockdev-add", "{\"driver\": \"raw\", \"file\": \"r0\"}", NULL);
	check_args(real, "blockdev-add", "{\"driver\": \"raw\", \"file\": {\"driver\": \"bogus\"}}",
		   "file.driver: expected one of: blkdebug");
	check_args(real, "blockdev-add", "{\"driver\": \"raw\", \"file\": {\"driver\": \"null-co\", \"x\": 1}}",
		   "file.x: unknown member");
	check_args(real, "blockdev-add", "{\"driver\": \"raw\", \"file\": 5}",
		   "file: expected arguments of blockdev-add or string, got int");
	/* Arrays, with the index in the path. */
	check_args(real, "blockdev-reopen", "{\"options\": [{\"driver\": \"null-co\", \"node-name\": \"a\"}]}", NULL);
	check_args(real, "blockdev-reopen", "{\"options\": [{\"driver\": \"null-co\"}, {\"driver\": \"x\"}]}",
		   "options[1].driver: expected one of: ");
	check_args(real, "blockdev-reopen", "{\"options\": {}}", "options: expected an array, got object");
	/* number takes ints too, bool only booleans, any anything. */
	check_args(real, "human-monitor-command", "{\"command-line\": \"info status\", \"cpu-index\": 0}", NULL);
	check_args(real, "human-monitor-command", "{\"command-line\": true}",
		   "command-line: expected string, got boolean");
	check_args(real, "qom-set", "{\"path\": \"/machine\", \"property\": \"p\", \"value\": [1, {}]}", NULL);
	check_args(real, "stop", "{\"x\": null}", "x: unknown member");
}

/* ---- hostile schemas ------------------------------------------------------ */

static void test_not_an_array(void **state)
{
	struct json_object *o = json_object_new_object();
	struct qc_error *err = NULL;

	(void)state;
	assert_null(qmp_schema_new(o, &err));
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "expected an array"));
	qc_error_free(err);
	assert_null(qmp_schema_new(NULL, NULL));
	json_object_put(o);
}

static void test_wrong_shapes(void **state)
{
	struct qmp_schema *s = parse(
		"[1, \"x\", null, {}, {\"name\": 5, \"meta-type\": \"object\"}, {\"name\": \"n\"},"
		" {\"name\": \"c\", \"meta-type\": \"command\", \"arg-type\": \"missing\", \"ret-type\": 7,"
		"  \"features\": [1, \"deprecated\", null]},"
		" {\"name\": \"o\", \"meta-type\": \"object\", \"members\": [1, {\"name\": \"a\"}, {\"type\": \"str\"},"
		"  {\"name\": \"b\", \"type\": \"str\", \"features\": \"deprecated\"}], \"variants\": {\"case\": 1}},"
		" {\"name\": \"e\", \"meta-type\": \"enum\", \"values\": [\"x\", 2, {}, \"y\"]},"
		" {\"name\": \"e2\", \"meta-type\": \"enum\", \"members\": [{\"name\": \"p\"}, 3, {\"name\": \"q\"}]},"
		" {\"name\": \"f\", \"meta-type\": \"future-kind\"},"
		" {\"name\": \"c2\", \"meta-type\": \"command\", \"arg-type\": \"f\"},"
		" {\"name\": \"c\", \"meta-type\": \"event\"}]");
	const struct qmp_schema_entity *c, *o;

	(void)state;
	assert_int_equal(qmp_schema_count(s), 7);
	c = qmp_schema_lookup(s, "c");
	assert_int_equal(c->meta, QMP_SCHEMA_COMMAND); /* the first of a name wins */
	assert_null(c->arg_type);
	assert_null(c->ret_type);
	assert_int_equal(c->n_features, 1);
	assert_true(qmp_schema_has_feature(c, "deprecated"));
	o = qmp_schema_lookup(s, "o");
	assert_int_equal(o->n_members, 1);
	assert_string_equal(o->members[0].name, "b");
	assert_null(o->members[0].type); /* no "str" in this schema */
	assert_int_equal(o->members[0].n_features, 0);
	assert_int_equal(o->n_variants, 0);
	assert_int_equal(qmp_schema_lookup(s, "e")->n_values, 2);
	assert_string_equal(qmp_schema_lookup(s, "e")->values[1], "y");
	assert_int_equal(qmp_schema_lookup(s, "e2")->n_values, 2);
	assert_string_equal(qmp_schema_lookup(s, "e2")->values[1], "q");
	assert_int_equal(qmp_schema_lookup(s, "f")->meta, QMP_SCHEMA_UNKNOWN);
	check_args(s, "c", NULL, NULL);
	check_args(s, "c", "{\"a\": 1}", "arguments: the schema lacks this member's type");
	check_args(s, "c2", "{}", "arguments: the schema gives this member a future-kind, not a type");
	check_name(s, qmp_schema_lookup(s, "o"), "o");
	qmp_schema_free(s);
	qmp_schema_free(NULL);
}

/* A type that contains itself, a union whose variant is itself, an array of
 * itself, an alternate of itself: walks end, checks fail cleanly. */
static void test_cycles(void **state)
{
	struct qmp_schema *s = parse(
		"[{\"name\": \"c\", \"meta-type\": \"command\", \"arg-type\": \"1\", \"ret-type\": \"[3]\"},"
		" {\"name\": \"u\", \"meta-type\": \"command\", \"arg-type\": \"2\"},"
		" {\"name\": \"alt\", \"meta-type\": \"command\", \"arg-type\": \"5\"},"
		" {\"name\": \"1\", \"meta-type\": \"object\", \"members\": [{\"name\": \"a\", \"type\": \"1\","
		"  \"default\": null}, {\"name\": \"l\", \"type\": \"[3]\", \"default\": null}],"
		"  \"tag\": \"a\", \"variants\": [{\"case\": \"x\", \"type\": \"1\"}]},"
		" {\"name\": \"2\", \"meta-type\": \"object\", \"members\": [{\"name\": \"t\", \"type\": \"4\"}],"
		"  \"tag\": \"t\", \"variants\": [{\"case\": \"x\", \"type\": \"2\"}, {\"case\": \"y\", \"type\": "
		"\"6\"}]},"
		" {\"name\": \"6\", \"meta-type\": \"object\", \"members\": [{\"name\": \"t\", \"type\": \"4\"}],"
		"  \"tag\": \"t\", \"variants\": [{\"case\": \"y\", \"type\": \"2\"}]},"
		" {\"name\": \"[3]\", \"meta-type\": \"array\", \"element-type\": \"[3]\"},"
		" {\"name\": \"4\", \"meta-type\": \"enum\", \"values\": [\"x\", \"y\"]},"
		" {\"name\": \"5\", \"meta-type\": \"object\", \"members\": [{\"name\": \"v\", \"type\": \"7\"}]},"
		" {\"name\": \"7\", \"meta-type\": \"alternate\", \"members\": [{\"type\": \"7\"}, {\"type\": "
		"\"5\"}]}]");
	const struct qmp_schema_entity *one = qmp_schema_lookup(s, "1"), *alt = qmp_schema_lookup(s, "7");
	struct collect c = { 0 };
	char path[400];
	char *name;

	(void)state;
	assert_int_equal(qmp_schema_walk_members(one, collect_fn, &c), 2); /* 1 entered once */
	qc_buf_free(&c.names);
	c = (struct collect){ 0 };
	assert_int_equal(qmp_schema_walk_members(qmp_schema_lookup(s, "2"), collect_fn, &c), 2);
	qc_buf_free(&c.names);
	assert_ptr_equal(qmp_schema_path_type(one, "a.a.a", 5), one);
	/* A path longer than the depth cap resolves to nothing, quickly. */
	for (size_t i = 0; i < 100; i++)
		memcpy(path + 2 * i, "a.", 2);
	path[199] = '\0';
	assert_null(qmp_schema_path_type(one, path, 199));
	assert_ptr_equal(qmp_schema_path_type(one, path, 2 * QMP_SCHEMA_MAX_DEPTH - 1), one);
	/* The alternate's object branch, and its own branch ignored. */
	assert_ptr_equal(qmp_schema_as_object(alt), qmp_schema_lookup(s, "5"));
	assert_ptr_equal(qmp_schema_path_type(qmp_schema_lookup(s, "5"), "v.v.v", 5), alt);

	name = qmp_schema_type_name(s, qmp_schema_lookup(s, "[3]"));
	assert_true(strlen(name) < 20 * QMP_SCHEMA_MAX_DEPTH);
	assert_non_null(strstr(name, "array of array of"));
	free(name);
	check_name(s, qmp_schema_lookup(s, "6"), "arguments of u when t is y");

	/* Union cycle: 2 -> (t=x) 2; 2 -> (t=y) 6 -> (t=y) 2. */
	check_args(s, "u", "{\"t\": \"x\"}", "arguments: the schema's unions nest in a cycle");
	check_args(s, "u", "{\"t\": \"y\"}", "arguments: the schema's unions nest in a cycle");
	check_args(s, "u", "{\"t\": \"z\"}", "t: expected one of: x, y");
	/* Arrays of arrays without end: the value's nesting ends the check. */
	check_args(s, "c", "{\"l\": [[[[]]]]}", NULL);
	check_args(s, "c", "{\"l\": [[[[1]]]]}", "l[0][0][0][0]: expected an array, got int");
	/* An alternate takes objects through its object branch. */
	check_args(s, "alt", "{\"v\": {\"v\": {}}}", "v.v.v: missing required member");
	check_args(s, "alt", "{\"v\": 1}", "v: expected ");
	qmp_schema_free(s);
}

/* Values nested deeper than the cap are refused, not recursed into. */
static void test_deep_value(void **state)
{
	struct qmp_schema *s = parse("[{\"name\": \"c\", \"meta-type\": \"command\", \"arg-type\": \"1\"},"
				     " {\"name\": \"1\", \"meta-type\": \"object\", \"members\": [{\"name\": \"a\","
				     " \"type\": \"1\", \"default\": null}]}]");
	struct json_object *v = json_object_new_object(), *root = v;
	struct qc_error *err = NULL;

	(void)state;
	for (int i = 0; i < 200; i++) {
		struct json_object *inner = json_object_new_object();

		json_object_object_add(v, "a", inner);
		v = inner;
	}
	assert_false(qmp_schema_check(s, "c", root, &err));
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "nested too deep"));
	assert_true(!strncmp(err->msg, "a.a.a.", 6));
	qc_error_free(err);
	json_object_put(root);
	qmp_schema_free(s);
}

/* A chain of many types: names stay bounded, every lookup works. */
static void test_long_chain(void **state)
{
	struct qc_buf b = { 0 };
	struct qmp_schema *s;
	char *name;

	(void)state;
	qc_buf_append_str(&b, "[{\"name\": \"c\", \"meta-type\": \"command\", \"arg-type\": \"0\"}");
	for (int i = 0; i < 2000; i++)
		qc_buf_printf(&b,
			      ", {\"name\": \"%d\", \"meta-type\": \"object\", \"members\": [{\"name\": \"m\","
			      " \"type\": \"%d\"}]}",
			      i, i + 1);
	qc_buf_append_str(&b, "]");
	s = parse(qc_buf_str(&b));
	assert_int_equal(qmp_schema_count(s), 2001);
	for (int i = 0; i < 2000; i += 97) {
		char n[16];

		snprintf(n, sizeof(n), "%d", i);
		assert_non_null(qmp_schema_lookup(s, n));
	}
	name = qmp_schema_type_name(s, qmp_schema_lookup(s, "1999"));
	assert_true(strlen(name) < 4 * QMP_SCHEMA_MAX_DEPTH + 64);
	free(name);
	check_name(s, qmp_schema_lookup(s, "2"), "m.m in arguments of c");
	/* The last member's type is missing. */
	assert_null(qmp_schema_lookup(s, "1999")->members[0].type);
	qmp_schema_free(s);
	qc_buf_free(&b);
}

/* Unmasked schemas (qapi-gen -u) keep real names, which are shown. */
static void test_named(void **state)
{
	struct qmp_schema *s =
		parse("[{\"name\": \"blockdev-add\", \"meta-type\": \"command\", \"arg-type\": \"BlockdevOptions\","
		      "  \"ret-type\": \":obj-x\"},"
		      " {\"name\": \"x-thing\", \"meta-type\": \"command\", \"arg-type\": \":obj-x-thing-arg\"},"
		      " {\"name\": \"BlockdevOptions\", \"meta-type\": \"object\", \"members\": [{\"name\": \"o\","
		      "  \"type\": \":obj-x\"}]},"
		      " {\"name\": \":obj-x-thing-arg\", \"meta-type\": \"object\", \"members\": [{\"name\": \"opts\","
		      "  \"type\": \"BlockdevOptions\"}]},"
		      " {\"name\": \":obj-x\", \"meta-type\": \"object\"}]");

	(void)state;
	check_name(s, qmp_schema_lookup(s, "BlockdevOptions"), "BlockdevOptions");
	check_name(s, qmp_schema_lookup(s, ":obj-x-thing-arg"), "arguments of x-thing");
	check_name(s, qmp_schema_lookup(s, ":obj-x"), "return value of blockdev-add");
	qmp_schema_free(s);
}

int main(void)
{
	const struct CMUnitTest real_tests[] = {
		cmocka_unit_test(test_real_index), cmocka_unit_test(test_real_blockdev_add),
		cmocka_unit_test(test_real_walk),  cmocka_unit_test(test_real_features),
		cmocka_unit_test(test_real_names), cmocka_unit_test(test_real_check),
	};
	const struct CMUnitTest hostile_tests[] = {
		cmocka_unit_test(test_not_an_array), cmocka_unit_test(test_wrong_shapes), cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_deep_value),   cmocka_unit_test(test_long_chain),	  cmocka_unit_test(test_named),
	};
	int failed = cmocka_run_group_tests_name("real QEMU 7.2 schema", real_tests, load_real, free_real);

	return failed + cmocka_run_group_tests_name("hostile schemas", hostile_tests, NULL, NULL);
}
