/* qmp_args: qmp-shell style "key=value" words and JSON objects. */
#include "qmp_args.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qc_buf.h"

/* Parses all of text as JSON; NULL (and *ok false) when it is not JSON.
 * The tokener cannot know a number has ended at the end of its input, so it
 * is shown the text with a blank after it. */
static struct json_object *parse_json(const char *text, bool *ok)
{
	struct json_tokener *tok = json_tokener_new();
	size_t len = strlen(text);
	char *padded = qc_malloc(len + 2);
	struct json_object *v;
	size_t end;

	memcpy(padded, text, len);
	padded[len] = ' ';
	padded[len + 1] = '\0';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	v = json_tokener_parse_ex(tok, padded, (int)len + 1);
	end = json_tokener_get_parse_end(tok);
	while (end < len + 1 && isspace((unsigned char)padded[end]))
		end++;
	*ok = json_tokener_get_error(tok) == json_tokener_success && end == len + 1;
	if (!*ok) {
		json_object_put(v);
		v = NULL;
	}
	json_tokener_free(tok);
	free(padded);
	return v;
}

static struct json_object *parse_object(const char *text, struct qc_error **errp)
{
	bool ok;
	struct json_object *v = parse_json(text, &ok);

	if (!ok) {
		struct json_tokener *tok = json_tokener_new();
		struct json_object *junk = json_tokener_parse_ex(tok, text, (int)strlen(text));

		enum json_tokener_error e = json_tokener_get_error(tok);

		/* json-c's "continue" means the text ended inside the value. */
		if (!junk && e == json_tokener_continue)
			qc_error_set(errp, "incomplete JSON (an object, array or string is not closed): %s", text);
		else
			qc_error_set(errp, "not valid JSON (%s): %s",
				     junk ? "trailing characters" : json_tokener_error_desc(e), text);
		json_object_put(junk);
		json_tokener_free(tok);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_object)) {
		json_object_put(v);
		qc_error_set(errp, "arguments must be a JSON object, not: %s", text);
		return NULL;
	}
	return v;
}

/* Adds key (dotted) = value into obj; takes value. */
static int add_dotted(struct json_object *obj, const char *key, struct json_object *value, struct qc_error **errp)
{
	const char *dot;
	struct json_object *cur = obj, *next;

	while ((dot = strchr(key, '.'))) {
		char *part = qc_strndup(key, (size_t)(dot - key));

		if (!*part) {
			free(part);
			goto bad_key;
		}
		if (!json_object_object_get_ex(cur, part, &next)) {
			next = json_object_new_object();
			json_object_object_add(cur, part, next);
		} else if (!next || !json_object_is_type(next, json_type_object)) {
			qc_error_set(errp, "conflicting arguments: '%s' is already a value, not an object", part);
			free(part);
			json_object_put(value);
			return -1;
		}
		free(part);
		cur = next;
		key = dot + 1;
	}
	if (!*key)
		goto bad_key;
	if (json_object_object_get_ex(cur, key, NULL)) {
		qc_error_set(errp, "argument '%s' given twice", key);
		json_object_put(value);
		return -1;
	}
	json_object_object_add(cur, key, value);
	return 0;
bad_key:
	qc_error_set(errp, "empty key in argument");
	json_object_put(value);
	return -1;
}

static int add_word(struct json_object *obj, const char *word, struct qc_error **errp)
{
	const char *eq = strchr(word, '=');
	struct json_object *value;
	char *key;
	bool ok;
	int rc;

	if (!eq) {
		qc_error_set(errp, "argument '%s' is not of the form key=value", word);
		return -1;
	}
	if (eq == word) {
		qc_error_set(errp, "empty key in argument '%s'", word);
		return -1;
	}
	value = parse_json(eq + 1, &ok);
	if (!ok)
		value = json_object_new_string(eq + 1);
	key = qc_strndup(word, (size_t)(eq - word));
	rc = add_dotted(obj, key, value, errp);
	if (rc < 0)
		qc_error_prepend(errp, "in '%s'", word);
	free(key);
	return rc;
}

