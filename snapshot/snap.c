/*
 * snap: listing and the create/delete/revert operations.
 *
 * A job (snapshot-save/-load/-delete) is followed as a small state machine
 * fed by JOB_STATUS_CHANGE events: created -> running -> waiting ->
 * pending -> concluded (or aborting -> concluded on failure), then its
 * error is read from query-jobs and it is dismissed.
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
#include "snap_qsd.h"

#define DEFAULT_TIMEOUT_MS 30000u
#define PROGRESS_MS 250

static unsigned timeout_of(const struct snap_ctx *ctx)
{
	return ctx->timeout_ms ? ctx->timeout_ms : DEFAULT_TIMEOUT_MS;
}

int snap_check_name(const char *name, struct qc_error **errp)
{
	const char *p;

	if (!name || !*name) {
		qc_error_set(errp, "a snapshot name cannot be empty");
		return -1;
	}
	if (strlen(name) > SNAP_NAME_MAX) {
		qc_error_set(errp, "snapshot name too long (%zu bytes, QEMU's limit is %d)", strlen(name), SNAP_NAME_MAX);
		return -1;
	}
	for (p = name; *p && isdigit((unsigned char)*p); p++)
		;
	if (!*p) {
		qc_error_set(errp, "snapshot name '%s' is all digits, which QEMU would take for a snapshot id", name);
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

int snap_disks_offline(const struct disc_vm *vm, struct snap_disk **disks, size_t *n, struct qc_error **errp)
{
	*disks = NULL;
	*n = 0;
	for (size_t k = 0; k < vm->n_disks; k++) {
		const struct disc_disk *dd = &vm->disks[k];
		struct snap_disk *d;
		struct json_object *info;
		struct img *img;

		if (!dd->source)
			continue;
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
		img = img_open(dd->source, dd->format, 0, errp);
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

/* A disk that can hold internal snapshots and that we would snapshot. */
static bool can_hold(const struct snap_disk *d)
{
	return !d->readonly && d->format && !strcmp(d->format, "qcow2");
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
	size_t writable = 0;

	memset(list, 0, sizeof(*list));
	for (size_t i = 0; i < n; i++) {
		if (can_hold(&disks[i]))
			writable++;
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
				e->vm_clock_nsec =
					(uint64_t)jint(info, "vm-clock-sec") * 1000000000u + (uint64_t)jint(info, "vm-clock-nsec");
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
		size_t on_writable = 0;

		for (size_t k = 0; k < list->entries[j].n_on; k++)
			for (size_t i = 0; i < n; i++)
				if (disks[i].target == list->entries[j].on[k].target && can_hold(&disks[i]))
					on_writable++;
		list->entries[j].consistent = on_writable == writable;
	}
	if (list->n > 1)
		qsort(list->entries, list->n, sizeof(*list->entries), cmp_entry);
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
		free(list->entries[i].on);
	}
	free(list->entries);
	memset(list, 0, sizeof(*list));
}

/* ---- jobs ---------------------------------------------------------------------- */

enum job_state {
	JOB_SUBMITTED, /* command sent, no event yet */
	JOB_ACTIVE,    /* created / running / waiting / pending / aborting ... */
	JOB_CONCLUDED,
	JOB_GONE, /* the session closed under us */
};

struct job {
	struct snap_ctx *ctx;
	char id[64];
	enum job_state state;
	char status[32]; /* QEMU's last JOB_STATUS_CHANGE status */
	bool cancel_asked; /* job-cancel sent */
	bool cancel_sent;  /* ... and accepted */
	bool progress_pending;
};

/* The one place the job's state moves. */
static void job_set_state(struct job *j, const char *status)
{
	snprintf(j->status, sizeof(j->status), "%s", status);
	if (!strcmp(status, "concluded") || !strcmp(status, "null"))
		j->state = JOB_CONCLUDED;
	else
		j->state = JOB_ACTIVE;
}

static void job_event(void *opaque, const char *name, struct json_object *event)
{
	struct job *j = opaque;
	struct json_object *data = json_object_object_get(event, "data");
	const char *id = jstr(data, "id"), *status = jstr(data, "status");

	(void)name;
	if (id && status && !strcmp(id, j->id))
		job_set_state(j, status);
}

static void job_progress_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct job *j = opaque;

	j->progress_pending = false;
	if (err || !ret || !j->ctx->progress)
		return;
	for (size_t i = 0; i < json_object_array_length(ret); i++) {
		struct json_object *info = json_object_array_get_idx(ret, i);

		if (jstr(info, "id") && !strcmp(jstr(info, "id"), j->id))
			j->ctx->progress(j->ctx->progress_opaque, (uint64_t)jint(info, "current-progress"),
					 (uint64_t)jint(info, "total-progress"));
	}
}

static void job_tick(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	(void)fd;
	(void)what;
	if (j->state == JOB_ACTIVE && j->ctx->progress && !j->progress_pending &&
	    qmp_session_state(j->ctx->s) == QMP_SESSION_READY &&
	    qmp_session_execute(j->ctx->s, "query-jobs", NULL, 0, NULL, 0, 0, job_progress_reply, j, NULL))
		j->progress_pending = true;
}

/* Runs cmd (a job; args get the job-id) to its end.  The job is dismissed
 * whatever happened; its error, if any, becomes *errp. */
