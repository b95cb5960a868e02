/*
 * The qmpctl program: shared state of one run and the verb table.
 *
 * One file per verb (cmd-*.c) defines a `const struct qc_cmd`; commands.c
 * lists them.  Verbs return an exit code: 0 success, 1 failure (after
 * printing "qmpctl: message"), 2 bad usage.
 */
#ifndef QMPCTL_H
#define QMPCTL_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>

#include "qc_error.h"
#include "qmp_session.h"

struct event_base;
struct json_object;

#define EXIT_USAGE 2
#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_LIBVIRT_DIR "/etc/libvirt/qemu"
#define DEFAULT_RUN_DIR "/run/libvirt/qemu"

struct qmp_vm;

struct qc_ctx {
	struct event_base *base;
	const char *socket;  /* -s: the VM argument is left out */
	bool json;           /* --json */
	unsigned timeout_ms; /* -t; 0 when not given */
	int verbose;         /* -v: trace messages; -vv: and debug logs */
	const char *libvirt_dir; /* --libvirt-dir or $QMPCTL_LIBVIRT_DIR */
	const char *run_dir;     /* --run-dir or $QMPCTL_RUN_DIR */
	/* Signals the verb catches (qc_cmd.signals): the last one caught, set
	 * at once; cancel is set with it.  on_signal, when the verb sets it, is
	 * called from the event loop. */
	volatile sig_atomic_t signo;
	volatile bool cancel;
	void (*on_signal)(void *opaque, int signo);
	void *signal_opaque;
	struct event *sig_events[3]; /* main's, for QC_SIGINT/TERM/HUP */
};

/* What a verb needs of a VM before it runs. */
enum qc_need {
	QC_VM_NONE,     /* no VM argument (list, image ...) */
	QC_VM_ARG,      /* a VM argument, resolved (shut-off VMs too); no session */
	QC_VM_LIVE,     /* a READY session to the VM */
};

/* Signals a verb catches instead of dying (main installs them just before
 * exec).  QC_SIG_NOLOOP: the verb runs no event loop while it waits for
 * them, so a plain handler sets ctx->signo and blocking calls fail with
 * EINTR. */
#define QC_SIGINT 1u
#define QC_SIGTERM 2u
#define QC_SIGHUP 4u
#define QC_SIG_NOLOOP 8u
#define QC_SIGS (QC_SIGINT | QC_SIGTERM | QC_SIGHUP)

/* The one place signals are caught: on the event loop (ctx->on_signal
 * runs from it), or with QC_SIG_NOLOOP by a plain handler.  main calls it
 * with the table's signals before exec; a verb that catches them only in
 * one mode (the interactive shell) calls it itself.  main restores
 * nothing: the run ends after exec. */
void cli_catch_signals(struct qc_ctx *ctx, unsigned which);

/* What main hands a verb: its arguments after the VM, the VM, the session. */
struct qc_run {
	const struct qc_cmd *cmd; /* the entry being run */
	int argc;
	char **argv;
	struct qmp_vm *vm;     /* QC_VM_ARG, QC_VM_LIVE; NULL otherwise */
	struct qmp_session *s; /* QC_VM_LIVE: READY (owned by vm) */
};

/* One table entry.  A group (exec NULL) only gathers sub-verbs ("snapshot"
 * for "snapshot create" ...) for --help. */
struct qc_cmd {
	const char *name;    /* "list", "snapshot create" */
	const char *summary; /* one line for the command list */
	const char *usage;   /* full --help text, starting with "Usage: " */
	const char *shortopts;         /* the verb's own; common ones are added */
	const struct option *longopts; /* the verb's own, NULL-terminated, or NULL */
	/* Takes one of the verb's options: 0 taken, 1 unknown, -1 bad value
	 * (after printing why). */
	int (*opt)(void *opts, int opt, const char *arg);
	void *opts;          /* passed to opt: the verb's option struct */
	int min_args, max_args; /* positional arguments after the VM; max -1: any */
	const char *args_name;  /* for "no NAME given"; NULL: "missing argument" */
	enum qc_need vm;
	unsigned signals;       /* QC_SIG*: caught, see above */
	int (*exec)(struct qc_ctx *ctx, const struct qc_run *run);
};

extern const struct qc_cmd *const qc_commands[];

