/*
 * img_probe: recognise the image formats qmpctl does not read.
 *
 * Without this, anything that is not qcow2 would be taken for raw and its
 * metadata shown (or copied) as a guest disk.  The signatures are the ones
 * QEMU's block drivers probe for, plus the trailers of the formats whose
 * header sits at the end of the file (a fixed VHD's footer, a DMG's koly
 * block), which QEMU itself finds only by name or not at all.
 */
#include "img.h"

#include <string.h>

#include "img_be.h"

static bool starts(const uint8_t *buf, size_t len, const char *magic, size_t mlen)
{
	return len >= mlen && !memcmp(buf, magic, mlen);
}

#define STARTS(buf, len, lit) starts(buf, len, lit, sizeof(lit) - 1)

/* A VMDK descriptor file, as QEMU tells one: comment and blank lines,
 * then "version=1", 2 or 3 on a line of its own. */
static bool vmdk_descriptor(const uint8_t *buf, size_t len)
{
	const char *p = (const char *)buf, *end = p + len;

	while (p < end) {
		if (*p == '#') {
			while (p < end && *p != '\n')
				p++;
			p++;
			continue;
		}
		if (*p == ' ' || *p == '\r' || *p == '\n') {
			while (p < end && *p == ' ')
				p++;
			if (p < end && *p == '\r')
				p++;
			if (p == end || *p != '\n')
				return false;
			p++;
			continue;
		}
		if (end - p >= 10 && !memcmp(p, "version=", 8) && p[8] >= '1' && p[8] <= '3')
			return p[9] == '\n' || (end - p >= 11 && p[9] == '\r' && p[10] == '\n');
		return false;
	}
	return false;
}

const char *img_probe_foreign(const uint8_t *head, size_t head_len, const uint8_t *tail, size_t tail_len)
{
	if (STARTS(head, head_len, "QFI\xfb") && head_len >= 8 && img_be32(head + 4) == 1)
		return "QCOW (version 1)";
	if (STARTS(head, head_len, "KDMV") || STARTS(head, head_len, "COWD") ||
	    STARTS(head, head_len, "# Disk DescriptorFile") || vmdk_descriptor(head, head_len))
		return "VMDK";
	/* VDI: a text banner, then the signature 0xbeda107f at byte 64. */
	if (head_len >= 68 && head[64] == 0x7f && head[65] == 0x10 && head[66] == 0xda && head[67] == 0xbe)
		return "VDI";
	if (STARTS(head, head_len, "vhdxfile"))
		return "VHDX";
	/* Dynamic VHDs copy the footer to the start; fixed ones have it only
	 * in the last 512 bytes. */
	if (STARTS(head, head_len, "conectix") || STARTS(tail, tail_len, "conectix"))
		return "VHD (vpc)";
	if (STARTS(head, head_len, "QED\0"))
		return "QED";
	if (STARTS(head, head_len, "LUKS\xba\xbe"))
		return "LUKS";
	if (STARTS(head, head_len, "WithoutFreeSpace") || STARTS(head, head_len, "WithouFreSpacExt"))
		return "Parallels";
	if (STARTS(head, head_len, "Bochs Virtual HD Image"))
		return "Bochs";
	if (STARTS(head, head_len, "#!/bin/sh\n#V2.0 Format\nmodprobe cloop"))
		return "cloop";
	if (STARTS(tail, tail_len, "koly"))
		return "DMG";
	return NULL;
}
