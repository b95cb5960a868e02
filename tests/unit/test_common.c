/*
 * Unit tests for common/: qc_error, qc_buf (with qc_buf_append_quoted),
 * qc_log and qc_spawn.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "qc_buf.h"
#include "qc_error.h"
#include "qc_log.h"
#include "qc_op.h"
#include "qc_spawn.h"

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- qc_error ----------------------------------------------------------------- */

static void test_error_set(void **state)
{
	struct qc_error *err = NULL;

	qc_error_set(&err, "disk %s has %d snapshots", "vda", 3);
	assert_non_null(err);
	assert_string_equal(err->msg, "disk vda has 3 snapshots");
	assert_null(err->qmp_class);
	assert_int_equal(err->errnum, 0);

	/* The first error (the root cause) wins. */
	qc_error_set(&err, "second");
	assert_string_equal(err->msg, "disk vda has 3 snapshots");
	qc_error_free(err);

	/* errp NULL: nothing to do, nothing to crash. */
	qc_error_set(NULL, "ignored %d", 1);
	qc_error_set_errno(NULL, EIO, "ignored");
	qc_error_set_qmp(NULL, "GenericError", "ignored");
	qc_error_prepend(NULL, "ignored");
}

static void vset(struct qc_error **errp, const char *fmt, ...) QC_PRINTF(2, 3);
static void vset(struct qc_error **errp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	qc_error_setv(errp, fmt, ap);
	va_end(ap);
}

static void test_error_setv_long(void **state)
{
	struct qc_error *err = NULL;
	char big[5000];

	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	vset(&err, "<%s>", big);
	assert_non_null(err);
	assert_int_equal(strlen(err->msg), sizeof(big) - 1 + 2);
	assert_int_equal(err->msg[0], '<');
	assert_int_equal(err->msg[sizeof(big)], '>');
	qc_error_free(err);
}

static void test_error_set_errno(void **state)
{
	struct qc_error *err = NULL;
	char expect[256];

	qc_error_set_errno(&err, ENOENT, "cannot open %s", "/x/y");
	assert_non_null(err);
	snprintf(expect, sizeof(expect), "cannot open /x/y: %s", strerror(ENOENT));
	assert_string_equal(err->msg, expect);
	assert_int_equal(err->errnum, ENOENT);
	assert_null(err->qmp_class);
	qc_error_free(err);
}

static void test_error_set_qmp(void **state)
{
	struct qc_error *err = NULL;

	qc_error_set_qmp(&err, "CommandNotFound", "The command foo has not been found");
	assert_non_null(err);
	assert_non_null(err->qmp_class);
	assert_string_equal(err->qmp_class, "CommandNotFound");
	assert_non_null(strstr(err->msg, "The command foo has not been found"));
	assert_int_equal(err->errnum, 0);
	qc_error_free(err);
}

static void test_error_prepend(void **state)
{
	struct qc_error *err = NULL;

	qc_error_prepend(&err, "nothing to prefix");
	assert_null(err);

	qc_error_set_errno(&err, EACCES, "open");
	qc_error_prepend(&err, "snapshot %s", "s1");
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "snapshot s1: open: "));
	assert_int_equal(strncmp(err->msg, "snapshot s1: open", 17), 0);
	assert_int_equal(err->errnum, EACCES); /* kept */
	qc_error_free(err);

	err = NULL;
	qc_error_set_qmp(&err, "GenericError", "boom");
	qc_error_prepend(&err, "savevm");
	assert_string_equal(err->qmp_class, "GenericError");
	assert_int_equal(strncmp(err->msg, "savevm: ", 8), 0);
	assert_non_null(strstr(err->msg, "boom"));
	qc_error_free(err);
}

