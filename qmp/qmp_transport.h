/*
 * qmp_transport: bytes and file descriptors over a stream socket.
 *
 * Knows nothing of JSON.  Connects without blocking to "unix:PATH", a plain
 * PATH, or "tcp:HOST:PORT" (loopback addresses only), or adopts an already
 * connected socket (a socketpair in tests).  Reading and writing go through a
 * libevent bufferevent on the caller's event_base.  Outgoing data may carry
 * file descriptors (SCM_RIGHTS, unix sockets only); they travel with the
 * first byte of their message, after everything queued before it.
 *
 * Callbacks run from the event loop.  on_close is called at most once, after
 * which no other callback runs; the transport must still be freed.
 */
#ifndef QMP_TRANSPORT_H
#define QMP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "qc_error.h"

struct event_base;
struct qmp_transport;

struct qmp_transport_cbs {
	void (*on_connect)(void *opaque);
	/* data is valid only during the call. */
	void (*on_data)(void *opaque, const char *data, size_t len);
	/* err describes why (NULL for an orderly EOF); owned by the transport. */
	void (*on_close)(void *opaque, const struct qc_error *err);
};

struct qmp_transport *qmp_transport_new(struct event_base *base, const struct qmp_transport_cbs *cbs,
					void *opaque);
/* Starts connecting; on_connect or on_close follows.  Returns -1 with *errp
 * set when the address is invalid or the connect fails at once (ENOENT,
 * ECONNREFUSED on a unix socket): no callback follows then. */
int qmp_transport_connect(struct qmp_transport *t, const char *addr, struct qc_error **errp);
/* Adopts a connected socket (made non-blocking here); on_connect is called
 * from the loop.  The transport owns fd from now on, even on failure. */
int qmp_transport_attach_fd(struct qmp_transport *t, int fd, struct qc_error **errp);
/* Queues len bytes; fds (may be NULL/0) are duplicated and sent with them. */
int qmp_transport_send(struct qmp_transport *t, const void *data, size_t len, const int *fds, size_t nfds,
		       struct qc_error **errp);
/* Bytes queued but not yet written to the socket. */
size_t qmp_transport_pending(const struct qmp_transport *t);
bool qmp_transport_is_unix(const struct qmp_transport *t);
/* The pid of the process at the other end of a connected unix socket
 * (SO_PEERCRED), or 0 when unknown. */
int qmp_transport_peer_pid(const struct qmp_transport *t);
/* Closes the connection without calling on_close. */
void qmp_transport_close(struct qmp_transport *t);
void qmp_transport_free(struct qmp_transport *t);

/* Parses ADDR into a printable description ("PATH" or "HOST:PORT") for
 * messages; returns a static-free string the caller frees. */
char *qmp_transport_describe(const char *addr);

#endif
