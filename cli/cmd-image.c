/*
 * qmpctl image: the native disk image engine's verb, with subcommands
 * info, create, convert and snapshot, each parsing its own options.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "img.h"
#include "img_convert.h"
#include "img_create.h"
#include "img_info.h"
#include "img_snapshot.h"
#include "qc_buf.h"
#include "qmpctl.h"
#include "snap_qsd.h"

static const char usage[] = "Usage: qmpctl image SUBCOMMAND [OPTIONS] ARGS...\n"
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

extern const struct qc_cmd qc_cmd_image_info, qc_cmd_image_convert, qc_cmd_image_snapshot;

/* ---- info ---------------------------------------------------------------- */

static const char info_usage[] = "Usage: qmpctl image info [-f FMT] [--output human|json] [--backing-chain] [-U] FILE\n"
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

static const struct option info_longopts[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "backing-chain", no_argument, NULL, OPT_CHAIN },
	{ "force-share", no_argument, NULL, 'U' },
	{ NULL, 0, NULL, 0 },
};
static struct info_opts info_o;

static int image_info(struct qc_ctx *ctx, const struct qc_run *run)
{
	const struct info_opts o = info_o;
	struct qc_error *err = NULL;
	struct json_object *info;
	struct qc_buf out = { 0 };
	struct img *img;
	bool json;

	if (o.output && strcmp(o.output, "human") && strcmp(o.output, "json"))
		return cli_usage_error(&qc_cmd_image_info, "--output must be human or json, not '%s'", o.output);
	json = ctx->json || (o.output && !strcmp(o.output, "json"));

	img = img_open(run->argv[0], o.fmt, (o.force_share ? IMG_OPEN_NO_LOCK : 0) | (o.chain ? IMG_OPEN_CHAIN : 0),
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

/* ---- create ---------------------------------------------------------------- */

static const char create_usage[] =
	"Usage: qmpctl image create [-q] [-f raw|qcow2] [-o OPTIONS] [-b BACKING -F FMT] [--overwrite] FILE [SIZE]\n"
	"\n"
	"Create a new image.  SIZE takes k, M, G, T suffixes (powers of 1024); with a\n"
	"backing file it defaults to the backing image's size.  An existing FILE is\n"
	"never replaced unless you confirm (on a terminal) or give --overwrite.\n"
	"Prints qemu-img's \"Formatting 'FILE', fmt=...\" line.\n"
	"\n"
	"  -q, --quiet           do not print the Formatting line\n"
	"  -f, --format FMT      raw (default) or qcow2\n"
	"  -o, --options OPTS    comma-separated key=value, as qemu-img:\n"
	"                          compat=0.10|1.1  cluster_size=SIZE  refcount_bits=1..64\n"
	"                          preallocation=off|metadata|falloc|full (raw: off|falloc|full)\n"
	"                          lazy_refcounts=on|off  extended_l2=on|off\n"
	"                          compression_type=zlib|zstd  backing_file=F  backing_fmt=FMT\n"
	"  -b, --backing FILE    backing file (relative names are relative to FILE's directory)\n"
	"  -F, --backing-format FMT  the backing file's format (required with -b)\n"
	"      --overwrite       replace FILE if it exists\n"
	"  -h, --help            show this help\n"
	"\n"
	"Exit status: 0 on success, 1 on failure, 2 on bad usage.\n";

/* True when the user agrees to replace path (asked only on a terminal). */
static bool confirm_overwrite(const char *path)
{
	char answer[16];

	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		return false;
	fprintf(stderr, "qmpctl: '%s' exists; overwrite it? [y/N] ", path);
	fflush(stderr);
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	return answer[0] == 'y' || answer[0] == 'Y';
}

/* Refuses (or asks) before anything touches an existing target. */
static int check_target(const char *path, bool *overwrite)
{
	struct stat st;

	if (*overwrite || lstat(path, &st) < 0)
		return 0;
	if (confirm_overwrite(path)) {
		*overwrite = true;
		return 0;
	}
	cli_error("%s: file exists; not replacing it (give --overwrite to replace it)", path);
	return 1;
}

struct create_args {
	const char *fmt;
	const char *options[16];
	int noptions;
	const char *backing, *backing_fmt;
	bool overwrite;
	bool compress, progress;
	const char *src_fmt;
	bool quiet;
};

enum { OPT_OVERWRITE = 1100 };

static int create_opt(void *opaque, int opt, const char *arg)
{
	struct create_args *a = opaque;

	switch (opt) {
	case 'f':
		a->fmt = arg;
		return 0;
	case 'o':
		if (a->noptions == (int)(sizeof(a->options) / sizeof(a->options[0]))) {
			cli_error("too many -o options");
			return -1;
		}
		a->options[a->noptions++] = arg;
		return 0;
	case 'b':
		a->backing = arg;
		return 0;
	case 'F':
		a->backing_fmt = arg;
		return 0;
	case OPT_OVERWRITE:
		a->overwrite = true;
		return 0;
	case 'q':
		a->quiet = true;
		return 0;
	}
	return 1;
}

static const struct option create_longopts[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "options", required_argument, NULL, 'o' },
	{ "backing", required_argument, NULL, 'b' },
	{ "backing-format", required_argument, NULL, 'F' },
	{ "overwrite", no_argument, NULL, OPT_OVERWRITE },
	{ "quiet", no_argument, NULL, 'q' },
	{ NULL, 0, NULL, 0 },
};
static struct create_args create_a = { .fmt = "raw" };

static int image_create(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct create_args a = create_a;
	int argc = run->argc;
	char **argv = run->argv;
	struct img_create_opts o;
	struct qc_op op;
	struct qc_error *err = NULL;
	enum img_format fmt;
	const char *path;
	int rc;

	if (img_format_parse(a.fmt, &fmt, &err) < 0) {
		cli_error("%s", err->msg);
		qc_error_free(err);
		return EXIT_USAGE;
	}
	path = argv[0];
	img_create_opts_init(&o, fmt);
	for (int i = 0; i < a.noptions; i++) {
		if (img_create_parse_options(&o, a.options[i], &err) < 0) {
			img_create_opts_free(&o);
			cli_error("%s", err->msg);
			qc_error_free(err);
			return EXIT_USAGE;
		}
	}
	if (a.backing) {
		free(o.backing_file);
		o.backing_file = qc_strdup(a.backing);
	}
	if (a.backing_fmt) {
		free(o.backing_fmt);
		o.backing_fmt = qc_strdup(a.backing_fmt);
	}
	if (argc > 1) {
		if (img_parse_size(argv[1], &o.size, &err) < 0) {
			img_create_opts_free(&o);
			cli_error("%s", err->msg);
			qc_error_free(err);
			return EXIT_USAGE;
		}
		o.has_size = true;
	}
	o.overwrite = a.overwrite;
	if (check_target(path, &o.overwrite)) {
		img_create_opts_free(&o);
		return 1;
	}
	cli_catch_signals(ctx, QC_SIGS | QC_SIG_NOLOOP);
	/* The plain handler stores the signal; the op polls it. */
	qc_op_init(&op, NULL, NULL, NULL);
	qc_op_watch(&op, &ctx->signo);
	o.op = &op;
	rc = img_create(path, &o, &err);
	qc_op_fini(&op);
	if (rc == 0 && !a.quiet) {
		struct qc_buf line = { 0 };

		img_create_describe(&o, path, &line);
		fwrite(line.data, 1, line.len, stdout);
		qc_buf_free(&line);
	}
	img_create_opts_free(&o);
	return rc < 0 ? cli_fail(err) : 0;
}

/* ---- convert ----------------------------------------------------------------- */

static const char convert_usage[] =
	"Usage: qmpctl image convert [-f FMT] [-O raw|qcow2] [-o OPTIONS] [-c] [-p] [-U] [-n] [-S SIZE]\n"
	"                            [--overwrite] SRC DST\n"
	"\n"
	"Copy the guest view of SRC (its whole backing chain) into a new image DST.\n"
	"Zero data is not written: raw output is sparse, qcow2 output leaves those\n"
	"clusters unallocated.  DST is written under a temporary name and renamed at\n"
	"the end, so an interruption or an error leaves neither DST nor a temporary file.\n"
	"\n"
	"  -f, --format FMT          SRC's format (default: probe)\n"
	"  -O, --output-format FMT   raw (default, as qemu-img) or qcow2\n"
	"  -o, --options OPTS        qcow2 options as for 'image create' (compat, cluster_size,\n"
	"                            refcount_bits, lazy_refcounts, extended_l2, compression_type)\n"
	"  -c, --compress            compress the qcow2 output's clusters (zlib, or zstd\n"
	"                            with -o compression_type=zstd)\n"
	"  -p, --progress            show progress on stderr as qemu-img does\n"
	"  -U, --force-share         read SRC even when another process writes it\n"
	"  -n                        write into the existing raw image or device DST in place\n"
	"                            (not created, not truncated; it must be at least as large\n"
	"                            as SRC; zero ranges are punched out; an interruption leaves\n"
	"                            it half written)\n"
	"  -S, --sparse-size SIZE    leave holes only for zero runs of SIZE bytes (a multiple of\n"
	"                            512, default 4k); 0 writes every byte, zeros too (a fully\n"
	"                            allocated output)\n"
	"      --overwrite           replace DST if it exists\n"
	"  -h, --help                show this help\n"
	"\n"
	"Exit status: 0 on success, 1 on failure, 2 on bad usage.\n";

struct progress {
	int last; /* hundredths of a percent last shown */
};

static void show_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct progress *p = opaque;
	int now = total ? (int)(done * 10000 / total) : 10000;

	if (now == p->last)
		return;
	p->last = now;
	fprintf(stderr, "    (%d.%02d/100%%)\r", now / 100, now % 100);
	fflush(stderr);
}

