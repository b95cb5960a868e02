/*
 * img_qcow2: decoding and validation of qcow2 metadata.
 *
 * The order of checks follows the order of dependencies: header fields that
 * size or place anything are validated before anything is read through
 * them.  Limits are QEMU's (img_qcow2_format.h), so we accept what QEMU
 * opens and nothing makes us allocate more than those limits allow.
 */
#include "img_qcow2.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef QMPCTL_HAVE_ZSTD
#include <zstd.h>
#endif

#include "img_be.h"
#include "img_qcow2_format.h"
#include "qc_buf.h"

bool img_qcow2_probe(const uint8_t *buf, size_t len)
{
	return len >= 4 && img_be32(buf) == QCOW2_MAGIC;
}

uint64_t img_qcow2_l1_needed(uint32_t cluster_bits, bool extended_l2, uint64_t size)
{
	uint32_t l2_bits = cluster_bits - (extended_l2 ? 4 : 3);
	uint32_t shift = cluster_bits + l2_bits;

	if (shift >= 64)
		return size ? 1 : 0;
	return (size >> shift) + ((size & ((1ull << shift) - 1)) != 0);
}

uint64_t img_qcow2_l1_covers(const struct img_qcow2 *q, uint32_t n)
{
	uint32_t shift = q->cluster_bits + (q->cluster_bits - (q->extended_l2 ? 4 : 3));

	if ((uint64_t)n >> (64 - shift))
		return UINT64_MAX;
	return (uint64_t)n << shift;
}

static bool aligned(const struct img_qcow2 *q, uint64_t off)
{
	return (off & (q->cluster_size - 1)) == 0;
}

/* Checks that [off, off + len) is a cluster-aligned range inside the file. */
static int check_table(const struct img_qcow2 *q, uint64_t off, uint64_t len, const char *what, struct qc_error **errp)
{
	if (!aligned(q, off)) {
		qc_error_set(errp, "%s offset %#" PRIx64 " is not aligned to a cluster", what, off);
		return -1;
	}
	if (off > q->io->size || len > q->io->size - off) {
		qc_error_set(errp,
			     "%s at offset %#" PRIx64 " (%" PRIu64 " bytes) is past the end of the file (%" PRIu64
			     " bytes)",
			     what, off, len, q->io->size);
		return -1;
	}
	return 0;
}

static char *dup_field(const uint8_t *p, size_t len)
{
	return qc_strndup((const char *)p, len);
}

/* ---- header extensions ------------------------------------------------ */

static int parse_bitmaps_ext(struct img_qcow2 *q, const uint8_t *d, uint32_t len, struct qc_error **errp)
{
	if (len != QCOW2_BITMAPS_EXT_SIZE) {
		qc_error_set(errp, "bitmaps extension has length %u, expected %u", len, QCOW2_BITMAPS_EXT_SIZE);
		return -1;
	}
	if (q->version < 3 || !(q->autoclear & QCOW2_AUTOCLEAR_BITMAPS))
		return 0; /* inconsistent: QEMU ignores the bitmaps */
	q->nb_bitmaps = img_be32(d);
	q->bitmap_dir_size = img_be64(d + 8);
	q->bitmap_dir_offset = img_be64(d + 16);
	if (img_be32(d + 4)) {
		qc_error_set(errp, "bitmaps extension has non-zero reserved bytes");
		return -1;
	}
	if (q->nb_bitmaps == 0 || q->nb_bitmaps > QCOW2_MAX_BITMAPS) {
		qc_error_set(errp, "bitmaps extension lists %u bitmaps (1 to %u allowed)", q->nb_bitmaps,
			     QCOW2_MAX_BITMAPS);
		return -1;
	}
	if (q->bitmap_dir_size > QCOW2_MAX_BITMAP_DIR_BYTES ||
	    q->bitmap_dir_size < (uint64_t)q->nb_bitmaps * QCOW2_BME_HEADER) {
		qc_error_set(errp, "bitmap directory size %" PRIu64 " is invalid for %u bitmaps", q->bitmap_dir_size,
			     q->nb_bitmaps);
		return -1;
	}
	if (check_table(q, q->bitmap_dir_offset, q->bitmap_dir_size, "bitmap directory", errp) < 0)
		return -1;
	q->has_bitmaps_ext = true;
	return 0;
}

static int parse_extensions(struct img_qcow2 *q, const uint8_t *cl, uint64_t start, uint64_t end,
			    struct qc_error **errp)
{
	uint64_t off = start;
	unsigned seen = 0;

