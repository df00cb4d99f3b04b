/*
 * test_rollout_crash.c - a scripted rollout (start, advances, pause, resume, a rollback, a restart, a promotion,
 * an operator rollback) that writes its state at every change, crashed at every point of every write: before each
 * file operation, and in the middle of the data. After each crash the gateway "restarts": it reads the state file
 * and restores the rollout, which must resume exactly where the last completed write left it — same phase, step,
 * weight and history, never ahead — and a rolled-back canary must stay rolled back however long healthy traffic
 * runs afterwards.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>

#include "common/alloc.h"
#include "common/status.h"
#include "policies/rollout_store.h"
#include "rollout_fixture.h"

/* A write that dies before its `die_at`-th file operation (counting from 0), as a kill -9 would: that operation
 * and every later one do nothing. With `partial`, the fatal operation is a write that gets half its bytes out. */
typedef struct st_crash_t {
    int ops, die_at, partial, dead;
    int open_fds[4];
    int num_fds;
} crash_t;

static int dies(crash_t *c)
{
    if (c->dead)
        return 1;
    if (c->ops++ == c->die_at) {
        c->dead = 1;
        return 1;
    }
    return 0;
}

static int c_open(void *ctx, const char *path, int flags, mode_t mode)
{
    crash_t *c = ctx;
    if (dies(c)) {
        errno = EIO;
        return -1;
    }
    int fd = open(path, flags, mode);
    if (fd >= 0 && c->num_fds < 4)
        c->open_fds[c->num_fds++] = fd;
    return fd;
}

static ssize_t c_write(void *ctx, int fd, const void *buf, size_t len)
{
    crash_t *c = ctx;
    if (dies(c)) {
        if (c->partial && c->ops - 1 == c->die_at)
            (void)!write(fd, buf, len / 2);
        errno = EIO;
        return -1;
    }
    return write(fd, buf, len);
}

static int c_fsync(void *ctx, int fd)
{
    if (dies(ctx)) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

static int c_close(void *ctx, int fd)
{
    crash_t *c = ctx;
    if (dies(c)) {
        errno = EIO;
        return -1;
    }
    for (int i = 0; i != c->num_fds; ++i)
        if (c->open_fds[i] == fd)
            c->open_fds[i] = -1;
    return close(fd);
}

static int c_rename(void *ctx, const char *from, const char *to)
{
    if (dies(ctx)) {
        errno = EIO;
        return -1;
    }
    return rename(from, to);
}

static int c_unlink(void *ctx, const char *path)
{
    if (dies(ctx)) {
        errno = EIO;
        return -1;
    }
    return unlink(path);
}

/* The kernel closes a dead process's files. */
static void reap(crash_t *c)
{
    for (int i = 0; i != c->num_fds; ++i)
        if (c->open_fds[i] >= 0)
            close(c->open_fds[i]);
}

/* A write has 8 operations: open(tmp), write, fsync, close, rename, open(dir), fsync(dir), close(dir). The rename
 * (operation 4) is the one that makes the new state visible. */
#define WRITE_OPS 8
#define RENAME_OP 4

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb");
    if (a == NULL) {
        unlink(to);
        return;
    }
    FILE *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), a)) != 0)
        fwrite(buf, 1, n, b);
    fclose(a);
    fclose(b);
}

typedef struct st_expect_t {
    int exists;
    sl_rollout_state_t state;
    uint32_t history_count;
    uint64_t last_seq;
} expect_t;

static expect_t expect_of(const sl_rollout_t *r)
{
    expect_t e = {1, r->state, r->history.count, 0};
    if (r->history.count != 0)
        e.last_seq = sl_rollout_history_get(&r->history, r->history.count - 1)->seq;
    return e;
}

static int crashes, restored_old, restored_new, persists;

