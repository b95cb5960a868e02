/*
 * Unit tests for qmp_framer: a recorded QEMU transcript cut at every byte,
 * messages glued together or spread out, the size cap, and hostile bytes.
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

#include "qmp_framer.h"

#ifndef QMPCTL_TEST_DATA_DIR
#define QMPCTL_TEST_DATA_DIR "tests/data"
#endif

#define MAX_OBJS 256

struct collect {
	struct json_object *objs[MAX_OBJS];
	size_t n;
	size_t stop_at; /* return stop_ret when the stop_at-th object (1-based) arrives */
	int stop_ret;
};

static int collect_cb(void *opaque, struct json_object *obj)
{
	struct collect *c = opaque;

	assert_non_null(obj);
	assert_true(c->n < MAX_OBJS);
	c->objs[c->n++] = obj;
	if (c->stop_at && c->n == c->stop_at)
		return c->stop_ret;
	return 0;
}

static void collect_clear(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		json_object_put(c->objs[i]);
	c->n = 0;
}

/* ---- the recorded transcript ---------------------------------------------- */

struct transcript {
	char *data;
	size_t len;
	struct json_object *expect[MAX_OBJS]; /* each line parsed on its own */
	size_t nexpect;
};

static char *read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

static int transcript_setup(void **state)
{
	struct transcript *t = calloc(1, sizeof(*t));
	const char *dir = getenv("QMPCTL_TEST_DATA");
	char path[4096];

	assert_non_null(t);
	snprintf(path, sizeof(path), "%s/transcript.jsonl", dir && *dir ? dir : QMPCTL_TEST_DATA_DIR);
	t->data = read_file(path, &t->len);
	if (!t->data) {
		fprintf(stderr, "cannot read %s\n", path);
		free(t);
		return -1;
	}
	/* The independent oracle: one json-c parse per CRLF-terminated line. */
	char *line = t->data;
	for (;;) {
		char *eol = strstr(line, "\r\n");
		if (!eol)
			break;
		*eol = '\0';
		t->expect[t->nexpect] = json_tokener_parse(line);
		*eol = '\r';
		if (!t->expect[t->nexpect] || !json_object_is_type(t->expect[t->nexpect], json_type_object)) {
			fprintf(stderr, "bad transcript line %zu\n", t->nexpect + 1);
			return -1;
		}
		t->nexpect++;
		line = eol + 2;
	}
	if (*line != '\0' || t->nexpect < 15) {
		fprintf(stderr, "transcript must be CRLF-terminated lines (got %zu)\n", t->nexpect);
		return -1;
	}
	*state = t;
	return 0;
}

static int transcript_teardown(void **state)
{
	struct transcript *t = *state;

	for (size_t i = 0; i < t->nexpect; i++)
		json_object_put(t->expect[i]);
	free(t->data);
	free(t);
	return 0;
}

static void assert_same_objects(const struct transcript *t, const struct collect *c, const char *how)
{
	if (c->n != t->nexpect)
		fail_msg("%s: %zu objects, expected %zu", how, c->n, t->nexpect);
	for (size_t i = 0; i < c->n; i++) {
		if (!json_object_equal(c->objs[i], t->expect[i]))
			fail_msg("%s: object %zu differs: %s", how, i,
				 json_object_to_json_string_ext(c->objs[i], JSON_C_TO_STRING_PLAIN));
	}
}

static void test_transcript_whole(void **state)
{
	struct transcript *t = *state;
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { 0 };
	struct qc_error *err = NULL;

	assert_non_null(f);
	assert_int_equal(qmp_framer_partial(f), 0);
	assert_int_equal(qmp_framer_feed(f, t->data, t->len, collect_cb, &c, &err), 0);
	assert_null(err);
	assert_same_objects(t, &c, "whole");
	assert_int_equal(qmp_framer_partial(f), 0);
	/* The greeting comes first and the human-monitor-command text keeps its CRLF. */
	assert_true(json_object_object_get_ex(c.objs[0], "QMP", NULL));
	struct json_object *ret;
	assert_true(json_object_object_get_ex(c.objs[5], "return", &ret));
	assert_string_equal(json_object_get_string(ret), "VM status: paused\r\n");
	collect_clear(&c);
	qmp_framer_free(f);
}

