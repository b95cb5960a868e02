/* img_io: bounded reads, full-length pread/pwrite, zero detection. */
#include "img_io.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

int img_io_pread(const struct img_io *io, void *buf, size_t len, uint64_t off, const char *what, struct qc_error **errp)
{
	if (off > io->size || len > io->size - off) {
		qc_error_set(errp,
			     "%s at offset %#" PRIx64 " (%zu bytes) is past the end of the file (%" PRIu64 " bytes)",
			     what, off, len, io->size);
		return -1;
	}
	if (io->mem) {
		memcpy(buf, io->mem + off, len);
		return 0;
	}
	return img_fd_pread(io->fd, buf, len, off, what, errp);
}

int img_fd_pread(int fd, void *buf, size_t len, uint64_t off, const char *what, struct qc_error **errp)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			qc_error_set_errno(errp, errno, "cannot read %s at offset %#" PRIx64, what, off);
			return -1;
		}
		if (n == 0) {
			qc_error_set(errp, "%s at offset %#" PRIx64 " is past the end of the file", what, off);
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int img_fd_pwrite(int fd, const void *buf, size_t len, uint64_t off, const char *what, struct qc_error **errp)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			qc_error_set_errno(errp, n < 0 ? errno : EIO, "cannot write %s at offset %#" PRIx64, what, off);
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int img_is_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	/* Check a head byte by byte, then compare the buffer with itself
	 * shifted by 16: memcmp is vectorised and this needs no zero page. */
	while (len && ((uintptr_t)b & 15)) {
		if (*b)
			return 0;
		b++;
		len--;
	}
	if (len < 16) {
		while (len--)
			if (*b++)
				return 0;
		return 1;
	}
	for (size_t i = 0; i < 16; i++)
		if (b[i])
			return 0;
	return memcmp(b, b + 16, len - 16) == 0;
}
