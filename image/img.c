/* img: format probing, locking, backing chains and the guest data view. */
#include "img.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img_qcow2_format.h"
#include "qc_buf.h"

const char *img_format_name(enum img_format fmt)
{
	return fmt == IMG_FMT_QCOW2 ? "qcow2" : "raw";
}

int img_format_parse(const char *name, enum img_format *fmt, struct qc_error **errp)
{
	if (!strcmp(name, "raw")) {
		*fmt = IMG_FMT_RAW;
		return 0;
	}
	if (!strcmp(name, "qcow2")) {
		*fmt = IMG_FMT_QCOW2;
		return 0;
	}
	qc_error_set(errp, "unknown image format '%s' (raw and qcow2 are supported)", name);
	return -1;
}

char *img_backing_resolve(const char *image_path, const char *backing)
{
	const char *slash = strrchr(image_path, '/');

	if (backing[0] == '/' || !slash || strstr(backing, "://"))
		return qc_strdup(backing);
	return qc_asprintf("%.*s/%s", (int)(slash - image_path), image_path, backing);
}

/* ---- locks -------------------------------------------------------------- */

#define LOCK_PERM_BASE	 100
#define LOCK_SHARED_BASE 200
#define LOCK_NPERMS	 4

static const char *const perm_names[LOCK_NPERMS] = { "consistent read", "write", "write unchanged", "resize" };

static int lock_byte(int fd, int cmd, short type, off_t byte)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	if (fcntl(fd, cmd, &fl) < 0)
		return -1;
	return cmd == F_OFD_GETLK ? (fl.l_type != F_UNLCK) : 0;
}

int img_lock(int fd, bool write, struct qc_error **errp)
{
	/* perms we use and perms we refuse to share with others */
	unsigned held = write ? 0x3u : 0x1u, unshared = write ? 0xfu : 0x2u;

	for (int i = 0; i < LOCK_NPERMS; i++) {
		if (((held >> i) & 1) && lock_byte(fd, F_OFD_SETLK, F_RDLCK, LOCK_PERM_BASE + i) < 0)
			goto busy_set;
		if (((unshared >> i) & 1) && lock_byte(fd, F_OFD_SETLK, F_RDLCK, LOCK_SHARED_BASE + i) < 0)
			goto busy_set;
	}
	for (int i = 0; i < LOCK_NPERMS; i++) {
		int r;

		/* Someone refusing to share what we use... */
		if ((held >> i) & 1) {
			r = lock_byte(fd, F_OFD_GETLK, F_WRLCK, LOCK_SHARED_BASE + i);
			if (r < 0)
				goto busy_set;
			if (r) {
				qc_error_set(errp,
					     "image is in use: another process does not share its \"%s\" lock "
					     "(is a QEMU using it?)%s",
					     perm_names[i], write ? "" : "; -U reads it anyway");
				return -1;
			}
		}
		/* ...or using what we refuse to share. */
		if ((unshared >> i) & 1) {
			r = lock_byte(fd, F_OFD_GETLK, F_WRLCK, LOCK_PERM_BASE + i);
			if (r < 0)
				goto busy_set;
			if (r) {
				qc_error_set(errp,
					     "image is in use: another process holds its \"%s\" lock (is a QEMU "
					     "using it?)%s",
					     perm_names[i], write ? "" : "; -U reads it anyway");
				return -1;
			}
		}
	}
	return 0;
busy_set:
	if (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP)
		return 0; /* no OFD locks on this file system: QEMU goes on too */
	qc_error_set_errno(errp, errno, "cannot lock the image");
	return -1;
}

/* ---- open --------------------------------------------------------------- */

struct chain_seen {
	dev_t dev[IMG_MAX_CHAIN + 1];
	ino_t ino[IMG_MAX_CHAIN + 1];
	unsigned n;
};

