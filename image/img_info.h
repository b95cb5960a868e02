/*
 * img_info: what `qemu-img info` reports, built from our own parse.
 *
 * img_info_json returns the same keys and values as `qemu-img info
 * --output=json` (QEMU 7.2), in the same order.  img_info_human renders one
 * such object exactly as qemu-img's human output, img_info_json_text as its
 * pretty JSON.  Nothing here prints: text goes into a qc_buf.
 */
#ifndef IMG_INFO_H
#define IMG_INFO_H

#include <stdint.h>

#include "img.h"
#include "qc_buf.h"
#include "qc_error.h"

struct json_object;

/* name is the name to report (the path as given, or the resolved backing
 * name).  The caller puts the returned object. */
struct json_object *img_info_json(struct img *img, const char *name, struct qc_error **errp);
/* An array with one object per image of the chain, top first.  img must
 * have been opened with IMG_OPEN_CHAIN. */
struct json_object *img_info_chain_json(struct img *img, struct qc_error **errp);

void img_info_human(struct qc_buf *out, struct json_object *info);
/* The snapshot table of `qemu-img snapshot -l` / info ("ID TAG ..."). */
void img_info_snapshot_table(struct qc_buf *out, struct json_object *snapshots);
/* QEMU's pretty JSON layout (4-space indent, non-ASCII as \uXXXX). */
void img_info_json_text(struct qc_buf *out, struct json_object *v);

/* "196 KiB", "1.26 MiB", "0 B": three significant digits, as QEMU. */
void img_size_str(char *buf, size_t cap, uint64_t val);

#endif
