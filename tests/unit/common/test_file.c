/*
 * test_file.c - common/file.c: an atomic replacement that works, and one stopped at each of its operations (through
 * the io table): the old file stays whole and the temporary file is gone, or, when only the directory's fsync
 * fails, the new file is in place; the step reported is the one that failed, with its errno.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/status.h"

static char dir[64], path[128], tmp[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sl-test-file-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state", dir);
    snprintf(tmp, sizeof(tmp), "%s/.state.tmp", dir);
}

static void teardown(void)
{
    unlink(path);
    unlink(tmp);
    rmdir(dir);
}

TestSuite(file, .init = setup, .fini = teardown);

static const char *contents(char *buf, size_t sz)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    size_t n = fread(buf, 1, sz - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

/* The POSIX operations, except the one numbered fail_at (in call order: 0 open, 1 write, ...) which fails with
 * EIO (a write that fails writes nothing: 0 bytes). */
typedef struct st_faulty_t {
    int calls, fail_at;
} faulty_t;

static int fails(void *ctx)
{
    faulty_t *f = ctx;
    return f->calls++ == f->fail_at;
}

static int f_open(void *ctx, const char *p, int flags, mode_t mode)
{
    if (fails(ctx)) {
        errno = EIO;
        return -1;
    }
    return open(p, flags, mode);
}

static ssize_t f_write(void *ctx, int fd, const void *buf, size_t len)
{
    if (fails(ctx))
        return 0;
    return write(fd, buf, len < 3 ? len : 3); /* short writes: the loop must finish the job */
}

static int f_fsync(void *ctx, int fd)
{
    if (fails(ctx)) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

static int f_close(void *ctx, int fd)
{
    int r = close(fd); /* always closed: a failing close still releases the descriptor */
    if (fails(ctx)) {
        errno = EIO;
        return -1;
    }
    return r;
}

static int f_rename(void *ctx, const char *from, const char *to)
{
    if (fails(ctx)) {
        errno = EIO;
        return -1;
    }
    return rename(from, to);
}

static int f_unlink(void *ctx, const char *p)
{
    return unlink(p); /* cleanup is not a step that can fail the write */
}

Test(file, replaces_whole_with_short_writes)
{
    char buf[64];
    const char *step = NULL;
    faulty_t f = {0, -1};
    sl_file_io_t io = {f_open, f_write, f_fsync, f_close, f_rename, f_unlink, &f};
    cr_assert_eq(sl_file_replace(&io, dir, path, tmp, "first version", 13, 0600, &step), SL_OK);
    cr_assert_str_eq(contents(buf, sizeof(buf)), "first version");
    cr_assert_eq(sl_file_replace(NULL, dir, path, tmp, "second", 6, 0600, &step), SL_OK);
    cr_assert_str_eq(contents(buf, sizeof(buf)), "second");
    cr_assert_eq(access(tmp, F_OK), -1);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(file, a_failure_at_each_step_leaves_the_old_file_or_the_whole_new_one)
{
    /* calls: 0 open tmp, 1..5 writes of 3 bytes ("0123456789abcd": 14 bytes, 5 writes), 6 fsync, 7 close,
     * 8 rename, 9 open dir, 10 fsync dir */
    static const struct {
        int fail_at;
        const char *step;
        int err; /* errno reported */
        const char *after;
    } cases[] = {
        {0, "create", EIO, "old"}, {2, "write", 0, "old"},   {6, "fsync", EIO, "old"},
        {7, "close", EIO, "old"},  {8, "rename", EIO, "old"}, {9, NULL, EIO, "0123456789abcd"},
        {10, NULL, EIO, "0123456789abcd"},
    };
    char buf[64];
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const char *step = NULL;
        cr_assert_eq(sl_file_replace(NULL, dir, path, tmp, "old", 3, 0644, &step), SL_OK);
        faulty_t f = {0, cases[i].fail_at};
        sl_file_io_t io = {f_open, f_write, f_fsync, f_close, f_rename, f_unlink, &f};
        errno = 12345;
        cr_assert_eq(sl_file_replace(&io, dir, path, tmp, "0123456789abcd", 14, 0644, &step), SL_EIO, "case %zu", i);
        cr_assert_eq(errno, cases[i].err, "case %zu: errno %d", i, errno);
        if (cases[i].step != NULL)
            cr_assert_str_eq(step, cases[i].step, "case %zu", i);
        else
            cr_assert_eq(step, sl_file_step_dir_fsync, "case %zu: %s", i, step);
        cr_assert_str_eq(contents(buf, sizeof(buf)), cases[i].after, "case %zu", i);
        cr_assert_eq(access(tmp, F_OK), -1, "case %zu: the temporary file is left", i);
    }
}
