/*
 * discover: find VMs, their QMP sockets and disks without libvirtd.
 *
 * Sources, merged into one list (a VM found by several shows once):
 *   - domain XML files directly in libvirt_dir (default /etc/libvirt/qemu);
 *   - libvirt's runtime status files in run_dir (default /run/libvirt/qemu):
 *     a pid that is no longer alive makes the file stale (VM shut off);
 *   - running QEMU processes (proc_dir/N/cmdline, default /proc);
 *   - an explicit socket.
 * Each domain file is a domain of its own, keyed by its <name>; two files
 * are never merged (a uuid or name files share is one warning naming them).
 * A status file joins the domain file of its name (not one whose uuid
 * differs).  A process joins the domain whose status file has its pid, or
 * the one with its -uuid (and its -name, when it has both), or, without
 * -uuid, the one of its -name whose disks include every disk the process
 * names; a process named like a domain it is not is listed apart, with
 * not_domain set and a warning.  Processes never merge with each other.
 * XML files are untrusted: parsed with entities never substituted, no DTD
 * or network access, and at most DISCOVER_MAX_XML bytes each.  A file that
 * cannot be used becomes a warning in the list, not an error.
 *
 * Modules, each calling only those below it: discover_cmdline (QEMU
 * command lines), discover_xml (domain and status files), discover (the
 * /proc scan and the merge), discover_live (what a running VM's monitor
 * says, as pure functions over QMP replies).  Nothing here talks QMP itself
 * and nothing prints.
 */
#ifndef DISCOVER_H
#define DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "qc_error.h"

#define DISCOVER_MAX_XML (8u * 1024 * 1024)

enum disc_source {
	DISC_SRC_XML = 1u << 0,
	DISC_SRC_STATUS = 1u << 1,
	DISC_SRC_PROC = 1u << 2,
	DISC_SRC_SOCKET = 1u << 3,
};

enum disc_state {
	DISC_STATE_UNKNOWN, /* a process or socket we could not ask */
	DISC_STATE_RUNNING,
	DISC_STATE_PAUSED,
	DISC_STATE_SHUTOFF,
	DISC_STATE_OTHER, /* e.g. QEMU's "inmigrate", "guest-panicked"; see state_detail */
};

struct disc_backing {
	char *type;   /* file, block, network, ... */
	char *format; /* qcow2, raw, ... or NULL */
	char *source; /* path, PROTOCOL://HOST[:PORT]/NAME, POOL/VOLUME, or NULL */
	char *node;   /* QEMU's node name of the layer's format node (-blockdev), or NULL */
};

struct disc_disk {
	char *target; /* vda; for a bare QEMU the drive or device id */
	char *device; /* disk, cdrom, floppy, lun */
	char *type;   /* file, block, network, volume, dir, nvme, ... */
	char *format; /* or NULL */
	char *source; /* or NULL (an empty cdrom) */
	bool readonly;
	char *node;  /* QEMU's node name (live view, or -blockdev node-name), or NULL */
	char *alias; /* libvirt's <alias name> (runtime), or NULL */
	struct disc_backing *backing;
	size_t n_backing;
};

struct disc_vm {
	char *name;
	char *uuid;    /* or NULL */
	pid_t pid;     /* 0: none known alive */
	char *qmp;     /* a QMP socket free for us, or NULL */
	char *monitor; /* libvirt's own monitor socket (status file), or NULL */
	enum disc_state state;
	char *state_detail; /* QEMU's run state name when known */
	const char *reason; /* why state is not QEMU's own answer ("monitor busy"):
			     * a static string, or NULL */
	unsigned sources;   /* enum disc_source bits */
	char *xml_path;	    /* the domain or status file the disks came from */
	char *not_domain;   /* a process named like (or with the uuid of) a domain it is
			     * not: that domain's file; NULL otherwise */
	struct disc_disk *disks;
	size_t n_disks;
};

struct disc_list {
	struct disc_vm *vms;
	size_t n;
	char **warnings; /* one line each: "FILE: what is wrong" */
	size_t n_warnings;
	bool libvirtd_running;
};

struct disc_opts {
	const char *libvirt_dir; /* NULL: /etc/libvirt/qemu */
	const char *run_dir;	 /* NULL: /run/libvirt/qemu */
	const char *proc_dir;	 /* NULL: /proc */
	bool no_proc;		 /* skip the process scan */
};

/* Fills *list (zeroed by the caller, freed with discover_list_free).  A
 * missing directory is not an error (libvirt may not be installed); one
 * that exists but cannot be read is. */
int discover_scan(const struct disc_opts *opts, struct disc_list *list, struct qc_error **errp);
void discover_list_free(struct disc_list *list);

/* The one VM that `what` names: by name, uuid, or pid (all digits).  When
 * it names more than one (two domain files with one uuid, a process named
 * like a domain it is not), NULL with *errp saying which they are and what
 * selects each; NULL with *errp untouched when it names none. */
struct disc_vm *discover_select(struct disc_list *list, const char *what, struct qc_error **errp);
/* discover_select without the error: NULL when none or several. */
struct disc_vm *discover_find(struct disc_list *list, const char *what);

/* Parsers, exposed for tests and fuzzing.  They fill *vm (zeroed by the
 * caller, freed with discover_vm_clear) from an XML document in memory. */
int discover_parse_domain(const char *xml, size_t len, const char *filename, struct disc_vm *vm,
			  struct qc_error **errp);
/* A status file: <domstatus state= pid=> with <monitor path=> and the
 * running <domain> inside. */
int discover_parse_status(const char *xml, size_t len, const char *filename, struct disc_vm *vm,
			  struct qc_error **errp);
void discover_vm_clear(struct disc_vm *vm);

const char *discover_state_name(enum disc_state state); /* "running", "shut off", ... */

/* ---- the live view (discover_live.c): pure functions over QMP replies ---- */

struct json_object;

/* Maps query-status's "status" to a state (running, paused, ...). */
enum disc_state discover_state_from_qmp(const char *status);

/* How asking a VM's monitor for query-status went. */
enum disc_probe {
	DISC_PROBE_ANSWERED, /* QEMU answered: status is its run state */
	DISC_PROBE_BUSY,     /* QEMU is there but serves another client (no greeting
			      * in time, or its queue of waiting clients is full) */
	DISC_PROBE_ABSENT,   /* nobody listens on the socket */
	DISC_PROBE_FAILED,   /* anything else (refused, an error reply, no reply) */
	DISC_PROBE_NONE,     /* no socket qmpctl may use */
};

/* The kind of a probe that did not answer: connected (the connect call
 * succeeded), greeted (QEMU's greeting arrived) and the failure's errnum. */
enum disc_probe discover_probe_kind(bool connected, bool greeted, int errnum);
/* Sets vm's state from a probe, never from a guess: QEMU's answer; for a
 * monitor that did not answer, libvirt's status file's state of the live
 * process when there is one, else unknown, with vm->reason saying why;
 * shut off only when nobody listens and no process is known. */
void discover_apply_probe(struct disc_vm *vm, enum disc_probe probe, const char *status);
/* The state as a table shows it: "running", QEMU's own name for other
 * states, and the reason in parentheses ("unknown (monitor busy)").
 * Newly allocated. */
char *discover_state_text(const struct disc_vm *vm);
/* Folds a query-block reply into vm's disks: disks matched by alias, node
 * name, device or source take the live file, format, node and backing
 * chain (after external snapshots the live file differs from the XML);
 * devices nothing matched are added. */
void discover_apply_query_block(struct disc_vm *vm, struct json_object *blocks);

#endif
