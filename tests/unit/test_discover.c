/*
 * Unit tests for discover: libvirt domain and status files (tests/data/libvirt),
 * QEMU command lines, option strings, and the merged scan over temporary
 * libvirt, run and fake /proc directories.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "discover.h"
#include "discover_cmdline.h"

#ifndef QMPCTL_TEST_DATA_DIR
#define QMPCTL_TEST_DATA_DIR "tests/data"
#endif

#define PLACEHOLDER_PID "pid='31337'"

/* ---- helpers ---------------------------------------------------------------- */

static const char *data_dir(void)
{
	static char dir[4096];
	const char *env = getenv("QMPCTL_TEST_DATA");

	snprintf(dir, sizeof(dir), "%s/libvirt", env && *env ? env : QMPCTL_TEST_DATA_DIR);
	return dir;
}

static char *slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		fail_msg("cannot create %s: %s", path, strerror(errno));
	if (len && fwrite(data, 1, len, f) != len)
		fail_msg("cannot write %s", path);
	if (fclose(f) != 0)
		fail_msg("cannot close %s", path);
}

static char *path_join(const char *a, const char *b)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		fail_msg("out of memory");
	return p;
}

/* Equal strings, NULL meaning "none"; the message says which field. */
static void check_str(const char *actual, const char *expected, const char *what)
{
	/* Exclusive branches: cmocka's fail_msg is not declared noreturn, so
	 * gcc -O3 would otherwise see a NULL reach '%s' in the last one. */
	if (!expected && !actual)
		return;
	if (!expected)
		fail_msg("%s: got '%s', expected none (NULL)", what, actual);
	else if (!actual)
		fail_msg("%s: got none (NULL), expected '%s'", what, expected);
	else if (strcmp(actual, expected) != 0)
		fail_msg("%s: got '%s', expected '%s'", what, actual, expected);
}

static void check_contains(const char *actual, const char *needle, const char *what)
{
	if (!actual || !strstr(actual, needle))
		fail_msg("%s: '%s' does not contain '%s'", what, actual ? actual : "(NULL)", needle);
}

/* Parses tests/data/libvirt/SUB/FILE as a domain (status: as a status file);
 * fails the test when the parser refuses it. */
static void parse_data(const char *sub, const char *file, bool status, struct disc_vm *vm)
{
	char *dir = path_join(data_dir(), sub), *path = path_join(dir, file);
	struct qc_error *err = NULL;
	size_t len;
	char *xml = slurp(path, &len);
	int rc;

	memset(vm, 0, sizeof(*vm));
	rc = status ? discover_parse_status(xml, len, path, vm, &err) : discover_parse_domain(xml, len, path, vm, &err);
	if (rc != 0)
		fail_msg("%s: refused: %s", path, err ? err->msg : "(no error set)");
	assert_null(err);
	free(xml);
	free(path);
	free(dir);
}

/* Expects the parser to refuse the file with an error naming it. */
static void refuse_data(const char *sub, const char *file, bool status)
{
	char *dir = path_join(data_dir(), sub), *path = path_join(dir, file);
	struct qc_error *err = NULL;
	struct disc_vm vm = { 0 };
	size_t len;
	char *xml = slurp(path, &len);
	int rc;

	rc = status ? discover_parse_status(xml, len, path, &vm, &err)
		    : discover_parse_domain(xml, len, path, &vm, &err);
	if (rc == 0)
		fail_msg("%s: accepted (name '%s'), expected an error", path, vm.name ? vm.name : "(NULL)");
	if (!err || !err->msg || !*err->msg)
		fail_msg("%s: refused without an error message", path);
	check_contains(err->msg, file, "the error names the file");
	qc_error_free(err);
	discover_vm_clear(&vm);
	free(xml);
	free(path);
	free(dir);
}

static const struct disc_disk *find_disk(const struct disc_vm *vm, const char *target)
{
	for (size_t i = 0; i < vm->n_disks; i++)
		if (vm->disks[i].target && !strcmp(vm->disks[i].target, target))
			return &vm->disks[i];
	fail_msg("VM '%s' has no disk '%s' (%zu disks)", vm->name ? vm->name : "?", target, vm->n_disks);
	return NULL;
}

static void check_disk(const struct disc_vm *vm, const char *target, const char *device, const char *type,
		       const char *format, const char *source, bool readonly)
{
	const struct disc_disk *d = find_disk(vm, target);
	char what[128];

	snprintf(what, sizeof(what), "%s device", target);
	check_str(d->device, device, what);
	snprintf(what, sizeof(what), "%s type", target);
	check_str(d->type, type, what);
	snprintf(what, sizeof(what), "%s format", target);
	check_str(d->format, format, what);
	snprintf(what, sizeof(what), "%s source", target);
	check_str(d->source, source, what);
	if (d->readonly != readonly)
		fail_msg("%s readonly: got %d, expected %d", target, d->readonly, readonly);
}

static void check_backing(const struct disc_disk *d, size_t i, const char *type, const char *format, const char *source)
{
	char what[128];

	if (i >= d->n_backing)
		fail_msg("%s: backing chain has %zu elements, wanted element %zu", d->target, d->n_backing, i);
	snprintf(what, sizeof(what), "%s backing[%zu] type", d->target, i);
	check_str(d->backing[i].type, type, what);
	snprintf(what, sizeof(what), "%s backing[%zu] format", d->target, i);
	check_str(d->backing[i].format, format, what);
	snprintf(what, sizeof(what), "%s backing[%zu] source", d->target, i);
	check_str(d->backing[i].source, source, what);
}

/* The text of /etc/hostname without blanks, or NULL (absent or empty). */
static char *host_name_content(void)
{
	FILE *f = fopen("/etc/hostname", "r");
	char line[256] = "";
	size_t n;

	if (!f)
		return NULL;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return n ? strdup(line) : NULL;
}

static char *make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl = NULL;

	if (asprintf(&tmpl, "%s/qmpctl-disc.XXXXXX", base && *base ? base : "/tmp") < 0)
		fail_msg("out of memory");
	if (!mkdtemp(tmpl))
		fail_msg("mkdtemp: %s", strerror(errno));
	return tmpl;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700);
	remove(path);
	return 0;
}

static void rm_tree(const char *dir)
{
	chmod(dir, 0700);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A child that sleeps until killed: a pid certainly alive for the test. */
static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* Dies with the test even when a failure skips its teardown. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	return pid;
}

static void stop_sleeper(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* A pid that is certainly dead: a child that ended and was reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(kill(pid, 0), -1);
	return pid;
}

/* Copies run/FILE into dir with the status pid replaced by pid. */
static void write_status(const char *dir, const char *file, pid_t pid)
{
	char *src_dir = path_join(data_dir(), "run"), *src = path_join(src_dir, file), *dst = path_join(dir, file);
	size_t len;
	char *xml = slurp(src, &len), *at = strstr(xml, PLACEHOLDER_PID);
	char *out = NULL;
	int n;

	if (!at)
		fail_msg("%s lacks %s", src, PLACEHOLDER_PID);
	n = asprintf(&out, "%.*spid='%d'%s", (int)(at - xml), xml, (int)pid, at + strlen(PLACEHOLDER_PID));
	assert_true(n > 0);
	spit(dst, out, (size_t)n);
	free(out);
	free(xml);
	free(dst);
	free(src);
	free(src_dir);
}

/* proc_dir/PID/cmdline holding the NUL-separated words (NULL-terminated list). */
static void write_cmdline(const char *proc_dir, pid_t pid, ...)
{
	char name[32], *dir, *file;
	char buf[8192];
	size_t len = 0;
	va_list ap;
	const char *w;

	snprintf(name, sizeof(name), "%d", (int)pid);
	dir = path_join(proc_dir, name);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	va_start(ap, pid);
	while ((w = va_arg(ap, const char *))) {
		size_t n = strlen(w) + 1;

		assert_true(len + n <= sizeof(buf));
		memcpy(buf + len, w, n);
		len += n;
	}
	va_end(ap);
	file = path_join(dir, "cmdline");
	spit(file, buf, len);
	free(file);
	free(dir);
}

