/* qc_spawn: posix_spawn wrappers; children get an argv, never a shell. */
#include "qc_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int add_stream(posix_spawn_file_actions_t *fa, int fd, int target, int flags)
{
	if (fd == QC_SPAWN_INHERIT)
		return 0;
	if (fd < 0)
		return posix_spawn_file_actions_addopen(fa, target, "/dev/null", flags, 0);
	/* With fd == target, glibc (since 2.29, as POSIX now asks) clears
	 * FD_CLOEXEC so the child keeps it. */
	return posix_spawn_file_actions_adddup2(fa, fd, target);
}

/* In the child of fork_spawn: only async-signal-safe calls until exec. */
static void child_exec(const char *const argv[], const struct qc_spawn_opts *opts, const int fds[3], pid_t parent,
		       int errfd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int e;

	if (opts->die_with_parent) {
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
			goto fail;
		/* The parent may have died before prctl: then nobody would tell us. */
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
	}
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int i = 0; i < 3; i++) {
		if (fds[i] == QC_SPAWN_INHERIT)
			continue;
		if (fds[i] == i) {
			if (fcntl(i, F_SETFD, 0) < 0)
				goto fail;
		} else if (dup2(fds[i], i) < 0) {
			goto fail;
		}
	}
	if (opts->keep_fd > 2 && fcntl(opts->keep_fd, F_SETFD, 0) < 0)
		goto fail;
	if (opts->search_path)
		execvp(argv[0], (char *const *)argv);
	else
		execv(argv[0], (char *const *)argv);
fail:
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0) {
		/* nothing left to tell it with */
	}
	_exit(127);
}

static pid_t fork_spawn(const char *const argv[], const struct qc_spawn_opts *opts, struct qc_error **errp)
{
	const int want[3] = { opts->stdin_fd, opts->stdout_fd, opts->stderr_fd };
	int fds[3] = { QC_SPAWN_INHERIT, QC_SPAWN_INHERIT, QC_SPAWN_INHERIT }, ep[2], e = 0;
	pid_t parent = getpid(), pid = -1;
	ssize_t got;

	/* /dev/null opened here: the child only duplicates descriptors. */
	for (int i = 0; i < 3; i++) {
		fds[i] = want[i];
		if (want[i] != QC_SPAWN_INHERIT && want[i] < 0) {
			fds[i] = open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
			if (fds[i] < 0) {
				qc_error_set_errno(errp, errno, "cannot open /dev/null");
				goto out;
			}
		}
	}
	if (pipe2(ep, O_CLOEXEC) < 0) {
		qc_error_set_errno(errp, errno, "cannot run %s", argv[0]);
		goto out;
	}
	pid = fork();
	if (pid == 0)
		child_exec(argv, opts, fds, parent, ep[1]);
	close(ep[1]);
	if (pid < 0) {
		qc_error_set_errno(errp, errno, "cannot run %s", argv[0]);
		close(ep[0]);
		goto out;
	}
	/* exec closes the pipe (EOF, nothing read); a failure sends errno. */
	do
		got = read(ep[0], &e, sizeof(e));
	while (got < 0 && errno == EINTR);
	close(ep[0]);
	if (got == (ssize_t)sizeof(e)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		qc_error_set_errno(errp, e, "cannot run %s", argv[0]);
		pid = -1;
	}
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] != want[i] && fds[i] >= 0)
			close(fds[i]);
	return pid;
}

pid_t qc_spawn(const char *const argv[], const struct qc_spawn_opts *opts, struct qc_error **errp)
{
	struct qc_spawn_opts def = { .stdin_fd = QC_SPAWN_INHERIT,
				     .stdout_fd = QC_SPAWN_INHERIT,
				     .stderr_fd = QC_SPAWN_INHERIT,
				     .search_path = true };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	pid_t pid = -1;
	int rc;

	if (!argv || !argv[0]) {
		qc_error_set(errp, "nothing to run");
		return -1;
	}
	if (!opts)
		opts = &def;
	if (opts->die_with_parent || opts->keep_fd > 2)
		return fork_spawn(argv, opts, errp);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* The child starts with default signal dispositions and an empty
	 * mask whatever the parent ignores or blocks (SIGPIPE, SIGINT). */
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	sigfillset(&none);
	sigdelset(&none, SIGKILL);
	sigdelset(&none, SIGSTOP);
	posix_spawnattr_setsigdefault(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

	rc = add_stream(&fa, opts->stdin_fd, STDIN_FILENO, O_RDONLY);
	if (!rc)
		rc = add_stream(&fa, opts->stdout_fd, STDOUT_FILENO, O_WRONLY);
	if (!rc)
		rc = add_stream(&fa, opts->stderr_fd, STDERR_FILENO, O_WRONLY);
	if (!rc) {
		if (opts->search_path)
			rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
		else
			rc = posix_spawn(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc) {
		qc_error_set_errno(errp, rc, "cannot run %s", argv[0]);
		return -1;
	}
	return pid;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int qc_spawn_wait(pid_t pid, int timeout_ms, int *status, struct qc_error **errp)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	int pidfd = -1;
	int st = 0;

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	for (;;) {
		pid_t r = waitpid(pid, &st, timeout_ms < 0 ? 0 : WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			qc_error_set_errno(errp, errno, "cannot wait for process %d", (int)pid);
			goto fail;
		}
		if (r == 0) {
			long long left = deadline - now_ms();

			if (left <= 0) {
				qc_error_set(errp, "process %d still running after %d ms", (int)pid, timeout_ms);
				goto fail;
			}
			if (pidfd >= 0) {
				struct pollfd p = { .fd = pidfd, .events = POLLIN };

				poll(&p, 1, (int)left);
			} else {
				struct timespec ts = { 0, 5 * 1000 * 1000 };

				nanosleep(&ts, NULL);
			}
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (status)
		*status = st;
	return 0;
fail:
	if (pidfd >= 0)
		close(pidfd);
	return -1;
}

int qc_spawn_run(const char *const argv[], const struct qc_spawn_opts *opts, int timeout_ms,
		 struct qc_error **errp)
{
	int status;
	pid_t pid = qc_spawn(argv, opts, errp);

	if (pid < 0)
		return -1;
	if (qc_spawn_wait(pid, timeout_ms, &status, errp) < 0)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}
