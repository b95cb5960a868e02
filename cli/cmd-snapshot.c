/*
 * qmpctl snapshot create | list | info | revert | delete: what
 * `virsh snapshot-*` does, over QMP, reading the images for the truth.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "discover.h"
#include "img_info.h"
#include "qc_buf.h"
#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"
#include "snap.h"

static const char usage[] =
	"Usage: qmpctl snapshot create VM [NAME] [--disk-only] [--vmstate-disk TARGET]\n"
	"                                 [--disks TARGET,...] [--force]\n"
	"       qmpctl snapshot list VM [--disks TARGET,...] [-U]\n"
	"       qmpctl snapshot info VM NAME [--disks TARGET,...] [-U]\n"
	"       qmpctl snapshot revert VM NAME [--paused] [--disk-only] [--force]\n"
	"       qmpctl snapshot delete VM NAME\n"
	"\n"
	"Internal snapshots of a VM, running or shut off, like virsh snapshot-*.\n"
	"A running VM is asked over QMP (snapshot-save/-load/-delete jobs; the VM state is\n"
	"saved on one disk); a shut-off VM's images are changed in a private\n"
	"qemu-storage-daemon and read natively.  Snapshots are listed from the images.\n"
	"Without NAME, create names the snapshot by the time (seconds since 1970), as virsh.\n"
	"A shut-off VM has no RAM to save: its snapshots are of the disks (state shutoff).\n"
	"State is read from the images: running or paused (from the saved VM state),\n"
	"shutoff, disk-snapshot (disks only, of a live VM), or unknown.\n"
	"\n"
	"  --disk-only            create (running VM): disks only, atomically across disks,\n"
	"                         no VM state; revert (shut off): restore the disks of a\n"
	"                         snapshot that has VM state\n"
	"  --vmstate-disk TARGET  create: the disk that holds the VM state\n"
	"                         (default: the first writable qcow2 disk)\n"
	"  --disks TARGET,...     create, list, info: only these disks (the others are not\n"
	"                         opened)\n"
	"  --force                create: replace a snapshot of the same name.  Not atomic:\n"
	"                         QEMU cannot rename a snapshot, so the old one is deleted\n"
	"                         first, and if the new save then fails, neither is left;\n"
	"                         revert: although some qcow2 disk lacks the snapshot\n"
	"  --paused               revert (running VM): leave the VM paused afterwards\n"
	"  -U, --force-share      list, info (shut-off VM): read images that another\n"
	"                         process has open for writing, as qemu-img -U\n"
	"      --json             machine-readable output (list, info)\n"
	"  -s, --socket PATH      QMP socket (then VM is left out)\n"
	"  -t, --timeout SEC      how long to wait for each QMP reply (default 30)\n"
	"  -v, --verbose          print every QMP message on stderr\n"
	"  -h, --help             show this help\n"
	"\n"
	"-t bounds each QMP reply, not a job: a longer save runs to its end.\n"
	"Ctrl-C (SIGINT, SIGTERM, SIGHUP) during create never leaves the snapshot: QEMU\n"
	"finishes a save before it sees the cancel, so the snapshot just made is deleted\n"
	"again (\"interrupted: snapshot NAME removed\", then qmpctl dies of the signal:\n"
	"130 for Ctrl-C); the VM keeps running.\n";

struct snap_opts {
	bool disk_only, force, paused, force_share;
	const char *vmstate_disk;
	char **only;
	size_t n_only;
};

static int own_opt(void *opaque, int opt, const char *arg)
{
	struct snap_opts *o = opaque;

	switch (opt) {
	case 'D':
		o->disk_only = true;
		return 0;
	case 'f':
		o->force = true;
		return 0;
	case 'P':
		o->paused = true;
		return 0;
	case 'U':
		o->force_share = true;
		return 0;
	case 'm':
		o->vmstate_disk = arg;
		return 0;
	case 'd': {
		char *copy = qc_strdup(arg), *save = NULL;

		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			o->only = qc_realloc(o->only, (o->n_only + 1) * sizeof(*o->only));
			o->only[o->n_only++] = qc_strdup(t);
		}
		free(copy);
		if (!o->n_only) {
			cli_error("--disks needs at least one disk target");
			return -1;
		}
		return 0;
	}
	}
	return 1;
}

/* ---- output ------------------------------------------------------------------ */