/* Copies the regular files of SRC into DST (not recursive). */
static void copy_files(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	struct dirent *e;

	if (!d)
		fail_msg("opendir %s: %s", src, strerror(errno));
	if (mkdir(dst, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", dst, strerror(errno));
	while ((e = readdir(d))) {
		char *from = path_join(src, e->d_name), *to = path_join(dst, e->d_name);
		struct stat st;

		if (stat(from, &st) == 0 && S_ISREG(st.st_mode)) {
			size_t len;
			char *data = slurp(from, &len);

			spit(to, data, len);
			free(data);
		}
		free(from);
		free(to);
	}
	closedir(d);
}

/* ---- domain files ------------------------------------------------------------- */

static void test_domain_all_disk_kinds(void **state)
{
	static const char *const order[] = {
		"vda", "vdb", "vdc", "vdd", "sdb", "sdc", "sdd", "fda", "vde", "hdb", "vdf"
	};
	struct disc_vm vm;
	const struct disc_disk *d;

	(void)state;
	parse_data("etc", "alldisks.xml", false, &vm);
	check_str(vm.name, "alldisks", "name");
	check_str(vm.uuid, "5b0e7c1a-3f44-4d7e-9a51-0c2f6e8d4b17", "uuid");
	check_str(vm.qmp, NULL, "qmp (no <qemu:commandline>)");
	check_str(vm.monitor, NULL, "monitor (a config file has none)");
	assert_int_equal(vm.pid, 0);
	assert_true(vm.sources & DISC_SRC_XML);
	check_contains(vm.xml_path, "alldisks.xml", "xml_path");

	if (vm.n_disks != sizeof(order) / sizeof(order[0]))
		fail_msg("alldisks: %zu disks, expected %zu", vm.n_disks, sizeof(order) / sizeof(order[0]));
	for (size_t i = 0; i < vm.n_disks; i++) {
		char what[64];

		snprintf(what, sizeof(what), "disk %zu (document order)", i);
		check_str(vm.disks[i].target, order[i], what);
		snprintf(what, sizeof(what), "%s node (XML has none)", order[i]);
		check_str(vm.disks[i].node, NULL, what);
		snprintf(what, sizeof(what), "%s alias (config has none)", order[i]);
		check_str(vm.disks[i].alias, NULL, what);
	}

	check_disk(&vm, "vda", "disk", "file", "qcow2", "/var/lib/libvirt/images/alldisks-top.qcow2", false);
	d = find_disk(&vm, "vda");
	assert_int_equal(d->n_backing, 2);
	check_backing(d, 0, "file", "qcow2", "/var/lib/libvirt/images/alldisks-mid.qcow2");
	check_backing(d, 1, "file", "raw", "/var/lib/libvirt/images/debian-12-base.raw");

	check_disk(&vm, "vdb", "disk", "block", "raw", "/dev/vg0/alldisks-data", true);
	check_disk(&vm, "vdc", "disk", "network", "raw", "nbd://nbd.example.org:10809/export1", false);
	/* Several monitors: the first one names the place. */
	check_disk(&vm, "vdd", "disk", "network", "raw", "rbd://mon1.example.org:6789/vms/alldisks-rbd", false);
	check_disk(&vm, "sdb", "lun", "network", "raw",
		   "iscsi://192.0.2.15:3260/iqn.2024-01.org.example:storage.target0/2", false);
	check_disk(&vm, "sdd", "cdrom", "file", "raw", NULL, true);
	check_disk(&vm, "fda", "floppy", "file", "raw", "/var/lib/libvirt/images/drivers.img", false);
	check_disk(&vm, "vde", "disk", "volume", "qcow2", "default/alldisks-vol.qcow2", false);
	check_disk(&vm, "hdb", "disk", "dir", "fat", "/srv/alldisks-share", true);

	d = find_disk(&vm, "vdf");
	check_str(d->device, "disk", "vdf device");
	check_str(d->type, "nvme", "vdf type");
	check_str(d->format, "raw", "vdf format");
	/* As virsh domblklist prints it: DDDD:BB:SS.F, then the namespace. */
	check_str(d->source, "nvme://0000:01:00.0/1", "vdf (nvme) source");
	assert_false(d->readonly);

	for (size_t i = 0; i < vm.n_disks; i++)
		if (strcmp(vm.disks[i].target, "vda") != 0 && vm.disks[i].n_backing != 0)
			fail_msg("%s: no <backingStore> in the XML but %zu backing elements", vm.disks[i].target,
				 vm.disks[i].n_backing);
	/* libvirt writes an http name with its leading '/': one slash in the result. */
	check_disk(&vm, "sdc", "cdrom", "network", "raw",
		   "http://mirror.example.org:80/isos/debian-12.7.0-amd64-netinst.iso", true);
	discover_vm_clear(&vm);
	assert_null(vm.name);
	assert_int_equal(vm.n_disks, 0);
}

/* NVMe PCI addresses in every spelling libvirt reads; ones it would refuse
 * are shown as written, never turned into another address. */
static void test_domain_nvme_addresses(void **state)
{
	static const struct {
		const char *source, *expected;
	} cases[] = {
		{ "<source type='pci' namespace='1'><address domain='0x0000' bus='0x01' slot='0x00' "
		  "function='0x0'/></source>",
		  "nvme://0000:01:00.0/1" },
		{ "<source type='pci' namespace='2'><address domain='0x10' bus='0xaf' slot='0x1f' "
		  "function='0x7'/></source>",
		  "nvme://0010:af:1f.7/2" },
		/* decimal, as libvirt also accepts; domain and function left out are 0 */
		{ "<source type='pci' namespace='3'><address bus='10' slot='3'/></source>", "nvme://0000:0a:03.0/3" },
		{ "<source type='pci'><address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source>",
		  "nvme://0000:02:00.0" },
		/* out of range or not numbers: as written */
		{ "<source type='pci' namespace='1'><address domain='0x0000' bus='0x100' slot='0x00' "
		  "function='0x0'/></source>",
		  "nvme://0x0000:0x100:0x00.0x0/1" },
		{ "<source type='pci' namespace='1'><address bus='x' slot='0x20'/></source>", "nvme://:x:0x20./1" },
		{ "<source type='pci' namespace='1'/>", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct disc_vm vm = { 0 };
		struct qc_error *err = NULL;
		char *doc = NULL, what[64];
		int n = asprintf(&doc,
				 "<domain><name>nv</name><devices><disk type='nvme' device='disk'>%s"
				 "<target dev='vda'/></disk></devices></domain>",
				 cases[i].source);

		assert_true(n > 0);
		if (discover_parse_domain(doc, (size_t)n, "nv.xml", &vm, &err) != 0)
			fail_msg("case %zu: %s", i, err ? err->msg : "refused");
		assert_int_equal(vm.n_disks, 1);
		snprintf(what, sizeof(what), "nvme case %zu", i);
		check_str(vm.disks[0].source, cases[i].expected, what);
		discover_vm_clear(&vm);
		free(doc);
	}
}

/* <qemu:commandline> with no <qemu:arg> (and an arg in no namespace): no
 * socket, and nothing written past the argument vector (found by fuzzing;
 * ASan or valgrind see the write). */
static void test_domain_empty_commandline(void **state)
{
	static const char doc[] =
		"<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>e</name>"
		"<qemu:commandline/><qemu:commandline><arg value='-qmp'/></qemu:commandline></domain>";
	struct disc_vm vm = { 0 };
	struct qc_error *err = NULL;

	(void)state;
	assert_int_equal(discover_parse_domain(doc, sizeof(doc) - 1, "e.xml", &vm, &err), 0);
	assert_null(err);
	check_str(vm.name, "e", "name");
	check_str(vm.qmp, NULL, "no socket");
	discover_vm_clear(&vm);
}

struct qmp_case {
	const char *file, *name, *qmp;
};

static void test_domain_qmp_sockets(void **state)
{
	static const struct qmp_case cases[] = {
		{ "qmp-new.xml", "qmp-new", "/run/qmpctl/qmp-new.qmp" },
		{ "qmp-old.xml", "qmp-old", "/var/lib/qmpctl/qmp-old.sock" },
		/* chardev + -mon mode=control; the readline monitor before it is not QMP */
		{ "qmp-chardev.xml", "qmp-chardev", "/run/qmpctl/qmp-chardev.sock" },
		/* mode=readline and -mon without mode (readline too) are HMP */
		{ "hmp-only.xml", "hmp-only", NULL },
		/* namespace matched by URI, whatever its prefix */
		{ "ns-prefix.xml", "ns-prefix", "/run/qmpctl/ns-prefix.qmp" },
		/* prefix qemu: bound to another URI, and an un-namespaced <commandline> */
		{ "ns-wrong.xml", "ns-wrong", NULL },
		/* namespace declared on <qemu:commandline> itself; commented-out args ignored */
		{ "comments.xml", "comments", "/run/qmpctl/comments.qmp" },
		{ "minimal.xml", "minimal", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct disc_vm vm;
		char what[128];

		parse_data("etc", cases[i].file, false, &vm);
		snprintf(what, sizeof(what), "%s: name", cases[i].file);
		check_str(vm.name, cases[i].name, what);
		snprintf(what, sizeof(what), "%s: qmp", cases[i].file);
		check_str(vm.qmp, cases[i].qmp, what);
		snprintf(what, sizeof(what), "%s: monitor", cases[i].file);
		check_str(vm.monitor, NULL, what);
		assert_int_equal(vm.pid, 0);
		discover_vm_clear(&vm);
	}
}

static void test_domain_comments_and_targets(void **state)
{
	struct disc_vm vm;

	(void)state;
	parse_data("etc", "comments.xml", false, &vm);
	/* the text around a comment inside <name> is the name; a commented-out <name> is not */
	check_str(vm.name, "comments", "name");
	/* blanks around a value are not part of it */
	check_str(vm.uuid, "c0cce475-0000-4000-8000-000000000001", "uuid");
	/* the commented-out disk and the disk with no <target> are not disks */
	if (vm.n_disks != 1)
		fail_msg("comments.xml: %zu disks, expected 1 (vda)", vm.n_disks);
	check_disk(&vm, "vda", "disk", "file", "qcow2", "/var/lib/libvirt/images/comments.qcow2", false);
	discover_vm_clear(&vm);

	/* a network disk whose host has no port */
	parse_data("etc", "hmp-only.xml", false, &vm);
	check_disk(&vm, "vdb", "disk", "network", "raw", "nbd://nbd2.example.org/noport", false);
	discover_vm_clear(&vm);

	parse_data("etc", "minimal.xml", false, &vm);
	check_str(vm.name, "minimal", "name");
	check_str(vm.uuid, NULL, "uuid of a domain without <uuid>");
	assert_int_equal(vm.n_disks, 0);
	discover_vm_clear(&vm);
}

static void test_domain_odd_paths(void **state)
{
	struct disc_vm vm;

	(void)state;
	parse_data("etc", "odd-paths.xml", false, &vm);
	check_str(vm.name, "odd-paths", "name");
	check_disk(&vm, "vda", "disk", "file", "qcow2", "/srv/VM images/Prüfung, Größe 2/disk one.qcow2", false);
	/* &amp; and character references are part of XML, not entities to refuse */
	check_disk(&vm, "vdb", "disk", "file", "raw", "/srv/R&D/café,日本.img", false);
	/* ",," in a QEMU option is one comma */
	check_str(vm.qmp, "/run/qmpctl/my VMs/odd,paths ü.qmp", "qmp");
	discover_vm_clear(&vm);
}

static void test_domain_broken_files(void **state)
{
	(void)state;
	refuse_data("etc", "malformed.xml", false);
	refuse_data("etc", "empty.xml", false);
	refuse_data("etc", "no-name.xml", false);
	refuse_data("etc", "not-a-domain.xml", false);
	/* A domain is not a status file. */
	refuse_data("etc", "alldisks.xml", true);
	refuse_data("etc", "empty.xml", true);
	refuse_data("etc", "malformed.xml", true);
}

static void test_domain_external_entity_file(void **state)
{
	char *dir = path_join(data_dir(), "etc"), *path = path_join(dir, "xxe.xml");
	char *host = host_name_content();
	struct qc_error *err = NULL;
	struct disc_vm vm = { 0 };
	size_t len;
	char *xml = slurp(path, &len);
	int rc;

	(void)state;
	rc = discover_parse_domain(xml, len, path, &vm, &err);
	if (rc != 0) {
		assert_non_null(err);
		check_contains(err->msg, "xxe.xml", "the error names the file");
	} else if (host && vm.name && strstr(vm.name, host)) {
		fail_msg("xxe.xml: the external entity was expanded: name '%s' contains /etc/hostname ('%s')", vm.name,
			 host);
	}
	qc_error_free(err);
	discover_vm_clear(&vm);
	free(host);
	free(xml);
	free(path);
	free(dir);
}

static void test_domain_billion_laughs(void **state)
{
	char *dir = path_join(data_dir(), "etc"), *path = path_join(dir, "billion-laughs.xml");
	struct qc_error *err = NULL;
	struct disc_vm vm = { 0 };
	size_t len;
	char *xml = slurp(path, &len);
	struct timespec t0, t1;
	int rc;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = discover_parse_domain(xml, len, path, &vm, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc != 0) {
		assert_non_null(err);
		check_contains(err->msg, "billion-laughs.xml", "the error names the file");
	} else {
		if (vm.name && strlen(vm.name) > 64)
			fail_msg("billion-laughs.xml: entities expanded into a %zu-byte name", strlen(vm.name));
		for (size_t i = 0; i < vm.n_disks; i++)
			if (vm.disks[i].source && strlen(vm.disks[i].source) > 256)
				fail_msg("billion-laughs.xml: entities expanded into a %zu-byte source",
					 strlen(vm.disks[i].source));
	}
	if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > 2000)
		fail_msg("billion-laughs.xml took more than 2 s");
	qc_error_free(err);
	discover_vm_clear(&vm);
	free(xml);
	free(path);
	free(dir);
}

/* Documents that try to make the parser open a local file or a URL; an
 * inotify watch on the file and a listening socket tell whether it tried. */
static void test_domain_never_fetches(void **state)
{
	char *tmp = make_tmpdir(), *secret = path_join(tmp, "secret.txt");
	static const char marker[] = "QMPCTL-SECRET-5e1f";
	struct sockaddr_in sa = { 0 };
	socklen_t salen = sizeof(sa);
	int ino, wd, lsn;
	char docs[8][2048];
	size_t n_docs = 0;

	(void)state;
	spit(secret, marker, strlen(marker));
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(ino >= 0);
	wd = inotify_add_watch(ino, secret, IN_OPEN | IN_ACCESS);
	assert_true(wd >= 0);
	lsn = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(lsn >= 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lsn, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lsn, 8), 0);
	assert_int_equal(getsockname(lsn, (struct sockaddr *)&sa, &salen), 0);

	/* external general entity in text and (illegally) in an attribute */
	snprintf(docs[n_docs++], sizeof(docs[0]),
		 "<?xml version='1.0'?>\n<!DOCTYPE domain [<!ENTITY s SYSTEM 'file://%s'>]>\n"
		 "<domain type='kvm'><name>vm&s;</name><devices><disk type='file' device='disk'>"
		 "<source file='&s;'/><target dev='vda'/></disk></devices></domain>\n",
		 secret);
	snprintf(docs[n_docs++], sizeof(docs[0]),
		 "<!DOCTYPE domain [<!ENTITY s SYSTEM '%s'>]>\n<domain><name>vm&s;</name></domain>\n", secret);
	/* external DTD */
	snprintf(docs[n_docs++], sizeof(docs[0]),
		 "<?xml version='1.0'?>\n<!DOCTYPE domain SYSTEM 'file://%s'>\n<domain><name>vm</name></domain>\n",
		 secret);
	/* external parameter entity */
	snprintf(docs[n_docs++], sizeof(docs[0]),
		 "<!DOCTYPE domain [<!ENTITY %% p SYSTEM 'file://%s'> %%p;]>\n<domain><name>vm</name></domain>\n",
		 secret);
	/* XInclude */
	snprintf(docs[n_docs++], sizeof(docs[0]),
		 "<domain xmlns:xi='http://www.w3.org/2001/XInclude'><name>vm<xi:include href='file://%s' "
		 "parse='text'/></name></domain>\n",
		 secret);
	/* over the network */
	snprintf(docs[n_docs++], sizeof(docs[0]),
		 "<!DOCTYPE domain [<!ENTITY n SYSTEM 'http://127.0.0.1:%u/x.xml'>]>\n"
		 "<domain><name>vm&n;</name></domain>\n",
		 (unsigned)ntohs(sa.sin_port));
	snprintf(docs[n_docs++], sizeof(docs[0]),
		 "<!DOCTYPE domain SYSTEM 'http://127.0.0.1:%u/x.dtd'>\n<domain><name>vm</name></domain>\n",
		 (unsigned)ntohs(sa.sin_port));

	for (size_t i = 0; i < n_docs; i++) {
		for (int status = 0; status < 2; status++) {
			char doc[4096], ev[4096];
			struct qc_error *err = NULL;
			struct disc_vm vm = { 0 };
			int rc, c;

			if (status) {
				/* the same inside a status file: the DOCTYPE then names domstatus */
				char *dt = strstr(docs[i], "<!DOCTYPE domain"), *root = strstr(docs[i], "<domain");

				if (dt && root && dt < root)
					snprintf(doc, sizeof(doc),
						 "%.*s<!DOCTYPE domstatus%.*s<domstatus pid='1'>%.*s</domstatus>\n",
						 (int)(dt - docs[i]), docs[i], (int)(root - dt - 16), dt + 16,
						 (int)strlen(root) - 1, root);
				else
					snprintf(doc, sizeof(doc), "<domstatus pid='1'>%s</domstatus>\n",
						 root ? root : docs[i]);
				rc = discover_parse_status(doc, strlen(doc), "never-fetches.xml", &vm, &err);
			} else {
				snprintf(doc, sizeof(doc), "%s", docs[i]);
				rc = discover_parse_domain(doc, strlen(doc), "never-fetches.xml", &vm, &err);
			}
			if (read(ino, ev, sizeof(ev)) > 0)
				fail_msg("document %zu (%s) made the parser open %s:\n%s", i,
					 status ? "status" : "domain", secret, doc);
			c = accept(lsn, NULL, NULL);
			if (c >= 0) {
				close(c);
				fail_msg("document %zu (%s) made the parser connect to 127.0.0.1:%u:\n%s", i,
					 status ? "status" : "domain", (unsigned)ntohs(sa.sin_port), doc);
			}
			if (rc == 0) {
				if (vm.name && strstr(vm.name, marker))
					fail_msg("document %zu: the secret reached the name", i);
				for (size_t k = 0; k < vm.n_disks; k++)
					if (vm.disks[k].source && strstr(vm.disks[k].source, marker))
						fail_msg("document %zu: the secret reached a disk source", i);
			} else {
				assert_non_null(err);
			}
			qc_error_free(err);
			discover_vm_clear(&vm);
		}
	}
	close(lsn);
	close(ino);
	rm_tree(tmp);
	free(secret);
	free(tmp);
}

/* UTF-16 hides "<!ENTITY" from a byte search: the parser itself must still
 * neither fetch nor expand. */
static void test_domain_utf16(void **state)
{
	char *tmp = make_tmpdir(), *secret = path_join(tmp, "secret16.txt");
	char doc[4096];
	unsigned char u16[8192];
	size_t n = 0, len;
	int ino;
	char ev[4096];
	struct qc_error *err = NULL;
	struct disc_vm vm = { 0 };
	int rc;

	(void)state;
	spit(secret, "QMPCTL-SECRET-16", 16);
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(ino >= 0);
	assert_true(inotify_add_watch(ino, secret, IN_OPEN | IN_ACCESS) >= 0);
	snprintf(doc, sizeof(doc),
		 "<?xml version='1.0' encoding='UTF-16'?>\n"
		 "<!DOCTYPE domain [<!ENTITY s SYSTEM 'file://%s'><!ENTITY i 'INTERNAL-TEXT'>]>\n"
		 "<domain type='kvm'><name>u16&s;&i;</name><devices><disk type='file' device='disk'>"
		 "<source file='/img/&i;.img'/><target dev='vda'/></disk></devices></domain>\n",
		 secret);
	len = strlen(doc);
	u16[n++] = 0xff; /* BOM, little endian */
	u16[n++] = 0xfe;
	for (size_t i = 0; i < len; i++) {
		u16[n++] = (unsigned char)doc[i];
		u16[n++] = 0;
	}
	rc = discover_parse_domain((const char *)u16, n, "utf16.xml", &vm, &err);
	if (read(ino, ev, sizeof(ev)) > 0)
		fail_msg("a UTF-16 document made the parser open %s", secret);
	if (rc == 0) {
		if (vm.name && (strstr(vm.name, "SECRET") || strstr(vm.name, "INTERNAL")))
			fail_msg("UTF-16: entity expanded into the name '%s'", vm.name);
		for (size_t k = 0; k < vm.n_disks; k++)
			if (vm.disks[k].source && strstr(vm.disks[k].source, "INTERNAL-TEXT"))
				fail_msg("UTF-16: entity substituted in a disk source: '%s'", vm.disks[k].source);
	}
	qc_error_free(err);
	discover_vm_clear(&vm);
	close(ino);
	rm_tree(tmp);
	free(secret);
	free(tmp);
}

/* Quadratic blowup in UTF-16: one 2000-character entity used 2000 times in
 * an attribute (4 MB if substituted; at 10000 x 10000 it takes 20 s and
 * 300 MB). */
static void test_domain_utf16_quadratic(void **state)
{
	struct qc_error *err = NULL;
	struct disc_vm vm = { 0 };
	int rc;

	(void)state;
	size_t ent = 2000, refs = 2000, cap = 64 + 2 * (ent + 4 * refs + 512);
	char *q = malloc(cap);
	unsigned char *q16 = malloc(2 * cap + 2);
	size_t ql = 0, q16l = 0;
	struct timespec t0, t1;

	assert_non_null(q);
	assert_non_null(q16);
	ql += (size_t)sprintf(q + ql, "<?xml version='1.0' encoding='UTF-16'?>\n<!DOCTYPE domain [<!ENTITY a \"");
	memset(q + ql, 'a', ent);
	ql += ent;
	ql += (size_t)sprintf(q + ql, "\">]>\n<domain><name>quad</name><devices><disk type='file'><source file='");
	for (size_t i = 0; i < refs; i++)
		ql += (size_t)sprintf(q + ql, "&a;");
	ql += (size_t)sprintf(q + ql, "'/><target dev='vda'/></disk></devices></domain>\n");
	assert_true(ql < cap);
	q16[q16l++] = 0xff;
	q16[q16l++] = 0xfe;
	for (size_t i = 0; i < ql; i++) {
		q16[q16l++] = (unsigned char)q[i];
		q16[q16l++] = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = discover_parse_domain((const char *)q16, q16l, "quadratic16.xml", &vm, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == 0)
		for (size_t k = 0; k < vm.n_disks; k++)
			if (vm.disks[k].source && strlen(vm.disks[k].source) > 65536)
				fail_msg("UTF-16: an entity was substituted %zu times into a %zu-byte disk source",
					 refs, strlen(vm.disks[k].source));
	if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > 2000)
		fail_msg("UTF-16 quadratic blowup took more than 2 s");
	qc_error_free(err);
	discover_vm_clear(&vm);
	free(q);
	free(q16);
}

/* Encodings that hide "<!ENTITY" from a byte search without NUL bytes:
 * UTF-7 ("+ADw-" is '<') and EBCDIC (IBM037).  Neither may lead to an
 * entity being substituted. */
static void test_domain_other_encodings(void **state)
{
	static const char utf7[] = "<?xml version='1.0' encoding='UTF-7'?>\n"
				   "<!DOCTYPE domain [+ADw-!ENTITY i 'INTERNAL-TEXT'>]>\n"
				   "<domain type='kvm'><name>u7&i;</name><devices><disk type='file' device='disk'>"
				   "<source file='/img/&i;.img'/><target dev='vda'/></disk></devices></domain>\n";
	static const char ascii_doc[] = "<?xml version='1.0' encoding='IBM037'?>\n"
					"<!DOCTYPE domain [<!ENTITY i 'INTERNAL-TEXT'>]>\n"
					"<domain type='kvm'><name>eb&i;</name><devices><disk type='file' device='disk'>"
					"<source file='/img/&i;.img'/><target dev='vda'/></disk></devices></domain>\n";
	/* ASCII to IBM037 for the characters used above */
	static const char from[] =
		" !\"#&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz\n";
	static const unsigned char to[] = { 0x40, 0x5a, 0x7f, 0x7b, 0x50, 0x7d, 0x4d, 0x5d, 0x5c, 0x4e, 0x6b,
					    0x60, 0x4b, 0x61, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
					    0xf8, 0xf9, 0x7a, 0x5e, 0x4c, 0x7e, 0x6e, 0x6f, 0xc1, 0xc2, 0xc3,
					    0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5,
					    0xd6, 0xd7, 0xd8, 0xd9, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8,
					    0xe9, 0xba, 0xbb, 0x6d, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
					    0x88, 0x89, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
					    0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0x25 };
	char ebcdic[sizeof(ascii_doc)];
	const char *docs[2] = { utf7, ebcdic };
	size_t lens[2] = { sizeof(utf7) - 1, sizeof(ascii_doc) - 1 };

	(void)state;
	assert_int_equal(sizeof(from) - 1, sizeof(to));
	for (size_t i = 0; i < sizeof(ascii_doc) - 1; i++) {
		const char *at = strchr(from, ascii_doc[i]);

		if (!at)
			fail_msg("no IBM037 code for '%c'", ascii_doc[i]);
		ebcdic[i] = (char)to[at - from];
	}
	for (size_t d = 0; d < 2; d++) {
		struct qc_error *err = NULL;
		struct disc_vm vm = { 0 };
		int rc = discover_parse_domain(docs[d], lens[d], d ? "ebcdic.xml" : "utf7.xml", &vm, &err);

		if (rc == 0) {
			if (vm.name && strstr(vm.name, "INTERNAL"))
				fail_msg("%s: entity expanded into the name '%s'", d ? "IBM037" : "UTF-7", vm.name);
			for (size_t k = 0; k < vm.n_disks; k++)
				if (vm.disks[k].source && strstr(vm.disks[k].source, "INTERNAL"))
					fail_msg("%s: entity substituted in a disk source: '%s'",
						 d ? "IBM037" : "UTF-7", vm.disks[k].source);
		} else {
			assert_non_null(err);
		}
		qc_error_free(err);
		discover_vm_clear(&vm);
	}
}

static void test_domain_size_cap(void **state)
{
	static const char head[] = "<domain type='kvm'><name>big</name><!--";
	static const char tail[] = "--></domain>";
	size_t cap = DISCOVER_MAX_XML;
	char *buf = malloc(cap + 2);
	struct qc_error *err = NULL;
	struct disc_vm vm = { 0 };
	int rc;

	(void)state;
	assert_non_null(buf);
	/* exactly the cap: allowed */
	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, 'x', cap - (sizeof(head) - 1) - (sizeof(tail) - 1));
	memcpy(buf + cap - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	rc = discover_parse_domain(buf, cap, "cap.xml", &vm, &err);
	if (rc != 0)
		fail_msg("a file of exactly DISCOVER_MAX_XML bytes was refused: %s", err ? err->msg : "?");
	check_str(vm.name, "big", "name");
	discover_vm_clear(&vm);

	/* one byte more: refused */
	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, 'x', cap + 1 - (sizeof(head) - 1) - (sizeof(tail) - 1));
	memcpy(buf + cap + 1 - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	rc = discover_parse_domain(buf, cap + 1, "cap.xml", &vm, &err);
	assert_int_equal(rc, -1);
	assert_non_null(err);
	check_contains(err->msg, "cap.xml", "the error names the file");
	qc_error_free(err);
	discover_vm_clear(&vm);
	free(buf);
}

/* ---- status files ------------------------------------------------------------ */

static void test_status_running(void **state)
{
	struct disc_vm vm;
	const struct disc_disk *d;

	(void)state;
	parse_data("run", "alldisks.xml", true, &vm);
	check_str(vm.name, "alldisks", "name");
	check_str(vm.uuid, "5b0e7c1a-3f44-4d7e-9a51-0c2f6e8d4b17", "uuid");
	assert_int_equal(vm.pid, 31337);
	assert_int_equal(vm.state, DISC_STATE_RUNNING);
	check_str(vm.monitor, "/var/lib/libvirt/qemu/domain-1-alldisks/monitor.sock", "monitor");
	check_str(vm.qmp, NULL, "qmp (libvirt's monitor is not free for us)");
	assert_true(vm.sources & DISC_SRC_STATUS);
	check_contains(vm.xml_path, "alldisks.xml", "xml_path");
	assert_int_equal(vm.n_disks, 11);
	d = find_disk(&vm, "vda");
	check_str(d->alias, "virtio-disk0", "vda alias");
	check_str(d->source, "/var/lib/libvirt/images/alldisks-top.qcow2", "vda source");
	check_str(d->format, "qcow2", "vda format");
	assert_int_equal(d->n_backing, 2);
	check_backing(d, 0, "file", "qcow2", "/var/lib/libvirt/images/alldisks-mid.qcow2");
	check_backing(d, 1, "file", "raw", "/var/lib/libvirt/images/debian-12-base.raw");
	d = find_disk(&vm, "sdd");
	check_str(d->alias, "sata0-0-3", "sdd alias");
	check_str(d->source, NULL, "sdd source (empty cdrom)");
	assert_true(d->readonly);
	check_str(find_disk(&vm, "vde")->source, "default/alldisks-vol.qcow2", "vde source");
	check_str(find_disk(&vm, "sdb")->alias, "scsi0-0-0-1", "sdb alias");
	discover_vm_clear(&vm);
}

static void test_status_paused_and_qmp(void **state)
{
	struct disc_vm vm;

	(void)state;
	parse_data("run", "transient.xml", true, &vm);
	check_str(vm.name, "transient", "name");
	assert_int_equal(vm.state, DISC_STATE_PAUSED);
	assert_int_equal(vm.pid, 31337);
	check_str(vm.monitor, "/var/lib/libvirt/qemu/domain-3-transient/monitor.sock", "monitor");
	assert_int_equal(vm.n_disks, 1);
	check_disk(&vm, "vda", "disk", "network", "raw", "nbd://10.0.0.5:10809/transient-root", false);
	check_str(vm.disks[0].alias, "virtio-disk0", "vda alias");
	discover_vm_clear(&vm);

	/* the running domain inside carries the <qemu:commandline> too */
	parse_data("run", "qmp-old.xml", true, &vm);
	check_str(vm.name, "qmp-old", "name");
	check_str(vm.qmp, "/var/lib/qmpctl/qmp-old.sock", "qmp");
	check_str(vm.monitor, "/var/lib/libvirt/qemu/domain-7-qmp-old/monitor.sock", "monitor");
	check_disk(&vm, "hda", "disk", "file", "raw", "/var/lib/libvirt/images/qmp-old.img", false);
	assert_int_equal(vm.disks[0].n_backing, 0);
	discover_vm_clear(&vm);
}

/* A pid that is not a positive number never becomes one (kill(-1, 0) would
 * find every process). */
static void test_status_bad_pids(void **state)
{
	static const char *const pids[] = { "abc", "-1", "0", "", "12abc", "99999999999999999999", "-31337", " 7" };

	(void)state;
	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		char doc[512];
		struct qc_error *err = NULL;
		struct disc_vm vm = { 0 };
		int rc;

		snprintf(doc, sizeof(doc),
			 "<domstatus state='running' reason='booted' pid='%s'>\n"
			 "  <monitor path='/var/lib/libvirt/qemu/domain-9-bad/monitor.sock' type='unix'/>\n"
			 "  <domain type='kvm' id='9'><name>bad</name></domain>\n</domstatus>\n",
			 pids[i]);
		rc = discover_parse_status(doc, strlen(doc), "bad-pid.xml", &vm, &err);
		/* " 7" may be read as 7; nothing else is a pid */
		if (rc == 0 && vm.pid != 0 && !(vm.pid == 7 && !strcmp(pids[i], " 7")))
			fail_msg("pid='%s' became pid %d", pids[i], (int)vm.pid);
		if (rc != 0)
			assert_non_null(err);
		qc_error_free(err);
		discover_vm_clear(&vm);
	}
}

/* ---- QEMU option strings and command lines ------------------------------------- */

static void check_opt(const char *opts, const char *key, const char *expected)
{
	char *v = discover_qemu_opt(opts, key);
	char what[256];

	snprintf(what, sizeof(what), "discover_qemu_opt(\"%s\", %s%s%s)", opts, key ? "\"" : "", key ? key : "NULL",
		 key ? "\"" : "");
	check_str(v, expected, what);
	free(v);
}

static void test_qemu_opt(void **state)
{
	(void)state;
	check_opt("socket,id=charmonitor,path=/tmp/m.sock,server=on,wait=off", NULL, "socket");
	check_opt("socket,id=charmonitor,path=/tmp/m.sock,server=on,wait=off", "id", "charmonitor");
	check_opt("socket,id=charmonitor,path=/tmp/m.sock,server=on,wait=off", "path", "/tmp/m.sock");
	check_opt("socket,id=charmonitor,path=/tmp/m.sock,server=on,wait=off", "wait", "off");
	check_opt("socket,id=charmonitor", "path", NULL);
	check_opt("id=x,path=/a", NULL, NULL);
	check_opt("file=/var/lib/a,,b.qcow2,format=qcow2,if=virtio", "file", "/var/lib/a,b.qcow2");
	check_opt("file=/var/lib/a,,b.qcow2,format=qcow2,if=virtio", "format", "qcow2");
	check_opt("file=/var/lib/a,,b.qcow2,format=qcow2,if=virtio", "if", "virtio");
	check_opt("file=a,,,,b", "file", "a,,b");
	check_opt("file=end,,", "file", "end,");
	check_opt("unix:/tmp/a,,b.qmp,server=on,wait=off", NULL, "unix:/tmp/a,b.qmp");
	check_opt("ab=2", "a", NULL);
	check_opt("a=1,ab=2", "ab", "2");
	check_opt("ab=2,a=1", "a", "1");
	check_opt("path=,id=x", "path", "");
	check_opt("string=a=b,id=x", "string", "a=b");
	check_opt("guest=vm1,debug-threads=on", "guest", "vm1");
	check_opt("vm1,debug-threads=on", NULL, "vm1");
	check_opt("", NULL, NULL);
	check_opt("", "x", NULL);
	/* a ",," in a key's place does not make a key */
	check_opt("x,,file=/a,file=/b", "file", "/b");
}

struct argv_builder {
	char *argv[64];
	int argc;
};

static void build(struct argv_builder *b, ...)
{
	va_list ap;
	const char *w;

	b->argc = 0;
	va_start(ap, b);
	while ((w = va_arg(ap, const char *))) {
		assert_true(b->argc < 63);
		b->argv[b->argc++] = strdup(w);
	}
	va_end(ap);
	b->argv[b->argc] = NULL;
}

static void parse_argv(struct argv_builder *b, struct disc_vm *vm)
{
	struct qc_error *err = NULL;
	int rc;

	memset(vm, 0, sizeof(*vm));
	rc = discover_parse_cmdline(b->argv, b->argc, vm, &err);
	if (rc != 0)
		fail_msg("discover_parse_cmdline refused: %s", err ? err->msg : "(no error)");
	assert_null(err);
	for (int i = 0; i < b->argc; i++)
		free(b->argv[i]);
	b->argc = 0;
}

static void test_cmdline_libvirt(void **state)
{
	struct argv_builder b;
	struct disc_vm vm;
	const struct disc_disk *d;

	(void)state;
	/* What libvirt 9 starts (one argument per line in its log). */
	build(&b, "/usr/bin/qemu-system-x86_64", "-name", "guest=vm1,debug-threads=on", "-S", "-object",
	      "{\"qom-type\":\"secret\",\"id\":\"masterKey0\",\"format\":\"raw\",\"file\":\"/var/lib/libvirt/qemu/"
	      "domain-1-vm1/master-key.aes\"}",
	      "-machine", "pc-q35-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram", "-accel", "kvm", "-cpu",
	      "host,migratable=on", "-m", "1024", "-object",
	      "{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"size\":1073741824}", "-overcommit",
	      "mem-lock=off", "-smp", "1,sockets=1,cores=1,threads=1", "-uuid", "8f1c3e2a-0b4d-4c6e-9a7f-123456789abc",
	      "-no-user-config", "-nodefaults", "-chardev", "socket,id=charmonitor,fd=25,server=on,wait=off", "-mon",
	      "chardev=charmonitor,id=monitor,mode=control", "-rtc", "base=utc,driftfix=slew", "-global",
	      "kvm-pit.lost_tick_policy=delay", "-no-shutdown", "-boot", "strict=on", "-blockdev",
	      "{\"driver\":\"file\",\"filename\":\"/var/lib/libvirt/images/base.qcow2\",\"node-name\":\"libvirt-2-"
	      "storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}",
	      "-blockdev",
	      "{\"node-name\":\"libvirt-2-format\",\"read-only\":true,\"driver\":\"qcow2\",\"file\":\"libvirt-2-"
	      "storage\",\"backing\":null}",
	      "-blockdev",
	      "{\"driver\":\"file\",\"filename\":\"/var/lib/libvirt/images/vm1.qcow2\",\"node-name\":\"libvirt-1-"
	      "storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}",
	      "-blockdev",
	      "{\"node-name\":\"libvirt-1-format\",\"read-only\":false,\"driver\":\"qcow2\",\"file\":\"libvirt-1-"
	      "storage\",\"backing\":\"libvirt-2-format\"}",
	      "-device",
	      "{\"driver\":\"virtio-blk-pci\",\"bus\":\"pci.3\",\"addr\":\"0x0\",\"drive\":\"libvirt-1-format\","
	      "\"id\":\"virtio-disk0\",\"bootindex\":1}",
	      "-audiodev", "{\"id\":\"audio1\",\"driver\":\"none\"}", "-sandbox",
	      "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny", "-msg", "timestamp=on", NULL);
	parse_argv(&b, &vm);
	check_str(vm.name, "vm1", "name from guest=");
	check_str(vm.uuid, "8f1c3e2a-0b4d-4c6e-9a7f-123456789abc", "uuid");
	/* libvirt's monitor is an fd it passed: no path anyone can connect to */
	check_str(vm.qmp, NULL, "qmp of a chardev with fd= and no path");
	if (vm.n_disks != 1)
		fail_msg("libvirt command line: %zu disks, expected 1 (the top of the chain)", vm.n_disks);
	d = &vm.disks[0];
	check_str(d->node, "libvirt-1-format", "node");
	check_str(d->format, "qcow2", "format");
	check_str(d->type, "file", "type");
	check_str(d->source, "/var/lib/libvirt/images/vm1.qcow2", "source");
	assert_false(d->readonly);
	if (!d->target || (strcmp(d->target, "virtio-disk0") && strcmp(d->target, "libvirt-1-format")))
		fail_msg("target: got '%s', expected the device id or the node name", d->target ? d->target : "(NULL)");
	assert_int_equal(d->n_backing, 1);
	check_backing(d, 0, "file", "qcow2", "/var/lib/libvirt/images/base.qcow2");
	discover_vm_clear(&vm);
}

static void test_cmdline_sockets(void **state)
{
	struct argv_builder b;
	struct disc_vm vm;

	(void)state;
	build(&b, "qemu-system-x86_64", "-qmp", "unix:/tmp/x.qmp,server=on,wait=off", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, "/tmp/x.qmp", "-qmp server=on");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-qmp", "unix:/tmp/old.qmp,server,nowait", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, "/tmp/old.qmp", "-qmp server,nowait");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-qmp", "unix:/tmp/a,,b.qmp,server=on,wait=off", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, "/tmp/a,b.qmp", "-qmp with an escaped comma");
	discover_vm_clear(&vm);

	/* QEMU connects out: nothing listens there for us */
	build(&b, "qemu-system-x86_64", "-qmp", "unix:/tmp/client.qmp", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, NULL, "-qmp without server");
	discover_vm_clear(&vm);
	build(&b, "qemu-system-x86_64", "-qmp", "unix:/tmp/client.qmp,server=off", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, NULL, "-qmp server=off");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-qmp", "stdio", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, NULL, "-qmp stdio");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-chardev", "socket,id=c1,path=/tmp/c1.sock,server=on,wait=off", "-mon",
	      "chardev=c1,mode=control,pretty=on", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, "/tmp/c1.sock", "-chardev + -mon mode=control");
	discover_vm_clear(&vm);

	/* -mon before its -chardev */
	build(&b, "qemu-system-x86_64", "-mon", "chardev=c2,mode=control", "-chardev",
	      "socket,id=c2,path=/tmp/c2.sock,server=on,wait=off", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, "/tmp/c2.sock", "-mon before -chardev");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-chardev", "socket,id=h1,path=/tmp/h1.sock,server=on,wait=off", "-mon",
	      "chardev=h1,mode=readline", "-chardev", "socket,id=h2,path=/tmp/h2.sock,server=on,wait=off", "-mon",
	      "chardev=h2", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, NULL, "HMP monitors only (mode=readline, default mode)");
	discover_vm_clear(&vm);

	/* a control monitor on a chardev nobody defined, and a chardev no monitor uses */
	build(&b, "qemu-system-x86_64", "-chardev", "socket,id=serial0,path=/tmp/serial.sock,server=on,wait=off",
	      "-mon", "chardev=missing,mode=control", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, NULL, "control monitor without its chardev");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-chardev", "socket,id=c3,path=/tmp/c,,3.sock,server=on,wait=off", "-mon",
	      "chardev=c3,mode=control", NULL);
	parse_argv(&b, &vm);
	check_str(vm.qmp, "/tmp/c,3.sock", "chardev path with an escaped comma");
	discover_vm_clear(&vm);
}

