/*
 * discover_xml: libvirt domain and status files.
 *
 * Untrusted input: files are read whole up to DISCOVER_MAX_XML, any entity
 * declaration makes the file unusable (libvirt never writes one, and that
 * shuts out both external entities and entity-expansion bombs before
 * libxml2 sees them), and the parser runs with XML_PARSE_NONET and without
 * XML_PARSE_NOENT / DTD loading.  Text is read from text nodes only, so an
 * entity reference that slipped through is never expanded.
 *
 * libxml2 is loaded on first use: with ICU and libstdc++ behind it, linking
 * it would cost every qmpctl run about a millisecond of start-up, most of
 * what `qmpctl image info` takes, whether or not XML is read.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "discover.h"
#include "discover_cmdline.h"
#include "qc_buf.h"

#define QEMU_NS	       "http://libvirt.org/schemas/domain/qemu/1.0"
#define LIBXML2_SONAME "libxml2.so.2"

static struct {
	bool tried, ok;
	char *why;
	xmlDocPtr (*read_memory)(const char *, int, const char *, const char *, int);
	void (*free_doc)(xmlDocPtr);
	xmlNodePtr (*root)(const xmlDoc *);
	xmlChar *(*get_prop)(const xmlNode *, const xmlChar *);
	xmlFreeFunc *free_fn; /* libxml2's xmlFree is a variable holding the function */
	void (*set_error_func)(void *, xmlGenericErrorFunc);
	void (*reset_error)(void);
	const xmlError *(*last_error)(void);
} lx;

static bool load_libxml2(struct qc_error **errp)
{
	void *h;

	if (!lx.tried) {
		lx.tried = true;
		h = dlopen(LIBXML2_SONAME, RTLD_NOW | RTLD_LOCAL);
		if (h) {
			*(void **)&lx.read_memory = dlsym(h, "xmlReadMemory");
			*(void **)&lx.free_doc = dlsym(h, "xmlFreeDoc");
			*(void **)&lx.root = dlsym(h, "xmlDocGetRootElement");
			*(void **)&lx.get_prop = dlsym(h, "xmlGetNoNsProp");
			lx.free_fn = dlsym(h, "xmlFree");
			*(void **)&lx.set_error_func = dlsym(h, "xmlSetGenericErrorFunc");
			*(void **)&lx.reset_error = dlsym(h, "xmlResetLastError");
			*(void **)&lx.last_error = dlsym(h, "xmlGetLastError");
			lx.ok = lx.read_memory && lx.free_doc && lx.root && lx.get_prop && lx.free_fn && *lx.free_fn &&
				lx.set_error_func && lx.reset_error && lx.last_error;
			if (!lx.ok)
				lx.why = qc_strdup("a symbol is missing");
		} else {
			const char *e = dlerror();

			lx.why = qc_strdup(e ? e : "not found");
		}
	}
	if (!lx.ok)
		qc_error_set(errp, "cannot load %s to read XML: %s", LIBXML2_SONAME, lx.why);
	return lx.ok;
}

static bool is_el(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
	for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
		if (is_el(n, name))
			return n;
	return NULL;
}

