/*
 * qmp_schema: the index of query-qmp-schema and the walks over it.
 *
 * Entities are parsed once into flat arrays of plain structs whose strings
 * point into the json_object we hold a reference on; every reference is
 * resolved to a pointer (or NULL) at load time, so walks never look a name
 * up and never see the JSON.  Where each masked type is first used is found
 * by one breadth-first pass from the commands and events, which gives every
 * type at most one parent: that tree is what readable names are made of.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qc_buf.h"
#include "qmp_schema.h"

enum origin {
	ORIGIN_NONE,
	ORIGIN_ARG,	    /* arg-type of parent (a command or event) */
	ORIGIN_RET,	    /* ret-type of parent */
	ORIGIN_MEMBER,	    /* type of member label of parent */
	ORIGIN_ELEMENT,	    /* element type of the array parent */
	ORIGIN_VARIANT,	    /* variant of parent for tag value label */
	ORIGIN_ALTERNATIVE, /* one of the types of the alternate parent */
};

struct ent {
	struct qmp_schema_entity pub; /* first: the public pointer is ours */
	size_t idx;
	/* names of references, resolved once every entity is known */
	const char *arg_name, *ret_name, *elem_name;
	const char **alt_names;
	/* first use */
	enum origin origin;
	const struct ent *parent;
	const char *label;
};

struct qmp_schema {
	struct json_object *json;
	struct ent *ents;
	size_t n;
	struct ent **by_name; /* sorted by name */
};

static const struct ent *ent_of(const struct qmp_schema_entity *e)
{
	return (const struct ent *)e;
}

/* ---- loading -------------------------------------------------------------- */

static const char *str_field(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static struct json_object *array_field(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);

	return json_object_is_type(v, json_type_array) ? v : NULL;
}

/* The strings of an array (others skipped), or of the "name"s of its
 * objects when by_name; NULL-free, caller frees the vector. */
static const char **strings(struct json_object *a, bool by_name, size_t *n)
{
	size_t len = a ? json_object_array_length(a) : 0;
	const char **v = len ? qc_calloc(len, sizeof(*v)) : NULL;

	*n = 0;
	for (size_t i = 0; i < len; i++) {
		struct json_object *x = json_object_array_get_idx(a, i);
		const char *s = by_name					   ? str_field(x, "name")
				: json_object_is_type(x, json_type_string) ? json_object_get_string(x)
									   : NULL;

		if (s)
			v[(*n)++] = s;
	}
	return v;
}

static const struct {
	const char *name;
	enum qmp_schema_meta meta;
} metas[] = {
	{ "builtin", QMP_SCHEMA_BUILTIN }, { "enum", QMP_SCHEMA_ENUM },		  { "array", QMP_SCHEMA_ARRAY },
	{ "object", QMP_SCHEMA_OBJECT },   { "alternate", QMP_SCHEMA_ALTERNATE }, { "command", QMP_SCHEMA_COMMAND },
	{ "event", QMP_SCHEMA_EVENT },
};

static void parse_members(struct ent *e, struct json_object *members)
{
	size_t len = members ? json_object_array_length(members) : 0;
	struct qmp_schema_member *m = len ? qc_calloc(len, sizeof(*m)) : NULL;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		struct json_object *x = json_object_array_get_idx(members, i);
		const char *name = str_field(x, "name"), *type = str_field(x, "type");
		struct json_object *dflt;

		if (!name || !type)
			continue;
		m[n].name = name;
		m[n].type_name = type;
		m[n].optional = json_object_object_get_ex(x, "default", &dflt);
		m[n].features = strings(array_field(x, "features"), false, &m[n].n_features);
		n++;
	}
	e->pub.members = m;
	e->pub.n_members = n;
}

static void parse_variants(struct ent *e, struct json_object *variants)
{
	size_t len = variants ? json_object_array_length(variants) : 0;
	struct qmp_schema_variant *v = len ? qc_calloc(len, sizeof(*v)) : NULL;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		struct json_object *x = json_object_array_get_idx(variants, i);
		const char *value = str_field(x, "case"), *type = str_field(x, "type");

		if (!value || !type)
			continue;
		v[n].value = value;
		v[n].type_name = type;
		n++;
	}
	e->pub.variants = v;
	e->pub.n_variants = n;
}