static void test_cmdline_names(void **state)
{
	struct argv_builder b;
	struct disc_vm vm;

	(void)state;
	build(&b, "qemu-system-x86_64", "-name", "plain", NULL);
	parse_argv(&b, &vm);
	check_str(vm.name, "plain", "-name plain");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-name", "first,process=qemu-first,debug-threads=on", NULL);
	parse_argv(&b, &vm);
	check_str(vm.name, "first", "-name NAME,process=");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-S", "-nodefaults", "-name", "process=p,guest=late", NULL);
	parse_argv(&b, &vm);
	check_str(vm.name, "late", "guest= after other keys");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-name", "guest=with,,comma", NULL);
	parse_argv(&b, &vm);
	check_str(vm.name, "with,comma", "escaped comma in the name");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "--name", "guest=dashes", NULL);
	parse_argv(&b, &vm);
	check_str(vm.name, "dashes", "--name");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-m", "64", NULL);
	parse_argv(&b, &vm);
	check_str(vm.name, NULL, "no -name");
	assert_int_equal(vm.n_disks, 0);
	discover_vm_clear(&vm);

	/* an option as the last word has no value */
	build(&b, "qemu-system-x86_64", "-name", NULL);
	parse_argv(&b, &vm);
	check_str(vm.name, NULL, "-name without a value");
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", NULL);
	parse_argv(&b, &vm);
	check_str(vm.name, NULL, "argv0 only");
	discover_vm_clear(&vm);
}

