/*
 * What the domain verbs (shutdown, reboot, destroy) share: waiting on the
 * event loop for a QMP event, bounded by a timeout, a closed session or a
 * signal; virsh's words for QEMU's run states.
 */
#include <event2/event.h>
#include <json-c/json.h>
#include <string.h>

#include "discover.h"
#include "qc_buf.h"
#include "qmp_sync.h"
#include "qmpctl.h"
#include "vm.h"

/* QEMU's run state -> virsh's state and reason (libvirt's qemu monitor
 * mapping of paused reasons). */
static const struct {
	const char *status, *state, *reason;
} states[] = {
	{ "running", "running", "unknown" },	     { "paused", "paused", "user" },
	{ "prelaunch", "paused", "user" },	     { "restore-vm", "paused", "user" },
	{ "debug", "paused", "debugging" },	     { "inmigrate", "paused", "migrating" },
	{ "postmigrate", "paused", "migrating" },    { "finish-migrate", "paused", "migrating" },
	{ "io-error", "paused", "I/O error" },	     { "save-vm", "paused", "saving" },
	{ "watchdog", "paused", "watchdog" },	     { "shutdown", "paused", "shutting down" },
	{ "guest-panicked", "crashed", "panicked" }, { "suspended", "pmsuspended", "unknown" },
	{ "internal-error", "paused", "unknown" },   { "colo", "running", "unknown" },
};

void cli_state_words(const char *status, const char **state, const char **reason)
{
	*state = "paused";
	*reason = "unknown";
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(states[i].status, status)) {
			*state = states[i].state;
			*reason = states[i].reason;
			return;
		}
}

struct wait_state {
	bool seen, timed_out, closed;
};

static void on_event(void *opaque, const char *name, struct json_object *event)
{
	struct wait_state *w = opaque;

	(void)name;
	(void)event;
	w->seen = true;
}

static void on_close(void *opaque, enum qmp_session_state state, const struct qc_error *err)
{
	struct wait_state *w = opaque;

	(void)state;
	(void)err;
	w->closed = true;
}

static void on_timer(evutil_socket_t fd, short what, void *opaque)
{
	struct wait_state *w = opaque;

	(void)fd;
	(void)what;
	w->timed_out = true;
}

int cli_wait_event(struct qc_ctx *ctx, struct qmp_session *s, const char *name, unsigned timeout_ms,
		   struct qc_error **errp)
{
	struct wait_state w = { 0 };
	struct qmp_subscription *sub, *closesub;
	struct event *timer = evtimer_new(ctx->base, on_timer, &w);
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int rc = 0;

	sub = qmp_session_subscribe(s, name, on_event, &w);
	closesub = qmp_session_watch_close(s, on_close, &w);
	evtimer_add(timer, &tv);
	while (!w.seen && !w.timed_out && !w.closed && !ctx->cancel)
		event_base_loop(ctx->base, EVLOOP_ONCE);
	if (!w.seen) {
		rc = -1;
		if (ctx->cancel)
			qc_error_set(errp, "interrupted while waiting for %s", name);
		else if (w.closed)
			qc_error_set(errp, "the monitor closed before %s", name);
		else
			qc_error_set(errp, "no %s event within %u s", name, (timeout_ms + 999) / 1000);
	}
	event_free(timer);
	qmp_session_unsubscribe(s, closesub);
	qmp_session_unsubscribe(s, sub);
	return rc;
}

struct json_object *cli_live_disks(struct qc_ctx *ctx, const struct qc_run *run, struct disc_vm *holder,
				   struct disc_vm **vmp, struct qc_error **errp)
{
	struct json_object *blocks = qmp_sync_execute(ctx->base, run->s, "query-block", NULL, errp);

	if (!blocks)
		return NULL;
	/* Named by its socket, the VM's disks come from the live view only. */
	*vmp = run->vm->disc ? run->vm->disc : holder;
	discover_apply_query_block(*vmp, blocks);
	return blocks;
}

const struct disc_disk *cli_find_disk(const struct disc_vm *vm, const char *target, struct qc_error **errp)
{
	struct qc_buf names = { 0 };

	for (size_t i = 0; i < vm->n_disks; i++)
		if (vm->disks[i].target && !strcmp(vm->disks[i].target, target))
			return &vm->disks[i];
	for (size_t i = 0; i < vm->n_disks; i++) {
		if (names.len)
			qc_buf_append_str(&names, ", ");
		qc_buf_append_str(&names, vm->disks[i].target ? vm->disks[i].target : "-");
	}
	qc_error_set(errp, "no disk '%s'; the VM has: %s", target, names.len ? qc_buf_str(&names) : "no disks");
	qc_buf_free(&names);
	return NULL;
}