/* The tables' date, as virsh shows it (JSON has cli_rfc3339). */
static void fmt_date(char *buf, size_t len, int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;

	if (!localtime_r(&t, &tm)) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, "%Y-%m-%d %H:%M:%S %z", &tm);
}

static void fmt_clock(char *buf, size_t len, uint64_t nsec)
{
	uint64_t secs = nsec / 1000000000u;

	snprintf(buf, len, "%02u:%02u:%02u.%03u", (unsigned)(secs / 3600), (unsigned)((secs / 60) % 60),
		 (unsigned)(secs % 60), (unsigned)(nsec / 1000000 % 1000));
}

static char *disks_of(const struct snap_entry *e)
{
	struct qc_buf b = { 0 };

	for (size_t k = 0; k < e->n_on; k++)
		qc_buf_printf(&b, "%s%s", k ? "," : "", e->on[k].target);
	if (e->missing)
		qc_buf_printf(&b, " (missing on %s)", e->missing);
	return qc_buf_steal(&b);
}

static struct json_object *entry_json(const struct snap_entry *e)
{
	struct json_object *o = json_object_new_object(), *d = json_object_new_array();
	char date[CLI_TIME_LEN], clock[32];

	cli_rfc3339(date, e->date_sec, -1, false);
	fmt_clock(clock, sizeof(clock), e->vm_clock_nsec);
	json_object_object_add(o, "name", json_object_new_string(e->name));
	json_object_object_add(o, "date", json_object_new_string(date));
	json_object_object_add(o, "state", json_object_new_string(snap_state_name(e->state)));
	json_object_object_add(o, "vm-state-size", json_object_new_int64((int64_t)e->vm_state_size));
	json_object_object_add(o, "vm-clock", json_object_new_string(clock));
	for (size_t k = 0; k < e->n_on; k++)
		json_object_array_add(d, json_object_new_string(e->on[k].target));
	json_object_object_add(o, "disks", d);
	json_object_object_add(o, "vmstate-disk", cli_json_str(e->vmstate_disk));
	json_object_object_add(o, "consistent", json_object_new_boolean(e->consistent));
	return o;
}

static int print_list(struct qc_ctx *ctx, struct snap_disk *disks, size_t n)
{
	static const char *const heads[] = { "Name", "Creation Time", "State", "VM Size", "Disks" };
	struct snap_list list;
	struct cli_table t;
	struct json_object *arr = json_object_new_array();

	snap_list_build(disks, n, &list);
	snap_list_read_states(&list, NULL, disks, n);
	cli_table_init(&t, 5, heads);
	for (size_t i = 0; i < list.n; i++) {
		const struct snap_entry *e = &list.entries[i];
		char date[64], size[32];
		char *where = disks_of(e);

		fmt_date(date, sizeof(date), e->date_sec);
		img_size_str(size, sizeof(size), e->vm_state_size);
		const char *cells[] = { e->name, date, snap_state_name(e->state), size, where };

		cli_table_add(&t, cells);
		json_object_array_add(arr, entry_json(e));
		free(where);
	}
	if (ctx->json)
		cli_print_json(ctx, arr);
	else
		cli_table_print(&t);
	json_object_put(arr);
	cli_table_free(&t);
	snap_list_free(&list);
	return 0;
}