static void test_cmdline_drives(void **state)
{
	struct argv_builder b;
	struct disc_vm vm;
	const struct disc_disk *d;

	(void)state;
	build(&b, "qemu-system-x86_64", "-drive", "file=/var/lib/a,,b.qcow2,format=qcow2,if=virtio", NULL);
	parse_argv(&b, &vm);
	assert_int_equal(vm.n_disks, 1);
	d = &vm.disks[0];
	check_str(d->source, "/var/lib/a,b.qcow2", "-drive file with ',,'");
	check_str(d->format, "qcow2", "-drive format");
	check_str(d->type, "file", "-drive type");
	check_str(d->device, "disk", "-drive device");
	assert_non_null(d->target);
	assert_false(d->readonly);
	discover_vm_clear(&vm);

	build(&b, "qemu-system-x86_64", "-drive", "file=/dev/sdb,format=raw,if=none,id=drive-hd1", "-drive",
	      "if=ide,media=cdrom,id=cd0", "-drive", "file=/srv/ro.img,readonly=on,id=ro0,format=raw", NULL);
	parse_argv(&b, &vm);
	assert_int_equal(vm.n_disks, 3);
	check_disk(&vm, "drive-hd1", "disk", "block", "raw", "/dev/sdb", false);
	check_disk(&vm, "cd0", "cdrom", "file", NULL, NULL, true);
	check_disk(&vm, "ro0", "disk", "file", "raw", "/srv/ro.img", true);
	discover_vm_clear(&vm);

	/* key=value -blockdev on top of a JSON one */
	build(&b, "qemu-system-x86_64", "-blockdev",
	      "{\"driver\":\"file\",\"filename\":\"/x/y.qcow2\",\"node-name\":\"libvirt-1-storage\"}", "-blockdev",
	      "driver=qcow2,file=libvirt-1-storage,node-name=libvirt-1-format", NULL);
	parse_argv(&b, &vm);
	assert_int_equal(vm.n_disks, 1);
	d = &vm.disks[0];
	check_str(d->node, "libvirt-1-format", "node");
	check_str(d->format, "qcow2", "format");
	check_str(d->source, "/x/y.qcow2", "source");
	check_str(d->type, "file", "type");
	discover_vm_clear(&vm);

	/* all key=value, with a backing node */
	build(&b, "qemu-system-x86_64", "-blockdev", "driver=file,filename=/img/base.raw,node-name=base-file",
	      "-blockdev", "driver=raw,file=base-file,node-name=base-fmt,read-only=on", "-blockdev",
	      "driver=file,filename=/img/over,,lay.qcow2,node-name=top-file", "-blockdev",
	      "driver=qcow2,file=top-file,backing=base-fmt,node-name=top-fmt", NULL);
	parse_argv(&b, &vm);
	assert_int_equal(vm.n_disks, 1);
	d = &vm.disks[0];
	check_str(d->node, "top-fmt", "node");
	check_str(d->source, "/img/over,lay.qcow2", "source");
	assert_int_equal(d->n_backing, 1);
	check_backing(d, 0, "file", "raw", "/img/base.raw");
	check_str(d->backing[0].node, "base-fmt", "the backing layer's node name");
	discover_vm_clear(&vm);

	/* json: with a nested protocol node */
	build(&b, "qemu-system-x86_64", "-blockdev",
	      "json:{\"driver\":\"qcow2\",\"node-name\":\"top\",\"file\":{\"driver\":\"file\",\"filename\":\"/images/"
	      "nested.qcow2\"}}",
	      NULL);
	parse_argv(&b, &vm);
	assert_int_equal(vm.n_disks, 1);
	d = &vm.disks[0];
	check_str(d->node, "top", "node");
	check_str(d->format, "qcow2", "format");
	check_str(d->source, "/images/nested.qcow2", "source");
	discover_vm_clear(&vm);

	/* a host block device and a network one */
	build(&b, "qemu-system-x86_64", "-blockdev",
	      "{\"driver\":\"host_device\",\"filename\":\"/dev/vg0/lv\",\"node-name\":\"hd\"}", NULL);
	parse_argv(&b, &vm);
	assert_int_equal(vm.n_disks, 1);
	check_str(vm.disks[0].type, "block", "host_device type");
	check_str(vm.disks[0].source, "/dev/vg0/lv", "host_device source");
	discover_vm_clear(&vm);

	/* broken JSON must not crash or invent disks with garbage */
	build(&b, "qemu-system-x86_64", "-blockdev", "{\"driver\":\"file\",\"filename\":", "-blockdev", "json:[1,2",
	      "-blockdev", "{}", NULL);
	parse_argv(&b, &vm);
	for (size_t i = 0; i < vm.n_disks; i++)
		assert_non_null(vm.disks[i].target);
	discover_vm_clear(&vm);

	/* a cycle of backing references ends */
	build(&b, "qemu-system-x86_64", "-blockdev", "driver=qcow2,node-name=a,backing=b,file=fa", "-blockdev",
	      "driver=qcow2,node-name=b,backing=a,file=fb", "-blockdev", "driver=file,node-name=fa,filename=/a",
	      "-blockdev", "driver=file,node-name=fb,filename=/b", NULL);
	parse_argv(&b, &vm);
	for (size_t i = 0; i < vm.n_disks; i++)
		assert_true(vm.disks[i].n_backing <= 64);
	discover_vm_clear(&vm);
}