struct convert_args {
	struct create_args c;
	const char *out_fmt;
	bool force_share;
	bool no_create;
	const char *sparse;
};

static int convert_opt(void *opaque, int opt, const char *arg)
{
	struct convert_args *a = opaque;

	switch (opt) {
	case 'O':
		a->out_fmt = arg;
		return 0;
	case 'c':
		a->c.compress = true;
		return 0;
	case 'p':
		a->c.progress = true;
		return 0;
	case 'U':
		a->force_share = true;
		return 0;
	case 'f':
		a->c.src_fmt = arg;
		return 0;
	case 'n':
		a->no_create = true;
		return 0;
	case 'S':
		a->sparse = arg;
		return 0;
	case 'b':
	case 'F':
	case 'q':
		return 1;
	}
	return create_opt(&a->c, opt, arg);
}

static const struct option convert_longopts[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "output-format", required_argument, NULL, 'O' },
	{ "options", required_argument, NULL, 'o' },
	{ "compress", no_argument, NULL, 'c' },
	{ "progress", no_argument, NULL, 'p' },
	{ "force-share", no_argument, NULL, 'U' },
	{ "sparse-size", required_argument, NULL, 'S' },
	{ "overwrite", no_argument, NULL, OPT_OVERWRITE },
	{ NULL, 0, NULL, 0 },
};
static struct convert_args convert_a = { .c = { .fmt = NULL }, .out_fmt = "raw" };