/* A wrapped error keeps what callers decide on: errnum and QMP class. */
static void test_error_prefix(void **state)
{
	struct qc_error *err = NULL, *src = NULL, *other = NULL;

	(void)state;
	qc_error_prefix(&err, NULL, "nothing");
	assert_null(err);

	qc_error_set_errno(&src, ENOENT, "cannot open");
	qc_error_prefix(&err, src, "cannot open backing file %s", "b.qcow2");
	assert_non_null(err);
	assert_ptr_equal(err, src); /* moved, not copied */
	assert_int_equal(strncmp(err->msg, "cannot open backing file b.qcow2: cannot open: ", 47), 0);
	assert_int_equal(err->errnum, ENOENT);
	assert_null(err->qmp_class);

	/* *dst already set: the first error stays, src is freed (valgrind). */
	qc_error_set_qmp(&other, "DeviceNotFound", "no such device");
	qc_error_prefix(&err, other, "later");
	assert_int_equal(err->errnum, ENOENT);
	qc_error_free(err);

	err = NULL;
	other = NULL;
	qc_error_set_qmp(&other, "DeviceNotFound", "no such device");
	qc_error_prefix(&err, other, "d0");
	assert_string_equal(err->qmp_class, "DeviceNotFound");
	assert_string_equal(err->msg, "d0: no such device");
	qc_error_free(err);

	/* No destination: freed. */
	other = NULL;
	qc_error_set(&other, "dropped");
	qc_error_prefix(NULL, other, "x");
}

static void test_error_propagate_copy(void **state)
{
	struct qc_error *dst = NULL, *src = NULL, *other = NULL, *copy;

	qc_error_set_qmp(&src, "DeviceNotFound", "Device 'vdz' not found");
	src->errnum = ENODEV;
	qc_error_propagate(&dst, src);
	assert_ptr_equal(dst, src); /* moved, not copied */

	/* dst already set: src is freed (valgrind/ASan see a leak otherwise). */
	qc_error_set(&other, "later");
	qc_error_propagate(&dst, other);
	assert_ptr_equal(dst, src);
	assert_non_null(strstr(dst->msg, "vdz"));

	/* dst NULL: src is freed. */
	other = NULL;
	qc_error_set(&other, "dropped");
	qc_error_propagate(NULL, other);

	copy = qc_error_copy(dst);
	assert_non_null(copy);
	assert_ptr_not_equal(copy, dst);
	assert_ptr_not_equal(copy->msg, dst->msg);
	assert_string_equal(copy->msg, dst->msg);
	assert_non_null(copy->qmp_class);
	assert_ptr_not_equal(copy->qmp_class, dst->qmp_class);
	assert_string_equal(copy->qmp_class, "DeviceNotFound");
	assert_int_equal(copy->errnum, ENODEV);
	qc_error_free(dst);
	/* The copy outlives the original. */
	assert_non_null(strstr(copy->msg, "vdz"));
	qc_error_free(copy);

	struct qc_error *plain = NULL;
	qc_error_set(&plain, "no class");
	copy = qc_error_copy(plain);
	assert_null(copy->qmp_class);
	qc_error_free(plain);
	qc_error_free(copy);
}

/* ---- qc_buf --------------------------------------------------------------------- */

static void test_buf_basics(void **state)
{
	struct qc_buf b = { 0 };

	assert_string_equal(qc_buf_str(&b), "");
	assert_int_equal(b.len, 0);
	qc_buf_append(&b, "ab", 2);
	qc_buf_append_str(&b, "cd");
	qc_buf_append_c(&b, 'e');
	qc_buf_printf(&b, "-%d-%s", 42, "x");
	assert_int_equal(b.len, 10);
	assert_string_equal(qc_buf_str(&b), "abcde-42-x");
	assert_int_equal(b.data[b.len], '\0');
	assert_true(b.cap >= b.len + 1);

	qc_buf_consume(&b, 3);
	assert_int_equal(b.len, 7);
	assert_string_equal(qc_buf_str(&b), "de-42-x");
	qc_buf_consume(&b, 0);
	assert_string_equal(qc_buf_str(&b), "de-42-x");
	qc_buf_consume(&b, b.len);
	assert_int_equal(b.len, 0);
	assert_string_equal(qc_buf_str(&b), "");

	qc_buf_append_str(&b, "again");
	qc_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(qc_buf_str(&b), "");
	qc_buf_append_str(&b, "z");
	assert_string_equal(qc_buf_str(&b), "z");
	qc_buf_free(&b);
}