	while (off < end) {
		uint32_t type, len;
		const uint8_t *d;

		if (end - off < 8) {
			qc_error_set(errp, "header extension at offset %#" PRIx64 " is cut short", off);
			return -1;
		}
		type = img_be32(cl + off);
		len = img_be32(cl + off + 4);
		off += 8;
		if (type == QCOW2_EXT_END)
			return 0;
		if (len > end - off) {
			qc_error_set(errp,
				     "header extension %#x at offset %#" PRIx64 " has length %u, past the header area",
				     type, off - 8, len);
			return -1;
		}
		d = cl + off;
		switch (type) {
		case QCOW2_EXT_BACKING_FORMAT:
			if (seen & 1)
				goto dup;
			seen |= 1;
			if (len > QCOW2_MAX_BACKING_FORMAT) {
				qc_error_set(errp, "backing format name is %u bytes long (at most %u allowed)", len,
					     QCOW2_MAX_BACKING_FORMAT);
				return -1;
			}
			q->backing_format = dup_field(d, len);
			break;
		case QCOW2_EXT_FEATURE_TABLE:
			if (seen & 2)
				goto dup;
			seen |= 2;
			q->nb_features = len / QCOW2_FEATURE_ENTRY_SIZE;
			q->features = qc_calloc(q->nb_features ? q->nb_features : 1, sizeof(*q->features));
			for (size_t i = 0; i < q->nb_features; i++) {
				const uint8_t *e = d + i * QCOW2_FEATURE_ENTRY_SIZE;

				q->features[i].type = e[0];
				q->features[i].bit = e[1];
				memcpy(q->features[i].name, e + 2, QCOW2_FEATURE_NAME_LEN);
				q->features[i].name[QCOW2_FEATURE_NAME_LEN] = 0;
			}
			break;
		case QCOW2_EXT_BITMAPS:
			if (seen & 4)
				goto dup;
			seen |= 4;
			if (parse_bitmaps_ext(q, d, len, errp) < 0)
				return -1;
			break;
		case QCOW2_EXT_CRYPTO:
			if (seen & 8)
				goto dup;
			seen |= 8;
			if (len != QCOW2_CRYPTO_EXT_SIZE) {
				qc_error_set(errp, "encryption header extension has length %u, expected %u", len,
					     QCOW2_CRYPTO_EXT_SIZE);
				return -1;
			}
			q->has_crypto_ext = true;
			q->crypto_offset = img_be64(d);
			q->crypto_length = img_be64(d + 8);
			if (check_table(q, q->crypto_offset, q->crypto_length, "encryption header", errp) < 0)
				return -1;
			break;
		case QCOW2_EXT_DATA_FILE:
			if (seen & 16)
				goto dup;
			seen |= 16;
			if (len == 0 || len > QCOW2_MAX_DATA_FILE_NAME) {
				qc_error_set(errp, "external data file name is %u bytes long", len);
				return -1;
			}
			q->data_file = dup_field(d, len);
			break;
		default:
			break; /* unknown extensions are safe to ignore */
		}
		off += ((uint64_t)len + 7) & ~7ull;
	}
	return 0;
dup:
	qc_error_set(errp, "header extension %#x appears more than once", img_be32(cl + off - 8));
	return -1;
}

char *img_qcow2_unknown_incompat(const struct img_qcow2 *q)
{
	uint64_t unknown = q->incompat & ~QCOW2_INCOMPAT_KNOWN;
	struct qc_buf b = { 0 };

	if (!unknown)
		return NULL;
	for (unsigned bit = 0; bit < 64; bit++) {
		const char *name = NULL;

		if (!(unknown & (1ull << bit)))
			continue;
		for (size_t i = 0; i < q->nb_features; i++)
			if (q->features[i].type == QCOW2_FEATURE_TYPE_INCOMPAT && q->features[i].bit == bit &&
			    q->features[i].name[0])
				name = q->features[i].name;
		if (b.len)
			qc_buf_append_str(&b, ", ");
		if (name) {
			qc_buf_append_quoted(&b, name, strlen(name), QCOW2_FEATURE_NAME_LEN);
			qc_buf_printf(&b, " (bit %u)", bit);
		} else {
			qc_buf_printf(&b, "bit %u", bit);
		}
	}
	return qc_buf_steal(&b);
}

/* ---- snapshot table --------------------------------------------------- */

/* Reads the table in chunks: its size is only known by walking it. */
struct cursor {
	const struct img_qcow2 *q;
	uint64_t base; /* file offset of buf[0] */
	uint8_t *buf;
	size_t len;
};

static const uint8_t *cursor_get(struct cursor *c, uint64_t off, size_t len, struct qc_error **errp)
{
	if (off < c->base || off + len > c->base + c->len) {
		size_t want = len > 65536 ? len : 65536;

		if (off < c->q->io->size && want > c->q->io->size - off)
			want = c->q->io->size - off > len ? (size_t)(c->q->io->size - off) : len;
		free(c->buf);
		c->buf = qc_malloc(want);
		c->base = off;
		c->len = want;
		if (img_io_pread(c->q->io, c->buf, want, off, "snapshot table", errp) < 0) {
			c->len = 0;
			return NULL;
		}
	}
	return c->buf + (off - c->base);
}

