/* snap_qsd: create and delete internal snapshots through a private
 * qemu-storage-daemon, for shut-off VMs and image snapshot -c/-d. */
#include "snap_qsd.h"

#include <stdlib.h>

#include <json-c/json.h>

#include "img_snapshot.h"
#include "qc_buf.h"
#include "qmp_qsd_sync.h"
#include "qmp_sync.h"

/* One transaction of blockdev-snapshot-internal-sync: all disks or none. */
static int create_all(struct qmp_qsd *q, size_t n, const char *name, struct qc_error **errp)
{
	struct json_object *args = json_object_new_object(), *actions = json_object_new_array(), *ret;

	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_new_object(), *d = json_object_new_object();

		json_object_object_add(d, "device", json_object_new_string(qmp_qsd_node(q, i)));
		json_object_object_add(d, "name", json_object_new_string(name));
		json_object_object_add(a, "type", json_object_new_string("blockdev-snapshot-internal-sync"));
		json_object_object_add(a, "data", d);
		json_object_array_add(actions, a);
	}
	json_object_object_add(args, "actions", actions);
	ret = qmp_sync_execute(qmp_qsd_base(q), qmp_qsd_session(q), "transaction", args, errp);
	json_object_put(ret);
	return ret ? 0 : -1;
}

/* Deletion has no transaction action: one command per disk. */
static int delete_each(struct qmp_qsd *q, const struct snap_qsd_disk *disks, size_t n, const char *name,
		       struct qc_error **errp)
{
	for (size_t i = 0; i < n; i++) {
		struct json_object *args = json_object_new_object(), *ret;

		json_object_object_add(args, "device", json_object_new_string(qmp_qsd_node(q, i)));
		if (disks[i].id)
			json_object_object_add(args, "id", json_object_new_string(disks[i].id));
		json_object_object_add(args, "name", json_object_new_string(name));
		ret = qmp_sync_execute(qmp_qsd_base(q), qmp_qsd_session(q), "blockdev-snapshot-delete-internal-sync",
				       args, errp);
		if (!ret)
			return -1;
		json_object_put(ret);
	}
	return 0;
}

static int run(struct event_base *base, const struct snap_qsd_disk *disks, size_t n, bool create, const char *name,
	       unsigned timeout_ms, const volatile bool *cancel, struct qc_error **errp)
{
	struct qmp_qsd_disk *qd = qc_calloc(n ? n : 1, sizeof(*qd));
	struct qc_error *stop_err = NULL;
	struct qmp_qsd *q;
	int rc;

	for (size_t i = 0; i < n; i++) {
		qd[i].file = disks[i].file;
		qd[i].format = disks[i].format;
	}
	q = qmp_qsd_start(base, qd, n, timeout_ms, cancel, errp);
	free(qd);
	if (!q)
		return -1;
	/* Once the daemon is up, what it is asked is quick and atomic per
	 * command: it is let finish, and the daemon quits cleanly. */
	rc = create ? create_all(q, n, name, errp) : delete_each(q, disks, n, name, errp);
	if (qmp_qsd_stop(q, &stop_err) < 0 && rc == 0) {
		qc_error_propagate(errp, stop_err);
		rc = -1;
	} else {
		qc_error_free(stop_err);
	}
	if (rc == 0 && create) {
		/* The daemon has quit (and let go of the locks): now the VM
		 * clock it recorded is set to what qemu-img records. */
		for (size_t i = 0; i < n && rc == 0; i++) {
			struct qc_error *err = NULL;

			rc = img_snapshot_set_vm_clock(disks[i].file, name, 0, &err);
			if (rc < 0)
				qc_error_prefix(errp, err, "snapshot '%s' was made, but its VM clock was not set to 0",
						name);
		}
	}
	return rc;
}

int snap_qsd_create(struct event_base *base, const struct snap_qsd_disk *disks, size_t n, const char *name,
		    unsigned timeout_ms, const volatile bool *cancel, struct qc_error **errp)
{
	return run(base, disks, n, true, name, timeout_ms, cancel, errp);
}

int snap_qsd_delete(struct event_base *base, const struct snap_qsd_disk *disks, size_t n, const char *name,
		    unsigned timeout_ms, const volatile bool *cancel, struct qc_error **errp)
{
	return run(base, disks, n, false, name, timeout_ms, cancel, errp);
}

int snap_qsd_image(struct event_base *base, const char *path, bool create, const char *name, unsigned timeout_ms,
		   const volatile bool *cancel, struct qc_error **errp)
{
	struct snap_qsd_disk disk = { .file = path, .format = "qcow2" };
	struct qc_error *err = NULL;
	char *id = NULL, *sname = NULL;
	int found, rc = -1;

	/* Look first: a clear message, and nothing started, when the name is
	 * wrong or the image is in use. */
	found = img_snapshot_lookup(path, name, &id, &sname, errp);
	if (found < 0)
		return -1;
	if (create && found) {
		qc_error_set(errp, "%s: a snapshot with id or name '%s' already exists", path, name);
		goto out;
	}
	if (!create && !found) {
		qc_error_set(errp, "%s: no snapshot with id or name '%s'", path, name);
		goto out;
	}
	if (!*name) {
		qc_error_set(errp, "a snapshot needs a non-empty name");
		goto out;
	}
	disk.id = id;
	rc = run(base, &disk, 1, create, create ? name : sname, timeout_ms, cancel, &err);
	if (err)
		qc_error_prefix(errp, err, "%s: cannot %s snapshot '%s'", path, create ? "create" : "delete", name);
out:
	free(id);
	free(sname);
	return rc;
}