static bool parse_entity(struct ent *e, struct json_object *x)
{
	const char *meta;

	memset(e, 0, sizeof(*e));
	if (!json_object_is_type(x, json_type_object))
		return false;
	e->pub.name = str_field(x, "name");
	meta = str_field(x, "meta-type");
	if (!e->pub.name || !meta)
		return false;
	e->pub.meta_name = meta;
	for (size_t i = 0; i < sizeof(metas) / sizeof(metas[0]); i++)
		if (!strcmp(meta, metas[i].name))
			e->pub.meta = metas[i].meta;
	e->pub.features = strings(array_field(x, "features"), false, &e->pub.n_features);
	switch (e->pub.meta) {
	case QMP_SCHEMA_COMMAND:
		e->ret_name = str_field(x, "ret-type");
		e->pub.allow_oob = json_object_get_boolean(json_object_object_get(x, "allow-oob"));
		/* fall through */
	case QMP_SCHEMA_EVENT:
		e->arg_name = str_field(x, "arg-type");
		break;
	case QMP_SCHEMA_BUILTIN:
		e->pub.json_type = str_field(x, "json-type");
		break;
	case QMP_SCHEMA_ENUM:
		if (array_field(x, "values"))
			e->pub.values = strings(array_field(x, "values"), false, &e->pub.n_values);
		else
			e->pub.values = strings(array_field(x, "members"), true, &e->pub.n_values);
		break;
	case QMP_SCHEMA_ARRAY:
		e->elem_name = str_field(x, "element-type");
		break;
	case QMP_SCHEMA_OBJECT:
		parse_members(e, array_field(x, "members"));
		e->pub.tag = str_field(x, "tag");
		parse_variants(e, array_field(x, "variants"));
		break;
	case QMP_SCHEMA_ALTERNATE: {
		struct json_object *members = array_field(x, "members");
		size_t len = members ? json_object_array_length(members) : 0;

		e->alt_names = len ? qc_calloc(len, sizeof(char *)) : NULL;
		for (size_t i = 0; i < len; i++) {
			const char *t = str_field(json_object_array_get_idx(members, i), "type");

			if (t)
				e->alt_names[e->pub.n_alternatives++] = t;
		}
		break;
	}
	case QMP_SCHEMA_UNKNOWN:
		break;
	}
	return true;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct ent *x = *(struct ent *const *)a, *y = *(struct ent *const *)b;
	int c = strcmp(x->pub.name, y->pub.name);

	/* Equal names keep schema order, so the first one wins a lookup. */
	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static const struct ent *find(const struct qmp_schema *s, const char *name)
{
	size_t lo = 0, hi = s->n;

	if (!name)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(s->by_name[mid]->pub.name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && !strcmp(s->by_name[lo]->pub.name, name) ? s->by_name[lo] : NULL;
}

static const struct qmp_schema_entity *resolve(const struct qmp_schema *s, const char *name)
{
	const struct ent *e = find(s, name);

	return e ? &e->pub : NULL;
}

static void resolve_all(struct qmp_schema *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct ent *e = &s->ents[i];

		e->pub.arg_type = resolve(s, e->arg_name);
		e->pub.ret_type = resolve(s, e->ret_name);
		e->pub.element_type = resolve(s, e->elem_name);
		for (size_t k = 0; k < e->pub.n_members; k++)
			((struct qmp_schema_member *)e->pub.members)[k].type = resolve(s, e->pub.members[k].type_name);
		for (size_t k = 0; k < e->pub.n_variants; k++)
			((struct qmp_schema_variant *)e->pub.variants)[k].type =
				resolve(s, e->pub.variants[k].type_name);
		if (e->pub.n_alternatives) {
			const struct qmp_schema_entity **alt = qc_calloc(e->pub.n_alternatives, sizeof(*alt));

			for (size_t k = 0; k < e->pub.n_alternatives; k++)
				alt[k] = resolve(s, e->alt_names[k]);
			e->pub.alternatives = alt;
		}
	}
}

/* A type that can carry a name of first use: not a command, event or builtin. */
static bool nameable(const struct ent *e)
{
	return e && e->pub.meta != QMP_SCHEMA_COMMAND && e->pub.meta != QMP_SCHEMA_EVENT &&
	       e->pub.meta != QMP_SCHEMA_BUILTIN;
}

static void adopt(struct ent **queue, size_t *tail, const struct qmp_schema_entity *child, const struct ent *parent,
		  enum origin how, const char *label)
{
	struct ent *c = (struct ent *)child;

	if (!nameable(c) || c->origin != ORIGIN_NONE)
		return;
	c->origin = how;
	c->parent = parent;
	c->label = label;
	queue[(*tail)++] = c;
}

/* Breadth first, so each type is named by its shortest path from a command
 * or event; each entity enters the queue at most once. */
static void find_origins(struct qmp_schema *s)
{
	struct ent **queue = qc_calloc(s->n + 1, sizeof(*queue));
	size_t head = 0, tail = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct ent *e = &s->ents[i];

		if (e->pub.meta == QMP_SCHEMA_COMMAND || e->pub.meta == QMP_SCHEMA_EVENT) {
			adopt(queue, &tail, e->pub.arg_type, e, ORIGIN_ARG, NULL);
			adopt(queue, &tail, e->pub.ret_type, e, ORIGIN_RET, NULL);
		}
	}
	while (head < tail) {
		const struct ent *e = queue[head++];

		for (size_t k = 0; k < e->pub.n_members; k++)
			adopt(queue, &tail, e->pub.members[k].type, e, ORIGIN_MEMBER, e->pub.members[k].name);
		for (size_t k = 0; k < e->pub.n_variants; k++)
			adopt(queue, &tail, e->pub.variants[k].type, e, ORIGIN_VARIANT, e->pub.variants[k].value);
		adopt(queue, &tail, e->pub.element_type, e, ORIGIN_ELEMENT, NULL);
		for (size_t k = 0; k < e->pub.n_alternatives; k++)
			adopt(queue, &tail, e->pub.alternatives[k], e, ORIGIN_ALTERNATIVE, NULL);
	}
	free(queue);
}

