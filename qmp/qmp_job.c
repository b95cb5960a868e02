/*
 * qmp_job: a QEMU job (or a migration) as a state machine fed by events and
 * replies (see qmp_job.h for the states).
 *
 * Each command the job sends has a slot holding its id, so that freeing the
 * job can forget every reply still owed to it.  Every entry point from the
 * loop brackets its work with enter()/leave(): callbacks may free the job,
 * and the memory goes only when the outermost entry point returns.
 */
#include "qmp_job.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "qc_buf.h"
#include "qc_log.h"
#include "qc_op.h"
#include "qmp_session.h"

#define DEFAULT_PROGRESS_MS 250
/* Replies that may wait for QEMU's main loop as long as a job holds it
 * (a 7.2 snapshot-save does): no timeout, the session's end stops them. */
#define NO_TIMEOUT UINT32_MAX

enum slot { SLOT_START, SLOT_CAPS, SLOT_POLL, SLOT_CANCEL, SLOT_COMPLETE, SLOT_FINALIZE, SLOT_END, NSLOTS };

enum mig_result { MIG_NONE, MIG_OK, MIG_FAILED, MIG_CANCELLED };

struct qmp_job {
	struct qmp_session *s;
	char *id, *cmd;
	bool migration;
	bool block; /* takes auto-finalize / auto-dismiss */
	enum qmp_job_state state;
	struct qmp_job_cbs cbs;
	void *opaque;
	struct qmp_subscription *events, *close_watch;
	struct event *tick;
	unsigned progress_ms;
	uint64_t slot[NSLOTS];

	struct qmp_job_group *group;
	TAILQ_ENTRY(qmp_job) glink;

	bool exists; /* QEMU knows the job (reply or event seen) */
	bool cancel_requested, cancel_accepted;
	bool ready_told;
	bool event_cancelled; /* BLOCK_JOB_CANCELLED */
	char *event_error;    /* BLOCK_JOB_COMPLETED's or BLOCK_JOB_ERROR's */
	enum mig_result mig;
	struct qc_error *err; /* the outcome once known */
	bool outcome_known;

	int busy;
	bool free_me;
};

TAILQ_HEAD(job_list, qmp_job);

struct qmp_job_group {
	struct job_list jobs;
	bool finalizing, failed;
};

static const char *const state_names[] = {
	[QMP_JOB_STARTING] = "starting",   [QMP_JOB_CREATED] = "created",	[QMP_JOB_RUNNING] = "running",
	[QMP_JOB_PAUSED] = "paused",	   [QMP_JOB_READY] = "ready",		[QMP_JOB_STANDBY] = "standby",
	[QMP_JOB_WAITING] = "waiting",	   [QMP_JOB_PENDING] = "pending",	[QMP_JOB_ABORTING] = "aborting",
	[QMP_JOB_CONCLUDED] = "concluded", [QMP_JOB_DISMISSING] = "dismissing", [QMP_JOB_ENDED] = "ended",
};

/* Commands that start a job, and whether they take auto-finalize and
 * auto-dismiss.  Others are sent as they are, with a job-id. */
static const struct {
	const char *cmd;
	bool block;
} known[] = {
	{ "snapshot-save", false },   { "snapshot-load", false },  { "snapshot-delete", false },
	{ "blockdev-create", false }, { "block-commit", true },	   { "block-stream", true },
	{ "blockdev-mirror", true },  { "blockdev-backup", true }, { "drive-mirror", true },
	{ "drive-backup", true },
};

static void job_move(struct qmp_job *j, enum qmp_job_state next);
static void group_check(struct qmp_job_group *g);
static void group_member_failed(struct qmp_job_group *g);

