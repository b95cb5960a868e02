/* snap: merging per-disk snapshot tables into one list, name rules, and
 * the snapshot state read from an image's VM clock and VM state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "qc_buf.h"
#include "snap.h"
#include "snap_state.h"

static struct json_object *snap(const char *id, const char *name, int64_t vmsize, int64_t date)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "vm-state-size", json_object_new_int64(vmsize));
	json_object_object_add(o, "date-sec", json_object_new_int64(date));
	json_object_object_add(o, "date-nsec", json_object_new_int64(0));
	json_object_object_add(o, "vm-clock-sec", json_object_new_int64(2));
	json_object_object_add(o, "vm-clock-nsec", json_object_new_int64(500000000));
	return o;
}

static void disk(struct snap_disk *d, const char *target, const char *format, bool ro)
{
	memset(d, 0, sizeof(*d));
	d->target = qc_strdup(target);
	d->file = qc_asprintf("/img/%s", target);
	d->format = qc_strdup(format);
	d->readonly = ro;
	d->snapshots = json_object_new_array();
}

static void free_disks(struct snap_disk *d, size_t n)
{
	struct snap_disk *copy = qc_calloc(n, sizeof(*copy));

	memcpy(copy, d, n * sizeof(*d));
	snap_disks_free(copy, n);
}

static void test_merge_and_consistency(void **state)
{
	struct snap_disk d[4];
	struct snap_list list;
	const struct snap_entry *e;

	(void)state;
	disk(&d[0], "vda", "qcow2", false);
	disk(&d[1], "vdb", "qcow2", false);
	disk(&d[2], "vdc", "raw", false);  /* cannot hold snapshots: never counted */
	disk(&d[3], "sda", "qcow2", true); /* a cdrom: never counted */
	json_object_array_add(d[0].snapshots, snap("1", "full", 4096, 200));
	json_object_array_add(d[1].snapshots, snap("1", "full", 0, 200));
	json_object_array_add(d[0].snapshots, snap("2", "only-vda", 0, 100));
	snap_list_build(d, 4, &list);
	assert_int_equal(list.n, 2);
	/* oldest first */
	assert_string_equal(list.entries[0].name, "only-vda");
	assert_string_equal(list.entries[1].name, "full");
	e = snap_list_find(&list, "full");
	assert_non_null(e);
	assert_true(e->consistent);
	assert_int_equal(e->n_on, 2);
	assert_int_equal(e->vm_state_size, 4096);
	assert_string_equal(e->vmstate_disk, "vda");
	assert_int_equal(e->vm_clock_nsec, 2500000000u);
	e = snap_list_find(&list, "only-vda");
	assert_non_null(e);
	assert_false(e->consistent);
	assert_null(e->vmstate_disk);
	assert_int_equal(e->n_on, 1);
	assert_string_equal(e->on[0].target, "vda");
	assert_null(snap_list_find(&list, "nope"));
	snap_list_free(&list);
	free_disks(d, 4);
}

static void test_names(void **state)
{
	struct qc_error *err = NULL;
	char longname[SNAP_NAME_MAX + 2];

	(void)state;
	assert_int_equal(snap_check_name("before-upgrade", &err), 0);
	assert_int_equal(snap_check_name("1a", &err), 0);
	assert_null(err);
	assert_int_equal(snap_check_name("", &err), -1);
	assert_non_null(strstr(err->msg, "empty"));
	qc_error_free(err);
	err = NULL;
	/* All digits is a name like any other (virsh names by the time). */
	assert_int_equal(snap_check_name("123", &err), 0);
	assert_int_equal(snap_check_name("1460975579", &err), 0);
	assert_null(err);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(snap_check_name(longname, &err), -1);
	assert_non_null(strstr(err->msg, "too long"));
	qc_error_free(err);
	longname[SNAP_NAME_MAX] = '\0';
	assert_int_equal(snap_check_name(longname, NULL), 0);
}

/* One rule for "missing": disks that cannot hold snapshots never count,
 * in the list as in revert. */
static void test_missing(void **state)
{
	struct snap_disk d[4];
	struct snap_list list;
	const struct snap_entry *e;
	char *m;

	(void)state;
	disk(&d[0], "drive0", "qcow2", false);
	disk(&d[1], "drive1", "qcow2", false);
	disk(&d[2], "drive2", "raw", false);
	disk(&d[3], "cd", "qcow2", true);
	json_object_array_add(d[0].snapshots, snap("1", "both", 0, 100));
	json_object_array_add(d[1].snapshots, snap("1", "both", 0, 100));
	json_object_array_add(d[0].snapshots, snap("2", "one", 0, 200));
	snap_list_build(d, 4, &list);
	e = snap_list_find(&list, "both");
	assert_non_null(e);
	assert_null(e->missing);
	assert_true(e->consistent);
	e = snap_list_find(&list, "one");
	assert_non_null(e);
	assert_string_equal(e->missing, "drive1");
	assert_false(e->consistent);
	assert_null(snap_missing_on(d, 4, "both", ", "));
	m = snap_missing_on(d, 4, "none", ", ");
	assert_string_equal(m, "drive0, drive1");
	free(m);
	assert_true(snap_disk_can_hold(&d[0]));
	assert_false(snap_disk_can_hold(&d[2]));
	assert_false(snap_disk_can_hold(&d[3]));
	snap_list_free(&list);
	free_disks(d, 4);
}

