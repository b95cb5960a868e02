/*
 * Unit tests for the image engine's pure parts: qcow2 header validation on
 * images built in memory, the L1/L2 walk, QEMU's size strings, backing name
 * resolution and QEMU-style JSON text.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "img.h"
#include "img_be.h"
#include "img_convert.h"
#include "img_create.h"
#include "img_info.h"
#include "img_qcow2.h"
#include "img_qcow2_format.h"
#include "qc_buf.h"

#define CL  512u
#define NCL 16u

/* A version 3 image with 512-byte clusters and 1 MiB of guest space:
 * cluster 0 header, 1 refcount table, 2 L1 (32 entries), 3 L2 table,
 * 4.. data. */
static uint8_t img[NCL * CL];

static void build(void)
{
	memset(img, 0, sizeof(img));
	img_put_be32(img + QCOW2_HDR_MAGIC, QCOW2_MAGIC);
	img_put_be32(img + QCOW2_HDR_VERSION, 3);
	img_put_be32(img + QCOW2_HDR_CLUSTER_BITS, 9);
	img_put_be64(img + QCOW2_HDR_SIZE, 1u << 20);
	img_put_be32(img + QCOW2_HDR_L1_SIZE, 32);
	img_put_be64(img + QCOW2_HDR_L1_OFFSET, 2 * CL);
	img_put_be64(img + QCOW2_HDR_REFTABLE_OFFSET, CL);
	img_put_be32(img + QCOW2_HDR_REFTABLE_CLUSTERS, 1);
	img_put_be32(img + QCOW2_HDR_REFCOUNT_ORDER, 4);
	img_put_be32(img + QCOW2_HDR_HEADER_LENGTH, QCOW2_HDR_V3_LENGTH);
	/* L1[0] -> L2 at cluster 3 */
	img_put_be64(img + 2 * CL, QCOW2_OFLAG_COPIED | 3 * CL);
}

static struct img_io io = { .fd = -1, .mem = img, .size = sizeof(img) };

static struct img_qcow2 *open_ok(void)
{
	struct qc_error *err = NULL;
	struct img_qcow2 *q = img_qcow2_open(&io, &err);

	if (!q)
		fail_msg("open failed: %s", err->msg);
	return q;
}

static void expect_error(const char *needle)
{
	struct qc_error *err = NULL;
	struct img_qcow2 *q = img_qcow2_open(&io, &err);

	assert_null(q);
	assert_non_null(err);
	if (!strstr(err->msg, needle))
		fail_msg("error '%s' lacks '%s'", err->msg, needle);
	qc_error_free(err);
}

static void test_valid_header(void **state)
{
	struct img_qcow2 *q;

	(void)state;
	build();
	q = open_ok();
	assert_int_equal(q->version, 3);
	assert_int_equal(q->cluster_size, CL);
	assert_int_equal(q->size, 1u << 20);
	assert_int_equal(q->l2_entries, CL / 8);
	assert_null(q->backing_file);
	assert_int_equal(q->nb_snapshots, 0);
	img_qcow2_free(q);
}

