/*
 * slo_state.c - the SLO policy's history across restarts (the "slo" state file) and across config reloads.
 *
 * Payload, version SL_SLO_STATE_VERSION (inside the envelope of policies/persist.c; integers little endian):
 *   u32 count
 *   count records:  u8 name_len (1..64), name, u8 objective (0 availability, 1 latency, 2 ttft),
 *                   u32 target_ppb, u64 threshold_us, u32 period_min, u32 window_len, window (stats/window codec)
 * A record is the identity of one objective - route name, objective, target, threshold, period - and its windowed
 * counts. Restoring is all or nothing: every record is parsed and every window decoded (checksummed by its own
 * codec) into scratch windows before anything is changed, so a payload with any defect changes nothing and the
 * caller sets the file aside.
 *
 * The carry rule, shared by restores and reloads (docs/SLO.md, "Persistence"): history follows the route name and
 * the objective. Then
 *   - same threshold (always for availability): kept. A changed target keeps the counts - they say which requests
 *     were good, and only the budget derived from them changes. A changed window keeps what fits: the newest
 *     minutes when it shrinks, all of it when it grows (the rest of the new window is empty).
 *   - changed latency or TTFT threshold: reset, reported, because every past request was judged against the old
 *     threshold and the counts cannot be re-judged.
 *   - objective or route no longer declared: its record is dropped (logged); a new objective starts empty.
 * Everything that is not a plain restore is written into the objective's reset_reason or restore_note, which the
 * verdict, /admin/state and the logs show.
 *
 * Thread: the control thread.
 */
#include "policies/slo.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "policies/persist.h"
#include "stats/slo.h"
#include "stats/window.h"

static void put_le(sl_buf_t *b, uint64_t v, int n, int *rc)
{
    unsigned char p[8];
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    if (*rc == SL_OK)
        *rc = sl_buf_append(b, p, (size_t)n);
}

int sl_slo_tracker_encode(const sl_slo_tracker_t *t, sl_buf_t *out)
{
    size_t start = out->len;
    int rc = SL_OK;
    uint32_t count = 0;
    for (size_t i = 0; i != t->num_routes; ++i)
        count += (uint32_t)__builtin_popcount(t->routes[i].enabled);
    put_le(out, count, 4, &rc);
    for (size_t i = 0; i != t->num_routes && rc == SL_OK; ++i) {
        const sl_slo_route_t *r = &t->routes[i];
        for (int o = 0; o != SL_SLO_NUM_OBJECTIVES && rc == SL_OK; ++o) {
            if ((r->enabled >> o & 1u) == 0)
                continue;
            size_t nl = strlen(r->name);
            put_le(out, nl, 1, &rc);
            if (rc == SL_OK)
                rc = sl_buf_append(out, r->name, nl);
            put_le(out, (uint64_t)o, 1, &rc);
            put_le(out, r->math[o].target_ppb, 4, &rc);
            put_le(out, r->threshold_us[o], 8, &rc);
            put_le(out, r->math[o].period_min, 4, &rc);
            size_t len_at = out->len;
            put_le(out, 0, 4, &rc);
            if (rc == SL_OK)
                rc = sl_window_encode(&t->tracks[i * SL_SLO_NUM_OBJECTIVES + (size_t)o].window, out);
            if (rc == SL_OK) {
                uint64_t wl = out->len - len_at - 4;
                for (int k = 0; k < 4; k++)
                    out->data[len_at + (size_t)k] = (char)(unsigned char)(wl >> (8 * k));
            }
        }
    }
    if (rc != SL_OK)
        out->len = start;
    return rc;
}

/* "99.9%" from parts per billion, without trailing zeros. */
static const char *format_target(uint32_t ppb, char *buf, size_t sz)
{
    uint32_t whole = ppb / 10000000u, frac = ppb % 10000000u;
    if (frac == 0) {
        snprintf(buf, sz, "%" PRIu32 "%%", whole);
        return buf;
    }
    char digits[16];
    snprintf(digits, sizeof(digits), "%07" PRIu32, frac);
    size_t n = strlen(digits);
    while (n > 0 && digits[n - 1] == '0')
        digits[--n] = '\0';
    snprintf(buf, sz, "%" PRIu32 ".%s%%", whole, digits);
    return buf;
}