const char *qmp_job_state_name(enum qmp_job_state state)
{
	return (unsigned)state < sizeof(state_names) / sizeof(state_names[0]) ? state_names[state] : "?";
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void job_destroy(struct qmp_job *j)
{
	for (int i = 0; i < NSLOTS; i++)
		if (j->slot[i])
			qmp_session_cancel(j->s, j->slot[i]);
	qmp_session_unsubscribe(j->s, j->events);
	qmp_session_unsubscribe(j->s, j->close_watch);
	if (j->group)
		TAILQ_REMOVE(&j->group->jobs, j, glink);
	if (j->tick)
		event_free(j->tick);
	qc_error_free(j->err);
	free(j->event_error);
	free(j->id);
	free(j->cmd);
	free(j);
}

static void enter(struct qmp_job *j)
{
	j->busy++;
}

static void leave(struct qmp_job *j)
{
	if (--j->busy == 0 && j->free_me)
		job_destroy(j);
}

/* Sends one command of the job's own into slot; false when it could not go. */
static bool job_send(struct qmp_job *j, enum slot slot, const char *cmd, struct json_object *args, unsigned timeout,
		     qmp_reply_fn fn, struct qc_error **errp)
{
	j->slot[slot] = qmp_session_execute(j->s, cmd, args, 0, NULL, 0, timeout, fn, j, errp);
	return j->slot[slot] != 0;
}

static struct json_object *id_args(const struct qmp_job *j)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "id", json_object_new_string(j->id));
	return a;
}

/* The end, with an error naming the job. */
static void job_fail(struct qmp_job *j, const char *fmt, ...) QC_PRINTF(2, 3);
static void job_fail(struct qmp_job *j, const char *fmt, ...)
{
	va_list ap;

	if (j->state == QMP_JOB_ENDED)
		return;
	qc_error_free(j->err);
	j->err = NULL;
	va_start(ap, fmt);
	qc_error_setv(&j->err, fmt, ap);
	va_end(ap);
	j->outcome_known = true;
	job_move(j, QMP_JOB_ENDED);
}

static void job_lost(struct qmp_job *j)
{
	const struct qc_error *why = qmp_session_error(j->s);

	if (j->outcome_known && j->state >= QMP_JOB_CONCLUDED) {
		/* Only the dismiss is lost: the outcome stands. */
		job_move(j, QMP_JOB_ENDED);
		return;
	}
	job_fail(j, "QEMU went away while job '%s' (%s) ran: %s", j->id, j->cmd, why ? why->msg : "connection closed");
}

static void set_outcome(struct qmp_job *j, const char *error)
{
	qc_error_free(j->err);
	j->err = NULL;
	if (j->cancel_accepted || j->event_cancelled) {
		if (error || j->event_cancelled)
			qc_error_set(&j->err, "%s cancelled%s%s", j->cmd, error ? ": " : "", error ? error : "");
	} else if (error) {
		qc_error_set(&j->err, "%s failed: %s", j->cmd, error);
	}
	j->outcome_known = true;
}

/* ---- replies ------------------------------------------------------------------ */

static void send_cancel(struct qmp_job *j);
static void job_exists(struct qmp_job *j);

static void on_start_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct qmp_job *j = opaque;

	enter(j);
	j->slot[SLOT_START] = 0;
	if (err) {
		if (qmp_session_state(j->s) == QMP_SESSION_CLOSED) {
			job_lost(j);
		} else if (j->state != QMP_JOB_ENDED) {
			/* QEMU's refusal as QEMU said it (class kept), or a drop. */
			qc_error_free(j->err);
			j->err = qc_error_copy(err);
			if (!err->qmp_class)
				qc_error_prepend(&j->err, "job '%s' (%s) did not start", j->id, j->cmd);
			j->outcome_known = true;
			job_move(j, QMP_JOB_ENDED);
		}
	} else if (j->state < QMP_JOB_ENDED) {
		if (j->state == QMP_JOB_STARTING)
			job_move(j, QMP_JOB_CREATED);
		job_exists(j);
	}
	(void)ret;
	leave(j);
}

static void on_caps_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct qmp_job *j = opaque;

	j->slot[SLOT_CAPS] = 0;
	if (err)
		qc_log(QC_LOG_WARN, "migration events could not be switched on: %s", err->msg);
	(void)ret;
}