static int print_info(struct qc_ctx *ctx, const char *vmname, struct snap_disk *disks, size_t n, const char *name)
{
	struct snap_list list;
	const struct snap_entry *e;
	int rc = 0;

	snap_list_build(disks, n, &list);
	snap_list_read_states(&list, name, disks, n);
	e = snap_list_find(&list, name);
	if (!e) {
		cli_error("no snapshot named '%s'", name);
		snap_list_free(&list);
		return 1;
	}
	if (ctx->json) {
		struct json_object *o = entry_json(e), *per = json_object_new_array();

		for (size_t k = 0; k < e->n_on; k++) {
			struct json_object *d = json_object_new_object();

			json_object_object_add(d, "target", json_object_new_string(e->on[k].target));
			json_object_object_add(d, "snapshot", json_object_get(e->on[k].info));
			json_object_array_add(per, d);
		}
		json_object_object_add(o, "per-disk", per);
		cli_print_json(ctx, o);
		json_object_put(o);
	} else {
		char date[64], size[32], *where = disks_of(e);

		fmt_date(date, sizeof(date), e->date_sec);
		img_size_str(size, sizeof(size), e->vm_state_size);
		printf("%-15s %s\n", "Name:", e->name);
		printf("%-15s %s\n", "Domain:", vmname);
		printf("%-15s %s\n", "State:", snap_state_name(e->state));
		printf("%-15s %s\n", "Location:", "internal");
		printf("%-15s %s\n", "Creation Time:", date);
		printf("%-15s %s\n", "VM State Size:", size);
		printf("%-15s %s\n", "VM State Disk:", e->vmstate_disk ? e->vmstate_disk : "-");
		printf("%-15s %s\n", "Disks:", where);
		printf("%-15s %s\n", "Consistent:", e->consistent ? "yes" : "no");
		for (size_t k = 0; k < e->n_on; k++) {
			struct qc_buf b = { 0 };
			struct json_object *one = json_object_new_array();
			const char *file = "";

			for (size_t i = 0; i < n; i++)
				if (disks[i].target == e->on[k].target)
					file = disks[i].file;
			json_object_array_add(one, json_object_get(e->on[k].info));
			img_info_snapshot_table(&b, one);
			printf("\nDisk %s (%s):\n%s", e->on[k].target, file, qc_buf_str(&b));
			qc_buf_free(&b);
			json_object_put(one);
		}
		free(where);
	}
	snap_list_free(&list);
	return rc;
}

/* ---- running a subcommand --------------------------------------------------------- */

static void show_progress(void *opaque, uint64_t current, uint64_t total)
{
	(void)opaque;
	if (total)
		fprintf(stderr, "\r    (%.2f/100%%)", 100.0 * (double)current / (double)total);
}

enum sub { SUB_CREATE, SUB_LIST, SUB_INFO, SUB_REVERT, SUB_DELETE };

static struct snap_opts o;

/* Live or shut off, and the disks as the VM or its images see them.  A
 * signal (caught by main from here on) cancels what runs instead of killing
 * us halfway (a qemu-storage-daemon left holding the image locks). */
static int snap_begin(struct qc_ctx *ctx, const struct qc_run *run, enum sub sub, struct snap_ctx *sctx,
		      struct snap_disk **disks, size_t *n)
{
	struct snap_select sel = {
		.only = o.only,
		.n_only = o.n_only,
		.force_share = o.force_share,
		.for_write = sub == SUB_CREATE || sub == SUB_REVERT || sub == SUB_DELETE,
	};
	struct qc_error *err = NULL;

	sctx->base = ctx->base;
	sctx->timeout_ms = cli_timeout(ctx);
	sctx->cancel = &ctx->cancel;
	if (isatty(STDERR_FILENO))
		sctx->progress = show_progress;
	if (vm_open(run->vm, ctx->base, &err) < 0)
		return cli_fail(err);
	sctx->s = run->vm->s;
	if (sctx->s) {
		/* create keeps every disk: a name on an unselected one still
		 * counts as taken. */
		if (snap_disks_live(sctx, run->vm->disc, disks, n, &err) < 0 ||
		    (sub != SUB_CREATE && snap_disks_select(disks, n, o.only, o.n_only, &err) < 0))
			return cli_fail(err);
		return 0;
	}
	if (snap_disks_offline(run->vm->disc, &sel, disks, n, &err) < 0)
		return cli_fail(err);
	if (sub == SUB_REVERT && o.paused)
		cli_error("warning: --paused has no effect: the VM is shut off and stays so");
	return 0;
}

