/*
 * snap_job: the snapshot operations' QMP jobs (snapshot-save/-load/-delete)
 * on qmp_job, and the blocking wrapper the synchronous snap_* functions use.
 * Internal to snapshot/.
 */
#ifndef SNAP_JOB_H
#define SNAP_JOB_H

#include <stdbool.h>

#include "qc_error.h"

struct json_object;
struct qc_op;
struct snap_ctx;

/* Starts cmd (args stolen; the job-id is added) on ctx->s after dismissing
 * the jobs an earlier, killed qmpctl left behind.  op gets ctx's progress
 * callback and ends when the job has been dismissed. */
int snap_job_start(struct snap_ctx *ctx, const char *cmd, struct json_object *args, struct qc_op *op,
		   struct qc_error **errp);

/* The same, run to its end on ctx->base.  cancellable: ctx->cancel cancels
 * the job (a cleanup after an interrupt is not cancellable).  A cancel that
 * came after QEMU had finished sets ctx->cancel_too_late. */
int snap_job_run(struct snap_ctx *ctx, const char *cmd, struct json_object *args, bool cancellable,
		 struct qc_error **errp);

/* True once the caller asked to cancel (ctx->cancel set). */
bool snap_interrupted(const struct snap_ctx *ctx);

#endif