static void test_transcript_split_two(void **state)
{
	struct transcript *t = *state;
	struct qmp_framer *f = qmp_framer_new(0);

	assert_non_null(f);
	for (size_t cut = 0; cut <= t->len; cut++) {
		struct collect c = { 0 };
		struct qc_error *err = NULL;
		char how[64];

		qmp_framer_reset(f);
		snprintf(how, sizeof(how), "split at %zu", cut);
		assert_int_equal(qmp_framer_feed(f, t->data, cut, collect_cb, &c, &err), 0);
		assert_null(err);
		assert_int_equal(qmp_framer_feed(f, t->data + cut, t->len - cut, collect_cb, &c, &err), 0);
		assert_null(err);
		assert_same_objects(t, &c, how);
		assert_int_equal(qmp_framer_partial(f), 0);
		collect_clear(&c);
	}
	qmp_framer_free(f);
}

static void test_transcript_bytewise(void **state)
{
	struct transcript *t = *state;
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { 0 };
	struct qc_error *err = NULL;
	bool saw_partial = false;

	assert_non_null(f);
	for (size_t i = 0; i < t->len; i++) {
		size_t before = c.n;

		assert_int_equal(qmp_framer_feed(f, t->data + i, 1, collect_cb, &c, &err), 0);
		assert_null(err);
		if (t->data[i] == '}' && c.n == before + 1)
			assert_int_equal(qmp_framer_partial(f), 0);
		if (c.n == before && t->data[i] != '\r' && t->data[i] != '\n') {
			assert_true(qmp_framer_partial(f) > 0);
			saw_partial = true;
		}
	}
	assert_true(saw_partial);
	assert_same_objects(t, &c, "byte at a time");
	collect_clear(&c);
	qmp_framer_free(f);
}

static void test_transcript_random_chunks(void **state)
{
	struct transcript *t = *state;
	uint32_t seed = 12345;

	for (int round = 0; round < 50; round++) {
		struct qmp_framer *f = qmp_framer_new(0);
		struct collect c = { 0 };
		struct qc_error *err = NULL;
		size_t off = 0;

		assert_non_null(f);
		while (off < t->len) {
			seed = seed * 1103515245u + 12345u;
			size_t n = 1 + (seed >> 16) % 97;
			if (n > t->len - off)
				n = t->len - off;
			assert_int_equal(qmp_framer_feed(f, t->data + off, n, collect_cb, &c, &err), 0);
			assert_null(err);
			off += n;
		}
		assert_same_objects(t, &c, "random chunks");
		collect_clear(&c);
		qmp_framer_free(f);
	}
}

/* ---- framing between messages --------------------------------------------- */