static void test_hostile_headers(void **state)
{
	(void)state;
	build();
	img_put_be32(img + QCOW2_HDR_MAGIC, 0x12345678);
	expect_error("bad magic");
	build();
	img_put_be32(img + QCOW2_HDR_VERSION, 1);
	expect_error("version 1");
	build();
	img_put_be32(img + QCOW2_HDR_CLUSTER_BITS, 8);
	expect_error("cluster size 2^8");
	build();
	img_put_be32(img + QCOW2_HDR_CLUSTER_BITS, 0xffffffff);
	expect_error("cluster size");
	build();
	img_put_be32(img + QCOW2_HDR_L1_SIZE, 0xffffffff);
	expect_error("too large");
	build();
	img_put_be32(img + QCOW2_HDR_L1_SIZE, 31);
	expect_error("too small");
	build();
	img_put_be64(img + QCOW2_HDR_L1_OFFSET, 100 * CL);
	expect_error("past the end of the file");
	build();
	img_put_be64(img + QCOW2_HDR_SIZE, UINT64_MAX);
	expect_error("too large");
	build();
	img_put_be32(img + QCOW2_HDR_NB_SNAPSHOTS, 65536);
	img_put_be64(img + QCOW2_HDR_SNAPSHOTS_OFFSET, 4 * CL);
	expect_error("snapshot table of 65536 entries");
	build();
	img_put_be32(img + QCOW2_HDR_NB_SNAPSHOTS, 0x7fffffff);
	expect_error("at most 65536");
	build();
	img_put_be64(img + QCOW2_HDR_BACKING_OFFSET, 200);
	img_put_be32(img + QCOW2_HDR_BACKING_SIZE, 4000);
	expect_error("backing file name is 4000 bytes");
	build();
	img_put_be32(img + QCOW2_HDR_HEADER_LENGTH, 100);
	expect_error("header length 100");
	build();
	img_put_be32(img + QCOW2_HDR_HEADER_LENGTH, 4096);
	expect_error("exceeds the cluster size");
	build();
	img_put_be64(img + QCOW2_HDR_INCOMPAT, 1ull << 40);
	expect_error("bit 40");
	build();
	img_put_be32(img + QCOW2_HDR_REFTABLE_CLUSTERS, 0);
	expect_error("no refcount table");
	build();
	/* an extension whose length runs past the header cluster */
	img_put_be32(img + QCOW2_HDR_V3_LENGTH, QCOW2_EXT_BACKING_FORMAT);
	img_put_be32(img + QCOW2_HDR_V3_LENGTH + 4, 10000);
	expect_error("past the header area");
	build();
	img_put_be32(img + QCOW2_HDR_V3_LENGTH, QCOW2_EXT_BACKING_FORMAT);
	img_put_be32(img + QCOW2_HDR_V3_LENGTH + 4, 40);
	expect_error("backing format name is 40 bytes");
	build();
	img_put_be32(img + QCOW2_HDR_V3_LENGTH, QCOW2_EXT_BITMAPS);
	img_put_be32(img + QCOW2_HDR_V3_LENGTH + 4, 23);
	expect_error("bitmaps extension has length 23");
}

static void test_feature_names_and_strings(void **state)
{
	uint8_t *e = img + QCOW2_HDR_V3_LENGTH;
	struct img_qcow2 *q;

	(void)state;
	build();
	img_put_be32(e, QCOW2_EXT_FEATURE_TABLE);
	img_put_be32(e + 4, QCOW2_FEATURE_ENTRY_SIZE);
	e[8] = QCOW2_FEATURE_TYPE_INCOMPAT;
	e[9] = 33;
	memcpy(e + 10, "time travel", 11);
	img_put_be32(e + 56, QCOW2_EXT_BACKING_FORMAT);
	img_put_be32(e + 60, 5);
	memcpy(e + 64, "qcow2", 5);
	/* backing file name right after the extensions' end marker */
	img_put_be64(img + QCOW2_HDR_BACKING_OFFSET, 300);
	img_put_be32(img + QCOW2_HDR_BACKING_SIZE, 7);
	memcpy(img + 300, "b.qcow2", 7);
	q = open_ok();
	assert_string_equal(q->backing_file, "b.qcow2");
	assert_string_equal(q->backing_format, "qcow2");
	assert_int_equal(q->nb_features, 1);
	img_qcow2_free(q);
	img_put_be64(img + QCOW2_HDR_INCOMPAT, (1ull << 33) | (1ull << 34));
	expect_error("unsupported incompatible features: \"time travel\" (bit 33), bit 34");
}