/*
 * The carry rule for one objective of route r (new) from an old identity. Returns 1 (keep; note says what changed,
 * "" when nothing) or 0 (reset; note says why).
 */
static int carry(const sl_slo_route_t *r, int o, uint32_t old_target_ppb, uint64_t old_threshold_us, uint32_t old_period_min,
                 char *note, size_t sz)
{
    char a[32], b[32];
    const sl_slo_t *m = &r->math[o];
    note[0] = '\0';
    if (old_threshold_us != r->threshold_us[o]) {
        snprintf(note, sz, "threshold changed from %s to %s", sl_conf_format_duration(old_threshold_us / 1000, a, 32),
                 sl_conf_format_duration(r->threshold_us[o] / 1000, b, 32));
        return 0;
    }
    size_t n = 0;
    if (old_target_ppb != m->target_ppb)
        n += (size_t)snprintf(note + n, sz - n, "target changed from %s to %s: counts kept",
                              format_target(old_target_ppb, a, 32), format_target(m->target_ppb, b, 32));
    if (old_period_min != m->period_min && n < sz) {
        uint64_t old_ms = (uint64_t)old_period_min * 60000u, new_ms = (uint64_t)m->period_min * 60000u;
        if (old_period_min > m->period_min)
            snprintf(note + n, sz - n, "%swindow changed from %s to %s: the newest %s kept", n != 0 ? "; " : "",
                     sl_conf_format_duration(old_ms, a, 32), sl_conf_format_duration(new_ms, b, 32), b);
        else
            snprintf(note + n, sz - n, "%swindow changed from %s to %s: %s of history kept", n != 0 ? "; " : "",
                     sl_conf_format_duration(old_ms, a, 32), sl_conf_format_duration(new_ms, b, 32), a);
    }
    return 1;
}

/* Index of the route named name (length nl) in t, or -1. */
static ptrdiff_t find_route(const sl_slo_tracker_t *t, const char *name, size_t nl)
{
    for (size_t i = 0; i != t->num_routes; ++i)
        if (strlen(t->routes[i].name) == nl && memcmp(t->routes[i].name, name, nl) == 0)
            return (ptrdiff_t)i;
    return -1;
}

typedef struct st_rd_t {
    const unsigned char *p;
    size_t len, pos;
} rd_t;

static int get(rd_t *r, int n, uint64_t *v)
{
    if (r->len - r->pos < (size_t)n)
        return -1;
    *v = 0;
    for (int i = 0; i < n; i++)
        *v |= (uint64_t)r->p[r->pos + (size_t)i] << (8 * i);
    r->pos += (size_t)n;
    return 0;
}

/* What pass 1 decided for one objective of t. */
typedef struct st_plan_t {
    int seen; /* a record named it */
    int keep; /* its decoded window is in win */
    sl_window_t win;
    char note[SL_SLO_REASON_MAX];
} plan_t;

static void say(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(char *why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, SL_PERSIST_WHY_MAX, fmt, ap);
    va_end(ap);
}