static void test_several_in_one_buffer(void **state)
{
	static const char in[] = "{\"a\":1}{\"b\":2}\r\n{\"c\":{\"d\":\"}{\"}}\r\n";
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { 0 };
	struct qc_error *err = NULL;
	struct json_object *v;

	assert_int_equal(qmp_framer_feed(f, in, strlen(in), collect_cb, &c, &err), 0);
	assert_null(err);
	assert_int_equal(c.n, 3);
	assert_true(json_object_object_get_ex(c.objs[0], "a", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(c.objs[1], "b", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(c.objs[2], "c", &v));
	assert_true(json_object_object_get_ex(v, "d", &v));
	assert_string_equal(json_object_get_string(v), "}{");
	collect_clear(&c);
	qmp_framer_free(f);
}

static void test_whitespace_between(void **state)
{
	static const char in[] = " \r\n\t {\"a\":1} \r\n\r\n\t{\"b\" : [ 1 , 2 ] }\r\n   \n";
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { 0 };
	struct qc_error *err = NULL;

	/* Whitespace alone is not a message. */
	assert_int_equal(qmp_framer_feed(f, "\r\n", 2, collect_cb, &c, &err), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(qmp_framer_partial(f), 0);

	assert_int_equal(qmp_framer_feed(f, in, strlen(in), collect_cb, &c, &err), 0);
	assert_null(err);
	assert_int_equal(c.n, 2);
	assert_true(json_object_object_get_ex(c.objs[0], "a", NULL));
	assert_true(json_object_object_get_ex(c.objs[1], "b", NULL));
	assert_int_equal(qmp_framer_partial(f), 0);
	/* Zero bytes are fine too. */
	assert_int_equal(qmp_framer_feed(f, "", 0, collect_cb, &c, &err), 0);
	assert_int_equal(c.n, 2);
	collect_clear(&c);
	qmp_framer_free(f);
}

/* ---- the size cap ---------------------------------------------------------- */

/* {"k": "xxx...x"} exactly len bytes long. */
static char *make_msg(size_t len)
{
	static const char head[] = "{\"k\": \"";
	static const char tail[] = "\"}";
	size_t fixed = strlen(head) + strlen(tail);
	char *m = malloc(len + 1);

	assert_true(len >= fixed);
	assert_non_null(m);
	strcpy(m, head);
	memset(m + strlen(head), 'x', len - fixed);
	strcpy(m + len - strlen(tail), tail);
	assert_int_equal(strlen(m), len);
	return m;
}

static void test_oversize_rejected(void **state)
{
	char *m = make_msg(64);
	struct qmp_framer *f = qmp_framer_new(63);
	struct collect c = { 0 };
	struct qc_error *err = NULL;

	assert_int_equal(qmp_framer_feed(f, m, 64, collect_cb, &c, &err), -1);
	assert_non_null(err);
	assert_int_equal(c.n, 0);
	if (!strstr(err->msg, "63"))
		fail_msg("error does not mention the limit 63: %s", err->msg);
	assert_null(strchr(err->msg, '\n'));
	qc_error_free(err);
	err = NULL;
	/* Refused until reset. */
	assert_int_equal(qmp_framer_feed(f, "{}", 2, collect_cb, &c, &err), -1);
	assert_non_null(err);
	qc_error_free(err);
	err = NULL;
	qmp_framer_reset(f);
	assert_int_equal(qmp_framer_feed(f, "{}\r\n", 4, collect_cb, &c, &err), 0);
	assert_null(err);
	assert_int_equal(c.n, 1);
	collect_clear(&c);
	qmp_framer_free(f);
	free(m);
}

static void test_size_exactly_at_limit(void **state)
{
	char *m = make_msg(64);
	struct collect c = { 0 };
	struct qc_error *err = NULL;

	/* Whole, several in a row with CRLF (the CRLF is not part of a message). */
	struct qmp_framer *f = qmp_framer_new(64);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(qmp_framer_feed(f, m, 64, collect_cb, &c, &err), 0);
		assert_int_equal(qmp_framer_feed(f, "\r\n", 2, collect_cb, &c, &err), 0);
	}
	assert_null(err);
	assert_int_equal(c.n, 3);
	collect_clear(&c);
	/* And byte at a time. */
	qmp_framer_reset(f);
	for (int i = 0; i < 2; i++) {
		for (size_t k = 0; k < 64; k++)
			assert_int_equal(qmp_framer_feed(f, m + k, 1, collect_cb, &c, &err), 0);
		assert_int_equal(qmp_framer_feed(f, "\r\n", 2, collect_cb, &c, &err), 0);
	}
	assert_null(err);
	assert_int_equal(c.n, 2);
	collect_clear(&c);
	qmp_framer_free(f);

	/* One byte bigger than the limit fails, also when split. */
	char *big = make_msg(65);
	f = qmp_framer_new(64);
	assert_int_equal(qmp_framer_feed(f, big, 30, collect_cb, &c, &err), 0);
	assert_int_equal(qmp_framer_feed(f, big + 30, 35, collect_cb, &c, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "64"));
	assert_int_equal(c.n, 0);
	qc_error_free(err);
	qmp_framer_free(f);
	free(big);
	free(m);
}

static void test_oversize_unterminated(void **state)
{
	/* A message that never ends must be refused once it passes the cap,
	 * not buffered for ever. */
	struct qmp_framer *f = qmp_framer_new(100);
	struct collect c = { 0 };
	struct qc_error *err = NULL;
	size_t fed = 0;
	int rc = 0;

	rc = qmp_framer_feed(f, "{\"k\": \"", 7, collect_cb, &c, &err);
	fed = 7;
	assert_int_equal(rc, 0);
	while (rc == 0 && fed < 5000) {
		rc = qmp_framer_feed(f, "x", 1, collect_cb, &c, &err);
		fed++;
	}
	assert_int_equal(rc, -1);
	assert_non_null(err);
	if (fed > 101)
		fail_msg("oversize detected only after %zu bytes (max 100)", fed);
	assert_non_null(strstr(err->msg, "100"));
	qc_error_free(err);
	err = NULL;

	/* One big chunk. */
	char *junk = malloc(100000);
	assert_non_null(junk);
	memset(junk, ' ', 100000);
	junk[0] = '[';
	qmp_framer_reset(f);
	assert_int_equal(qmp_framer_feed(f, junk, 100000, collect_cb, &c, &err), -1);
	assert_non_null(err);
	assert_true(strlen(err->msg) < 2000); /* the quote is truncated */
	qc_error_free(err);
	free(junk);
	qmp_framer_free(f);
}

static void test_default_max_allows_big(void **state)
{
	/* query-qmp-schema style: one line of well over 100 KiB. */
	size_t len = 1024 * 1024;
	char *m = make_msg(len);
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { 0 };
	struct qc_error *err = NULL;

	for (size_t off = 0; off < len; off += 4096) {
		size_t n = len - off < 4096 ? len - off : 4096;
		assert_int_equal(qmp_framer_feed(f, m + off, n, collect_cb, &c, &err), 0);
	}
	assert_int_equal(qmp_framer_feed(f, "\r\n", 2, collect_cb, &c, &err), 0);
	assert_null(err);
	assert_int_equal(c.n, 1);
	struct json_object *v;
	assert_true(json_object_object_get_ex(c.objs[0], "k", &v));
	assert_int_equal(json_object_get_string_len(v), len - 9);
	collect_clear(&c);
	qmp_framer_free(f);
	free(m);
}

/* ---- garbage ----------------------------------------------------------------- */

struct garbage {
	const char *in;
	size_t len;
	const char *quote[3]; /* the error must contain one of these */
};

#define G(s, ...) { s, sizeof(s) - 1, { __VA_ARGS__ } }

static const struct garbage garbage_cases[] = {
	G("{\"a\":1}xyz", "xyz"),
	G("]", "]"),
	G("{\"a\": tru}", "tru"),
	G("{\"a\": 1]", "1]", "]"),
	G("}\r\n", "}"),
	G("42\r\n", "42"),
	G("-1.5e3 ", "-1.5e3"),
	G("\"just a string\"\r\n", "just a string"),
	G("[1, 2, 3]\r\n", "[1"),
	G("true\r\n", "true"),
	G("null\r\n", "null"),
	G("{\"a\":1}\r\n[]\r\n", "["),
	G("\0", "\\x00"),
	G("{\"a\":1}\0\0\0", "\\x00"),
	G("{\"a\":\0 1}", "\\x00"),
	G("{\"a\":\"x\0y\"}\r\n", "\\x00"),
	G("{\"a\":1,}", ",}", "}"),
	G("\xff\xfe{}", "\\xff"),
};

static void test_garbage(void **state)
{
	for (size_t i = 0; i < sizeof(garbage_cases) / sizeof(garbage_cases[0]); i++) {
		const struct garbage *g = &garbage_cases[i];
		struct qmp_framer *f = qmp_framer_new(0);
		struct collect c = { 0 };
		struct qc_error *err = NULL;
		int rc = qmp_framer_feed(f, g->in, g->len, collect_cb, &c, &err);
		bool quoted = false;

		if (rc != -1)
			fail_msg("case %zu: feed returned %d, expected -1", i, rc);
		if (!err)
			fail_msg("case %zu: no error set", i);
		for (int k = 0; k < 3 && g->quote[k]; k++)
			quoted |= strstr(err->msg, g->quote[k]) != NULL;
		if (!quoted)
			fail_msg("case %zu: error does not quote the bad bytes (%s): %s", i, g->quote[0], err->msg);
		if (strchr(err->msg, '\n') || strchr(err->msg, '\r'))
			fail_msg("case %zu: error is not one line: %s", i, err->msg);
		/* Only the complete object before the garbage may have come out. */
		for (size_t k = 0; k < c.n; k++) {
			assert_true(json_object_is_type(c.objs[k], json_type_object));
			assert_true(json_object_object_get_ex(c.objs[k], "a", NULL));
		}
		collect_clear(&c);
		qc_error_free(err);
		err = NULL;

		/* Refused until reset, then as good as new. */
		assert_int_equal(qmp_framer_feed(f, "{\"b\":2}\r\n", 9, collect_cb, &c, &err), -1);
		assert_non_null(err);
		assert_int_equal(c.n, 0);
		qc_error_free(err);
		err = NULL;
		qmp_framer_reset(f);
		assert_int_equal(qmp_framer_partial(f), 0);
		assert_int_equal(qmp_framer_feed(f, "{\"b\":2}\r\n", 9, collect_cb, &c, &err), 0);
		assert_null(err);
		assert_int_equal(c.n, 1);
		assert_true(json_object_object_get_ex(c.objs[0], "b", NULL));
		collect_clear(&c);
		qmp_framer_free(f);
	}
}

static void test_garbage_single_quotes(void **state)
{
	/* Not JSON, although json-c's tokener lets single-quoted keys through
	 * even in strict mode. */
	static const char in[] = "{'a': 1}\r\n";
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { 0 };
	struct qc_error *err = NULL;
	int rc = qmp_framer_feed(f, in, strlen(in), collect_cb, &c, &err);

	if (rc != -1)
		fail_msg("{'a': 1} accepted as %s",
			 c.n ? json_object_to_json_string_ext(c.objs[0], JSON_C_TO_STRING_PLAIN) : "nothing");
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "'a'"));
	assert_int_equal(c.n, 0);
	qc_error_free(err);
	qmp_framer_free(f);
}