/* Crashes the write of r's state at every point, in a scratch copy of dir, restarts, and checks the result. */
static void crash_everywhere(const sl_conf_rollout_t *conf, const char *dir, sl_rollout_t *r, const expect_t *before,
                             uint64_t now)
{
    char scratch[64], path[300], spath[300], why[SL_ROLLOUT_STORE_WHY];
    fx_mkdtemp(scratch, sizeof(scratch));
    sl_rollout_store_path(dir, "chat", "large", path, sizeof(path));
    sl_rollout_store_path(scratch, "chat", "large", spath, sizeof(spath));
    const expect_t after = expect_of(r);
    for (int point = 0; point <= WRITE_OPS; ++point) {
        for (int partial = 0; partial != (point == 1 ? 2 : 1); ++partial) {
            copy_file(path, spath);
            crash_t c = {.die_at = point, .partial = partial};
            sl_rollout_store_io_t io = {c_open, c_write, c_fsync, c_close, c_rename, c_unlink, &c};
            int dirty = r->dirty;
            int rc = sl_rollout_store_write(scratch, "chat", "large", r, now, &io, why);
            r->dirty = dirty;
            reap(&c);
            /* closing the directory after its fsync cannot fail the write: the state is durable by then */
            cr_assert_eq(rc, point >= WRITE_OPS - 1 ? SL_OK : SL_EIO, "point %d", point);
            ++crashes;
            /* restart */
            const expect_t *want = point > RENAME_OP ? &after : before;
            sl_rollout_t fresh;
            cr_assert_eq(sl_rollout_init(&fresh, conf, now + 5), SL_OK);
            sl_rollout_saved_t *s = sl_calloc(1, sizeof(*s));
            int found = -1;
            cr_assert_eq(sl_rollout_store_read(scratch, "chat", "large", s, &found, why), SL_OK, "point %d: %s", point, why);
            cr_assert_eq(found, want->exists, "point %d", point);
            if (found) {
                cr_assert_eq(s->state.phase, want->state.phase, "point %d", point);
                cr_assert_eq(s->state.step, want->state.step);
                cr_assert_eq(s->state.weight_permille, want->state.weight_permille);
                cr_assert_eq(s->state.generation, want->state.generation);
                cr_assert_eq(s->state.events, want->state.events);
                cr_assert_eq(s->history.count, want->history_count);
                if (s->history.count != 0)
                    cr_assert_eq(sl_rollout_history_get(&s->history, s->history.count - 1)->seq, want->last_seq);
                cr_assert_eq(sl_rollout_restore(&fresh, s, now + 5), SL_OK);
                cr_assert_eq(fresh.state.phase, want->state.phase);
                cr_assert_eq(fresh.state.step, want->state.step);
                cr_assert_eq(sl_rollout_weight(&fresh), want->state.weight_permille, "point %d", point);
                cr_assert_eq(fresh.state.step_started_ms, now + 5, "the step's evidence begins again");
                const sl_rollout_event_t *last = sl_rollout_history_get(&fresh.history, fresh.history.count - 1);
                cr_assert_eq(last->kind, SL_ROLLOUT_EV_RESTORED);
                cr_assert_eq(last->seq, want->state.events + 1);
                if (want == &after)
                    ++restored_new;
                else
                    ++restored_old;
                /* a restored rolled-back canary stays rolled back under healthy traffic */
                if (fresh.state.phase == SL_ROLLOUT_ROLLED_BACK) {
                    fx_traffic_t t;
                    fx_traffic_init(&t, 5);
                    for (uint64_t i = 1; i <= 60; ++i)
                        fx_tick(&fresh, &t, 400, 0, now + 5 + i * 1000);
                    cr_assert_eq(fresh.state.phase, SL_ROLLOUT_ROLLED_BACK);
                    cr_assert_eq(sl_rollout_weight(&fresh), 0);
                    fx_traffic_dispose(&t);
                }
            }
            cr_assert_eq(fx_count_files(scratch), found ? 1 : 0, "point %d: the temporary file is gone", point);
            sl_free(s);
            sl_rollout_dispose(&fresh);
        }
    }
    fx_rmdir(scratch);
}

/* Writes r for real (after crashing that same write everywhere) when it changed. */
static void persist(const sl_conf_rollout_t *conf, const char *dir, sl_rollout_t *r, expect_t *last, uint64_t now)
{
    char why[SL_ROLLOUT_STORE_WHY];
    if (!r->dirty)
        return;
    crash_everywhere(conf, dir, r, last, now);
    ++persists;
    cr_assert_eq(sl_rollout_store_write(dir, "chat", "large", r, now, NULL, why), SL_OK, "%s", why);
    *last = expect_of(r);
}

