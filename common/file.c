/*
 * file.c - see file.h.
 */
#include "common/file.h"
#include "common/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int posix_open(void *ctx, const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

static ssize_t posix_write(void *ctx, int fd, const void *buf, size_t len)
{
    return write(fd, buf, len);
}

static int posix_fsync(void *ctx, int fd)
{
    return fsync(fd);
}

static int posix_close(void *ctx, int fd)
{
    return close(fd);
}

static int posix_rename(void *ctx, const char *from, const char *to)
{
    return rename(from, to);
}

static int posix_unlink(void *ctx, const char *path)
{
    return unlink(path);
}

const sl_file_io_t sl_file_posix_io = {posix_open, posix_write, posix_fsync, posix_close, posix_rename, posix_unlink, NULL};

const char sl_file_step_dir_fsync[] = "fsync of the directory";

int sl_file_replace(const sl_file_io_t *io, const char *dir, const char *path, const char *tmp, const void *data, size_t len,
                    mode_t mode, const char **step)
{
    const char *p = data;
    int e;
    if (io == NULL)
        io = &sl_file_posix_io;
    *step = "create";
    int fd = io->open(io->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return SL_EIO;
    *step = "write";
    while (len != 0) {
        ssize_t n = io->write(io->ctx, fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = 0;
            goto FailClose;
        }
        p += n;
        len -= (size_t)n;
    }
    *step = "fsync";
    if (io->fsync(io->ctx, fd) != 0)
        goto FailClose;
    *step = "close";
    if (io->close(io->ctx, fd) != 0)
        goto FailUnlink;
    *step = "rename";
    if (io->rename(io->ctx, tmp, path) != 0)
        goto FailUnlink;
    *step = sl_file_step_dir_fsync;
    int dfd = io->open(io->ctx, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd < 0)
        return SL_EIO;
    int r = io->fsync(io->ctx, dfd);
    e = errno;
    io->close(io->ctx, dfd);
    errno = e;
    return r == 0 ? SL_OK : SL_EIO;

FailClose:
    e = errno;
    io->close(io->ctx, fd);
    errno = e;
FailUnlink:
    e = errno;
    io->unlink(io->ctx, tmp);
    errno = e;
    return SL_EIO;
}

int sl_file_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}
