/*
 * discover: QEMU command lines, the /proc scan, and merging every source
 * into one list of VMs.
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

#include "qc_buf.h"

#define MAX_CMDLINE (1u << 20)
#define MAX_VMS 100000

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

/* ---- QEMU option strings ------------------------------------------------ */

/* Next element of "a=b,c=d" starting at *p; ",," is a literal comma. */
static char *next_elem(const char **p)
{
	struct qc_buf b = { 0 };
	const char *s = *p;

	for (; *s; s++) {
		if (*s == ',') {
			if (s[1] == ',') {
				qc_buf_append_c(&b, ',');
				s++;
				continue;
			}
			s++;
			break;
		}
		qc_buf_append_c(&b, *s);
	}
	*p = s;
	return qc_buf_steal(&b);
}

char *discover_qemu_opt(const char *opts, const char *key)
{
	const char *p = opts;
	bool first = true;

	if (!opts)
		return NULL;
	while (*p) {
		char *e = next_elem(&p);
		char *eq = strchr(e, '=');

		if (!key && first && !eq)
			return e;
		if (key && eq && (size_t)(eq - e) == strlen(key) && !strncmp(e, key, (size_t)(eq - e))) {
			char *v = qc_strdup(eq + 1);

			free(e);
			return v;
		}
		free(e);
		first = false;
	}
	return NULL;
}

static bool opt_is_on(const char *opts, const char *key)
{
	char *v = discover_qemu_opt(opts, key);
	bool on = false;

	if (v)
		on = !strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !*v;
	else {
		/* The old spelling: a bare "server" element. */
		const char *p = opts;

		while (*p && !on) {
			char *e = next_elem(&p);

			on = !strcmp(e, key);
			free(e);
		}
	}
	free(v);
	return on;
}

/* ---- QEMU command lines --------------------------------------------------- */

struct chardev {
	char *id, *path;
};

struct node {
	char *name, *driver, *filename, *file, *backing;
	bool readonly;
};

struct cmdline {
	struct chardev *chardevs;
	size_t n_chardevs;
	char **mon_chardevs; /* chardev ids of mode=control monitors */
	size_t n_mons;
	struct node *nodes;
	size_t n_nodes;
};

static void add_disk(struct disc_vm *vm, const char *target, const char *device, const char *type,
		     const char *format, const char *source, bool readonly, const char *node)
{
	struct disc_disk *d;

	vm->disks = qc_realloc(vm->disks, (vm->n_disks + 1) * sizeof(*vm->disks));
	d = &vm->disks[vm->n_disks++];
	memset(d, 0, sizeof(*d));
	d->target = qc_strdup(target);
	d->device = qc_strdup(device);
	d->type = qc_strdup(type);
	d->format = format ? qc_strdup(format) : NULL;
	d->source = source && *source ? qc_strdup(source) : NULL;
	d->readonly = readonly;
	d->node = node ? qc_strdup(node) : NULL;
}

static void parse_drive(struct disc_vm *vm, const char *v)
{
	char *file = discover_qemu_opt(v, "file"), *format = discover_qemu_opt(v, "format");
	char *id = discover_qemu_opt(v, "id"), *media = discover_qemu_opt(v, "media");
	char *target = id ? id : qc_asprintf("drive%zu", vm->n_disks);
	bool cdrom = media && !strcmp(media, "cdrom");
	bool ro = opt_is_on(v, "readonly") || cdrom;

	add_disk(vm, target, cdrom ? "cdrom" : "disk", file && !strncmp(file, "/dev/", 5) ? "block" : "file",
		 format, file, ro, NULL);
	free(file);
	free(format);
	free(target);
	free(media);
}

static char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);

	return json_object_is_type(v, json_type_string) ? qc_strdup(json_object_get_string(v)) : NULL;
}

/* A -blockdev given as JSON: nested "file"/"backing" objects become nodes
 * of their own so both spellings resolve the same way. */