int sl_slo_tracker_restore(sl_slo_tracker_t *t, const void *payload, size_t len, char why[SL_PERSIST_WHY_MAX])
{
    size_t slots = t->num_routes * SL_SLO_NUM_OBJECTIVES;
    plan_t *plan = sl_calloc(slots + 1, sizeof(*plan));
    rd_t r = {payload, len, 0};
    uint64_t count;
    int rc = SL_ESYNTAX;
    size_t dropped = 0;
    if (get(&r, 4, &count) != 0) {
        say(why, "payload truncated before the record count");
        goto Done;
    }
    for (uint64_t k = 0; k != count; ++k) {
        uint64_t nl, obj, target, threshold, period, wl;
        if (get(&r, 1, &nl) != 0 || nl == 0 || nl > SL_SLO_NAME_MAX || r.len - r.pos < nl) {
            say(why, "record %" PRIu64 ": bad or truncated route name", k);
            goto Done;
        }
        const char *name = (const char *)r.p + r.pos;
        r.pos += nl;
        if (get(&r, 1, &obj) != 0 || get(&r, 4, &target) != 0 || get(&r, 8, &threshold) != 0 || get(&r, 4, &period) != 0 ||
            get(&r, 4, &wl) != 0 || r.len - r.pos < wl) {
            say(why, "record %" PRIu64 " (route %.*s): truncated", k, (int)nl, name);
            goto Done;
        }
        sl_slo_t check;
        if (obj >= SL_SLO_NUM_OBJECTIVES || sl_slo_init_ppb(&check, (uint32_t)target, (uint32_t)period) != SL_OK ||
            target > UINT32_MAX || period > UINT32_MAX) {
            say(why, "record %" PRIu64 " (route %.*s): invalid objective, target or window", k, (int)nl, name);
            goto Done;
        }
        const unsigned char *blob = r.p + r.pos;
        r.pos += wl;

        ptrdiff_t ri = find_route(t, name, nl);
        plan_t *pl = NULL;
        int keep = 0;
        char note[SL_SLO_REASON_MAX] = "";
        if (ri >= 0 && (t->routes[ri].enabled >> obj & 1u) != 0) {
            pl = &plan[(size_t)ri * SL_SLO_NUM_OBJECTIVES + obj];
            if (pl->seen) {
                say(why, "record %" PRIu64 ": duplicate record for route %.*s, objective %s", k, (int)nl, name,
                    sl_slo_objective_names[obj]);
                goto Done;
            }
            keep = carry(&t->routes[ri], (int)obj, (uint32_t)target, threshold, (uint32_t)period, note, sizeof(note));
        }
        /* decode into the destination's capacity when kept, else only to validate it */
        sl_window_t win;
        uint32_t cap =
            keep ? t->tracks[(size_t)ri * SL_SLO_NUM_OBJECTIVES + obj].window.capacity_min : SL_SLO_LONGEST_ALERT_MIN;
        sl_window_init(&win, cap, 0);
        const char *werr = NULL;
        int wrc = sl_window_decode(&win, blob, wl, &werr);
        if (wrc != SL_OK) {
            sl_window_dispose(&win);
            say(why, "record %" PRIu64 " (route %.*s, objective %s): window: %s", k, (int)nl, name, sl_slo_objective_names[obj],
                werr != NULL ? werr : "invalid");
            rc = wrc;
            goto Done;
        }
        if (pl == NULL) {
            sl_window_dispose(&win);
            dropped++;
            SL_LOG(SL_LOG_INFO, "slo", "state of route %.*s, objective %s dropped: no longer declared", (int)nl, name,
                   sl_slo_objective_names[obj]);
            continue;
        }
        pl->seen = 1;
        pl->keep = keep;
        memcpy(pl->note, note, sizeof(note));
        if (keep)
            pl->win = win;
        else
            sl_window_dispose(&win);
    }
    if (r.pos != r.len) {
        say(why, "trailing data after the last record (%zu byte%s)", r.len - r.pos, r.len - r.pos == 1 ? "" : "s");
        goto Done;
    }

    /* commit */
    size_t kept = 0;
    for (size_t i = 0; i != t->num_routes; ++i) {
        for (int o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o) {
            if ((t->routes[i].enabled >> o & 1u) == 0)
                continue;
            plan_t *pl = &plan[i * SL_SLO_NUM_OBJECTIVES + (size_t)o];
            sl_slo_track_t *tr = &t->tracks[i * SL_SLO_NUM_OBJECTIVES + (size_t)o];
            tr->restore_note[0] = '\0';
            if (pl->keep) {
                sl_window_dispose(&tr->window);
                tr->window = pl->win;
                pl->keep = 0;
                tr->restored = 1;
                tr->reset_reason[0] = '\0';
                memcpy(tr->restore_note, pl->note, sizeof(tr->restore_note));
                kept++;
                if (pl->note[0] != '\0')
                    SL_LOG(SL_LOG_INFO, "slo", "route %s, objective %s: %s", t->routes[i].name, sl_slo_objective_names[o],
                           pl->note);
            } else if (pl->seen) {
                tr->restored = 0;
                memcpy(tr->reset_reason, pl->note, sizeof(tr->reset_reason));
                SL_LOG(SL_LOG_WARN, "slo", "route %s, objective %s: history reset: %s", t->routes[i].name,
                       sl_slo_objective_names[o], pl->note);
            } else {
                tr->restored = 0;
                snprintf(tr->reset_reason, sizeof(tr->reset_reason), "new objective");
            }
        }
    }
    say(why, "restored %zu objectives, dropped %zu", kept, dropped);
    rc = SL_OK;

Done:
    for (size_t i = 0; i != slots; ++i)
        if (plan[i].keep)
            sl_window_dispose(&plan[i].win);
    sl_free(plan);
    return rc;
}

