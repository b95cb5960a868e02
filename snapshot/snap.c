/*
 * snap: listing and the create/delete/revert operations.
 *
 * A job (snapshot-save/-load/-delete) runs on qmp_job (snap_job.c), which
 * follows it from its start to its dismissal and reads its error.
 */
#include "snap.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "discover.h"
#include "img.h"
#include "img_info.h"
#include "img_snapshot.h"
#include "qc_buf.h"
#include "qmp_session.h"
#include "qmp_sync.h"
#include "snap_job.h"
#include "snap_qsd.h"

#define DEFAULT_TIMEOUT_MS 30000u

static unsigned timeout_of(const struct snap_ctx *ctx)
{
	return ctx->timeout_ms ? ctx->timeout_ms : DEFAULT_TIMEOUT_MS;
}

int snap_check_name(const char *name, struct qc_error **errp)
{
	if (!name || !*name) {
		qc_error_set(errp, "a snapshot name cannot be empty");
		return -1;
	}
	if (strlen(name) > SNAP_NAME_MAX) {
		qc_error_set(errp, "snapshot name too long (%zu bytes, QEMU's limit is %d)", strlen(name),
			     SNAP_NAME_MAX);
		return -1;
	}
	return 0;
}

/* ---- disks ---------------------------------------------------------------- */

void snap_disks_free(struct snap_disk *disks, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(disks[i].target);
		free(disks[i].file);
		free(disks[i].format);
		free(disks[i].node);
		json_object_put(disks[i].snapshots);
	}
	free(disks);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static struct snap_disk *add_disk(struct snap_disk **disks, size_t *n)
{
	*disks = qc_realloc(*disks, (*n + 1) * sizeof(**disks));
	memset(&(*disks)[*n], 0, sizeof(**disks));
	return &(*disks)[(*n)++];
}

int snap_disks_live(struct snap_ctx *ctx, const struct disc_vm *vm, struct snap_disk **disks, size_t *n,
		    struct qc_error **errp)
{
	struct json_object *blocks = qmp_sync_execute(ctx->base, ctx->s, "query-block", NULL, errp);

	*disks = NULL;
	*n = 0;
	if (!blocks)
		return -1;
	for (size_t i = 0; i < json_object_array_length(blocks); i++) {
		struct json_object *blk = json_object_array_get_idx(blocks, i);
		struct json_object *ins = json_object_object_get(blk, "inserted");
		struct json_object *image = json_object_object_get(ins, "image");
		const char *file = jstr(ins, "file"), *device = jstr(blk, "device"), *node = jstr(ins, "node-name");
		const char *target = device && *device ? device : node;
		struct snap_disk *d;

		if (!ins || !file)
			continue; /* an empty drive */
		/* libvirt's name for the disk when its configuration says which. */
		for (size_t k = 0; vm && k < vm->n_disks; k++)
			if (vm->disks[k].source && !strcmp(vm->disks[k].source, file))
				target = vm->disks[k].target;
		d = add_disk(disks, n);
		d->target = qc_strdup(target ? target : "?");
		d->file = qc_strdup(file);
		d->format = qc_strdup(jstr(ins, "drv") ? jstr(ins, "drv") : "?");
		d->node = node ? qc_strdup(node) : NULL;
		d->readonly = json_object_get_boolean(json_object_object_get(ins, "ro")) ||
			      json_object_get_boolean(json_object_object_get(blk, "removable"));
		d->snapshots = json_object_get(json_object_object_get(image, "snapshots"));
		if (!d->snapshots)
			d->snapshots = json_object_new_array();
	}
	json_object_put(blocks);
	return 0;
}

/* "vda, vdb": the targets, for messages. */
static char *target_names(const char *const *targets, size_t n)
{
	struct qc_buf b = { 0 };

	for (size_t i = 0; i < n; i++)
		qc_buf_printf(&b, "%s%s", i ? ", " : "", targets[i]);
	if (!n)
		qc_buf_append_str(&b, "none");
	return qc_buf_steal(&b);
}

/* Every target in only must be one of targets. */
static int check_targets(const char *const *targets, size_t n, char *const *only, size_t n_only, struct qc_error **errp)
{
	for (size_t i = 0; i < n_only; i++) {
		bool known = false;

		for (size_t k = 0; k < n && !known; k++)
			known = !strcmp(targets[k], only[i]);
		if (!known) {
			char *have = target_names(targets, n);

			qc_error_set(errp, "the VM has no disk '%s' (its disks: %s)", only[i], have);
			free(have);
			return -1;
		}
	}
	return 0;
}