static char *add_json_node(struct cmdline *cl, struct json_object *o, unsigned depth)
{
	struct node *n;
	struct json_object *f, *b, *ro;
	char *name;

	if (depth > 16 || !json_object_is_type(o, json_type_object))
		return NULL;
	name = json_str(o, "node-name");
	if (!name)
		name = qc_asprintf("#anon%zu", cl->n_nodes);
	cl->nodes = qc_realloc(cl->nodes, (cl->n_nodes + 1) * sizeof(*cl->nodes));
	n = &cl->nodes[cl->n_nodes++];
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->driver = json_str(o, "driver");
	n->filename = json_str(o, "filename");
	ro = json_object_object_get(o, "read-only");
	n->readonly = json_object_is_type(ro, json_type_boolean) && json_object_get_boolean(ro);
	f = json_object_object_get(o, "file");
	b = json_object_object_get(o, "backing");
	{
		/* The array may move while recursing: fill in by index. */
		size_t idx = cl->n_nodes - 1;
		char *fr = json_object_is_type(f, json_type_string) ? qc_strdup(json_object_get_string(f))
								     : add_json_node(cl, f, depth + 1);
		char *br = json_object_is_type(b, json_type_string) ? qc_strdup(json_object_get_string(b))
								     : add_json_node(cl, b, depth + 1);

		cl->nodes[idx].file = fr;
		cl->nodes[idx].backing = br;
		return qc_strdup(cl->nodes[idx].name);
	}
}

static void parse_blockdev(struct cmdline *cl, const char *v)
{
	const char *j = !strncmp(v, "json:", 5) ? v + 5 : v;

	if (*j == '{') {
		struct json_object *o = json_tokener_parse(j);

		free(add_json_node(cl, o, 0));
		json_object_put(o);
		return;
	}
	cl->nodes = qc_realloc(cl->nodes, (cl->n_nodes + 1) * sizeof(*cl->nodes));
	struct node *n = &cl->nodes[cl->n_nodes++];

	memset(n, 0, sizeof(*n));
	n->name = discover_qemu_opt(v, "node-name");
	if (!n->name)
		n->name = qc_asprintf("#anon%zu", cl->n_nodes);
	n->driver = discover_qemu_opt(v, "driver");
	n->filename = discover_qemu_opt(v, "filename");
	n->file = discover_qemu_opt(v, "file");
	n->backing = discover_qemu_opt(v, "backing");
	n->readonly = opt_is_on(v, "read-only");
}

static struct node *find_node(struct cmdline *cl, const char *name)
{
	for (size_t i = 0; name && i < cl->n_nodes; i++)
		if (!strcmp(cl->nodes[i].name, name))
			return &cl->nodes[i];
	return NULL;
}

static bool is_format_driver(const char *d)
{
	static const char *const fmts[] = { "qcow2", "raw", "qed", "vmdk", "vdi", "vpc", "vhdx", "qcow", "luks",
					    "parallels", "dmg", "cloop", "bochs", NULL };

	for (size_t i = 0; d && fmts[i]; i++)
		if (!strcmp(d, fmts[i]))
			return true;
	return false;
}

/* Walks "file" links down to the protocol node that names the place. */
static struct node *protocol_of(struct cmdline *cl, struct node *n)
{
	for (unsigned depth = 0; n && depth < 16; depth++) {
		struct node *f = find_node(cl, n->file);

		if (!f)
			return n;
		n = f;
	}
	return n;
}

static const char *type_of_driver(const char *d)
{
	if (!d || !strcmp(d, "file"))
		return "file";
	if (!strcmp(d, "host_device") || !strcmp(d, "host_cdrom"))
		return "block";
	if (!strcmp(d, "nvme"))
		return "nvme";
	return "network";
}

/* Disks from -blockdev: the nodes nobody else refers to are the tops. */
static void blockdev_disks(struct cmdline *cl, struct disc_vm *vm)
{
	for (size_t i = 0; i < cl->n_nodes; i++) {
		struct node *n = &cl->nodes[i], *p;
		bool referenced = false;
		struct disc_disk *d;

		for (size_t k = 0; k < cl->n_nodes && !referenced; k++) {
			const struct node *o = &cl->nodes[k];

			referenced = (o->file && !strcmp(o->file, n->name)) || (o->backing && !strcmp(o->backing, n->name));
		}
		if (referenced)
			continue;
		p = protocol_of(cl, n);
		add_disk(vm, n->name, "disk", type_of_driver(p->driver),
			 is_format_driver(n->driver) ? n->driver : NULL, p->filename, n->readonly, n->name);
		d = &vm->disks[vm->n_disks - 1];
		for (struct node *b = find_node(cl, n->backing); b && d->n_backing < 16; b = find_node(cl, b->backing)) {
			struct node *bp = protocol_of(cl, b);
			struct disc_backing *bk;

			d->backing = qc_realloc(d->backing, (d->n_backing + 1) * sizeof(*d->backing));
			bk = &d->backing[d->n_backing++];
			bk->type = qc_strdup(type_of_driver(bp->driver));
			bk->format = is_format_driver(b->driver) ? qc_strdup(b->driver) : NULL;
			bk->source = bp->filename ? qc_strdup(bp->filename) : NULL;
		}
	}
}