static int image_convert(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct convert_args a = convert_a;
	int argc = run->argc;
	char **argv = run->argv;
	struct img_convert_opts o = { 0 };
	struct progress prog = { -1 };
	struct qc_op op;
	struct qc_error *err = NULL;
	enum img_format fmt;
	int rc;

	if (argc != 2)
		return cli_usage_error(&qc_cmd_image_convert, "expected SRC and DST");
	if (img_format_parse(a.out_fmt, &fmt, &err) < 0) {
		cli_error("%s", err->msg);
		qc_error_free(err);
		return EXIT_USAGE;
	}
	img_create_opts_init(&o.out, fmt);
	for (int i = 0; i < a.c.noptions; i++) {
		if (img_create_parse_options(&o.out, a.c.options[i], &err) < 0) {
			img_create_opts_free(&o.out);
			cli_error("%s", err->msg);
			qc_error_free(err);
			return EXIT_USAGE;
		}
	}
	if (a.sparse && img_convert_parse_sparse(a.sparse, &o, &err) < 0) {
		img_create_opts_free(&o.out);
		cli_error("%s", err->msg);
		qc_error_free(err);
		return EXIT_USAGE;
	}
	o.no_create = a.no_create;
	o.src_fmt = a.c.src_fmt;
	o.force_share = a.force_share;
	o.compress = a.c.compress;
	o.out.overwrite = a.c.overwrite;
	qc_op_init(&op, a.c.progress ? show_progress : NULL, NULL, &prog);
	o.op = &op;
	if (!o.no_create && check_target(argv[1], &o.out.overwrite)) {
		img_create_opts_free(&o.out);
		return 1;
	}
	cli_catch_signals(ctx, QC_SIGS | QC_SIG_NOLOOP);
	/* The plain handler stores the signal; the op polls it. */
	qc_op_watch(&op, &ctx->signo);
	if (a.c.progress)
		show_progress(&prog, 0, 1);
	rc = img_convert(argv[0], argv[1], &o, &err);
	qc_op_fini(&op);
	if (a.c.progress)
		fputc('\n', stderr); /* end the progress line, success or not */
	img_create_opts_free(&o.out);
	return rc < 0 ? cli_fail(err) : 0;
}