static bool in_only(char *const *only, size_t n_only, const char *target)
{
	if (!n_only)
		return true;
	for (size_t i = 0; i < n_only; i++)
		if (!strcmp(only[i], target))
			return true;
	return false;
}

int snap_disks_select(struct snap_disk **disks, size_t *n, char *const *only, size_t n_only, struct qc_error **errp)
{
	const char **targets = qc_calloc(*n ? *n : 1, sizeof(*targets));
	size_t kept = 0;
	int rc;

	for (size_t i = 0; i < *n; i++)
		targets[i] = (*disks)[i].target;
	rc = check_targets(targets, *n, only, n_only, errp);
	free(targets);
	if (rc < 0 || !n_only)
		return rc;
	for (size_t i = 0; i < *n; i++) {
		if (in_only(only, n_only, (*disks)[i].target)) {
			(*disks)[kept++] = (*disks)[i];
			continue;
		}
		/* Free this one entry alone. */
		free((*disks)[i].target);
		free((*disks)[i].file);
		free((*disks)[i].format);
		free((*disks)[i].node);
		json_object_put((*disks)[i].snapshots);
	}
	*n = kept;
	return 0;
}

int snap_disks_offline(const struct disc_vm *vm, const struct snap_select *sel, struct snap_disk **disks, size_t *n,
		       struct qc_error **errp)
{
	static const struct snap_select all = { 0 };
	const char **targets = qc_calloc(vm->n_disks ? vm->n_disks : 1, sizeof(*targets));
	size_t nt = 0;

	*disks = NULL;
	*n = 0;
	if (!sel)
		sel = &all;
	for (size_t k = 0; k < vm->n_disks; k++)
		if (vm->disks[k].target)
			targets[nt++] = vm->disks[k].target;
	if (check_targets(targets, nt, sel->only, sel->n_only, errp) < 0) {
		free(targets);
		return -1;
	}
	free(targets);
	for (size_t k = 0; k < vm->n_disks; k++) {
		const struct disc_disk *dd = &vm->disks[k];
		struct snap_disk *d;
		struct json_object *info;
		struct img *img;
		unsigned flags;

		if (!dd->source || !dd->target || !in_only(sel->only, sel->n_only, dd->target))
			continue; /* not selected: not opened at all */
		d = add_disk(disks, n);
		d->target = qc_strdup(dd->target);
		d->file = qc_strdup(dd->source);
		d->readonly = dd->readonly || strcmp(dd->device, "disk") != 0;
		if (strcmp(dd->type, "file") && strcmp(dd->type, "block")) {
			/* network, volume, ...: not ours to open. */
			d->format = qc_strdup(dd->format ? dd->format : "?");
			d->readonly = true;
			d->snapshots = json_object_new_array();
			continue;
		}
		/* A change needs the image to itself: checked with the locks
		 * a writer takes (released at once; the change itself opens
		 * it again), so that the message is about that, not about
		 * reading. */
		if (sel->force_share)
			flags = IMG_OPEN_NO_LOCK;
		else if (sel->for_write && !d->readonly)
			flags = IMG_OPEN_WRITE;
		else
			flags = 0;
		img = img_open(dd->source, dd->format, flags, errp);
		if (!img) {
			qc_error_prepend(errp, "disk %s", dd->target);
			snap_disks_free(*disks, *n);
			*disks = NULL;
			*n = 0;
			return -1;
		}
		d->format = qc_strdup(img_format_name(img->fmt));
		info = img_info_json(img, dd->source, errp);
		img_close(img);
		if (!info) {
			snap_disks_free(*disks, *n);
			*disks = NULL;
			*n = 0;
			return -1;
		}
		d->snapshots = json_object_get(json_object_object_get(info, "snapshots"));
		if (!d->snapshots)
			d->snapshots = json_object_new_array();
		json_object_put(info);
	}
	return 0;
}

/* ---- listing ---------------------------------------------------------------- */

bool snap_disk_can_hold(const struct snap_disk *d)
{
	return !d->readonly && d->format && !strcmp(d->format, "qcow2");
}

static bool disk_has(const struct snap_disk *d, const char *name);