struct qmp_schema *qmp_schema_new(struct json_object *info, struct qc_error **errp)
{
	struct qmp_schema *s;
	size_t len;

	if (!json_object_is_type(info, json_type_array)) {
		qc_error_set(errp, "query-qmp-schema: expected an array of SchemaInfo");
		return NULL;
	}
	len = json_object_array_length(info);
	s = qc_calloc(1, sizeof(*s));
	s->json = json_object_get(info);
	s->ents = qc_calloc(len + 1, sizeof(*s->ents));
	for (size_t i = 0; i < len; i++)
		if (parse_entity(&s->ents[s->n], json_object_array_get_idx(info, i))) {
			s->ents[s->n].idx = s->n;
			s->n++;
		}
	s->by_name = qc_calloc(s->n + 1, sizeof(*s->by_name));
	for (size_t i = 0; i < s->n; i++)
		s->by_name[i] = &s->ents[i];
	qsort(s->by_name, s->n, sizeof(*s->by_name), cmp_ent);
	resolve_all(s);
	find_origins(s);
	return s;
}

void qmp_schema_free(struct qmp_schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct ent *e = &s->ents[i];

		for (size_t k = 0; k < e->pub.n_members; k++)
			free((void *)e->pub.members[k].features);
		free((void *)e->pub.members);
		free((void *)e->pub.variants);
		free((void *)e->pub.features);
		free((void *)e->pub.values);
		free((void *)e->pub.alternatives);
		free(e->alt_names);
	}
	free(s->by_name);
	free(s->ents);
	json_object_put(s->json);
	free(s);
}

/* ---- lookups -------------------------------------------------------------- */

size_t qmp_schema_count(const struct qmp_schema *s)
{
	return s ? s->n : 0;
}

const struct qmp_schema_entity *qmp_schema_at(const struct qmp_schema *s, size_t i)
{
	return s && i < s->n ? &s->ents[i].pub : NULL;
}

const struct qmp_schema_entity *qmp_schema_lookup(const struct qmp_schema *s, const char *name)
{
	return s ? resolve(s, name) : NULL;
}

const struct qmp_schema_entity *qmp_schema_command(const struct qmp_schema *s, const char *name)
{
	const struct qmp_schema_entity *e = qmp_schema_lookup(s, name);

	return e && e->meta == QMP_SCHEMA_COMMAND ? e : NULL;
}

