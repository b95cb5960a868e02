/*
 * qmp_schema: QEMU's own description of its QMP interface (the return value
 * of query-qmp-schema), indexed once by name, with bounded walks over it.
 *
 * The schema is untrusted input: a reference may name a missing entity, an
 * entity may have the wrong shape, types may refer to each other in a cycle.
 * Such references resolve to NULL, wrong-shaped fields read as absent, and
 * every walk is cycle-safe and capped in depth (QMP_SCHEMA_MAX_DEPTH).
 *
 * Ownership: qmp_schema_new() takes a reference of its own on the array
 * (json_object_get), so the caller still puts its own.  Every pointer the
 * module hands out (entities, members, strings) is owned by the schema and
 * lives until qmp_schema_free(); the caller frees only the strings returned
 * by qmp_schema_type_name() and the errors.
 *
 * QEMU masks the names of types on the wire ("49", "[301]"); only commands,
 * events and builtins keep theirs.  qmp_schema_type_name() gives such a type
 * the name QEMU's docs show where one exists, else a name from where it is
 * first used ("arguments of blockdev-add", "driver in arguments of ...").
 */
#ifndef QMP_SCHEMA_H
#define QMP_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "qc_error.h"

struct json_object;

/* Deepest nesting any walk follows (members, variants, arrays, alternates). */
#define QMP_SCHEMA_MAX_DEPTH 32

enum qmp_schema_meta {
	QMP_SCHEMA_UNKNOWN, /* a meta-type this version does not know */
	QMP_SCHEMA_BUILTIN,
	QMP_SCHEMA_ENUM,
	QMP_SCHEMA_ARRAY,
	QMP_SCHEMA_OBJECT,
	QMP_SCHEMA_ALTERNATE,
	QMP_SCHEMA_COMMAND,
	QMP_SCHEMA_EVENT,
};

struct qmp_schema_entity;

/* A member of an object type. */
struct qmp_schema_member {
	const char *name;
	const char *type_name;		      /* as the schema spells it */
	const struct qmp_schema_entity *type; /* NULL when the schema lacks it */
	bool optional;			      /* "default" present */
	const char *const *features;
	size_t n_features;
};

/* One branch of a flat union: members of type apply when tag == value. */
struct qmp_schema_variant {
	const char *value;
	const char *type_name;
	const struct qmp_schema_entity *type;
};

/* One entity of the schema.  Only the fields of its meta-type are set;
 * the others are NULL / 0. */
struct qmp_schema_entity {
	const char *name;
	enum qmp_schema_meta meta;
	const char *meta_name; /* the meta-type as sent, for QMP_SCHEMA_UNKNOWN */
	const char *const *features;
	size_t n_features;
	/* command, event */
	const struct qmp_schema_entity *arg_type; /* NULL: none, or missing */
	const struct qmp_schema_entity *ret_type; /* command only */
	bool allow_oob;
	/* builtin: "string", "int", "number", "boolean", "null", "value", ... */
	const char *json_type;
	/* enum ("values" as in QEMU 7.2, or the names of "members" as later) */
	const char *const *values;
	size_t n_values;
	/* array */
	const struct qmp_schema_entity *element_type;
	/* object: own members; a flat union also has tag and variants */
	const struct qmp_schema_member *members;
	size_t n_members;
	const char *tag;
	const struct qmp_schema_variant *variants;
	size_t n_variants;
	/* alternate: the types a value may be of (NULL entries: missing) */
	const struct qmp_schema_entity *const *alternatives;
	size_t n_alternatives;
};

struct qmp_schema;

/* Indexes the return value of query-qmp-schema.  Entities that are not an
 * object with a string "name" and "meta-type" are skipped, as are later
 * duplicates of a name.  Returns NULL with *errp set only when info is not
 * an array. */
struct qmp_schema *qmp_schema_new(struct json_object *info, struct qc_error **errp);
void qmp_schema_free(struct qmp_schema *s);

/* Entities in the order QEMU sent them (commands and events first). */
size_t qmp_schema_count(const struct qmp_schema *s);
const struct qmp_schema_entity *qmp_schema_at(const struct qmp_schema *s, size_t i);

/* By name, or NULL.  qmp_schema_command/_event also check the meta-type. */
const struct qmp_schema_entity *qmp_schema_lookup(const struct qmp_schema *s, const char *name);
const struct qmp_schema_entity *qmp_schema_command(const struct qmp_schema *s, const char *name);
const struct qmp_schema_entity *qmp_schema_event(const struct qmp_schema *s, const char *name);

bool qmp_schema_has_feature(const struct qmp_schema_entity *e, const char *feature);
bool qmp_schema_member_has_feature(const struct qmp_schema_member *m, const char *feature);
bool qmp_schema_is_bool(const struct qmp_schema_entity *e);

/* The variant type of a flat union for one tag value, or NULL (no such
 * value, a branch without members, or not a union). */
const struct qmp_schema_entity *qmp_schema_variant(const struct qmp_schema_entity *obj, const char *value);

/* Calls fn for every member of an object type: its own, then those of all
 * its variants (each variant type once, however many values share it),
 * depth-first.  Stops early when fn returns false.  Returns the number of
 * members visited. */
typedef bool qmp_schema_member_fn(void *opaque, const struct qmp_schema_entity *owner,
				  const struct qmp_schema_member *m);
size_t qmp_schema_walk_members(const struct qmp_schema_entity *obj, qmp_schema_member_fn *fn, void *opaque);

/* The first member called name in that walk, or NULL. */
const struct qmp_schema_member *qmp_schema_find_member(const struct qmp_schema_entity *obj, const char *name);

/* The object a dotted key's members live in: an object itself, or the
 * object branch of an alternate (as BlockdevRef's BlockdevOptions).  NULL
 * when there is none. */
const struct qmp_schema_entity *qmp_schema_as_object(const struct qmp_schema_entity *e);

/* The type of the member at a dotted path ("file.driver", the first len
 * bytes of path) below type, seeing through alternates on the way; type
 * itself for an empty path; NULL when a step is missing. */
const struct qmp_schema_entity *qmp_schema_path_type(const struct qmp_schema_entity *type, const char *path,
						     size_t len);

/* A readable name for a type, as QEMU's docs write it: the builtins' JSON
 * words ("string", "boolean", "value"), "array of X", a type's own name when
 * the schema shows one, and for masked or implicit (":obj-...") types the
 * place of first use: "arguments of blockdev-add", "return value of
 * query-status", "file.driver in arguments of blockdev-add", "... when
 * driver is file".  The caller frees it; NULL e gives "(missing type)". */
char *qmp_schema_type_name(const struct qmp_schema *s, const struct qmp_schema_entity *e);

/* Checks a command's arguments (NULL: none) against the schema, as QEMU
 * would before running it: unknown members, wrong JSON types, missing
 * required members, bad enum values, the union variant by its tag.
 * Returns true, or false with *errp set to one line naming the path:
 * "file.driver: expected one of: blkdebug, ...". */
bool qmp_schema_check(const struct qmp_schema *s, const char *command, struct json_object *args,
		      struct qc_error **errp);

#endif
