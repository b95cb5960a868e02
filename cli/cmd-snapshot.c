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
	"again (exit 1, \"interrupted: snapshot NAME removed\"); the VM keeps running.\n";

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

static void fmt_date(char *buf, size_t len, int64_t sec, bool iso)
{
	time_t t = (time_t)sec;
	struct tm tm;

	if (!localtime_r(&t, &tm)) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, iso ? "%Y-%m-%dT%H:%M:%S%z" : "%Y-%m-%d %H:%M:%S %z", &tm);
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
	char date[64], clock[32];

	fmt_date(date, sizeof(date), e->date_sec, true);
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

		fmt_date(date, sizeof(date), e->date_sec, false);
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

		fmt_date(date, sizeof(date), e->date_sec, false);
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

/* getopt calls "--disk" (a prefix of --disk-only and --disks) unknown;
 * name what it could be. */
static int ambiguous_opt(const struct qc_cmd *cmd, int argc, char **argv, const struct option *longopts)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];
		size_t len, hits = 0;
		struct qc_buf b = { 0 };
		bool exact = false;

		if (strncmp(a, "--", 2) || !a[2])
			continue;
		a += 2;
		len = strcspn(a, "=");
		for (const struct option *lo = longopts; lo->name; lo++) {
			if (strncmp(lo->name, a, len))
				continue;
			exact |= strlen(lo->name) == len;
			qc_buf_printf(&b, "%s--%s", hits++ ? " or " : "", lo->name);
		}
		if (hits > 1 && !exact) {
			int rc = cli_usage_error(cmd, "option '--%.*s' is ambiguous: %s", (int)len, a, qc_buf_str(&b));

			qc_buf_free(&b);
			return rc;
		}
		qc_buf_free(&b);
	}
	return -1;
}

static volatile bool cancel_requested;

static void on_sigint(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	cancel_requested = true;
}

static void show_progress(void *opaque, uint64_t current, uint64_t total)
{
	(void)opaque;
	if (total)
		fprintf(stderr, "\r    (%.2f/100%%)", 100.0 * (double)current / (double)total);
}

enum sub { SUB_CREATE, SUB_LIST, SUB_INFO, SUB_REVERT, SUB_DELETE };