static void on_cancel_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct qmp_job *j = opaque;

	j->slot[SLOT_CANCEL] = 0;
	if (err)
		/* Mostly a job that has just finished: its outcome stands. */
		qc_log(QC_LOG_DEBUG, "job %s: cancel refused: %s", j->id, err->msg);
	else
		j->cancel_accepted = true;
	(void)ret;
}

static void on_complete_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct qmp_job *j = opaque;

	j->slot[SLOT_COMPLETE] = 0;
	if (err)
		qc_log(QC_LOG_WARN, "job %s: job-complete: %s", j->id, err->msg);
	(void)ret;
}

static void on_finalize_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct qmp_job *j = opaque;

	/* Jobs of one transaction are finalized together: the others'
	 * finalize may find them done already. */
	j->slot[SLOT_FINALIZE] = 0;
	if (err)
		qc_log(QC_LOG_DEBUG, "job %s: job-finalize: %s", j->id, err->msg);
	(void)ret;
}

/* QEMU has shown that the job exists: a cancel asked for before can go. */
static void job_exists(struct qmp_job *j)
{
	if (j->exists)
		return;
	j->exists = true;
	if (j->cancel_requested && j->state < QMP_JOB_CONCLUDED)
		send_cancel(j);
}

static enum qmp_job_state state_of_status(const char *st, bool *known_status)
{
	*known_status = true;
	for (int i = QMP_JOB_CREATED; i <= QMP_JOB_CONCLUDED; i++)
		if (!strcmp(st, state_names[i]))
			return (enum qmp_job_state)i;
	*known_status = false;
	return QMP_JOB_STARTING;
}

static void apply_migration_status(struct qmp_job *j, const char *st)
{
	if (!strcmp(st, "none"))
		return;
	job_exists(j);
	if (!strcmp(st, "setup")) {
		job_move(j, QMP_JOB_CREATED);
	} else if (!strcmp(st, "cancelling")) {
		job_move(j, QMP_JOB_ABORTING);
	} else if (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled")) {
		if (j->state >= QMP_JOB_CONCLUDED)
			return;
		j->mig = !strcmp(st, "completed") ? MIG_OK : !strcmp(st, "failed") ? MIG_FAILED : MIG_CANCELLED;
		job_move(j, QMP_JOB_CONCLUDED);
	} else {
		job_move(j, QMP_JOB_RUNNING);
	}
}

static void apply_job_status(struct qmp_job *j, const char *st)
{
	bool ok;
	enum qmp_job_state next;

	if (!strcmp(st, "null")) {
		/* Gone: dismissed by QEMU (auto-dismiss) or by us. */
		if (j->state == QMP_JOB_DISMISSING || j->state == QMP_JOB_ENDED)
			return;
		if (!j->outcome_known)
			set_outcome(j, j->event_error);
		job_move(j, QMP_JOB_ENDED);
		return;
	}
	next = state_of_status(st, &ok);
	if (!ok)
		return;
	job_exists(j);
	job_move(j, next);
}

static void on_poll_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct qmp_job *j = opaque;

	enter(j);
	j->slot[SLOT_POLL] = 0;
	if (err || j->state >= QMP_JOB_CONCLUDED)
		goto out;
	if (j->migration) {
		struct json_object *ram = json_object_object_get(ret, "ram");
		uint64_t total = (uint64_t)json_object_get_int64(json_object_object_get(ram, "total"));
		uint64_t remaining = (uint64_t)json_object_get_int64(json_object_object_get(ram, "remaining"));

		if (ram && j->cbs.progress)
			j->cbs.progress(j->opaque, j, total >= remaining ? total - remaining : 0, total);
		if (!j->free_me && jstr(ret, "status"))
			apply_migration_status(j, jstr(ret, "status"));
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(ret); i++) {
		struct json_object *info = json_object_array_get_idx(ret, i);

		if (!jstr(info, "id") || strcmp(jstr(info, "id"), j->id))
			continue;
		if (j->cbs.progress)
			j->cbs.progress(
				j->opaque, j,
				(uint64_t)json_object_get_int64(json_object_object_get(info, "current-progress")),
				(uint64_t)json_object_get_int64(json_object_object_get(info, "total-progress")));
		/* Replies and events come in one ordered stream: the status
		 * here is never older than the last event. */
		if (!j->free_me && jstr(info, "status"))
			apply_job_status(j, jstr(info, "status"));
		break;
	}