static int run_sub(struct qc_ctx *ctx, const struct qc_run *run, enum sub sub)
{
	struct snap_ctx sctx = { 0 };
	struct snap_disk *disks = NULL;
	size_t n = 0;
	struct qc_error *err = NULL;
	const char *name = run->argc ? run->argv[0] : NULL;
	char autoname[32];
	int rc;

	if (o.force_share && sub != SUB_LIST && sub != SUB_INFO) {
		rc = cli_usage_error(run->cmd, "-U (--force-share) is for list and info: %s changes the images",
				     run->cmd->name + strlen("snapshot "));
		goto out;
	}
	if (o.n_only && (sub == SUB_REVERT || sub == SUB_DELETE)) {
		rc = cli_usage_error(run->cmd,
				     "--disks is for create, list and info: %s acts on every disk holding the snapshot",
				     run->cmd->name + strlen("snapshot "));
		goto out;
	}
	if (sub == SUB_CREATE && !name) {
		/* As virsh snapshot-create: named by the time. */
		snprintf(autoname, sizeof(autoname), "%lld", (long long)time(NULL));
		name = autoname;
	}
	if (sub == SUB_CREATE && snap_check_name(name, &err) < 0) {
		rc = cli_fail(err);
		err = NULL;
		goto out;
	}
	rc = snap_begin(ctx, run, sub, &sctx, &disks, &n);
	if (rc)
		goto out;

	switch (sub) {
	case SUB_LIST:
		rc = print_list(ctx, disks, n);
		break;
	case SUB_INFO:
		rc = print_info(ctx, vm_name(run->vm), disks, n, name);
		break;
	case SUB_CREATE: {
		struct snap_create_opts co = {
			.name = name,
			.disk_only = o.disk_only,
			.force = o.force,
			.vmstate_disk = o.vmstate_disk,
			.only = o.only,
			.n_only = o.n_only,
		};

		rc = snap_create(&sctx, disks, n, &co, &err) < 0 ? 1 : 0;
		break;
	}
	case SUB_REVERT: {
		struct snap_revert_opts ro = { .paused = o.paused, .disk_only = o.disk_only, .force = o.force };

		rc = snap_revert(&sctx, disks, n, name, &ro, &err) < 0 ? 1 : 0;
		break;
	}
	case SUB_DELETE:
		rc = snap_delete(&sctx, disks, n, name, &err) < 0 ? 1 : 0;
		break;
	}
	if (sctx.progress && (sub == SUB_CREATE || sub == SUB_REVERT || sub == SUB_DELETE))
		fputs("\r                    \r", stderr);
	if (!rc && sctx.cancel_too_late)
		cli_error("warning: QEMU had finished before the cancel arrived: the %s stands",
			  sub == SUB_CREATE ? "snapshot" : sub == SUB_REVERT ? "revert" : "deletion");
	if (rc && err)
		cli_fail(err);
	else if (!rc && sub == SUB_CREATE)
		printf("Domain snapshot %s created\n", name);
	else if (!rc && sub == SUB_DELETE)
		printf("Domain snapshot %s deleted\n", name);
	err = NULL;
out:
	qc_error_free(err);
	snap_disks_free(disks, n);
	for (size_t k = 0; k < o.n_only; k++)
		free(o.only[k]);
	free(o.only);
	return rc;
}

static int exec_create(struct qc_ctx *ctx, const struct qc_run *run)
{
	return run_sub(ctx, run, SUB_CREATE);
}

static int exec_list(struct qc_ctx *ctx, const struct qc_run *run)
{
	return run_sub(ctx, run, SUB_LIST);
}

static int exec_info(struct qc_ctx *ctx, const struct qc_run *run)
{
	return run_sub(ctx, run, SUB_INFO);
}

static int exec_revert(struct qc_ctx *ctx, const struct qc_run *run)
{
	return run_sub(ctx, run, SUB_REVERT);
}

