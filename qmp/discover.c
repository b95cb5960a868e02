/*
 * discover: the /proc scan, and merging every source (domain files, status
 * files, processes) into one list of VMs.
 */
#include "discover.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "discover_cmdline.h"
#include "qc_buf.h"

#define MAX_CMDLINE (1u << 20)
#define MAX_VMS	    100000

const char *discover_state_name(enum disc_state state)
{
	switch (state) {
	case DISC_STATE_RUNNING:
		return "running";
	case DISC_STATE_PAUSED:
		return "paused";
	case DISC_STATE_SHUTOFF:
		return "shut off";
	case DISC_STATE_OTHER:
		return "other";
	case DISC_STATE_UNKNOWN:
		break;
	}
	return "unknown";
}

/* ---- the list ------------------------------------------------------------- */

static void disk_clear(struct disc_disk *d)
{
	free(d->target);
	free(d->device);
	free(d->type);
	free(d->format);
	free(d->source);
	free(d->node);
	free(d->alias);
	for (size_t i = 0; i < d->n_backing; i++) {
		free(d->backing[i].type);
		free(d->backing[i].format);
		free(d->backing[i].source);
	}
	free(d->backing);
}

static void disks_clear(struct disc_vm *vm)
{
	for (size_t i = 0; i < vm->n_disks; i++)
		disk_clear(&vm->disks[i]);
	free(vm->disks);
	vm->disks = NULL;
	vm->n_disks = 0;
}

void discover_vm_clear(struct disc_vm *vm)
{
	free(vm->name);
	free(vm->uuid);
	free(vm->qmp);
	free(vm->monitor);
	free(vm->state_detail);
	free(vm->xml_path);
	disks_clear(vm);
	memset(vm, 0, sizeof(*vm));
}

void discover_list_free(struct disc_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		discover_vm_clear(&list->vms[i]);
	free(list->vms);
	for (size_t i = 0; i < list->n_warnings; i++)
		free(list->warnings[i]);
	free(list->warnings);
	memset(list, 0, sizeof(*list));
}

static void warn(struct disc_list *list, struct qc_error *err)
{
	list->warnings = qc_realloc(list->warnings, (list->n_warnings + 1) * sizeof(char *));
	list->warnings[list->n_warnings++] = qc_strdup(err->msg);
	qc_error_free(err);
}

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Reads a whole small file; NULL with *errp on failure or when too big. */
static char *slurp(int dirfd, const char *name, size_t max, size_t *len, struct qc_error **errp, const char *shown)
{
	struct qc_buf b = { 0 };
	char chunk[65536];
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0 && errno == ELOOP)
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		qc_error_set_errno(errp, errno, "%s: cannot open", shown);
		return NULL;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)n > max) {
			qc_error_set(errp, "%s: larger than %zu bytes", shown, max);
			goto fail;
		}
		qc_buf_append(&b, chunk, (size_t)n);
	}
	if (n < 0) {
		qc_error_set_errno(errp, errno, "%s: cannot read", shown);
		goto fail;
	}
	close(fd);
	*len = b.len;
	return qc_buf_steal(&b);
fail:
	close(fd);
	qc_buf_free(&b);
	return NULL;
}

static struct disc_vm *add_vm(struct disc_list *list)
{
	struct disc_vm *vm;

	list->vms = qc_realloc(list->vms, (list->n + 1) * sizeof(*list->vms));
	vm = &list->vms[list->n++];
	memset(vm, 0, sizeof(*vm));
	return vm;
}

/* The VM that is the same as vm: same name, uuid or pid. */
static struct disc_vm *same_vm(struct disc_list *list, const struct disc_vm *vm)
{
	for (size_t i = 0; i < list->n; i++) {
		struct disc_vm *o = &list->vms[i];

		if (o == vm)
			continue;
		if ((vm->uuid && o->uuid && !strcasecmp(vm->uuid, o->uuid)) || (vm->pid && o->pid == vm->pid) ||
		    (vm->name && o->name && !strcmp(vm->name, o->name)))
			return o;
	}
	return NULL;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a > b && !strcmp(s + a - b, suffix);
}