static int run_job(struct snap_ctx *ctx, const char *cmd, struct json_object *args, struct qc_error **errp)
{
	static unsigned serial;
	struct job j = { .ctx = ctx, .state = JOB_SUBMITTED };
	struct qmp_subscription *sub;
	struct json_object *ret, *jobs;
	struct timeval tv = { 0, PROGRESS_MS * 1000 };
	struct event *tick;
	struct qc_error *err = NULL;
	int rc = 0;

	snprintf(j.id, sizeof(j.id), "qmpctl-%s-%d-%u", cmd, (int)getpid(), ++serial);
	json_object_object_add(args, "job-id", json_object_new_string(j.id));
	sub = qmp_session_subscribe(ctx->s, "JOB_STATUS_CHANGE", job_event, &j);
	/* No timeout: QEMU may answer only once the whole save is done (it
	 * holds its main loop meanwhile); Ctrl-C or QEMU's end stops the wait. */
	ret = qmp_sync_execute_ex(ctx->base, ctx->s, cmd, args, NULL, 0, UINT32_MAX, errp);
	if (!ret) {
		qmp_session_unsubscribe(ctx->s, sub);
		return -1;
	}
	json_object_put(ret);
	if (j.state == JOB_SUBMITTED)
		j.state = JOB_ACTIVE;
	tick = event_new(ctx->base, -1, EV_PERSIST, job_tick, &j);
	event_add(tick, &tv);
	while (j.state != JOB_CONCLUDED) {
		if (qmp_session_state(ctx->s) != QMP_SESSION_READY) {
			j.state = JOB_GONE;
			break;
		}
		if (ctx->cancel && *ctx->cancel && !j.cancel_asked) {
			struct json_object *a = json_object_new_object();

			json_object_object_add(a, "id", json_object_new_string(j.id));
			j.cancel_asked = true;
			ret = qmp_sync_execute(ctx->base, ctx->s, "job-cancel", a, &err);
			/* A job that has just finished cannot be cancelled: its
			 * outcome stands and is reported as it is. */
			j.cancel_sent = ret != NULL;
			json_object_put(ret);
			qc_error_free(err);
			err = NULL;
			continue;
		}
		if (event_base_loop(ctx->base, EVLOOP_ONCE) < 0)
			break;
	}
	event_free(tick);
	qmp_session_unsubscribe(ctx->s, sub);
	if (j.state != JOB_CONCLUDED) {
		const struct qc_error *why = qmp_session_error(ctx->s);

		qc_error_set(errp, "QEMU went away while '%s' ran%s%s", cmd, why ? ": " : "", why ? why->msg : "");
		return -1;
	}
	/* The job's outcome, then dismiss it. */
	jobs = qmp_sync_execute(ctx->base, ctx->s, "query-jobs", NULL, errp);
	if (!jobs)
		return -1;
	for (size_t i = 0; i < json_object_array_length(jobs); i++) {
		struct json_object *info = json_object_array_get_idx(jobs, i);

		if (!jstr(info, "id") || strcmp(jstr(info, "id"), j.id))
			continue;
		if (jstr(info, "error")) {
			if (j.cancel_sent)
				qc_error_set(errp, "cancelled (%s)", jstr(info, "error"));
			else
				qc_error_set(errp, "%s", jstr(info, "error"));
			rc = -1;
		} else if (j.cancel_asked) {
			ctx->cancel_too_late = true;
		}
	}
	json_object_put(jobs);
	{
		struct json_object *a = json_object_new_object();

		json_object_object_add(a, "id", json_object_new_string(j.id));
		json_object_put(qmp_sync_execute(ctx->base, ctx->s, "job-dismiss", a, rc ? NULL : errp));
	}
	return rc;
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
	if (!o->n_only)
		return true;
	for (size_t i = 0; i < o->n_only; i++)
		if (!strcmp(o->only[i], target))
			return true;
	return false;
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

int snap_create(struct snap_ctx *ctx, struct snap_disk *disks, size_t n, const struct snap_create_opts *o,
		struct qc_error **errp)
{
	size_t *idx = qc_calloc(n ? n : 1, sizeof(*idx)), k = 0, vmstate = (size_t)-1;
	struct qc_buf raw = { 0 }, exists = { 0 };
	const char **nodes = NULL;
	int rc = -1;

	if (snap_check_name(o->name, errp) < 0)
		goto out;
	for (size_t i = 0; i < o->n_only; i++) {
		bool known = false;

		for (size_t d = 0; d < n; d++)
			known |= !strcmp(disks[d].target, o->only[i]);
		if (!known) {
			qc_error_set(errp, "the VM has no disk '%s'", o->only[i]);
			goto out;
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
			     "--disks, convert them with 'qmpctl image convert -O qcow2', or take an external snapshot)",
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
	if (!ctx->s && !o->disk_only) {
		qc_error_set(errp, "the VM is shut off: its RAM and device state cannot be saved; use --disk-only");
		goto out;
	}
	if (exists.len && snap_delete(ctx, disks, n, o->name, errp) < 0)
		goto out;
	if (!ctx->s) {
		rc = offline(ctx, disks, idx, k, true, o->name, errp);
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
		rc = run_job(ctx, "snapshot-save", args, errp);
	} else {
		char *line = qc_asprintf("savevm %s", o->name);

		rc = hmp(ctx, line, errp);
		free(line);
	}
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
		rc = run_job(ctx, "snapshot-delete", args, errp);
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
		struct qc_buf missing = { 0 };

		for (size_t d = 0; d < n; d++)
			if (can_hold(&disks[d]) && !disk_has(&disks[d], name))
				qc_buf_printf(&missing, "%s%s", missing.len ? ", " : "", disks[d].target);
		if (missing.len) {
			qc_error_set(errp,
				     "snapshot '%s' is not on every disk (missing on %s): reverting only the others "
				     "would mix points in time; give --force to do it anyway",
				     name, missing.data);
			qc_buf_free(&missing);
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
		rc = run_job(ctx, "snapshot-load", args, errp);
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
