/* qc_op: cancel request, progress and completion of a long operation. */
#include "qc_op.h"

#include <string.h>

void qc_op_init(struct qc_op *op, qc_op_progress_fn progress, qc_op_done_fn done, void *opaque)
{
	memset(op, 0, sizeof(*op));
	op->progress = progress;
	op->done = done;
	op->opaque = opaque;
}

void qc_op_fini(struct qc_op *op)
{
	qc_error_free(op->err);
	op->err = NULL;
}

void qc_op_cancel(struct qc_op *op)
{
	if (op->finished || op->cancel_requested)
		return;
	op->cancel_requested = true;
	if (op->cancel_fn)
		op->cancel_fn(op->impl);
}

bool qc_op_cancel_requested(const struct qc_op *op)
{
	return op->cancel_requested || (op->watch && *op->watch);
}

void qc_op_watch(struct qc_op *op, const volatile sig_atomic_t *flag)
{
	op->watch = flag;
}

bool qc_op_finished(const struct qc_op *op)
{
	return op->finished;
}

void qc_op_set_cancel(struct qc_op *op, qc_op_cancel_fn fn, void *impl)
{
	op->cancel_fn = fn;
	op->impl = impl;
	if (fn && op->cancel_requested && !op->finished)
		fn(impl);
}

void qc_op_progress(struct qc_op *op, uint64_t current, uint64_t total)
{
	if (!op->finished && op->progress)
		op->progress(op->opaque, current, total);
}

void qc_op_finish(struct qc_op *op, const struct qc_error *err)
{
	qc_op_done_fn done = op->done;
	void *opaque = op->opaque;

	if (op->finished)
		return;
	op->finished = true;
	op->cancel_fn = NULL;
	op->impl = NULL;
	op->err = qc_error_copy(err);
	if (done)
		done(opaque, err);
}