static void test_garbage_split(void **state)
{
	/* The same verdict when the bad bytes come one at a time. */
	static const char in[] = "{\"a\":1}\r\n{\"b\": tru}\r\n";
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { 0 };
	struct qc_error *err = NULL;
	int rc = 0;
	size_t i;

	for (i = 0; i < sizeof(in) - 1 && rc == 0; i++)
		rc = qmp_framer_feed(f, in + i, 1, collect_cb, &c, &err);
	assert_int_equal(rc, -1);
	assert_non_null(err);
	assert_int_equal(c.n, 1);
	collect_clear(&c);
	qc_error_free(err);
	qmp_framer_free(f);
}

static void test_garbage_long_quote_truncated(void **state)
{
	char junk[20000];
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { 0 };
	struct qc_error *err = NULL;

	memset(junk, 'z', sizeof(junk));
	assert_int_equal(qmp_framer_feed(f, junk, sizeof(junk), collect_cb, &c, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "zzz"));
	assert_true(strlen(err->msg) < 1000);
	qc_error_free(err);
	qmp_framer_free(f);
}

static void test_deep_nesting(void **state)
{
	/* Hostile nesting must not crash (stack) whatever the verdict. */
	size_t depth = 100000;
	char *m = malloc(2 * depth + 16);
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { 0 };
	struct qc_error *err = NULL;
	size_t n = 0;

	assert_non_null(m);
	n += (size_t)sprintf(m, "{\"a\":");
	memset(m + n, '[', depth);
	n += depth;
	memset(m + n, ']', depth);
	n += depth;
	m[n++] = '}';
	int rc = qmp_framer_feed(f, m, n, collect_cb, &c, &err);
	assert_true(rc == 0 || rc == -1);
	if (rc == -1)
		assert_non_null(err);
	else
		assert_int_equal(c.n, 1);
	collect_clear(&c);
	qc_error_free(err);
	qmp_framer_free(f);
	free(m);
}