static void test_state_names(void **state)
{
	(void)state;
	check_str(discover_state_name(DISC_STATE_RUNNING), "running", "running");
	check_str(discover_state_name(DISC_STATE_PAUSED), "paused", "paused");
	check_str(discover_state_name(DISC_STATE_SHUTOFF), "shut off", "shut off");
	assert_non_null(discover_state_name(DISC_STATE_UNKNOWN));
	assert_non_null(discover_state_name(DISC_STATE_OTHER));
}

/* ---- the live view ------------------------------------------------------------- */

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	if (!o)
		fail_msg("bad JSON in the test: %s", text);
	return o;
}

static void test_live_state(void **state)
{
	(void)state;
	assert_int_equal(discover_state_from_qmp("running"), DISC_STATE_RUNNING);
	assert_int_equal(discover_state_from_qmp("paused"), DISC_STATE_PAUSED);
	assert_int_equal(discover_state_from_qmp(NULL), DISC_STATE_UNKNOWN);
	/* the header's own examples of "other" */
	if (discover_state_from_qmp("guest-panicked") != DISC_STATE_OTHER)
		fail_msg("guest-panicked: %s, expected other",
			 discover_state_name(discover_state_from_qmp("guest-panicked")));
	if (discover_state_from_qmp("inmigrate") != DISC_STATE_OTHER)
		fail_msg("inmigrate: %s, expected other (discover.h: e.g. QEMU's \"inmigrate\")",
			 discover_state_name(discover_state_from_qmp("inmigrate")));
}

/* A libvirt VM (status file) after an external snapshot libvirt did not
 * record.  The reply's shape is what QEMU 7.2 answers for libvirt's
 * -blockdev + -device virtio-blk-pci,id=virtio-disk0: "device" is empty and
 * "qdev" is the QOM path of the virtio backend, not the alias. */
/* A monitor that does not answer gives what is known, never a guess. */
static void test_live_probe(void **state)
{
	struct disc_vm proc = { .pid = 4242, .sources = DISC_SRC_PROC, .state = DISC_STATE_UNKNOWN };
	struct disc_vm lv = { .pid = 4243, .sources = DISC_SRC_STATUS | DISC_SRC_PROC, .state = DISC_STATE_PAUSED };
	struct disc_vm cfg = { .sources = DISC_SRC_XML, .state = DISC_STATE_UNKNOWN };
	char *text;

	(void)state;
	assert_int_equal(discover_probe_kind(true, false, 0), DISC_PROBE_BUSY);
	assert_int_equal(discover_probe_kind(false, false, 0), DISC_PROBE_BUSY); /* listen queue full */
	assert_int_equal(discover_probe_kind(false, false, ECONNREFUSED), DISC_PROBE_ABSENT);
	assert_int_equal(discover_probe_kind(false, false, ENOENT), DISC_PROBE_ABSENT);
	assert_int_equal(discover_probe_kind(false, false, EACCES), DISC_PROBE_FAILED);
	assert_int_equal(discover_probe_kind(true, true, 0), DISC_PROBE_FAILED);
	assert_int_equal(discover_probe_kind(true, false, ECONNRESET), DISC_PROBE_FAILED);

	/* a bare QEMU whose monitor is held: unknown, and why */
	discover_apply_probe(&proc, DISC_PROBE_BUSY, NULL);
	assert_int_equal(proc.state, DISC_STATE_UNKNOWN);
	text = discover_state_text(&proc);
	check_str(text, "unknown (monitor busy)", "busy bare QEMU");
	free(text);
	/* libvirt's status file of the live process knows the state */
	discover_apply_probe(&lv, DISC_PROBE_BUSY, NULL);
	assert_int_equal(lv.state, DISC_STATE_PAUSED);
	text = discover_state_text(&lv);
	check_str(text, "paused (monitor busy)", "busy libvirt VM");
	free(text);
	/* libvirtd holds its monitor and there is no other: its status file is the source, nothing failed */
	{
		struct disc_vm held = { .pid = 4244,
					.sources = DISC_SRC_XML | DISC_SRC_STATUS | DISC_SRC_PROC,
					.state = DISC_STATE_RUNNING };

		discover_apply_probe(&held, DISC_PROBE_NONE, NULL);
		text = discover_state_text(&held);
		check_str(text, "running", "libvirt VM, libvirtd's monitor only");
		assert_null(held.reason);
		free(text);
	}
	/* the answer replaces all of that */
	discover_apply_probe(&proc, DISC_PROBE_ANSWERED, "inmigrate");
	assert_int_equal(proc.state, DISC_STATE_OTHER);
	assert_null(proc.reason);
	text = discover_state_text(&proc);
	check_str(text, "inmigrate", "answered");
	free(text);
	discover_apply_probe(&proc, DISC_PROBE_NONE, NULL);
	text = discover_state_text(&proc);
	check_str(text, "unknown (no QMP socket)", "a process with no socket");
	free(text);
	/* a config whose socket nobody listens on is shut off; one we cannot reach is unknown */
	discover_apply_probe(&cfg, DISC_PROBE_ABSENT, NULL);
	assert_int_equal(cfg.state, DISC_STATE_SHUTOFF);
	text = discover_state_text(&cfg);
	check_str(text, "shut off", "nobody listens");
	free(text);
	cfg.state = DISC_STATE_UNKNOWN;
	discover_apply_probe(&cfg, DISC_PROBE_FAILED, NULL);
	text = discover_state_text(&cfg);
	check_str(text, "unknown (no answer from the monitor)", "no answer");
	free(text);
	discover_vm_clear(&proc);
	discover_vm_clear(&lv);
	discover_vm_clear(&cfg);
}

/* A bare QEMU's -blockdev disk (no alias, no device id) after an external
 * snapshot: the same disk, now on the overlay, not a second one. */
static void test_live_bare_blockdev_snapshot(void **state)
{
	char *argv[] = { "qemu-system-x86_64",
			 "-blockdev",
			 "{\"driver\":\"file\",\"filename\":\"/img/top.qcow2\",\"node-name\":\"s1\"}",
			 "-blockdev",
			 "{\"driver\":\"qcow2\",\"file\":\"s1\",\"node-name\":\"f1\"}",
			 NULL };
	struct json_object *blocks = json_tokener_parse(
		"[{\"device\": \"\", \"qdev\": \"/machine/peripheral/vd0/virtio-backend\", \"removable\": false,"
		" \"inserted\": {\"file\": \"/img/snap1.qcow2\", \"node-name\": \"snap1\", \"drv\": \"qcow2\", \"ro\": "
		"false,"
		" \"image\": {\"filename\": \"/img/snap1.qcow2\", \"backing-image\": {\"filename\": \"/img/top.qcow2\","
		" \"format\": \"qcow2\"}}}}]");
	struct disc_vm vm = { 0 };

	(void)state;
	assert_non_null(blocks);
	assert_int_equal(discover_parse_cmdline(argv, 5, &vm, NULL), 0);
	assert_int_equal(vm.n_disks, 1);
	discover_apply_query_block(&vm, blocks);
	assert_int_equal(vm.n_disks, 1);
	check_str(vm.disks[0].source, "/img/snap1.qcow2", "the live file");
	check_str(vm.disks[0].node, "snap1", "the live node");
	assert_int_equal(vm.disks[0].n_backing, 1);
	check_str(vm.disks[0].backing[0].source, "/img/top.qcow2", "the old top under it");
	json_object_put(blocks);
	discover_vm_clear(&vm);
}

static void test_live_after_snapshot(void **state)
{
	struct disc_vm vm;
	const struct disc_disk *d;
	struct json_object *blocks = json(
		"[{\"device\": \"\", \"qdev\": \"/machine/peripheral/virtio-disk0/virtio-backend\", \"locked\": false,"
		"  \"removable\": false, \"type\": \"unknown\","
		"  \"inserted\": {\"file\": \"/var/lib/libvirt/images/alldisks-snap1.qcow2\", \"node-name\": "
		"\"libvirt-5-format\","
		"    \"drv\": \"qcow2\", \"ro\": false, \"backing_file_depth\": 3,"
		"    \"image\": {\"filename\": \"/var/lib/libvirt/images/alldisks-snap1.qcow2\", \"format\": \"qcow2\","
		"      \"backing-image\": {\"filename\": \"/var/lib/libvirt/images/alldisks-top.qcow2\", \"format\": "
		"\"qcow2\","
		"        \"backing-image\": {\"filename\": \"/var/lib/libvirt/images/alldisks-mid.qcow2\", \"format\": "
		"\"qcow2\","
		"          \"backing-image\": {\"filename\": \"/var/lib/libvirt/images/debian-12-base.raw\", "
		"\"format\": \"raw\"}}}}}},"
		" {\"device\": \"\", \"qdev\": \"sata0-0-3\", \"locked\": false, \"removable\": true, \"tray_open\": "
		"false,"
		"  \"type\": \"unknown\"}]");

	(void)state;
	parse_data("run", "alldisks.xml", true, &vm);
	discover_apply_query_block(&vm, blocks);
	d = find_disk(&vm, "sdd");
	check_str(d->source, NULL, "the empty cdrom stays empty");
	for (size_t i = 0; i < vm.n_disks; i++)
		if (vm.disks[i].target && vm.disks[i].target[0] == '/')
			fail_msg("the snapshotted disk was added again as '%s' (source %s) instead of updating vda",
				 vm.disks[i].target, vm.disks[i].source ? vm.disks[i].source : "(NULL)");
	assert_int_equal(vm.n_disks, 11);
	d = find_disk(&vm, "vda");
	check_str(d->source, "/var/lib/libvirt/images/alldisks-snap1.qcow2", "vda source after the snapshot");
	check_str(d->node, "libvirt-5-format", "vda node");
	check_str(d->format, "qcow2", "vda format");
	assert_int_equal(d->n_backing, 3);
	check_backing(d, 0, "file", "qcow2", "/var/lib/libvirt/images/alldisks-top.qcow2");
	check_backing(d, 2, "file", "raw", "/var/lib/libvirt/images/debian-12-base.raw");
	json_object_put(blocks);
	discover_vm_clear(&vm);
}

/* Aliases are matched whole: virtio-disk1 is not virtio-disk10. */
static void test_live_alias_exact(void **state)
{
	static const char xml[] =
		"<domstatus state='running' reason='booted' pid='4242'>\n"
		"  <monitor path='/var/lib/libvirt/qemu/domain-8-many/monitor.sock' type='unix'/>\n"
		"  <domain type='kvm' id='8'><name>many</name><devices>\n"
		"    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
		"<source file='/img/one.qcow2' index='2'/><backingStore/><target dev='vdb' bus='virtio'/>"
		"<alias name='virtio-disk1'/></disk>\n"
		"    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
		"<source file='/img/ten.qcow2' index='1'/><backingStore/><target dev='vdk' bus='virtio'/>"
		"<alias name='virtio-disk10'/></disk>\n"
		"  </devices></domain>\n</domstatus>\n";
	struct json_object *blocks =
		json("[{\"device\": \"\", \"qdev\": \"/machine/peripheral/virtio-disk10/virtio-backend\", "
		     "\"removable\": false,"
		     "  \"inserted\": {\"file\": \"/img/ten-snap.qcow2\", \"node-name\": \"snap10\", \"drv\": "
		     "\"qcow2\", \"ro\": false,"
		     "    \"image\": {\"filename\": \"/img/ten-snap.qcow2\", \"format\": \"qcow2\","
		     "      \"backing-image\": {\"filename\": \"/img/ten.qcow2\", \"format\": \"qcow2\"}}}},"
		     " {\"device\": \"\", \"qdev\": \"/machine/peripheral/virtio-disk1/virtio-backend\", "
		     "\"removable\": false,"
		     "  \"inserted\": {\"file\": \"/img/one-snap.qcow2\", \"node-name\": \"snap1\", \"drv\": "
		     "\"qcow2\", \"ro\": false,"
		     "    \"image\": {\"filename\": \"/img/one-snap.qcow2\", \"format\": \"qcow2\","
		     "      \"backing-image\": {\"filename\": \"/img/one.qcow2\", \"format\": \"qcow2\"}}}}]");
	struct qc_error *err = NULL;
	struct disc_vm vm = { 0 };

	(void)state;
	if (discover_parse_status(xml, strlen(xml), "many.xml", &vm, &err) != 0)
		fail_msg("many.xml refused: %s", err ? err->msg : "?");
	discover_apply_query_block(&vm, blocks);
	assert_int_equal(vm.n_disks, 2);
	check_str(find_disk(&vm, "vdb")->source, "/img/one-snap.qcow2", "vdb (virtio-disk1)");
	check_str(find_disk(&vm, "vdk")->source, "/img/ten-snap.qcow2", "vdk (virtio-disk10)");
	check_str(find_disk(&vm, "vdb")->node, "snap1", "vdb node");
	check_str(find_disk(&vm, "vdk")->node, "snap10", "vdk node");
	json_object_put(blocks);
	discover_vm_clear(&vm);
}