/* ---- snapshot ------------------------------------------------------------------- */

static const char snapshot_usage[] =
	"Usage: qmpctl image snapshot -l [-U] [--output human|json] FILE\n"
	"       qmpctl image snapshot -c NAME | -a NAME | -d NAME FILE\n"
	"\n"
	"Internal snapshots of a qcow2 image (disk only; the image must not be in use).\n"
	"\n"
	"  -l, --list            list the snapshots (the table of qemu-img snapshot -l)\n"
	"  -c, --create NAME     take a snapshot (through qemu-storage-daemon)\n"
	"  -d, --delete NAME     delete a snapshot, by id or name (through qemu-storage-daemon)\n"
	"  -a, --apply NAME      revert the disk to a snapshot, by id or name (natively,\n"
	"                        crash-safe: an interruption leaves the old or the new state)\n"
	"  -U, --force-share     -l only: read the image even when another process writes it\n"
	"      --output FMT      -l only: human (default) or json (a JSON array, qemu-img\n"
	"                        info's keys)\n"
	"      --json            the same as --output json\n"
	"  -t, --timeout SEC     give qemu-storage-daemon SEC seconds per step (default 30)\n"
	"  -h, --help            show this help\n"
	"\n"
	"Raw images cannot hold internal snapshots.  -c records VM clock 0, as qemu-img\n"
	"does.  Ctrl-C, SIGTERM or SIGHUP while qemu-storage-daemon starts end it and\n"
	"change nothing; the daemon never outlives qmpctl.\n"
	"Exit status: 0 on success, 1 on failure, 2 on bad usage.\n";

struct snapshot_args {
	char op;
	const char *name;
	bool force_share;
	int nops;
	const char *output;
};

static int snapshot_opt(void *opaque, int opt, const char *arg)
{
	struct snapshot_args *a = opaque;

	switch (opt) {
	case 'l':
	case 'c':
	case 'a':
	case 'd':
		a->op = (char)opt;
		a->name = arg;
		a->nops++;
		return 0;
	case 'U':
		a->force_share = true;
		return 0;
	case OPT_OUTPUT:
		a->output = arg;
		return 0;
	}
	return 1;
}

static const struct option snapshot_longopts[] = {
	{ "list", no_argument, NULL, 'l' },
	{ "create", required_argument, NULL, 'c' },
	{ "apply", required_argument, NULL, 'a' },
	{ "delete", required_argument, NULL, 'd' },
	{ "force-share", no_argument, NULL, 'U' },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ NULL, 0, NULL, 0 },
};
static struct snapshot_args snapshot_a;

/* -c / -d: a signal while the daemon starts ends it (and us) cleanly
 * instead of killing us with the daemon left holding the image. */
static int snapshot_qsd(struct qc_ctx *ctx, const char *path, bool create, const char *name)
{
	struct qc_error *err = NULL;

	cli_catch_signals(ctx, QC_SIGS);
	if (snap_qsd_image(ctx->base, path, create, name, cli_timeout(ctx), &ctx->cancel, &err) < 0)
		return cli_fail(err);
	return 0;
}