const struct qmp_schema_entity *qmp_schema_event(const struct qmp_schema *s, const char *name)
{
	const struct qmp_schema_entity *e = qmp_schema_lookup(s, name);

	return e && e->meta == QMP_SCHEMA_EVENT ? e : NULL;
}

static bool in(const char *const *v, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], what))
			return true;
	return false;
}

bool qmp_schema_has_feature(const struct qmp_schema_entity *e, const char *feature)
{
	return e && in(e->features, e->n_features, feature);
}

bool qmp_schema_member_has_feature(const struct qmp_schema_member *m, const char *feature)
{
	return m && in(m->features, m->n_features, feature);
}

bool qmp_schema_is_bool(const struct qmp_schema_entity *e)
{
	return e && e->meta == QMP_SCHEMA_BUILTIN && e->json_type && !strcmp(e->json_type, "boolean");
}

const struct qmp_schema_entity *qmp_schema_variant(const struct qmp_schema_entity *obj, const char *value)
{
	if (!obj || !value)
		return NULL;
	for (size_t i = 0; i < obj->n_variants; i++)
		if (!strcmp(obj->variants[i].value, value))
			return obj->variants[i].type;
	return NULL;
}

/* ---- walks ---------------------------------------------------------------- */

/* The entities one walk has been through, so that shared and cyclic types
 * are entered once. */
struct seen {
	const struct qmp_schema_entity *v[256];
	size_t n;
};

static bool seen_add(struct seen *seen, const struct qmp_schema_entity *e)
{
	for (size_t i = 0; i < seen->n; i++)
		if (seen->v[i] == e)
			return false;
	if (seen->n == sizeof(seen->v) / sizeof(seen->v[0]))
		return false; /* bounded: the largest union of 7.2 (object-add) enters 41 */
	seen->v[seen->n++] = e;
	return true;
}

struct walk {
	qmp_schema_member_fn *fn;
	void *opaque;
	struct seen seen;
	size_t count;
	bool stop;
};

static void walk(struct walk *w, const struct qmp_schema_entity *obj, int depth)
{
	if (!obj || obj->meta != QMP_SCHEMA_OBJECT || depth > QMP_SCHEMA_MAX_DEPTH || !seen_add(&w->seen, obj))
		return;
	for (size_t i = 0; i < obj->n_members && !w->stop; i++) {
		w->count++;
		if (!w->fn(w->opaque, obj, &obj->members[i]))
			w->stop = true;
	}
	for (size_t i = 0; i < obj->n_variants && !w->stop; i++)
		walk(w, obj->variants[i].type, depth + 1);
}

size_t qmp_schema_walk_members(const struct qmp_schema_entity *obj, qmp_schema_member_fn *fn, void *opaque)
{
	struct walk w = { .fn = fn, .opaque = opaque };

	walk(&w, obj, 0);
	return w.count;
}

struct find {
	const char *name;
	const struct qmp_schema_member *found;
};

static bool find_fn(void *opaque, const struct qmp_schema_entity *owner, const struct qmp_schema_member *m)
{
	struct find *f = opaque;

	(void)owner;
	if (strcmp(m->name, f->name) != 0)
		return true;
	f->found = m;
	return false;
}

const struct qmp_schema_member *qmp_schema_find_member(const struct qmp_schema_entity *obj, const char *name)
{
	struct find f = { .name = name };

	if (name)
		qmp_schema_walk_members(obj, find_fn, &f);
	return f.found;
}

const struct qmp_schema_entity *qmp_schema_as_object(const struct qmp_schema_entity *e)
{
	if (e && e->meta == QMP_SCHEMA_OBJECT)
		return e;
	/* QEMU allows one object branch per alternate; alternates of
	 * alternates are not QAPI, so one level is all there is to see. */
	for (size_t i = 0; e && e->meta == QMP_SCHEMA_ALTERNATE && i < e->n_alternatives; i++)
		if (e->alternatives[i] && e->alternatives[i]->meta == QMP_SCHEMA_OBJECT)
			return e->alternatives[i];
	return NULL;
}

