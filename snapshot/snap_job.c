/*
 * snap_job: a snapshot job as a qc_op on qmp_job.  The asynchronous start
 * chains two steps on the loop (dismiss the jobs left behind, then the
 * job); snap_job_run is the thin blocking wrapper over it.
 */
#include "snap_job.h"

#include <stdlib.h>

#include <json-c/json.h>

#include "qc_buf.h"
#include "qc_log.h"
#include "qc_op.h"
#include "qmp_job.h"
#include "qmp_sync.h"
#include "snap.h"

struct start {
	struct snap_ctx *ctx;
	char *cmd;
	struct json_object *args;
	struct qc_op *op;  /* the caller's */
	struct qc_op reap; /* the first step */
};

static void start_free(struct start *st)
{
	qc_op_fini(&st->reap);
	json_object_put(st->args);
	free(st->cmd);
	free(st);
}

static void reaped(void *opaque, const struct qc_error *err)
{
	struct start *st = opaque;
	struct qc_error *serr = NULL;
	struct qc_op *op = st->op;
	struct json_object *args = st->args;

	/* Dismissing what others left is a courtesy: its failure is no
	 * reason not to run the job. */
	if (err)
		qc_log(QC_LOG_WARN, "could not look for jobs left behind: %s", err->msg);
	st->args = NULL;
	if (qc_op_cancel_requested(op)) {
		json_object_put(args);
		qc_error_set(&serr, "%s cancelled before it started", st->cmd);
	} else if (qmp_job_start_op(st->ctx->s, st->cmd, args, NULL, op, &serr) == 0) {
		/* The job has the op now. */
		start_free(st);
		return;
	}
	start_free(st);
	qc_op_finish(op, serr);
	qc_error_free(serr);
}

int snap_job_start(struct snap_ctx *ctx, const char *cmd, struct json_object *args, struct qc_op *op,
		   struct qc_error **errp)
{
	struct start *st = qc_calloc(1, sizeof(*st));

	st->ctx = ctx;
	st->cmd = qc_strdup(cmd);
	st->args = args;
	st->op = op;
	qc_op_init(&st->reap, NULL, reaped, st);
	if (qmp_job_reap_stale(ctx->s, &st->reap, errp) < 0) {
		start_free(st);
		return -1;
	}
	return 0;
}

int snap_job_run(struct snap_ctx *ctx, const char *cmd, struct json_object *args, bool cancellable,
		 struct qc_error **errp)
{
	struct qc_op op;
	int rc;

	qc_op_init(&op, ctx->progress, NULL, ctx->progress_opaque);
	if (snap_job_start(ctx, cmd, args, &op, errp) < 0)
		return -1;
	rc = qmp_sync_run_op(ctx->base, &op, cancellable ? ctx->cancel : NULL, errp);
	if (rc == 0 && op.cancel_requested)
		ctx->cancel_too_late = true;
	qc_op_fini(&op);
	return rc;
}

bool snap_interrupted(const struct snap_ctx *ctx)
{
	return ctx->cancel && *ctx->cancel;
}
