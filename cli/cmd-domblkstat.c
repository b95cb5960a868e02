/*
 * qmpctl domblkstat: a disk's I/O counters from query-blockstats, with
 * virsh's field names and layout ("vda rd_req 12").
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "discover.h"
#include "qmp_sync.h"
#include "qmpctl.h"

static const char usage[] = "Usage: qmpctl domblkstat [OPTIONS] VM [TARGET]\n"
			    "\n"
			    "Print a disk's I/O counters like 'virsh domblkstat' (QMP's query-blockstats):\n"
			    "rd_req rd_bytes wr_req wr_bytes flush_operations rd_total_times\n"
			    "wr_total_times flush_total_times (times in ns).  TARGET is a disk as\n"
			    "'qmpctl disks' shows it (vda, drive0 ...); without it, every disk.\n"
			    "\n"
			    "      --human         fields padded for reading\n"
			    "      --json          an object (an array of them without TARGET): target and\n"
			    "                      the fields\n"
			    "  -s, --socket PATH   QMP socket (then VM is left out)\n"
			    "  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
			    "  -v, --verbose       print every QMP message on stderr\n"
			    "  -h, --help          show this help\n";

struct blkstat_opts {
	bool human;
};

static struct blkstat_opts opts;

enum { OPT_HUMAN = 0x100 };

static const struct option longopts[] = {
	{ "human", no_argument, NULL, OPT_HUMAN },
	{ NULL, 0, NULL, 0 },
};

static int opt_blkstat(void *o, int opt, const char *arg)
{
	struct blkstat_opts *d = o;

	(void)arg;
	if (opt != OPT_HUMAN)
		return 1;
	d->human = true;
	return 0;
}

/* virsh's name -> query-blockstats' member. */
static const struct {
	const char *field, *member;
} fields[] = {
	{ "rd_req", "rd_operations" },
	{ "rd_bytes", "rd_bytes" },
	{ "wr_req", "wr_operations" },
	{ "wr_bytes", "wr_bytes" },
	{ "flush_operations", "flush_operations" },
	{ "rd_total_times", "rd_total_time_ns" },
	{ "wr_total_times", "wr_total_time_ns" },
	{ "flush_total_times", "flush_total_time_ns" },
};

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* The stats entry of disk: by its top node, else by its target as the
 * drive or device id. */
static struct json_object *find_stats(struct json_object *all, const struct disc_disk *d)
{
	size_t n = json_object_array_length(all);

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(all, i);
		const char *node = jstr(e, "node-name"), *dev = jstr(e, "device"), *qdev = jstr(e, "qdev");

		if ((d->node && node && !strcmp(d->node, node)) || (dev && !strcmp(dev, d->target)) ||
		    (qdev && !strcmp(qdev, d->target)))
			return e;
	}
	return NULL;
}

static void print_disk(struct qc_ctx *ctx, struct json_object *arr, const struct disc_disk *d, struct json_object *e)
{
	struct json_object *stats = json_object_object_get(e, "stats"), *o = NULL, *v;

	if (ctx->json) {
		o = json_object_new_object();
		json_object_object_add(o, "target", json_object_new_string(d->target));
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!json_object_object_get_ex(stats, fields[i].member, &v))
			continue;
		if (o)
			json_object_object_add(o, fields[i].field, json_object_new_int64(json_object_get_int64(v)));
		else
			printf("%s %-*s %" PRId64 "\n", d->target, opts.human ? 31 : 0, fields[i].field,
			       json_object_get_int64(v));
	}
	if (o)
		json_object_array_add(arr, o);
}

static int exec_domblkstat(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL;
	struct disc_vm holder = { 0 }, *vm;
	struct json_object *blocks, *all, *arr = json_object_new_array();
	const struct disc_disk *one = NULL;
	int rc = 0;

	blocks = cli_live_disks(ctx, run, &holder, &vm, &err);
	all = blocks ? qmp_sync_execute(ctx->base, run->s, "query-blockstats", NULL, &err) : NULL;
	if (all && run->argc && !(one = cli_find_disk(vm, run->argv[0], &err))) {
		json_object_put(all);
		all = NULL;
	}
	if (!all) {
		rc = cli_fail(err);
		goto out;
	}
	for (size_t i = 0; i < vm->n_disks; i++) {
		const struct disc_disk *d = &vm->disks[i];
		struct json_object *e;

		if (one && d != one)
			continue;
		e = find_stats(all, d);
		if (e)
			print_disk(ctx, arr, d, e);
		else if (one) {
			qc_error_set(&err, "QEMU has no statistics of disk '%s'", d->target);
			rc = cli_fail(err);
		}
	}
	/* One disk asked for is an object, every disk an array. */
	if (ctx->json && rc == 0)
		cli_print_json(ctx, one && json_object_array_length(arr) ? json_object_array_get_idx(arr, 0) : arr);
	json_object_put(all);
out:
	json_object_put(arr);
	json_object_put(blocks);
	discover_vm_clear(&holder);
	return rc;
}

const struct qc_cmd qc_cmd_domblkstat = {
	.name = "domblkstat",
	.summary = "print a disk's I/O counters as virsh does",
	.usage = usage,
	.longopts = longopts,
	.opt = opt_blkstat,
	.opts = &opts,
	.max_args = 1,
	.vm = QC_VM_LIVE,
	.exec = exec_domblkstat,
};