const struct qmp_schema_entity *qmp_schema_path_type(const struct qmp_schema_entity *type, const char *path, size_t len)
{
	const char *end = path + len;
	char name[256];

	for (int depth = 0; path < end && type; depth++) {
		const char *dot = memchr(path, '.', (size_t)(end - path));
		size_t n = dot ? (size_t)(dot - path) : (size_t)(end - path);
		const struct qmp_schema_member *m;

		if (depth > QMP_SCHEMA_MAX_DEPTH || n >= sizeof(name))
			return NULL;
		memcpy(name, path, n);
		name[n] = '\0';
		m = qmp_schema_find_member(qmp_schema_as_object(type), name);
		type = m ? m->type : NULL;
		path += n + 1;
	}
	return type;
}

/* ---- readable names ------------------------------------------------------- */

/* A name a person can read: QEMU masks type names as digits, and implicit
 * types start with ':'. */
static bool shown(const char *name)
{
	if (!name || !*name || *name == ':')
		return false;
	for (const char *p = name; *p; p++)
		if (*p < '0' || *p > '9')
			return true;
	return false;
}

static void first_use(struct qc_buf *b, const struct ent *e)
{
	const char *seg[QMP_SCHEMA_MAX_DEPTH + 1];
	bool elem[QMP_SCHEMA_MAX_DEPTH + 1];
	size_t n = 0, when = SIZE_MAX;
	const char *tag = NULL, *value = NULL;
	const struct ent *root = e;
	bool element = false;

	/* Up the tree of first uses to a command, an event or a shown name;
	 * the segments come out innermost first. */
	while (root->origin != ORIGIN_NONE && root->origin != ORIGIN_ARG && root->origin != ORIGIN_RET &&
	       (root == e || !shown(root->pub.name)) && n < QMP_SCHEMA_MAX_DEPTH) {
		switch (root->origin) {
		case ORIGIN_MEMBER:
			elem[n] = false;
			seg[n++] = root->label;
			break;
		case ORIGIN_ELEMENT:
			elem[n] = true;
			seg[n++] = "[]";
			break;
		case ORIGIN_VARIANT:
			if (when == SIZE_MAX) {
				when = n;
				tag = root->parent->pub.tag;
				value = root->label;
			}
			break;
		default:
			break;
		}
		root = root->parent;
	}
	if (n && elem[n - 1]) {
		element = true; /* the root is an array: "element of ..." */
		n--;
	}
	for (size_t i = n; i-- > 0;)
		qc_buf_printf(b, "%s%s", i + 1 < n && !elem[i] ? "." : "", seg[i]);
	if (n)
		qc_buf_append_str(b, " in ");
	if (element)
		qc_buf_append_str(b, "element of ");
	if (root->origin == ORIGIN_ARG)
		qc_buf_printf(b, "arguments of %s", root->parent->pub.name);
	else if (root->origin == ORIGIN_RET)
		qc_buf_printf(b, "return value of %s", root->parent->pub.name);
	else
		qc_buf_append_str(b, root->pub.name);
	if (tag) {
		qc_buf_append_str(b, " when ");
		/* The tag sits beside the members above the variant. */
		for (size_t i = n; i-- > when;)
			if (!elem[i])
				qc_buf_printf(b, "%s.", seg[i]);
		qc_buf_printf(b, "%s is %s", tag, value);
	}
}

char *qmp_schema_type_name(const struct qmp_schema *s, const struct qmp_schema_entity *e)
{
	struct qc_buf b = { 0 };
	int depth = 0;

	(void)s;
	for (; e && e->meta == QMP_SCHEMA_ARRAY && depth < QMP_SCHEMA_MAX_DEPTH; depth++) {
		qc_buf_append_str(&b, "array of ");
		e = e->element_type;
	}
	if (!e)
		qc_buf_append_str(&b, "(missing type)");
	else if (e->meta == QMP_SCHEMA_ARRAY)
		qc_buf_append_str(&b, "...");
	else if (e->meta == QMP_SCHEMA_BUILTIN)
		qc_buf_append_str(&b, e->json_type ? e->json_type : e->name);
	else if (shown(e->name) || ent_of(e)->origin == ORIGIN_NONE)
		qc_buf_append_str(&b, e->name);
	else
		first_use(&b, ent_of(e));
	return qc_buf_steal(&b);
}

/* ---- checking arguments --------------------------------------------------- */

struct check {
	const struct qmp_schema *s;
	struct qc_buf path; /* of the value being checked */
	struct qc_error **errp;
};

static void check_fail(struct check *c, const char *fmt, ...) QC_PRINTF(2, 3);