/* A bare QEMU's -drive, matched by its id; a hot-plugged disk is added. */
static void test_live_bare_drive(void **state)
{
	struct argv_builder b;
	struct disc_vm vm;
	const struct disc_disk *d;
	struct json_object *blocks =
		json("[{\"device\": \"drive0\", \"qdev\": \"/machine/peripheral-anon/device[0]/virtio-backend\","
		     "  \"locked\": false, \"removable\": false, \"type\": \"unknown\","
		     "  \"inserted\": {\"file\": \"/tmp/after-snap.qcow2\", \"node-name\": \"#block321\", \"drv\": "
		     "\"qcow2\", \"ro\": false,"
		     "    \"image\": {\"filename\": \"/tmp/after-snap.qcow2\", \"format\": \"qcow2\","
		     "      \"backing-image\": {\"filename\": \"/tmp/disk.qcow2\", \"format\": \"qcow2\"}}}},"
		     " {\"device\": \"hot1\", \"qdev\": \"/machine/peripheral-anon/device[1]/virtio-backend\","
		     "  \"locked\": false, \"removable\": false, \"type\": \"unknown\","
		     "  \"inserted\": {\"file\": \"/tmp/hot.raw\", \"node-name\": \"#block555\", \"drv\": \"raw\", "
		     "\"ro\": true,"
		     "    \"image\": {\"filename\": \"/tmp/hot.raw\", \"format\": \"raw\"}}}]");

	(void)state;
	build(&b, "qemu-system-x86_64", "-name", "bare", "-drive",
	      "file=/tmp/disk.qcow2,format=qcow2,if=virtio,id=drive0", NULL);
	parse_argv(&b, &vm);
	discover_apply_query_block(&vm, blocks);
	assert_int_equal(vm.n_disks, 2);
	d = find_disk(&vm, "drive0");
	check_str(d->source, "/tmp/after-snap.qcow2", "drive0 source");
	check_str(d->node, "#block321", "drive0 node");
	assert_int_equal(d->n_backing, 1);
	check_backing(d, 0, "file", "qcow2", "/tmp/disk.qcow2");
	d = find_disk(&vm, "hot1");
	check_str(d->source, "/tmp/hot.raw", "hot1 source");
	check_str(d->format, "raw", "hot1 format");
	assert_true(d->readonly);
	assert_int_equal(d->n_backing, 0);
	json_object_put(blocks);
	discover_vm_clear(&vm);
}

/* ---- the scan ------------------------------------------------------------------ */

struct scan_env {
	char *tmp, *etc, *run, *proc;
	pid_t alldisks, transient, bare, qmp_new, ns_prefix, minimal, dead;
	char *host; /* /etc/hostname, for the xxe check */
};

static int scan_setup(void **state)
{
	struct scan_env *e = calloc(1, sizeof(*e));
	char *src_etc = path_join(data_dir(), "etc"), *sub, *dst;

	if (!e)
		return -1;
	e->tmp = make_tmpdir();
	e->etc = path_join(e->tmp, "etc");
	e->run = path_join(e->tmp, "run");
	e->proc = path_join(e->tmp, "proc");
	copy_files(src_etc, e->etc);
	/* subdirectories that must be ignored */
	sub = path_join(src_etc, "autostart");
	dst = path_join(e->etc, "autostart");
	copy_files(sub, dst);
	free(sub);
	free(dst);
	sub = path_join(src_etc, "networks");
	dst = path_join(e->etc, "networks");
	copy_files(sub, dst);
	free(sub);
	free(dst);
	free(src_etc);
	mkdir(e->run, 0755);
	mkdir(e->proc, 0755);

	e->alldisks = spawn_sleeper();
	e->transient = spawn_sleeper();
	e->bare = spawn_sleeper();
	e->qmp_new = spawn_sleeper();
	e->ns_prefix = spawn_sleeper();
	e->minimal = spawn_sleeper();
	e->dead = dead_pid();
	e->host = host_name_content();

	write_status(e->run, "alldisks.xml", e->alldisks);
	write_status(e->run, "transient.xml", e->transient);
	write_status(e->run, "qmp-old.xml", e->dead); /* stale: libvirtd did not clean up */
	/* minimal: a stale status file, but the VM runs again (started by hand) */
	{
		char *p = path_join(e->run, "minimal.xml"), *doc = NULL;
		int n = asprintf(&doc,
				 "<domstatus state='running' reason='booted' pid='%d'>\n"
				 "  <monitor path='/var/lib/libvirt/qemu/domain-2-minimal/monitor.sock' type='unix'/>\n"
				 "  <domain type='qemu' id='2'>\n    <name>minimal</name>\n  </domain>\n</domstatus>\n",
				 (int)e->dead);

		assert_true(n > 0);
		spit(p, doc, (size_t)n);
		free(doc);
		free(p);
		write_cmdline(e->proc, e->minimal, "qemu-system-x86_64", "-name", "guest=minimal", "-qmp",
			      "unix:/tmp/qmpctl-minimal.qmp,server=on,wait=off", NULL);
	}
	/* libvirt's own NAME.pid next to the status file is not a status file */
	{
		char *p = path_join(e->run, "alldisks.pid"), num[32];
		int n = snprintf(num, sizeof(num), "%d", (int)e->alldisks);

		spit(p, num, (size_t)n);
		free(p);
	}

	/* the libvirt-started QEMU of alldisks */
	write_cmdline(e->proc, e->alldisks, "/usr/bin/qemu-system-x86_64", "-name", "guest=alldisks,debug-threads=on",
		      "-S", "-uuid", "5b0e7c1a-3f44-4d7e-9a51-0c2f6e8d4b17", "-chardev",
		      "socket,id=charmonitor,fd=25,server=on,wait=off", "-mon",
		      "chardev=charmonitor,id=monitor,mode=control", "-blockdev",
		      "{\"driver\":\"file\",\"filename\":\"/var/lib/libvirt/images/alldisks-top.qcow2\",\"node-name\":"
		      "\"libvirt-1-storage\"}",
		      "-blockdev",
		      "{\"node-name\":\"libvirt-1-format\",\"driver\":\"qcow2\",\"file\":\"libvirt-1-storage\"}", NULL);
	/* a bare QEMU nobody else knows */
	write_cmdline(e->proc, e->bare, "qemu-system-x86_64", "-machine", "q35,accel=kvm:tcg", "-name", "bare-vm",
		      "-qmp", "unix:/tmp/qmpctl-bare.qmp,server=on,wait=off", "-drive",
		      "file=/var/lib/images/bare,,disk.qcow2,format=qcow2,if=virtio", NULL);
	/* a QEMU for a domain file, found by name */
	write_cmdline(e->proc, e->qmp_new, "/usr/bin/qemu-system-x86_64", "-name", "guest=qmp-new,debug-threads=on",
		      "-qmp", "unix:/run/qmpctl/qmp-new.qmp,server=on,wait=off", NULL);
	/* a QEMU for a domain file, found by uuid only */
	write_cmdline(e->proc, e->ns_prefix, "/usr/libexec/qemu-kvm", "-uuid", "11223344-5566-4778-899a-abbccddeeff0",
		      "-m", "512", NULL);
	/* not QEMU, although its arguments look like it */
	write_cmdline(e->proc, e->dead + 100000, "/bin/bash", "-c", "exec qemu-system-x86_64", "-name", "impostor",
		      "-qmp", "unix:/tmp/impostor.qmp,server=on,wait=off", NULL);
	write_cmdline(e->proc, 2, NULL); /* a kernel thread: empty cmdline */
	{
		char *p = path_join(e->proc, "3"); /* a process that vanished: no cmdline */

		mkdir(p, 0755);
		free(p);
		p = path_join(e->proc, "self");
		mkdir(p, 0755);
		free(p);
		p = path_join(e->proc, "sys");
		mkdir(p, 0755);
		free(p);
	}
	*state = e;
	return 0;
}

static int scan_teardown(void **state)
{
	struct scan_env *e = *state;

	stop_sleeper(e->alldisks);
	stop_sleeper(e->transient);
	stop_sleeper(e->bare);
	stop_sleeper(e->qmp_new);
	stop_sleeper(e->ns_prefix);
	stop_sleeper(e->minimal);
	rm_tree(e->tmp);
	free(e->tmp);
	free(e->etc);
	free(e->run);
	free(e->proc);
	free(e->host);
	free(e);
	return 0;
}

static void scan(const struct scan_env *e, bool no_proc, struct disc_list *list)
{
	struct disc_opts o = { .libvirt_dir = e->etc, .run_dir = e->run, .proc_dir = e->proc, .no_proc = no_proc };
	struct qc_error *err = NULL;

	memset(list, 0, sizeof(*list));
	if (discover_scan(&o, list, &err) != 0)
		fail_msg("discover_scan failed: %s", err ? err->msg : "(no error)");
	assert_null(err);
}

static const struct disc_vm *by_name(const struct disc_list *list, const char *name)
{
	const struct disc_vm *found = NULL;

	for (size_t i = 0; i < list->n; i++)
		if (list->vms[i].name && !strcmp(list->vms[i].name, name)) {
			if (found)
				fail_msg("VM '%s' is listed twice", name);
			found = &list->vms[i];
		}
	return found;
}

static const struct disc_vm *must(const struct disc_list *list, const char *name)
{
	const struct disc_vm *vm = by_name(list, name);

	if (!vm) {
		char names[2048] = "";

		for (size_t i = 0; i < list->n; i++) {
			strncat(names, list->vms[i].name ? list->vms[i].name : "(unnamed)",
				sizeof(names) - strlen(names) - 2);
			strncat(names, " ", sizeof(names) - strlen(names) - 1);
		}
		fail_msg("VM '%s' not found; listed: %s", name, names);
	}
	return vm;
}

static size_t warnings_naming(const struct disc_list *list, const char *file)
{
	size_t n = 0;

	for (size_t i = 0; i < list->n_warnings; i++)
		if (strstr(list->warnings[i], file))
			n++;
	return n;
}

static void check_sources(const struct disc_vm *vm, unsigned expected)
{
	if (vm->sources != expected)
		fail_msg("VM '%s': sources 0x%x, expected 0x%x", vm->name, vm->sources, expected);
}