static int image_snapshot(struct qc_ctx *ctx, const struct qc_run *run)
{
	const struct snapshot_args a = snapshot_a;
	const struct qc_cmd *cmd = &qc_cmd_image_snapshot;
	struct qc_error *err = NULL;
	const char *path;
	int rc;

	if (a.nops != 1)
		return cli_usage_error(cmd, "give exactly one of -l, -c, -a, -d");
	if (a.output && strcmp(a.output, "human") && strcmp(a.output, "json"))
		return cli_usage_error(cmd, "--output must be human or json, not '%s'", a.output);
	if (a.output && a.op != 'l')
		return cli_usage_error(cmd, "--output only goes with -l");
	if (run->argc != 1)
		return cli_usage_error(cmd, run->argc < 1 ? "no FILE given" : "too many arguments");
	if (a.force_share && a.op != 'l')
		return cli_usage_error(cmd, "-U only goes with -l: changing a shared image is unsafe");
	path = run->argv[0];

	if (a.op == 'l') {
		struct json_object *list = img_snapshot_list(path, a.force_share, &err);
		struct qc_buf out = { 0 };

		if (!list)
			return cli_fail(err);
		if (ctx->json || (a.output && !strcmp(a.output, "json"))) {
			img_info_json_text(&out, list);
		} else if (json_object_array_length(list)) {
			qc_buf_append_str(&out, "Snapshot list:\n");
			img_info_snapshot_table(&out, list);
		}
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
		qc_buf_free(&out);
		json_object_put(list);
		return 0;
	}
	if (a.op == 'a') {
		struct img_apply_opts ao = { 0 };
		/* Fault injection for the interruption tests only. */
		const char *stop = getenv("QMPCTL_TEST_APPLY_STOP_AT");

		if (stop)
			ao.stop_at = (unsigned)strtoul(stop, NULL, 10);
		rc = img_snapshot_apply(path, a.name, &ao, &err);
		if (stop)
			fprintf(stderr, "qmpctl: test: %u writes and flushes\n", ao.writes);
		return rc < 0 ? cli_fail(err) : 0;
	}
	return snapshot_qsd(ctx, path, a.op == 'c', a.name);
}

/* ---- the table entries ------------------------------------------------------ */

const struct qc_cmd qc_cmd_image = {
	.name = "image",
	.summary = "inspect, create, convert and snapshot disk images (qcow2, raw)",
	.usage = usage,
};

const struct qc_cmd qc_cmd_image_info = {
	.name = "image info",
	.summary = "show an image's format, sizes, snapshots and features",
	.usage = info_usage,
	.shortopts = "f:U",
	.longopts = info_longopts,
	.opt = info_opt,
	.opts = &info_o,
	.min_args = 1,
	.max_args = 1,
	.args_name = "FILE",
	.exec = image_info,
};

const struct qc_cmd qc_cmd_image_create = {
	.name = "image create",
	.summary = "create a new raw or qcow2 image",
	.usage = create_usage,
	.shortopts = "f:o:b:F:q",
	.longopts = create_longopts,
	.opt = create_opt,
	.opts = &create_a,
	.min_args = 1,
	.max_args = 2,
	.args_name = "FILE",
	.exec = image_create,
};

const struct qc_cmd qc_cmd_image_convert = {
	.name = "image convert",
	.summary = "copy an image to a new raw or qcow2 file",
	.usage = convert_usage,
	.shortopts = "f:O:o:cpUnS:",
	.longopts = convert_longopts,
	.opt = convert_opt,
	.opts = &convert_a,
	.max_args = -1, /* SRC and DST counted by the verb */
	.exec = image_convert,
};

const struct qc_cmd qc_cmd_image_snapshot = {
	.name = "image snapshot",
	.summary = "list, create, apply or delete an image's internal snapshots",
	.usage = snapshot_usage,
	.shortopts = "lc:a:d:U",
	.longopts = snapshot_longopts,
	.opt = snapshot_opt,
	.opts = &snapshot_a,
	.max_args = -1, /* counted after the -l/-c/-a/-d check */
	.exec = image_snapshot,
};
