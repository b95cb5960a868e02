/* The VM handle: discovery, address policy, session, live or shut off. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qc_buf.h"
#include "qmp_sync.h"
#include "vm.h"

#define VM_DEFAULT_LIBVIRT_DIR "/etc/libvirt/qemu"
#define VM_DEFAULT_RUN_DIR "/run/libvirt/qemu"

bool vm_is_address(const char *what)
{
	return strchr(what, '/') || !strncmp(what, "unix:", 5) || !strncmp(what, "tcp:", 4);
}

char *vm_policy_address(const struct disc_list *list, const struct disc_vm *vm, struct qc_error **errp)
{
	const char *name = vm->name ? vm->name : "?";

	if (vm->qmp)
		return qc_strdup(vm->qmp);
	if (vm->monitor && vm->pid) {
		if (!list->libvirtd_running)
			return qc_strdup(vm->monitor);
		qc_error_set(errp,
			     "VM '%s' has only libvirt's monitor socket (%s), which libvirtd holds while it runs "
			     "(QEMU serves one client per monitor): add a QMP socket to the domain's "
			     "<qemu:commandline> (-qmp unix:PATH,server=on,wait=off) or stop libvirtd",
			     name, vm->monitor);
		return NULL;
	}
	if (vm->state == DISC_STATE_SHUTOFF)
		qc_error_set(errp, "VM '%s' is shut off", name);
	else
		qc_error_set(errp,
			     "VM '%s' has no QMP socket qmpctl can use (start QEMU with "
			     "-qmp unix:PATH,server=on,wait=off)",
			     name);
	return NULL;
}

int vm_resolve(struct qmp_vm *vm, const struct vm_opts *opts, const char *what, struct qc_error **errp)
{
	struct disc_opts dopts = { 0 };
	struct qc_error *err = NULL;
	struct stat st;

	memset(vm, 0, sizeof(*vm));
	vm->opts = *opts;
	if (opts->socket || vm_is_address(what)) {
		vm->addr = qc_strdup(opts->socket ? opts->socket : what);
		return 0;
	}
	dopts.libvirt_dir = opts->libvirt_dir ? opts->libvirt_dir : VM_DEFAULT_LIBVIRT_DIR;
	dopts.run_dir = opts->run_dir ? opts->run_dir : VM_DEFAULT_RUN_DIR;
	if (discover_scan(&dopts, &vm->list, &err) == 0) {
		vm->disc = discover_select(&vm->list, what, &err);
		if (!vm->disc && err) {
			/* It names several VMs: never a guess. */
			qc_error_propagate(errp, err);
			return -1;
		}
	}
	if (vm->disc) {
		vm->addr = vm_policy_address(&vm->list, vm->disc, &vm->no_addr);
		return 0;
	}
	/* "vm.qmp" in the current directory is a socket, not a name. */
	if (stat(what, &st) == 0 && S_ISSOCK(st.st_mode)) {
		qc_error_free(err);
		vm->addr = qc_strdup(what);
		return 0;
	}
	if (err)
		qc_error_propagate(errp, err);
	else
		qc_error_set(errp, "no VM named '%s' (looked in %s, %s and running processes)", what,
			     dopts.libvirt_dir, dopts.run_dir);
	return -1;
}

const char *vm_address(const struct qmp_vm *vm, struct qc_error **errp)
{
	if (!vm->addr) {
		if (vm->no_addr)
			qc_error_propagate(errp, qc_error_copy(vm->no_addr));
		else
			qc_error_set(errp, "no QMP address");
	}
	return vm->addr;
}

const char *vm_name(const struct qmp_vm *vm)
{
	if (vm->disc && vm->disc->name)
		return vm->disc->name;
	return vm->addr ? vm->addr : "?";
}

int vm_connect(struct qmp_vm *vm, struct event_base *base, const struct qmp_session_opts *sopts,
	       struct qc_error **errp)
{
	struct qmp_session_opts o = { 0 };

	if (!vm_address(vm, errp))
		return -1;
	if (sopts)
		o = *sopts;
	o.greeting_timeout_ms = o.command_timeout_ms = vm->opts.timeout_ms;
	if (vm->s)
		qmp_session_free(vm->s);
	vm->s = qmp_session_new(base, &o);
	if (vm->opts.trace)
		qmp_session_set_trace(vm->s, vm->opts.trace, vm->opts.trace_opaque);
	if (qmp_session_connect(vm->s, vm->addr, errp) < 0 || qmp_sync_wait_ready(base, vm->s, errp) < 0) {
		qmp_session_free(vm->s);
		vm->s = NULL;
		return -1;
	}
	vm->mode = VM_LIVE;
	return 0;
}

int vm_open(struct qmp_vm *vm, struct event_base *base, struct qc_error **errp)
{
	struct qc_error *err = NULL;
	bool gone;

	if (!vm->addr) {
		if (!vm->disc || vm->disc->state != DISC_STATE_SHUTOFF) {
			vm_address(vm, errp);
			return -1;
		}
		vm->mode = VM_SHUTOFF;
		return 0;
	}
	if (vm_connect(vm, base, NULL, &err) == 0)
		return 0;
	/* Nobody listening and only configuration knows the VM: shut off. */
	gone = err->errnum == ENOENT || err->errnum == ECONNREFUSED;
	if (!gone || !vm->disc || (vm->disc->sources & DISC_SRC_PROC)) {
		qc_error_propagate(errp, err);
		return -1;
	}
	qc_error_free(err);
	vm->mode = VM_SHUTOFF;
	return 0;
}

void vm_clear(struct qmp_vm *vm)
{
	if (vm->s)
		qmp_session_free(vm->s);
	discover_list_free(&vm->list);
	free(vm->addr);
	qc_error_free(vm->no_addr);
	memset(vm, 0, sizeof(*vm));
}