out:
	leave(j);
}

static void on_end_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct qmp_job *j = opaque;

	enter(j);
	j->slot[SLOT_END] = 0;
	if (j->state == QMP_JOB_DISMISSING) {
		if (err && qmp_session_state(j->s) != QMP_SESSION_CLOSED)
			qc_log(QC_LOG_WARN, "job %s: job-dismiss: %s", j->id, err->msg);
		job_move(j, QMP_JOB_ENDED);
	} else if (j->state == QMP_JOB_CONCLUDED) {
		if (err) {
			if (qmp_session_state(j->s) == QMP_SESSION_CLOSED)
				job_lost(j);
			else
				job_fail(j, "cannot read the outcome of job '%s' (%s): %s", j->id, j->cmd, err->msg);
		} else if (j->migration) {
			set_outcome(j, jstr(ret, "error-desc") ? jstr(ret, "error-desc") : "migration failed");
			job_move(j, QMP_JOB_ENDED);
		} else {
			const char *error = j->event_error;
			bool listed = false;

			for (size_t i = 0; i < json_object_array_length(ret); i++) {
				struct json_object *info = json_object_array_get_idx(ret, i);

				if (jstr(info, "id") && !strcmp(jstr(info, "id"), j->id)) {
					listed = true;
					if (jstr(info, "error"))
						error = jstr(info, "error");
				}
			}
			set_outcome(j, error);
			job_move(j, listed ? QMP_JOB_DISMISSING : QMP_JOB_ENDED);
		}
	}
	leave(j);
}

/* ---- events -------------------------------------------------------------------- */

static void on_event(void *opaque, const char *name, struct json_object *event)
{
	struct qmp_job *j = opaque;
	struct json_object *data = json_object_object_get(event, "data");

	if (j->state == QMP_JOB_ENDED)
		return;
	enter(j);
	if (j->migration) {
		if (!strcmp(name, "MIGRATION") && jstr(data, "status"))
			apply_migration_status(j, jstr(data, "status"));
		goto out;
	}
	if (!strcmp(name, "JOB_STATUS_CHANGE")) {
		if (jstr(data, "id") && !strcmp(jstr(data, "id"), j->id) && jstr(data, "status"))
			apply_job_status(j, jstr(data, "status"));
		goto out;
	}
	if (strncmp(name, "BLOCK_JOB_", 10) || !jstr(data, "device") || strcmp(jstr(data, "device"), j->id))
		goto out;
	if (!strcmp(name, "BLOCK_JOB_READY")) {
		job_move(j, QMP_JOB_READY);
	} else if (!strcmp(name, "BLOCK_JOB_CANCELLED")) {
		j->event_cancelled = true;
	} else if (!strcmp(name, "BLOCK_JOB_COMPLETED") && jstr(data, "error")) {
		free(j->event_error);
		j->event_error = qc_strdup(jstr(data, "error"));
	} else if (!strcmp(name, "BLOCK_JOB_ERROR") && !j->event_error) {
		j->event_error = qc_asprintf("I/O error on %s (action: %s)",
					     jstr(data, "operation") ? jstr(data, "operation") : "?",
					     jstr(data, "action") ? jstr(data, "action") : "?");
	}
out:
	leave(j);
}