static int file_size(int fd, const struct stat *st, uint64_t *size, struct qc_error **errp)
{
	if (S_ISREG(st->st_mode)) {
		*size = (uint64_t)st->st_size;
		return 0;
	}
	if (S_ISBLK(st->st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0) {
			qc_error_set_errno(errp, errno, "cannot get the size of the block device");
			return -1;
		}
		return 0;
	}
	qc_error_set(errp, "not a regular file or block device");
	return -1;
}

static struct img *open_one(const char *path, const char *fmt, unsigned flags, struct chain_seen *seen, unsigned depth,
			    struct qc_error **errp);

static int open_backing(struct img *img, unsigned flags, struct chain_seen *seen, struct qc_error **errp)
{
	struct qc_error *err = NULL;

	if (img->depth + 1 > IMG_MAX_CHAIN) {
		qc_error_set(errp, "backing chain is deeper than %d images", IMG_MAX_CHAIN);
		return -1;
	}
	img->backing = open_one(img->backing_path, img->qcow2->backing_format, flags & ~IMG_OPEN_WRITE, seen,
				img->depth + 1, &err);
	if (!img->backing) {
		qc_error_prefix(errp, err, "cannot open backing file");
		return -1;
	}
	return 0;
}

static struct img *open_one(const char *path, const char *fmt, unsigned flags, struct chain_seen *seen, unsigned depth,
			    struct qc_error **errp)
{
	struct img *img = qc_calloc(1, sizeof(*img));
	struct qc_error *err = NULL;
	uint8_t probe[512];
	size_t probe_len;
	struct stat st;
	enum img_format want = IMG_FMT_RAW;
	bool probed = !fmt;

