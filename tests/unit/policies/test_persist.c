/*
 * test_persist.c - atomic state files (policies/persist.c): round trip, what is written, every kind of damaged or
 * foreign file (reported, set aside under the exact name, never trusted), a state_dir that is missing, not a
 * directory or not writable, failed writes, and the bounded write interval.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/status.h"
#include "policies/persist.h"
#include "stats/window.h"

#define WALL_MS 1767225600123ull /* the set-aside suffix is its second: 1767225600 */

static char dir[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    sl_log_level = -1; /* the failures below are expected; keep the output readable */
    snprintf(dir, sizeof(dir), "/tmp/sl-persist-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    chmod(dir, 0700);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(persist, .init = setup, .fini = teardown);

static void open_slo(sl_persist_t *p)
{
    char why[SL_PERSIST_WHY_MAX];
    cr_assert_eq(sl_persist_init(p, dir, "slo.state", "slo", 1, 10000, why), SL_OK, "%s", why);
}

static void write_payload(sl_persist_t *p, const char *payload, uint64_t now_ms)
{
    char why[SL_PERSIST_WHY_MAX];
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_persist_begin(&b), SL_OK);
    cr_assert_eq(sl_buf_append(&b, payload, strlen(payload)), SL_OK);
    cr_assert_eq(sl_persist_write(p, &b, now_ms, WALL_MS, why), SL_OK, "%s", why);
    sl_buf_dispose(&b);
}

static size_t file_bytes(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void put_bytes(const char *path, const unsigned char *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

Test(persist, round_trip_and_file_layout)
{
    sl_persist_t p;
    open_slo(&p);
    char path[512];
    snprintf(path, sizeof(path), "%s/slo.state", dir);
    cr_assert_str_eq(p.path, path);
    cr_assert(sl_persist_due(&p, 0)); /* never written */
    write_payload(&p, "hello, state", 5000);
    cr_assert_eq(p.writes, 1);
    cr_assert_eq(p.last_write_ms, 5000);

    unsigned char raw[256];
    size_t n = file_bytes(path, raw, sizeof(raw));
    cr_assert_eq(n, 40 + 12 + 4);
    cr_assert_eq(memcmp(raw, "SLST\x01\x00\x01\x00slo\0\0\0\0\0\0\0\0\0\0\0\0\0", 24), 0);
    uint64_t wall = 0, len = 0;
    for (int i = 0; i != 8; ++i) {
        wall |= (uint64_t)raw[24 + i] << (8 * i);
        len |= (uint64_t)raw[32 + i] << (8 * i);
    }
    cr_assert_eq(wall, WALL_MS);
    cr_assert_eq(len, 12);
    cr_assert_eq(memcmp(raw + 40, "hello, state", 12), 0);
    uint32_t crc = (uint32_t)raw[52] | (uint32_t)raw[53] << 8 | (uint32_t)raw[54] << 16 | (uint32_t)raw[55] << 24;
    cr_assert_eq(crc, sl_window_crc32c(raw, 52));
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s/.slo.state.tmp", dir);
    cr_assert_not(exists(tmp));

    sl_buf_t buf;
    sl_buf_init(&buf, 0);
    enum en_sl_persist_found_t found;
    const void *payload = NULL;
    size_t plen = 0;
    uint64_t written = 0;
    char why[SL_PERSIST_WHY_MAX];
    cr_assert_eq(sl_persist_read(&p, &buf, &found, &payload, &plen, &written, WALL_MS + 1000, why), SL_OK);
    cr_assert_eq(found, SL_PERSIST_FOUND_OK);
    cr_assert_eq(plen, 12);
    cr_assert_eq(memcmp(payload, "hello, state", 12), 0);
    cr_assert_eq(written, WALL_MS);

    /* a second write replaces the first whole */
    write_payload(&p, "v2", 6000);
    cr_assert_eq(sl_persist_read(&p, &buf, &found, &payload, &plen, &written, WALL_MS, why), SL_OK);
    cr_assert_eq(found, SL_PERSIST_FOUND_OK);
    cr_assert_eq(plen, 2);
    cr_assert_eq(memcmp(payload, "v2", 2), 0);
    sl_buf_dispose(&buf);
    sl_persist_dispose(&p);
}

Test(persist, no_file_is_a_first_start)
{
    sl_persist_t p;
    open_slo(&p);
    sl_buf_t buf;
    sl_buf_init(&buf, 0);
    enum en_sl_persist_found_t found = SL_PERSIST_FOUND_OK;
    const void *payload = (const void *)&found;
    size_t plen = 77;
    uint64_t written = 99;
    char why[SL_PERSIST_WHY_MAX];
    cr_assert_eq(sl_persist_read(&p, &buf, &found, &payload, &plen, &written, WALL_MS, why), SL_OK);
    cr_assert_eq(found, SL_PERSIST_FOUND_NONE);
    cr_assert_str_eq(why, "no state file");
    cr_assert_eq(payload, (const void *)&found); /* untouched */
    cr_assert_eq(plen, 77);
    cr_assert_eq(written, 99);
    sl_buf_dispose(&buf);
    sl_persist_dispose(&p);
}

/* A damaged file: how to damage a valid one, and the reason the reader must give. */
typedef struct st_damage_t {
    const char *name;
    void (*apply)(unsigned char *raw, size_t *n);
    const char *reason;
} damage_t;

static void fix_crc(unsigned char *raw, size_t n)
{
    uint32_t c = sl_window_crc32c(raw, n - 4);
    for (int i = 0; i != 4; ++i)
        raw[n - 4 + (size_t)i] = (unsigned char)(c >> (8 * i));
}
static void d_empty(unsigned char *raw, size_t *n)
{
    (void)raw;
    *n = 0;
}
static void d_short(unsigned char *raw, size_t *n)
{
    (void)raw;
    *n = 10;
}
static void d_truncated(unsigned char *raw, size_t *n)
{
    (void)raw;
    *n -= 5;
}
static void d_trailing(unsigned char *raw, size_t *n)
{
    raw[(*n)++] = 0;
}
static void d_flip(unsigned char *raw, size_t *n)
{
    (void)n;
    raw[45] ^= 0x10;
}
static void d_foreign(unsigned char *raw, size_t *n)
{
    memcpy(raw, "# a text file that happens to be named like a state file\n", 57);
    *n = 57;
}
static void d_version(unsigned char *raw, size_t *n)
{
    raw[4] = 2;
    fix_crc(raw, *n);
}
static void d_payload_version(unsigned char *raw, size_t *n)
{
    raw[6] = 7;
    fix_crc(raw, *n);
}
static void d_kind(unsigned char *raw, size_t *n)
{
    memcpy(raw + 8, "rollout", 7);
    fix_crc(raw, *n);
}
static void d_kind_unterminated(unsigned char *raw, size_t *n)
{
    memset(raw + 8, 'x', 16);
    fix_crc(raw, *n);
}

static const damage_t damages[] = {
    {"empty", d_empty, "empty file"},
    {"shorter than an envelope", d_short, "truncated: 10 bytes, an envelope needs at least 44"},
    {"truncated payload", d_truncated, "truncated: header declares 20 payload bytes, the file holds 15"},
    {"trailing bytes", d_trailing, "length mismatch: header declares 20 payload bytes, the file holds 21"},
    {"flipped byte", d_flip, "checksum mismatch"},
    {"foreign file", d_foreign, "not a sluice state file (bad magic)"},
    {"envelope version", d_version, "envelope version 2, this build reads 1"},
    {"payload version", d_payload_version, "payload version 7, this build reads 1"},
    {"another policy's file", d_kind, "foreign state file: kind \"rollout\", expected \"slo\""},
    {"kind without its NUL", d_kind_unterminated, "foreign state file: kind \"xxxxxxxxxxxxxxxx\", expected \"slo\""},
};

Test(persist, damaged_files_are_reported_and_set_aside)
{
    for (size_t i = 0; i != sizeof(damages) / sizeof(damages[0]); ++i) {
        sl_persist_t p;
        open_slo(&p);
        write_payload(&p, "twenty bytes of data", 1000);
        unsigned char raw[256];
        size_t n = file_bytes(p.path, raw, sizeof(raw));
        damages[i].apply(raw, &n);
        put_bytes(p.path, raw, n);

        sl_buf_t buf;
        sl_buf_init(&buf, 0);
        enum en_sl_persist_found_t found;
        const void *payload = NULL;
        size_t plen = 0;
        uint64_t written = 0;
        char why[SL_PERSIST_WHY_MAX], want[SL_PERSIST_WHY_MAX], aside[512];
        uint64_t wall = WALL_MS + 1000u * i;
        cr_assert_eq(sl_persist_read(&p, &buf, &found, &payload, &plen, &written, wall, why), SL_OK, "%s", damages[i].name);
        cr_assert_eq(found, SL_PERSIST_FOUND_SET_ASIDE, "%s", damages[i].name);
        snprintf(want, sizeof(want), "%s; set aside as slo.state.corrupt-%llu", damages[i].reason,
                 (unsigned long long)(wall / 1000));
        cr_expect_str_eq(why, want, "%s", damages[i].name);
        cr_assert_null(payload);
        /* the file is gone from its place and kept, byte for byte, under the new name */
        cr_assert_not(exists(p.path), "%s", damages[i].name);
        snprintf(aside, sizeof(aside), "%s.corrupt-%llu", p.path, (unsigned long long)(wall / 1000));
        unsigned char kept[256];
        cr_assert_eq(file_bytes(aside, kept, sizeof(kept)), n, "%s", damages[i].name);
        cr_assert_eq(memcmp(kept, raw, n), 0);
        /* the next start finds no file, and writing works again */
        cr_assert_eq(sl_persist_read(&p, &buf, &found, &payload, &plen, &written, wall, why), SL_OK);
        cr_assert_eq(found, SL_PERSIST_FOUND_NONE);
        write_payload(&p, "fresh", 2000);
        unlink(p.path);
        sl_buf_dispose(&buf);
        sl_persist_dispose(&p);
    }
}

Test(persist, set_aside_names_never_collide)
{
    sl_persist_t p;
    open_slo(&p);
    char why[SL_PERSIST_WHY_MAX], path[512];
    cr_assert_eq(sl_persist_set_aside(&p, "no file", WALL_MS, why), SL_ENOENT);
    for (int i = 0; i != 3; ++i) {
        put_bytes(p.path, (const unsigned char *)"junk", 4);
        cr_assert_eq(sl_persist_set_aside(&p, "payload: bad record", WALL_MS, why), SL_OK);
    }
    cr_assert_str_eq(why, "payload: bad record; set aside as slo.state.corrupt-1767225600.2");
    snprintf(path, sizeof(path), "%s/slo.state.corrupt-1767225600", dir);
    cr_assert(exists(path));
    snprintf(path, sizeof(path), "%s/slo.state.corrupt-1767225600.1", dir);
    cr_assert(exists(path));
    sl_persist_dispose(&p);
}

Test(persist, a_file_that_cannot_be_set_aside_blocks_writes)
{
    sl_persist_t p;
    open_slo(&p);
    char path[512], why[SL_PERSIST_WHY_MAX];
    /* every candidate name is taken */
    for (int i = 0; i != 1000; ++i) {
        if (i == 0)
            snprintf(path, sizeof(path), "%s.corrupt-1767225600", p.path);
        else
            snprintf(path, sizeof(path), "%s.corrupt-1767225600.%d", p.path, i);
        put_bytes(path, (const unsigned char *)"x", 1);
    }
    put_bytes(p.path, (const unsigned char *)"damaged", 7);
    sl_buf_t buf;
    sl_buf_init(&buf, 0);
    enum en_sl_persist_found_t found;
    const void *payload;
    size_t plen;
    uint64_t written;
    cr_assert_eq(sl_persist_read(&p, &buf, &found, &payload, &plen, &written, WALL_MS, why), SL_EIO);
    cr_assert_eq(found, SL_PERSIST_FOUND_SET_ASIDE);
    snprintf(path, sizeof(path),
             "%s: truncated: 7 bytes, an envelope needs at least 44; could not set it aside (File exists): writes "
             "disabled",
             p.path);
    cr_assert_str_eq(why, path);
    /* the damaged file stays and is never overwritten */
    sl_buf_t out;
    sl_buf_init(&out, 0);
    cr_assert_eq(sl_persist_begin(&out), SL_OK);
    cr_assert_eq(sl_persist_write(&p, &out, 0, WALL_MS, why), SL_EIO);
    snprintf(path, sizeof(path), "%s: not written: an unreadable state file is still in place", p.path);
    cr_assert_str_eq(why, path);
    cr_assert_eq(p.failures, 1);
    unsigned char raw[16];
    cr_assert_eq(file_bytes(p.path, raw, sizeof(raw)), 7);
    sl_buf_dispose(&out);
    sl_buf_dispose(&buf);
    sl_persist_dispose(&p);
}

Test(persist, state_dir_is_created_when_its_parent_exists)
{
    char sub[512], why[SL_PERSIST_WHY_MAX];
    snprintf(sub, sizeof(sub), "%s/state", dir);
    sl_persist_t p;
    cr_assert_eq(sl_persist_init(&p, sub, "slo.state", "slo", 1, 10000, why), SL_OK, "%s", why);
    struct stat st;
    cr_assert_eq(stat(sub, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0700);
    sl_persist_dispose(&p);
}

Test(persist, unusable_state_dirs_are_clear_errors)
{
    char bad[512], want[1024], why[SL_PERSIST_WHY_MAX];
    sl_persist_t p;
    snprintf(bad, sizeof(bad), "%s/missing/state", dir);
    cr_assert_eq(sl_persist_init(&p, bad, "slo.state", "slo", 1, 10000, why), SL_EIO);
    snprintf(want, sizeof(want), "state_dir %s: cannot create: No such file or directory", bad);
    cr_assert_str_eq(why, want);
    cr_assert_null(p.path);
    sl_persist_dispose(&p); /* safe on the zeroed p */

    snprintf(bad, sizeof(bad), "%s/file", dir);
    put_bytes(bad, (const unsigned char *)"x", 1);
    cr_assert_eq(sl_persist_init(&p, bad, "slo.state", "slo", 1, 10000, why), SL_EIO);
    snprintf(want, sizeof(want), "state_dir %s: not a directory", bad);
    cr_assert_str_eq(why, want);
}

Test(persist, unwritable_state_dir_is_a_clear_error)
{
    char ro[512], want[1024], why[SL_PERSIST_WHY_MAX];
    snprintf(ro, sizeof(ro), "%s/ro", dir);
    cr_assert_eq(mkdir(ro, 0500), 0);
    if (access(ro, W_OK) == 0) {
        /* privileged: permission bits do not apply, so use a directory nobody may create files in */
        int fd = open("/sys/kernel/sl-probe", O_WRONLY | O_CREAT, 0600);
        if (fd >= 0 || errno != EACCES) {
            if (fd >= 0)
                close(fd);
            cr_skip_test("no unwritable directory available to this user");
        }
        snprintf(ro, sizeof(ro), "/sys/kernel");
    }
    sl_persist_t p;
    cr_assert_eq(sl_persist_init(&p, ro, "slo.state", "slo", 1, 10000, why), SL_EIO);
    snprintf(want, sizeof(want), "state_dir %s: not writable: Permission denied", ro);
    cr_assert_str_eq(why, want);
}

Test(persist, bad_parameters)
{
    sl_persist_t p;
    char why[SL_PERSIST_WHY_MAX];
    cr_assert_eq(sl_persist_init(&p, dir, "a/b", "slo", 1, 10000, why), SL_EINVAL);
    cr_assert_eq(sl_persist_init(&p, dir, ".hidden", "slo", 1, 10000, why), SL_EINVAL);
    cr_assert_eq(sl_persist_init(&p, dir, "", "slo", 1, 10000, why), SL_EINVAL);
    cr_assert_eq(sl_persist_init(&p, dir, "slo.state", "", 1, 10000, why), SL_EINVAL);
    cr_assert_eq(sl_persist_init(&p, dir, "slo.state", "sixteen-letters!", 1, 10000, why), SL_EINVAL);
    cr_assert_eq(sl_persist_init(&p, dir, "slo.state", "slo", 1, 999, why), SL_EINVAL);
    cr_assert_eq(sl_persist_init(&p, dir, "slo.state", "slo", 1, 3600001, why), SL_EINVAL);
    cr_assert_eq(sl_persist_init(&p, "", "slo.state", "slo", 1, 10000, why), SL_EINVAL);
    cr_assert_eq(sl_persist_init(&p, dir, "slo.state", "fifteen-letters", 1, 1000, why), SL_OK);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_persist_write(&p, &b, 0, 0, why), SL_EINVAL); /* not begun */
    sl_buf_dispose(&b);
    sl_persist_dispose(&p);
}

Test(persist, writes_are_due_once_per_interval)
{
    sl_persist_t p;
    open_slo(&p);
    write_payload(&p, "a", 100000);
    cr_assert_not(sl_persist_due(&p, 100000));
    cr_assert_not(sl_persist_due(&p, 109999));
    cr_assert(sl_persist_due(&p, 110000));
    sl_persist_dispose(&p);
}

Test(persist, a_failed_write_keeps_the_old_file)
{
    sl_persist_t p;
    open_slo(&p);
    write_payload(&p, "old", 1000);
    /* the temp file's name is taken by a directory: creating it fails */
    cr_assert_eq(mkdir(p.tmp_path, 0700), 0);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    char why[SL_PERSIST_WHY_MAX], want[1024];
    cr_assert_eq(sl_persist_begin(&b), SL_OK);
    cr_assert_eq(sl_buf_append(&b, "new", 3), SL_OK);
    cr_assert_eq(sl_persist_write(&p, &b, 2000, WALL_MS, why), SL_EIO);
    snprintf(want, sizeof(want), "%s: create of %s failed: Is a directory", p.path, p.tmp_path);
    cr_assert_str_eq(why, want);
    cr_assert_eq(b.len, 43); /* the checksum appended for the write was taken off again */
    cr_assert_eq(p.failures, 1);
    cr_assert_eq(p.writes, 1);
    cr_assert_eq(p.last_write_ms, 1000);
    unsigned char raw[64];
    cr_assert_eq(file_bytes(p.path, raw, sizeof(raw)), 47);
    cr_assert_eq(memcmp(raw + 40, "old", 3), 0);
    rmdir(p.tmp_path);
    cr_assert_eq(sl_persist_write(&p, &b, 3000, WALL_MS, why), SL_OK);
    cr_assert_eq(file_bytes(p.path, raw, sizeof(raw)), 47);
    cr_assert_eq(memcmp(raw + 40, "new", 3), 0);
    sl_buf_dispose(&b);
    sl_persist_dispose(&p);
}

Test(persist, write_file_is_atomic_and_reports_errors)
{
    char path[512], why[SL_PERSIST_WHY_MAX], want[2048];
    snprintf(path, sizeof(path), "%s/rules.yml", dir);
    cr_assert_eq(sl_persist_write_file(path, "groups: []\n", 11, why), SL_OK);
    unsigned char raw[64];
    cr_assert_eq(file_bytes(path, raw, sizeof(raw)), 11);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);
    cr_assert_eq(sl_persist_write_file(path, "x", 1, why), SL_OK);
    cr_assert_eq(file_bytes(path, raw, sizeof(raw)), 1);
    snprintf(path, sizeof(path), "%s/no/rules.yml", dir);
    cr_assert_eq(sl_persist_write_file(path, "x", 1, why), SL_EIO);
    snprintf(want, sizeof(want), "%s: create of %s.tmp failed: No such file or directory", path, path);
    cr_assert_str_eq(why, want);
}