static void on_close(void *opaque, enum qmp_session_state state, const struct qc_error *err)
{
	struct qmp_job *j = opaque;

	(void)state;
	(void)err;
	j->close_watch = NULL; /* the session drops a fired watcher itself */
	enter(j);
	if (j->state != QMP_JOB_ENDED)
		job_lost(j);
	leave(j);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_job *j = arg;

	(void)fd;
	(void)what;
	if (j->slot[SLOT_POLL] || j->state >= QMP_JOB_CONCLUDED || qmp_session_state(j->s) != QMP_SESSION_READY)
		return;
	job_send(j, SLOT_POLL, j->migration ? "query-migrate" : "query-jobs", NULL, NO_TIMEOUT, on_poll_reply, NULL);
}

/* ---- the state machine ------------------------------------------------------------ */

/* The one place the state changes, with what entering each state does. */
static void job_move(struct qmp_job *j, enum qmp_job_state next)
{
	enum qmp_job_state prev = j->state;

	/* QEMU's states come and go in any order until the conclusion;
	 * from there on the job only moves forward. */
	if (prev == next || prev == QMP_JOB_ENDED || (prev >= QMP_JOB_CONCLUDED && next < prev))
		return;
	qc_log(QC_LOG_DEBUG, "job %s: %s -> %s", j->id, state_names[prev], state_names[next]);
	j->state = next;
	if (next >= QMP_JOB_CONCLUDED && j->tick)
		event_del(j->tick);
	switch (next) {
	case QMP_JOB_STARTING:
	case QMP_JOB_CREATED:
	case QMP_JOB_PAUSED:
	case QMP_JOB_STANDBY:
	case QMP_JOB_WAITING:
		break;
	case QMP_JOB_RUNNING:
		if (j->tick && !evtimer_pending(j->tick, NULL)) {
			struct timeval tv = { j->progress_ms / 1000, (j->progress_ms % 1000) * 1000 };

			evtimer_add(j->tick, &tv);
		}
		break;
	case QMP_JOB_READY:
		if (!j->ready_told) {
			j->ready_told = true;
			if (j->cbs.ready)
				j->cbs.ready(j->opaque, j);
			else
				qmp_job_complete(j, NULL);
		}
		break;
	case QMP_JOB_PENDING:
		if (j->group)
			group_check(j->group);
		break;
	case QMP_JOB_ABORTING:
		if (j->group)
			group_member_failed(j->group);
		break;
	case QMP_JOB_CONCLUDED:
		if (j->migration && j->mig != MIG_FAILED) {
			j->event_cancelled = j->mig == MIG_CANCELLED;
			set_outcome(j, NULL);
			job_move(j, QMP_JOB_ENDED);
		} else if (!job_send(j, SLOT_END, j->migration ? "query-migrate" : "query-jobs", NULL, 0, on_end_reply,
				     NULL)) {
			job_lost(j);
		}
		break;
	case QMP_JOB_DISMISSING:
		if (!job_send(j, SLOT_END, "job-dismiss", id_args(j), 0, on_end_reply, NULL))
			job_move(j, QMP_JOB_ENDED);
		break;
	case QMP_JOB_ENDED:
		qmp_session_unsubscribe(j->s, j->events);
		j->events = NULL;
		qmp_session_unsubscribe(j->s, j->close_watch);
		j->close_watch = NULL;
		if (j->err && j->group)
			group_member_failed(j->group);
		if (j->cbs.done)
			j->cbs.done(j->opaque, j, j->err);
		break;
	}
}

/* ---- groups --------------------------------------------------------------------------- */

struct qmp_job_group *qmp_job_group_new(void)
{
	struct qmp_job_group *g = qc_calloc(1, sizeof(*g));

	TAILQ_INIT(&g->jobs);
	return g;
}

void qmp_job_group_free(struct qmp_job_group *g)
{
	struct qmp_job *j;

	if (!g)
		return;
	while ((j = TAILQ_FIRST(&g->jobs))) {
		TAILQ_REMOVE(&g->jobs, j, glink);
		j->group = NULL;
	}
	free(g);
}