static void test_buf_binary_and_growth(void **state)
{
	struct qc_buf b = { 0 };
	char chunk[1000];

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)(i % 251);
	for (int i = 0; i < 100; i++)
		qc_buf_append(&b, chunk, sizeof(chunk));
	assert_int_equal(b.len, 100000);
	for (int i = 0; i < 100; i++)
		assert_memory_equal(b.data + i * 1000, chunk, sizeof(chunk));
	assert_int_equal(b.data[b.len], '\0');

	qc_buf_consume(&b, 99500);
	assert_int_equal(b.len, 500);
	assert_memory_equal(b.data, chunk + 500, 500);
	assert_int_equal(b.data[b.len], '\0');

	/* printf bigger than any small initial buffer. */
	qc_buf_reset(&b);
	char big[10000];
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	qc_buf_printf(&b, "[%s]", big);
	assert_int_equal(b.len, sizeof(big) + 1);
	assert_int_equal(b.data[0], '[');
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(b.data[b.len], '\0');
	qc_buf_free(&b);
}

static void test_buf_steal(void **state)
{
	struct qc_buf b = { 0 };
	char *s;

	s = qc_buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	qc_buf_append_str(&b, "hello");
	s = qc_buf_steal(&b);
	assert_string_equal(s, "hello");
	assert_int_equal(b.len, 0);
	assert_string_equal(qc_buf_str(&b), "");
	qc_buf_append_str(&b, "next"); /* b is usable and independent of s */
	assert_string_equal(s, "hello");
	assert_string_equal(qc_buf_str(&b), "next");
	free(s);
	qc_buf_free(&b);
}

static bool all_printable(const char *s)
{
	for (; *s; s++)
		if (!isprint((unsigned char)*s))
			return false;
	return true;
}

static void test_buf_append_quoted(void **state)
{
	struct qc_buf b = { 0 };

	qc_buf_append_quoted(&b, "abc", 3, 100);
	assert_string_equal(qc_buf_str(&b), "\"abc\"");

	qc_buf_reset(&b);
	qc_buf_append_quoted(&b, "", 0, 100);
	assert_string_equal(qc_buf_str(&b), "\"\"");

	qc_buf_reset(&b);
	qc_buf_append_quoted(&b, "a\0b\nc\rd\te", 9, 100);
	assert_true(all_printable(qc_buf_str(&b)));
	assert_non_null(strstr(qc_buf_str(&b), "a\\x00b"));
	assert_non_null(strstr(qc_buf_str(&b), "\\n"));
	assert_non_null(strstr(qc_buf_str(&b), "\\r"));
	assert_null(strstr(qc_buf_str(&b), "..."));

	qc_buf_reset(&b);
	qc_buf_append_quoted(&b, "\xff\x01\x7f", 3, 100);
	assert_true(all_printable(qc_buf_str(&b)));
	assert_non_null(strstr(qc_buf_str(&b), "\\xff"));
	assert_non_null(strstr(qc_buf_str(&b), "\\x01"));

	/* A quote inside must not end the quoted text early. */
	qc_buf_reset(&b);
	qc_buf_append_quoted(&b, "say \"hi\"", 8, 100);
	assert_true(all_printable(qc_buf_str(&b)));
	assert_non_null(strstr(qc_buf_str(&b), "\\\"hi\\\""));

	/* Truncation: at most max bytes of data, then "...". */
	qc_buf_reset(&b);
	qc_buf_append_quoted(&b, "abcdefghij", 10, 4);
	assert_non_null(strstr(qc_buf_str(&b), "abcd"));
	assert_null(strstr(qc_buf_str(&b), "abcde"));
	assert_non_null(strstr(qc_buf_str(&b), "..."));

	/* Exactly max bytes: nothing cut. */
	qc_buf_reset(&b);
	qc_buf_append_quoted(&b, "abcd", 4, 4);
	assert_string_equal(qc_buf_str(&b), "\"abcd\"");

	/* Appends to what is there; binary input longer than max. */
	char junk[5000];
	memset(junk, 0, sizeof(junk));
	qc_buf_reset(&b);
	qc_buf_append_str(&b, "got ");
	qc_buf_append_quoted(&b, junk, sizeof(junk), 16);
	assert_int_equal(strncmp(qc_buf_str(&b), "got \"", 5), 0);
	assert_true(b.len < 200);
	assert_non_null(strstr(qc_buf_str(&b), "..."));
	qc_buf_free(&b);
}

