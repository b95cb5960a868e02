/*
 * discover_live: what a running VM's monitor says about its disks and
 * state wins over configuration files.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "discover.h"
#include "qc_buf.h"

enum disc_state discover_state_from_qmp(const char *status)
{
	if (!status)
		return DISC_STATE_UNKNOWN;
	if (!strcmp(status, "running") || !strcmp(status, "debug"))
		return DISC_STATE_RUNNING;
	if (!strcmp(status, "paused") || !strcmp(status, "prelaunch") || !strcmp(status, "suspended") ||
	    !strcmp(status, "save-vm") || !strcmp(status, "restore-vm") || !strcmp(status, "finish-migrate") ||
	    !strcmp(status, "postmigrate") || !strcmp(status, "io-error") || !strcmp(status, "watchdog") ||
	    !strcmp(status, "colo"))
		return DISC_STATE_PAUSED;
	return DISC_STATE_OTHER;
}

enum disc_probe discover_probe_kind(bool connected, bool greeted, int errnum)
{
	if (!connected) {
		/* No errno: connect() found the listen queue full (EAGAIN,
		 * said in words by the transport). */
		if (!errnum)
			return DISC_PROBE_BUSY;
		return errnum == ECONNREFUSED || errnum == ENOENT ? DISC_PROBE_ABSENT : DISC_PROBE_FAILED;
	}
	/* Connected and no greeting in time: QEMU greets one client at a
	 * time, so another one holds the monitor. */
	if (!greeted && !errnum)
		return DISC_PROBE_BUSY;
	return DISC_PROBE_FAILED;
}

/* libvirt's status file of a live process said the state. */
static bool state_from_status_file(const struct disc_vm *vm)
{
	return vm->sources & DISC_SRC_STATUS && vm->pid && vm->state != DISC_STATE_UNKNOWN &&
	       vm->state != DISC_STATE_SHUTOFF;
}

void discover_apply_probe(struct disc_vm *vm, enum disc_probe probe, const char *status)
{
	const char *why = NULL;

	switch (probe) {
	case DISC_PROBE_ANSWERED:
		vm->state = discover_state_from_qmp(status);
		free(vm->state_detail);
		vm->state_detail = status ? qc_strdup(status) : NULL;
		vm->reason = NULL;
		return;
	case DISC_PROBE_BUSY:
		why = "monitor busy";
		break;
	case DISC_PROBE_ABSENT:
		if (!vm->pid && !(vm->sources & DISC_SRC_PROC)) {
			vm->state = DISC_STATE_SHUTOFF; /* nothing else says a QEMU runs */
			return;
		}
		why = "monitor not listening";
		break;
	case DISC_PROBE_FAILED:
		why = "no answer from the monitor";
		break;
	case DISC_PROBE_NONE:
		/* Nothing failed: libvirt's status file (kept by libvirtd,
		 * which holds the monitor) is the one source there is. */
		if (!vm->pid || state_from_status_file(vm))
			return;
		why = "no QMP socket";
		break;
	}
	if (vm->state == DISC_STATE_SHUTOFF && !vm->pid)
		return;
	vm->reason = why;
	if (state_from_status_file(vm))
		return;
	vm->state = DISC_STATE_UNKNOWN;
	free(vm->state_detail);
	vm->state_detail = NULL;
}