char *snap_missing_on(const struct snap_disk *disks, size_t n, const char *name, const char *sep)
{
	struct qc_buf b = { 0 };

	for (size_t i = 0; i < n; i++)
		if (snap_disk_can_hold(&disks[i]) && !disk_has(&disks[i], name))
			qc_buf_printf(&b, "%s%s", b.len ? sep : "", disks[i].target);
	return b.len ? qc_buf_steal(&b) : (qc_buf_free(&b), NULL);
}

static int64_t jint(struct json_object *o, const char *key)
{
	return json_object_get_int64(json_object_object_get(o, key));
}

static int cmp_entry(const void *a, const void *b)
{
	const struct snap_entry *x = a, *y = b;

	if (x->date_sec != y->date_sec)
		return x->date_sec < y->date_sec ? -1 : 1;
	if (x->date_nsec != y->date_nsec)
		return x->date_nsec < y->date_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

void snap_list_build(struct snap_disk *disks, size_t n, struct snap_list *list)
{
	memset(list, 0, sizeof(*list));
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < json_object_array_length(disks[i].snapshots); k++) {
			struct json_object *info = json_object_array_get_idx(disks[i].snapshots, k);
			const char *name = jstr(info, "name");
			struct snap_entry *e = NULL;
			uint64_t vmsize = (uint64_t)jint(info, "vm-state-size");

			if (!name)
				continue;
			for (size_t j = 0; j < list->n && !e; j++)
				if (!strcmp(list->entries[j].name, name))
					e = &list->entries[j];
			if (!e) {
				list->entries = qc_realloc(list->entries, (list->n + 1) * sizeof(*list->entries));
				e = &list->entries[list->n++];
				memset(e, 0, sizeof(*e));
				e->name = qc_strdup(name);
				e->date_sec = jint(info, "date-sec");
				e->date_nsec = (uint32_t)jint(info, "date-nsec");
				e->vm_clock_nsec = (uint64_t)jint(info, "vm-clock-sec") * 1000000000u +
						   (uint64_t)jint(info, "vm-clock-nsec");
			}
			if (vmsize && !e->vmstate_disk) {
				e->vm_state_size = vmsize;
				e->vmstate_disk = qc_strdup(disks[i].target);
			}
			e->on = qc_realloc(e->on, (e->n_on + 1) * sizeof(*e->on));
			e->on[e->n_on].target = disks[i].target;
			e->on[e->n_on++].info = info;
		}
	}
	for (size_t j = 0; j < list->n; j++) {
		struct snap_entry *e = &list->entries[j];

		e->missing = snap_missing_on(disks, n, e->name, ",");
		e->consistent = !e->missing;
		/* With VM state: read from it later, if asked. */
		e->state = e->vm_state_size ? SNAP_STATE_UNKNOWN : snap_state_no_vmstate(e->vm_clock_nsec, e->date_sec);
	}
	if (list->n > 1)
		qsort(list->entries, list->n, sizeof(*list->entries), cmp_entry);
}

static void read_state(struct snap_entry *e, const struct snap_disk *disks, size_t n)
{
	struct qc_error *err = NULL;

	if (!e->vm_state_size)
		return;
	for (size_t k = 0; k < e->n_on; k++) {
		const char *file = NULL;

		if (strcmp(e->on[k].target, e->vmstate_disk) || jint(e->on[k].info, "vm-state-size") <= 0)
			continue;
		for (size_t i = 0; i < n && !file; i++)
			if (disks[i].target == e->on[k].target)
				file = disks[i].file;
		/* What cannot be read stays unknown: the list is still worth
		 * showing. */
		if (file && snap_state_read(file, jstr(e->on[k].info, "id"), e->name, &e->state, &err) < 0) {
			qc_error_free(err);
			err = NULL;
		}
		return;
	}
}

void snap_list_read_states(struct snap_list *list, const char *name, const struct snap_disk *disks, size_t n)
{
	for (size_t j = 0; j < list->n; j++)
		if (!name || !strcmp(list->entries[j].name, name))
			read_state(&list->entries[j], disks, n);
}

const struct snap_entry *snap_list_find(const struct snap_list *list, const char *name)
{
	for (size_t i = 0; i < list->n; i++)
		if (!strcmp(list->entries[i].name, name))
			return &list->entries[i];
	return NULL;
}

