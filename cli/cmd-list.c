/*
 * qmpctl list: every VM discovery finds, like `virsh list --all`.  The
 * VMs whose monitor can be reached are asked for their state all at once
 * on the one event loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "discover.h"
#include "qc_buf.h"
#include "qmpctl.h"

#define PROBE_TIMEOUT_MS 1000u

static const char usage[] =
	"Usage: qmpctl list [OPTIONS]\n"
	"\n"
	"List VMs found in libvirt's domain XML files, libvirt's status files and running\n"
	"QEMU processes, like 'virsh list'.  The state of a VM whose QMP socket answers\n"
	"comes from query-status; when it does not (another client holds the monitor),\n"
	"it is the state libvirt's status file records, or 'unknown', and the reason\n"
	"follows in parentheses: 'unknown (monitor busy)'.  A QEMU process named like\n"
	"a domain it is not (another -uuid, other disks) is listed on its own line as\n"
	"'NAME (not the domain)'.\n"
	"\n"
	"  -a, --all              also list VMs that are shut off\n"
	"      --json             an array of objects: name, uuid, state, pid, qmp,\n"
	"                         monitor, sources, reason (why the state is not\n"
	"                         QEMU's answer, or null), not_domain (the domain file\n"
	"                         a process is named like but is not, or null)\n"
	"      --libvirt-dir DIR  domain XML files (default /etc/libvirt/qemu,\n"
	"                         or $QMPCTL_LIBVIRT_DIR)\n"
	"      --run-dir DIR      libvirt status files (default /run/libvirt/qemu,\n"
	"                         or $QMPCTL_RUN_DIR)\n"
	"  -s, --socket PATH      also list the VM at this QMP socket\n"
	"  -t, --timeout SEC      how long to wait for each monitor (default 1)\n"
	"  -v, --verbose          print every QMP message on stderr\n"
	"  -h, --help             show this help\n";

struct probe {
	struct disc_vm *vm;
	struct qmp_session *s;
	int *pending;
};

static void probe_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct probe *p = opaque;

	if (ret)
		discover_apply_probe(p->vm, DISC_PROBE_ANSWERED,
				     json_object_get_string(json_object_object_get(ret, "status")));
	else
		discover_apply_probe(
			p->vm, discover_probe_kind(true, qmp_session_greeting(p->s) != NULL, err ? err->errnum : 0),
			NULL);
	(*p->pending)--;
}

/* Asks every reachable VM for its state, concurrently. */
static void cli_probe_states(struct qc_ctx *ctx, struct disc_list *list)
{
	struct probe *probes = qc_calloc(list->n ? list->n : 1, sizeof(*probes));
	struct qmp_session_opts opts = { 0 };
	int pending = 0;

	opts.greeting_timeout_ms = opts.command_timeout_ms = ctx->timeout_ms ? ctx->timeout_ms : PROBE_TIMEOUT_MS;
	for (size_t i = 0; i < list->n; i++) {
		struct disc_vm *vm = &list->vms[i];
		struct qc_error *err = NULL;
		char *addr;

		if (vm->state == DISC_STATE_SHUTOFF && !vm->qmp)
			continue;
		addr = cli_vm_address(list, vm, &err);
		qc_error_free(err);
		if (!addr) {
			discover_apply_probe(vm, DISC_PROBE_NONE, NULL);
			continue;
		}
		probes[i].vm = vm;
		probes[i].pending = &pending;
		probes[i].s = qmp_session_new(ctx->base, &opts);
		if (ctx->verbose)
			qmp_session_set_trace(probes[i].s, cli_trace, NULL);
		if (qmp_session_connect(probes[i].s, addr, &err) < 0) {
			discover_apply_probe(vm, discover_probe_kind(false, false, err->errnum), NULL);
			qc_error_free(err);
		} else if (qmp_session_execute(probes[i].s, "query-status", NULL, 0, NULL, 0, 0, probe_reply,
					       &probes[i], NULL)) {
			pending++;
		}
		free(addr);
	}
	while (pending > 0 && event_base_loop(ctx->base, EVLOOP_ONCE) == 0)
		;
	for (size_t i = 0; i < list->n; i++)
		qmp_session_free(probes[i].s);
	free(probes);
}