struct json_object *qmp_args_parse(int argc, char *const argv[], struct qc_error **errp)
{
	struct json_object *obj;
	const char *p;

	if (argc == 1) {
		for (p = argv[0]; isspace((unsigned char)*p); p++)
			;
		if (*p == '{' || *p == '[')
			return parse_object(p, errp);
	}
	obj = json_object_new_object();
	for (int i = 0; i < argc; i++) {
		if (add_word(obj, argv[i], errp) < 0) {
			json_object_put(obj);
			return NULL;
		}
	}
	return obj;
}

/* Splits a line into words at blanks outside quotes and brackets.  Single
 * quotes group and are removed (as a shell would); double quotes and
 * brackets stay, so "a b" and [1, 2] reach the JSON parser whole. */
static int split_words(const char *line, char ***words, int *count, struct qc_error **errp)
{
	struct qc_buf w = { 0 };
	char **v = NULL;
	int n = 0, depth = 0;
	bool in_word = false;
	const char *p = line;

	for (;; p++) {
		char c = *p;

		if (!c || (isspace((unsigned char)c) && depth == 0)) {
			if (in_word) {
				v = qc_realloc(v, sizeof(*v) * (size_t)(n + 2));
				v[n++] = qc_buf_steal(&w);
				v[n] = NULL;
				in_word = false;
			}
			if (!c)
				break;
			continue;
		}
		in_word = true;
		if (c == '\'') {
			const char *end = strchr(p + 1, '\'');

			if (!end)
				goto unterminated;
			qc_buf_append(&w, p + 1, (size_t)(end - p - 1));
			if (!w.data)
				qc_buf_append(&w, "", 0);
			p = end;
		} else if (c == '"') {
			const char *q = p + 1;

			while (*q && *q != '"')
				q += (*q == '\\' && q[1]) ? 2 : 1;
			if (!*q)
				goto unterminated;
			qc_buf_append(&w, p, (size_t)(q - p + 1));
			p = q;
		} else {
			if (c == '[' || c == '{')
				depth++;
			else if ((c == ']' || c == '}') && depth > 0)
				depth--;
			qc_buf_append_c(&w, c);
		}
	}
	*words = v;
	*count = n;
	return 0;
unterminated:
	qc_error_set(errp, "unterminated quote in: %s", line);
	qc_buf_free(&w);
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return -1;
}

int qmp_args_parse_line(const char *line, char **cmd, struct json_object **args, struct qc_error **errp)
{
	char **words = NULL;
	int n = 0, rc = -1;
	const char *p = line;

	*cmd = NULL;
	*args = NULL;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '[') {
		qc_error_set(errp, "a JSON command must be an object with \"execute\": %s", p);
		return -1;
	}
	if (*p == '{') {
		struct json_object *obj = parse_object(p, errp), *ex, *a;

		if (!obj)
			return -1;
		if (!json_object_object_get_ex(obj, "execute", &ex) || !json_object_is_type(ex, json_type_string)) {
			qc_error_set(errp, "a JSON command needs an \"execute\" string: %s", p);
			json_object_put(obj);
			return -1;
		}
		a = json_object_object_get(obj, "arguments");
		if (a && !json_object_is_type(a, json_type_object)) {
			qc_error_set(errp, "\"arguments\" must be an object: %s", p);
			json_object_put(obj);
			return -1;
		}
		*cmd = qc_strdup(json_object_get_string(ex));
		*args = a ? json_object_get(a) : json_object_new_object();
		json_object_put(obj);
		return 0;
	}
	if (split_words(p, &words, &n, errp) < 0)
		return -1;
	if (n == 0) {
		qc_error_set(errp, "empty command");
		goto out;
	}
	*args = qmp_args_parse(n - 1, words + 1, errp);
	if (!*args)
		goto out;
	*cmd = qc_strdup(words[0]);
	rc = 0;
out:
	for (int i = 0; i < n; i++)
		free(words[i]);
	free(words);
	return rc;
}
