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
#include <stdarg.h>
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
		free(d->backing[i].node);
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
	free(vm->not_domain);
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

static void warnf(struct disc_list *list, const char *fmt, ...) QC_PRINTF(2, 3);

static void warnf(struct disc_list *list, const char *fmt, ...)
{
	struct qc_error *err = NULL;
	va_list ap;

	va_start(ap, fmt);
	qc_error_setv(&err, fmt, ap);
	va_end(ap);
	warn(list, err);
}

static bool same_str(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* UUIDs compare without regard to case (libvirt writes lower case, a hand
 * written -uuid may not). */
static bool same_uuid(const char *a, const char *b)
{
	return a && b && !strcasecmp(a, b);
}

/* The same file: the same path, or the same inode by another path. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (same_str(a, b))
		return true;
	return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Every disk the process names is one of the domain's: a process with no
 * disks on its command line contradicts nothing. */
static bool disks_belong(const struct disc_vm *proc, const struct disc_vm *dom)
{
	for (size_t i = 0; i < proc->n_disks; i++) {
		bool found = false;

		if (!proc->disks[i].source)
			continue;
		for (size_t k = 0; k < dom->n_disks && !found; k++)
			found = same_file(proc->disks[i].source, dom->disks[k].source);
		if (!found)
			return false;
	}
	return true;
}

static const char *shown_name(const struct disc_vm *vm)
{
	return vm->name ? vm->name : "?";
}

/* Status files join the domain file of their name (libvirt writes
 * run/NAME.xml for etc/NAME.xml); never one whose uuid differs. */
static void join_status(struct disc_list *list, bool *gone)
{
	for (size_t i = 0; i < list->n; i++) {
		struct disc_vm *st = &list->vms[i], *to = NULL;
		size_t n = 0;

		if (st->sources != DISC_SRC_STATUS)
			continue;
		for (size_t k = 0; k < list->n; k++) {
			struct disc_vm *d = &list->vms[k];

			if (gone[k] || !(d->sources & DISC_SRC_XML) || d->sources & DISC_SRC_STATUS ||
			    !same_str(d->name, st->name))
				continue;
			if (d->uuid && st->uuid && !same_uuid(d->uuid, st->uuid)) {
				warnf(list,
				      "%s: the status file of '%s' carries uuid %s, its domain file %s carries %s: "
				      "listed apart",
				      st->xml_path, shown_name(st), st->uuid, d->xml_path, d->uuid);
				continue;
			}
			n++;
			if (!to || (same_uuid(d->uuid, st->uuid) && !same_uuid(to->uuid, st->uuid)))
				to = d;
		}
		if (n > 1 && !same_uuid(to->uuid, st->uuid)) {
			warnf(list, "%s: more than one domain file defines '%s': the status file is listed apart",
			      st->xml_path, shown_name(st));
			continue;
		}
		if (to) {
			merge(to, st);
			gone[i] = true;
		}
	}
}

/* What the process p is, among the domains: the one it runs (returned),
 * or none.  A process joins a domain only by the status file's pid, by
 * uuid (and name, when it has both), or, without -uuid, by name when its
 * disks are the domain's.  A process named like a domain it is not is
 * marked so and warned about: a name must never lead to another VM's
 * disks. */
static struct disc_vm *domain_of(struct disc_list *list, const bool *gone, size_t pi)
{
	struct disc_vm *p = &list->vms[pi], *match = NULL, *named = NULL;
	const char *why = NULL;
	size_t n = 0;

	for (size_t k = 0; k < list->n; k++) {
		struct disc_vm *d = &list->vms[k];

		if (k == pi || gone[k] || !(d->sources & (DISC_SRC_XML | DISC_SRC_STATUS)))
			continue;
		if (d->pid && d->pid == p->pid)
			return d; /* libvirt's own record of this process */
	}
	for (size_t k = 0; k < list->n; k++) {
		struct disc_vm *d = &list->vms[k];
		bool by_name = same_str(d->name, p->name);

		if (k == pi || gone[k] || !(d->sources & (DISC_SRC_XML | DISC_SRC_STATUS)))
			continue;
		if (!by_name && !(p->uuid && same_uuid(d->uuid, p->uuid)))
			continue;
		if (!named || (by_name && !same_str(named->name, p->name)))
			named = d;
		if (d->pid) {
			why = "another process runs that domain";
			continue;
		}
		if (p->uuid) {
			if (!same_uuid(d->uuid, p->uuid)) {
				why = d->uuid ? "its -uuid differs" : "it has a -uuid, the domain file none";
				continue;
			}
			if (p->name && !by_name) {
				named = d;
				why = "its -name is another";
				continue;
			}
		} else if (!disks_belong(p, d)) {
			why = "its disks are not the domain's";
			continue;
		}
		if (!match)
			match = d;
		n++;
	}
	if (n == 1)
		return match;
	if (n > 1) {
		named = match;
		why = "more than one domain file matches it";
	}
	if (named) {
		free(p->not_domain);
		p->not_domain = qc_strdup(named->xml_path ? named->xml_path : shown_name(named));
		if (same_str(named->name, p->name))
			warnf(list,
			      "process %d is named '%s' like the domain in %s but is not that domain (%s): both "
			      "are listed",
			      (int)p->pid, shown_name(p), p->not_domain, why);
		else
			warnf(list,
			      "process %d has the uuid %s of the domain in %s but is not that domain (%s): both "
			      "are listed",
			      (int)p->pid, p->uuid, p->not_domain, why);
	}
	return NULL;
}

static int by_uuid(const void *x, const void *y)
{
	const struct disc_vm *a = *(const struct disc_vm *const *)x, *b = *(const struct disc_vm *const *)y;
	int c = strcasecmp(a->uuid, b->uuid);

	/* Ties in list order, so files are named in the order they were read. */
	return c ? c : (a > b) - (a < b);
}

static int by_name(const void *x, const void *y)
{
	const struct disc_vm *a = *(const struct disc_vm *const *)x, *b = *(const struct disc_vm *const *)y;
	int c = strcmp(a->name, b->name);

	return c ? c : (a > b) - (a < b);
}

/* One warning for each run of files that share the key, naming them all. */
static void warn_runs(struct disc_list *list, const struct disc_vm **v, size_t n, bool uuid)
{
	for (size_t i = 0, end; i < n; i = end) {
		struct qc_buf b = { 0 };

		for (end = i + 1;
		     end < n && (uuid ? same_uuid(v[i]->uuid, v[end]->uuid) : same_str(v[i]->name, v[end]->name));
		     end++)
			;
		if (end - i < 2)
			continue;
		for (size_t k = i; k < end; k++)
			qc_buf_printf(&b, "%s%s", k == i ? "" : k + 1 == end ? " and " : ", ", v[k]->xml_path);
		if (uuid)
			warnf(list, "%s carry the same uuid %s: %zu domains, listed apart (select them by name)",
			      b.data, v[i]->uuid, end - i);
		else
			warnf(list, "%s %s define the domain '%s': listed apart", b.data, end - i == 2 ? "both" : "all",
			      v[i]->name);
		qc_buf_free(&b);
	}
}

/* Two domain files are two domains, whatever they carry: a copied file's
 * uuid or name must not pull another domain's disks into this one.
 * Sorted, so that a directory of many files costs n log n. */
static void check_domain_files(struct disc_list *list)
{
	const struct disc_vm **v = qc_calloc(list->n ? list->n : 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < list->n; i++)
		if (list->vms[i].sources == DISC_SRC_XML && list->vms[i].uuid)
			v[n++] = &list->vms[i];
	qsort(v, n, sizeof(*v), by_uuid);
	warn_runs(list, v, n, true);
	n = 0;
	for (size_t i = 0; i < list->n; i++)
		if (list->vms[i].sources == DISC_SRC_XML && list->vms[i].name)
			v[n++] = &list->vms[i];
	qsort(v, n, sizeof(*v), by_name);
	warn_runs(list, v, n, false);
	free(v);
}

static void dedupe(struct disc_list *list)
{
	bool *gone = qc_calloc(list->n ? list->n : 1, sizeof(*gone));
	size_t out = 0;

	check_domain_files(list);
	join_status(list, gone);
	for (size_t i = 0; i < list->n; i++) {
		struct disc_vm *d;

		if (list->vms[i].sources != DISC_SRC_PROC)
			continue;
		d = domain_of(list, gone, i);
		if (d) {
			merge(d, &list->vms[i]);
			gone[i] = true;
		}
	}
	for (size_t i = 0; i < list->n; i++) {
		if (gone[i])
			discover_vm_clear(&list->vms[i]);
		else
			list->vms[out++] = list->vms[i];
	}
	list->n = out;
	free(gone);
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

static bool names(const struct disc_vm *vm, const char *what, bool numeric, long pid)
{
	return same_str(vm->name, what) || same_uuid(vm->uuid, what) || (numeric && pid > 0 && vm->pid == (pid_t)pid);
}

static size_t count_named(const struct disc_list *list, const char *what)
{
	char *end;
	long pid = strtol(what, &end, 10);
	size_t n = 0;

	for (size_t i = 0; i < list->n; i++)
		n += names(&list->vms[i], what, *what && !*end, pid);
	return n;
}

/* "domain file F (uuid U)", "process P", ... and what selects it alone. */
static void describe(struct qc_buf *b, const struct disc_list *list, const struct disc_vm *vm)
{
	char pid[24];

	if (vm->sources & DISC_SRC_PROC && !(vm->sources & (DISC_SRC_XML | DISC_SRC_STATUS)))
		qc_buf_printf(b, "process %d", (int)vm->pid);
	else
		qc_buf_printf(b, "%s", vm->xml_path ? vm->xml_path : shown_name(vm));
	if (vm->not_domain)
		qc_buf_printf(b, " (not the domain)");
	snprintf(pid, sizeof(pid), "%d", (int)vm->pid);
	if (vm->pid && count_named(list, pid) == 1)
		qc_buf_printf(b, ": select it by pid %s", pid);
	else if (vm->uuid && count_named(list, vm->uuid) == 1)
		qc_buf_printf(b, ": select it by uuid %s", vm->uuid);
	else if (vm->name && count_named(list, vm->name) == 1)
		qc_buf_printf(b, ": select it by name");
	else
		qc_buf_printf(b, ": nothing selects it alone");
}

struct disc_vm *discover_select(struct disc_list *list, const char *what, struct qc_error **errp)
{
	char *end;
	long pid = strtol(what, &end, 10);
	bool numeric = *what && !*end;
	struct disc_vm *found = NULL;
	struct qc_buf b = { 0 };
	size_t n = count_named(list, what), k = 0;

	for (size_t i = 0; i < list->n && !found; i++)
		if (names(&list->vms[i], what, numeric, pid))
			found = &list->vms[i];
	if (n <= 1)
		return found;
	qc_buf_printf(&b, "'%s' names %zu VMs, not one: ", what, n);
	for (size_t i = 0; i < list->n; i++) {
		if (!names(&list->vms[i], what, numeric, pid))
			continue;
		if (k++)
			qc_buf_append_str(&b, "; ");
		describe(&b, list, &list->vms[i]);
	}
	qc_error_set(errp, "%s", b.data);
	qc_buf_free(&b);
	return NULL;
}

struct disc_vm *discover_find(struct disc_list *list, const char *what)
{
	return discover_select(list, what, NULL);
}