	img->path = qc_strdup(path);
	img->fd = img->data_fd = -1;
	img->depth = depth;
	if (fmt && img_format_parse(fmt, &want, &err) < 0)
		goto fail;
	/* O_NONBLOCK: a FIFO given as an image must not hang the open. */
	img->fd = open(path, ((flags & IMG_OPEN_WRITE) ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
	if (img->fd < 0) {
		qc_error_set_errno(&err, errno, "cannot open");
		goto fail;
	}
	if (fstat(img->fd, &st) < 0) {
		qc_error_set_errno(&err, errno, "cannot stat");
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		qc_error_set(&err, "is a directory");
		goto fail;
	}
	for (unsigned i = 0; i < seen->n; i++) {
		if (seen->dev[i] == st.st_dev && seen->ino[i] == st.st_ino) {
			qc_error_set(&err, "backing chain loops back to this image");
			goto fail;
		}
	}
	seen->dev[seen->n] = st.st_dev;
	seen->ino[seen->n] = st.st_ino;
	seen->n++;
	if (file_size(img->fd, &st, &img->io.size, &err) < 0)
		goto fail;
	img->io.fd = img->fd;
	if (!(flags & IMG_OPEN_NO_LOCK) && img_lock(img->fd, flags & IMG_OPEN_WRITE, &err) < 0)
		goto fail;

	probe_len = img->io.size < sizeof(probe) ? (size_t)img->io.size : sizeof(probe);
	if (img_io_pread(&img->io, probe, probe_len, 0, "header", &err) < 0)
		goto fail;
	if (probed) {
		uint8_t tail[512];
		size_t tail_len = probe_len;
		const char *foreign;

		/* The last sector, where fixed VHDs and DMGs keep their header. */
		if (img->io.size > sizeof(probe)) {
			tail_len = sizeof(tail);
			if (img_io_pread(&img->io, tail, tail_len, img->io.size - tail_len, "last sector", &err) < 0)
				goto fail;
		} else {
			memcpy(tail, probe, probe_len);
		}
		foreign = img_probe_foreign(probe, probe_len, tail, tail_len >= 512 ? 512 : 0);
		if (foreign) {
			qc_error_set(&err, "a %s image; qmpctl reads qcow2 and raw only", foreign);
			goto fail;
		}
		want = img_qcow2_probe(probe, probe_len) ? IMG_FMT_QCOW2 : IMG_FMT_RAW;
	}
	img->fmt = want;
	if (want == IMG_FMT_RAW) {
		/* QEMU counts whole 512-byte sectors; the tail reads as zeros. */
		img->size = (img->io.size + 511) & ~511ull;
		return img;
	}

	img->qcow2 = img_qcow2_open(&img->io, &err);
	if (!img->qcow2)
		goto fail;
	img->size = img->qcow2->size;
	if (img->qcow2->backing_file) {
		img->backing_path = img_backing_resolve(path, img->qcow2->backing_file);
		if ((flags & IMG_OPEN_CHAIN) && open_backing(img, flags, seen, &err) < 0)
			goto fail;
	}
	if (img->qcow2->data_file && (flags & IMG_OPEN_DATA)) {
		char *dpath = img_backing_resolve(path, img->qcow2->data_file);

		img->data_fd = open(dpath, ((flags & IMG_OPEN_WRITE) ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
		if (img->data_fd < 0 || fstat(img->data_fd, &st) < 0 ||
		    file_size(img->data_fd, &st, &img->data_io.size, &err) < 0) {
			qc_error_set_errno(&err, errno, "cannot open external data file '%s'", dpath);
			free(dpath);
			goto fail;
		}
		free(dpath);
		img->data_io.fd = img->data_fd;
	}
	return img;
fail:
	qc_error_prepend(&err, "%s", path);
	qc_error_propagate(errp, err);
	img_close(img);
	return NULL;
}

struct img *img_open(const char *path, const char *fmt, unsigned flags, struct qc_error **errp)
{
	struct chain_seen seen = { .n = 0 };

	return open_one(path, fmt, flags, &seen, 0, errp);
}

void img_close(struct img *img)
{
	if (!img)
		return;
	img_close(img->backing);
	img_qcow2_free(img->qcow2);
	if (img->fd >= 0)
		close(img->fd);
	if (img->data_fd >= 0)
		close(img->data_fd);
	free(img->zbuf);
	free(img->zin);
	free(img->backing_path);
	free(img->path);
	free(img);
}

/* ---- the guest view ----------------------------------------------------- */

static int check_readable(struct img *img, struct qc_error **errp)
{
	if (img->qcow2 && img->qcow2->crypt_method) {
		qc_error_set(errp, "%s: image is encrypted; qmpctl does not read encrypted data", img->path);
		return -1;
	}
	if (img->qcow2 && img->qcow2->data_file && img->data_fd < 0) {
		qc_error_set(errp, "%s: external data file is not open", img->path);
		return -1;
	}
	return 0;
}

/* Reads host bytes; what lies past the end of the file reads as zeros (as
 * QEMU's file driver does). */
static int read_host(struct img *img, const struct img_io *io, void *buf, size_t len, uint64_t host,
		     struct qc_error **errp)
{
	size_t avail = host >= io->size ? 0 : (io->size - host < len ? (size_t)(io->size - host) : len);

	if (avail && img_io_pread(io, buf, avail, host, "data", errp) < 0) {
		qc_error_prepend(errp, "%s", img->path);
		return -1;
	}
	memset((uint8_t *)buf + avail, 0, len - avail);
	return 0;
}

static int read_compressed(struct img *img, const struct img_qcow2_extent *e, struct qc_error **errp)
{
	struct img_qcow2 *q = img->qcow2;

	if (img->zhost == e->host + 1)
		return 0;
	if (!img->zbuf) {
		img->zbuf = qc_malloc(q->cluster_size);
		/* A descriptor spans at most cluster_size / 256 sectors, i.e.
		 * two clusters' worth of bytes. */
		img->zin = qc_malloc(2 * q->cluster_size);
	}
	img->zhost = 0;
	if (e->csize > 2 * q->cluster_size) {
		qc_error_set(errp, "%s: compressed cluster at %#" PRIx64 " claims %" PRIu64 " bytes", img->path,
			     e->host, e->csize);
		return -1;
	}
	if (img_io_pread(&img->io, img->zin, (size_t)e->csize, e->host, "compressed cluster", errp) < 0 ||
	    img_qcow2_decompress(q, img->zin, (size_t)e->csize, img->zbuf, errp) < 0) {
		qc_error_prepend(errp, "%s", img->path);
		return -1;
	}
	img->zhost = e->host + 1;
	return 0;
}

int img_read(struct img *img, void *buf, uint64_t off, size_t len, struct qc_error **errp)
{
	uint8_t *p = buf;

	if (off > img->size || len > img->size - off) {
		qc_error_set(errp, "%s: read past the end of the image", img->path);
		return -1;
	}
	if (img->fmt == IMG_FMT_RAW)
		return read_host(img, &img->io, buf, len, off, errp);
	if (check_readable(img, errp) < 0)
		return -1;
	while (len) {
		struct img_qcow2_extent e;
		size_t n;

		if (img_qcow2_map(img->qcow2, off, len, &e, errp) < 0) {
			qc_error_prepend(errp, "%s", img->path);
			return -1;
		}
		n = (size_t)e.len;
		switch (e.kind) {
		case QCOW2_UNALLOCATED:
			if (img->backing && off < img->backing->size) {
				size_t b = img->backing->size - off < n ? (size_t)(img->backing->size - off) : n;

				if (img_read(img->backing, p, off, b, errp) < 0)
					return -1;
				memset(p + b, 0, n - b);
				break;
			}
			/* fall through */
		case QCOW2_ZERO:
			memset(p, 0, n);
			break;
		case QCOW2_NORMAL:
			if (read_host(img, img->data_fd >= 0 ? &img->data_io : &img->io, p, n, e.host, errp) < 0)
				return -1;
			break;
		case QCOW2_COMPRESSED:
			if (read_compressed(img, &e, errp) < 0)
				return -1;
			memcpy(p, img->zbuf + (off & (img->qcow2->cluster_size - 1)), n);
			break;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int raw_status(struct img *img, uint64_t off, uint64_t max, uint64_t *len, bool *data)
{
	off_t d = lseek(img->fd, (off_t)off, SEEK_DATA);

	if (d < 0 && errno == ENXIO) {
		*data = false;
		*len = max;
		return 0;
	}
	if (d < 0) {
		/* No SEEK_DATA support: all data. */
		*data = true;
		*len = max;
		return 0;
	}
	if ((uint64_t)d > off) {
		*data = false;
		*len = (uint64_t)d - off < max ? (uint64_t)d - off : max;
		return 0;
	}
	d = lseek(img->fd, (off_t)off, SEEK_HOLE);
	*data = true;
	*len = (d < 0 || (uint64_t)d <= off || (uint64_t)d - off > max) ? max : (uint64_t)d - off;
	return 0;
}

int img_status(struct img *img, uint64_t off, uint64_t max, uint64_t *len, bool *data, struct qc_error **errp)
{
	struct img_qcow2_extent e;

	if (max > img->size - off)
		max = img->size - off;
	if (img->fmt == IMG_FMT_RAW)
		return raw_status(img, off, max, len, data);
	if (check_readable(img, errp) < 0)
		return -1;
	if (img_qcow2_map(img->qcow2, off, max, &e, errp) < 0) {
		qc_error_prepend(errp, "%s", img->path);
		return -1;
	}
	*len = e.len;
	switch (e.kind) {
	case QCOW2_UNALLOCATED:
		if (img->backing && off < img->backing->size)
			return img_status(img->backing, off, e.len, len, data, errp);
		/* fall through */
	case QCOW2_ZERO:
		*data = false;
		return 0;
	default:
		*data = true;
		return 0;
	}
}