char *discover_state_text(const struct disc_vm *vm)
{
	const char *base =
		vm->state == DISC_STATE_OTHER && vm->state_detail ? vm->state_detail : discover_state_name(vm->state);

	if (vm->reason && vm->state != DISC_STATE_SHUTOFF)
		return qc_asprintf("%s (%s)", base, vm->reason);
	return qc_strdup(base);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void set_str(char **dst, const char *v)
{
	if (!v)
		return;
	free(*dst);
	*dst = qc_strdup(v);
}

/* "drive-virtio-disk0" (old libvirt -drive ids) and "virtio-disk0" name
 * the same disk as the alias. */
static bool names_match(const char *alias, const char *name)
{
	if (!alias || !name)
		return false;
	if (!strcmp(alias, name))
		return true;
	return !strncmp(name, "drive-", 6) && !strcmp(alias, name + 6);
}

/* query-block's "qdev" is the device id, or with -blockdev the QOM path
 * "/machine/peripheral/ID/virtio-backend" whose ID is libvirt's alias.
 * Anonymous devices ("/machine/peripheral-anon/...") have no id. */
static char *qdev_id(const char *qdev)
{
	const char *p = "/machine/peripheral/", *end;

	if (!qdev || !*qdev)
		return NULL;
	if (qdev[0] != '/')
		return qc_strdup(qdev);
	if (strncmp(qdev, p, strlen(p)))
		return NULL;
	qdev += strlen(p);
	end = strchr(qdev, '/');
	return qc_strndup(qdev, end ? (size_t)(end - qdev) : strlen(qdev));
}

static const char *type_of_file(const char *file)
{
	if (!file)
		return "file";
	if (!strncmp(file, "/dev/", 5))
		return "block";
	if (strstr(file, "://") || !strncmp(file, "json:", 5))
		return "network";
	return "file";
}

static void set_backing(struct disc_disk *d, struct json_object *image)
{
	struct json_object *b = json_object_object_get(image, "backing-image");

	for (size_t i = 0; i < d->n_backing; i++) {
		free(d->backing[i].type);
		free(d->backing[i].format);
		free(d->backing[i].source);
		free(d->backing[i].node);
	}
	free(d->backing);
	d->backing = NULL;
	d->n_backing = 0;
	for (unsigned depth = 0; b && depth < 64; depth++, b = json_object_object_get(b, "backing-image")) {
		struct disc_backing *bk;
		const char *file = jstr(b, "filename");

		d->backing = qc_realloc(d->backing, (d->n_backing + 1) * sizeof(*d->backing));
		bk = &d->backing[d->n_backing++];
		memset(bk, 0, sizeof(*bk));
		bk->type = qc_strdup(type_of_file(file));
		bk->format = jstr(b, "format") ? qc_strdup(jstr(b, "format")) : NULL;
		bk->source = file ? qc_strdup(file) : NULL;
	}
}

/* file is one of the backing images under a query-block "image". */
static bool in_chain(struct json_object *image, const char *file)
{
	struct json_object *b = json_object_object_get(image, "backing-image");

	for (unsigned depth = 0; b && file && depth < 64; depth++, b = json_object_object_get(b, "backing-image"))
		if (jstr(b, "filename") && !strcmp(jstr(b, "filename"), file))
			return true;
	return false;
}

void discover_apply_query_block(struct disc_vm *vm, struct json_object *blocks)
{
	if (!json_object_is_type(blocks, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(blocks); i++) {
		struct json_object *blk = json_object_array_get_idx(blocks, i);
		struct json_object *ins = json_object_object_get(blk, "inserted");
		const char *device = jstr(blk, "device"), *qdev_path = jstr(blk, "qdev");
		char *qdev = qdev_id(qdev_path);
		const char *file = jstr(ins, "file"), *node = jstr(ins, "node-name");
		struct json_object *removable = json_object_object_get(blk, "removable");
		struct disc_disk *d = NULL;

		for (size_t k = 0; k < vm->n_disks && !d; k++) {
			struct disc_disk *c = &vm->disks[k];

			if ((c->alias && (names_match(c->alias, qdev) || names_match(c->alias, device))) ||
			    (c->node && node && !strcmp(c->node, node)) ||
			    (device && *device && !strcmp(c->target, device)) || (qdev && !strcmp(c->target, qdev)) ||
			    (c->source && file && !strcmp(c->source, file)))
				d = c;
		}
		/* A disk with neither alias nor device id (a bare QEMU's
		 * -blockdev) after an external snapshot: its file is now in the
		 * live backing chain. */
		for (size_t k = 0; k < vm->n_disks && !d; k++)
			if (!vm->disks[k].alias && in_chain(json_object_object_get(ins, "image"), vm->disks[k].source))
				d = &vm->disks[k];
		if (!d) {
			const char *target = device && *device ? device : qdev ? qdev : node;

			if (!target) {
				free(qdev);
				continue;
			}
			vm->disks = qc_realloc(vm->disks, (vm->n_disks + 1) * sizeof(*vm->disks));
			d = &vm->disks[vm->n_disks++];
			memset(d, 0, sizeof(*d));
			d->target = qc_strdup(target);
			d->device = qc_strdup(json_object_get_boolean(removable) ? "cdrom" : "disk");
			d->type = qc_strdup(type_of_file(file));
		}
		free(qdev);
		if (!ins) {
			/* An empty drive (ejected cdrom). */
			free(d->source);
			d->source = NULL;
			continue;
		}
		set_str(&d->source, file);
		set_str(&d->format, jstr(ins, "drv"));
		set_str(&d->node, node);
		d->readonly = json_object_get_boolean(json_object_object_get(ins, "ro"));
		set_backing(d, json_object_object_get(ins, "image"));
	}
}
