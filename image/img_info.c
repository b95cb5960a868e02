/*
 * img_info: qemu-img-compatible image information.
 *
 * QEMU 7.2 keeps this information in hash-ordered dictionaries, so the key
 * order of its output is fixed but not alphabetical; the builders below
 * insert keys in exactly that order and the human dumper walks them in
 * insertion order.
 */
#include "img_info.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "img_qcow2_format.h"

void img_size_str(char *buf, size_t cap, uint64_t val)
{
	static const char *const suffixes[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
	int e, i;

	/* Switch to the next unit once the integer part would reach 1000. */
	frexp((double)val / (1000.0 / 1024.0), &e);
	i = (e - 1) / 10;
	if (i < 0)
		i = 0;
	if (i > 6)
		i = 6;
	snprintf(buf, cap, "%0.3g %sB", (double)val / (double)(1ull << (i * 10)), suffixes[i]);
}

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static struct json_object *jint(uint64_t v)
{
	return json_object_new_int64((int64_t)v);
}

static struct json_object *snapshot_json(const struct img_qcow2_snapshot *sn)
{
	struct json_object *o = json_object_new_object();

	if (sn->has_icount)
		add(o, "icount", jint(sn->icount));
	add(o, "vm-clock-nsec", jint(sn->vm_clock_nsec % 1000000000ull));
	add(o, "name", json_object_new_string(sn->name));
	add(o, "date-sec", jint(sn->date_sec));
	add(o, "date-nsec", jint(sn->date_nsec));
	add(o, "vm-clock-sec", jint(sn->vm_clock_nsec / 1000000000ull));
	add(o, "id", json_object_new_string(sn->id));
	add(o, "vm-state-size", jint(sn->vm_state_size));
	return o;
}

static struct json_object *encrypt_json(const struct img_qcow2 *q)
{
	struct json_object *o = json_object_new_object(), *slots;
	const struct img_luks_info *l = &q->luks;

	if (q->crypt_method == QCOW2_CRYPT_AES || !q->has_luks) {
		add(o, "format", json_object_new_string(q->crypt_method == QCOW2_CRYPT_AES ? "aes" : "luks"));
		return o;
	}
	add(o, "ivgen-alg", json_object_new_string(l->ivgen_alg));
	add(o, "hash-alg", json_object_new_string(l->hash_alg));
	add(o, "cipher-alg", json_object_new_string(l->cipher_alg));
	add(o, "uuid", json_object_new_string(l->uuid));
	if (l->ivgen_hash_alg[0])
		add(o, "ivgen-hash-alg", json_object_new_string(l->ivgen_hash_alg));
	add(o, "format", json_object_new_string("luks"));
	add(o, "cipher-mode", json_object_new_string(l->cipher_mode));
	slots = json_object_new_array();
	for (int i = 0; i < LUKS_NUM_SLOTS; i++) {
		struct json_object *s = json_object_new_object();

		add(s, "active", json_object_new_boolean(l->slots[i].active));
		if (l->slots[i].active)
			add(s, "iters", jint(l->slots[i].iters));
		add(s, "key-offset", jint(l->slots[i].key_offset));
		if (l->slots[i].active)
			add(s, "stripes", jint(l->slots[i].stripes));
		json_object_array_add(slots, s);
	}
	add(o, "slots", slots);
	add(o, "payload-offset", jint(l->payload_offset));
	add(o, "master-key-iters", jint(l->master_key_iters));
	return o;
}

static struct json_object *qcow2_specific(const struct img_qcow2 *q)
{
	struct json_object *spec = json_object_new_object(), *d = json_object_new_object();
	bool v3 = q->version >= 3;

	add(d, "compat", json_object_new_string(v3 ? "1.1" : "0.10"));
	add(d, "compression-type",
	    json_object_new_string(q->compression_type == QCOW2_COMPRESSION_ZSTD ? "zstd" : "zlib"));
	if (v3)
		add(d, "lazy-refcounts", json_object_new_boolean(q->compat & QCOW2_COMPAT_LAZY_REFCOUNTS));
	if (v3 && q->has_bitmaps_ext) {
		struct json_object *list = json_object_new_array();

		for (uint32_t i = 0; i < q->nb_bitmaps; i++) {
			struct json_object *b = json_object_new_object(), *flags = json_object_new_array();

			if (q->bitmaps[i].flags & QCOW2_BME_FLAG_IN_USE)
				json_object_array_add(flags, json_object_new_string("in-use"));
			if (q->bitmaps[i].flags & QCOW2_BME_FLAG_AUTO)
				json_object_array_add(flags, json_object_new_string("auto"));
			add(b, "flags", flags);
			add(b, "name", json_object_new_string(q->bitmaps[i].name));
			add(b, "granularity", jint(1ull << q->bitmaps[i].granularity_bits));
			json_object_array_add(list, b);
		}
		add(d, "bitmaps", list);
	}
	add(d, "refcount-bits", jint(1ull << q->refcount_order));
	if (v3 && q->data_file) {
		add(d, "data-file", json_object_new_string(q->data_file));
		add(d, "data-file-raw", json_object_new_boolean(q->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW));
	}
	if (q->crypt_method)
		add(d, "encrypt", encrypt_json(q));
	if (v3) {
		add(d, "corrupt", json_object_new_boolean(q->incompat & QCOW2_INCOMPAT_CORRUPT));
		add(d, "extended-l2", json_object_new_boolean(q->extended_l2));
	}
	add(spec, "type", json_object_new_string("qcow2"));
	add(spec, "data", d);
	return spec;
}

struct json_object *img_info_json(struct img *img, const char *name, struct qc_error **errp)
{
	struct json_object *o = json_object_new_object();
	const struct img_qcow2 *q = img->qcow2;
	char *full = NULL;
	struct stat st;

	(void)errp;
	if (q && q->backing_file) {
		full = img_backing_resolve(name, q->backing_file);
		if (q->backing_format)
			add(o, "backing-filename-format", json_object_new_string(q->backing_format));
	}
	if (q && q->nb_snapshots) {
		struct json_object *list = json_object_new_array();

		for (uint32_t i = 0; i < q->nb_snapshots; i++)
			json_object_array_add(list, snapshot_json(&q->snapshots[i]));
		add(o, "snapshots", list);
	}
	add(o, "virtual-size", jint(img->size));
	add(o, "filename", json_object_new_string(name));
	if (q)
		add(o, "cluster-size", jint(q->cluster_size));
	add(o, "format", json_object_new_string(img_format_name(img->fmt)));
	if (fstat(img->fd, &st) == 0)
		add(o, "actual-size", jint((uint64_t)st.st_blocks * 512));
	if (q)
		add(o, "format-specific", qcow2_specific(q));
	if (full)
		add(o, "full-backing-filename", json_object_new_string(full));
	if (q && q->crypt_method)
		add(o, "encrypted", json_object_new_boolean(1));
	if (q && q->backing_file)
		add(o, "backing-filename", json_object_new_string(q->backing_file));
	add(o, "dirty-flag", json_object_new_boolean(q && (q->incompat & QCOW2_INCOMPAT_DIRTY)));
	free(full);
	return o;
}

struct json_object *img_info_chain_json(struct img *img, struct qc_error **errp)
{
	struct json_object *list = json_object_new_array();
	const char *name = img->path;

	for (struct img *i = img; i; i = i->backing) {
		struct json_object *o = img_info_json(i, name, errp);

		if (!o) {
			json_object_put(list);
			return NULL;
		}
		json_object_array_add(list, o);
		name = i->backing_path;
		if (i->backing_path && !i->backing) {
			qc_error_set(errp, "%s: backing file was not opened", i->path);
			json_object_put(list);
			return NULL;
		}
	}
	return list;
}

/* ---- human output ------------------------------------------------------- */

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static void dump_value(struct qc_buf *out, struct json_object *v, int indent);

static void dump_scalar(struct qc_buf *out, struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		qc_buf_append_str(out, json_object_get_boolean(v) ? "true" : "false");
		break;
	case json_type_int:
		qc_buf_printf(out, "%" PRId64, json_object_get_int64(v));
		break;
	default:
		qc_buf_append_str(out, json_object_get_string(v));
	}
}