/* Every objective starts empty with reason prefix + why (truncated to fit). */
static void reset_all(sl_slo_tracker_t *t, const char *prefix, const char *why)
{
    char reason[SL_SLO_REASON_MAX];
    size_t pl = strlen(prefix), wl = strlen(why);
    if (pl > sizeof(reason) - 1)
        pl = sizeof(reason) - 1;
    if (wl > sizeof(reason) - 1 - pl)
        wl = sizeof(reason) - 1 - pl;
    memcpy(reason, prefix, pl);
    memcpy(reason + pl, why, wl);
    reason[pl + wl] = '\0';
    for (size_t i = 0; i != t->num_routes * SL_SLO_NUM_OBJECTIVES; ++i) {
        t->tracks[i].restored = 0;
        t->tracks[i].restore_note[0] = '\0';
        memcpy(t->tracks[i].reset_reason, reason, sizeof(reason));
    }
}

int sl_slo_tracker_load(sl_slo_tracker_t *t, sl_persist_t *p, sl_buf_t *scratch, uint64_t wall_ms)
{
    char why[SL_PERSIST_WHY_MAX], why2[SL_PERSIST_WHY_MAX], reason[SL_PERSIST_WHY_MAX + 16];
    enum en_sl_persist_found_t found;
    const void *payload = NULL;
    size_t len = 0;
    uint64_t written = 0;
    int rc = sl_persist_read(p, scratch, &found, &payload, &len, &written, wall_ms, why);
    if (rc != SL_OK) {
        reset_all(t, "state file unusable: ", why);
        return rc;
    }
    if (found == SL_PERSIST_FOUND_NONE) {
        reset_all(t, "", "no state file");
        return SL_OK;
    }
    if (found == SL_PERSIST_FOUND_SET_ASIDE) {
        reset_all(t, "state file set aside: ", why);
        return SL_OK;
    }
    rc = sl_slo_tracker_restore(t, payload, len, why);
    if (rc == SL_OK) {
        SL_LOG(SL_LOG_INFO, "slo", "%s: %s (written %" PRIu64 " s before this start)", p->path, why,
               wall_ms > written ? (wall_ms - written) / 1000 : 0);
        return SL_OK;
    }
    snprintf(reason, sizeof(reason), "payload: %s", why);
    rc = sl_persist_set_aside(p, reason, wall_ms, why2);
    reset_all(t, rc == SL_EIO ? "state file unusable: " : "state file set aside: ", why2);
    return rc == SL_EIO ? SL_EIO : SL_OK;
}

int sl_slo_tracker_save(const sl_slo_tracker_t *t, sl_persist_t *p, sl_buf_t *scratch, uint64_t now_ms, uint64_t wall_ms)
{
    char why[SL_PERSIST_WHY_MAX];
    int rc = sl_persist_begin(scratch);
    if (rc == SL_OK)
        rc = sl_slo_tracker_encode(t, scratch);
    if (rc != SL_OK) {
        SL_LOG(SL_LOG_ERROR, "slo", "%s: state not written: %s", p->path, sl_strerror(rc));
        return rc;
    }
    return sl_persist_write(p, scratch, now_ms, wall_ms, why);
}