static int exec_delete(struct qc_ctx *ctx, const struct qc_run *run)
{
	return run_sub(ctx, run, SUB_DELETE);
}

/* ---- the table entries ---------------------------------------------------------- */

/* --disks and -U are taken by every sub-verb so that those they make no
 * sense for can say why. */
static const struct option create_longopts[] = {
	{ "disk-only", no_argument, NULL, 'D' },
	{ "force", no_argument, NULL, 'f' },
	{ "vmstate-disk", required_argument, NULL, 'm' },
	{ "disks", required_argument, NULL, 'd' },
	{ "force-share", no_argument, NULL, 'U' },
	{ NULL, 0, NULL, 0 },
};

static const struct option read_longopts[] = {
	{ "disks", required_argument, NULL, 'd' },
	{ "force-share", no_argument, NULL, 'U' },
	{ NULL, 0, NULL, 0 },
};

static const struct option revert_longopts[] = {
	{ "disk-only", no_argument, NULL, 'D' },
	{ "force", no_argument, NULL, 'f' },
	{ "paused", no_argument, NULL, 'P' },
	{ "disks", required_argument, NULL, 'd' },
	{ "force-share", no_argument, NULL, 'U' },
	{ NULL, 0, NULL, 0 },
};

static const char create_usage[] =
	"Usage: qmpctl snapshot create [OPTIONS] VM [NAME]\n"
	"\n"
	"Take an internal snapshot NAME of a running or shut-off VM, like virsh\n"
	"snapshot-create-as.  Running: a snapshot-save job (the VM state on one disk);\n"
	"shut off: the images are changed in a private qemu-storage-daemon (there is no\n"
	"RAM to save: the snapshot's state is shutoff).  Without NAME the snapshot is\n"
	"named by the time (seconds since 1970), as virsh does.  Names of digits are\n"
	"fine; a name that is the ID of another snapshot is refused.\n"
	"\n"
	"  --disk-only            running VM: disks only, atomically across disks, no VM\n"
	"                         state\n"
	"  --vmstate-disk TARGET  the disk that holds the VM state\n"
	"                         (default: the first writable qcow2 disk)\n"
	"  --disks TARGET,...     only these disks (the others are not opened)\n"
	"  --force                replace a snapshot of the same name.  Not atomic: QEMU\n"
	"                         cannot rename a snapshot, so the old one is deleted\n"
	"                         first, and if the new save then fails, neither is left\n"
	"  -s, --socket PATH      QMP socket (then VM is left out)\n"
	"  -t, --timeout SEC      how long to wait for each QMP reply (default 30)\n"
	"  -v, --verbose          print every QMP message on stderr\n"
	"  -h, --help             show this help\n"
	"\n"
	"-t bounds each QMP reply, not a job: a longer save runs to its end.\n"
	"Ctrl-C (SIGINT, SIGTERM, SIGHUP) during create never leaves the snapshot: QEMU\n"
	"finishes a save before it sees the cancel, so the snapshot just made is deleted\n"
	"again (\"interrupted: snapshot NAME removed\", then qmpctl dies of the signal:\n"
	"130 for Ctrl-C); the VM keeps running.\n";

static const char list_usage[] = "Usage: qmpctl snapshot list [OPTIONS] VM\n"
				 "\n"
				 "List a VM's internal snapshots, read from its images, like virsh snapshot-list.\n"
				 "State: running or paused (from the saved VM state), shutoff, disk-snapshot\n"
				 "(disks only, of a live VM), or unknown.\n"
				 "\n"
				 "  --disks TARGET,...     only these disks (the others are not opened)\n"
				 "  -U, --force-share      shut-off VM: read images another process has open for\n"
				 "                         writing, as qemu-img -U\n"
				 "      --json             an array of objects\n"
				 "  -s, --socket PATH      QMP socket (then VM is left out)\n"
				 "  -t, --timeout SEC      how long to wait for each QMP reply (default 30)\n"
				 "  -v, --verbose          print every QMP message on stderr\n"
				 "  -h, --help             show this help\n";