static struct json_object *vm_json(const struct disc_vm *vm)
{
	static const char *const names[] = { "xml", "status", "process", "socket" };
	struct json_object *o = json_object_new_object(), *src = json_object_new_array();

	json_object_object_add(o, "name", cli_json_str(vm->name));
	json_object_object_add(o, "uuid", cli_json_str(vm->uuid));
	json_object_object_add(o, "state", json_object_new_string(discover_state_name(vm->state)));
	json_object_object_add(o, "pid", vm->pid ? json_object_new_int64(vm->pid) : NULL);
	json_object_object_add(o, "qmp", cli_json_str(vm->qmp));
	json_object_object_add(o, "monitor", cli_json_str(vm->monitor));
	for (size_t i = 0; i < 4; i++)
		if (vm->sources & (1u << i))
			json_object_array_add(src, json_object_new_string(names[i]));
	json_object_object_add(o, "sources", src);
	/* New members go last: scripts match the old ones in their order. */
	json_object_object_add(o, "reason", cli_json_str(vm->reason));
	json_object_object_add(o, "not_domain", cli_json_str(vm->not_domain));
	return o;
}

struct list_opts {
	bool all;
};

static int own_opt(void *opaque, int opt, const char *arg)
{
	struct list_opts *o = opaque;

	(void)arg;
	if (opt != 'a')
		return 1;
	o->all = true;
	return 0;
}

static const struct option longopts[] = {
	{ "all", no_argument, NULL, 'a' },
	{ NULL, 0, NULL, 0 },
};
static struct list_opts o;

static int exec_list(struct qc_ctx *ctx, const struct qc_run *run)
{
	static const char *const heads[] = { "Id", "Name", "State", "QMP" };
	struct disc_opts dopts;
	struct disc_list list = { 0 };
	struct qc_error *err = NULL;
	struct json_object *arr;
	struct cli_table t;

	(void)run;
	cli_disc_opts(ctx, &dopts);
	if (discover_scan(&dopts, &list, &err) < 0)
		return cli_fail(err);
	if (ctx->socket) {
		/* An explicit socket is a VM of its own unless a known one has it. */
		struct disc_vm *vm = NULL;

		for (size_t i = 0; i < list.n && !vm; i++)
			if (list.vms[i].qmp && !strcmp(list.vms[i].qmp, ctx->socket))
				vm = &list.vms[i];
		if (!vm) {
			list.vms = qc_realloc(list.vms, (list.n + 1) * sizeof(*list.vms));
			vm = &list.vms[list.n++];
			memset(vm, 0, sizeof(*vm));
			vm->qmp = qc_strdup(ctx->socket);
		}
		vm->sources |= DISC_SRC_SOCKET;
	}
	for (size_t i = 0; i < list.n_warnings; i++)
		cli_error("warning: %s", list.warnings[i]);
	cli_probe_states(ctx, &list);

	arr = json_object_new_array();
	cli_table_init(&t, 4, heads);
	for (size_t i = 0; i < list.n; i++) {
		const struct disc_vm *vm = &list.vms[i];
		char id[24];

		if (!o.all && vm->state == DISC_STATE_SHUTOFF)
			continue;
		if (ctx->json) {
			json_object_array_add(arr, vm_json(vm));
			continue;
		}
		snprintf(id, sizeof(id), "%d", (int)vm->pid);
		char *state = discover_state_text(vm);
		/* A process named like a domain it is not says so beside its name. */
		char *name = vm->not_domain ? qc_asprintf("%s (not the domain)", vm->name ? vm->name : "") : NULL;
		const char *cells[] = { vm->pid ? id : "-", name ? name : vm->name, state,
					vm->qmp ? vm->qmp : vm->monitor };

		cli_table_add(&t, cells);
		free(state);
		free(name);
	}
	if (ctx->json)
		cli_print_json(ctx, arr);
	else
		cli_table_print(&t);
	cli_table_free(&t);
	json_object_put(arr);
	discover_list_free(&list);
	return 0;
}

const struct qc_cmd qc_cmd_list = {
	.name = "list",
	.summary = "list VMs (libvirt XML, status files, running QEMUs)",
	.usage = usage,
	.shortopts = "a",
	.longopts = longopts,
	.opt = own_opt,
	.opts = &o,
	.exec = exec_list,
};
