/*
 * qmp_job: one QEMU background job, or a migration, followed to its end on
 * the caller's event loop.  Nothing here blocks or runs a loop.
 *
 * States (one function, job_move, moves between them; the middle ones are
 * QEMU's own JOB_STATUS_CHANGE statuses):
 *
 *   STARTING --reply or first event--> CREATED -> RUNNING <-> PAUSED
 *   RUNNING -> READY (mirror, active commit: the ready callback decides,
 *              qmp_job_complete or qmp_job_cancel) <-> STANDBY
 *   RUNNING/READY -> WAITING -> PENDING (grouped jobs wait here until the
 *              whole group is pending, then all are finalized) -> CONCLUDED
 *   any QEMU state -> ABORTING -> CONCLUDED
 *   CONCLUDED: the outcome is read (query-jobs' "error", query-migrate's
 *              "error-desc") -> DISMISSING (job-dismiss) -> ENDED
 *   any -> ENDED when the start command fails, is dropped (COMMAND_DROPPED)
 *              or the session dies: the error names the job.
 *
 * A migration ("migrate") is followed through MIGRATION events (the "events"
 * capability is switched on before it) and query-migrate; it has no
 * dismiss.  Job commands that take them get "job-id" and, for block jobs,
 * "auto-dismiss": false (so that the error can be read from query-jobs).
 * While the job runs, progress (current/total) is polled on a timer when a
 * progress callback is given.
 *
 * Callbacks run from the loop, never from inside a qmp_job_* call; any of
 * them may cancel, complete or free the job.  done is called exactly once.
 * Free every job before its session.
 */
#ifndef QMP_JOB_H
#define QMP_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "qc_error.h"

struct json_object;
struct qc_op;
struct qmp_job;
struct qmp_job_group;
struct qmp_session;

enum qmp_job_state {
	QMP_JOB_STARTING, /* the command is on its way; QEMU has said nothing yet */
	QMP_JOB_CREATED,
	QMP_JOB_RUNNING,
	QMP_JOB_PAUSED,
	QMP_JOB_READY,
	QMP_JOB_STANDBY,
	QMP_JOB_WAITING,
	QMP_JOB_PENDING,
	QMP_JOB_ABORTING,
	QMP_JOB_CONCLUDED,  /* reading the outcome */
	QMP_JOB_DISMISSING, /* job-dismiss sent */
	QMP_JOB_ENDED,	    /* done was called */
};

struct qmp_job_cbs {
	/* QEMU's progress figures (units are the job's own: bytes mostly). */
	void (*progress)(void *opaque, struct qmp_job *job, uint64_t current, uint64_t total);
	/* The job is ready (BLOCK_JOB_READY); NULL: qmp_job_complete at once. */
	void (*ready)(void *opaque, struct qmp_job *job);
	/* The end: err NULL on success; qmp_job_cancelled() says whether a
	 * cancel ended it. */
	void (*done)(void *opaque, struct qmp_job *job, const struct qc_error *err);
};

struct qmp_job_opts {
	const char *id;		     /* job-id; NULL: "qmpctl-CMD-PID-N" */
	unsigned progress_ms;	     /* poll interval; 0: 250 ms */
	struct qmp_job_group *group; /* auto-finalize off, finalized with the group */
};

/* Sends cmd (args stolen, may be NULL) and follows the job it starts.
 * Returns NULL with *errp set when the command cannot be sent (session
 * closed) or the options do not fit the command. */
struct qmp_job *qmp_job_start(struct qmp_session *s, const char *cmd, struct json_object *args,
			      const struct qmp_job_opts *opts, const struct qmp_job_cbs *cbs, void *opaque,
			      struct qc_error **errp);
/* Follows a job started otherwise (an action of a `transaction`, say) by
 * its id: its state is read once from query-jobs, then from events.  The
 * command that started it must have set what it needs (auto-dismiss false
 * for block jobs, auto-finalize false for a group member). */
struct qmp_job *qmp_job_follow(struct qmp_session *s, const char *id, const char *type, const struct qmp_job_opts *opts,
			       const struct qmp_job_cbs *cbs, void *opaque, struct qc_error **errp);
/* Asks QEMU to cancel (job-cancel, migrate_cancel); sent once the job
 * exists.  A job that finishes first keeps its outcome. */
void qmp_job_cancel(struct qmp_job *job);
/* job-complete: only in READY. */
int qmp_job_complete(struct qmp_job *job, struct qc_error **errp);
/* Stops following (pending replies are dropped, no callback runs); the
 * QEMU job itself is left as it is. */
void qmp_job_free(struct qmp_job *job);

const char *qmp_job_id(const struct qmp_job *job);
const char *qmp_job_command(const struct qmp_job *job);
enum qmp_job_state qmp_job_state(const struct qmp_job *job);
const char *qmp_job_state_name(enum qmp_job_state state);
bool qmp_job_cancel_requested(const struct qmp_job *job);
/* QEMU accepted the cancel and the job ended failed or cancelled. */
bool qmp_job_cancelled(const struct qmp_job *job);

/* Jobs that must all reach PENDING before any of them is finalized
 * (job-finalize); when one of them fails first, the others are cancelled.
 * Free the group after its jobs. */
struct qmp_job_group *qmp_job_group_new(void);
void qmp_job_group_free(struct qmp_job_group *g);

/* The same job as a qc_op: progress and done go to op, qc_op_cancel
 * cancels the job, a ready job is completed.  The job frees itself after
 * done.  Returns -1 with *errp set (op untouched) when it cannot start. */
int qmp_job_start_op(struct qmp_session *s, const char *cmd, struct json_object *args, const struct qmp_job_opts *opts,
		     struct qc_op *op, struct qc_error **errp);

/* Dismisses the concluded jobs that an earlier qmpctl started ("qmpctl-...-
 * PID-N") and left behind when it was killed: those whose PID no longer
 * runs.  Jobs of live processes, of others and still running ones stay.
 * op's done reports the query-jobs failure, if any. */
int qmp_job_reap_stale(struct qmp_session *s, struct qc_op *op, struct qc_error **errp);

#endif
