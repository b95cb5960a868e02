/*
 * qmp_framer: json-c's incremental tokener with a size cap.
 *
 * Between messages only whitespace and '{' are acceptable, which rejects
 * top-level scalars and arrays before the tokener sees them (it would wait
 * forever for the end of a number).  A NUL byte never belongs in a JSON text
 * (strings carry it escaped); the tokener is never shown one.
 *
 * json-c's UTF-8 validation is left off on purpose: it checks bytes the
 * tokener reads past the end of an object, so a complete message followed
 * by a bad byte would fail or pass depending on how the stream was split.
 * Strings are passed on as bytes; printing them is the caller's business.
 */
#include "qmp_framer.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qc_buf.h"

#define FRAMER_DEPTH 64
#define QUOTE_MAX 48

struct qmp_framer {
	struct json_tokener *tok;
	size_t max;
	size_t partial; /* bytes of the current message seen so far */
	size_t offset;  /* bytes of the stream consumed so far */
	bool failed;
	bool in_str, esc; /* lexical state at the end of what json-c has seen */
};

struct qmp_framer *qmp_framer_new(size_t max_message)
{
	struct qmp_framer *f = qc_calloc(1, sizeof(*f));

	f->tok = json_tokener_new_ex(FRAMER_DEPTH);
	if (!f->tok)
		abort();
	json_tokener_set_flags(f->tok,
			       JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	f->max = max_message ? max_message : QMP_FRAMER_DEFAULT_MAX;
	return f;
}

void qmp_framer_free(struct qmp_framer *f)
{
	if (!f)
		return;
	json_tokener_free(f->tok);
	free(f);
}

void qmp_framer_reset(struct qmp_framer *f)
{
	json_tokener_reset(f->tok);
	f->partial = 0;
	f->failed = false;
	f->in_str = f->esc = false;
}

size_t qmp_framer_partial(const struct qmp_framer *f)
{
	return f->partial;
}

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Finds the first byte json-c must not be shown: a NUL anywhere, or a
 * single quote outside a string (json-c takes single-quoted keys even in
 * strict mode).  Returns its index, or len; *in_str and *esc become the
 * lexical state after the bytes before it. */
static size_t scan(const char *d, size_t len, bool *in_str, bool *esc)
{
	bool s = *in_str, e = *esc;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = d[i];

		if (c == '\0')
			break;
		if (s) {
			if (e)
				e = false;
			else if (c == '\\')
				e = true;
			else if (c == '"')
				s = false;
		} else if (c == '"') {
			s = true;
		} else if (c == '\'') {
			break;
		}
	}
	*in_str = s;
	*esc = e;
	return i;
}

/* Names the bad bytes: a window around pos within data[0..len). */
static int bad_input(struct qmp_framer *f, const char *what, const char *data, size_t len, size_t pos,
		     struct qc_error **errp)
{
	struct qc_buf b = { 0 };
	size_t start = pos > QUOTE_MAX / 2 ? pos - QUOTE_MAX / 2 : 0;

	qc_buf_printf(&b, "%s at byte %zu of the stream: ", what, f->offset + pos);
	qc_buf_append_quoted(&b, data + start, len - start, QUOTE_MAX);
	qc_error_set(errp, "%s", qc_buf_str(&b));
	qc_buf_free(&b);
	f->failed = true;
	return -1;
}

int qmp_framer_feed(struct qmp_framer *f, const char *data, size_t len, qmp_framer_fn cb, void *opaque,
		    struct qc_error **errp)
{
	size_t off = 0, bad;
	bool in_str = f->in_str, esc = f->esc;

	if (f->failed) {
		qc_error_set(errp, "framer stopped after malformed input");
		return -1;
	}
	/* One pass over the input finds the first byte json-c must not see;
	 * the lexical state where an object ends is "outside a string" both for
	 * json-c and for this scan, so scanning past object ends is sound. */
	bad = scan(data, len, &in_str, &esc);
	while (off < len) {
		struct json_object *obj;
		enum json_tokener_error jerr;
		size_t chunk, used;
		char msg[160];

		if (f->partial == 0) {
			while (off < len && is_ws(data[off]))
				off++;
			if (off == len)
				break;
			if (data[off] != '{')
				return bad_input(f, "expected a JSON object", data, len, off, errp);
		}
		chunk = (bad > off ? bad : off) - off;
		if (chunk > f->max - f->partial)
			chunk = f->max - f->partial;
		if (chunk > INT_MAX)
			chunk = INT_MAX;
		obj = chunk ? json_tokener_parse_ex(f->tok, data + off, (int)chunk) : NULL;
		jerr = chunk ? json_tokener_get_error(f->tok) : json_tokener_continue;
		used = chunk ? json_tokener_get_parse_end(f->tok) : 0;
		if (obj) {
			off += used;
			f->partial = 0;
			json_tokener_reset(f->tok);
			int rc = cb(opaque, obj);

			if (rc) {
				/* The rest is dropped; the next byte starts afresh. */
				f->offset += off;
				f->in_str = f->esc = false;
				return rc;
			}
			continue;
		}
		if (jerr != json_tokener_continue) {
			snprintf(msg, sizeof(msg), "malformed JSON (%s)", json_tokener_error_desc(jerr));
			return bad_input(f, msg, data, len, off + used, errp);
		}
		f->partial += chunk;
		off += chunk;
		if (off < len && off == bad && data[off] == '\0')
			return bad_input(f, "NUL byte inside a JSON message", data, len, off, errp);
		if (off < len && off == bad)
			return bad_input(f, "malformed JSON (single quotes are not JSON)", data, len, off, errp);
		if (f->partial >= f->max) {
			snprintf(msg, sizeof(msg), "message larger than the limit of %zu bytes", f->max);
			return bad_input(f, msg, data, len, off > 0 ? off - 1 : 0, errp);
		}
	}
	f->offset += len;
	f->in_str = in_str;
	f->esc = esc;
	return 0;
}