void snap_list_free(struct snap_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->entries[i].name);
		free(list->entries[i].vmstate_disk);
		free(list->entries[i].missing);
		free(list->entries[i].on);
	}
	free(list->entries);
	memset(list, 0, sizeof(*list));
}

/* ---- jobs ---------------------------------------------------------------------- */

/* Runs cmd (a job; args get the job-id) to its end on qmp_job (snap_job.c).
 * The job is dismissed whatever happened; its error, if any, becomes *errp. */
static int run_job(struct snap_ctx *ctx, const char *cmd, struct json_object *args, bool cancellable,
		   struct qc_error **errp)
{
	return snap_job_run(ctx, cmd, args, cancellable, errp);
}

/* ---- helpers for the operations ------------------------------------------------ */

static bool has_command(struct snap_ctx *ctx, const char *name)
{
	struct json_object *cmds = qmp_sync_execute(ctx->base, ctx->s, "query-commands", NULL, NULL);
	bool found = false;

	for (size_t i = 0; cmds && i < json_object_array_length(cmds) && !found; i++)
		found = jstr(json_object_array_get_idx(cmds, i), "name") &&
			!strcmp(jstr(json_object_array_get_idx(cmds, i), "name"), name);
	json_object_put(cmds);
	return found;
}

static int hmp(struct snap_ctx *ctx, const char *line, struct qc_error **errp)
{
	struct json_object *args = json_object_new_object(), *ret;
	int rc = 0;

	json_object_object_add(args, "command-line", json_object_new_string(line));
	ret = qmp_sync_execute(ctx->base, ctx->s, "human-monitor-command", args, errp);
	if (!ret)
		return -1;
	/* HMP reports failure only as text. */
	if (json_object_get_string_len(ret) > 0) {
		char *msg = qc_strdup(json_object_get_string(ret));
		size_t l = strlen(msg);

		while (l && (msg[l - 1] == '\n' || msg[l - 1] == '\r'))
			msg[--l] = '\0';
		if (strstr(msg, "rror") || strstr(msg, "annot") || strstr(msg, "not ")) {
			qc_error_set(errp, "%s", msg);
			rc = -1;
		}
		free(msg);
	}
	json_object_put(ret);
	return rc;
}

static bool selected(const struct snap_create_opts *o, const char *target)
{
	return in_only(o->only, o->n_only, target);
}

static bool disk_has(const struct snap_disk *d, const char *name)
{
	for (size_t k = 0; k < json_object_array_length(d->snapshots); k++)
		if (jstr(json_object_array_get_idx(d->snapshots, k), "name") &&
		    !strcmp(jstr(json_object_array_get_idx(d->snapshots, k), "name"), name))
			return true;
	return false;
}

/* One transaction of blockdev-snapshot-internal-sync (or -delete-) over
 * nodes: all disks change or none. */
static int transaction(struct event_base *base, struct qmp_session *s, const char *type, const char *const *nodes,
		       size_t n, const char *name, struct qc_error **errp)
{
	struct json_object *args = json_object_new_object(), *actions = json_object_new_array(), *ret;

	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_new_object(), *d = json_object_new_object();

		json_object_object_add(d, "device", json_object_new_string(nodes[i]));
		json_object_object_add(d, "name", json_object_new_string(name));
		json_object_object_add(a, "type", json_object_new_string(type));
		json_object_object_add(a, "data", d);
		json_object_array_add(actions, a);
	}
	json_object_object_add(args, "actions", actions);
	ret = qmp_sync_execute(base, s, "transaction", args, errp);
	json_object_put(ret);
	return ret ? 0 : -1;
}