/* Concatenated text children; entity references are skipped, never expanded. */
static char *text_of(const xmlNode *n)
{
	struct qc_buf b = { 0 };

	if (!n)
		return NULL;
	for (xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
			qc_buf_append_str(&b, (const char *)c->content);
	/* Trim the blanks a pretty-printed file puts around values. */
	size_t start = 0, end = b.len;

	while (start < end && strchr(" \t\r\n", b.data[start]))
		start++;
	while (end > start && strchr(" \t\r\n", b.data[end - 1]))
		end--;
	char *s = qc_strndup(b.data ? b.data + start : "", end - start);

	qc_buf_free(&b);
	return s;
}

static char *attr(const xmlNode *n, const char *name)
{
	xmlChar *v;
	char *s;

	if (!n)
		return NULL;
	v = lx.get_prop(n, (const xmlChar *)name);
	if (!v)
		return NULL;
	s = qc_strdup((const char *)v);
	(*lx.free_fn)(v);
	return s;
}

/* One number of a PCI address attribute, as libvirt reads it ("0x01" or
 * "1"); false when it is missing, not a number, or above max. */
static bool pci_number(const char *v, unsigned long max, unsigned long *out)
{
	char *end;

	if (!v || !*v || *v == '-' || *v == '+')
		return false;
	errno = 0;
	*out = strtoul(v, &end, 0);
	return !errno && !*end && *out <= max;
}

/* An NVMe disk's PCI address as virsh domblklist prints it,
 * nvme://DDDD:BB:SS.F/NAMESPACE.  Values libvirt would refuse are shown as
 * written rather than guessed at. */
static char *nvme_source(const xmlNode *src)
{
	xmlNode *a = child(src, "address");
	char *dom = attr(a, "domain"), *bus = attr(a, "bus"), *slot = attr(a, "slot"), *fn = attr(a, "function");
	char *ns = attr(src, "namespace"), *s = NULL;
	unsigned long d = 0, b = 0, sl = 0, f = 0;

	if (!a)
		goto out;
	/* A missing domain or function is 0, as in libvirt. */
	if ((!dom || pci_number(dom, 0xffff, &d)) && pci_number(bus, 0xff, &b) && pci_number(slot, 0x1f, &sl) &&
	    (!fn || pci_number(fn, 7, &f)))
		s = qc_asprintf("nvme://%04lx:%02lx:%02lx.%lx%s%s", d, b, sl, f, ns ? "/" : "", ns ? ns : "");
	else
		s = qc_asprintf("nvme://%s:%s:%s.%s%s%s", dom ? dom : "", bus ? bus : "", slot ? slot : "",
				fn ? fn : "", ns ? "/" : "", ns ? ns : "");
out:
	free(dom);
	free(bus);
	free(slot);
	free(fn);
	free(ns);
	return s;
}

/* The source of a disk or backing store, as virsh shows it. */
static char *source_of(const xmlNode *src, const char *type)
{
	char *v, *s = NULL;

	if (!src)
		return NULL;
	if (!strcmp(type, "file"))
		return attr(src, "file");
	if (!strcmp(type, "block"))
		return attr(src, "dev");
	if (!strcmp(type, "dir"))
		return attr(src, "dir");
	if (!strcmp(type, "volume")) {
		char *pool = attr(src, "pool"), *vol = attr(src, "volume");

		if (pool || vol)
			s = qc_asprintf("%s/%s", pool ? pool : "", vol ? vol : "");
		free(pool);
		free(vol);
		return s;
	}
	if (!strcmp(type, "network")) {
		char *proto = attr(src, "protocol"), *name = attr(src, "name");
		xmlNode *host = child(src, "host");
		char *hn = attr(host, "name"), *port = attr(host, "port"), *transport = attr(host, "transport");
		char *sock = attr(host, "socket");
		struct qc_buf b = { 0 };

		qc_buf_printf(&b, "%s", proto ? proto : "network");
		if (transport && !strcmp(transport, "unix")) {
			qc_buf_printf(&b, "+unix:///%s", name ? name : "");
			if (sock)
				qc_buf_printf(&b, "?socket=%s", sock);
		} else {
			qc_buf_append_str(&b, "://");
			if (hn)
				qc_buf_append_str(&b, hn);
			if (port)
				qc_buf_printf(&b, ":%s", port);
			if (name)
				qc_buf_printf(&b, "%s%s", name[0] == '/' ? "" : "/", name);
		}
		free(proto);
		free(name);
		free(hn);
		free(port);
		free(transport);
		free(sock);
		return qc_buf_steal(&b);
	}
	if (!strcmp(type, "nvme"))
		return nvme_source(src);
	/* Unknown types: whatever names a place. */
	if ((v = attr(src, "file")) || (v = attr(src, "dev")) || (v = attr(src, "path")) || (v = attr(src, "name")))
		return v;
	return NULL;
}

static void parse_backing(const xmlNode *disk, struct disc_disk *d)
{
	/* Bounded: a chain is a nesting of elements, and libxml2 caps depth. */
	for (xmlNode *bs = child(disk, "backingStore"); bs; bs = child(bs, "backingStore")) {
		char *type = attr(bs, "type");
		struct disc_backing *b;

		if (!type && !bs->children)
			break; /* <backingStore/>: the chain ends here */
		d->backing = qc_realloc(d->backing, (d->n_backing + 1) * sizeof(*d->backing));
		b = &d->backing[d->n_backing++];
		memset(b, 0, sizeof(*b));
		b->type = type ? type : qc_strdup("file");
		b->format = attr(child(bs, "format"), "type");
		b->source = source_of(child(bs, "source"), b->type);
	}
}

static void parse_disk(const xmlNode *n, struct disc_vm *vm)
{
	struct disc_disk *d;
	xmlNode *target = child(n, "target");

	if (!target)
		return;
	vm->disks = qc_realloc(vm->disks, (vm->n_disks + 1) * sizeof(*vm->disks));
	d = &vm->disks[vm->n_disks++];
	memset(d, 0, sizeof(*d));
	d->target = attr(target, "dev");
	if (!d->target)
		d->target = qc_strdup("-");
	d->type = attr(n, "type");
	if (!d->type)
		d->type = qc_strdup("file");
	d->device = attr(n, "device");
	if (!d->device)
		d->device = qc_strdup("disk");
	d->format = attr(child(n, "driver"), "type");
	d->source = source_of(child(n, "source"), d->type);
	d->readonly = child(n, "readonly") != NULL || !strcmp(d->device, "cdrom");
	d->alias = attr(child(n, "alias"), "name");
	parse_backing(n, d);
}

/* <qemu:commandline><qemu:arg value='...'/>...: matched by namespace URI,
 * whatever prefix the file binds it to. */
static void parse_qemu_commandline(const xmlNode *domain, struct disc_vm *vm)
{
	for (xmlNode *n = domain->children; n; n = n->next) {
		char **argv = NULL;
		int argc = 0;

		if (!is_el(n, "commandline") || !n->ns || !n->ns->href || strcmp((const char *)n->ns->href, QEMU_NS))
			continue;
		/* Room for argv[0] and the NULL after it, even with no <qemu:arg>. */
		argv = qc_calloc(2, sizeof(*argv));
		argv[argc++] = qc_strdup("qemu");
		for (xmlNode *a = n->children; a; a = a->next) {
			char *v;

			if (!is_el(a, "arg") || !a->ns || !a->ns->href || strcmp((const char *)a->ns->href, QEMU_NS))
				continue;
			v = attr(a, "value");
			if (!v)
				continue;
			argv = qc_realloc(argv, (size_t)(argc + 2) * sizeof(*argv));
			argv[argc++] = v;
		}
		argv[argc] = NULL;
		if (!vm->qmp)
			vm->qmp = discover_cmdline_qmp(argv, argc);
		for (int i = 0; i < argc; i++)
			free(argv[i]);
		free(argv);
	}
}

static int parse_domain_node(const xmlNode *dom, const char *filename, struct disc_vm *vm, struct qc_error **errp)
{
	xmlNode *devices;

	if (!dom || !is_el(dom, "domain")) {
		qc_error_set(errp, "%s: not a libvirt domain (no <domain> element)", filename);
		return -1;
	}
	vm->name = text_of(child(dom, "name"));
	if (!vm->name || !*vm->name) {
		qc_error_set(errp, "%s: the domain has no <name>", filename);
		return -1;
	}
	vm->uuid = text_of(child(dom, "uuid"));
	if (vm->uuid && !*vm->uuid) {
		free(vm->uuid);
		vm->uuid = NULL;
	}
	devices = child(dom, "devices");
	for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next)
		if (is_el(n, "disk"))
			parse_disk(n, vm);
	parse_qemu_commandline(dom, vm);
	free(vm->xml_path);
	vm->xml_path = qc_strdup(filename);
	return 0;
}

