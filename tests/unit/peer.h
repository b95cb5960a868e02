/*
 * peer: the far end of a socketpair, scripted by a unit test to play QEMU.
 *
 * The peer parses what the session writes with json-c directly (not with
 * qmp_framer, so a framer bug cannot hide a session bug), collects file
 * descriptors that arrive with SCM_RIGHTS, and writes canned replies.  It
 * works both from the test's own thread (pumping the session's event_base
 * while it waits) and from a helper thread (plain poll(), base == NULL).
 */
#ifndef TEST_PEER_H
#define TEST_PEER_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct json_object;

#define PEER_MAX_MSGS 64
#define PEER_MAX_FDS 16

struct peer {
	int fd;
	struct json_tokener *tok;
	struct json_object *msgs[PEER_MAX_MSGS]; /* parsed, not yet taken */
	size_t nmsgs;
	int fds[PEER_MAX_FDS]; /* received with SCM_RIGHTS, not yet taken */
	size_t nfds;
	bool eof;
	bool bad; /* what the session sent did not parse */
	/* When set, a full socket runs this loop (the session's, on the same
	 * thread) until there is room, instead of waiting in poll(). */
	struct event_base *pump_base;
};

/* A QEMU 7.2 greeting, with and without the "oob" capability. */
#define PEER_GREETING_OOB                                                                                            \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": "              \
	"\"Debian 1:7.2+dfsg-7+deb12u7\"}, \"capabilities\": [\"oob\"]}}"
#define PEER_GREETING_NO_OOB                                                                                         \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": "              \
	"\"Debian 1:7.2+dfsg-7+deb12u7\"}, \"capabilities\": []}}"

/* Makes a socketpair: *session_fd for the session, the other end for p
 * (non-blocking when nonblock).  Returns 0 or -1. */
int peer_open(struct peer *p, int *session_fd, bool nonblock);
/* Adopts an already connected fd (e.g. from accept()). */
void peer_init(struct peer *p, int fd);
void peer_close(struct peer *p); /* closes fd, keeps parsed state */
void peer_fini(struct peer *p);  /* closes fd and frees everything */

/* Writes text plus "\r\n" completely (aborts the test on failure). */
void peer_send_raw(struct peer *p, const char *data, size_t len);
void peer_send(struct peer *p, const char *json);
/* {"return": RET_JSON, "id": <req's id>} (no id member when req has none). */
void peer_reply(struct peer *p, struct json_object *req, const char *ret_json);
/* {"error": {"class": CLS, "desc": DESC}, "id": <req's id>}. */
void peer_reply_error(struct peer *p, struct json_object *req, const char *cls, const char *desc);
/* {"event": NAME, "data": DATA_JSON, "timestamp": {...}}. */
void peer_event(struct peer *p, const char *name, const char *data_json);

/* Reads whatever is available without waiting.  Returns the number of bytes
 * read (0 when nothing or EOF). */
size_t peer_poll(struct peer *p);
/* The next message the session sent, waiting at most timeout_ms; the loop of
 * base is run meanwhile when base is not NULL.  NULL on timeout or EOF.
 * The caller puts the result. */
struct json_object *peer_recv(struct peer *p, struct event_base *base, int timeout_ms);
/* Waits (running base) until the session closed its end. */
bool peer_wait_eof(struct peer *p, struct event_base *base, int timeout_ms);
/* Takes the oldest received fd, or -1. */
int peer_take_fd(struct peer *p);

/* Message helpers: the command name ("execute" or "exec-oob"), or NULL. */
const char *peer_msg_command(struct json_object *msg);
bool peer_msg_is_oob(struct json_object *msg);
struct json_object *peer_msg_arguments(struct json_object *msg);

/* Milliseconds on a monotonic clock. */
long long now_ms(void);
/* Runs base in small non-blocking steps until cond(arg) is true or
 * timeout_ms passed; returns cond's last value. */
bool pump_until(struct event_base *base, bool (*cond)(void *arg), void *arg, int timeout_ms);
/* Runs base for ms milliseconds. */
void pump_for(struct event_base *base, int ms);

#endif