static void test_alloc_helpers(void **state)
{
	char *s = qc_strdup("snap");
	assert_string_equal(s, "snap");
	free(s);
	s = qc_strndup("snapshot", 4);
	assert_string_equal(s, "snap");
	free(s);
	s = qc_asprintf("%s-%03d", "vm", 7);
	assert_string_equal(s, "vm-007");
	free(s);
	int *z = qc_calloc(16, sizeof(int));
	for (int i = 0; i < 16; i++)
		assert_int_equal(z[i], 0);
	z = qc_realloc(z, 1000 * sizeof(int));
	assert_int_equal(z[15], 0);
	free(z);
	free(qc_malloc(1));
}

static void test_strndup_short_source(void **state)
{
	/* Like strndup: n is a maximum, s may end before it.  Kept last in the
	 * list, since ASan stops the program at an overread. */
	char *s = qc_strndup("ab", 10);

	assert_string_equal(s, "ab");
	free(s);
}

/* ---- qc_log -------------------------------------------------------------------- */

struct log_rec {
	int n;
	enum qc_log_level level;
	char msg[256];
};

static void log_handler(void *opaque, enum qc_log_level level, const char *msg)
{
	struct log_rec *r = opaque;

	r->n++;
	r->level = level;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static void test_log(void **state)
{
	struct log_rec r = { 0 };

	qc_log(QC_LOG_ERROR, "dropped %d", 1); /* no handler: dropped */
	qc_log_set_handler(log_handler, &r);
	qc_log(QC_LOG_WARN, "monitor %s busy", "m0");
	assert_int_equal(r.n, 1);
	assert_int_equal(r.level, QC_LOG_WARN);
	assert_string_equal(r.msg, "monitor m0 busy");
	qc_log(QC_LOG_DEBUG, "%d", 5);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.level, QC_LOG_DEBUG);
	assert_string_equal(r.msg, "5");
	qc_log_set_handler(NULL, NULL);
	qc_log(QC_LOG_INFO, "dropped again");
	assert_int_equal(r.n, 2);
}

/* ---- qc_spawn ------------------------------------------------------------------ */

static void test_spawn_run_true_false(void **state)
{
	const char *t[] = { "/bin/true", NULL };
	const char *f[] = { "/bin/false", NULL };
	struct qc_error *err = NULL;

	assert_int_equal(qc_spawn_run(t, NULL, -1, &err), 0);
	assert_null(err);
	assert_int_equal(qc_spawn_run(f, NULL, 5000, &err), 1);
	assert_null(err); /* a non-zero exit is a result, not an error */
}

static void test_spawn_exit_codes(void **state)
{
	const char *e3[] = { "/bin/sh", "-c", "exit 3", NULL };
	const char *sig[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };
	struct qc_spawn_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .search_path = false };
	struct qc_error *err = NULL;

	assert_int_equal(qc_spawn_run(e3, &o, 5000, &err), 3);
	assert_null(err);
	assert_int_equal(qc_spawn_run(sig, &o, 5000, &err), 128 + SIGTERM);
	assert_null(err);
}

static void test_spawn_path_search(void **state)
{
	const char *argv[] = { "true", NULL };
	struct qc_spawn_opts search = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .search_path = true };
	struct qc_spawn_opts nosearch = search;
	struct qc_error *err = NULL;

	nosearch.search_path = false;
	assert_int_equal(qc_spawn_run(argv, &search, 5000, &err), 0);
	assert_null(err);
	assert_int_equal(qc_spawn_run(argv, NULL, 5000, &err), 0); /* NULL opts search PATH */
	assert_null(err);
	/* Without the search "true" is a file in the current directory. */
	if (access("true", F_OK) != 0) {
		int rc = qc_spawn_run(argv, &nosearch, 5000, &err);
		assert_int_not_equal(rc, 0);
		if (rc == -1)
			assert_non_null(err);
		qc_error_free(err);
	}
}

/* Valgrind runs posix_spawn's vfork as a fork, so an exec failure shows
 * up as exit status 127 instead of an error from posix_spawn. */
static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload");
}

static void test_spawn_missing_program(void **state)
{
	const char *argv[] = { "/nonexistent/qmpctl-no-such-program", "x", NULL };
	const char *argv2[] = { "qmpctl-no-such-program-either", NULL };
	struct qc_error *err = NULL;

	if (under_valgrind()) {
		int st = 0;
		pid_t pid = qc_spawn(argv, NULL, &err);

		if (pid > 0) {
			assert_int_equal(qc_spawn_wait(pid, 2000, &st, &err), 0);
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 127);
			skip();
		}
	}
	assert_int_equal(qc_spawn(argv, NULL, &err), -1);
	assert_non_null(err);
	if (!strstr(err->msg, "qmpctl-no-such-program"))
		fail_msg("error does not name the program: %s", err->msg);
	qc_error_free(err);
	err = NULL;

	assert_int_equal(qc_spawn_run(argv2, NULL, 5000, &err), -1);
	assert_non_null(err);
	qc_error_free(err);
}