static void put_snapshot(uint8_t *p, const char *id, const char *name, uint32_t extra)
{
	img_put_be64(p + QCOW2_SN_L1_OFFSET, 2 * CL);
	img_put_be32(p + QCOW2_SN_L1_SIZE, 32);
	img_put_be16(p + QCOW2_SN_ID_LEN, (uint16_t)strlen(id));
	img_put_be16(p + QCOW2_SN_NAME_LEN, (uint16_t)strlen(name));
	img_put_be32(p + QCOW2_SN_DATE_SEC, 1700000000);
	img_put_be64(p + QCOW2_SN_VM_CLOCK, 3723004000000ull);
	img_put_be32(p + QCOW2_SN_VM_STATE_SIZE, 1234);
	img_put_be32(p + QCOW2_SN_EXTRA_SIZE, extra);
	if (extra >= 24) {
		img_put_be64(p + QCOW2_SN_HEADER, 5000000000ull);
		img_put_be64(p + QCOW2_SN_HEADER + 8, 1u << 20);
		img_put_be64(p + QCOW2_SN_HEADER + 16, UINT64_MAX);
	}
	memcpy(p + QCOW2_SN_HEADER + extra, id, strlen(id));
	memcpy(p + QCOW2_SN_HEADER + extra + strlen(id), name, strlen(name));
}

static void test_snapshot_table(void **state)
{
	uint8_t *t = img + 8 * CL;
	struct img_qcow2 *q;
	struct json_object *list;
	struct qc_buf out = { 0 };

	(void)state;
	build();
	img_put_be32(img + QCOW2_HDR_NB_SNAPSHOTS, 2);
	img_put_be64(img + QCOW2_HDR_SNAPSHOTS_OFFSET, 8 * CL);
	put_snapshot(t, "1", "first", 24);
	put_snapshot(t + 72, "2", "second", 0); /* 40 + 0 + 1 + 6 = 47 -> 48; first is 40+24+1+5=70 -> 72 */
	q = open_ok();
	assert_int_equal(q->nb_snapshots, 2);
	assert_string_equal(q->snapshots[0].name, "first");
	assert_int_equal(q->snapshots[0].vm_state_size, 5000000000ull); /* the 64-bit field wins */
	assert_true(q->snapshots[0].has_disk_size);
	assert_false(q->snapshots[0].has_icount);
	assert_int_equal(q->snapshots[1].vm_state_size, 1234);
	assert_string_equal(q->snapshots[1].id, "2");
	assert_int_equal(q->snapshots_size, 72 + 48);
	img_qcow2_free(q);

	list = json_tokener_parse("[{\"id\": \"1\", \"name\": \"first\", \"vm-state-size\": 0, \"date-sec\": 0,"
				  " \"date-nsec\": 0, \"vm-clock-sec\": 3723, \"vm-clock-nsec\": 4000000,"
				  " \"icount\": 17}]");
	setenv("TZ", "UTC", 1);
	img_info_snapshot_table(&out, list);
	assert_string_equal(qc_buf_str(&out),
			    "ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT\n"
			    "1         first                 0 B 1970-01-01 00:00:00 01:02:03.004         17\n");
	qc_buf_free(&out);
	json_object_put(list);

	/* an entry claiming more extra data than allowed */
	img_put_be32(t + QCOW2_SN_EXTRA_SIZE, 5000);
	expect_error("extra data");
	/* a table running past the end of the file */
	build();
	img_put_be32(img + QCOW2_HDR_NB_SNAPSHOTS, 1);
	img_put_be64(img + QCOW2_HDR_SNAPSHOTS_OFFSET, (NCL - 1) * CL);
	put_snapshot(img + (NCL - 1) * CL, "1", "x", 0);
	img_put_be16(img + (NCL - 1) * CL + QCOW2_SN_NAME_LEN, 60000);
	expect_error("past the end of the file");
}