static int parse_snapshots(struct img_qcow2 *q, struct qc_error **errp)
{
	struct cursor c = { .q = q };
	uint64_t off = q->snapshots_offset;
	int ret = -1;

	if (!q->nb_snapshots)
		return 0;
	if (q->nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
		qc_error_set(errp, "image claims %u snapshots (at most %u allowed)", q->nb_snapshots,
			     QCOW2_MAX_SNAPSHOTS);
		return -1;
	}
	if (check_table(q, q->snapshots_offset, 0, "snapshot table", errp) < 0)
		return -1;
	/* The count is checked against what the file can hold before the
	 * array is allocated: each entry takes at least 40 bytes. */
	if ((uint64_t)q->nb_snapshots * QCOW2_SN_HEADER > q->io->size - q->snapshots_offset) {
		qc_error_set(errp, "snapshot table of %u entries at offset %#" PRIx64 " is past the end of the file",
			     q->nb_snapshots, q->snapshots_offset);
		return -1;
	}
	q->snapshots = qc_calloc(q->nb_snapshots, sizeof(*q->snapshots));
	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		struct img_qcow2_snapshot *sn = &q->snapshots[i];
		const uint8_t *h, *v;
		uint32_t id_len, name_len;
		uint64_t entry, raw;

		h = cursor_get(&c, off, QCOW2_SN_HEADER, errp);
		if (!h)
			goto out;
		sn->entry_offset = off;
		sn->l1_offset = img_be64(h + QCOW2_SN_L1_OFFSET);
		sn->l1_size = img_be32(h + QCOW2_SN_L1_SIZE);
		id_len = img_be16(h + QCOW2_SN_ID_LEN);
		name_len = img_be16(h + QCOW2_SN_NAME_LEN);
		sn->date_sec = img_be32(h + QCOW2_SN_DATE_SEC);
		sn->date_nsec = img_be32(h + QCOW2_SN_DATE_NSEC);
		sn->vm_clock_nsec = img_be64(h + QCOW2_SN_VM_CLOCK);
		sn->vm_state_size = img_be32(h + QCOW2_SN_VM_STATE_SIZE);
		sn->extra_size = img_be32(h + QCOW2_SN_EXTRA_SIZE);
		if (sn->extra_size > QCOW2_MAX_SN_EXTRA) {
			qc_error_set(errp, "snapshot %u has %u bytes of extra data (at most %u allowed)", i + 1,
				     sn->extra_size, QCOW2_MAX_SN_EXTRA);
			goto out;
		}
		raw = QCOW2_SN_HEADER + (uint64_t)sn->extra_size + id_len + name_len;
		entry = (raw + 7) & ~7ull;
		sn->entry_size = (uint32_t)entry;
		if (off - q->snapshots_offset + entry > QCOW2_MAX_SNAPSHOTS_BYTES) {
			qc_error_set(errp, "snapshot table is larger than %u bytes", QCOW2_MAX_SNAPSHOTS_BYTES);
			goto out;
		}
		/* The padding after the last entry need not exist. */
		v = cursor_get(&c, off, (size_t)raw, errp);
		if (!v)
			goto out;
		v += QCOW2_SN_HEADER;
		if (sn->extra_size >= QCOW2_SN_EXTRA_VM_STATE_SIZE + 8)
			sn->vm_state_size = img_be64(v + QCOW2_SN_EXTRA_VM_STATE_SIZE);
		if (sn->extra_size >= QCOW2_SN_EXTRA_DISK_SIZE + 8) {
			sn->has_disk_size = true;
			sn->disk_size = img_be64(v + QCOW2_SN_EXTRA_DISK_SIZE);
		}
		if (sn->extra_size >= QCOW2_SN_EXTRA_ICOUNT + 8) {
			sn->icount = img_be64(v + QCOW2_SN_EXTRA_ICOUNT);
			sn->has_icount = sn->icount != UINT64_MAX;
		}
		v += sn->extra_size;
		sn->id = dup_field(v, id_len);
		sn->name = dup_field(v + id_len, name_len);
		if ((uint64_t)sn->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
			qc_error_set(errp, "snapshot %u has an L1 table of %u entries (at most %u allowed)", i + 1,
				     sn->l1_size, QCOW2_MAX_L1_BYTES / 8);
			goto out;
		}
		if (check_table(q, sn->l1_offset, (uint64_t)sn->l1_size * 8, "snapshot L1 table", errp) < 0) {
			qc_error_prepend(errp, "snapshot %u", i + 1);
			goto out;
		}
		off += entry;
	}
	q->snapshots_size = off - q->snapshots_offset;
	ret = 0;
out:
	free(c.buf);
	return ret;
}

/* ---- bitmap directory ------------------------------------------------- */

static int parse_bitmap_dir(struct img_qcow2 *q, struct qc_error **errp)
{
	uint8_t *dir;
	uint64_t off = 0;
	int ret = -1;

	if (!q->has_bitmaps_ext)
		return 0;
	dir = qc_malloc((size_t)q->bitmap_dir_size);
	if (img_io_pread(q->io, dir, (size_t)q->bitmap_dir_size, q->bitmap_dir_offset, "bitmap directory", errp) < 0)
		goto out;
	q->bitmaps = qc_calloc(q->nb_bitmaps, sizeof(*q->bitmaps));
	for (uint32_t i = 0; i < q->nb_bitmaps; i++) {
		struct img_qcow2_bitmap *bm = &q->bitmaps[i];
		uint32_t name_size, extra;
		uint64_t entry;
		const uint8_t *e;

		if (q->bitmap_dir_size - off < QCOW2_BME_HEADER)
			goto short_dir;
		e = dir + off;
		bm->flags = img_be32(e + QCOW2_BME_FLAGS);
		bm->type = e[QCOW2_BME_TYPE];
		bm->granularity_bits = e[QCOW2_BME_GRANULARITY];
		name_size = img_be16(e + QCOW2_BME_NAME_SIZE);
		extra = img_be32(e + QCOW2_BME_EXTRA_SIZE);
		if (name_size == 0 || name_size > QCOW2_MAX_BITMAP_NAME) {
			qc_error_set(errp, "bitmap %u has a name of %u bytes (1 to %u allowed)", i, name_size,
				     QCOW2_MAX_BITMAP_NAME);
			goto out;
		}
		if (bm->granularity_bits > 63) {
			qc_error_set(errp, "bitmap %u has granularity 2^%u", i, bm->granularity_bits);
			goto out;
		}
		entry = ((uint64_t)QCOW2_BME_HEADER + extra + name_size + 7) & ~7ull;
		if (entry > q->bitmap_dir_size - off)
			goto short_dir;
		bm->name = dup_field(e + QCOW2_BME_HEADER + extra, name_size);
		off += entry;
	}
	ret = 0;
	goto out;
short_dir:
	qc_error_set(errp, "bitmap directory (%" PRIu64 " bytes) is too small for %u bitmaps", q->bitmap_dir_size,
		     q->nb_bitmaps);
out:
	free(dir);
	return ret;
}

