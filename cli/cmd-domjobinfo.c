/*
 * qmpctl domjobinfo: what job a VM runs, in 'virsh domjobinfo' words:
 * an outgoing migration from query-migrate, other jobs (snapshots,
 * backups ...) from query-jobs; "Job type: None" when nothing runs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp_sync.h"
#include "qmpctl.h"

static const char usage[] = "Usage: qmpctl domjobinfo [OPTIONS] VM\n"
			    "\n"
			    "Print the job a VM runs like 'virsh domjobinfo': an outgoing migration\n"
			    "(query-migrate: time elapsed, data processed, remaining and total) or QEMU's\n"
			    "other jobs (query-jobs: type, id, status, progress); 'Job type: None' when\n"
			    "nothing runs.\n"
			    "\n"
			    "      --json          an object: type (\"none\" or \"unbounded\"), migration\n"
			    "                      (query-migrate's answer while active) and jobs\n"
			    "  -s, --socket PATH   QMP socket (then VM is left out)\n"
			    "  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
			    "  -v, --verbose       print every QMP message on stderr\n"
			    "  -h, --help          show this help\n";

/* A string member, "-" when missing. */
static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "-";
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static bool migration_active(const char *status)
{
	static const char *const active[] = { "setup",		 "active",	    "pre-switchover",	"device",
					      "postcopy-active", "postcopy-paused", "postcopy-recover", "cancelling",
					      "wait-unplug" };

	for (size_t i = 0; status && i < sizeof(active) / sizeof(active[0]); i++)
		if (!strcmp(status, active[i]))
			return true;
	return false;
}

static void line_int(const char *label, int64_t v, const char *unit)
{
	if (v >= 0)
		printf("%-17s %" PRId64 " %s\n", label, v, unit);
}

static int exec_domjobinfo(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL;
	struct json_object *mig, *jobs;
	bool migrating;
	size_t njobs;

	mig = qmp_sync_execute(ctx->base, run->s, "query-migrate", NULL, &err);
	if (!mig)
		return cli_fail(err);
	jobs = qmp_sync_execute(ctx->base, run->s, "query-jobs", NULL, &err);
	if (!jobs) {
		json_object_put(mig);
		return cli_fail(err);
	}
	migrating = migration_active(jstr(mig, "status"));
	njobs = json_object_array_length(jobs);
	if (ctx->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "type", json_object_new_string(migrating || njobs ? "unbounded" : "none"));
		json_object_object_add(o, "migration", migrating ? json_object_get(mig) : NULL);
		json_object_object_add(o, "jobs", json_object_get(jobs));
		cli_print_json(ctx, o);
		json_object_put(o);
	} else if (!migrating && !njobs) {
		printf("%-17s %s\n", "Job type:", "None");
	} else {
		printf("%-17s %s\n", "Job type:", "Unbounded");
		if (migrating) {
			struct json_object *ram = json_object_object_get(mig, "ram");

			printf("%-17s %s\n", "Operation:", "Outgoing migration");
			line_int("Time elapsed:", jint(mig, "total-time"), "ms");
			line_int("Data processed:", jint(ram, "transferred"), "B");
			line_int("Data remaining:", jint(ram, "remaining"), "B");
			line_int("Data total:", jint(ram, "total"), "B");
		}
		for (size_t i = 0; i < njobs; i++) {
			struct json_object *j = json_object_array_get_idx(jobs, i);
			int64_t cur = jint(j, "current-progress"), total = jint(j, "total-progress");

			printf("%-17s %s\n", "Operation:", jstr(j, "type"));
			printf("%-17s %s\n", "Job id:", jstr(j, "id"));
			printf("%-17s %s\n", "Job status:", jstr(j, "status"));
			if (cur >= 0 && total > 0)
				printf("%-17s %" PRId64 " of %" PRId64 "\n", "Progress:", cur, total);
		}
	}
	json_object_put(mig);
	json_object_put(jobs);
	return 0;
}

const struct qc_cmd qc_cmd_domjobinfo = {
	.name = "domjobinfo",
	.summary = "print the job a VM runs (migration, QEMU jobs) as virsh does",
	.usage = usage,
	.vm = QC_VM_LIVE,
	.exec = exec_domjobinfo,
};