static void check_fail(struct check *c, const char *fmt, ...)
{
	struct qc_buf b = { 0 };
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	qc_buf_printf(&b, "%s: %s", c->path.len ? qc_buf_str(&c->path) : "arguments", msg);
	qc_error_set(c->errp, "%s", qc_buf_str(&b));
	qc_buf_free(&b);
	free(msg);
}

static const char *json_word(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_int:
		return "int";
	case json_type_double:
		return "number";
	case json_type_string:
		return "string";
	case json_type_array:
		return "array";
	case json_type_object:
		return "object";
	}
	return "value";
}

/* Does v have the JSON type a builtin of that json-type takes? */
static bool json_fits(const char *json_type, struct json_object *v)
{
	enum json_type t = json_object_get_type(v);

	if (!json_type || !strcmp(json_type, "value"))
		return true;
	if (!strcmp(json_type, "string"))
		return t == json_type_string;
	if (!strcmp(json_type, "int"))
		return t == json_type_int;
	if (!strcmp(json_type, "number"))
		return t == json_type_int || t == json_type_double;
	if (!strcmp(json_type, "boolean"))
		return t == json_type_boolean;
	if (!strcmp(json_type, "null"))
		return t == json_type_null;
	if (!strcmp(json_type, "object"))
		return t == json_type_object;
	if (!strcmp(json_type, "array"))
		return t == json_type_array;
	return true; /* a json-type this version does not know */
}

/* Whether an alternate's branch takes values of v's JSON type (QEMU picks
 * the branch by the JSON type alone). */
static bool branch_takes(const struct qmp_schema_entity *b, struct json_object *v)
{
	if (!b)
		return false;
	switch (b->meta) {
	case QMP_SCHEMA_BUILTIN:
		return json_fits(b->json_type, v);
	case QMP_SCHEMA_ENUM:
		return json_object_is_type(v, json_type_string);
	case QMP_SCHEMA_OBJECT:
		return json_object_is_type(v, json_type_object);
	case QMP_SCHEMA_ARRAY:
		return json_object_is_type(v, json_type_array);
	default:
		return false;
	}
}

/* Appends ".name", or "[idx]" when name is NULL. */
static void path_push(struct check *c, size_t *mark, const char *name, size_t idx)
{
	*mark = c->path.len;
	if (name)
		qc_buf_printf(&c->path, "%s%s", c->path.len ? "." : "", name);
	else
		qc_buf_printf(&c->path, "[%zu]", idx);
}

static void path_pop(struct check *c, size_t mark)
{
	c->path.len = mark;
	if (c->path.data)
		c->path.data[mark] = '\0';
}

static bool check_value(struct check *c, const struct qmp_schema_entity *t, struct json_object *v, int depth);

/* The members that apply to v: the object's own, then those of the
 * variant its tag selects, and so on down nested unions. */
static bool check_object(struct check *c, const struct qmp_schema_entity *t, struct json_object *v, int depth)
{
	const struct qmp_schema_entity *chain[QMP_SCHEMA_MAX_DEPTH];
	size_t n = 0;

	if (!json_object_is_type(v, json_type_object)) {
		check_fail(c, "expected an object, got %s", json_word(v));
		return false;
	}
	for (const struct qmp_schema_entity *o = t; o && o->meta == QMP_SCHEMA_OBJECT;) {
		const struct qmp_schema_member *tag = NULL;
		struct json_object *tv;

		for (size_t i = 0; i < n; i++)
			if (chain[i] == o)
				goto cycle;
		if (n == QMP_SCHEMA_MAX_DEPTH) {
			check_fail(c, "the schema's unions nest too deep");
			return false;
		}
		chain[n++] = o;
		if (!o->tag)
			break;
		for (size_t i = 0; i < n && !tag; i++)
			for (size_t k = 0; k < chain[i]->n_members && !tag; k++)
				if (!strcmp(chain[i]->members[k].name, o->tag))
					tag = &chain[i]->members[k];
		/* A missing or bad tag is reported with the members below. */
		if (!tag || !json_object_object_get_ex(v, o->tag, &tv) || !json_object_is_type(tv, json_type_string))
			break;
		o = qmp_schema_variant(o, json_object_get_string(tv));
	}
	if (0) {
cycle:
		check_fail(c, "the schema's unions nest in a cycle");
		return false;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < chain[i]->n_members; k++) {
			const struct qmp_schema_member *m = &chain[i]->members[k];
			struct json_object *mv;
			size_t mark;
			bool ok = true;

			path_push(c, &mark, m->name, 0);
			if (!json_object_object_get_ex(v, m->name, &mv)) {
				if (!m->optional) {
					check_fail(c, "missing required member");
					ok = false;
				}
			} else {
				ok = check_value(c, m->type, mv, depth + 1);
			}
			path_pop(c, mark);
			if (!ok)
				return false;
		}
	json_object_object_foreach (v, key, val) {
		bool known = false;
		size_t mark;

		(void)val;
		for (size_t i = 0; i < n && !known; i++)
			for (size_t k = 0; k < chain[i]->n_members && !known; k++)
				known = !strcmp(chain[i]->members[k].name, key);
		if (known)
			continue;
		path_push(c, &mark, key, 0);
		check_fail(c, "unknown member");
		path_pop(c, mark);
		return false;
	}
	return true;
}