/* "unix:PATH,server=on,..." -> PATH (or "tcp:HOST:PORT") when QEMU listens. */
static char *qmp_socket_of(const char *v)
{
	const char *p = v;
	char *addr;

	if (!opt_is_on(v, "server"))
		return NULL;
	addr = next_elem(&p);
	if (!strncmp(addr, "unix:", 5)) {
		char *path = qc_strdup(addr + 5);

		free(addr);
		return path;
	}
	if (!strncmp(addr, "tcp:", 4))
		return addr;
	free(addr);
	return NULL;
}

static void cmdline_free(struct cmdline *cl)
{
	for (size_t i = 0; i < cl->n_chardevs; i++) {
		free(cl->chardevs[i].id);
		free(cl->chardevs[i].path);
	}
	free(cl->chardevs);
	for (size_t i = 0; i < cl->n_mons; i++)
		free(cl->mon_chardevs[i]);
	free(cl->mon_chardevs);
	for (size_t i = 0; i < cl->n_nodes; i++) {
		struct node *n = &cl->nodes[i];

		free(n->name);
		free(n->driver);
		free(n->filename);
		free(n->file);
		free(n->backing);
	}
	free(cl->nodes);
}

int discover_parse_cmdline(char *const argv[], int argc, struct disc_vm *vm, struct qc_error **errp)
{
	struct cmdline cl = { 0 };

	(void)errp;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (o[0] != '-')
			continue;
		o += o[1] == '-' ? 2 : 1;
		if (!v)
			break;
		if (!strcmp(o, "name")) {
			char *n = discover_qemu_opt(v, "guest");

			if (!n)
				n = discover_qemu_opt(v, NULL);
			if (n && *n) {
				free(vm->name);
				vm->name = n;
			} else {
				free(n);
			}
		} else if (!strcmp(o, "uuid")) {
			free(vm->uuid);
			vm->uuid = qc_strdup(v);
		} else if (!strcmp(o, "qmp") || !strcmp(o, "qmp-pretty")) {
			char *s = qmp_socket_of(v);

			if (s && !vm->qmp)
				vm->qmp = s;
			else
				free(s);
		} else if (!strcmp(o, "chardev")) {
			char *backend = discover_qemu_opt(v, NULL), *path = discover_qemu_opt(v, "path");

			if (backend && !strcmp(backend, "socket") && path && opt_is_on(v, "server")) {
				cl.chardevs = qc_realloc(cl.chardevs, (cl.n_chardevs + 1) * sizeof(*cl.chardevs));
				cl.chardevs[cl.n_chardevs].id = discover_qemu_opt(v, "id");
				cl.chardevs[cl.n_chardevs++].path = path;
				path = NULL;
			}
			free(backend);
			free(path);
		} else if (!strcmp(o, "mon")) {
			char *mode = discover_qemu_opt(v, "mode"), *chr = discover_qemu_opt(v, "chardev");

			/* QEMU's default mode is readline: HMP, not QMP. */
			if (mode && !strcmp(mode, "control") && chr) {
				cl.mon_chardevs = qc_realloc(cl.mon_chardevs, (cl.n_mons + 1) * sizeof(char *));
				cl.mon_chardevs[cl.n_mons++] = chr;
				chr = NULL;
			}
			free(mode);
			free(chr);
		} else if (!strcmp(o, "drive")) {
			parse_drive(vm, v);
		} else if (!strcmp(o, "blockdev")) {
			parse_blockdev(&cl, v);
		} else {
			continue;
		}
		i++;
	}
	for (size_t m = 0; m < cl.n_mons && !vm->qmp; m++)
		for (size_t c = 0; c < cl.n_chardevs && !vm->qmp; c++)
			if (cl.chardevs[c].id && !strcmp(cl.chardevs[c].id, cl.mon_chardevs[m]))
				vm->qmp = qc_strdup(cl.chardevs[c].path);
	blockdev_disks(&cl, vm);
	cmdline_free(&cl);
	return 0;
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
static char *slurp(int dirfd, const char *name, size_t max, size_t *len, struct qc_error **errp,
		   const char *shown)
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
		if ((vm->uuid && o->uuid && !strcasecmp(vm->uuid, o->uuid)) ||
		    (vm->pid && o->pid == vm->pid) || (vm->name && o->name && !strcmp(vm->name, o->name)))
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

		if (name[0] == '.' || !has_suffix(name, ".xml") || fstatat(dfd, name, &st, 0) < 0 || !S_ISREG(st.st_mode))
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

#define TAKE(dst, src)                                                                                       \
	do {                                                                                                 \
		if (!(dst) && (src)) {                                                                       \
			(dst) = (src);                                                                       \
			(src) = NULL;                                                                        \
		}                                                                                            \
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