static void test_map(void **state)
{
	uint8_t *l2 = img + 3 * CL;
	struct qc_error *err = NULL;
	struct img_qcow2_extent e;
	struct img_qcow2 *q;

	(void)state;
	build();
	img_put_be64(l2 + 0 * 8, QCOW2_OFLAG_COPIED | 4 * CL); /* guest 0 -> host 4, 5 contiguous */
	img_put_be64(l2 + 1 * 8, QCOW2_OFLAG_COPIED | 5 * CL);
	img_put_be64(l2 + 2 * 8, QCOW2_OFLAG_COPIED | 9 * CL); /* not contiguous */
	img_put_be64(l2 + 3 * 8, QCOW2_OFLAG_ZERO);
	img_put_be64(l2 + 4 * 8, QCOW2_OFLAG_ZERO | 7 * CL); /* preallocated zero */
	/* 5 is unallocated; 6 compressed at 6*CL+16, 2 sectors */
	img_put_be64(l2 + 6 * 8, QCOW2_OFLAG_COMPRESSED | (1ull << (62 - 1)) | (6 * CL + 16));
	img_put_be64(l2 + 7 * 8, QCOW2_OFLAG_COPIED | 1000 * CL); /* data past EOF: reads as zeros */
	q = open_ok();
	assert_int_equal(img_qcow2_map(q, 100, 1u << 20, &e, &err), 0);
	assert_int_equal(e.kind, QCOW2_NORMAL);
	assert_int_equal(e.host, 4 * CL + 100);
	assert_int_equal(e.len, 2 * CL - 100);
	assert_int_equal(img_qcow2_map(q, 2 * CL, 1u << 20, &e, &err), 0);
	assert_int_equal(e.kind, QCOW2_NORMAL);
	assert_int_equal(e.len, CL);
	assert_int_equal(img_qcow2_map(q, 3 * CL, 1u << 20, &e, &err), 0);
	assert_int_equal(e.kind, QCOW2_ZERO);
	assert_int_equal(e.len, 2 * CL);
	assert_int_equal(img_qcow2_map(q, 5 * CL, 1u << 20, &e, &err), 0);
	assert_int_equal(e.kind, QCOW2_UNALLOCATED);
	assert_int_equal(e.len, CL);
	assert_int_equal(img_qcow2_map(q, 6 * CL + 5, 1u << 20, &e, &err), 0);
	assert_int_equal(e.kind, QCOW2_COMPRESSED);
	assert_int_equal(e.host, 6 * CL + 16);
	assert_int_equal(e.csize, 2 * 512 - 16);
	assert_int_equal(e.len, CL - 5);
	assert_int_equal(img_qcow2_map(q, 7 * CL, 1u << 20, &e, &err), 0);
	assert_int_equal(e.kind, QCOW2_NORMAL);
	assert_int_equal(e.host, 1000 * CL);
	/* past the first L2 table's range: L1[1..31] are empty, one extent */
	assert_int_equal(img_qcow2_map(q, 64 * CL, 1u << 20, &e, &err), 0);
	assert_int_equal(e.kind, QCOW2_UNALLOCATED);
	assert_int_equal(e.len, 31 * 64 * CL);
	assert_int_equal(img_qcow2_map(q, 64 * CL + 5, 100 * CL, &e, &err), 0);
	assert_int_equal(e.len, 100 * CL);
	/* a max smaller than the run */
	assert_int_equal(img_qcow2_map(q, 0, 10, &e, &err), 0);
	assert_int_equal(e.len, 10);
	img_qcow2_free(q);
	/* an L1 entry pointing outside the file */
	img_put_be64(img + 2 * CL + 8, 1000 * CL);
	q = open_ok();
	assert_int_equal(img_qcow2_map(q, 64 * CL, 100, &e, &err), -1);
	assert_non_null(strstr(err->msg, "L2 table at offset"));
	qc_error_free(err);
	img_qcow2_free(q);
}