/* ---- callback stop and reset --------------------------------------------------- */

static void test_callback_stops(void **state)
{
	static const char in[] = "{\"a\":1}\r\n{\"b\":2}\r\n{\"c\":3}\r\n";
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { .stop_at = 2, .stop_ret = 7 };
	struct qc_error *err = NULL;

	assert_int_equal(qmp_framer_feed(f, in, strlen(in), collect_cb, &c, &err), 7);
	assert_null(err);
	assert_int_equal(c.n, 2);
	assert_true(json_object_object_get_ex(c.objs[1], "b", NULL));
	collect_clear(&c);
	c.stop_at = 0;

	/* A stop is not an error: the framer takes new input (the rest of the
	 * stopped buffer was dropped). */
	assert_int_equal(qmp_framer_feed(f, "{\"d\":4}\r\n", 9, collect_cb, &c, &err), 0);
	assert_null(err);
	assert_int_equal(c.n, 1);
	assert_true(json_object_object_get_ex(c.objs[0], "d", NULL));
	collect_clear(&c);

	/* A negative stop value is passed through as well. */
	c.stop_at = 1;
	c.stop_ret = -5;
	assert_int_equal(qmp_framer_feed(f, in, strlen(in), collect_cb, &c, &err), -5);
	assert_int_equal(c.n, 1);
	collect_clear(&c);
	qmp_framer_free(f);
}

