/*
 * rollout_store_file.c - the state file of a rollout on disk: atomic write, read with damage handling, and the
 * restore rules at start (policies/rollout_store.h).
 *
 * The write sequence is the classic one for atomic replacement on POSIX file systems: write a temporary file in
 * the same directory, fsync it (its data is durable), rename it over the state file (atomic: readers see the old
 * or the new file, never a mix), fsync the directory (the rename itself is durable). A process killed at any point
 * leaves the old file (plus perhaps a temporary file, removed at the next start) or the new one. The sequence is
 * common/file.h's, shared with policies/persist.c; its operations go through a small table so tests can stop a
 * write after any operation, as a kill would.
 *
 * A damaged file is never trusted and never deleted: it is renamed aside with a numbered suffix, and the caller
 * treats the rollout as rolled back (sl_rollout_restore_unreadable), because a lost rollback decision must not
 * turn into a promotion.
 */
#include "policies/rollout_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/status.h"
#include "policies/canary.h"
#include "policies/rollout.h"

/* A reason for the caller, shortened to fit (paths may be long). */
static void __attribute__((format(printf, 2, 3))) whyf(char why[SL_ROLLOUT_STORE_WHY], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, SL_ROLLOUT_STORE_WHY, fmt, ap);
    va_end(ap);
}

static int name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return n != 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int sl_rollout_store_path(const char *dir, const char *route, const char *backend, char *buf, size_t bufsz)
{
    if (dir == NULL || !name_ok(route) || !name_ok(backend))
        return SL_EINVAL;
    int n = snprintf(buf, bufsz, "%s/rollout+%s+%s.state", dir, route, backend);
    return n > 0 && (size_t)n < bufsz ? SL_OK : SL_ERANGE;
}

/* The temporary file of a write: "<dir>/.rollout+<route>+<backend>.state.tmp". */
static int tmp_path(const char *dir, const char *route, const char *backend, char *buf, size_t bufsz)
{
    int n = snprintf(buf, bufsz, "%s/.rollout+%s+%s.state.tmp", dir, route, backend);
    return n > 0 && (size_t)n < bufsz ? SL_OK : SL_ERANGE;
}

int sl_rollout_store_write(const char *dir, const char *route, const char *backend, sl_rollout_t *r, uint64_t now_ms,
                           const sl_rollout_store_io_t *io, char why[SL_ROLLOUT_STORE_WHY])
{
    char path[4096], tmp[4096];
    const char *step = "encode";
    int rc = SL_EIO;
    sl_buf_t b;
    sl_buf_init(&b, 0);
    if (sl_rollout_store_path(dir, route, backend, path, sizeof(path)) != SL_OK ||
        tmp_path(dir, route, backend, tmp, sizeof(tmp)) != SL_OK) {
        whyf(why, "rollout state of %s/%s: bad state_dir or names", route, backend);
        sl_buf_dispose(&b);
        return SL_EIO;
    }
    if (sl_rollout_store_encode(r, route, backend, now_ms, &b) != SL_OK)
        whyf(why, "%s: %s failed: invalid names", path, step);
    else if (sl_file_replace(io, dir, path, tmp, b.data, b.len, 0644, &step) != SL_OK)
        whyf(why, "%s: %s failed: %s", path, step, errno != 0 ? strerror(errno) : "short write");
    else
        rc = SL_OK;
    if (rc == SL_OK)
        r->dirty = 0;
    sl_buf_dispose(&b);
    return rc;
}

/* Renames a damaged file to <path>.corrupt-<n>, n the first free number; sets why. */
static int set_aside(const char *path, const char *reason, char why[SL_ROLLOUT_STORE_WHY])
{
    char aside[4200];
    struct stat st;
    for (unsigned n = 1; n != 1000; ++n) {
        snprintf(aside, sizeof(aside), "%s.corrupt-%u", path, n);
        if (lstat(aside, &st) == 0)
            continue;
        if (rename(path, aside) == 0) {
            whyf(why, "%s: %s; moved to %s", path, reason, aside);
            SL_LOG(SL_LOG_ERROR, "rollout", "%s", why);
            return SL_EPROTO;
        }
        break;
    }
    whyf(why, "%s: %s; could not be moved aside: %s", path, reason, strerror(errno));
    SL_LOG(SL_LOG_ERROR, "rollout", "%s", why);
    return SL_EPROTO;
}