static struct json_object *str_array(const char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* The given disks in a private qemu-storage-daemon (snap_qsd). */
static int offline(struct snap_ctx *ctx, struct snap_disk *disks, const size_t *idx, size_t n, bool create,
		   const char *name, struct qc_error **errp)
{
	struct snap_qsd_disk *qd = qc_calloc(n ? n : 1, sizeof(*qd));
	int rc;

	for (size_t i = 0; i < n; i++) {
		qd[i].file = disks[idx[i]].file;
		qd[i].format = disks[idx[i]].format;
	}
	rc = create ? snap_qsd_create(ctx->base, qd, n, name, timeout_of(ctx), ctx->cancel, errp)
		    : snap_qsd_delete(ctx->base, qd, n, name, timeout_of(ctx), ctx->cancel, errp);
	free(qd);
	return rc;
}

/* ---- the operations ------------------------------------------------------------ */

/* A create interrupted (Ctrl-C) while QEMU saved: QEMU 7.2 holds its main
 * loop for the whole save, so the cancel often comes too late and the
 * snapshot exists whatever the job said.  Look at the disks and delete
 * what was made, so that an interrupt never leaves one behind.  Always
 * returns -1, with *errp saying what became of it. */
static int undo_interrupted(struct snap_ctx *ctx, const char *const *nodes, size_t k, const char *name,
			    struct qc_error **errp)
{
	struct snap_disk *now = NULL;
	struct qc_error *err = NULL;
	size_t n = 0;
	bool made = false;

	qc_error_free(errp ? *errp : NULL);
	if (errp)
		*errp = NULL;
	if (snap_disks_live(ctx, NULL, &now, &n, &err) < 0) {
		qc_error_set(errp, "interrupted: cannot tell whether snapshot %s was made: %s", name, err->msg);
		qc_error_free(err);
		return -1;
	}
	for (size_t d = 0; d < n; d++)
		for (size_t i = 0; i < k; i++)
			if (now[d].node && nodes[i] && !strcmp(now[d].node, nodes[i]) && disk_has(&now[d], name))
				made = true;
	snap_disks_free(now, n);
	if (!made) {
		qc_error_set(errp, "interrupted: snapshot %s not created", name);
		return -1;
	}
	if (has_command(ctx, "snapshot-delete")) {
		struct json_object *args = json_object_new_object();

		json_object_object_add(args, "tag", json_object_new_string(name));
		json_object_object_add(args, "devices", str_array(nodes, k));
		run_job(ctx, "snapshot-delete", args, false, &err);
	} else {
		char *line = qc_asprintf("delvm %s", name);

		hmp(ctx, line, &err);
		free(line);
	}
	if (err) {
		qc_error_set(errp, "interrupted: snapshot %s was made but could not be removed: %s", name, err->msg);
		qc_error_free(err);
	} else {
		qc_error_set(errp, "interrupted: snapshot %s removed", name);
	}
	return -1;
}

int snap_create(struct snap_ctx *ctx, struct snap_disk *disks, size_t n, const struct snap_create_opts *o,
		struct qc_error **errp)
{
	size_t *idx = qc_calloc(n ? n : 1, sizeof(*idx)), k = 0, vmstate = (size_t)-1;
	struct qc_buf raw = { 0 }, exists = { 0 };
	const char **nodes = NULL;
	int rc = -1;

	if (snap_check_name(o->name, errp) < 0)
		goto out;
	{
		const char **targets = qc_calloc(n ? n : 1, sizeof(*targets));
		int bad;

		for (size_t d = 0; d < n; d++)
			targets[d] = disks[d].target;
		bad = check_targets(targets, n, o->only, o->n_only, errp);
		free(targets);
		if (bad < 0)
			goto out;
	}
	/* QEMU looks a snapshot up by id before name (qcow2's goto): a name
	 * that is another snapshot's id would load that one. */
	for (size_t d = 0; d < n; d++) {
		for (size_t s = 0; s < json_object_array_length(disks[d].snapshots); s++) {
			struct json_object *info = json_object_array_get_idx(disks[d].snapshots, s);
			const char *id = jstr(info, "id"), *other = jstr(info, "name");

			if (id && !strcmp(id, o->name) && (!other || strcmp(other, o->name))) {
				qc_error_set(errp,
					     "snapshot name '%s' is the id of snapshot '%s' on %s, which QEMU would "
					     "load in its place: choose another name",
					     o->name, other ? other : "", disks[d].target);
				goto out;
			}
		}
	}
	for (size_t d = 0; d < n; d++) {
		if (!disks[d].readonly && disk_has(&disks[d], o->name))
			qc_buf_printf(&exists, "%s%s", exists.len ? ", " : "", disks[d].target);
		if (disks[d].readonly || !selected(o, disks[d].target))
			continue;
		if (strcmp(disks[d].format, "qcow2")) {
			qc_buf_printf(&raw, "%s%s (%s, %s)", raw.len ? ", " : "", disks[d].target, disks[d].file,
				      disks[d].format);
			continue;
		}
		if (o->vmstate_disk ? !strcmp(o->vmstate_disk, disks[d].target) : vmstate == (size_t)-1)
			vmstate = d;
		idx[k++] = d;
	}
	if (raw.len) {
		qc_error_set(errp,
			     "cannot snapshot %s: only qcow2 images hold internal snapshots (leave them out with "
			     "--disks, or convert them with 'qmpctl image convert -O qcow2')",
			     raw.data);
		goto out;
	}
	if (!k) {
		qc_error_set(errp, "the VM has no writable qcow2 disk to snapshot");
		goto out;
	}
	if (!o->disk_only && o->vmstate_disk && vmstate == (size_t)-1) {
		qc_error_set(errp, "--vmstate-disk %s is not one of the writable qcow2 disks being snapshotted",
			     o->vmstate_disk);
		goto out;
	}
	if (exists.len && !o->force) {
		qc_error_set(errp, "snapshot '%s' already exists (on %s); use --force to replace it", o->name,
			     exists.data);
		goto out;
	}
	/* QEMU has no rename: the old snapshot goes first, and a failed save
	 * after that leaves none (said in the error). */
	if (exists.len && snap_delete(ctx, disks, n, o->name, errp) < 0)
		goto out;
	if (!ctx->s) {
		/* A shut-off VM has no RAM to save: its snapshots are of the
		 * disks alone, with or without --disk-only. */
		rc = offline(ctx, disks, idx, k, true, o->name, errp);
		goto fail_after_delete;
	}
	if (snap_interrupted(ctx)) {
		qc_error_set(errp, "interrupted: snapshot %s not created", o->name);
		goto out;
	}
	nodes = qc_calloc(k, sizeof(*nodes));
	for (size_t i = 0; i < k; i++)
		nodes[i] = disks[idx[i]].node;
	if (o->disk_only) {
		rc = transaction(ctx->base, ctx->s, "blockdev-snapshot-internal-sync", nodes, k, o->name, errp);
	} else if (has_command(ctx, "snapshot-save")) {
		struct json_object *args = json_object_new_object();

		json_object_object_add(args, "tag", json_object_new_string(o->name));
		json_object_object_add(args, "vmstate", json_object_new_string(disks[vmstate].node));
		json_object_object_add(args, "devices", str_array(nodes, k));
		rc = run_job(ctx, "snapshot-save", args, true, errp);
	} else {
		char *line = qc_asprintf("savevm %s", o->name);

		rc = hmp(ctx, line, errp);
		free(line);
	}
	if (snap_interrupted(ctx))
		rc = undo_interrupted(ctx, nodes, k, o->name, errp);
fail_after_delete:
	if (rc < 0 && exists.len)
		qc_error_prepend(errp, "the old snapshot '%s' was deleted (on %s) before the new save, which failed",
				 o->name, exists.data);
out:
	free(nodes);
	free(idx);
	qc_buf_free(&raw);
	qc_buf_free(&exists);
	return rc;
}

/* The disks holding name; 0 with *errp set when none does. */
static size_t holders(struct snap_disk *disks, size_t n, const char *name, size_t *idx, struct qc_error **errp)
{
	size_t k = 0;

	for (size_t d = 0; d < n; d++)
		if (!disks[d].readonly && disk_has(&disks[d], name))
			idx[k++] = d;
	if (!k)
		qc_error_set(errp, "no snapshot named '%s'", name);
	return k;
}

int snap_delete(struct snap_ctx *ctx, struct snap_disk *disks, size_t n, const char *name, struct qc_error **errp)
{
	size_t *idx = qc_calloc(n ? n : 1, sizeof(*idx)), k;
	const char **nodes = NULL;
	int rc = -1;

	k = holders(disks, n, name, idx, errp);
	if (!k)
		goto out;
	if (!ctx->s) {
		rc = offline(ctx, disks, idx, k, false, name, errp);
		goto out;
	}
	nodes = qc_calloc(k, sizeof(*nodes));
	for (size_t i = 0; i < k; i++)
		nodes[i] = disks[idx[i]].node;
	if (has_command(ctx, "snapshot-delete")) {
		struct json_object *args = json_object_new_object();

		json_object_object_add(args, "tag", json_object_new_string(name));
		json_object_object_add(args, "devices", str_array(nodes, k));
		rc = run_job(ctx, "snapshot-delete", args, true, errp);
	} else {
		char *line = qc_asprintf("delvm %s", name);

		rc = hmp(ctx, line, errp);
		free(line);
	}
out:
	free(nodes);
	free(idx);
	return rc;
}

static const char *run_status(struct snap_ctx *ctx, char *buf, size_t len, struct qc_error **errp)
{
	struct json_object *st = qmp_sync_execute(ctx->base, ctx->s, "query-status", NULL, errp);

	if (!st)
		return NULL;
	snprintf(buf, len, "%s", jstr(st, "status") ? jstr(st, "status") : "");
	json_object_put(st);
	return buf;
}

static int simple(struct snap_ctx *ctx, const char *cmd, struct qc_error **errp)
{
	struct json_object *r = qmp_sync_execute(ctx->base, ctx->s, cmd, NULL, errp);

	json_object_put(r);
	return r ? 0 : -1;
}

/* Applies the snapshot to every disk holding it, natively (QEMU has no
 * command for it). */
static int revert_offline(struct snap_disk *disks, const size_t *idx, size_t k, const char *name,
			  struct qc_error **errp)
{
	for (size_t i = 0; i < k; i++) {
		if (img_snapshot_apply(disks[idx[i]].file, name, NULL, errp) < 0) {
			qc_error_prepend(errp, "disk %s", disks[idx[i]].target);
			return -1;
		}
	}
	return 0;
}

int snap_revert(struct snap_ctx *ctx, struct snap_disk *disks, size_t n, const char *name,
		const struct snap_revert_opts *o, struct qc_error **errp)
{
	size_t *idx = qc_calloc(n ? n : 1, sizeof(*idx)), k, vmstate = (size_t)-1;
	const char **nodes = NULL;
	char before[32], after[32];
	int rc = -1;

	k = holders(disks, n, name, idx, errp);
	if (!k)
		goto out;
	if (!o->force) {
		char *missing = snap_missing_on(disks, n, name, ", ");

		if (missing) {
			qc_error_set(errp,
				     "snapshot '%s' is not on every disk (missing on %s): reverting only the others "
				     "would mix points in time; give --force to do it anyway",
				     name, missing);
			free(missing);
			goto out;
		}
	}
	for (size_t i = 0; i < k; i++) {
		struct json_object *snaps = disks[idx[i]].snapshots;

		for (size_t s = 0; s < json_object_array_length(snaps); s++) {
			struct json_object *info = json_object_array_get_idx(snaps, s);

			if (jstr(info, "name") && !strcmp(jstr(info, "name"), name) && jint(info, "vm-state-size") > 0)
				vmstate = idx[i];
		}
	}
	if (!ctx->s) {
		if (vmstate != (size_t)-1 && !o->disk_only) {
			qc_error_set(errp,
				     "snapshot '%s' holds the VM's RAM and device state, which only a running VM can "
				     "load: start the VM and revert it while running, or give --disk-only to restore "
				     "just the disks",
				     name);
			goto out;
		}
		rc = revert_offline(disks, idx, k, name, errp);
		goto out;
	}
	if (vmstate == (size_t)-1) {
		qc_error_set(errp,
			     "'%s' is a disk-only snapshot: it cannot be loaded into a running VM; shut the VM down "
			     "and revert it offline ('qmpctl snapshot revert VM %s' while it is shut off)",
			     name, name);
		goto out;
	}
	if (!run_status(ctx, before, sizeof(before), errp))
		goto out;
	nodes = qc_calloc(k, sizeof(*nodes));
	for (size_t i = 0; i < k; i++)
		nodes[i] = disks[idx[i]].node;
	if (has_command(ctx, "snapshot-load")) {
		struct json_object *args = json_object_new_object();

		json_object_object_add(args, "tag", json_object_new_string(name));
		json_object_object_add(args, "vmstate", json_object_new_string(disks[vmstate].node));
		json_object_object_add(args, "devices", str_array(nodes, k));
		rc = run_job(ctx, "snapshot-load", args, true, errp);
	} else {
		char *line = qc_asprintf("loadvm %s", name);

		rc = hmp(ctx, line, errp);
		free(line);
	}
	if (rc < 0)
		goto out;
	if (!run_status(ctx, after, sizeof(after), errp)) {
		rc = -1;
		goto out;
	}
	if (o->paused && !strcmp(after, "running"))
		rc = simple(ctx, "stop", errp);
	else if (!o->paused && !strcmp(before, "running") && strcmp(after, "running"))
		rc = simple(ctx, "cont", errp);
out:
	free(nodes);
	free(idx);
	return rc;
}