static bool check_value(struct check *c, const struct qmp_schema_entity *t, struct json_object *v, int depth)
{
	if (depth > QMP_SCHEMA_MAX_DEPTH) {
		check_fail(c, "nested too deep");
		return false;
	}
	if (!t) {
		check_fail(c, "the schema lacks this member's type");
		return false;
	}
	switch (t->meta) {
	case QMP_SCHEMA_BUILTIN:
		if (json_fits(t->json_type, v))
			return true;
		check_fail(c, "expected %s, got %s", t->json_type, json_word(v));
		return false;
	case QMP_SCHEMA_ENUM: {
		struct qc_buf b = { 0 };

		if (json_object_is_type(v, json_type_string) && in(t->values, t->n_values, json_object_get_string(v)))
			return true;
		for (size_t i = 0; i < t->n_values; i++)
			qc_buf_printf(&b, "%s%s", i ? ", " : "", t->values[i]);
		check_fail(c, "expected one of: %s", t->n_values ? qc_buf_str(&b) : "(no values)");
		qc_buf_free(&b);
		return false;
	}
	case QMP_SCHEMA_ARRAY:
		if (!json_object_is_type(v, json_type_array)) {
			check_fail(c, "expected an array, got %s", json_word(v));
			return false;
		}
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			size_t mark;
			bool ok;

			path_push(c, &mark, NULL, i);
			ok = check_value(c, t->element_type, json_object_array_get_idx(v, i), depth + 1);
			path_pop(c, mark);
			if (!ok)
				return false;
		}
		return true;
	case QMP_SCHEMA_OBJECT:
		return check_object(c, t, v, depth);
	case QMP_SCHEMA_ALTERNATE: {
		struct qc_buf b = { 0 };

		for (size_t i = 0; i < t->n_alternatives; i++)
			if (branch_takes(t->alternatives[i], v))
				return check_value(c, t->alternatives[i], v, depth + 1);
		for (size_t i = 0; i < t->n_alternatives; i++) {
			char *name = qmp_schema_type_name(c->s, t->alternatives[i]);

			qc_buf_printf(&b, "%s%s", i ? " or " : "", name);
			free(name);
		}
		check_fail(c, "expected %s, got %s", b.len ? qc_buf_str(&b) : "(no types)", json_word(v));
		qc_buf_free(&b);
		return false;
	}
	default:
		check_fail(c, "the schema gives this member a %s, not a type", t->meta_name);
		return false;
	}
}

bool qmp_schema_check(const struct qmp_schema *s, const char *command, struct json_object *args, struct qc_error **errp)
{
	const struct qmp_schema_entity *cmd = qmp_schema_command(s, command);
	struct json_object *empty = NULL;
	struct check c = { .s = s, .errp = errp };
	bool ok;

	if (!cmd) {
		qc_error_set(errp, "%s: no such command in QEMU's schema", command ? command : "(null)");
		return false;
	}
	if (!args)
		args = empty = json_object_new_object();
	if (!cmd->arg_type && json_object_is_type(args, json_type_object) && json_object_object_length(args) == 0)
		ok = true; /* no arguments declared, none given */
	else
		ok = check_value(&c, cmd->arg_type, args, 0);
	json_object_put(empty);
	qc_buf_free(&c.path);
	return ok;
}