/* ---- LUKS header (for info only: keys are never read) ----------------- */

static void copy_str(char *dst, size_t cap, const uint8_t *src, size_t len)
{
	size_t n = strnlen((const char *)src, len);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] > 0x7e)
			dst[i] = '?';
}

static int parse_luks(struct img_qcow2 *q, struct qc_error **errp)
{
	static const uint8_t magic[LUKS_MAGIC_LEN] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
	struct img_luks_info *l = &q->luks;
	uint8_t h[LUKS_HDR_SIZE];
	char name[33], mode[33], *dash;
	uint32_t key_bytes;

	if (!q->has_crypto_ext) {
		qc_error_set(errp, "LUKS-encrypted image has no encryption header extension");
		return -1;
	}
	if (q->crypto_length < LUKS_HDR_SIZE) {
		qc_error_set(errp, "encryption header of %" PRIu64 " bytes is too small for LUKS", q->crypto_length);
		return -1;
	}
	if (img_io_pread(q->io, h, sizeof(h), q->crypto_offset, "LUKS header", errp) < 0)
		return -1;
	if (memcmp(h, magic, sizeof(magic)) || img_be16(h + LUKS_HDR_VERSION) != 1) {
		qc_error_set(errp, "encryption header is not in LUKS version 1 format");
		return -1;
	}
	copy_str(name, sizeof(name), h + LUKS_HDR_CIPHER_NAME, 32);
	copy_str(mode, sizeof(mode), h + LUKS_HDR_CIPHER_MODE, 32);
	copy_str(l->hash_alg, sizeof(l->hash_alg), h + LUKS_HDR_HASH_SPEC, 32);
	key_bytes = img_be32(h + LUKS_HDR_KEY_BYTES);
	/* "xts-plain64" or "cbc-essiv:sha256": mode, ivgen, ivgen hash. */
	dash = strchr(mode, '-');
	if (dash) {
		char *colon;

		*dash = 0;
		colon = strchr(dash + 1, ':');
		if (colon) {
			*colon = 0;
			snprintf(l->ivgen_hash_alg, sizeof(l->ivgen_hash_alg), "%s", colon + 1);
		}
		snprintf(l->ivgen_alg, sizeof(l->ivgen_alg), "%s", dash + 1);
	}
	snprintf(l->cipher_mode, sizeof(l->cipher_mode), "%s", mode);
	if (!strcmp(mode, "xts"))
		key_bytes /= 2;
	if (!strcmp(name, "aes") || !strcmp(name, "serpent") || !strcmp(name, "twofish"))
		snprintf(l->cipher_alg, sizeof(l->cipher_alg), "%s-%u", name, key_bytes * 8);
	else if (!strcmp(name, "cast5"))
		snprintf(l->cipher_alg, sizeof(l->cipher_alg), "cast5-128");
	else
		snprintf(l->cipher_alg, sizeof(l->cipher_alg), "%s", name);
	copy_str(l->uuid, sizeof(l->uuid), h + LUKS_HDR_UUID, 40);
	l->payload_offset = (uint64_t)img_be32(h + LUKS_HDR_PAYLOAD_OFFSET) * LUKS_SECTOR;
	l->master_key_iters = img_be32(h + LUKS_HDR_MK_ITERS);
	for (int i = 0; i < LUKS_NUM_SLOTS; i++) {
		const uint8_t *s = h + LUKS_HDR_SLOTS + i * LUKS_SLOT_SIZE;

		l->slots[i].active = img_be32(s + LUKS_SLOT_ACTIVE) == LUKS_SLOT_ENABLED;
		l->slots[i].iters = img_be32(s + LUKS_SLOT_ITERS);
		l->slots[i].stripes = img_be32(s + LUKS_SLOT_STRIPES);
		l->slots[i].key_offset = (uint64_t)img_be32(s + LUKS_SLOT_KM_OFFSET) * LUKS_SECTOR;
	}
	q->has_luks = true;
	return 0;
}

/* ---- header ----------------------------------------------------------- */