static void test_spawn_redirect(void **state)
{
	const char *echo[] = { "/bin/echo", "hello", "world", NULL };
	const char *cat[] = { "/bin/cat", NULL };
	int pfd[2];
	char buf[64];
	ssize_t n;
	struct qc_error *err = NULL;

	assert_int_equal(pipe(pfd), 0);
	struct qc_spawn_opts o = { .stdin_fd = -1, .stdout_fd = pfd[1], .stderr_fd = QC_SPAWN_INHERIT };
	assert_int_equal(qc_spawn_run(echo, &o, 5000, &err), 0);
	assert_null(err);
	/* stdin -1 is /dev/null: cat ends at once with nothing. */
	assert_int_equal(qc_spawn_run(cat, &o, 5000, &err), 0);
	assert_null(err);
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "hello world\n");
	close(pfd[0]);
}

static void test_spawn_fd_already_in_place(void **state)
{
	/* stdout_fd 1 when fd 1 is close-on-exec (e.g. opened with O_CLOEXEC
	 * after stdout was closed): the child must still get it. */
	const char *echo[] = { "/bin/echo", "in place", NULL };
	struct qc_spawn_opts o = { .stdin_fd = -1, .stdout_fd = STDOUT_FILENO, .stderr_fd = -1 };
	struct qc_error *err = NULL;
	int pfd[2], saved, rc;
	char buf[64];
	ssize_t n;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(dup2(pfd[1], STDOUT_FILENO), STDOUT_FILENO);
	close(pfd[1]);
	fcntl(STDOUT_FILENO, F_SETFD, FD_CLOEXEC);
	rc = qc_spawn_run(echo, &o, 5000, &err);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	assert_int_equal(rc, 0);
	assert_null(err);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "in place\n");
}

static void test_spawn_wait_timeout_then_kill(void **state)
{
	const char *argv[] = { "sleep", "5", NULL };
	struct qc_spawn_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .search_path = true };
	struct qc_error *err = NULL;
	int status = -1;
	pid_t pid;
	long long t0;

	pid = qc_spawn(argv, &o, &err);
	assert_true(pid > 0);
	assert_null(err);

	t0 = mono_ms();
	assert_int_equal(qc_spawn_wait(pid, 100, &status, &err), -1);
	long long took = mono_ms() - t0;
	assert_non_null(err);
	assert_true(took >= 90);
	assert_true(took < 1500);
	qc_error_free(err);
	err = NULL;

	/* Left running: the caller decides. */
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	t0 = mono_ms();
	assert_int_equal(qc_spawn_wait(pid, 2000, &status, &err), 0);
	assert_null(err);
	assert_true(mono_ms() - t0 < 1500);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void test_spawn_wait_forever(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "exit 9", NULL };
	struct qc_error *err = NULL;
	int status = -1;
	pid_t pid = qc_spawn(argv, NULL, &err);

	assert_true(pid > 0);
	assert_int_equal(qc_spawn_wait(pid, -1, &status, &err), 0);
	assert_null(err);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 9);
}

static void test_spawn_run_timeout(void **state)
{
	const char *argv[] = { "/bin/sleep", "5", NULL };
	/* /dev/null streams: a child left behind must not hold ctest's pipes. */
	struct qc_spawn_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
	struct qc_error *err = NULL;
	long long t0 = mono_ms();
	int rc = qc_spawn_run(argv, &o, 100, &err);

	assert_true(mono_ms() - t0 < 1500);
	assert_int_equal(rc, -1);
	assert_non_null(err);
	qc_error_free(err);
}

/* die_with_parent: the child is ended when the process that spawned it
 * dies, even by SIGKILL.  An intermediate process spawns it and is killed;
 * we are the subreaper, so the orphan comes back to us to be reaped. */
