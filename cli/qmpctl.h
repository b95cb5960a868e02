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
#include <stdbool.h>

#include "qc_error.h"
#include "qmp_session.h"

struct event_base;
struct json_object;

#define EXIT_USAGE 2
#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_LIBVIRT_DIR "/etc/libvirt/qemu"
#define DEFAULT_RUN_DIR "/run/libvirt/qemu"

struct qc_ctx {
	struct event_base *base;
	const char *socket;  /* -s: the VM argument is left out */
	bool json;           /* --json */
	unsigned timeout_ms; /* -t; 0 when not given */
	int verbose;         /* -v: trace messages; -vv: and debug logs */
	const char *libvirt_dir; /* --libvirt-dir or $QMPCTL_LIBVIRT_DIR */
	const char *run_dir;     /* --run-dir or $QMPCTL_RUN_DIR */
};

struct qc_cmd {
	const char *name;
	const char *summary; /* one line for the command list */
	const char *usage;   /* full --help text, starting with "Usage: " */
	int (*exec)(struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv);
};

extern const struct qc_cmd qc_cmd_qmp;
extern const struct qc_cmd qc_cmd_hmp;
extern const struct qc_cmd qc_cmd_events;
extern const struct qc_cmd qc_cmd_list;
extern const struct qc_cmd qc_cmd_disks;
extern const struct qc_cmd qc_cmd_snapshot;
extern const struct qc_cmd qc_cmd_image;
extern const struct qc_cmd qc_cmd_shell;
extern const struct qc_cmd qc_cmd_tap;

extern const struct qc_cmd *const qc_commands[];
const struct qc_cmd *qc_command_find(const char *name);

/* Options every verb accepts beside its own; append to a verb's table. */
#define QC_COMMON_LONGOPTS                                                                                   \
	{ "socket", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'J' },                        \
		{ "timeout", required_argument, NULL, 't' }, { "verbose", no_argument, NULL, 'v' },            \
		{ "help", no_argument, NULL, 'h' }, { "libvirt-dir", required_argument, NULL, 'L' },          \
		{ "run-dir", required_argument, NULL, 'R' }
#define QC_COMMON_SHORTOPTS "s:t:vh"

/* Handles a common option; returns 1 if handled, 0 if not a common option,
 * -1 on a bad value (message printed).  'h' prints the verb's usage and
 * returns 2 through *exit_now set to 0. */
int cli_common_opt(struct qc_ctx *ctx, const struct qc_cmd *cmd, int opt, const char *arg, int *exit_now);
int cli_parse_timeout(const char *arg, unsigned *ms);
/* Resets getopt for a verb's own parse. */
void cli_getopt_reset(void);
/* Parses a verb's options (common ones included; own() gets the rest and
 * returns 0 when it took the option, 1 when it is unknown, -1 on a bad
 * value after printing why).  Returns -1 to go on with argv[optind...], or
 * the exit code to end with (0 after --help, 2 on bad usage). */
int cli_parse_opts(struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv, const char *shortopts,
		   const struct option *longopts, int (*own)(void *opaque, int opt, const char *arg), void *opaque);
int cli_bad_option(const struct qc_cmd *cmd, char **argv);
/* Takes the VM argument from argv[*i] unless --socket stands for it.
 * Returns -1 to go on, or the exit code of a usage error. */
int cli_take_vm(const struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv, int *i,
		const char **vm);
/* -1 when argv[i...] is empty, else the exit code of a usage error. */
int cli_no_more_args(const struct qc_cmd *cmd, int argc, char **argv, int i);

/* Errors and usage on stderr. */
void cli_error(const char *fmt, ...) QC_PRINTF(1, 2);
int cli_fail(struct qc_error *err); /* prints "qmpctl: [CLASS: ]msg", frees, returns 1 */
int cli_usage_error(const struct qc_cmd *cmd, const char *fmt, ...) QC_PRINTF(2, 3);

struct disc_opts;
struct disc_list;
struct disc_vm;
/* Discovery options from the context (directories, defaults). */
void cli_disc_opts(const struct qc_ctx *ctx, struct disc_opts *opts);
/* Runs discovery and finds VM (name, uuid or pid); prints the error and
 * returns NULL when there is none.  *list must be freed by the caller. */
struct disc_vm *cli_find_vm(const struct qc_ctx *ctx, const char *vm, struct disc_list *list);
/* The QMP address for VM: --socket, a path, or what discovery finds.
 * Returns a string to free, or NULL after printing why not. */
char *cli_resolve_vm(const struct qc_ctx *ctx, const char *vm);
/* The address to use for a discovered VM, or NULL with *errp set. */
char *cli_vm_address(const struct disc_list *list, const struct disc_vm *vm, struct qc_error **errp);
/* True when vm names a socket rather than a VM. */
bool cli_is_address(const char *vm);

/* Takes the VM argument (unless --socket was given) from argv[*optind] and
 * connects.  Returns a READY session or NULL after printing the error. */
struct qmp_session *cli_open_vm(struct qc_ctx *ctx, const char *vm);
/* The same with session options of the caller's (timeouts still from -t). */
struct qmp_session *cli_open_vm_opts(struct qc_ctx *ctx, const char *vm, const struct qmp_session_opts *opts);
/* The timeout a verb should use for one command. */
unsigned cli_timeout(const struct qc_ctx *ctx);

/* Output. */
void cli_print_json(const struct qc_ctx *ctx, struct json_object *v);
void cli_trace(void *opaque, bool outgoing, const char *json);
/* A JSON string, or JSON null for NULL. */
struct json_object *cli_json_str(const char *s);

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