static void test_size_str(void **state)
{
	static const struct {
		uint64_t v;
		const char *s;
	} cases[] = {
		{ 0, "0 B" },
		{ 999, "999 B" },
		{ 1000, "0.977 KiB" },
		{ 4096, "4 KiB" },
		{ 200704, "196 KiB" },
		{ 1323008, "1.26 MiB" },
		{ 1u << 30, "1 GiB" },
		{ 5497558138880ull, "5 TiB" },
		{ UINT64_MAX, "16 EiB" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		img_size_str(buf, sizeof(buf), cases[i].v);
		assert_string_equal(buf, cases[i].s);
	}
}

static void test_backing_resolve(void **state)
{
	char *s;

	(void)state;
	s = img_backing_resolve("a.qcow2", "b.qcow2");
	assert_string_equal(s, "b.qcow2");
	free(s);
	s = img_backing_resolve("dir/sub/a.qcow2", "../b.qcow2");
	assert_string_equal(s, "dir/sub/../b.qcow2");
	free(s);
	s = img_backing_resolve("dir/a.qcow2", "/abs/b");
	assert_string_equal(s, "/abs/b");
	free(s);
	s = img_backing_resolve("/a.qcow2", "b");
	assert_string_equal(s, "/b");
	free(s);
}

static void test_json_text(void **state)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	struct qc_buf out = { 0 };

	(void)state;
	json_object_object_add(o, "s", json_object_new_string("\"q\"\\\n\x01\xc3\xa9\xf0\x9f\x98\x80\xff"));
	json_object_object_add(o, "empty", a);
	json_object_object_add(o, "n", json_object_new_int64(-5));
	img_info_json_text(&out, o);
	assert_string_equal(qc_buf_str(&out), "{\n"
					      "    \"s\": \"\\\"q\\\"\\\\\\n\\u0001\\u00E9\\uD83D\\uDE00\\uFFFD\",\n"
					      "    \"empty\": [\n"
					      "    ],\n"
					      "    \"n\": -5\n"
					      "}\n");
	qc_buf_free(&out);
	json_object_put(o);
}

static void test_is_zero(void **state)
{
	static uint8_t buf[4096 + 32];

	(void)state;
	for (size_t off = 0; off < 17; off++) {
		memset(buf, 0, sizeof(buf));
		assert_true(img_is_zero(buf + off, 4096));
		buf[off + 4095] = 1;
		assert_false(img_is_zero(buf + off, 4096));
		buf[off + 4095] = 0;
		buf[off] = 1;
		assert_false(img_is_zero(buf + off, 4096));
		assert_true(img_is_zero(buf + off + 1, 7));
	}
}

static void test_parse_size(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "0", 0 },
		{ "512", 512 },
		{ "1k", 1024 },
		{ "1K", 1024 },
		{ "1.5M", 1572864 },
		{ "10G", 10737418240ull },
		{ "2T", 2199023255552ull },
		{ "1E", 1ull << 60 },
		{ "4096b", 4096 },
	};
	static const char *const bad[] = { "", "-1", "1X", "1kk", "k", "1.3", "20E", "1e3q", " 5" };
	struct qc_error *err = NULL;
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (img_parse_size(ok[i].s, &v, &err) < 0)
			fail_msg("'%s' rejected: %s", ok[i].s, err->msg);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (img_parse_size(bad[i], &v, &err) == 0)
			fail_msg("'%s' accepted as %llu", bad[i], (unsigned long long)v);
		assert_non_null(strstr(err->msg, "invalid size"));
		qc_error_free(err);
		err = NULL;
	}
}