/* Calls fn for every regular *.xml directly in dir, sorted by name. */
static int scan_xml_dir(const char *dir, struct disc_list *list, bool status, struct qc_error **errp)
{
	struct dirent **ents = NULL;
	int n, dfd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		qc_error_set_errno(errp, errno, "cannot read directory %s", dir);
		return -1;
	}
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		qc_error_set_errno(errp, errno, "cannot read directory %s", dir);
		close(dfd);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		struct qc_error *err = NULL;
		struct disc_vm vm = { 0 };
		struct stat st;
		char *path, *xml;
		size_t len = 0;

		if (name[0] == '.' || !has_suffix(name, ".xml") || fstatat(dfd, name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		path = qc_asprintf("%s/%s", dir, name);
		xml = slurp(dfd, name, DISCOVER_MAX_XML, &len, &err, path);
		if (xml && (status ? discover_parse_status(xml, len, path, &vm, &err)
				   : discover_parse_domain(xml, len, path, &vm, &err)) == 0) {
			if (status && !pid_alive(vm.pid)) {
				/* Stale: libvirtd did not clean up after the VM ended. */
				vm.pid = 0;
				vm.state = DISC_STATE_SHUTOFF;
				free(vm.monitor);
				vm.monitor = NULL;
			}
			if (list->n < MAX_VMS)
				*add_vm(list) = vm;
			else
				discover_vm_clear(&vm);
		} else {
			discover_vm_clear(&vm);
			if (err)
				warn(list, err);
		}
		free(xml);
		free(path);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	close(dfd);
	return 0;
}

static bool is_qemu(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base ? base + 1 : argv0;
	return !strncmp(base, "qemu-system-", 12) || !strcmp(base, "qemu-kvm") || !strcmp(base, "kvm");
}

static bool is_libvirtd(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base ? base + 1 : argv0;
	return !strcmp(base, "libvirtd") || !strcmp(base, "virtqemud");
}

static void scan_proc(const char *proc, struct disc_list *list)
{
	DIR *d = opendir(proc);
	struct dirent *e;
	int pfd;

	if (!d)
		return;
	pfd = dirfd(d);
	while ((e = readdir(d))) {
		char rel[300], *data, **argv = NULL;
		size_t len = 0;
		int argc = 0;
		struct qc_error *err = NULL;
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		snprintf(rel, sizeof(rel), "%s/cmdline", e->d_name);
		data = slurp(pfd, rel, MAX_CMDLINE, &len, &err, rel);
		qc_error_free(err);
		if (!data || !len) {
			free(data);
			continue;
		}
		/* NUL-separated argv; the last one may lack its NUL. */
		for (size_t off = 0; off < len; off += strlen(data + off) + 1) {
			argv = qc_realloc(argv, (size_t)(argc + 2) * sizeof(*argv));
			argv[argc++] = data + off;
		}
		argv[argc] = NULL;
		if (is_libvirtd(argv[0])) {
			list->libvirtd_running = true;
		} else if (is_qemu(argv[0])) {
			struct disc_vm vm = { 0 };

			discover_parse_cmdline(argv, argc, &vm, NULL);
			vm.pid = (pid_t)pid;
			vm.sources = DISC_SRC_PROC;
			vm.state = DISC_STATE_UNKNOWN;
			if (list->n < MAX_VMS)
				*add_vm(list) = vm;
			else
				discover_vm_clear(&vm);
		}
		free(argv);
		free(data);
	}
	closedir(d);
}

#define TAKE(dst, src)                 \
	do {                           \
		if (!(dst) && (src)) { \
			(dst) = (src); \
			(src) = NULL;  \
		}                      \
	} while (0)

/* Folds b into a (b is emptied; the caller removes it). */
static void merge(struct disc_vm *a, struct disc_vm *b)
{
	TAKE(a->name, b->name);
	TAKE(a->uuid, b->uuid);
	TAKE(a->qmp, b->qmp);
	TAKE(a->monitor, b->monitor);
	if (b->pid)
		a->pid = b->pid;
	if (b->sources & DISC_SRC_STATUS || (a->state == DISC_STATE_UNKNOWN && b->state != DISC_STATE_UNKNOWN) ||
	    (a->state == DISC_STATE_SHUTOFF && b->pid)) {
		a->state = b->state;
		free(a->state_detail);
		a->state_detail = b->state_detail;
		b->state_detail = NULL;
	}
	/* The runtime view (status file) of disks beats the config; a command
	 * line only fills in when nothing else knew the disks. */
	if ((b->sources & DISC_SRC_STATUS && b->n_disks) || !a->n_disks) {
		disks_clear(a);
		a->disks = b->disks;
		a->n_disks = b->n_disks;
		b->disks = NULL;
		b->n_disks = 0;
		free(a->xml_path);
		a->xml_path = b->xml_path;
		b->xml_path = NULL;
	}
	a->sources |= b->sources;
}

static void dedupe(struct disc_list *list)
{
	for (size_t i = 0; i < list->n;) {
		struct disc_vm *other = same_vm(list, &list->vms[i]);

		if (other && other < &list->vms[i]) {
			merge(other, &list->vms[i]);
			discover_vm_clear(&list->vms[i]);
			memmove(&list->vms[i], &list->vms[i + 1], (list->n - i - 1) * sizeof(*list->vms));
			list->n--;
			continue;
		}
		i++;
	}
}

int discover_scan(const struct disc_opts *opts, struct disc_list *list, struct qc_error **errp)
{
	const struct disc_opts def = { 0 };

	if (!opts)
		opts = &def;
	if (scan_xml_dir(opts->libvirt_dir ? opts->libvirt_dir : "/etc/libvirt/qemu", list, false, errp) < 0 ||
	    scan_xml_dir(opts->run_dir ? opts->run_dir : "/run/libvirt/qemu", list, true, errp) < 0) {
		discover_list_free(list);
		return -1;
	}
	if (!opts->no_proc)
		scan_proc(opts->proc_dir ? opts->proc_dir : "/proc", list);
	dedupe(list);
	for (size_t i = 0; i < list->n; i++) {
		struct disc_vm *vm = &list->vms[i];

		if (!vm->pid && vm->state == DISC_STATE_UNKNOWN && !(vm->sources & DISC_SRC_PROC))
			vm->state = vm->qmp ? DISC_STATE_UNKNOWN : DISC_STATE_SHUTOFF;
	}
	return 0;
}

struct disc_vm *discover_find(struct disc_list *list, const char *what)
{
	char *end;
	long pid = strtol(what, &end, 10);
	bool numeric = *what && !*end;

	for (size_t i = 0; i < list->n; i++) {
		struct disc_vm *vm = &list->vms[i];

		if ((vm->name && !strcmp(vm->name, what)) || (vm->uuid && !strcasecmp(vm->uuid, what)) ||
		    (numeric && vm->pid == (pid_t)pid && pid > 0))
			return vm;
	}
	return NULL;
}
