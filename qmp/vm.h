/*
 * A VM handle: what a name on the command line (or a daemon's request)
 * stands for.  Identity from discovery, the QMP address qmpctl may use (the
 * libvirtd policy), a session to it, and the decision whether the VM is
 * live or shut off.  The CLI and a resident daemon both start from here.
 *
 * Nothing here prints: every failure is a struct qc_error.  The handle owns
 * its discovery list, its address and its session; vm_clear frees them.
 * Reconnecting is meant to live here later (vm_connect again on the same
 * handle); nothing below assumes a session is opened only once.
 */
#ifndef QMP_VM_H
#define QMP_VM_H

#include <stdbool.h>

#include "discover.h"
#include "qc_error.h"
#include "qmp_session.h"

struct event_base;

struct vm_opts {
	const char *socket;      /* an address standing for the VM (qmpctl -s); then no name */
	const char *libvirt_dir; /* NULL: discovery's default */
	const char *run_dir;     /* NULL: discovery's default */
	unsigned timeout_ms;     /* greeting and command timeout of the sessions opened */
	qmp_trace_fn trace;      /* optional: every QMP message of the sessions opened */
	void *trace_opaque;
};

enum vm_mode {
	VM_UNKNOWN,  /* resolved, not yet connected */
	VM_LIVE,     /* s is a READY session */
	VM_SHUTOFF,  /* no QEMU runs it: work on its images */
};

struct qmp_vm {
	struct vm_opts opts;     /* copied; the strings are the caller's */
	struct disc_list list;   /* the discovery run that found it */
	struct disc_vm *disc;    /* in list; NULL when named by an address */
	char *addr;              /* the QMP address to use, NULL when none */
	struct qc_error *no_addr; /* why addr is NULL */
	struct qmp_session *s;   /* after vm_connect / vm_open */
	enum vm_mode mode;
};

/* True when what names a socket (a path, unix:, tcp:) rather than a VM. */
bool vm_is_address(const char *what);

/* Resolves what (a name, uuid, pid or an address; ignored when opts->socket
 * is set) into *vm (zeroed by this call).  A VM found without a usable
 * address is no error here: vm->addr is NULL and vm->no_addr says why.
 * On failure *vm still holds the discovery list (its warnings may say why);
 * vm_clear it either way. */
int vm_resolve(struct qmp_vm *vm, const struct vm_opts *opts, const char *what, struct qc_error **errp);

/* The address policy for a discovered VM: its own -qmp socket first;
 * libvirt's monitor only while libvirtd does not hold it.  A string to
 * free, or NULL with *errp set. */
char *vm_policy_address(const struct disc_list *list, const struct disc_vm *vm, struct qc_error **errp);

/* The address, or NULL with *errp set to why there is none. */
const char *vm_address(const struct qmp_vm *vm, struct qc_error **errp);

/* A name to show: the VM's name, else its address. */
const char *vm_name(const struct qmp_vm *vm);

/* Opens a session (session options of the caller's or NULL; the timeouts
 * come from vm->opts) and waits until it is READY.  vm->s, mode VM_LIVE. */
int vm_connect(struct qmp_vm *vm, struct event_base *base, const struct qmp_session_opts *sopts,
	       struct qc_error **errp);

/* Live or shut off: connects when there is an address; VM_SHUTOFF when
 * there is none and discovery says shut off, or when nobody listens on the
 * socket and only configuration (no process) knows the VM.  Sets vm->mode;
 * -1 when neither holds. */
int vm_open(struct qmp_vm *vm, struct event_base *base, struct qc_error **errp);

/* Frees what the handle owns (the session too). */
void vm_clear(struct qmp_vm *vm);

#endif