static void group_check(struct qmp_job_group *g)
{
	struct qmp_job *j;

	if (g->finalizing || g->failed)
		return;
	for (j = TAILQ_FIRST(&g->jobs); j; j = TAILQ_NEXT(j, glink)) {
		if (j->state != QMP_JOB_PENDING)
			return;
	}
	g->finalizing = true;
	for (j = TAILQ_FIRST(&g->jobs); j; j = TAILQ_NEXT(j, glink)) {
		job_send(j, SLOT_FINALIZE, "job-finalize", id_args(j), 0, on_finalize_reply, NULL);
	}
}

/* All or nothing: one member failed before the group was finalized. */
static void group_member_failed(struct qmp_job_group *g)
{
	struct qmp_job *j;

	if (g->finalizing || g->failed)
		return;
	g->failed = true;
	for (j = TAILQ_FIRST(&g->jobs); j; j = TAILQ_NEXT(j, glink)) {
		if (j->state < QMP_JOB_ABORTING)
			qmp_job_cancel(j);
	}
}

/* ---- the API ------------------------------------------------------------------------- */

struct qmp_job *qmp_job_start(struct qmp_session *s, const char *cmd, struct json_object *args,
			      const struct qmp_job_opts *opts, const struct qmp_job_cbs *cbs, void *opaque,
			      struct qc_error **errp)
{
	static unsigned serial;
	struct qmp_job_opts none = { 0 };
	struct qmp_job *j;

	if (!opts)
		opts = &none;
	if (!args)
		args = json_object_new_object();
	j = qc_calloc(1, sizeof(*j));
	j->s = s;
	j->cmd = qc_strdup(cmd);
	j->migration = !strcmp(cmd, "migrate");
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(known[i].cmd, cmd))
			j->block = known[i].block;
	if (opts->group && !j->block) {
		qc_error_set(errp, "%s jobs cannot be finalized as a group (no auto-finalize)", cmd);
		goto fail;
	}
	if (j->migration)
		j->id = qc_strdup(opts->id ? opts->id : "migration");
	else if (opts->id)
		j->id = qc_strdup(opts->id);
	else
		j->id = qc_asprintf("qmpctl-%s-%d-%u", cmd, (int)getpid(), ++serial);
	if (!j->migration)
		json_object_object_add(args, "job-id", json_object_new_string(j->id));
	if (j->block && !json_object_object_get_ex(args, "auto-dismiss", NULL))
		json_object_object_add(args, "auto-dismiss", json_object_new_boolean(false));
	if (opts->group)
		json_object_object_add(args, "auto-finalize", json_object_new_boolean(false));
	j->cbs = *cbs;
	j->opaque = opaque;
	j->state = QMP_JOB_STARTING;
	j->progress_ms = opts->progress_ms ? opts->progress_ms : DEFAULT_PROGRESS_MS;
	if (cbs->progress)
		j->tick = event_new(qmp_session_base(s), -1, EV_PERSIST, on_tick, j);
	if (j->migration) {
		struct json_object *a = json_object_new_object(), *caps = json_object_new_array(),
				   *c = json_object_new_object();

		json_object_object_add(c, "capability", json_object_new_string("events"));
		json_object_object_add(c, "state", json_object_new_boolean(true));
		json_object_array_add(caps, c);
		json_object_object_add(a, "capabilities", caps);
		if (!job_send(j, SLOT_CAPS, "migrate-set-capabilities", a, 0, on_caps_reply, errp))
			goto fail;
	}
	j->events = qmp_session_subscribe(s, NULL, on_event, j);
	j->close_watch = qmp_session_watch_close(s, on_close, j);
	if (!job_send(j, SLOT_START, cmd, args, NO_TIMEOUT, on_start_reply, errp)) {
		args = NULL;
		goto fail;
	}
	if (opts->group) {
		j->group = opts->group;
		TAILQ_INSERT_TAIL(&j->group->jobs, j, glink);
	}
	return j;