/* The entry argv names: the first two words for a sub-verb, else the first
 * (a group when only its name matches).  *nwords: how many it took. */
const struct qc_cmd *qc_cmd_find(const struct qc_cmd *const *table, int argc, char **argv, int *nwords);
/* The name nearest to word (edit distance), or NULL when none is near. */
const char *qc_cmd_suggest(const struct qc_cmd *const *table, const char *word);
size_t qc_edit_distance(const char *a, const char *b);

/* Parses a verb's options (common ones included) from argv[1...], leaving
 * optind at the first positional argument.  True to go on; false to end
 * with *exit_code: 0 after --help (printed), 2 on bad usage (said). */
bool cli_parse_opts(struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv, int *exit_code);
int cli_parse_timeout(const char *arg, unsigned *ms);

/* Errors and usage on stderr. */
void cli_error(const char *fmt, ...) QC_PRINTF(1, 2);
int cli_fail(struct qc_error *err); /* prints "qmpctl: [CLASS: ]msg", frees, returns 1 */
/* "qmpctl: <what>" and the Try line; returns EXIT_USAGE. */
int cli_usage_error(const struct qc_cmd *cmd, const char *fmt, ...) QC_PRINTF(2, 3);
/* The Try line alone (after a message of the caller's); EXIT_USAGE. */
int cli_try_help(const struct qc_cmd *cmd);

struct disc_opts;
struct disc_list;
struct disc_vm;
/* Discovery options from the context (directories, defaults). */
void cli_disc_opts(const struct qc_ctx *ctx, struct disc_opts *opts);
/* The address to use for a discovered VM, or NULL with *errp set. */
char *cli_vm_address(const struct disc_list *list, const struct disc_vm *vm, struct qc_error **errp);
/* Opens (or reopens) the session of a resolved VM with session options of
 * the caller's (timeouts still from -t).  NULL after printing the error. */
struct qmp_session *cli_connect(struct qc_ctx *ctx, struct qmp_vm *vm, const struct qmp_session_opts *opts);
/* The timeout a verb should use for one command. */
unsigned cli_timeout(const struct qc_ctx *ctx);

/* Runs the loop until the event name comes on s (0), or until timeout_ms,
 * the session's end or an interrupt (ctx->cancel): -1 with *errp set. */
int cli_wait_event(struct qc_ctx *ctx, struct qmp_session *s, const char *name, unsigned timeout_ms,
		   struct qc_error **errp);

/* virsh's state and reason for a QEMU run state (query-status' status),
 * as libvirt maps them; QMP cannot tell a running VM's reason. */
void cli_state_words(const char *status, const char **state, const char **reason);

/* The VM's disks as 'qmpctl disks' shows them, with the live view
 * (query-block, returned for the caller to put) applied: *vmp is the VM's
 * discovery entry, or holder (cleared by the caller) for a socket. */
struct json_object *cli_live_disks(struct qc_ctx *ctx, const struct qc_run *run, struct disc_vm *holder,
				   struct disc_vm **vmp, struct qc_error **errp);
/* The disk of target (vda, drive0 ...), or NULL with an error naming the
 * VM's disks. */
const struct disc_disk *cli_find_disk(const struct disc_vm *vm, const char *target, struct qc_error **errp);

/* Output. */
void cli_print_json(const struct qc_ctx *ctx, struct json_object *v);
void cli_trace(void *opaque, bool outgoing, const char *json);
/* A JSON string, or JSON null for NULL. */
struct json_object *cli_json_str(const char *s);
/* Every time qmpctl writes into JSON, in RFC 3339 with a numeric offset:
 * 2026-12-01T20:03:10+00:00 (usec >= 0 adds .UUUUUU before the offset).
 * utc: in UTC, else in local time.  "-" when sec is out of range. */
#define CLI_TIME_LEN 80
void cli_rfc3339(char buf[CLI_TIME_LEN], int64_t sec, long usec, bool utc);

/* A virsh-style table. */
struct cli_table {
	size_t ncols;
	const char *const *heads;
	char ***rows;
	size_t nrows;
};
void cli_table_init(struct cli_table *t, size_t ncols, const char *const heads[]);
/* cells: ncols strings (copied); NULL shows as "-". */
void cli_table_add(struct cli_table *t, const char *const cells[]);
void cli_table_print(const struct cli_table *t);
void cli_table_free(struct cli_table *t);

#endif