static void test_reset_reuse(void **state)
{
	struct qmp_framer *f = qmp_framer_new(0);
	struct collect c = { 0 };
	struct qc_error *err = NULL;

	assert_int_equal(qmp_framer_feed(f, "{\"a\": [1, 2", 11, collect_cb, &c, &err), 0);
	assert_int_equal(c.n, 0);
	assert_true(qmp_framer_partial(f) > 0);
	qmp_framer_reset(f);
	assert_int_equal(qmp_framer_partial(f), 0);
	/* Without the reset this would be garbage inside the array. */
	assert_int_equal(qmp_framer_feed(f, "{\"b\": 2}\r\n", 10, collect_cb, &c, &err), 0);
	assert_null(err);
	assert_int_equal(c.n, 1);
	assert_true(json_object_object_get_ex(c.objs[0], "b", NULL));
	assert_false(json_object_object_get_ex(c.objs[0], "a", NULL));
	collect_clear(&c);
	/* Resetting a fresh or idle framer is harmless. */
	qmp_framer_reset(f);
	qmp_framer_reset(f);
	assert_int_equal(qmp_framer_feed(f, "{}", 2, collect_cb, &c, &err), 0);
	assert_int_equal(c.n, 1);
	collect_clear(&c);
	qmp_framer_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transcript_whole, transcript_setup, transcript_teardown),
		cmocka_unit_test_setup_teardown(test_transcript_split_two, transcript_setup, transcript_teardown),
		cmocka_unit_test_setup_teardown(test_transcript_bytewise, transcript_setup, transcript_teardown),
		cmocka_unit_test_setup_teardown(test_transcript_random_chunks, transcript_setup, transcript_teardown),
		cmocka_unit_test(test_several_in_one_buffer),
		cmocka_unit_test(test_whitespace_between),
		cmocka_unit_test(test_oversize_rejected),
		cmocka_unit_test(test_size_exactly_at_limit),
		cmocka_unit_test(test_oversize_unterminated),
		cmocka_unit_test(test_default_max_allows_big),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_garbage_single_quotes),
		cmocka_unit_test(test_garbage_split),
		cmocka_unit_test(test_garbage_long_quote_truncated),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_reset_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