fail:
	json_object_put(args);
	job_destroy(j);
	return NULL;
}

/* The first look at a followed job. */
static void on_follow_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct qmp_job *j = opaque;
	bool listed = false;

	enter(j);
	j->slot[SLOT_START] = 0;
	if (err) {
		if (qmp_session_state(j->s) == QMP_SESSION_CLOSED)
			job_lost(j);
		else
			job_fail(j, "cannot follow job '%s' (%s): %s", j->id, j->cmd, err->msg);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(ret) && !listed; i++) {
		struct json_object *info = json_object_array_get_idx(ret, i);

		if (jstr(info, "id") && !strcmp(jstr(info, "id"), j->id)) {
			listed = true;
			if (jstr(info, "status"))
				apply_job_status(j, jstr(info, "status"));
		}
	}
	if (!listed && j->state == QMP_JOB_STARTING)
		job_fail(j, "job '%s' (%s) is not known to QEMU", j->id, j->cmd);
out:
	leave(j);
}

struct qmp_job *qmp_job_follow(struct qmp_session *s, const char *id, const char *type, const struct qmp_job_opts *opts,
			       const struct qmp_job_cbs *cbs, void *opaque, struct qc_error **errp)
{
	struct qmp_job *j = qc_calloc(1, sizeof(*j));

	j->s = s;
	j->id = qc_strdup(id);
	j->cmd = qc_strdup(type ? type : "job");
	j->exists = true;
	j->cbs = *cbs;
	j->opaque = opaque;
	j->state = QMP_JOB_STARTING;
	j->progress_ms = opts && opts->progress_ms ? opts->progress_ms : DEFAULT_PROGRESS_MS;
	if (cbs->progress)
		j->tick = event_new(qmp_session_base(s), -1, EV_PERSIST, on_tick, j);
	j->events = qmp_session_subscribe(s, NULL, on_event, j);
	j->close_watch = qmp_session_watch_close(s, on_close, j);
	if (!job_send(j, SLOT_START, "query-jobs", NULL, 0, on_follow_reply, errp)) {
		job_destroy(j);
		return NULL;
	}
	if (opts && opts->group) {
		j->group = opts->group;
		TAILQ_INSERT_TAIL(&j->group->jobs, j, glink);
	}
	return j;
}

static void send_cancel(struct qmp_job *j)
{
	if (j->slot[SLOT_CANCEL])
		return;
	if (j->migration)
		job_send(j, SLOT_CANCEL, "migrate_cancel", NULL, NO_TIMEOUT, on_cancel_reply, NULL);
	else
		job_send(j, SLOT_CANCEL, "job-cancel", id_args(j), NO_TIMEOUT, on_cancel_reply, NULL);
}

void qmp_job_cancel(struct qmp_job *j)
{
	if (j->cancel_requested || j->state >= QMP_JOB_CONCLUDED)
		return;
	j->cancel_requested = true;
	if (j->exists)
		send_cancel(j);
}

int qmp_job_complete(struct qmp_job *j, struct qc_error **errp)
{
	if (j->state != QMP_JOB_READY) {
		qc_error_set(errp, "job '%s' is %s, not ready: it cannot be completed", j->id, state_names[j->state]);
		return -1;
	}
	return job_send(j, SLOT_COMPLETE, "job-complete", id_args(j), 0, on_complete_reply, errp) ? 0 : -1;
}

void qmp_job_free(struct qmp_job *j)
{
	if (!j)
		return;
	if (j->busy) {
		j->free_me = true;
		return;
	}
	job_destroy(j);
}

const char *qmp_job_id(const struct qmp_job *j)
{
	return j->id;
}

const char *qmp_job_command(const struct qmp_job *j)
{
	return j->cmd;
}

enum qmp_job_state qmp_job_state(const struct qmp_job *j)
{
	return j->state;
}

bool qmp_job_cancel_requested(const struct qmp_job *j)
{
	return j->cancel_requested;
}