static void test_create_options(void **state)
{
	struct img_create_opts o;
	struct qc_error *err = NULL;

	(void)state;
	img_create_opts_init(&o, IMG_FMT_QCOW2);
	assert_int_equal(img_create_parse_options(&o,
						  "compat=0.10,cluster_size=4k,backing_file=a,,b.qcow2,"
						  "backing_fmt=qcow2,preallocation=metadata,refcount_bits=16",
						  &err),
			 0);
	assert_int_equal(o.qcow2.version, 2);
	assert_int_equal(o.qcow2.cluster_bits, 12);
	assert_string_equal(o.backing_file, "a,b.qcow2");
	assert_int_equal(o.prealloc, IMG_PREALLOC_METADATA);
	assert_int_equal(img_create_parse_options(&o, "lazy_refcounts=on,extended_l2=yes,compression_type=zstd", &err),
			 0);
	assert_true(o.qcow2.lazy_refcounts && o.qcow2.extended_l2);
	img_create_opts_free(&o);

	static const struct {
		const char *opts;
		const char *msg;
	} bad[] = {
		{ "cluster_size=1000", "power of two" },    { "cluster_size=4M", "power of two" },
		{ "refcount_bits=3", "power of two" },	    { "refcount_bits=128", "power of two" },
		{ "lazy_refcounts=maybe", "on or off" },    { "compat=2", "invalid value" },
		{ "bogus=1", "unknown option 'bogus'" },    { "size", "has no value" },
		{ "encrypt.format=luks", "not supported" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		img_create_opts_init(&o, IMG_FMT_QCOW2);
		if (img_create_parse_options(&o, bad[i].opts, &err) == 0)
			fail_msg("'%s' accepted", bad[i].opts);
		if (!strstr(err->msg, bad[i].msg))
			fail_msg("'%s': '%s' lacks '%s'", bad[i].opts, err->msg, bad[i].msg);
		qc_error_free(err);
		err = NULL;
		img_create_opts_free(&o);
	}
	img_create_opts_init(&o, IMG_FMT_RAW);
	assert_int_equal(img_create_parse_options(&o, "preallocation=metadata", &err), -1);
	qc_error_free(err);
	err = NULL;
	assert_int_equal(img_create_parse_options(&o, "preallocation=full,size=1M", &err), 0);
	assert_true(o.has_size);
	assert_int_equal(o.size, 1u << 20);
	img_create_opts_free(&o);
}

/* Creating through the library and reading back through the parser: every
 * cluster in use has refcount 1, nothing else. */
static void test_create_roundtrip(void **state)
{
	char dir[] = "/tmp/test_image.XXXXXX", path[64];
	struct img_create_opts o;
	struct qc_error *err = NULL;
	struct img *im;
	uint8_t buf[4096];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.qcow2", dir);
	for (uint32_t order = 0; order <= 6; order++) {
		img_create_opts_init(&o, IMG_FMT_QCOW2);
		o.size = 5ull << 30;
		o.has_size = true;
		o.overwrite = true;
		o.qcow2.refcount_order = order;
		o.qcow2.cluster_bits = 12;
		o.prealloc = order == 3 ? IMG_PREALLOC_METADATA : IMG_PREALLOC_OFF;
		if (img_create(path, &o, &err) < 0)
			fail_msg("create: %s", err->msg);
		img_create_opts_free(&o);
		im = img_open(path, NULL, IMG_OPEN_CHAIN | IMG_OPEN_DATA, &err);
		if (!im)
			fail_msg("open: %s", err->msg);
		assert_int_equal(im->fmt, IMG_FMT_QCOW2);
		assert_int_equal(im->size, 5ull << 30);
		assert_int_equal(im->qcow2->refcount_order, order);
		assert_int_equal(im->qcow2->nb_features, 8);
		assert_int_equal(img_read(im, buf, (5ull << 30) - sizeof(buf), sizeof(buf), &err), 0);
		assert_true(img_is_zero(buf, sizeof(buf)));
		img_close(im);
	}
	/* never over an existing file without overwrite */
	img_create_opts_init(&o, IMG_FMT_RAW);
	o.size = 1024;
	o.has_size = true;
	assert_int_equal(img_create(path, &o, &err), -1);
	assert_non_null(strstr(err->msg, "file exists"));
	qc_error_free(err);
	img_create_opts_free(&o);
	unlink(path);
	rmdir(dir);
}

/* OFD locks conflict between open file descriptions even in one process,
 * which is how a running QEMU and qmpctl see each other. */
static void test_locks(void **state)
{
	char path[] = "/tmp/test_image_lock.XXXXXX";
	int writer = mkstemp(path), reader, other;
	struct qc_error *err = NULL;

	(void)state;
	assert_true(writer >= 0);
	reader = open(path, O_RDONLY);
	other = open(path, O_RDONLY);
	assert_true(reader >= 0 && other >= 0);
	/* two readers share */
	assert_int_equal(img_lock(reader, false, &err), 0);
	assert_int_equal(img_lock(other, false, &err), 0);
	/* a writer is refused while readers refuse to share writing */
	assert_int_equal(img_lock(writer, true, &err), -1);
	assert_non_null(strstr(err->msg, "in use"));
	qc_error_free(err);
	err = NULL;
	close(reader);
	close(other);
	/* alone, the writer gets in; then readers are refused, naming the lock */
	assert_int_equal(img_lock(writer, true, &err), 0);
	reader = open(path, O_RDONLY);
	assert_int_equal(img_lock(reader, false, &err), -1);
	assert_non_null(strstr(err->msg, "\"consistent read\" lock")); /* a writer shares nothing */
	assert_non_null(strstr(err->msg, "-U"));
	qc_error_free(err);
	close(reader);
	close(writer);
	unlink(path);
}

/* The formats qemu-img cannot create here (bochs, cloop, dmg) and the
 * near misses that must stay raw. */
static void test_probe_foreign(void **state)
{
	static const char cloop[] =
		"#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n";
	uint8_t head[512] = { 0 }, tail[512] = { 0 };

	(void)state;
	assert_null(img_probe_foreign(head, sizeof(head), tail, sizeof(tail)));
	memcpy(head, "Bochs Virtual HD Image", 22);
	assert_string_equal(img_probe_foreign(head, sizeof(head), tail, sizeof(tail)), "Bochs");
	memset(head, 0, sizeof(head));
	memcpy(head, cloop, sizeof(cloop) - 1);
	assert_string_equal(img_probe_foreign(head, sizeof(head), tail, sizeof(tail)), "cloop");
	memset(head, 0, sizeof(head));
	memcpy(tail, "koly", 4);
	assert_string_equal(img_probe_foreign(head, sizeof(head), tail, sizeof(tail)), "DMG");
	/* A trailer is only a trailer in a file of at least one sector. */
	assert_null(img_probe_foreign(head, sizeof(head), tail, 0));
	memset(tail, 0, sizeof(tail));
	/* qcow2 (version 2 and 3) is ours; version 1 is not. */
	memcpy(head, "QFI\xfb\0\0\0\3", 8);
	assert_null(img_probe_foreign(head, sizeof(head), tail, sizeof(tail)));
	memcpy(head, "QFI\xfb\0\0\0\1", 8);
	assert_string_equal(img_probe_foreign(head, sizeof(head), tail, sizeof(tail)), "QCOW (version 1)");
	/* VMDK descriptors as QEMU probes them: comments and blank lines, then
	 * the version line. */
	memset(head, 0, sizeof(head));
	memcpy(head, "# comment\n  \r\n\nversion=1\r\nCID=1\n", 32);
	assert_string_equal(img_probe_foreign(head, 32, tail, 0), "VMDK");
	memcpy(head, "version=3\n", 10);
	assert_string_equal(img_probe_foreign(head, 10, tail, 0), "VMDK");
	memcpy(head, "version=4\n", 10);
	assert_null(img_probe_foreign(head, 10, tail, 0));
	memcpy(head, "# a note\nhello\nversion=1\n", 26);
	assert_null(img_probe_foreign(head, 26, tail, 0));
	/* Magic cut short by the end of a tiny file. */
	assert_null(img_probe_foreign((const uint8_t *)"vhdxfil", 7, tail, 0));
	assert_string_equal(img_probe_foreign((const uint8_t *)"vhdxfile", 8, tail, 0), "VHDX");
}

/* A missing backing file: the wrapped error still says ENOENT (callers
 * decide from errnum). */
static void test_backing_error_errno(void **state)
{
	char dir[] = "/tmp/test_image.XXXXXX", base[64], top[64];
	struct img_create_opts o;
	struct qc_error *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(base, sizeof(base), "%s/base.raw", dir);
	snprintf(top, sizeof(top), "%s/top.qcow2", dir);
	img_create_opts_init(&o, IMG_FMT_RAW);
	o.size = 1 << 20;
	o.has_size = true;
	assert_int_equal(img_create(base, &o, &err), 0);
	img_create_opts_free(&o);
	img_create_opts_init(&o, IMG_FMT_QCOW2);
	o.backing_file = qc_strdup("base.raw");
	o.backing_fmt = qc_strdup("raw");
	assert_int_equal(img_create(top, &o, &err), 0);
	img_create_opts_free(&o);
	unlink(base);
	assert_null(img_open(top, NULL, IMG_OPEN_CHAIN, &err));
	assert_non_null(strstr(err->msg, "cannot open backing file: "));
	assert_int_equal(err->errnum, ENOENT);
	qc_error_free(err);
	unlink(top);
	rmdir(dir);
}

/* What a convert reported through its qc_op. */
struct convert_watch {
	struct qc_op *op;
	uint64_t last, total;
	unsigned calls, dones;
	bool done_ok;
	volatile sig_atomic_t *flag; /* set after the first piece */
};

static void convert_progress(void *opaque, uint64_t current, uint64_t total)
{
	struct convert_watch *w = opaque;

	assert_true(current >= w->last);
	assert_true(current <= total);
	w->last = current;
	w->total = total;
	w->calls++;
	if (w->flag)
		*w->flag = 1; /* as the CLI's signal handler does */
}

static void convert_done(void *opaque, const struct qc_error *err)
{
	struct convert_watch *w = opaque;

	w->dones++;
	w->done_ok = err == NULL;
}

static unsigned dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* A convert reports monotonic progress ending at the total and finishes
 * its op; a cancel requested through the op's watched flag midway stops
 * it as "interrupted" and leaves no output, not even the temporary. */
static void test_convert_op(void **state)
{
	char dir[] = "/tmp/test_image.XXXXXX", src[64], dst[64];
	const uint64_t size = 16u << 20;
	static uint8_t buf[1 << 20];
	volatile sig_atomic_t flag = 0;
	struct img_convert_opts o = { 0 };
	struct convert_watch w = { 0 };
	struct qc_error *err = NULL;
	struct qc_op op;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/src.raw", dir);
	snprintf(dst, sizeof(dst), "%s/dst.raw", dir);
	memset(buf, 0xa5, sizeof(buf));
	fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (uint64_t off = 0; off < size; off += sizeof(buf))
		assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);

	qc_op_init(&op, convert_progress, convert_done, &w);
	img_create_opts_init(&o.out, IMG_FMT_RAW);
	o.src_fmt = "raw";
	o.op = &op;
	if (img_convert(src, dst, &o, &err) < 0)
		fail_msg("convert: %s", err->msg);
	assert_true(w.calls >= 2);
	assert_int_equal(w.last, size);
	assert_int_equal(w.total, size);
	assert_int_equal(w.dones, 1);
	assert_true(w.done_ok);
	assert_true(qc_op_finished(&op));
	qc_op_fini(&op);
	assert_int_equal(unlink(dst), 0);

	memset(&w, 0, sizeof(w));
	w.flag = &flag;
	qc_op_init(&op, convert_progress, convert_done, &w);
	qc_op_watch(&op, &flag);
	assert_int_equal(img_convert(src, dst, &o, &err), -1);
	assert_non_null(strstr(err->msg, "interrupted"));
	qc_error_free(err);
	err = NULL;
	assert_int_equal(w.calls, 1); /* stopped at the next piece */
	assert_true(w.last < size);
	assert_int_equal(w.dones, 1);
	assert_false(w.done_ok);
	assert_non_null(op.err);
	qc_op_fini(&op);
	assert_int_equal(access(dst, F_OK), -1);
	assert_int_equal(dir_entries(dir), 1); /* only the source */

	img_create_opts_free(&o.out);
	unlink(src);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_header),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_feature_names_and_strings),
		cmocka_unit_test(test_snapshot_table),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_size_str),
		cmocka_unit_test(test_backing_resolve),
		cmocka_unit_test(test_json_text),
		cmocka_unit_test(test_is_zero),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_create_options),
		cmocka_unit_test(test_create_roundtrip),
		cmocka_unit_test(test_locks),
		cmocka_unit_test(test_probe_foreign),
		cmocka_unit_test(test_backing_error_errno),
		cmocka_unit_test(test_convert_op),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
