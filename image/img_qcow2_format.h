/*
 * The qcow2 on-disk format: field offsets, flags and QEMU's limits.
 *
 * Only layout lives here (see QEMU's docs/interop/qcow2.txt); decoding and
 * validation are in img_qcow2.c.  Offsets are byte positions inside the
 * structure named by the prefix; every field is big-endian.
 */
#ifndef IMG_QCOW2_FORMAT_H
#define IMG_QCOW2_FORMAT_H

#include <stdint.h>

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */

/* Header, versions 2 and 3. */
#define QCOW2_HDR_MAGIC		    0
#define QCOW2_HDR_VERSION	    4
#define QCOW2_HDR_BACKING_OFFSET    8
#define QCOW2_HDR_BACKING_SIZE	    16
#define QCOW2_HDR_CLUSTER_BITS	    20
#define QCOW2_HDR_SIZE		    24
#define QCOW2_HDR_CRYPT_METHOD	    32
#define QCOW2_HDR_L1_SIZE	    36
#define QCOW2_HDR_L1_OFFSET	    40
#define QCOW2_HDR_REFTABLE_OFFSET   48
#define QCOW2_HDR_REFTABLE_CLUSTERS 56
#define QCOW2_HDR_NB_SNAPSHOTS	    60
#define QCOW2_HDR_SNAPSHOTS_OFFSET  64
#define QCOW2_HDR_V2_LENGTH	    72
/* Version 3 only. */
#define QCOW2_HDR_INCOMPAT	   72
#define QCOW2_HDR_COMPAT	   80
#define QCOW2_HDR_AUTOCLEAR	   88
#define QCOW2_HDR_REFCOUNT_ORDER   96
#define QCOW2_HDR_HEADER_LENGTH	   100
#define QCOW2_HDR_V3_MIN_LENGTH	   104
#define QCOW2_HDR_COMPRESSION_TYPE 104 /* one byte, present when header_length > 104 */
#define QCOW2_HDR_V3_LENGTH	   112 /* what we write: 104 + type + padding */

#define QCOW2_INCOMPAT_DIRTY	   (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT	   (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2	   (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN	   0x1full

#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

#define QCOW2_AUTOCLEAR_BITMAPS	      (1ull << 0)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW (1ull << 1)

#define QCOW2_CRYPT_NONE 0
#define QCOW2_CRYPT_AES	 1
#define QCOW2_CRYPT_LUKS 2

#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

/* Header extensions: type (4), length (4), data padded to 8. */
#define QCOW2_EXT_END		 0x00000000u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE	 0x6803f857u
#define QCOW2_EXT_BITMAPS	 0x23852875u
#define QCOW2_EXT_CRYPTO	 0x0537be77u
#define QCOW2_EXT_DATA_FILE	 0x44415441u

#define QCOW2_FEATURE_ENTRY_SIZE     48 /* type (1), bit (1), name (46) */
#define QCOW2_FEATURE_NAME_LEN	     46
#define QCOW2_FEATURE_TYPE_INCOMPAT  0
#define QCOW2_FEATURE_TYPE_COMPAT    1
#define QCOW2_FEATURE_TYPE_AUTOCLEAR 2

#define QCOW2_BITMAPS_EXT_SIZE 24 /* nb (4), reserved (4), dir size (8), dir offset (8) */
#define QCOW2_CRYPTO_EXT_SIZE  16 /* offset (8), length (8) */

/* Bitmap directory entry. */
#define QCOW2_BME_TABLE_OFFSET 0
#define QCOW2_BME_TABLE_SIZE   8
#define QCOW2_BME_FLAGS	       12
#define QCOW2_BME_TYPE	       16
#define QCOW2_BME_GRANULARITY  17
#define QCOW2_BME_NAME_SIZE    18
#define QCOW2_BME_EXTRA_SIZE   20
#define QCOW2_BME_HEADER       24
#define QCOW2_BME_FLAG_IN_USE  (1u << 0)
#define QCOW2_BME_FLAG_AUTO    (1u << 1)