static void test_state_without_vmstate(void **state)
{
	(void)state;
	/* qemu-img writes VM clock 0 */
	assert_int_equal(snap_state_no_vmstate(0, 1796150000), SNAP_STATE_SHUTOFF);
	/* a qemu-storage-daemon writes its wall clock */
	assert_int_equal(snap_state_no_vmstate(1796150003ull * 1000000000u + 449, 1796150000), SNAP_STATE_SHUTOFF);
	/* a live VM's own clock: disk-only */
	assert_int_equal(snap_state_no_vmstate(2500000000u, 1796150000), SNAP_STATE_DISK_SNAPSHOT);
	assert_int_equal(snap_state_no_vmstate(40ull * 86400 * 1000000000u, 1796150000), SNAP_STATE_DISK_SNAPSHOT);
	assert_string_equal(snap_state_name(SNAP_STATE_DISK_SNAPSHOT), "disk-snapshot");
	assert_string_equal(snap_state_name(SNAP_STATE_SHUTOFF), "shutoff");
	assert_string_equal(snap_state_name(SNAP_STATE_UNKNOWN), "unknown");
	assert_int_equal(snap_state_of_runstate("running"), SNAP_STATE_RUNNING);
	assert_int_equal(snap_state_of_runstate("paused"), SNAP_STATE_PAUSED);
	assert_int_equal(snap_state_of_runstate("prelaunch"), SNAP_STATE_PAUSED);
	assert_int_equal(snap_state_of_runstate("guest-panicked"), SNAP_STATE_CRASHED);
	assert_int_equal(snap_state_of_runstate("no-such-state"), SNAP_STATE_UNKNOWN);
}

/* A globalstate section as QEMU's savevm writes it: FULL, section id,
 * "globalstate", instance 0, version 1, size (with NUL), 100 bytes of
 * run state, then the footer. */
static size_t put_globalstate(uint8_t *p, uint32_t id, const char *rs, uint32_t size)
{
	uint8_t *q = p;

	*q++ = 0x04;
	q[0] = (uint8_t)(id >> 24), q[1] = (uint8_t)(id >> 16), q[2] = (uint8_t)(id >> 8), q[3] = (uint8_t)id;
	q += 4;
	*q++ = 11;
	memcpy(q, "globalstate", 11);
	q += 11;
	memset(q, 0, 8);
	q[7] = 1;
	q += 8;
	q[0] = (uint8_t)(size >> 24), q[1] = (uint8_t)(size >> 16), q[2] = (uint8_t)(size >> 8), q[3] = (uint8_t)size;
	q += 4;
	memset(q, 0, 100);
	memcpy(q, rs, strlen(rs));
	q += 100;
	*q++ = 0x7e;
	q[0] = (uint8_t)(id >> 24), q[1] = (uint8_t)(id >> 16), q[2] = (uint8_t)(id >> 8), q[3] = (uint8_t)id;
	q += 4;
	return (size_t)(q - p);
}

static void test_find_runstate(void **state)
{
	uint8_t buf[4096];
	char out[101];
	size_t at;

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(snap_state_find_runstate(buf, sizeof(buf), out, sizeof(out)), 0);
	/* One planted in guest RAM earlier in the stream, the real one after. */
	put_globalstate(buf + 100, 3, "running", 8);
	at = 2000;
	at += put_globalstate(buf + at, 7, "paused", 7);
	assert_int_equal(snap_state_find_runstate(buf, sizeof(buf), out, sizeof(out)), 1);
	assert_string_equal(out, "paused");
	/* A footer naming another section: not a section. */
	buf[at - 1] ^= 1;
	assert_int_equal(snap_state_find_runstate(buf, sizeof(buf), out, sizeof(out)), 1);
	assert_string_equal(out, "running");
	/* A size that does not match the string. */
	memset(buf, 0xee, sizeof(buf));
	put_globalstate(buf + 10, 1, "running", 5);
	assert_int_equal(snap_state_find_runstate(buf, sizeof(buf), out, sizeof(out)), 0);
	put_globalstate(buf + 10, 1, "running", 200);
	assert_int_equal(snap_state_find_runstate(buf, sizeof(buf), out, sizeof(out)), 0);
	/* Cut short: the run state does not fit. */
	memset(buf, 0xee, sizeof(buf));
	put_globalstate(buf + 10, 1, "running", 8);
	assert_int_equal(snap_state_find_runstate(buf, 10 + 60, out, sizeof(out)), 0);
	assert_int_equal(snap_state_find_runstate(buf, 10 + 129, out, sizeof(out)), 1);
	assert_string_equal(out, "running");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_and_consistency),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_state_without_vmstate),
		cmocka_unit_test(test_find_runstate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