int sl_rollout_store_read(const char *dir, const char *route, const char *backend, sl_rollout_saved_t *out, int *found,
                          char why[SL_ROLLOUT_STORE_WHY])
{
    char path[4096], tmp[4096];
    if (sl_rollout_store_path(dir, route, backend, path, sizeof(path)) != SL_OK ||
        tmp_path(dir, route, backend, tmp, sizeof(tmp)) != SL_OK) {
        whyf(why, "rollout state of %s/%s: bad state_dir or names", route, backend);
        return SL_EPROTO;
    }
    unlink(tmp); /* what an interrupted write left */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            *found = 0;
            return SL_OK;
        }
        whyf(why, "%s: %s", path, strerror(errno));
        return SL_EPROTO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)SL_ROLLOUT_STORE_MAX_BYTES) {
        close(fd);
        return set_aside(path, "not a regular file of a plausible size", why);
    }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *data = sl_malloc(len != 0 ? len : 1);
    while (got < len) {
        ssize_t n = read(fd, data + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    const char *reason = NULL;
    sl_rollout_saved_t *s = sl_malloc(sizeof(*s));
    int rc = SL_OK;
    if (got != len)
        reason = "short read";
    else if (sl_rollout_store_decode(data, len, s, &reason) == SL_OK &&
             (strcmp(s->route, route) != 0 || strcmp(s->backend, backend) != 0))
        reason = "written for another rollout";
    if (reason != NULL) {
        rc = set_aside(path, reason, why);
    } else {
        *out = *s;
        *found = 1;
    }
    sl_free(s);
    sl_free(data);
    return rc;
}

/* Records an event the system made, from `from` to r->state. */
static void system_event(sl_rollout_t *r, enum en_sl_rollout_event_kind_t kind, const sl_rollout_state_t *from, uint64_t now_ms)
{
    sl_rollout_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.seq = r->state.events + 1;
    ev.at_ms = now_ms;
    ev.kind = (uint8_t)kind;
    ev.cause = SL_ROLLOUT_BY_SYSTEM;
    ev.from_phase = from->phase;
    ev.to_phase = r->state.phase;
    ev.generation = r->state.generation;
    ev.from_step = from->step;
    ev.to_step = r->state.step;
    ev.from_weight = from->weight_permille;
    ev.to_weight = r->state.weight_permille;
    r->state.events = ev.seq;
    r->state.updated_ms = now_ms;
    sl_rollout_history_push(&r->history, &ev);
    r->dirty = 1;
}

int sl_rollout_restore(sl_rollout_t *r, const sl_rollout_saved_t *saved, uint64_t now_ms)
{
    const sl_conf_rollout_t *conf = r->conf;
    r->history = saved->history;
    if (strcmp(saved->canary, conf->canary->name) != 0) {
        /* the config names another canary than the stored rollout: a new rollout, numbered on */
        sl_rollout_state_init(&r->state, now_ms);
        r->state.events = saved->state.events;
        system_event(r, SL_ROLLOUT_EV_NEW_CANARY, &saved->state, now_ms);
        return SL_OK;
    }
    r->state = saved->state;
    r->state.step_started_ms = now_ms; /* the interrupted step's samples were lost: its evidence begins again */
    r->state.srm_flagged = 0;
    r->state.hold = SL_ROLLOUT_HOLD_NONE;
    sl_canary_restore(&r->analysis, &saved->durable);
    system_event(r, SL_ROLLOUT_EV_RESTORED, &saved->state, now_ms);
    if (r->state.phase == SL_ROLLOUT_PROGRESSING || r->state.phase == SL_ROLLOUT_PAUSED) {
        /* steps changed while the gateway was down: the highest new step not above the weight in force */
        uint32_t w = r->state.weight_permille;
        int moved = r->state.step >= conf->num_steps || conf->steps_permille[r->state.step] != w;
        if (moved) {
            sl_rollout_state_t before = r->state;
            r->state.step = sl_rollout_step_for_weight(conf, w);
            if (r->state.phase == SL_ROLLOUT_PROGRESSING)
                r->state.weight_permille = conf->steps_permille[r->state.step];
            system_event(r, SL_ROLLOUT_EV_RECONFIGURE, &before, now_ms);
        }
    }
    sl_canary_begin_step(&r->analysis, r->state.weight_permille);
    r->next_analysis_ms = now_ms + conf->interval_ms;
    r->dirty = 1;
    return SL_OK;
}

void sl_rollout_restore_unreadable(sl_rollout_t *r, uint64_t now_ms)
{
    sl_rollout_state_t before = r->state;
    r->state.phase = SL_ROLLOUT_ROLLED_BACK;
    r->state.weight_permille = 0;
    system_event(r, SL_ROLLOUT_EV_UNREADABLE, &before, now_ms);
}
