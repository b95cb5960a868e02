/* snap: merging per-disk snapshot tables into one list, and name rules. */
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
	assert_int_equal(snap_check_name("123", &err), -1);
	assert_non_null(strstr(err->msg, "id"));
	qc_error_free(err);
	err = NULL;
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(snap_check_name(longname, &err), -1);
	assert_non_null(strstr(err->msg, "too long"));
	qc_error_free(err);
	longname[SNAP_NAME_MAX] = '\0';
	assert_int_equal(snap_check_name(longname, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_and_consistency),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