static void test_spawn_die_with_parent(void **state)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };
	int p[2], st;
	pid_t mid, child = 0;

	(void)state;
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(p), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		struct qc_spawn_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .die_with_parent = true };
		pid_t c = qc_spawn(argv, &o, NULL);

		if (write(p[1], &c, sizeof(c)) != (ssize_t)sizeof(c))
			_exit(2);
		pause();
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &child, sizeof(child)), sizeof(child));
	close(p[0]);
	assert_true(child > 0);
	/* Its own process group: a terminal's Ctrl-C goes to the parent only. */
	assert_int_equal(getpgid(child), child);
	kill(mid, SIGKILL);
	assert_int_equal(waitpid(mid, &st, 0), mid);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* keep_fd: the child keeps one more descriptor under its number. */
static void test_spawn_keep_fd(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "echo kept >&7", NULL };
	char buf[16] = { 0 };
	int p[2];
	struct qc_error *err = NULL;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dup3(p[1], 7, O_CLOEXEC), 7);
	close(p[1]);
	{
		struct qc_spawn_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .keep_fd = 7 };

		assert_int_equal(qc_spawn_run(argv, &o, 10000, &err), 0);
	}
	close(7);
	assert_int_equal(read(p[0], buf, sizeof(buf) - 1), 5);
	assert_string_equal(buf, "kept\n");
	close(p[0]);
	/* A program that cannot be run is reported as by posix_spawn. */
	{
		const char *bad[] = { "/nonexistent/prog", NULL };
		struct qc_spawn_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .die_with_parent = true };

		assert_int_equal(qc_spawn(bad, &o, &err), -1);
		assert_int_equal(err->errnum, ENOENT);
		qc_error_free(err);
	}
}

static volatile sig_atomic_t watched_flag;

static void set_watched_flag(int sig)
{
	(void)sig;
	watched_flag = 1;
}

static void count_cancel(void *impl)
{
	(*(int *)impl)++;
}

/* A plain signal handler that only stores into the watched flag is a
 * cancel request the operation sees by polling; qc_op_cancel stays the
 * loop's way, and runs the operation's reaction. */
static void test_op_watch(void **state)
{
	struct sigaction sa = { .sa_handler = set_watched_flag }, old;
	struct qc_op op;
	int reacted = 0;

	(void)state;
	qc_op_init(&op, NULL, NULL, NULL);
	assert_false(qc_op_cancel_requested(&op));
	qc_op_watch(&op, &watched_flag);
	assert_false(qc_op_cancel_requested(&op));
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
	assert_true(qc_op_cancel_requested(&op));
	qc_op_finish(&op, NULL);
	qc_op_fini(&op);

	/* No flag: only qc_op_cancel asks. */
	qc_op_init(&op, NULL, NULL, NULL);
	qc_op_watch(&op, NULL);
	qc_op_set_cancel(&op, count_cancel, &reacted);
	assert_false(qc_op_cancel_requested(&op));
	qc_op_cancel(&op);
	assert_true(qc_op_cancel_requested(&op));
	assert_int_equal(reacted, 1);
	qc_op_finish(&op, NULL);
	qc_op_fini(&op);
	watched_flag = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_set),
		cmocka_unit_test(test_error_setv_long),
		cmocka_unit_test(test_error_set_errno),
		cmocka_unit_test(test_error_set_qmp),
		cmocka_unit_test(test_error_prepend),
		cmocka_unit_test(test_error_prefix),
		cmocka_unit_test(test_error_propagate_copy),
		cmocka_unit_test(test_buf_basics),
		cmocka_unit_test(test_buf_binary_and_growth),
		cmocka_unit_test(test_buf_steal),
		cmocka_unit_test(test_buf_append_quoted),
		cmocka_unit_test(test_alloc_helpers),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_spawn_run_true_false),
		cmocka_unit_test(test_spawn_exit_codes),
		cmocka_unit_test(test_spawn_path_search),
		cmocka_unit_test(test_spawn_missing_program),
		cmocka_unit_test(test_spawn_redirect),
		cmocka_unit_test(test_spawn_fd_already_in_place),
		cmocka_unit_test(test_spawn_die_with_parent),
		cmocka_unit_test(test_spawn_keep_fd),
		cmocka_unit_test(test_spawn_wait_timeout_then_kill),
		cmocka_unit_test(test_spawn_wait_forever),
		cmocka_unit_test(test_spawn_run_timeout),
		cmocka_unit_test(test_strndup_short_source),
		cmocka_unit_test(test_op_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