static const char info_usage[] = "Usage: qmpctl snapshot info [OPTIONS] VM NAME\n"
				 "\n"
				 "Show one snapshot on every disk, like virsh snapshot-info.\n"
				 "\n"
				 "  --disks TARGET,...     only these disks (the others are not opened)\n"
				 "  -U, --force-share      shut-off VM: read images another process has open for\n"
				 "                         writing, as qemu-img -U\n"
				 "      --json             one object, with the per-disk details\n"
				 "  -s, --socket PATH      QMP socket (then VM is left out)\n"
				 "  -t, --timeout SEC      how long to wait for each QMP reply (default 30)\n"
				 "  -v, --verbose          print every QMP message on stderr\n"
				 "  -h, --help             show this help\n";

static const char revert_usage[] =
	"Usage: qmpctl snapshot revert [OPTIONS] VM NAME\n"
	"\n"
	"Revert a VM to a snapshot, like virsh snapshot-revert (a snapshot-load job when\n"
	"it runs; the images natively when it is shut off).\n"
	"\n"
	"A snapshot of a shut-off VM is reverted with no option.\n"
	"\n"
	"  --disk-only            shut off: restore the disks of a snapshot that has VM\n"
	"                         state\n"
	"  --force                although some qcow2 disk lacks the snapshot\n"
	"  --paused               running VM: leave the VM paused afterwards\n"
	"  -s, --socket PATH      QMP socket (then VM is left out)\n"
	"  -t, --timeout SEC      how long to wait for each QMP reply (default 30)\n"
	"  -v, --verbose          print every QMP message on stderr\n"
	"  -h, --help             show this help\n";

static const char delete_usage[] = "Usage: qmpctl snapshot delete [OPTIONS] VM NAME\n"
				   "\n"
				   "Delete a snapshot from every disk that has it, like virsh snapshot-delete.\n"
				   "\n"
				   "  -s, --socket PATH      QMP socket (then VM is left out)\n"
				   "  -t, --timeout SEC      how long to wait for each QMP reply (default 30)\n"
				   "  -v, --verbose          print every QMP message on stderr\n"
				   "  -h, --help             show this help\n";

#define SNAP_ENTRY(n_, summary_, usage_, exec_, longopts_, min_, max_)                                       \
	{                                                                                                    \
		.name = "snapshot " n_, .summary = summary_, .usage = usage_, .shortopts = "U",              \
		.longopts = longopts_, .opt = own_opt, .opts = &o, .min_args = min_, .max_args = max_,       \
		.args_name = "snapshot name", .vm = QC_VM_ARG, .signals = QC_SIGS, .exec = exec_,            \
	}

const struct qc_cmd qc_cmd_snapshot_create =
	SNAP_ENTRY("create", "take a snapshot (virsh snapshot-create-as)", create_usage, exec_create,
		   create_longopts, 0, 1);
const struct qc_cmd qc_cmd_snapshot_list =
	SNAP_ENTRY("list", "list the snapshots (virsh snapshot-list)", list_usage, exec_list, read_longopts, 0, 0);
const struct qc_cmd qc_cmd_snapshot_info =
	SNAP_ENTRY("info", "show one snapshot (virsh snapshot-info)", info_usage, exec_info, read_longopts, 1, 1);
const struct qc_cmd qc_cmd_snapshot_revert =
	SNAP_ENTRY("revert", "revert to a snapshot (virsh snapshot-revert)", revert_usage, exec_revert,
		   revert_longopts, 1, 1);
const struct qc_cmd qc_cmd_snapshot_delete =
	SNAP_ENTRY("delete", "delete a snapshot (virsh snapshot-delete)", delete_usage, exec_delete, read_longopts, 1, 1);

const struct qc_cmd qc_cmd_snapshot = {
	.name = "snapshot",
	.summary = "create, list, inspect, revert and delete snapshots",
	.usage = usage,
};