int sl_slo_tracker_adopt(sl_slo_tracker_t *dst, sl_slo_tracker_t *src, uint64_t wall_ms)
{
    sl_slo_tick(src, wall_ms, NULL); /* a minute out of range leaves src's counts as collected so far */
    for (size_t i = 0; i != dst->num_routes; ++i) {
        const sl_slo_route_t *r = &dst->routes[i];
        ptrdiff_t si = find_route(src, r->name, strlen(r->name));
        for (int o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o) {
            if ((r->enabled >> o & 1u) == 0)
                continue;
            sl_slo_track_t *tr = &dst->tracks[i * SL_SLO_NUM_OBJECTIVES + (size_t)o];
            if (si < 0 || (src->routes[si].enabled >> o & 1u) == 0) {
                tr->restored = 0;
                snprintf(tr->reset_reason, sizeof(tr->reset_reason), "new objective");
                continue;
            }
            const sl_slo_route_t *sr = &src->routes[si];
            sl_slo_track_t *st = &src->tracks[(size_t)si * SL_SLO_NUM_OBJECTIVES + (size_t)o];
            tr->carried_good = st->carried_good + st->harvested.good;
            tr->carried_bad = st->carried_bad + st->harvested.bad;
            char note[SL_SLO_REASON_MAX];
            if (!carry(r, o, sr->math[o].target_ppb, sr->threshold_us[o], sr->math[o].period_min, note, sizeof(note))) {
                tr->restored = 0;
                memcpy(tr->reset_reason, note, sizeof(note));
                tr->restore_note[0] = '\0';
                SL_LOG(SL_LOG_WARN, "slo", "route %s, objective %s: history reset: %s", r->name, sl_slo_objective_names[o],
                       note);
                continue;
            }
            if (st->window.capacity_min == tr->window.capacity_min) {
                sl_window_t tmp = tr->window;
                tr->window = st->window;
                st->window = tmp;
            } else {
                /* through the codec, which keeps the newest minutes that fit */
                sl_buf_t b;
                sl_buf_init(&b, 0);
                int rc = sl_window_encode(&st->window, &b);
                if (rc == SL_OK)
                    rc = sl_window_decode(&tr->window, b.data, b.len, NULL);
                sl_buf_dispose(&b);
                assert(rc == SL_OK); /* our own encoding of a valid window */
                (void)rc;
            }
            tr->restored = st->restored;
            memcpy(tr->reset_reason, st->reset_reason, sizeof(tr->reset_reason));
            memcpy(tr->restore_note, note[0] != '\0' ? note : st->restore_note, sizeof(tr->restore_note));
            if (note[0] != '\0')
                SL_LOG(SL_LOG_INFO, "slo", "route %s, objective %s: %s", r->name, sl_slo_objective_names[o], note);
        }
    }
    return SL_OK;
}

int sl_slo_tracker_absorb(sl_slo_tracker_t *dst, sl_slo_tracker_t *src, uint64_t wall_ms)
{
    if (wall_ms / 60000u > (uint64_t)SL_WINDOW_MAX_MINUTE)
        return SL_EINVAL;
    int64_t minute = (int64_t)(wall_ms / 60000u);
    for (size_t i = 0; i != src->num_routes; ++i) {
        const sl_slo_route_t *sr = &src->routes[i];
        ptrdiff_t di = find_route(dst, sr->name, strlen(sr->name));
        for (int o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o) {
            if ((sr->enabled >> o & 1u) == 0)
                continue;
            size_t c = i * SL_SLO_NUM_OBJECTIVES + (size_t)o;
            sl_slo_track_t *st = &src->tracks[c];
            uint64_t good = 0, bad = 0;
            for (uint32_t w = 0; w != src->num_workers; ++w) {
                const sl_slo_cell_t *cell = sl_slo_shard(src, w) + c;
                good += __atomic_load_n(&cell->good, __ATOMIC_RELAXED);
                bad += __atomic_load_n(&cell->bad, __ATOMIC_RELAXED);
            }
            uint64_t dg = good - st->harvested.good, db = bad - st->harvested.bad;
            st->harvested.good = good;
            st->harvested.bad = bad;
            if ((dg == 0 && db == 0) || di < 0 || (dst->routes[di].enabled >> o & 1u) == 0)
                continue; /* nothing new, or an objective dst no longer declares: dropped */
            sl_slo_track_t *tr = &dst->tracks[(size_t)di * SL_SLO_NUM_OBJECTIVES + (size_t)o];
            tr->carried_good += dg;
            tr->carried_bad += db;
            if (dst->routes[di].threshold_us[o] == sr->threshold_us[o])
                sl_window_add(&tr->window, minute, dg, dg + db);
        }
    }
    return SL_OK;
}