static int parse_header(struct img_qcow2 *q, uint8_t **clp, struct qc_error **errp)
{
	uint8_t h[QCOW2_HDR_V3_MIN_LENGTH] = { 0 };
	uint64_t ext_end, l1_needed;
	uint8_t *cl;

	if (q->io->size < QCOW2_HDR_V2_LENGTH) {
		qc_error_set(errp, "file is too small (%" PRIu64 " bytes) for a qcow2 header", q->io->size);
		return -1;
	}
	if (img_io_pread(q->io, h, QCOW2_HDR_V2_LENGTH, 0, "qcow2 header", errp) < 0)
		return -1;
	if (img_be32(h + QCOW2_HDR_MAGIC) != QCOW2_MAGIC) {
		qc_error_set(errp, "not a qcow2 image (bad magic)");
		return -1;
	}
	q->version = img_be32(h + QCOW2_HDR_VERSION);
	if (q->version != 2 && q->version != 3) {
		qc_error_set(errp, "unsupported qcow2 version %u", q->version);
		return -1;
	}
	q->cluster_bits = img_be32(h + QCOW2_HDR_CLUSTER_BITS);
	if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
		qc_error_set(errp, "unsupported cluster size 2^%u (512 bytes to 2 MiB allowed)", q->cluster_bits);
		return -1;
	}
	q->cluster_size = 1ull << q->cluster_bits;
	q->backing_offset = img_be64(h + QCOW2_HDR_BACKING_OFFSET);
	q->backing_size = img_be32(h + QCOW2_HDR_BACKING_SIZE);
	q->size = img_be64(h + QCOW2_HDR_SIZE);
	q->crypt_method = img_be32(h + QCOW2_HDR_CRYPT_METHOD);
	q->l1_size = img_be32(h + QCOW2_HDR_L1_SIZE);
	q->l1_offset = img_be64(h + QCOW2_HDR_L1_OFFSET);
	q->reftable_offset = img_be64(h + QCOW2_HDR_REFTABLE_OFFSET);
	q->reftable_clusters = img_be32(h + QCOW2_HDR_REFTABLE_CLUSTERS);
	q->nb_snapshots = img_be32(h + QCOW2_HDR_NB_SNAPSHOTS);
	q->snapshots_offset = img_be64(h + QCOW2_HDR_SNAPSHOTS_OFFSET);

	if (q->version == 2) {
		q->refcount_order = 4;
		q->header_length = QCOW2_HDR_V2_LENGTH;
	} else {
		if (img_io_pread(q->io, h + QCOW2_HDR_V2_LENGTH, QCOW2_HDR_V3_MIN_LENGTH - QCOW2_HDR_V2_LENGTH,
				 QCOW2_HDR_V2_LENGTH, "qcow2 version 3 header", errp) < 0)
			return -1;
		q->incompat = img_be64(h + QCOW2_HDR_INCOMPAT);
		q->compat = img_be64(h + QCOW2_HDR_COMPAT);
		q->autoclear = img_be64(h + QCOW2_HDR_AUTOCLEAR);
		q->refcount_order = img_be32(h + QCOW2_HDR_REFCOUNT_ORDER);
		q->header_length = img_be32(h + QCOW2_HDR_HEADER_LENGTH);
		if (q->header_length < QCOW2_HDR_V3_MIN_LENGTH) {
			qc_error_set(errp, "header length %u is too short (at least %u)", q->header_length,
				     QCOW2_HDR_V3_MIN_LENGTH);
			return -1;
		}
		if (q->header_length > q->cluster_size) {
			qc_error_set(errp, "header length %u exceeds the cluster size", q->header_length);
			return -1;
		}
		if (q->refcount_order > 6) {
			qc_error_set(errp, "refcount width 2^%u bits is more than 64 bits", q->refcount_order);
			return -1;
		}
	}

	/* The whole first cluster (or the file, if shorter) holds the header,
	 * its extensions and usually the backing file name. */
	cl = qc_calloc(1, q->cluster_size);
	*clp = cl;
	if (img_io_pread(q->io, cl, q->io->size < q->cluster_size ? (size_t)q->io->size : q->cluster_size, 0,
			 "header cluster", errp) < 0)
		return -1;
	if (q->version == 3 && q->header_length > QCOW2_HDR_COMPRESSION_TYPE)
		q->compression_type = cl[QCOW2_HDR_COMPRESSION_TYPE];

	if (q->backing_offset) {
		if (q->backing_size > QCOW2_MAX_BACKING_NAME) {
			qc_error_set(errp, "backing file name is %u bytes long (at most %u allowed)", q->backing_size,
				     QCOW2_MAX_BACKING_NAME);
			return -1;
		}
		if (q->backing_offset > q->cluster_size || q->backing_size > q->cluster_size - q->backing_offset) {
			qc_error_set(errp, "backing file name at offset %#" PRIx64 " lies outside the first cluster",
				     q->backing_offset);
			return -1;
		}
		if (q->backing_offset < q->header_length) {
			qc_error_set(errp, "backing file name at offset %#" PRIx64 " overlaps the header",
				     q->backing_offset);
			return -1;
		}
		if (q->backing_offset + q->backing_size > q->io->size) {
			qc_error_set(errp, "backing file name at offset %#" PRIx64 " is past the end of the file",
				     q->backing_offset);
			return -1;
		}
		q->backing_file = dup_field(cl + q->backing_offset, q->backing_size);
	}
	ext_end = q->backing_offset ? q->backing_offset : q->cluster_size;
	if (ext_end > q->io->size)
		ext_end = q->io->size;
	if (q->header_length < ext_end && parse_extensions(q, cl, q->header_length, ext_end, errp) < 0)
		return -1;

	{
		char *unknown = img_qcow2_unknown_incompat(q);

		if (unknown) {
			qc_error_set(errp, "unsupported incompatible features: %s", unknown);
			free(unknown);
			return -1;
		}
	}
	if (q->incompat & QCOW2_INCOMPAT_COMPRESSION) {
		if (q->header_length <= QCOW2_HDR_COMPRESSION_TYPE || q->compression_type == QCOW2_COMPRESSION_ZLIB) {
			qc_error_set(errp, "compression type bit is set but no non-zlib compression type is given");
			return -1;
		}
	} else if (q->compression_type != QCOW2_COMPRESSION_ZLIB) {
		qc_error_set(errp, "compression type %u is set without the compression type feature bit",
			     q->compression_type);
		return -1;
	}
	if (q->compression_type > QCOW2_COMPRESSION_ZSTD) {
		qc_error_set(errp, "unknown compression type %u", q->compression_type);
		return -1;
	}
	if (q->crypt_method > QCOW2_CRYPT_LUKS) {
		qc_error_set(errp, "unsupported encryption method %u", q->crypt_method);
		return -1;
	}
	if ((q->incompat & QCOW2_INCOMPAT_DATA_FILE) && !q->data_file) {
		qc_error_set(errp, "image uses an external data file but does not name it");
		return -1;
	}
	if (!(q->incompat & QCOW2_INCOMPAT_DATA_FILE)) {
		free(q->data_file);
		q->data_file = NULL;
	}

	q->extended_l2 = (q->incompat & QCOW2_INCOMPAT_EXTL2) != 0;
	if (q->extended_l2 && q->cluster_bits < 14) {
		qc_error_set(errp, "extended L2 entries need clusters of at least 16 KiB");
		return -1;
	}
	q->l2_entry_size = q->extended_l2 ? 16 : 8;
	q->l2_entries = q->cluster_size / q->l2_entry_size;
	q->subcluster_size = q->extended_l2 ? q->cluster_size / QCOW2_SUBCLUSTERS : q->cluster_size;
	q->csize_shift = 62 - (q->cluster_bits - 8);
	q->csize_mask = (1ull << (q->cluster_bits - 8)) - 1;
	q->coffset_mask = (1ull << q->csize_shift) - 1;

	if (q->size > INT64_MAX) {
		qc_error_set(errp, "virtual size %" PRIu64 " is too large", q->size);
		return -1;
	}
	l1_needed = img_qcow2_l1_needed(q->cluster_bits, q->extended_l2, q->size);
	if (l1_needed > QCOW2_MAX_L1_BYTES / 8) {
		qc_error_set(errp, "virtual size %" PRIu64 " is too large for %" PRIu64 "-byte clusters", q->size,
			     q->cluster_size);
		return -1;
	}
	if ((uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		qc_error_set(errp, "active L1 table of %u entries is too large (at most %u)", q->l1_size,
			     QCOW2_MAX_L1_BYTES / 8);
		return -1;
	}
	if (q->l1_size < l1_needed) {
		qc_error_set(errp, "L1 table of %u entries is too small for virtual size %" PRIu64, q->l1_size,
			     q->size);
		return -1;
	}
	if (q->l1_size && check_table(q, q->l1_offset, (uint64_t)q->l1_size * 8, "L1 table", errp) < 0)
		return -1;
	if (q->reftable_clusters == 0) {
		qc_error_set(errp, "image has no refcount table");
		return -1;
	}
	if ((uint64_t)q->reftable_clusters * q->cluster_size > QCOW2_MAX_REFTABLE_BYTES) {
		qc_error_set(errp, "refcount table of %u clusters is too large", q->reftable_clusters);
		return -1;
	}
	if (check_table(q, q->reftable_offset, (uint64_t)q->reftable_clusters * q->cluster_size, "refcount table",
			errp) < 0)
		return -1;
	return 0;
}

