/*
 * qc_op: the one convention for a long operation (a QMP job, a snapshot, a
 * qemu-storage-daemon task, an image convert): who asks it to stop, where
 * its progress goes, and how it ends.
 *
 * The caller owns the struct (it may be embedded) and fills it with
 * qc_op_init() before handing it to a *_start() function; the operation
 * then reports through it from the caller's event loop:
 *
 *   progress(opaque, current, total)  any number of times (optional)
 *   done(opaque, err)                 exactly once, err NULL on success
 *
 * qc_op_cancel() may be called at any time before done, from any callback
 * on the loop (a signal event, a control socket): it is a request, and the
 * operation decides what cancelling means at that point (a QMP job-cancel,
 * a cleanup).  Calling it again, or after done, does nothing.  A caller that
 * has no loop of its own uses qmp_sync_run_op() (qmp_sync.h).
 *
 * A signal handler must not call qc_op_cancel (it runs the operation's
 * code).  It sets a flag instead: qc_op_watch(op, &flag) makes a nonzero
 * volatile sig_atomic_t count as a cancel request, so an operation that is
 * a synchronous CPU/IO loop (image convert, create) sees it through
 * qc_op_cancel_requested() between chunks, with no loop and nothing but a
 * store in the handler.
 */
#ifndef QC_OP_H
#define QC_OP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "qc_error.h"

struct qc_op;

typedef void (*qc_op_progress_fn)(void *opaque, uint64_t current, uint64_t total);
/* err is borrowed: valid during the call (qc_op keeps a copy, see below). */
typedef void (*qc_op_done_fn)(void *opaque, const struct qc_error *err);
/* The operation's reaction to a cancel request. */
typedef void (*qc_op_cancel_fn)(void *impl);

struct qc_op {
	/* The caller's. */
	qc_op_progress_fn progress;
	qc_op_done_fn done;
	void *opaque;
	/* The operation's (set with qc_op_set_cancel). */
	qc_op_cancel_fn cancel_fn;
	void *impl;
	/* State, readable by both. */
	bool cancel_requested;
	const volatile sig_atomic_t *watch; /* nonzero: cancel requested too */
	bool finished;
	struct qc_error *err; /* after done: a copy of the error, or NULL */
};

void qc_op_init(struct qc_op *op, qc_op_progress_fn progress, qc_op_done_fn done, void *opaque);
/* Frees the stored error; the operation must have finished (or never started). */
void qc_op_fini(struct qc_op *op);

/* The caller's side. */
void qc_op_cancel(struct qc_op *op);
/* True after qc_op_cancel, or once the watched flag is nonzero. */
bool qc_op_cancel_requested(const struct qc_op *op);
/* flag (NULL: none) is set by a signal handler; it must outlive op. */
void qc_op_watch(struct qc_op *op, const volatile sig_atomic_t *flag);
bool qc_op_finished(const struct qc_op *op);

/* The operation's side.  set_cancel: what qc_op_cancel does from now on (fn
 * NULL: only the flag is set); a cancel requested earlier runs fn at once. */
void qc_op_set_cancel(struct qc_op *op, qc_op_cancel_fn fn, void *impl);
void qc_op_progress(struct qc_op *op, uint64_t current, uint64_t total);
/* Ends the operation: stores a copy of err, then calls done.  The caller may
 * free or reuse op from inside done. */
void qc_op_finish(struct qc_op *op, const struct qc_error *err);

#endif
