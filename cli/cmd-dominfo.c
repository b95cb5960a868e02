/*
 * qmpctl dominfo: a VM's basic facts laid out as 'virsh dominfo' does
 * (labels padded to 15), from QMP: query-name, query-uuid, query-status,
 * query-cpus-fast, query-memory-size-summary and query-balloon.  What QMP
 * cannot tell (libvirt's domain id, CPU time, autostart, security) is "-"
 * or left out.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "discover.h"
#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage[] = "Usage: qmpctl dominfo [OPTIONS] VM\n"
			    "\n"
			    "Print a VM's basic facts like 'virsh dominfo': Id (always '-', libvirt's),\n"
			    "Name, UUID, PID, OS Type, State, CPU(s), Max memory and Used memory (KiB;\n"
			    "used memory from the balloon when the VM has one).\n"
			    "\n"
			    "      --json          an object: name, uuid, pid, state, reason, status, cpus,\n"
			    "                      max_memory_kib, used_memory_kib (null when unknown)\n"
			    "  -s, --socket PATH   QMP socket (then VM is left out)\n"
			    "  -t, --timeout SEC   give up after SEC seconds (default 30)\n"
			    "  -v, --verbose       print every QMP message on stderr\n"
			    "  -h, --help          show this help\n";

/* A member of a query's return, or NULL when the command or member is
 * missing (an old QEMU, no balloon); the caller puts ret. */
static struct json_object *query(struct qc_ctx *ctx, struct qmp_session *s, const char *cmd)
{
	struct qc_error *err = NULL;
	struct json_object *ret = qmp_sync_execute(ctx->base, s, cmd, NULL, &err);

	if (!ret && ctx->verbose)
		cli_error("note: %s: %s", cmd, err->msg);
	qc_error_free(err);
	return ret;
}

static const char *member_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static int64_t member_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static void line(const char *label, const char *value)
{
	printf("%-15s %s\n", label, value ? value : "-");
}

static void line_int(const char *label, int64_t v, const char *unit)
{
	if (v < 0)
		line(label, NULL);
	else
		printf("%-15s %" PRId64 "%s\n", label, v, unit);
}

static int exec_dominfo(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct qc_error *err = NULL;
	struct json_object *name, *uuid, *status, *cpus, *mem, *balloon;
	const char *vmname, *state, *reason, *st;
	int64_t pid = -1, ncpus = -1, maxmem = -1, used = -1;

	status = qmp_sync_execute(ctx->base, run->s, "query-status", NULL, &err);
	if (!status)
		return cli_fail(err);
	name = query(ctx, run->s, "query-name");
	uuid = query(ctx, run->s, "query-uuid");
	cpus = query(ctx, run->s, "query-cpus-fast");
	mem = query(ctx, run->s, "query-memory-size-summary");
	balloon = query(ctx, run->s, "query-balloon");

	vmname = member_str(name, "name");
	if (!vmname && run->vm->disc)
		vmname = run->vm->disc->name;
	st = member_str(status, "status");
	cli_state_words(st ? st : "", &state, &reason);
	if (run->vm->disc && run->vm->disc->pid > 0)
		pid = run->vm->disc->pid;
	/* QMP does not tell QEMU's pid: it is discovery's ("-" for a socket). */
	if (cpus && json_object_is_type(cpus, json_type_array))
		ncpus = (int64_t)json_object_array_length(cpus);
	if (mem) {
		int64_t base = member_int(mem, "base-memory"), plugged = member_int(mem, "plugged-memory");

		if (base >= 0)
			maxmem = (base + (plugged > 0 ? plugged : 0)) / 1024;
	}
	used = balloon ? member_int(balloon, "actual") : -1;
	used = used >= 0 ? used / 1024 : maxmem;

	if (ctx->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", cli_json_str(vmname));
		json_object_object_add(o, "uuid", cli_json_str(member_str(uuid, "UUID")));
		json_object_object_add(o, "pid", pid > 0 ? json_object_new_int64(pid) : NULL);
		json_object_object_add(o, "state", json_object_new_string(state));
		json_object_object_add(o, "reason", json_object_new_string(reason));
		json_object_object_add(o, "status", cli_json_str(st));
		json_object_object_add(o, "cpus", ncpus >= 0 ? json_object_new_int64(ncpus) : NULL);
		json_object_object_add(o, "max_memory_kib", maxmem >= 0 ? json_object_new_int64(maxmem) : NULL);
		json_object_object_add(o, "used_memory_kib", used >= 0 ? json_object_new_int64(used) : NULL);
		cli_print_json(ctx, o);
		json_object_put(o);
	} else {
		line("Id:", NULL);
		line("Name:", vmname);
		line("UUID:", member_str(uuid, "UUID"));
		line_int("PID:", pid > 0 ? pid : -1, "");
		line("OS Type:", "hvm");
		line("State:", state);
		line_int("CPU(s):", ncpus, "");
		line_int("Max memory:", maxmem, " KiB");
		line_int("Used memory:", used, " KiB");
	}
	json_object_put(status);
	json_object_put(name);
	json_object_put(uuid);
	json_object_put(cpus);
	json_object_put(mem);
	json_object_put(balloon);
	return 0;
}

const struct qc_cmd qc_cmd_dominfo = {
	.name = "dominfo",
	.summary = "print a VM's basic facts as virsh does",
	.usage = usage,
	.vm = QC_VM_LIVE,
	.exec = exec_dominfo,
};
