/*
 * qmp_framer: splits a byte stream into JSON objects.
 *
 * Feed it bytes as they arrive, in pieces of any size; each complete
 * top-level JSON object is handed to the callback.  Whitespace (QEMU ends
 * each message with CRLF) between objects is skipped.  Anything that is not
 * a JSON object, malformed JSON, or one message longer than max_message
 * bytes is an error; after an error the framer refuses further input until
 * qmp_framer_reset().
 */
#ifndef QMP_FRAMER_H
#define QMP_FRAMER_H

#include <stddef.h>

#include "qc_error.h"

struct json_object;
struct qmp_framer;

#define QMP_FRAMER_DEFAULT_MAX (64u * 1024 * 1024)

/* obj is owned by the callback (json_object_put when done).  A non-zero
 * return stops feeding: qmp_framer_feed returns it at once, keeping the
 * remaining bytes unparsed (they are dropped). */
typedef int (*qmp_framer_fn)(void *opaque, struct json_object *obj);

/* max_message 0 means QMP_FRAMER_DEFAULT_MAX. */
struct qmp_framer *qmp_framer_new(size_t max_message);
void qmp_framer_free(struct qmp_framer *f);
void qmp_framer_reset(struct qmp_framer *f);
/* Returns 0 when all bytes were consumed, -1 with *errp set on bad input
 * (the message quotes the offending bytes, truncated), or the callback's
 * non-zero return value. */
int qmp_framer_feed(struct qmp_framer *f, const char *data, size_t len, qmp_framer_fn cb, void *opaque,
		    struct qc_error **errp);
/* Bytes of the message currently being assembled (0 between messages). */
size_t qmp_framer_partial(const struct qmp_framer *f);

#endif
