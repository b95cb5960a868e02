/*
 * img_qcow2: reading qcow2 metadata (versions 2 and 3).
 *
 * img_qcow2_open parses and validates the header, its extensions, the
 * snapshot table, the bitmap directory and (for info only) a LUKS header.
 * Every offset and size is checked against the file and against QEMU's own
 * limits before use, so a hostile image yields an error, never a wild read
 * or a huge allocation.  The data path (img_qcow2_map) validates each L1/L2
 * entry as it meets it.
 *
 * The caller owns the returned struct and frees it with img_qcow2_free; the
 * img_io it was given must outlive it.
 */
#ifndef IMG_QCOW2_H
#define IMG_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "img_io.h"
#include "qc_error.h"

struct img_qcow2_snapshot {
	uint64_t l1_offset;
	uint32_t l1_size;
	char *id; /* NUL-terminated copies (QEMU stops at an embedded NUL too) */
	char *name;
	uint32_t date_sec;
	uint32_t date_nsec;
	uint64_t vm_clock_nsec;
	uint64_t vm_state_size;
	bool has_disk_size;
	uint64_t disk_size;
	bool has_icount;
	uint64_t icount;
	uint32_t extra_size;
	uint64_t entry_offset; /* where the entry sits in the file */
	uint32_t entry_size;   /* with padding */
};

struct img_qcow2_feature {
	uint8_t type; /* QCOW2_FEATURE_TYPE_* */
	uint8_t bit;
	char name[47];
};

struct img_qcow2_bitmap {
	char *name;
	uint32_t flags;
	uint8_t type;
	uint8_t granularity_bits;
};

struct img_luks_slot {
	bool active;
	uint32_t iters;
	uint32_t stripes;
	uint64_t key_offset;
};

struct img_luks_info {
	char cipher_alg[64];
	char cipher_mode[33];
	char ivgen_alg[32];
	char ivgen_hash_alg[32]; /* "" when the ivgen takes no hash */
	char hash_alg[33];
	char uuid[41];
	uint64_t payload_offset;
	uint32_t master_key_iters;
	struct img_luks_slot slots[8];
};

struct img_qcow2 {
	const struct img_io *io;
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint64_t size; /* virtual size */
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_offset;
	uint64_t reftable_offset;
	uint32_t reftable_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompat, compat, autoclear;
	uint32_t refcount_order;
	uint32_t header_length;
	uint8_t compression_type;

	uint64_t backing_offset;
	uint32_t backing_size;
	char *backing_file;   /* NULL when none */
	char *backing_format; /* NULL when no extension */
	char *data_file;      /* external data file name, NULL when none */

	struct img_qcow2_feature *features;
	size_t nb_features;

	bool has_bitmaps_ext; /* present and consistent (autoclear bit set) */
	uint32_t nb_bitmaps;
	uint64_t bitmap_dir_offset, bitmap_dir_size;
	struct img_qcow2_bitmap *bitmaps;

	bool has_crypto_ext;
	uint64_t crypto_offset, crypto_length;
	bool has_luks;
	struct img_luks_info luks;

	struct img_qcow2_snapshot *snapshots;
	uint64_t snapshots_size; /* bytes of the table */

	/* Derived geometry. */
	bool extended_l2;
	uint32_t l2_entry_size; /* 8 or 16 */
	uint64_t l2_entries;	/* per table */
	uint64_t subcluster_size;
	uint32_t csize_shift;
	uint64_t csize_mask, coffset_mask;

	/* Data path state, loaded on first use. */
	uint64_t *l1;		  /* active L1 table, host order */
	uint8_t *l2_cache;	  /* one L2 table (raw bytes) */
	uint64_t l2_cache_offset; /* 0 when empty */
};

/* Parses everything but the mapping tables.  Fails with a message saying
 * what is wrong (the caller prefixes the file name). */
struct img_qcow2 *img_qcow2_open(const struct img_io *io, struct qc_error **errp);
void img_qcow2_free(struct img_qcow2 *q);

/* True when the first bytes of a file carry the qcow2 magic. */
bool img_qcow2_probe(const uint8_t *buf, size_t len);

/* Unknown incompatible feature bits, named from the feature table where it
 * names them ("name (bit N)"); NULL when there are none.  Caller frees. */
char *img_qcow2_unknown_incompat(const struct img_qcow2 *q);

enum img_qcow2_kind {
	QCOW2_UNALLOCATED, /* read from the backing file, or zeros */
	QCOW2_ZERO,	   /* reads as zeros */
	QCOW2_NORMAL,	   /* data at host (in the data file when there is one) */
	QCOW2_COMPRESSED,  /* one whole cluster compressed at host, csize bytes */
};

struct img_qcow2_extent {
	enum img_qcow2_kind kind;
	uint64_t len;	/* bytes from the queried offset with the same mapping */
	uint64_t host;	/* NORMAL: host offset of the queried byte; COMPRESSED: start */
	uint64_t csize; /* COMPRESSED only */
};

/* Maps the guest range [off, off + max) from its start; ext->len is at most
 * max and stays inside one L2 table, except for unallocated runs, which
 * cover consecutive empty L1 entries.  Host-contiguous NORMAL runs and runs
 * of the other kinds are merged.  off < q->size. */
int img_qcow2_map(struct img_qcow2 *q, uint64_t off, uint64_t max, struct img_qcow2_extent *ext,
		  struct qc_error **errp);

/* Loads the active L1 table (done by map on first use). */
int img_qcow2_load_l1(struct img_qcow2 *q, struct qc_error **errp);

/* Decompresses one compressed cluster (csize bytes at host) into out
 * (cluster_size bytes). */
int img_qcow2_decompress(const struct img_qcow2 *q, const uint8_t *in, size_t in_len, uint8_t *out,
			 struct qc_error **errp);

/* Reads an L1 table of n entries at offset into host order (caller frees). */
uint64_t *img_qcow2_read_l1(const struct img_qcow2 *q, uint64_t offset, uint32_t n, const char *what,
			    struct qc_error **errp);

/* Guest size the L1 table of n entries can map. */
uint64_t img_qcow2_l1_covers(const struct img_qcow2 *q, uint32_t n);
/* L1 entries a guest size needs. */
uint64_t img_qcow2_l1_needed(uint32_t cluster_bits, bool extended_l2, uint64_t size);

#endif
