/*
 * qmpctl disks: a VM's disks like `virsh domblklist --details`, plus the
 * format.  The live view (query-block) wins when the VM's monitor answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "discover.h"
#include "qc_buf.h"
#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"

static const char usage[] =
	"Usage: qmpctl disks [OPTIONS] VM\n"
	"\n"
	"List a VM's disks like 'virsh domblklist --details', with a Format column.\n"
	"From the domain XML (or QEMU's command line); when the VM runs and its QMP\n"
	"socket answers, from query-block (the current file after external snapshots).\n"
	"\n"
	"      --json             an array of objects: target, device, type, format,\n"
	"                         source, readonly, node, backing\n"
	"      --libvirt-dir DIR  domain XML files (default /etc/libvirt/qemu,\n"
	"                         or $QMPCTL_LIBVIRT_DIR)\n"
	"      --run-dir DIR      libvirt status files (default /run/libvirt/qemu,\n"
	"                         or $QMPCTL_RUN_DIR)\n"
	"  -s, --socket PATH      QMP socket (then VM is left out)\n"
	"  -t, --timeout SEC      how long to wait for the monitor (default 30)\n"
	"  -v, --verbose          print every QMP message on stderr\n"
	"  -h, --help             show this help\n";

static struct json_object *disk_json(const struct disc_disk *d)
{
	struct json_object *o = json_object_new_object(), *chain = json_object_new_array();

	json_object_object_add(o, "target", cli_json_str(d->target));
	json_object_object_add(o, "device", cli_json_str(d->device));
	json_object_object_add(o, "type", cli_json_str(d->type));
	json_object_object_add(o, "format", cli_json_str(d->format));
	json_object_object_add(o, "source", cli_json_str(d->source));
	json_object_object_add(o, "readonly", json_object_new_boolean(d->readonly));
	json_object_object_add(o, "node", cli_json_str(d->node));
	for (size_t i = 0; i < d->n_backing; i++) {
		struct json_object *b = json_object_new_object();

		json_object_object_add(b, "type", cli_json_str(d->backing[i].type));
		json_object_object_add(b, "format", cli_json_str(d->backing[i].format));
		json_object_object_add(b, "source", cli_json_str(d->backing[i].source));
		json_object_array_add(chain, b);
	}
	json_object_object_add(o, "backing", chain);
	return o;
}

/* Asks the monitor, when there is one that answers; silently keeps the
 * configured view otherwise (a shut-off VM has no live view). */
static void apply_live(struct qc_ctx *ctx, struct disc_vm *vm, const char *addr)
{
	struct qmp_session_opts opts = { 0 };
	struct qmp_session *s;
	struct json_object *blocks;
	struct qc_error *err = NULL;

	opts.greeting_timeout_ms = opts.command_timeout_ms = cli_timeout(ctx);
	s = qmp_session_new(ctx->base, &opts);
	if (ctx->verbose)
		qmp_session_set_trace(s, cli_trace, NULL);
	if (qmp_session_connect(s, addr, &err) == 0 && qmp_sync_wait_ready(ctx->base, s, &err) == 0) {
		blocks = qmp_sync_execute(ctx->base, s, "query-block", NULL, &err);
		if (blocks)
			discover_apply_query_block(vm, blocks);
		json_object_put(blocks);
	}
	if (err && ctx->verbose)
		cli_error("note: no live view (%s)", err->msg);
	qc_error_free(err);
	qmp_session_free(s);
}

static int exec_disks(struct qc_ctx *ctx, const struct qc_run *run)
{
	static const char *const heads[] = { "Type", "Device", "Target", "Format", "Source" };
	struct disc_vm sock_vm = { 0 }, *vm;
	struct qc_error *err = NULL;
	const char *addr = run->vm->addr;

	/* Named by its socket, the VM's disks come from the live view only. */
	vm = run->vm->disc ? run->vm->disc : &sock_vm;
	if (addr)
		apply_live(ctx, vm, addr);
	if (vm == &sock_vm && !vm->n_disks) {
		qc_error_set(&err, "cannot read the disks of the VM at %s", addr);
		return cli_fail(err);
	}

	if (ctx->json) {
		struct json_object *arr = json_object_new_array();

		for (size_t i = 0; i < vm->n_disks; i++)
			json_object_array_add(arr, disk_json(&vm->disks[i]));
		cli_print_json(ctx, arr);
		json_object_put(arr);
	} else {
		struct cli_table t;

		cli_table_init(&t, 5, heads);
		for (size_t i = 0; i < vm->n_disks; i++) {
			const struct disc_disk *d = &vm->disks[i];
			const char *cells[] = { d->type, d->device, d->target, d->format, d->source };

			cli_table_add(&t, cells);
		}
		cli_table_print(&t);
		cli_table_free(&t);
	}
	discover_vm_clear(&sock_vm);
	return 0;
}

const struct qc_cmd qc_cmd_disks = {
	.name = "disks",
	.summary = "list a VM's disks (like virsh domblklist --details)",
	.usage = usage,
	.vm = QC_VM_ARG,
	.exec = exec_disks,
};