struct img_qcow2 *img_qcow2_open(const struct img_io *io, struct qc_error **errp)
{
	struct img_qcow2 *q = qc_calloc(1, sizeof(*q));
	uint8_t *cl = NULL;
	int rc;

	q->io = io;
	rc = parse_header(q, &cl, errp);
	free(cl);
	if (rc < 0 || parse_snapshots(q, errp) < 0 || parse_bitmap_dir(q, errp) < 0 ||
	    (q->crypt_method == QCOW2_CRYPT_LUKS && parse_luks(q, errp) < 0)) {
		img_qcow2_free(q);
		return NULL;
	}
	return q;
}

void img_qcow2_free(struct img_qcow2 *q)
{
	if (!q)
		return;
	for (uint32_t i = 0; q->snapshots && i < q->nb_snapshots; i++) {
		free(q->snapshots[i].id);
		free(q->snapshots[i].name);
	}
	for (uint32_t i = 0; q->bitmaps && i < q->nb_bitmaps; i++)
		free(q->bitmaps[i].name);
	free(q->snapshots);
	free(q->bitmaps);
	free(q->features);
	free(q->backing_file);
	free(q->backing_format);
	free(q->data_file);
	free(q->l1);
	free(q->l2_cache);
	free(q);
}

/* ---- data path ---------------------------------------------------------- */