/* Snapshot table entry: fixed part, extra data, id, name, padding to 8. */
#define QCOW2_SN_L1_OFFSET     0
#define QCOW2_SN_L1_SIZE       8
#define QCOW2_SN_ID_LEN	       12
#define QCOW2_SN_NAME_LEN      14
#define QCOW2_SN_DATE_SEC      16
#define QCOW2_SN_DATE_NSEC     20
#define QCOW2_SN_VM_CLOCK      24
#define QCOW2_SN_VM_STATE_SIZE 32
#define QCOW2_SN_EXTRA_SIZE    36
#define QCOW2_SN_HEADER	       40
/* Extra data, relative to its start. */
#define QCOW2_SN_EXTRA_VM_STATE_SIZE 0
#define QCOW2_SN_EXTRA_DISK_SIZE     8
#define QCOW2_SN_EXTRA_ICOUNT	     16
#define QCOW2_SN_EXTRA_V3_MIN	     16 /* version 3 requires up to disk size */
#define QCOW2_SN_EXTRA_OURS	     24 /* what we write */

/* L1, L2 and refcount table entries. */
#define QCOW2_OFLAG_COPIED	(1ull << 63)
#define QCOW2_OFLAG_COMPRESSED	(1ull << 62)
#define QCOW2_OFLAG_ZERO	(1ull << 0)
#define QCOW2_L1E_OFFSET_MASK	0x00fffffffffffe00ull
#define QCOW2_L2E_OFFSET_MASK	0x00fffffffffffe00ull
#define QCOW2_REFT_OFFSET_MASK	0xfffffffffffffe00ull
#define QCOW2_L1E_RESERVED	0x7f000000000001ffull
#define QCOW2_L2E_STD_RESERVED	0x3f000000000001feull
#define QCOW2_SUBCLUSTERS	32
#define QCOW2_COMPRESSED_SECTOR 512

/* LUKS1 header (inside the crypto extension's area). */
#define LUKS_MAGIC_LEN		6
#define LUKS_HDR_VERSION	6
#define LUKS_HDR_CIPHER_NAME	8
#define LUKS_HDR_CIPHER_MODE	40
#define LUKS_HDR_HASH_SPEC	72
#define LUKS_HDR_PAYLOAD_OFFSET 104
#define LUKS_HDR_KEY_BYTES	108
#define LUKS_HDR_MK_ITERS	164
#define LUKS_HDR_UUID		168
#define LUKS_HDR_SLOTS		208
#define LUKS_SLOT_SIZE		48
#define LUKS_SLOT_ACTIVE	0
#define LUKS_SLOT_ITERS		4
#define LUKS_SLOT_KM_OFFSET	40
#define LUKS_SLOT_STRIPES	44
#define LUKS_NUM_SLOTS		8
#define LUKS_HDR_SIZE		592
#define LUKS_SLOT_ENABLED	0x00ac71f3u
#define LUKS_SECTOR		512

/* QEMU's implementation limits, which we share so that what we accept QEMU
 * can open and a hostile header cannot make us allocate much. */
#define QCOW2_MIN_CLUSTER_BITS	   9
#define QCOW2_MAX_CLUSTER_BITS	   21
#define QCOW2_MAX_L1_BYTES	   (32u << 20)
#define QCOW2_MAX_REFTABLE_BYTES   (8u << 20)
#define QCOW2_MAX_SNAPSHOTS	   65536u
#define QCOW2_MAX_SNAPSHOTS_BYTES  (1024u * QCOW2_MAX_SNAPSHOTS)
#define QCOW2_MAX_SN_EXTRA	   1024u
#define QCOW2_MAX_BACKING_NAME	   1023u
#define QCOW2_MAX_BACKING_FORMAT   15u /* QEMU keeps it in char[16] */
#define QCOW2_MAX_BITMAPS	   65535u
#define QCOW2_MAX_BITMAP_DIR_BYTES (64u << 20)
#define QCOW2_MAX_BITMAP_NAME	   1023u
#define QCOW2_MAX_DATA_FILE_NAME   4096u

#endif
