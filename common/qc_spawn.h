/*
 * qc_spawn: start child programs with posix_spawn and an argv.  Never a
 * shell: no quoting issues, no injection.
 */
#ifndef QC_SPAWN_H
#define QC_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "qc_error.h"

struct qc_spawn_opts {
	/* File descriptors for the child's stdin/stdout/stderr: -1 means
	 * /dev/null, QC_SPAWN_INHERIT keeps the parent's. */
	int stdin_fd;
	int stdout_fd;
	int stderr_fd;
	/* Look argv[0] up in PATH (posix_spawnp) when it has no '/'. */
	bool search_path;
	/* The child gets SIGTERM when the parent dies, however it dies (even
	 * SIGKILL: PR_SET_PDEATHSIG), and a process group of its own, so a
	 * terminal's Ctrl-C or hangup reaches only the parent, which decides.
	 * The program must be single-threaded (the death signal follows the
	 * thread that forked). */
	bool die_with_parent;
	/* One more descriptor (> 2) the child keeps under the same number
	 * (e.g. a socket it is told about with fd=N); 0: none. */
	int keep_fd;
};

#define QC_SPAWN_INHERIT (-2)

/* Starts argv[0] with argv (NULL-terminated) and the caller's environment
 * (posix_spawn; fork and exec when die_with_parent or keep_fd asks for
 * what posix_spawn cannot do).
 * opts may be NULL (all three streams inherited, PATH searched).  Returns the
 * child's pid, or -1 with *errp set. */
pid_t qc_spawn(const char *const argv[], const struct qc_spawn_opts *opts, struct qc_error **errp);

/* Waits for pid to end, at most timeout_ms (-1: forever).  Returns 0 and the
 * wait status in *status; -1 with *errp set on timeout or failure (the child
 * is left running: the caller decides whether to kill it). */
int qc_spawn_wait(pid_t pid, int timeout_ms, int *status, struct qc_error **errp);

/* Runs argv to completion and returns its exit code (128+signal when killed
 * by a signal), or -1 with *errp set when it could not be run. */
int qc_spawn_run(const char *const argv[], const struct qc_spawn_opts *opts, int timeout_ms,
		 struct qc_error **errp);

#endif