uint64_t *img_qcow2_read_l1(const struct img_qcow2 *q, uint64_t offset, uint32_t n, const char *what,
			    struct qc_error **errp)
{
	uint64_t *t = qc_malloc(n ? (size_t)n * 8 : 8);

	if (n && img_io_pread(q->io, t, (size_t)n * 8, offset, what, errp) < 0) {
		free(t);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		t[i] = img_be64((const uint8_t *)&t[i]);
	return t;
}

int img_qcow2_load_l1(struct img_qcow2 *q, struct qc_error **errp)
{
	if (q->l1)
		return 0;
	q->l1 = img_qcow2_read_l1(q, q->l1_offset, q->l1_size, "L1 table", errp);
	return q->l1 ? 0 : -1;
}

static const uint8_t *load_l2(struct img_qcow2 *q, uint64_t l2_offset, struct qc_error **errp)
{
	if (q->l2_cache && q->l2_cache_offset == l2_offset)
		return q->l2_cache;
	if (!q->l2_cache)
		q->l2_cache = qc_malloc(q->cluster_size);
	q->l2_cache_offset = 0;
	if (img_io_pread(q->io, q->l2_cache, q->cluster_size, l2_offset, "L2 table", errp) < 0)
		return NULL;
	q->l2_cache_offset = l2_offset;
	return q->l2_cache;
}

/* The kind and host offset of one subcluster (or cluster without extended
 * L2) described by an entry; host is that unit's host offset. */
static int classify(const struct img_qcow2 *q, uint64_t l2e, uint64_t bitmap, uint64_t guest, unsigned sc,
		    struct img_qcow2_extent *e, struct qc_error **errp)
{
	uint64_t host;

