/*
 * qmpctl image: the native disk image engine's verb, with subcommands
 * info, create, convert and snapshot, each parsing its own options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "img.h"
#include "img_info.h"
#include "qc_buf.h"
#include "qmpctl.h"

static const char usage[] =
	"Usage: qmpctl image SUBCOMMAND [OPTIONS] ARGS...\n"
	"\n"
	"Inspect, create and convert qcow2 and raw disk images natively.\n"
	"\n"
	"Subcommands:\n"
	"  info      show an image's format, sizes, snapshots and features\n"
	"  create    create a new raw or qcow2 image\n"
	"  convert   copy an image to a new raw or qcow2 file\n"
	"  snapshot  list, create, apply or delete internal snapshots\n"
	"\n"
	"Run 'qmpctl image SUBCOMMAND --help' for the options of each.\n";

/* ---- info ---------------------------------------------------------------- */

static const char info_usage[] =
	"Usage: qmpctl image info [-f FMT] [--output human|json] [--backing-chain] [-U] FILE\n"
	"\n"
	"Show what qemu-img info shows, in the same layout: virtual and disk size,\n"
	"cluster size, backing file, snapshots and format-specific information.\n"
	"\n"
	"  -f, --format FMT      raw or qcow2 (default: probe the file)\n"
	"      --output FMT      human (default) or json (the keys of qemu-img's JSON)\n"
	"      --json            the same as --output json\n"
	"      --backing-chain   show every image of the backing chain, top first\n"
	"  -U, --force-share     read the image even when another process has it open\n"
	"                        for writing (a running QEMU)\n"
	"  -h, --help            show this help\n"
	"\n"
	"Exit status: 0 on success, 1 when the image cannot be read (\"qmpctl: FILE:\n"
	"what is wrong\"), 2 on bad usage.\n";

static const struct qc_cmd image_info_cmd = { "image info", "", info_usage, NULL };

struct info_opts {
	const char *fmt;
	const char *output;
	bool chain;
	bool force_share;
};

enum { OPT_OUTPUT = 1000, OPT_CHAIN };

static int info_opt(void *opaque, int opt, const char *arg)
{
	struct info_opts *o = opaque;

	switch (opt) {
	case 'f':
		o->fmt = arg;
		return 0;
	case 'U':
		o->force_share = true;
		return 0;
	case OPT_OUTPUT:
		o->output = arg;
		return 0;
	case OPT_CHAIN:
		o->chain = true;
		return 0;
	}
	return 1;
}

static int image_info(struct qc_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "backing-chain", no_argument, NULL, OPT_CHAIN },
		{ "force-share", no_argument, NULL, 'U' },
		{ "json", no_argument, NULL, 'J' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct info_opts o = { 0 };
	struct qc_error *err = NULL;
	struct json_object *info;
	struct qc_buf out = { 0 };
	struct img *img;
	bool json;
	int rc;

	rc = cli_parse_opts(ctx, &image_info_cmd, argc, argv, "f:Uvh", longopts, info_opt, &o);
	if (rc >= 0)
		return rc;
	if (o.output && strcmp(o.output, "human") && strcmp(o.output, "json"))
		return cli_usage_error(&image_info_cmd, "--output must be human or json, not '%s'", o.output);
	json = ctx->json || (o.output && !strcmp(o.output, "json"));
	if (optind != argc - 1)
		return cli_usage_error(&image_info_cmd, optind >= argc ? "no FILE given" : "too many arguments");

	img = img_open(argv[optind], o.fmt, (o.force_share ? IMG_OPEN_NO_LOCK : 0) | (o.chain ? IMG_OPEN_CHAIN : 0),
		       &err);
	if (!img)
		return cli_fail(err);
	info = o.chain ? img_info_chain_json(img, &err) : img_info_json(img, img->path, &err);
	img_close(img);
	if (!info)
		return cli_fail(err);
	if (json) {
		img_info_json_text(&out, info);
	} else if (o.chain) {
		for (size_t i = 0; i < json_object_array_length(info); i++) {
			if (i)
				qc_buf_append_c(&out, '\n');
			img_info_human(&out, json_object_array_get_idx(info, i));
		}
	} else {
		img_info_human(&out, info);
	}
	fwrite(out.data ? out.data : "", 1, out.len, stdout);
	qc_buf_free(&out);
	json_object_put(info);
	return 0;
}

/* ---- the verb -------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(struct qc_ctx *ctx, int argc, char **argv);
} subcommands[] = {
	{ "info", image_info },
};

static int image_exec(struct qc_ctx *ctx, const struct qc_cmd *cmd, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(cmd, "no subcommand given");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(cmd->usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(ctx, argc - 1, argv + 1);
	return cli_usage_error(cmd, "unknown subcommand '%s'", argv[1]);
}

const struct qc_cmd qc_cmd_image = {
	.name = "image",
	.summary = "inspect, create, convert and snapshot disk images (qcow2, raw)",
	.usage = usage,
	.exec = image_exec,
};
