/*
 * qmpctl domblkinfo: a disk's sizes as 'virsh domblkinfo' prints them.
 * Capacity and Allocation are QEMU's image info of the disk's top node
 * (virtual-size, actual-size); Physical is the size of the file itself,
 * read on this host.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "discover.h"
#include "qmp_sync.h"
#include "qmpctl.h"

static const char usage[] = "Usage: qmpctl domblkinfo [OPTIONS] VM TARGET\n"
			    "\n"
			    "Print a disk's sizes like 'virsh domblkinfo': Capacity (the guest's size),\n"
			    "Allocation (bytes the image uses on the host) and Physical (the size of the\n"
			    "image file or device), from query-block.  TARGET is a disk as 'qmpctl disks'\n"
			    "shows it (vda, drive0 ...).\n"
			    "\n"
			    "      --human         sizes in B, KiB, MiB, GiB ... with three decimals\n"
			    "      --json          an object: target, capacity, allocation, physical (bytes)\n"
			    "  -s, --socket PATH   QMP socket (then VM is left out)\n"
			    "  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
			    "  -v, --verbose       print every QMP message on stderr\n"
			    "  -h, --help          show this help\n";

struct blkinfo_opts {
	bool human;
};

static struct blkinfo_opts opts;

enum { OPT_HUMAN = 0x100 };

static const struct option longopts[] = {
	{ "human", no_argument, NULL, OPT_HUMAN },
	{ NULL, 0, NULL, 0 },
};

static int opt_blkinfo(void *o, int opt, const char *arg)
{
	struct blkinfo_opts *d = o;

	(void)arg;
	if (opt != OPT_HUMAN)
		return 1;
	d->human = true;
	return 0;
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

/* The file's length; a block device's from its end.  -1 when it cannot be
 * read here (a network disk, another host's path). */
static int64_t physical_size(const char *path)
{
	struct stat st;
	int64_t size = -1;
	int fd;

	if (!path || stat(path, &st) < 0)
		return -1;
	if (!S_ISBLK(st.st_mode))
		return st.st_size;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		off_t end = lseek(fd, 0, SEEK_END);

		size = end < 0 ? -1 : (int64_t)end;
		close(fd);
	}
	return size;
}

static void line(const char *label, int64_t v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v;
	size_t u = 0;

	if (v < 0) {
		printf("%-15s -\n", label);
		return;
	}
	if (!opts.human) {
		printf("%-15s %" PRId64 "\n", label, v);
		return;
	}
	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	printf("%-15s %-.3lf %s\n", label, d, units[u]);
}

static struct json_object *size_json(int64_t v)
{
	return v >= 0 ? json_object_new_int64(v) : NULL;
}

static int exec_domblkinfo(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL;
	struct disc_vm holder = { 0 }, *vm;
	struct json_object *blocks, *image = NULL;
	const struct disc_disk *d;
	int64_t cap, alloc, phys;
	int rc = 0;

	blocks = cli_live_disks(ctx, run, &holder, &vm, &err);
	if (!blocks || !(d = cli_find_disk(vm, run->argv[0], &err))) {
		rc = cli_fail(err);
		goto out;
	}
	for (size_t i = 0; d->node && i < json_object_array_length(blocks); i++) {
		struct json_object *ins = json_object_object_get(json_object_array_get_idx(blocks, i), "inserted");
		struct json_object *node;

		if (ins && json_object_object_get_ex(ins, "node-name", &node) &&
		    !strcmp(json_object_get_string(node), d->node))
			image = json_object_object_get(ins, "image");
	}
	if (!image) {
		qc_error_set(&err, "QEMU has no image of disk '%s' (no medium?)", d->target);
		rc = cli_fail(err);
		goto out;
	}
	cap = jint(image, "virtual-size");
	alloc = jint(image, "actual-size");
	phys = physical_size(d->source);
	if (ctx->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "target", json_object_new_string(d->target));
		json_object_object_add(o, "capacity", size_json(cap));
		json_object_object_add(o, "allocation", size_json(alloc));
		json_object_object_add(o, "physical", size_json(phys));
		cli_print_json(ctx, o);
		json_object_put(o);
	} else {
		line("Capacity:", cap);
		line("Allocation:", alloc);
		line("Physical:", phys);
	}
out:
	json_object_put(blocks);
	discover_vm_clear(&holder);
	return rc;
}

const struct qc_cmd qc_cmd_domblkinfo = {
	.name = "domblkinfo",
	.summary = "print a disk's capacity, allocation and physical size",
	.usage = usage,
	.longopts = longopts,
	.opt = opt_blkinfo,
	.opts = &opts,
	.min_args = 1,
	.max_args = 1,
	.args_name = "TARGET",
	.vm = QC_VM_LIVE,
	.exec = exec_domblkinfo,
};