static void test_scan_merged(void **state)
{
	struct scan_env *e = *state;
	struct disc_list list;
	const struct disc_vm *vm;
	const struct disc_disk *d;
	static const char *const config_only[] = { "qmp-chardev", "hmp-only", "ns-wrong", "comments", "odd-paths" };
	static const char *const absent[] = { "in-autostart-dir", "in-networks-dir", "default",	 "backup-copy",
					      "malformed",	  "images",	     "impostor", "not-this-one" };

	scan(e, false, &list);

	/* config + status file + process: one VM */
	vm = must(&list, "alldisks");
	check_sources(vm, DISC_SRC_XML | DISC_SRC_STATUS | DISC_SRC_PROC);
	assert_int_equal(vm->pid, e->alldisks);
	assert_int_equal(vm->state, DISC_STATE_RUNNING);
	check_str(vm->uuid, "5b0e7c1a-3f44-4d7e-9a51-0c2f6e8d4b17", "alldisks uuid");
	check_str(vm->monitor, "/var/lib/libvirt/qemu/domain-1-alldisks/monitor.sock", "alldisks monitor");
	check_str(vm->qmp, NULL, "alldisks qmp");
	assert_int_equal(vm->n_disks, 11);
	/* a running VM's disks: the status file's runtime view */
	d = find_disk(vm, "vda");
	check_str(d->alias, "virtio-disk0", "alldisks vda alias");
	check_str(d->source, "/var/lib/libvirt/images/alldisks-top.qcow2", "alldisks vda source");
	assert_int_equal(d->n_backing, 2);
	check_str(find_disk(vm, "vdc")->source, "nbd://nbd.example.org:10809/export1", "alldisks vdc source");

	/* stale status file: the VM is shut off */
	vm = must(&list, "qmp-old");
	check_sources(vm, DISC_SRC_XML | DISC_SRC_STATUS);
	assert_int_equal(vm->state, DISC_STATE_SHUTOFF);
	assert_int_equal(vm->pid, 0);
	check_str(vm->qmp, "/var/lib/qmpctl/qmp-old.sock", "qmp-old qmp");

	/* a transient VM: status file only */
	vm = must(&list, "transient");
	check_sources(vm, DISC_SRC_STATUS);
	assert_int_equal(vm->state, DISC_STATE_PAUSED);
	assert_int_equal(vm->pid, e->transient);
	check_str(vm->monitor, "/var/lib/libvirt/qemu/domain-3-transient/monitor.sock", "transient monitor");

	/* a bare QEMU */
	vm = must(&list, "bare-vm");
	check_sources(vm, DISC_SRC_PROC);
	assert_int_equal(vm->pid, e->bare);
	check_str(vm->qmp, "/tmp/qmpctl-bare.qmp", "bare-vm qmp");
	check_str(vm->uuid, NULL, "bare-vm uuid");
	assert_true(vm->state != DISC_STATE_SHUTOFF && vm->state != DISC_STATE_PAUSED);
	assert_int_equal(vm->n_disks, 1);
	check_str(vm->disks[0].source, "/var/lib/images/bare,disk.qcow2", "bare-vm disk");
	check_str(vm->disks[0].format, "qcow2", "bare-vm disk format");

	/* config + process by name */
	vm = must(&list, "qmp-new");
	check_sources(vm, DISC_SRC_XML | DISC_SRC_PROC);
	assert_int_equal(vm->pid, e->qmp_new);
	check_str(vm->qmp, "/run/qmpctl/qmp-new.qmp", "qmp-new qmp");
	assert_true(vm->state != DISC_STATE_SHUTOFF);
	/* the config's disks, not an empty command line's */
	assert_int_equal(vm->n_disks, 1);
	check_str(vm->disks[0].source, "/var/lib/libvirt/images/qmp-new.qcow2", "qmp-new disk");

	/* config + process by uuid */
	vm = must(&list, "ns-prefix");
	check_sources(vm, DISC_SRC_XML | DISC_SRC_PROC);
	assert_int_equal(vm->pid, e->ns_prefix);
	check_str(vm->qmp, "/run/qmpctl/ns-prefix.qmp", "ns-prefix qmp");

	/* a stale status file, and the VM running again: the process wins */
	vm = must(&list, "minimal");
	check_sources(vm, DISC_SRC_XML | DISC_SRC_STATUS | DISC_SRC_PROC);
	assert_int_equal(vm->pid, e->minimal);
	if (vm->state == DISC_STATE_SHUTOFF)
		fail_msg("minimal runs (pid %d) but is listed as shut off after its stale status file",
			 (int)e->minimal);
	check_str(vm->qmp, "/tmp/qmpctl-minimal.qmp", "minimal qmp");
	check_str(vm->monitor, NULL, "minimal monitor (from a stale status file)");

	/* configs with no process */
	for (size_t i = 0; i < sizeof(config_only) / sizeof(config_only[0]); i++) {
		vm = must(&list, config_only[i]);
		check_sources(vm, DISC_SRC_XML);
		assert_int_equal(vm->pid, 0);
		if (!vm->qmp && vm->state != DISC_STATE_SHUTOFF)
			fail_msg("VM '%s' (config only, no socket) is '%s', expected shut off", vm->name,
				 discover_state_name(vm->state));
		if (vm->state == DISC_STATE_RUNNING || vm->state == DISC_STATE_PAUSED)
			fail_msg("VM '%s' (config only) is '%s'", vm->name, discover_state_name(vm->state));
	}
	check_str(must(&list, "comments")->qmp, "/run/qmpctl/comments.qmp", "comments qmp");
	check_str(must(&list, "odd-paths")->qmp, "/run/qmpctl/my VMs/odd,paths ü.qmp", "odd-paths qmp");

	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		if (by_name(&list, absent[i]))
			fail_msg("VM '%s' should not be listed", absent[i]);
	for (size_t i = 0; i < list.n; i++) {
		if (!list.vms[i].name || !*list.vms[i].name)
			fail_msg("an unnamed VM is listed (pid %d)", (int)list.vms[i].pid);
		if (strstr(list.vms[i].name, "laughs") || strstr(list.vms[i].name, "lol"))
			fail_msg("billion-laughs.xml became VM '%.40s...'", list.vms[i].name);
		/* xxe.xml's uuid: if listed, its name must not be the host's name */
		if (e->host && list.vms[i].uuid && !strcmp(list.vms[i].uuid, "0e0e0e0e-1111-4222-8333-444455556666") &&
		    strstr(list.vms[i].name, e->host))
			fail_msg("VM '%s' carries /etc/hostname: an external entity was read", list.vms[i].name);
		if (list.vms[i].pid == e->dead)
			fail_msg("VM '%s' has the dead pid %d", list.vms[i].name, (int)e->dead);
	}
	/* 10 good domain files (+ xxe.xml, if its entity stays unexpanded), transient, bare-vm */
	if (list.n != 12 && list.n != 13)
		fail_msg("%zu VMs listed, expected 12 (or 13 with xxe.xml)", list.n);

	/* broken files: one warning each, naming the file */
	static const char *const broken[] = { "malformed.xml", "empty.xml", "billion-laughs.xml", "no-name.xml",
					      "not-a-domain.xml" };
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		if (warnings_naming(&list, broken[i]) != 1)
			fail_msg("%zu warnings name %s, expected 1", warnings_naming(&list, broken[i]), broken[i]);
	if (warnings_naming(&list, "xxe.xml") > 1)
		fail_msg("xxe.xml: more than one warning");
	if (list.n == 12 && warnings_naming(&list, "xxe.xml") != 1)
		fail_msg("xxe.xml is neither listed nor named in a warning");
	if (list.n_warnings != 5 + warnings_naming(&list, "xxe.xml"))
		for (size_t i = 0; i < list.n_warnings; i++)
			print_message("warning: %s\n", list.warnings[i]);
	assert_int_equal(list.n_warnings, 5 + warnings_naming(&list, "xxe.xml"));
	for (size_t i = 0; i < list.n_warnings; i++) {
		if (strstr(list.warnings[i], "autostart") || strstr(list.warnings[i], "networks") ||
		    strstr(list.warnings[i], ".bak") || strstr(list.warnings[i], ".pid"))
			fail_msg("a warning about a file that should be ignored: %s", list.warnings[i]);
		check_contains(list.warnings[i], e->etc, "a warning names the file by its path");
	}
	assert_false(list.libvirtd_running);
	discover_list_free(&list);
	assert_int_equal(list.n, 0);
	assert_null(list.vms);
}

static void test_scan_find(void **state)
{
	struct scan_env *e = *state;
	struct disc_list list;
	char num[32];

	scan(e, false, &list);
	check_str(discover_find(&list, "alldisks") ? discover_find(&list, "alldisks")->name : NULL, "alldisks",
		  "find by name");
	check_str(discover_find(&list, "5b0e7c1a-3f44-4d7e-9a51-0c2f6e8d4b17") ? "found" : NULL, "found",
		  "find by uuid");
	assert_ptr_equal(discover_find(&list, "5b0e7c1a-3f44-4d7e-9a51-0c2f6e8d4b17"),
			 discover_find(&list, "alldisks"));
	snprintf(num, sizeof(num), "%d", (int)e->alldisks);
	assert_ptr_equal(discover_find(&list, num), discover_find(&list, "alldisks"));
	snprintf(num, sizeof(num), "%d", (int)e->bare);
	assert_non_null(discover_find(&list, num));
	check_str(discover_find(&list, num)->name, "bare-vm", "find by pid");
	assert_ptr_equal(discover_find(&list, "transient"),
			 discover_find(&list, "7e7e7e7e-3333-4444-8555-666677778888"));
	assert_null(discover_find(&list, "no-such-vm"));
	assert_null(discover_find(&list, ""));
	/* shut-off VMs have pid 0: "0" finds none of them */
	assert_null(discover_find(&list, "0"));
	snprintf(num, sizeof(num), "%d", (int)e->dead);
	assert_null(discover_find(&list, num));
	/* a name is not a prefix match */
	assert_null(discover_find(&list, "alldisk"));
	assert_null(discover_find(&list, "alldisks "));
	discover_list_free(&list);
}

static void test_scan_no_proc(void **state)
{
	struct scan_env *e = *state;
	struct disc_list list;
	const struct disc_vm *vm;

	scan(e, true, &list);
	assert_null(by_name(&list, "bare-vm"));
	vm = must(&list, "qmp-new");
	check_sources(vm, DISC_SRC_XML);
	assert_int_equal(vm->pid, 0);
	vm = must(&list, "alldisks");
	check_sources(vm, DISC_SRC_XML | DISC_SRC_STATUS);
	assert_int_equal(vm->pid, e->alldisks);
	assert_int_equal(vm->state, DISC_STATE_RUNNING);
	vm = must(&list, "ns-prefix");
	check_sources(vm, DISC_SRC_XML);
	discover_list_free(&list);
}

static void test_scan_libvirtd(void **state)
{
	struct scan_env *e = *state;
	struct disc_list list;
	pid_t pid = spawn_sleeper();
	char *dir, num[32];

	bool seen, listed;

	write_cmdline(e->proc, pid, "/usr/sbin/libvirtd", "--timeout", "120", NULL);
	scan(e, false, &list);
	seen = list.libvirtd_running;
	listed = by_name(&list, "alldisks") != NULL;
	discover_list_free(&list);
	stop_sleeper(pid);
	snprintf(num, sizeof(num), "%d", (int)pid);
	dir = path_join(e->proc, num);
	rm_tree(dir);
	free(dir);
	if (!seen)
		fail_msg("a running libvirtd in the process list was not noticed");
	assert_true(listed);
}

static void test_scan_missing_and_hostile(void **state)
{
	struct scan_env *e = *state;
	char *tmp = make_tmpdir(), *etc = path_join(tmp, "etc"), *run = path_join(tmp, "run");
	char *missing = path_join(tmp, "does-not-exist"), *p;
	struct disc_opts o = { .libvirt_dir = missing, .run_dir = missing, .no_proc = true };
	struct disc_list list = { 0 };
	struct qc_error *err = NULL;
	char *big;
	size_t big_len = DISCOVER_MAX_XML + 4096;

	(void)e;
	/* libvirt not installed: no VMs, no error */
	assert_int_equal(discover_scan(&o, &list, &err), 0);
	assert_null(err);
	assert_int_equal(list.n, 0);
	discover_list_free(&list);

	/* a FIFO, a directory and an oversized file named *.xml */
	mkdir(etc, 0755);
	mkdir(run, 0755);
	p = path_join(etc, "fifo.xml");
	assert_int_equal(mkfifo(p, 0644), 0);
	free(p);
	p = path_join(etc, "directory.xml");
	mkdir(p, 0755);
	free(p);
	p = path_join(etc, "huge.xml");
	big = malloc(big_len);
	assert_non_null(big);
	memset(big, ' ', big_len);
	memcpy(big, "<domain><name>huge</name><!--", 29);
	memcpy(big + big_len - 13, "--></domain>\n", 13);
	spit(p, big, big_len);
	free(big);
	free(p);
	p = path_join(etc, "good.xml");
	spit(p, "<domain type='kvm'><name>good</name></domain>\n", 46);
	free(p);

	o.libvirt_dir = etc;
	o.run_dir = run;
	alarm(20); /* a FIFO opened for reading would block forever */
	assert_int_equal(discover_scan(&o, &list, &err), 0);
	alarm(0);
	assert_null(err);
	must(&list, "good");
	assert_null(by_name(&list, "huge"));
	if (warnings_naming(&list, "huge.xml") != 1)
		fail_msg("the oversized file should be named in one warning (%zu)", warnings_naming(&list, "huge.xml"));
	assert_int_equal(list.n, 1);
	discover_list_free(&list);

	rm_tree(tmp);
	free(tmp);
	free(etc);
	free(run);
	free(missing);
}

/* A domain file in dir: NAME, UUID (or NULL) and the files of its disks. */
static void write_domain(const char *dir, const char *file, const char *name, const char *uuid, ...)
{
	char *p = path_join(dir, file), *doc = NULL, *disks = strdup(""), *t;
	const char *src;
	unsigned n = 0;
	va_list ap;
	int len;

	va_start(ap, uuid);
	while ((src = va_arg(ap, const char *))) {
		if (asprintf(&t,
			     "%s<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
			     "<source file='%s'/><target dev='vd%c' bus='virtio'/></disk>\n",
			     disks, src, 'a' + n++) < 0)
			fail_msg("out of memory");
		free(disks);
		disks = t;
	}
	va_end(ap);
	len = asprintf(&doc, "<domain type='kvm'>\n  <name>%s</name>\n%s%s%s  <devices>\n%s  </devices>\n</domain>\n",
		       name, uuid ? "  <uuid>" : "", uuid ? uuid : "", uuid ? "</uuid>\n" : "", disks);
	assert_true(len > 0);
	spit(p, doc, (size_t)len);
	free(doc);
	free(disks);
	free(p);
}

static const struct disc_vm *by_file(const struct disc_list *list, const char *file)
{
	for (size_t i = 0; i < list->n; i++)
		if (list->vms[i].xml_path && strstr(list->vms[i].xml_path, file))
			return &list->vms[i];
	fail_msg("no VM from %s", file);
	return NULL;
}

static const struct disc_vm *by_pid(const struct disc_list *list, pid_t pid)
{
	for (size_t i = 0; i < list->n; i++)
		if (list->vms[i].pid == pid)
			return &list->vms[i];
	fail_msg("no VM with pid %d", (int)pid);
	return NULL;
}

static size_t warnings_naming_both(const struct disc_list *list, const char *a, const char *b)
{
	size_t n = 0;

	for (size_t i = 0; i < list->n_warnings; i++)
		if (strstr(list->warnings[i], a) && strstr(list->warnings[i], b))
			n++;
	return n;
}

#define UUID_TWIN   "7a1c0de0-0000-4000-8000-00000000000a"
#define FAKE_PID(n) ((pid_t)(1999000 + (n)))

/* Domain files that share a uuid or a name, and processes named like
 * domains they are not: each is listed on its own, never merged into
 * another's disks, and a name or uuid that fits several selects none. */
