/*
 * qmp_tap: one QMP connection to QEMU shared by any number of clients.
 *
 * QEMU serves one client per monitor socket.  A tap holds that one
 * connection (a qmp_session it owns) and listens on a unix socket of its
 * own.  Each client that connects gets a greeting made from QEMU's and
 * negotiates capabilities with the tap; its commands then go up the shared
 * session, whose ids are unique, and each reply comes back to its client
 * with the client's own id (or none, if it sent none).  Events go to every
 * client that has negotiated.
 *
 * Clients are untrusted: a malformed message gets an error reply, one too
 * large or a client that stops reading its replies is disconnected, and a
 * client with too many commands waiting is simply not read from until they
 * are answered.  When a client goes away, its commands that QEMU already
 * has run on (their replies are dropped) and the rest are dropped, as QEMU
 * itself does; a client that only half-closes its socket (echo ... | socat)
 * still gets every reply.  None of this touches other clients.
 *
 * When the connection to QEMU ends, every client is closed and the
 * upstream callback says why; qmp_tap_connect() may then be called again.
 * Clients that connect while there is no connection wait for a greeting.
 *
 * The library prints nothing: every message that flows can be observed
 * through the record callback.  Strings in records are borrowed.
 */
#ifndef QMP_TAP_H
#define QMP_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "qc_error.h"
#include "qmp_session.h"

struct event_base;
struct qmp_tap;

enum qmp_tap_dir {
	QMP_TAP_IN,	    /* a client's message, as it sent it */
	QMP_TAP_OUT,	    /* a message to one client (reply or greeting), as it gets it */
	QMP_TAP_EVENT,	    /* an event from QEMU, sent to every negotiated client */
	QMP_TAP_CONNECT,    /* a client connected (note: its pid, uid and program) */
	QMP_TAP_DISCONNECT, /* a client is gone (note says why) */
};

struct qmp_tap_record {
	enum qmp_tap_dir dir;
	unsigned client;   /* 1, 2, ... in order of connection; 0 for events */
	const char *json;  /* the message (compact JSON), or NULL */
	bool local;	   /* answered by the tap itself, never seen by QEMU */
	double latency_ms; /* replies: from the command's arrival to its reply; else -1 */
	const char *note;  /* why a client went away, or NULL */
};

typedef void (*qmp_tap_record_fn)(void *opaque, const struct qmp_tap_record *rec);
/* The connection to QEMU became READY (err NULL) or ended (err says why). */
typedef void (*qmp_tap_upstream_fn)(void *opaque, bool up, const struct qc_error *err);

struct qmp_tap_opts {
	struct qmp_session_opts session; /* for the connection to QEMU */
	size_t client_max_message;	 /* bytes; 0: 1 MiB */
	size_t client_max_queue;	 /* commands waiting per client before it is not read; 0: 64 */
	unsigned client_max_inflight;	 /* commands per client in the shared session at once; 0: 4 */
	size_t client_max_output;	 /* unread bytes before a client is dropped; 0: 16 MiB */
};

struct qmp_tap *qmp_tap_new(struct event_base *base, const struct qmp_tap_opts *opts);
/* Closes every client and the listening socket (removing its file if it is
 * still ours) and the connection to QEMU.  No callback runs after this. */
void qmp_tap_free(struct qmp_tap *t);

void qmp_tap_set_record_cb(struct qmp_tap *t, qmp_tap_record_fn fn, void *opaque);
void qmp_tap_set_upstream_cb(struct qmp_tap *t, qmp_tap_upstream_fn fn, void *opaque);
/* Traces the messages to and from QEMU (see qmp_session_set_trace). */
void qmp_tap_set_trace(struct qmp_tap *t, qmp_trace_fn fn, void *opaque);

/* Connects to QEMU at addr (as qmp_session_connect).  Fails at once when
 * the socket cannot be reached or a connection is already open.  The
 * upstream callback follows. */
int qmp_tap_connect(struct qmp_tap *t, const char *addr, struct qc_error **errp);
bool qmp_tap_upstream_ready(const struct qmp_tap *t);

/* Listens on a new unix socket at path with the given permission bits.  A
 * stale socket file nobody listens on is replaced; a live one, or any other
 * file, is an error. */
int qmp_tap_listen(struct qmp_tap *t, const char *path, mode_t mode, struct qc_error **errp);

/* Clients connected now. */
size_t qmp_tap_clients(const struct qmp_tap *t);

#endif