static void silence(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static xmlDoc *read_doc(const char *xml, size_t len, const char *filename, struct qc_error **errp)
{
	xmlDoc *doc;
	const xmlError *xe;

	if (len == 0) {
		qc_error_set(errp, "%s: empty file", filename);
		return NULL;
	}
	if (len > DISCOVER_MAX_XML) {
		qc_error_set(errp, "%s: larger than %u bytes", filename, DISCOVER_MAX_XML);
		return NULL;
	}
	/* libvirt writes UTF-8.  Any other encoding (UTF-16 has NULs, UTF-7
	 * hides "<!ENTITY") would slip past the check below, so none is
	 * decoded: the document is read as UTF-8 whatever it declares. */
	if (!load_libxml2(errp)) {
		qc_error_prepend(errp, "%s", filename);
		return NULL;
	}
	if (memchr(xml, '\0', len)) {
		qc_error_set(errp, "%s: not a UTF-8 XML file (NUL bytes)", filename);
		return NULL;
	}
	if (memmem(xml, len, "<!ENTITY", 8)) {
		qc_error_set(errp, "%s: entity declarations are not allowed", filename);
		return NULL;
	}
	lx.set_error_func(NULL, silence);
	lx.reset_error();
	doc = lx.read_memory(xml, (int)len, filename, "UTF-8",
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (doc && doc->intSubset && (doc->intSubset->entities || doc->intSubset->pentities)) {
		lx.free_doc(doc);
		qc_error_set(errp, "%s: entity declarations are not allowed", filename);
		return NULL;
	}
	if (!doc) {
		xe = lx.last_error();
		if (xe && xe->message) {
			char *m = qc_strdup(xe->message);
			size_t ml = strlen(m);

			while (ml && (m[ml - 1] == '\n' || m[ml - 1] == ' '))
				m[--ml] = '\0';
			qc_error_set(errp, "%s: malformed XML (line %d: %s)", filename, xe->line, m);
			free(m);
		} else {
			qc_error_set(errp, "%s: malformed XML", filename);
		}
		return NULL;
	}
	return doc;
}

int discover_parse_domain(const char *xml, size_t len, const char *filename, struct disc_vm *vm, struct qc_error **errp)
{
	xmlDoc *doc = read_doc(xml, len, filename, errp);
	int rc;

	if (!doc)
		return -1;
	rc = parse_domain_node(lx.root(doc), filename, vm, errp);
	if (rc == 0)
		vm->sources |= DISC_SRC_XML;
	lx.free_doc(doc);
	return rc;
}

int discover_parse_status(const char *xml, size_t len, const char *filename, struct disc_vm *vm, struct qc_error **errp)
{
	xmlDoc *doc = read_doc(xml, len, filename, errp);
	xmlNode *root;
	char *state = NULL, *pid = NULL;
	int rc = -1;

	if (!doc)
		return -1;
	root = lx.root(doc);
	if (!root || !is_el(root, "domstatus")) {
		qc_error_set(errp, "%s: not a libvirt status file (no <domstatus> element)", filename);
		goto out;
	}
	if (parse_domain_node(child(root, "domain"), filename, vm, errp) < 0)
		goto out;
	state = attr(root, "state");
	pid = attr(root, "pid");
	if (pid) {
		char *end;
		long v = strtol(pid, &end, 10);

		if (*end || v <= 0 || v > 0x3fffffff) {
			qc_error_set(errp, "%s: invalid pid '%s'", filename, pid);
			goto out;
		}
		vm->pid = (pid_t)v;
	}
	if (state && !strcmp(state, "running"))
		vm->state = DISC_STATE_RUNNING;
	else if (state && !strcmp(state, "paused"))
		vm->state = DISC_STATE_PAUSED;
	else if (state && (!strcmp(state, "shutoff") || !strcmp(state, "shutdown")))
		vm->state = DISC_STATE_SHUTOFF;
	else
		vm->state = DISC_STATE_OTHER;
	vm->state_detail = state;
	state = NULL;
	for (xmlNode *n = root->children; n; n = n->next) {
		char *type;

		if (!is_el(n, "monitor"))
			continue;
		type = attr(n, "type");
		if (!type || !strcmp(type, "unix"))
			vm->monitor = attr(n, "path");
		free(type);
		break;
	}
	vm->sources |= DISC_SRC_STATUS;
	rc = 0;
out:
	free(state);
	free(pid);
	lx.free_doc(doc);
	return rc;
}