	if (l2e & QCOW2_OFLAG_COMPRESSED) {
		uint64_t nb;

		if (q->data_file) {
			qc_error_set(errp,
				     "compressed cluster at guest offset %#" PRIx64 " in an image with an "
				     "external data file",
				     guest);
			return -1;
		}
		e->kind = QCOW2_COMPRESSED;
		e->host = l2e & q->coffset_mask;
		nb = ((l2e >> q->csize_shift) & q->csize_mask) + 1;
		e->csize = nb * QCOW2_COMPRESSED_SECTOR - (e->host & (QCOW2_COMPRESSED_SECTOR - 1));
		if (e->host > q->io->size || e->csize > q->io->size - e->host) {
			/* The last sector may be partly past EOF: QEMU
			 * reads what is there, so we do too. */
			if (e->host >= q->io->size) {
				qc_error_set(errp,
					     "compressed cluster for guest offset %#" PRIx64 " at %#" PRIx64
					     " is past the end of the file",
					     guest, e->host);
				return -1;
			}
			e->csize = q->io->size - e->host;
		}
		return 0;
	}
	host = l2e & QCOW2_L2E_OFFSET_MASK;
	if (host & (q->cluster_size - 1)) {
		qc_error_set(errp, "L2 entry for guest offset %#" PRIx64 " points to unaligned offset %#" PRIx64, guest,
			     host);
		return -1;
	}
	if (q->extended_l2) {
		bool alloc = bitmap & (1ull << sc), zero = bitmap & (1ull << (sc + 32));

		if (alloc && zero) {
			qc_error_set(errp, "subcluster %u of guest offset %#" PRIx64 " is both allocated and zero", sc,
				     guest);
			return -1;
		}
		if (zero) {
			e->kind = QCOW2_ZERO;
			return 0;
		}
		if (!alloc) {
			e->kind = QCOW2_UNALLOCATED;
			return 0;
		}
		if (!host && !q->data_file) {
			qc_error_set(errp, "allocated subcluster at guest offset %#" PRIx64 " has no host offset",
				     guest);
			return -1;
		}
		e->kind = QCOW2_NORMAL;
		e->host = host + sc * q->subcluster_size;
		return 0;
	}
	if ((l2e & QCOW2_OFLAG_ZERO) && q->version >= 3) {
		e->kind = QCOW2_ZERO;
		return 0;
	}
	if (!host && !(q->data_file && (l2e & QCOW2_OFLAG_COPIED))) {
		e->kind = QCOW2_UNALLOCATED;
		return 0;
	}
	e->kind = QCOW2_NORMAL;
	e->host = host;
	return 0;
}

int img_qcow2_map(struct img_qcow2 *q, uint64_t off, uint64_t max, struct img_qcow2_extent *ext, struct qc_error **errp)
{
	uint64_t unit = q->subcluster_size;
	uint64_t cl = off >> q->cluster_bits;
	uint64_t l1i = cl / q->l2_entries, l2i = cl % q->l2_entries;
	uint64_t table_end, l1e, l2_off, pos, max_all;
	const uint8_t *l2;

	if (img_qcow2_load_l1(q, errp) < 0)
		return -1;
	/* Everything from off to the end of this L2 table's range. */
	max_all = max;
	table_end = (l1i + 1) * q->l2_entries << q->cluster_bits;
	if (max > table_end - off)
		max = table_end - off;
	ext->len = max;
	ext->kind = QCOW2_UNALLOCATED;
	ext->host = ext->csize = 0;
	if (l1i >= q->l1_size)
		return 0;
	l1e = q->l1[l1i];
	l2_off = l1e & QCOW2_L1E_OFFSET_MASK;
	if (!l2_off) {
		/* Unallocated: extend over the following empty L1 entries too,
		 * so sparse terabytes take a few calls, not millions. */
		uint64_t span = q->l2_entries << q->cluster_bits;

		ext->len = table_end - off;
		for (uint64_t i = l1i + 1; ext->len < max_all && i < q->l1_size && !(q->l1[i] & QCOW2_L1E_OFFSET_MASK);
		     i++)
			ext->len += span;
		if (ext->len < max_all && l1i + 1 >= q->l1_size)
			ext->len = max_all;
		if (ext->len > max_all)
			ext->len = max_all;
		return 0;
	}
	if (l2_off & (q->cluster_size - 1)) {
		qc_error_set(errp, "L1 entry %" PRIu64 " points to unaligned L2 table offset %#" PRIx64, l1i, l2_off);
		return -1;
	}
	l2 = load_l2(q, l2_off, errp);
	if (!l2)
		return -1;

	pos = off;
	for (;;) {
		struct img_qcow2_extent e = { 0 };
		const uint8_t *ent = l2 + l2i * q->l2_entry_size;
		uint64_t l2e = img_be64(ent), bitmap = q->extended_l2 ? img_be64(ent + 8) : 0;
		uint64_t cl_start = (pos >> q->cluster_bits) << q->cluster_bits;
		unsigned sc = (unsigned)((pos - cl_start) / unit);
		uint64_t unit_start = cl_start + (uint64_t)sc * unit;
		uint64_t unit_end = (l2e & QCOW2_OFLAG_COMPRESSED) ? cl_start + q->cluster_size : unit_start + unit;
		uint64_t piece;

		if (classify(q, l2e, bitmap, pos, sc, &e, errp) < 0)
			return -1;
		if (e.kind == QCOW2_NORMAL)
			e.host += pos - unit_start;
		piece = unit_end - pos;
		if (pos == off) {
			*ext = e;
			ext->len = 0;
		} else if (e.kind != ext->kind || e.kind == QCOW2_COMPRESSED ||
			   (e.kind == QCOW2_NORMAL && e.host != ext->host + ext->len)) {
			break;
		}
		ext->len += piece;
		pos += piece;
		if (ext->kind == QCOW2_COMPRESSED || pos - off >= max)
			break;
		if (unit_end == cl_start + q->cluster_size)
			l2i++;
	}
	if (ext->len > max)
		ext->len = max;
	return 0;
}

int img_qcow2_decompress(const struct img_qcow2 *q, const uint8_t *in, size_t in_len, uint8_t *out,
			 struct qc_error **errp)
{
	if (q->compression_type == QCOW2_COMPRESSION_ZLIB) {
		z_stream zs = { 0 };
		int rc;

		/* Raw deflate (no zlib header), as QEMU writes it. */
		if (inflateInit2(&zs, -12) != Z_OK) {
			qc_error_set(errp, "cannot initialise zlib");
			return -1;
		}
		zs.next_in = (Bytef *)(uintptr_t)in;
		zs.avail_in = (uInt)in_len;
		zs.next_out = out;
		zs.avail_out = (uInt)q->cluster_size;
		rc = inflate(&zs, Z_FINISH);
		inflateEnd(&zs);
		/* Decompression stops once a cluster is produced: the input
		 * may carry the next cluster's bytes in its last sector. */
		if ((rc != Z_STREAM_END && rc != Z_BUF_ERROR) || zs.avail_out != 0) {
			qc_error_set(errp, "compressed cluster does not inflate to %" PRIu64 " bytes", q->cluster_size);
			return -1;
		}
		return 0;
	}
#ifdef QMPCTL_HAVE_ZSTD
	{
		ZSTD_DCtx *dc = ZSTD_createDCtx();
		ZSTD_inBuffer ib = { in, in_len, 0 };
		ZSTD_outBuffer ob = { out, (size_t)q->cluster_size, 0 };
		size_t rc = 0;

		if (!dc) {
			qc_error_set(errp, "cannot initialise zstd");
			return -1;
		}
		/* QEMU writes a sequence of frames; stop once a cluster is out. */
		while (ob.pos < ob.size && ib.pos < ib.size) {
			rc = ZSTD_decompressStream(dc, &ob, &ib);
			if (ZSTD_isError(rc))
				break;
		}
		ZSTD_freeDCtx(dc);
		if (ZSTD_isError(rc) || ob.pos != ob.size) {
			qc_error_set(errp, "compressed cluster does not decompress (zstd) to %" PRIu64 " bytes",
				     q->cluster_size);
			return -1;
		}
		return 0;
	}
#else
	qc_error_set(errp, "image uses zstd compression, which this build of qmpctl cannot read");
	return -1;
#endif
}