static int exec_snapshot(struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		QC_COMMON_LONGOPTS,
		{ "disk-only", no_argument, NULL, 'D' },
		{ "force", no_argument, NULL, 'f' },
		{ "paused", no_argument, NULL, 'P' },
		{ "vmstate-disk", required_argument, NULL, 'm' },
		{ "disks", required_argument, NULL, 'd' },
		{ "force-share", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const subs[] = { "create", "list", "info", "revert", "delete" };
	struct snap_opts o = { 0 };
	struct snap_ctx sctx = { 0 };
	struct disc_list list = { 0 };
	struct disc_vm *vm = NULL;
	struct snap_disk *disks = NULL;
	size_t n = 0;
	struct qc_error *err = NULL;
	struct event *sigs[3] = { NULL, NULL, NULL };
	const char *what = NULL, *name = NULL, *vmname;
	char *addr = NULL, autoname[32];
	enum sub sub = SUB_LIST;
	bool found = false;
	int rc, i;

	rc = ambiguous_opt(cmd, argc, argv, longopts);
	if (rc >= 0)
		goto out;
	rc = cli_parse_opts(ctx, cmd, argc, argv, QC_COMMON_SHORTOPTS "U", longopts, own_opt, &o);
	if (rc >= 0)
		goto out;
	rc = 0;
	i = optind;
	if (i >= argc) {
		rc = cli_usage_error(cmd, "no subcommand given (create, list, info, revert or delete)");
		goto out;
	}
	for (size_t k = 0; k < 5; k++)
		if (!strcmp(argv[i], subs[k])) {
			sub = (enum sub)k;
			found = true;
		}
	if (!found) {
		rc = cli_usage_error(cmd, "unknown subcommand '%s'", argv[i]);
		goto out;
	}
	i++;
	rc = cli_take_vm(ctx, cmd, argc, argv, &i, &what);
	if (rc >= 0)
		goto out;
	rc = 0;
	if (sub == SUB_CREATE && i >= argc) {
		/* As virsh snapshot-create: named by the time. */
		snprintf(autoname, sizeof(autoname), "%lld", (long long)time(NULL));
		name = autoname;
	} else if (sub != SUB_LIST) {
		if (i >= argc) {
			rc = cli_usage_error(cmd, "no snapshot name given");
			goto out;
		}
		name = argv[i++];
	}
	rc = cli_no_more_args(cmd, argc, argv, i);
	if (rc >= 0)
		goto out;
	rc = 0;
	if (o.force_share && sub != SUB_LIST && sub != SUB_INFO) {
		rc = cli_usage_error(cmd, "-U (--force-share) is for list and info: %s changes the images",
				     argv[optind]);
		goto out;
	}
	if (o.n_only && (sub == SUB_REVERT || sub == SUB_DELETE)) {
		rc = cli_usage_error(cmd,
				     "--disks is for create, list and info: %s acts on every disk holding the snapshot",
				     argv[optind]);
		goto out;
	}
	if (sub == SUB_CREATE && snap_check_name(name, &err) < 0) {
		rc = cli_fail(err);
		err = NULL;
		goto out;
	}

	/* Which VM, and is it running? */
	if (ctx->socket || cli_is_address(what)) {
		addr = qc_strdup(ctx->socket ? ctx->socket : what);
	} else {
		vm = cli_find_vm(ctx, what, &list);
		if (!vm) {
			rc = 1;
			goto out;
		}
		addr = cli_vm_address(&list, vm, &err);
		if (!addr && vm->state != DISC_STATE_SHUTOFF) {
			rc = cli_fail(err);
			err = NULL;
			goto out;
		}
		qc_error_free(err);
		err = NULL;
	}
	vmname = vm && vm->name ? vm->name : (addr ? addr : "?");
	/* From here on a signal cancels what runs instead of killing us
	 * halfway (a qemu-storage-daemon left holding the image locks). */
	for (size_t k = 0; k < 3; k++) {
		static const int signals[] = { SIGINT, SIGTERM, SIGHUP };

		sigs[k] = evsignal_new(ctx->base, signals[k], on_sigint, NULL);
		event_add(sigs[k], NULL);
	}
	sctx.base = ctx->base;
	sctx.timeout_ms = cli_timeout(ctx);
	sctx.cancel = &cancel_requested;
	if (isatty(STDERR_FILENO))
		sctx.progress = show_progress;
	if (addr) {
		struct qmp_session_opts sopts = { 0 };

		sopts.greeting_timeout_ms = sopts.command_timeout_ms = cli_timeout(ctx);
		sctx.s = qmp_session_new(ctx->base, &sopts);
		if (ctx->verbose)
			qmp_session_set_trace(sctx.s, cli_trace, NULL);
		if (qmp_session_connect(sctx.s, addr, &err) < 0 || qmp_sync_wait_ready(ctx->base, sctx.s, &err) < 0) {
			/* Nobody listening and discovery knows the disks: shut off. */
			bool gone = err->errnum == ENOENT || err->errnum == ECONNREFUSED;

			qmp_session_free(sctx.s);
			sctx.s = NULL;
			if (!gone || !vm || (vm->sources & DISC_SRC_PROC)) {
				rc = cli_fail(err);
				err = NULL;
				goto out;
			}
			qc_error_free(err);
			err = NULL;
		}
	}
	if (sctx.s) {
		/* create keeps every disk: a name on an unselected one still
		 * counts as taken. */
		if (snap_disks_live(&sctx, vm, &disks, &n, &err) < 0 ||
		    (sub != SUB_CREATE && snap_disks_select(&disks, &n, o.only, o.n_only, &err) < 0)) {
			rc = cli_fail(err);
			err = NULL;
			goto out;
		}
	} else {
		struct snap_select sel = {
			.only = o.only,
			.n_only = o.n_only,
			.force_share = o.force_share,
			.for_write = sub == SUB_CREATE || sub == SUB_REVERT || sub == SUB_DELETE,
		};

		if (snap_disks_offline(vm, &sel, &disks, &n, &err) < 0) {
			rc = cli_fail(err);
			err = NULL;
			goto out;
		}
		if (sub == SUB_REVERT && o.paused)
			cli_error("warning: --paused has no effect: the VM is shut off and stays so");
	}

	switch (sub) {
	case SUB_LIST:
		rc = print_list(ctx, disks, n);
		break;
	case SUB_INFO:
		rc = print_info(ctx, vmname, disks, n, name);
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
	for (size_t k = 0; k < 3; k++)
		if (sigs[k])
			event_free(sigs[k]);
	if (sctx.s)
		qmp_session_free(sctx.s);
	snap_disks_free(disks, n);
	discover_list_free(&list);
	free(addr);
	for (size_t k = 0; k < o.n_only; k++)
		free(o.only[k]);
	free(o.only);
	return rc;
}

const struct qc_cmd qc_cmd_snapshot = {
	.name = "snapshot",
	.summary = "create, list, inspect, revert and delete snapshots",
	.usage = usage,
	.exec = exec_snapshot,
};