Test(rollout_crash, every_crash_point_of_a_scripted_rollout)
{
    char dir[64];
    fx_mkdtemp(dir, sizeof(dir));
    sl_conf_t *conf = fx_conf("large-v2", "");
    const sl_conf_rollout_t *rc = fx_rollout(conf);
    sl_rollout_t r;
    fx_traffic_t t;
    fx_traffic_init(&t, 3);
    expect_t last = {0};
    uint64_t now = 0;
    int phases_seen = 0;
    cr_assert_eq(sl_rollout_init(&r, rc, now), SL_OK);
    persist(rc, dir, &r, &last, now);
    /* healthy traffic up to step 2 (25%) */
    while (r.state.step < 2) {
        fx_tick(&r, &t, 400, 0, now += 1000);
        persist(rc, dir, &r, &last, now);
    }
    cr_assert_eq(sl_rollout_admin(&r, SL_ROLLOUT_OP_PAUSE, now += 1000), SL_OK);
    persist(rc, dir, &r, &last, now);
    cr_assert_eq(sl_rollout_admin(&r, SL_ROLLOUT_OP_RESUME, now += 1000), SL_OK);
    persist(rc, dir, &r, &last, now);
    /* the canary breaks: rolled back */
    while (r.state.phase == SL_ROLLOUT_PROGRESSING) {
        fx_tick(&r, &t, 400, 4, now += 1000);
        persist(rc, dir, &r, &last, now);
    }
    cr_assert_eq(r.state.phase, SL_ROLLOUT_ROLLED_BACK);
    phases_seen |= 1;
    /* an operator restarts it; healthy this time, promoted */
    cr_assert_eq(sl_rollout_admin(&r, SL_ROLLOUT_OP_RESTART, now += 1000), SL_OK);
    persist(rc, dir, &r, &last, now);
    while (r.state.phase != SL_ROLLOUT_PROMOTED && now < 1000000) {
        fx_tick(&r, &t, 400, 0, now += 1000);
        persist(rc, dir, &r, &last, now);
    }
    cr_assert_eq(r.state.phase, SL_ROLLOUT_PROMOTED);
    cr_assert_eq(r.state.generation, 2);
    phases_seen |= 2;
    cr_assert_eq(sl_rollout_admin(&r, SL_ROLLOUT_OP_ROLLBACK, now += 1000), SL_OK);
    persist(rc, dir, &r, &last, now);
    cr_assert_eq(phases_seen, 3);
    /* 14 writes (creation, start, 2 advances, pause, resume, rollback, restart, start, 3 advances, promotion,
     * operator rollback), each crashed at 10 points: 6 before the rename restore the previous write (none before the
     * first), 4 after it the new one */
    cr_assert_eq(persists, 14);
    cr_assert_eq(crashes, 140);
    cr_assert_eq(restored_old, 78);
    cr_assert_eq(restored_new, 56);
    fx_traffic_dispose(&t);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
    fx_rmdir(dir);
}

Test(rollout_crash, an_unreadable_state_file_counts_as_rolled_back)
{
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    cr_assert_eq(sl_rollout_init(&r, fx_rollout(conf), 100), SL_OK);
    sl_rollout_restore_unreadable(&r, 200);
    cr_assert_eq(r.state.phase, SL_ROLLOUT_ROLLED_BACK);
    cr_assert_eq(sl_rollout_weight(&r), 0);
    cr_assert_eq(r.history.count, 1);
    const sl_rollout_event_t *ev = sl_rollout_history_get(&r.history, 0);
    cr_assert_eq(ev->kind, SL_ROLLOUT_EV_UNREADABLE);
    cr_assert_eq(ev->cause, SL_ROLLOUT_BY_SYSTEM);
    cr_assert_eq(ev->at_ms, 200);
    /* healthy traffic does not start it again; an operator restart does */
    fx_traffic_t t;
    fx_traffic_init(&t, 9);
    for (uint64_t i = 1; i <= 30; ++i)
        fx_tick(&r, &t, 400, 0, 200 + i * 1000);
    cr_assert_eq(sl_rollout_weight(&r), 0);
    cr_assert_eq(sl_rollout_admin(&r, SL_ROLLOUT_OP_PROMOTE, 40000), SL_EINVAL);
    cr_assert_eq(sl_rollout_admin(&r, SL_ROLLOUT_OP_RESTART, 40000), SL_OK);
    fx_tick(&r, &t, 400, 0, 41000);
    cr_assert_eq(r.state.phase, SL_ROLLOUT_PROGRESSING);
    cr_assert_eq(sl_rollout_weight(&r), 50);
    fx_traffic_dispose(&t);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
}