bool qmp_job_cancelled(const struct qmp_job *j)
{
	return (j->cancel_accepted || j->event_cancelled) && j->err;
}

/* ---- as a qc_op ------------------------------------------------------------------------- */

static void op_progress(void *opaque, struct qmp_job *job, uint64_t current, uint64_t total)
{
	(void)job;
	qc_op_progress(opaque, current, total);
}

static void op_done(void *opaque, struct qmp_job *job, const struct qc_error *err)
{
	qmp_job_free(job);
	qc_op_finish(opaque, err);
}

static void op_cancel(void *impl)
{
	qmp_job_cancel(impl);
}

int qmp_job_start_op(struct qmp_session *s, const char *cmd, struct json_object *args, const struct qmp_job_opts *opts,
		     struct qc_op *op, struct qc_error **errp)
{
	struct qmp_job_cbs cbs = { .progress = op->progress ? op_progress : NULL, .done = op_done };
	struct qmp_job *j = qmp_job_start(s, cmd, args, opts, &cbs, op, errp);

	if (!j)
		return -1;
	qc_op_set_cancel(op, op_cancel, j);
	return 0;
}

/* ---- jobs left behind ------------------------------------------------------------------- */

struct reaper {
	struct qmp_session *s;
	struct qc_op *op;
	size_t pending;
	bool listed;
};

/* The pid in "qmpctl-CMD-PID-N", or 0. */
static long stale_pid(const char *id)
{
	const char *dash2, *dash1;
	char *end;
	long pid;

	if (strncmp(id, "qmpctl-", 7))
		return 0;
	dash2 = strrchr(id, '-');
	if (!dash2 || dash2 <= id + 7)
		return 0;
	for (dash1 = dash2 - 1; dash1 > id + 6 && *dash1 != '-'; dash1--)
		;
	if (dash1 <= id + 6 || dash1 + 1 == dash2)
		return 0;
	errno = 0;
	pid = strtol(dash1 + 1, &end, 10);
	if (end != dash2 || errno || pid <= 0)
		return 0;
	strtol(dash2 + 1, &end, 10);
	if (dash2[1] == '\0' || *end)
		return 0;
	return pid;
}

static void reaper_end(struct reaper *r, const struct qc_error *err)
{
	struct qc_op *op = r->op;

	free(r);
	qc_op_finish(op, err);
}

static void on_reaped(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct reaper *r = opaque;

	(void)ret;
	if (err)
		qc_log(QC_LOG_WARN, "a job left behind could not be dismissed: %s", err->msg);
	if (--r->pending == 0 && r->listed)
		reaper_end(r, NULL);
}

static void on_jobs(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct reaper *r = opaque;

	if (err) {
		reaper_end(r, err);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(ret); i++) {
		struct json_object *info = json_object_array_get_idx(ret, i), *a;
		const char *id = jstr(info, "id"), *st = jstr(info, "status");
		long pid = id ? stale_pid(id) : 0;

		if (!pid || !st || strcmp(st, "concluded") || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* alive (or not ours to probe): its owner dismisses it */
		qc_log(QC_LOG_INFO, "dismissing job %s, left behind by process %ld", id, pid);
		a = json_object_new_object();
		json_object_object_add(a, "id", json_object_new_string(id));
		if (qmp_session_execute(r->s, "job-dismiss", a, 0, NULL, 0, 0, on_reaped, r, NULL))
			r->pending++;
	}
	r->listed = true;
	if (!r->pending)
		reaper_end(r, NULL);
}

int qmp_job_reap_stale(struct qmp_session *s, struct qc_op *op, struct qc_error **errp)
{
	struct reaper *r = qc_calloc(1, sizeof(*r));

	r->s = s;
	r->op = op;
	if (!qmp_session_execute(s, "query-jobs", NULL, 0, NULL, 0, 0, on_jobs, r, errp)) {
		free(r);
		return -1;
	}
	return 0;
}