static bool composite(struct json_object *v)
{
	return json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array);
}

static void dump_value(struct qc_buf *out, struct json_object *v, int indent)
{
	if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *e = json_object_array_get_idx(v, i);

			qc_buf_printf(out, "%*s[%zu]:%s", indent * 4, "", i, composite(e) ? "\n" : " ");
			if (composite(e)) {
				dump_value(out, e, indent + 1);
			} else {
				dump_scalar(out, e);
				qc_buf_append_c(out, '\n');
			}
		}
		return;
	}
	json_object_object_foreach (v, key, val) {
		qc_buf_printf(out, "%*s", indent * 4, "");
		for (const char *k = key; *k; k++)
			qc_buf_append_c(out, *k == '-' ? ' ' : *k);
		qc_buf_append_str(out, composite(val) ? ":\n" : ": ");
		if (composite(val)) {
			dump_value(out, val, indent + 1);
		} else {
			dump_scalar(out, val);
			qc_buf_append_c(out, '\n');
		}
	}
}

void img_info_snapshot_table(struct qc_buf *out, struct json_object *snapshots)
{
	qc_buf_printf(out, "%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
	for (size_t i = 0; i < json_object_array_length(snapshots); i++) {
		struct json_object *sn = json_object_array_get_idx(snapshots, i), *ic;
		char size[32], date[64] = "", clock[64], icount[32] = "";
		time_t t = (time_t)num(sn, "date-sec");
		uint64_t secs = (uint64_t)num(sn, "vm-clock-sec");
		struct tm tm;

		img_size_str(size, sizeof(size), (uint64_t)num(sn, "vm-state-size"));
		if (localtime_r(&t, &tm))
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(clock, sizeof(clock), "%02d:%02d:%02d.%03d", (int)(secs / 3600), (int)((secs / 60) % 60),
			 (int)(secs % 60), (int)((uint64_t)num(sn, "vm-clock-nsec") / 1000000 % 1000));
		if (json_object_object_get_ex(sn, "icount", &ic))
			snprintf(icount, sizeof(icount), "%" PRId64, json_object_get_int64(ic));
		qc_buf_printf(out, "%-9s %-16s %8s%20s%13s%11s\n", str(sn, "id"), str(sn, "name"), size, date, clock,
			      icount);
	}
}

void img_info_human(struct qc_buf *out, struct json_object *info)
{
	struct json_object *v;
	char vsize[32], dsize[32] = "unavailable";
	const char *backing = str(info, "backing-filename"), *full = str(info, "full-backing-filename");

	img_size_str(vsize, sizeof(vsize), (uint64_t)num(info, "virtual-size"));
	if (json_object_object_get_ex(info, "actual-size", &v))
		img_size_str(dsize, sizeof(dsize), (uint64_t)json_object_get_int64(v));
	qc_buf_printf(out, "image: %s\nfile format: %s\nvirtual size: %s (%" PRId64 " bytes)\ndisk size: %s\n",
		      str(info, "filename"), str(info, "format"), vsize, num(info, "virtual-size"), dsize);
	if (json_object_object_get_ex(info, "encrypted", &v) && json_object_get_boolean(v))
		qc_buf_append_str(out, "encrypted: yes\n");
	if (json_object_object_get_ex(info, "cluster-size", &v))
		qc_buf_printf(out, "cluster_size: %" PRId64 "\n", json_object_get_int64(v));
	if (json_object_object_get_ex(info, "dirty-flag", &v) && json_object_get_boolean(v))
		qc_buf_append_str(out, "cleanly shut down: no\n");
	if (backing) {
		qc_buf_printf(out, "backing file: %s", backing);
		if (full && strcmp(full, backing))
			qc_buf_printf(out, " (actual path: %s)", full);
		qc_buf_append_c(out, '\n');
		if (str(info, "backing-filename-format"))
			qc_buf_printf(out, "backing file format: %s\n", str(info, "backing-filename-format"));
	}
	if (json_object_object_get_ex(info, "snapshots", &v)) {
		qc_buf_append_str(out, "Snapshot list:\n");
		img_info_snapshot_table(out, v);
	}
	if (json_object_object_get_ex(info, "format-specific", &v) && json_object_object_get_ex(v, "data", &v)) {
		qc_buf_append_str(out, "Format specific information:\n");
		dump_value(out, v, 1);
	}
}

/* ---- JSON text ---------------------------------------------------------- */

static void json_string(struct qc_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	qc_buf_append_c(out, '"');
	while (*p) {
		uint32_t cp;
		int n;

		if (*p < 0x80) {
			switch (*p) {
			case '"':
				qc_buf_append_str(out, "\\\"");
				break;
			case '\\':
				qc_buf_append_str(out, "\\\\");
				break;
			case '\b':
				qc_buf_append_str(out, "\\b");
				break;
			case '\f':
				qc_buf_append_str(out, "\\f");
				break;
			case '\n':
				qc_buf_append_str(out, "\\n");
				break;
			case '\r':
				qc_buf_append_str(out, "\\r");
				break;
			case '\t':
				qc_buf_append_str(out, "\\t");
				break;
			default:
				if (*p < 0x20 || *p == 0x7f)
					qc_buf_printf(out, "\\u%04X", *p);
				else
					qc_buf_append_c(out, (char)*p);
			}
			p++;
			continue;
		}
		/* UTF-8 to \uXXXX (surrogate pairs past the BMP); invalid
		 * bytes become U+FFFD. */
		n = (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
		cp = n == 1 ? (*p & 0x1fu) : n == 2 ? (*p & 0x0fu) : (*p & 0x07u);
		for (int i = 1; n > 0 && i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				n = -1;
				break;
			}
			cp = cp << 6 | (p[i] & 0x3fu);
		}
		if (n < 0 || (n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) {
			qc_buf_append_str(out, "\\uFFFD");
			p++;
			continue;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			qc_buf_printf(out, "\\u%04X\\u%04X", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
		} else {
			qc_buf_printf(out, "\\u%04X", cp);
		}
		p += n + 1;
	}
	qc_buf_append_c(out, '"');
}

static void json_text(struct qc_buf *out, struct json_object *v, int indent)
{
	bool first = true;

	switch (json_object_get_type(v)) {
	case json_type_object:
		qc_buf_append_str(out, "{\n");
		json_object_object_foreach (v, key, val) {
			if (!first)
				qc_buf_append_str(out, ",\n");
			first = false;
			qc_buf_printf(out, "%*s", (indent + 1) * 4, "");
			json_string(out, key);
			qc_buf_append_str(out, ": ");
			json_text(out, val, indent + 1);
		}
		qc_buf_printf(out, "%s%*s}", first ? "" : "\n", indent * 4, "");
		break;
	case json_type_array:
		qc_buf_append_str(out, "[\n");
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (i)
				qc_buf_append_str(out, ",\n");
			qc_buf_printf(out, "%*s", (indent + 1) * 4, "");
			json_text(out, json_object_array_get_idx(v, i), indent + 1);
			first = false;
		}
		qc_buf_printf(out, "%s%*s]", first ? "" : "\n", indent * 4, "");
		break;
	case json_type_string:
		json_string(out, json_object_get_string(v));
		break;
	case json_type_null:
		qc_buf_append_str(out, "null");
		break;
	default:
		dump_scalar(out, v);
	}
}

void img_info_json_text(struct qc_buf *out, struct json_object *v)
{
	json_text(out, v, 0);
	qc_buf_append_c(out, '\n');
}
