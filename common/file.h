/*
 * file.h - replacing a file atomically on a POSIX file system: write a temporary file in the same directory, fsync
 * it (its data is durable), rename it over the file (readers see the old or the new file, never a mix), fsync the
 * directory (the rename itself is durable). A process killed at any point leaves the old file (perhaps with the
 * temporary one) or the new one, whole. The operations go through a table so tests can stop a write after any of
 * them, as a kill would. Blocking I/O: never on the request path.
 */
#ifndef SL_COMMON_FILE_H
#define SL_COMMON_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* The file operations sl_file_replace uses (each as its POSIX namesake; ctx is passed back). */
typedef struct st_sl_file_io_t {
    int (*open)(void *ctx, const char *path, int flags, mode_t mode);
    ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
    int (*fsync)(void *ctx, int fd);
    int (*close)(void *ctx, int fd);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path);
    void *ctx;
} sl_file_io_t;

extern const sl_file_io_t sl_file_posix_io;

/* The step names sl_file_replace reports; compare pointers with this one to tell a failure after the rename. */
extern const char sl_file_step_dir_fsync[]; /* "fsync of the directory" */

/* Writes data[0..len) to tmp (created with mode, truncated if it exists), fsyncs and closes it, renames it over path
 * and fsyncs dir (the directory of both). io NULL: POSIX. Returns SL_OK, or SL_EIO with *step the operation that
 * failed ("create", "write", "fsync", "close", "rename", or sl_file_step_dir_fsync) and errno its error (0 for a
 * write that wrote nothing). A failure before the rename leaves path as it was and removes tmp; a failure of the
 * directory's fsync leaves the new file in place, only its durability in doubt. */
int sl_file_replace(const sl_file_io_t *io, const char *dir, const char *path, const char *tmp, const void *data, size_t len,
                    mode_t mode, const char **step);

/* fsync(2) of a directory (after a rename in it). Returns 0, or -1 with errno set. */
int sl_file_fsync_dir(const char *dir);

#endif