static void test_scan_conflicts(void **state)
{
	char *tmp = make_tmpdir(), *etc = path_join(tmp, "etc"), *run = path_join(tmp, "run");
	char *proc = path_join(tmp, "proc"), num[32];
	struct disc_opts o = { .libvirt_dir = etc, .run_dir = run, .proc_dir = proc };
	struct disc_list list = { 0 };
	struct qc_error *err = NULL;
	const struct disc_vm *vm;
	pid_t twin_b = spawn_sleeper();

	(void)state;
	mkdir(etc, 0755);
	mkdir(run, 0755);
	mkdir(proc, 0755);
	/* a copied file: same uuid, another name and disk */
	write_domain(etc, "twin-a.xml", "twin-a", UUID_TWIN, "/img/twin-a.qcow2", NULL);
	write_domain(etc, "twin-b.xml", "twin-b", UUID_TWIN, "/img/twin-b.qcow2", NULL);
	write_domain(etc, "twin-c.xml", "twin-c", UUID_TWIN, "/img/twin-c.qcow2", NULL);
	{
		/* twin-b runs under libvirt: its status file and its process */
		char *p = path_join(run, "twin-b.xml"), *doc = NULL;
		int n = asprintf(&doc,
				 "<domstatus state='running' pid='%d'><monitor path='/run/twin-b.mon' type='unix'/>"
				 "<domain type='kvm' id='7'><name>twin-b</name><uuid>%s</uuid><devices>"
				 "<disk type='file' device='disk'><source file='/img/twin-b.qcow2'/><target dev='vda'/>"
				 "<alias name='virtio-disk0'/></disk></devices></domain></domstatus>\n",
				 (int)twin_b, UUID_TWIN);

		assert_true(n > 0);
		spit(p, doc, (size_t)n);
		free(doc);
		free(p);
	}
	write_cmdline(proc, twin_b, "qemu-system-x86_64", "-name", "guest=twin-b,debug-threads=on", "-uuid", UUID_TWIN,
		      "-blockdev", "{\"driver\":\"file\",\"filename\":\"/img/twin-b.qcow2\",\"node-name\":\"s1\"}",
		      NULL);
	/* a shut-off domain with 4 disks and a bare QEMU of its name with 3 others */
	write_domain(etc, "web.xml", "web", "7a1c0de0-0000-4000-8000-0000000000b1", "/img/web-1.qcow2",
		     "/img/web-2.qcow2", "/img/web-3.qcow2", "/img/web-4.qcow2", NULL);
	write_cmdline(proc, FAKE_PID(1), "qemu-system-x86_64", "-name", "web", "-qmp",
		      "unix:/tmp/bare-web.qmp,server=on,wait=off", "-drive", "file=/img/other-1.qcow2,if=virtio",
		      "-drive", "file=/img/other-2.qcow2,if=virtio", "-drive", "file=/img/other-3.qcow2,if=virtio",
		      NULL);
	/* a bare QEMU of a domain: its name, and its disks are the domain's */
	write_domain(etc, "db.xml", "db", "7a1c0de0-0000-4000-8000-0000000000c1", "/img/db-1.qcow2", "/img/db-2.qcow2",
		     NULL);
	write_cmdline(proc, FAKE_PID(2), "qemu-system-x86_64", "-name", "db", "-drive",
		      "file=/img/db-2.qcow2,if=virtio", NULL);
	/* the name of a domain but another -uuid */
	write_domain(etc, "app.xml", "app", "7a1c0de0-0000-4000-8000-0000000000d1", "/img/app.qcow2", NULL);
	write_cmdline(proc, FAKE_PID(3), "qemu-system-x86_64", "-name", "app", "-uuid",
		      "7a1c0de0-0000-4000-8000-0000000000d2", "-drive", "file=/img/app.qcow2,if=virtio", NULL);
	/* no -name, the domain's uuid (in upper case): that domain */
	write_domain(etc, "anon.xml", "anon", "7a1c0de0-0000-4000-8000-0000000000e1", "/img/anon.qcow2", NULL);
	write_cmdline(proc, FAKE_PID(4), "qemu-system-x86_64", "-uuid", "7A1C0DE0-0000-4000-8000-0000000000E1",
		      "-drive", "file=/img/somewhere-else.qcow2", NULL);
	/* the uuid of a domain and another -name: not that domain */
	write_domain(etc, "solo.xml", "solo", "7a1c0de0-0000-4000-8000-0000000000a7", "/img/solo.qcow2", NULL);
	write_cmdline(proc, FAKE_PID(5), "qemu-system-x86_64", "-name", "impostor", "-uuid",
		      "7a1c0de0-0000-4000-8000-0000000000a7", NULL);
	/* two files, one <name> */
	write_domain(etc, "dup1.xml", "dup", "7a1c0de0-0000-4000-8000-0000000000f1", "/img/dup1.qcow2", NULL);
	write_domain(etc, "dup2.xml", "dup", "7a1c0de0-0000-4000-8000-0000000000f2", "/img/dup2.qcow2", NULL);

	assert_int_equal(discover_scan(&o, &list, &err), 0);
	assert_null(err);
	for (size_t i = 0; i < list.n_warnings; i++)
		print_message("warning: %s\n", list.warnings[i]);

	/* twins: two domains, each with its own disk; twin-b with its status file and process */
	vm = by_file(&list, "twin-a.xml");
	check_str(vm->name, "twin-a", "twin-a name");
	check_sources(vm, DISC_SRC_XML);
	assert_int_equal(vm->pid, 0);
	assert_int_equal(vm->n_disks, 1);
	check_str(vm->disks[0].source, "/img/twin-a.qcow2", "twin-a's disk");
	vm = by_pid(&list, twin_b);
	check_str(vm->name, "twin-b", "twin-b name");
	check_sources(vm, DISC_SRC_XML | DISC_SRC_STATUS | DISC_SRC_PROC);
	assert_int_equal(vm->n_disks, 1);
	check_str(vm->disks[0].source, "/img/twin-b.qcow2", "twin-b's disk");
	check_str(vm->monitor, "/run/twin-b.mon", "twin-b monitor");
	if (warnings_naming_both(&list, "/twin-a.xml, ", "/twin-b.xml and ") != 1 ||
	    warnings_naming_both(&list, "/twin-b.xml and ", "/twin-c.xml carry the same uuid") != 1)
		fail_msg("one warning should name the three files sharing uuid %s", UUID_TWIN);
	check_str(by_file(&list, "twin-c.xml")->disks[0].source, "/img/twin-c.qcow2", "twin-c's disk");
	check_str(discover_find(&list, "twin-a") ? discover_find(&list, "twin-a")->xml_path : NULL,
		  by_file(&list, "twin-a.xml")->xml_path, "twin-a by name");
	assert_ptr_equal(discover_find(&list, "twin-b"), by_pid(&list, twin_b));
	/* the shared uuid selects neither, and says what does */
	assert_null(discover_select(&list, UUID_TWIN, &err));
	assert_non_null(err);
	check_contains(err->msg, "twin-a.xml", "ambiguous uuid names the first file");
	check_contains(err->msg, "twin-b.xml", "ambiguous uuid names the second file");
	check_contains(err->msg, "'" UUID_TWIN "' names 3 VMs", "ambiguous uuid counts the three");
	check_contains(err->msg, "select it by name", "the name selects twin-a");
	qc_error_free(err);
	err = NULL;

	/* web: the shut-off domain keeps its 4 disks; the bare QEMU is listed apart with its 3 */
	vm = by_file(&list, "web.xml");
	check_sources(vm, DISC_SRC_XML);
	assert_int_equal(vm->n_disks, 4);
	assert_int_equal(vm->pid, 0);
	assert_int_equal(vm->state, DISC_STATE_SHUTOFF);
	check_str(vm->not_domain, NULL, "the domain is the domain");
	vm = by_pid(&list, FAKE_PID(1));
	check_sources(vm, DISC_SRC_PROC);
	check_str(vm->name, "web", "bare web name");
	assert_int_equal(vm->n_disks, 3);
	check_str(vm->qmp, "/tmp/bare-web.qmp", "bare web qmp");
	check_contains(vm->not_domain, "/web.xml", "the bare web is marked as not the domain");
	snprintf(num, sizeof(num), "process %d", (int)FAKE_PID(1));
	if (warnings_naming_both(&list, num, "/web.xml") != 1)
		fail_msg("one warning should name %s and web.xml", num);
	assert_null(discover_select(&list, "web", &err));
	assert_non_null(err);
	check_contains(err->msg, "'web' names 2 VMs", "ambiguous name");
	check_contains(err->msg, "/web.xml: select it by uuid 7a1c0de0-0000-4000-8000-0000000000b1", "the domain");
	snprintf(num, sizeof(num), "select it by pid %d", (int)FAKE_PID(1));
	check_contains(err->msg, num, "the process");
	qc_error_free(err);
	err = NULL;
	snprintf(num, sizeof(num), "%d", (int)FAKE_PID(1));
	assert_ptr_equal(discover_select(&list, num, &err), by_pid(&list, FAKE_PID(1)));
	assert_ptr_equal(discover_select(&list, "7a1c0de0-0000-4000-8000-0000000000b1", &err),
			 by_file(&list, "web.xml"));
	assert_null(err);

	/* db: one VM, the domain's two disks */
	vm = by_file(&list, "db.xml");
	check_sources(vm, DISC_SRC_XML | DISC_SRC_PROC);
	assert_int_equal(vm->pid, FAKE_PID(2));
	assert_int_equal(vm->n_disks, 2);
	check_str(vm->not_domain, NULL, "db");

	/* app: another uuid, another VM */
	vm = by_file(&list, "app.xml");
	check_sources(vm, DISC_SRC_XML);
	vm = by_pid(&list, FAKE_PID(3));
	check_sources(vm, DISC_SRC_PROC);
	check_contains(vm->not_domain, "/app.xml", "app process");
	snprintf(num, sizeof(num), "process %d", (int)FAKE_PID(3));
	if (warnings_naming_both(&list, num, "uuid differs") != 1)
		fail_msg("one warning should say process %d's uuid differs", (int)FAKE_PID(3));

	/* anon: by uuid alone, whatever its disks */
	vm = by_file(&list, "anon.xml");
	check_sources(vm, DISC_SRC_XML | DISC_SRC_PROC);
	assert_int_equal(vm->pid, FAKE_PID(4));
	check_str(vm->name, "anon", "anon name");

	/* dup: two files, one name: both listed, the name selects neither */
	check_str(by_file(&list, "dup1.xml")->disks[0].source, "/img/dup1.qcow2", "dup1's disk");
	check_str(by_file(&list, "dup2.xml")->disks[0].source, "/img/dup2.qcow2", "dup2's disk");
	if (warnings_naming_both(&list, "/dup1.xml", "/dup2.xml") != 1)
		fail_msg("one warning should name dup1.xml and dup2.xml");
	assert_null(discover_select(&list, "dup", &err));
	assert_non_null(err);
	check_contains(err->msg, "dup1.xml: select it by uuid 7a1c0de0-0000-4000-8000-0000000000f1", "dup1");
	check_contains(err->msg, "dup2.xml: select it by uuid 7a1c0de0-0000-4000-8000-0000000000f2", "dup2");
	qc_error_free(err);
	err = NULL;
	assert_null(discover_find(&list, "dup"));

	/* solo: its uuid under another name is another VM */
	check_sources(by_file(&list, "solo.xml"), DISC_SRC_XML);
	vm = by_pid(&list, FAKE_PID(5));
	check_str(vm->name, "impostor", "impostor name");
	check_contains(vm->not_domain, "/solo.xml", "impostor process");
	snprintf(num, sizeof(num), "process %d has the uuid", (int)FAKE_PID(5));
	if (warnings_naming_both(&list, num, "/solo.xml") != 1)
		fail_msg("one warning should say process %d has solo's uuid", (int)FAKE_PID(5));

	/* twin-a, -b, -c, web x2, db, app x2, anon, solo x2, dup x2 */
	assert_int_equal(list.n, 13);
	/* uuid of the three twins, web's process, app's process, solo's process, dup's name */
	assert_int_equal(list.n_warnings, 5);
	discover_list_free(&list);
	stop_sleeper(twin_b);
	rm_tree(tmp);
	free(tmp);
	free(etc);
	free(run);
	free(proc);
}

static void test_scan_unreadable_dir(void **state)
{
	struct scan_env *e = *state;
	struct disc_list list = { 0 };
	struct qc_error *err = NULL;
	bool root = geteuid() == 0;
	int rc;

	for (int which = 0; which < 2; which++) {
		const char *dir = which ? e->run : e->etc;
		struct disc_opts o = { .libvirt_dir = e->etc, .run_dir = e->run, .no_proc = true };

		assert_int_equal(chmod(dir, 0), 0);
		rc = discover_scan(&o, &list, &err);
		chmod(dir, 0755);
		if (!root) {
			if (rc != -1)
				fail_msg("an unreadable %s was not an error", dir);
			assert_non_null(err);
			check_contains(err->msg, dir, "the error names the directory");
			qc_error_free(err);
			err = NULL;
		} else {
			/* root reads through mode 000: the scan must then just work */
			if (rc != 0)
				fail_msg("as root, mode 000 on %s should not matter: %s", dir, err ? err->msg : "?");
			assert_null(err);
			must(&list, "alldisks");
			must(&list, "transient");
		}
		discover_list_free(&list);
	}
}

int main(void)
{
	const struct CMUnitTest parsers[] = {
		cmocka_unit_test(test_domain_all_disk_kinds),
		cmocka_unit_test(test_domain_nvme_addresses),
		cmocka_unit_test(test_domain_empty_commandline),
		cmocka_unit_test(test_domain_qmp_sockets),
		cmocka_unit_test(test_domain_comments_and_targets),
		cmocka_unit_test(test_domain_odd_paths),
		cmocka_unit_test(test_domain_broken_files),
		cmocka_unit_test(test_domain_external_entity_file),
		cmocka_unit_test(test_domain_billion_laughs),
		cmocka_unit_test(test_domain_never_fetches),
		cmocka_unit_test(test_domain_utf16),
		cmocka_unit_test(test_domain_utf16_quadratic),
		cmocka_unit_test(test_domain_other_encodings),
		cmocka_unit_test(test_domain_size_cap),
		cmocka_unit_test(test_status_running),
		cmocka_unit_test(test_status_paused_and_qmp),
		cmocka_unit_test(test_status_bad_pids),
		cmocka_unit_test(test_qemu_opt),
		cmocka_unit_test(test_cmdline_libvirt),
		cmocka_unit_test(test_cmdline_sockets),
		cmocka_unit_test(test_cmdline_names),
		cmocka_unit_test(test_cmdline_drives),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_live_state),
		cmocka_unit_test(test_live_probe),
		cmocka_unit_test(test_live_after_snapshot),
		cmocka_unit_test(test_live_bare_blockdev_snapshot),
		cmocka_unit_test(test_live_alias_exact),
		cmocka_unit_test(test_live_bare_drive),
	};
	const struct CMUnitTest scans[] = {
		cmocka_unit_test(test_scan_merged),
		cmocka_unit_test(test_scan_find),
		cmocka_unit_test(test_scan_no_proc),
		cmocka_unit_test(test_scan_libvirtd),
		cmocka_unit_test(test_scan_missing_and_hostile),
		cmocka_unit_test(test_scan_conflicts),
		cmocka_unit_test(test_scan_unreadable_dir),
	};
	int failed = cmocka_run_group_tests_name("discover parsers", parsers, NULL, NULL);

	failed += cmocka_run_group_tests_name("discover scan", scans, scan_setup, scan_teardown);
	return failed;
}
