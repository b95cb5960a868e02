/*
 * discover_cmdline: what a QEMU command line says about its VM (name,
 * uuid, QMP socket, disks).  It reads the argv of any local process named
 * qemu-system-*, and the <qemu:commandline> arguments of domain files, so
 * every byte of it is untrusted.  It depends on nothing else in discovery.
 */
#include "discover_cmdline.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qc_buf.h"

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

static void add_disk(struct disc_vm *vm, const char *target, const char *device, const char *type, const char *format,
		     const char *source, bool readonly, const char *node)
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

	add_disk(vm, target, cdrom ? "cdrom" : "disk", file && !strncmp(file, "/dev/", 5) ? "block" : "file", format,
		 file, ro, NULL);
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
	static const char *const fmts[] = { "qcow2", "raw",  "qed",	  "vmdk", "vdi",   "vpc",   "vhdx",
					    "qcow",  "luks", "parallels", "dmg",  "cloop", "bochs", NULL };

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

			referenced =
				(o->file && !strcmp(o->file, n->name)) || (o->backing && !strcmp(o->backing, n->name));
		}
		if (referenced)
			continue;
		p = protocol_of(cl, n);
		add_disk(vm, n->name, "disk", type_of_driver(p->driver), is_format_driver(n->driver) ? n->driver : NULL,
			 p->filename, n->readonly, n->name);
		d = &vm->disks[vm->n_disks - 1];
		for (struct node *b = find_node(cl, n->backing); b && d->n_backing < 16;
		     b = find_node(cl, b->backing)) {
			struct node *bp = protocol_of(cl, b);
			struct disc_backing *bk;

			d->backing = qc_realloc(d->backing, (d->n_backing + 1) * sizeof(*d->backing));
			bk = &d->backing[d->n_backing++];
			memset(bk, 0, sizeof(*bk));
			/* Named by the command line, not made up here (#anonN). */
			bk->node = b->name[0] != '#' ? qc_strdup(b->name) : NULL;
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

static void parse_cmdline(char *const argv[], int argc, struct disc_vm *vm, bool disks)
{
	struct cmdline cl = { 0 };

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
			if (disks)
				parse_drive(vm, v);
		} else if (!strcmp(o, "blockdev")) {
			if (disks)
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
}

int discover_parse_cmdline(char *const argv[], int argc, struct disc_vm *vm, struct qc_error **errp)
{
	(void)errp;
	parse_cmdline(argv, argc, vm, true);
	return 0;
}

char *discover_cmdline_qmp(char *const argv[], int argc)
{
	struct disc_vm vm = { 0 };

	/* Without disks the parse fills only these three. */
	parse_cmdline(argv, argc, &vm, false);
	free(vm.name);
	free(vm.uuid);
	return vm.qmp;
}
