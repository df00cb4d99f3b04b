/*
 * test_slo_state.c - SLO history across restarts and reloads (policies/slo_state.c): exact round trips, the carry
 * rule (target, threshold, window changes; new and removed objectives), all-or-nothing restores of damaged
 * payloads, start-up with missing, damaged and foreign files, a kill -9 that loses at most one write interval, and
 * config reloads that hand windows and counters over.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "policies/persist.h"
#include "policies/slo.h"
#include "stats/window.h"

#define MIN_MS 60000ull
#define M0 ((uint64_t)29000000)
#define DAY 1440u

#define BACKENDS "backends:\n  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\nroutes:\n"

static const char v1[] = BACKENDS "  - name: chat\n"
                                  "    cascade: [{backend: llm}]\n"
                                  "    slo: {availability: 99.9%, latency: {threshold: 2s, target: 99%}, window: 30d}\n"
                                  "  - name: batch\n"
                                  "    cascade: [{backend: llm}]\n"
                                  "    slo: {availability: 99.5%, window: 7d}\n";

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
    sl_log_level = -1;
    snprintf(dir, sizeof(dir), "/tmp/sl-slo-state-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(slo_state, .init = setup, .fini = teardown);

static sl_slo_tracker_t *tracker(const char *yaml, uint32_t workers, uint64_t wall_ms)
{
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_string("slo.yaml", yaml, strlen(yaml), &conf, &errs), SL_OK, "%s",
                 errs.count != 0 ? errs.msgs[0] : "");
    sl_conf_errors_dispose(&errs);
    sl_slo_tracker_t *t = NULL;
    cr_assert_eq(sl_slo_tracker_create(conf, workers, wall_ms, &t), SL_OK);
    sl_conf_release(conf);
    return t;
}

static sl_slo_track_t *track(sl_slo_tracker_t *t, size_t route, int objective)
{
    return &t->tracks[route * SL_SLO_NUM_OBJECTIVES + (size_t)objective];
}

/* Adds n requests to route 0 (i % 10 of them fail, i % 4 are slow) and route 1 in worker 0, then ticks. */
static void traffic(sl_slo_tracker_t *t, uint64_t wall_ms, int n)
{
    for (int i = 0; i != n; ++i) {
        sl_slo_outcome_t o = {i % 10 == 0 ? 502u : 200u, 0, i % 4 == 0 ? 2500000u : 1000u, 0, 0};
        sl_slo_observe(t, 0, 0, &o);
        if (t->num_routes > 1)
            sl_slo_observe(t, 0, 1, &o);
    }
    cr_assert_eq(sl_slo_tick(t, wall_ms, NULL), SL_OK);
}

static void encode(const sl_slo_tracker_t *t, sl_buf_t *b)
{
    sl_buf_init(b, 0);
    cr_assert_eq(sl_slo_tracker_encode(t, b), SL_OK);
}

static void assert_same_window(const sl_window_t *a, const sl_window_t *b, uint32_t minutes)
{
    cr_assert_eq(a->head_min, b->head_min);
    for (int64_t m = a->head_min - (int64_t)minutes + 1; m <= a->head_min; ++m) {
        sl_window_sum_t x = {0, 0}, y = {0, 0};
        sl_window_minute(a, m, &x);
        sl_window_minute(b, m, &y);
        cr_assert_eq(x.total, y.total, "minute %lld", (long long)m);
        cr_assert_eq(x.good, y.good, "minute %lld", (long long)m);
    }
}

Test(slo_state, round_trip_is_exact)
{
    uint64_t w0 = M0 * MIN_MS;
    sl_slo_tracker_t *a = tracker(v1, 2, w0);
    traffic(a, w0, 100);
    traffic(a, w0 + 3 * MIN_MS, 7);
    traffic(a, w0 + 2 * DAY * MIN_MS, 1000);
    sl_buf_t b;
    encode(a, &b);

    sl_slo_tracker_t *c = tracker(v1, 1, w0 + 2 * DAY * MIN_MS + 1000);
    char why[SL_PERSIST_WHY_MAX];
    cr_assert_eq(sl_slo_tracker_restore(c, b.data, b.len, why), SL_OK, "%s", why);
    cr_assert_str_eq(why, "restored 3 objectives, dropped 0");
    int objs[][2] = {{0, SL_SLO_AVAILABILITY}, {0, SL_SLO_LATENCY}, {1, SL_SLO_AVAILABILITY}};
    for (size_t i = 0; i != 3; ++i) {
        sl_slo_track_t *x = track(a, (size_t)objs[i][0], objs[i][1]), *y = track(c, (size_t)objs[i][0], objs[i][1]);
        assert_same_window(&x->window, &y->window, y->window.capacity_min);
        cr_assert_eq(y->window.first_min, (int64_t)M0);
        cr_assert_eq(y->restored, 1);
        cr_assert_str_eq(y->reset_reason, "");
        cr_assert_str_eq(y->restore_note, "");
    }
    sl_window_sum_t s;
    cr_assert_eq(sl_window_minute(&track(c, 0, SL_SLO_AVAILABILITY)->window, (int64_t)M0 + 3, &s), SL_OK);
    cr_assert_eq(s.total, 7);
    cr_assert_eq(s.good, 6);
    /* the verdict reports the history, and counters that start at zero with the process */
    sl_slo_verdict_t *v;
    cr_assert_eq(sl_slo_tick(c, w0 + 2 * DAY * MIN_MS + 2000, &v), SL_OK);
    const sl_slo_objective_verdict_t *ov = &v->routes[0].objectives[SL_SLO_AVAILABILITY];
    cr_assert_eq(ov->report.period.total, 1107);
    cr_assert_eq(ov->report.period.good, 1107 - 10 - 1 - 100);
    cr_assert_eq(ov->requests_total, 0);
    cr_assert_eq(ov->restored, 1);
    cr_assert_eq(ov->coverage_min, 2 * DAY + 1);
    /* a second encoding of the restored state is the same bytes */
    sl_buf_t b2;
    encode(c, &b2);
    cr_assert_eq(b2.len, b.len);
    cr_assert_eq(memcmp(b2.data, b.data, b.len), 0);
    sl_buf_dispose(&b2);
    sl_slo_verdict_destroy(v);
    sl_buf_dispose(&b);
    sl_slo_tracker_destroy(a);
    sl_slo_tracker_destroy(c);
}

Test(slo_state, carry_rule_follows_name_and_objective)
{
    static const char v2[] =
        BACKENDS "  - name: other\n"
                 "    cascade: [{backend: llm}]\n"
                 "    slo: {availability: 99%}\n"
                 "  - name: chat\n"
                 "    cascade: [{backend: llm}]\n"
                 "    slo: {availability: 99.5%, latency: {threshold: 3s, target: 99%}, ttft: {threshold: 1s, "
                 "target: 90%}, window: 30d}\n";
    uint64_t w0 = M0 * MIN_MS;
    sl_slo_tracker_t *a = tracker(v1, 1, w0);
    traffic(a, w0, 50);
    sl_buf_t b;
    encode(a, &b);
    sl_slo_tracker_t *c = tracker(v2, 1, w0 + MIN_MS);
    char why[SL_PERSIST_WHY_MAX];
    cr_assert_eq(sl_slo_tracker_restore(c, b.data, b.len, why), SL_OK, "%s", why);
    cr_assert_str_eq(why, "restored 1 objectives, dropped 1"); /* batch is gone */

    sl_slo_track_t *av = track(c, 1, SL_SLO_AVAILABILITY), *lat = track(c, 1, SL_SLO_LATENCY), *ttft = track(c, 1, SL_SLO_TTFT),
                   *other = track(c, 0, SL_SLO_AVAILABILITY);
    cr_assert_eq(av->restored, 1);
    cr_assert_str_eq(av->restore_note, "target changed from 99.9% to 99.5%: counts kept");
    assert_same_window(&track(a, 0, SL_SLO_AVAILABILITY)->window, &av->window, 10);
    cr_assert_eq(lat->restored, 0);
    cr_assert_str_eq(lat->reset_reason, "threshold changed from 2s to 3s");
    cr_assert_eq(lat->window.head_min, (int64_t)M0 + 1); /* still the empty window of a fresh start */
    sl_window_sum_t s;
    cr_assert_eq(sl_window_sum(&lat->window, (int64_t)M0 + 1, 60, &s), SL_OK);
    cr_assert_eq(s.total, 0);
    cr_assert_eq(ttft->restored, 0);
    cr_assert_str_eq(ttft->reset_reason, "new objective");
    cr_assert_str_eq(other->reset_reason, "new objective");
    sl_buf_dispose(&b);
    sl_slo_tracker_destroy(a);
    sl_slo_tracker_destroy(c);
}

Test(slo_state, a_changed_window_keeps_what_fits)
{
    static const char w28[] = BACKENDS "  - name: chat\n"
                                       "    cascade: [{backend: llm}]\n"
                                       "    slo: {availability: 99.9%, window: 28d}\n";
    static const char w7[] = BACKENDS "  - name: chat\n"
                                      "    cascade: [{backend: llm}]\n"
                                      "    slo: {availability: 99.5%, window: 7d}\n";
    uint64_t w0 = M0 * MIN_MS, end = w0 + 29 * DAY * MIN_MS;
    sl_slo_tracker_t *a = tracker(v1, 1, w0); /* 30 days */
    traffic(a, w0 + 10 * MIN_MS, 5);          /* 29 days before the end: outside 28 days */
    traffic(a, end - DAY * MIN_MS, 6);        /* a day before the end */
    traffic(a, end, 7);
    sl_buf_t b;
    encode(a, &b);
    char why[SL_PERSIST_WHY_MAX];

    sl_slo_tracker_t *c = tracker(w28, 1, end);
    cr_assert_eq(sl_slo_tracker_restore(c, b.data, b.len, why), SL_OK, "%s", why);
    sl_slo_track_t *x = track(c, 0, SL_SLO_AVAILABILITY);
    cr_assert_str_eq(x->restore_note, "window changed from 30d to 28d: the newest 28d kept");
    cr_assert_eq(x->window.capacity_min, 28 * DAY);
    sl_window_sum_t s;
    cr_assert_eq(sl_window_sum(&x->window, x->window.head_min, 28 * DAY, &s), SL_OK);
    cr_assert_eq(s.total, 13);
    sl_slo_tracker_destroy(c);

    /* 7 days: then the window grows back to 28 days with its 7 days of history */
    c = tracker(w7, 1, end);
    cr_assert_eq(sl_slo_tracker_restore(c, b.data, b.len, why), SL_OK, "%s", why);
    x = track(c, 0, SL_SLO_AVAILABILITY);
    cr_assert_str_eq(x->restore_note,
                     "target changed from 99.9% to 99.5%: counts kept; window changed from 30d to 7d: the newest 7d "
                     "kept");
    sl_buf_t b7;
    encode(c, &b7);
    sl_slo_tracker_t *d = tracker(w28, 1, end);
    cr_assert_eq(sl_slo_tracker_restore(d, b7.data, b7.len, why), SL_OK, "%s", why);
    x = track(d, 0, SL_SLO_AVAILABILITY);
    cr_assert_str_eq(x->restore_note,
                     "target changed from 99.5% to 99.9%: counts kept; window changed from 7d to 28d: 7d of history "
                     "kept");
    cr_assert_eq(sl_window_sum(&x->window, x->window.head_min, 28 * DAY, &s), SL_OK);
    cr_assert_eq(s.total, 13);
    sl_buf_dispose(&b7);
    sl_buf_dispose(&b);
    sl_slo_tracker_destroy(a);
    sl_slo_tracker_destroy(c);
    sl_slo_tracker_destroy(d);
}

/* A restore that fails changes nothing: the first objective stays as created. */
static void restore_fails(const void *payload, size_t len, int rc, const char *want)
{
    sl_slo_tracker_t *c = tracker(v1, 1, M0 * MIN_MS);
    char why[SL_PERSIST_WHY_MAX];
    cr_assert_eq(sl_slo_tracker_restore(c, payload, len, why), rc, "%s", why);
    cr_assert_str_eq(why, want);
    for (size_t i = 0; i != 2; ++i) {
        sl_slo_track_t *x = track(c, i, SL_SLO_AVAILABILITY);
        cr_assert_eq(x->restored, 0);
        cr_assert_str_eq(x->reset_reason, "no state file");
        sl_window_sum_t s;
        sl_window_sum(&x->window, (int64_t)M0, 60, &s);
        cr_assert_eq(s.total, 0);
    }
    sl_slo_tracker_destroy(c);
}

Test(slo_state, damaged_payloads_change_nothing)
{
    sl_slo_tracker_t *a = tracker(v1, 1, M0 * MIN_MS);
    traffic(a, M0 * MIN_MS, 40);
    sl_buf_t b;
    encode(a, &b);
    unsigned char *p = (unsigned char *)b.data;
    /* record 0: name_len at 4, "chat" at 5..8, objective at 9, target 10..13, threshold 14..21, period 22..25,
     * window length 26..29, window from 30 */
    uint32_t wl0 = (uint32_t)p[26] | (uint32_t)p[27] << 8 | (uint32_t)p[28] << 16 | (uint32_t)p[29] << 24;
    size_t rec1 = 30 + wl0, win1 = rec1 + 26;

    restore_fails(p, 2, SL_ESYNTAX, "payload truncated before the record count");
    restore_fails(p, 7, SL_ESYNTAX, "record 0: bad or truncated route name");
    restore_fails(p, 20, SL_ESYNTAX, "record 0 (route chat): truncated");
    restore_fails(p, b.len - 1, SL_ESYNTAX, "record 2 (route batch): truncated");

    sl_buf_t c;
    sl_buf_init(&c, 0);
    sl_buf_append(&c, b.data, b.len);
    c.data[win1 + 45] ^= 0x04; /* a count inside record 1's window */
    restore_fails(c.data, c.len, SL_ESYNTAX, "record 1 (route chat, objective latency): window: checksum mismatch");
    memcpy(c.data, b.data, b.len);
    c.data[win1] = 'X'; /* its magic */
    restore_fails(c.data, c.len, SL_EPROTO,
                  "record 1 (route chat, objective latency): window: not an encoded window (bad magic)");
    memcpy(c.data, b.data, b.len);
    c.data[9] = 3; /* no such objective */
    restore_fails(c.data, c.len, SL_ESYNTAX, "record 0 (route chat): invalid objective, target or window");
    memcpy(c.data, b.data, b.len);
    memset(c.data + 10, 0xff, 4); /* target above 100% */
    restore_fails(c.data, c.len, SL_ESYNTAX, "record 0 (route chat): invalid objective, target or window");
    memcpy(c.data, b.data, b.len);
    sl_buf_append(&c, "!", 1);
    restore_fails(c.data, c.len, SL_ESYNTAX, "trailing data after the last record (1 byte)");

    /* record 0 twice */
    sl_buf_t d;
    sl_buf_init(&d, 0);
    unsigned char two[4] = {2, 0, 0, 0};
    sl_buf_append(&d, two, 4);
    sl_buf_append(&d, b.data + 4, rec1 - 4);
    sl_buf_append(&d, b.data + 4, rec1 - 4);
    restore_fails(d.data, d.len, SL_ESYNTAX, "record 1: duplicate record for route chat, objective availability");
    sl_buf_dispose(&d);
    sl_buf_dispose(&c);
    sl_buf_dispose(&b);
    sl_slo_tracker_destroy(a);
}

static void open_state(sl_persist_t *p)
{
    char why[SL_PERSIST_WHY_MAX];
    cr_assert_eq(sl_persist_init(p, dir, "slo.state", "slo", SL_SLO_STATE_VERSION, 10000, why), SL_OK, "%s", why);
}

Test(slo_state, start_up_with_missing_damaged_and_foreign_files)
{
    uint64_t w0 = M0 * MIN_MS;
    sl_persist_t p;
    open_state(&p);
    sl_buf_t scratch;
    sl_buf_init(&scratch, 0);

    sl_slo_tracker_t *c = tracker(v1, 1, w0);
    cr_assert_eq(sl_slo_tracker_load(c, &p, &scratch, w0), SL_OK);
    cr_assert_str_eq(track(c, 1, SL_SLO_AVAILABILITY)->reset_reason, "no state file");
    sl_slo_tracker_destroy(c);

    /* a damaged envelope */
    sl_slo_tracker_t *a = tracker(v1, 1, w0);
    traffic(a, w0, 30);
    cr_assert_eq(sl_slo_tracker_save(a, &p, &scratch, 1000, w0), SL_OK);
    FILE *f = fopen(p.path, "r+b");
    cr_assert_not_null(f);
    fseek(f, 60, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    c = tracker(v1, 1, w0 + 5000);
    cr_assert_eq(sl_slo_tracker_load(c, &p, &scratch, w0 + 5000), SL_OK);
    char want[512];
    snprintf(want, sizeof(want), "state file set aside: checksum mismatch; set aside as slo.state.corrupt-%llu",
             (unsigned long long)((w0 + 5000) / 1000));
    for (size_t i = 0; i != 2; ++i) {
        cr_assert_eq(track(c, i, SL_SLO_AVAILABILITY)->restored, 0);
        cr_assert_str_eq(track(c, i, SL_SLO_AVAILABILITY)->reset_reason, want);
    }
    sl_slo_tracker_destroy(c);

    /* a valid envelope around a payload that is not ours */
    sl_buf_t junk;
    sl_buf_init(&junk, 0);
    cr_assert_eq(sl_persist_begin(&junk), SL_OK);
    sl_buf_append(&junk, "junk", 4);
    char why[SL_PERSIST_WHY_MAX];
    cr_assert_eq(sl_persist_write(&p, &junk, 2000, w0, why), SL_OK);
    c = tracker(v1, 1, w0 + 9000);
    cr_assert_eq(sl_slo_tracker_load(c, &p, &scratch, w0 + 9000), SL_OK);
    snprintf(want, sizeof(want),
             "state file set aside: payload: record 0: bad or truncated route name; set aside as "
             "slo.state.corrupt-%llu",
             (unsigned long long)((w0 + 9000) / 1000));
    cr_assert_str_eq(track(c, 0, SL_SLO_LATENCY)->reset_reason, want);
    cr_assert_eq(access(p.path, F_OK), -1);
    sl_slo_tracker_destroy(c);

    /* the state file of another policy under our name */
    sl_persist_t q;
    cr_assert_eq(sl_persist_init(&q, dir, "slo.state", "rollout", 1, 10000, why), SL_OK);
    cr_assert_eq(sl_persist_write(&q, &junk, 3000, w0, why), SL_OK);
    c = tracker(v1, 1, w0 + 12000);
    cr_assert_eq(sl_slo_tracker_load(c, &p, &scratch, w0 + 12000), SL_OK);
    snprintf(want, sizeof(want),
             "state file set aside: foreign state file: kind \"rollout\", expected \"slo\"; set aside as "
             "slo.state.corrupt-%llu",
             (unsigned long long)((w0 + 12000) / 1000));
    cr_assert_str_eq(track(c, 0, SL_SLO_AVAILABILITY)->reset_reason, want);
    sl_slo_tracker_destroy(c);
    sl_persist_dispose(&q);

    /* and a good file restores */
    cr_assert_eq(sl_slo_tracker_save(a, &p, &scratch, 20000, w0), SL_OK);
    c = tracker(v1, 1, w0 + 30000);
    cr_assert_eq(sl_slo_tracker_load(c, &p, &scratch, w0 + 30000), SL_OK);
    cr_assert_eq(track(c, 0, SL_SLO_AVAILABILITY)->restored, 1);
    assert_same_window(&track(a, 0, SL_SLO_AVAILABILITY)->window, &track(c, 0, SL_SLO_AVAILABILITY)->window, 10);
    sl_slo_tracker_destroy(c);
    sl_slo_tracker_destroy(a);
    sl_buf_dispose(&junk);
    sl_buf_dispose(&scratch);
    sl_persist_dispose(&p);
}

/*
 * kill -9: a gateway ticks every second and writes its state when due (every 10 s); it is killed between two
 * writes (no shutdown write). The next start restores exactly the state of the last write, and what is lost is
 * exactly what was counted after it: less than one interval of traffic.
 */
Test(slo_state, kill_9_loses_at_most_one_interval)
{
    uint64_t w0 = M0 * MIN_MS;
    sl_persist_t p;
    open_state(&p);
    sl_buf_t scratch, at_save;
    sl_buf_init(&scratch, 0);
    sl_buf_init(&at_save, 0);
    sl_slo_tracker_t *a = tracker(v1, 3, w0);
    uint64_t last_save_ms = 0, counted = 0, counted_at_save = 0;
    const uint64_t crash_ms = 907000; /* 15 minutes and 7 seconds in */
    for (uint64_t now = 0; now <= crash_ms; now += 1000) {
        int n = (int)(now / 1000 % 17) + 1;
        for (int i = 0; i != n; ++i) {
            sl_slo_outcome_t o = {i % 5 == 0 ? 503u : 200u, 0, 1000, 0, 0};
            sl_slo_observe(a, (uint32_t)(i % 3), 0, &o);
        }
        counted += (uint64_t)n;
        cr_assert_eq(sl_slo_tick(a, w0 + now, NULL), SL_OK);
        if (sl_persist_due(&p, now)) {
            cr_assert_eq(sl_slo_tracker_save(a, &p, &scratch, now, w0 + now), SL_OK);
            last_save_ms = now;
            counted_at_save = counted;
            at_save.len = 0;
            cr_assert_eq(sl_slo_tracker_encode(a, &at_save), SL_OK);
        }
    }
    cr_assert_eq(p.writes, 91); /* at 0, 10 s, ..., 900 s */
    cr_assert_eq(last_save_ms, 900000);
    /* crash: the tracker vanishes without a shutdown write */
    sl_slo_tracker_destroy(a);

    sl_slo_tracker_t *b = tracker(v1, 3, w0 + crash_ms + 2000);
    cr_assert_eq(sl_slo_tracker_load(b, &p, &scratch, w0 + crash_ms + 2000), SL_OK);
    sl_buf_t now_state;
    encode(b, &now_state);
    cr_assert_eq(now_state.len, at_save.len);
    cr_assert_eq(memcmp(now_state.data, at_save.data, at_save.len), 0);
    sl_window_sum_t s;
    cr_assert_eq(sl_window_sum(&track(b, 0, SL_SLO_AVAILABILITY)->window, (int64_t)M0 + 15, 60, &s), SL_OK);
    cr_assert_eq(s.total, counted_at_save);
    uint64_t lost = counted - counted_at_save;
    cr_assert_eq(lost, 1 + 2 + 3 + 4 + 5 + 6 + 7); /* the ticks at 901 .. 907 s (901 = 53 x 17) */
    cr_assert_lt(crash_ms - last_save_ms, p.interval_ms);
    sl_buf_dispose(&now_state);
    sl_slo_tracker_destroy(b);
    sl_buf_dispose(&at_save);
    sl_buf_dispose(&scratch);
    sl_persist_dispose(&p);
}

Test(slo_state, a_clean_shutdown_loses_nothing)
{
    uint64_t w0 = M0 * MIN_MS;
    sl_persist_t p;
    open_state(&p);
    sl_buf_t scratch;
    sl_buf_init(&scratch, 0);
    sl_slo_tracker_t *a = tracker(v1, 1, w0);
    traffic(a, w0, 10);
    cr_assert_eq(sl_slo_tracker_save(a, &p, &scratch, 0, w0), SL_OK);
    sl_slo_outcome_t o = {200, 0, 1, 0, 0};
    sl_slo_observe(a, 0, 0, &o);
    /* shutdown: a final tick collects the shards, then the state is written */
    cr_assert_eq(sl_slo_tick(a, w0 + 4000, NULL), SL_OK);
    cr_assert_eq(sl_slo_tracker_save(a, &p, &scratch, 4000, w0 + 4000), SL_OK);
    sl_slo_tracker_t *b = tracker(v1, 1, w0 + 9000);
    cr_assert_eq(sl_slo_tracker_load(b, &p, &scratch, w0 + 9000), SL_OK);
    sl_window_sum_t s;
    cr_assert_eq(sl_window_sum(&track(b, 0, SL_SLO_AVAILABILITY)->window, (int64_t)M0, 5, &s), SL_OK);
    cr_assert_eq(s.total, 11);
    sl_slo_tracker_destroy(a);
    sl_slo_tracker_destroy(b);
    sl_buf_dispose(&scratch);
    sl_persist_dispose(&p);
}

Test(slo_state, reload_hands_windows_and_counters_over)
{
    static const char v2[] = BACKENDS "  - name: batch\n"
                                      "    cascade: [{backend: llm}]\n"
                                      "    slo: {availability: 99.5%, window: 28d}\n"
                                      "  - name: chat\n"
                                      "    cascade: [{backend: llm}]\n"
                                      "    slo: {availability: 99.9%, latency: {threshold: 1s, target: 99%}, "
                                      "window: 30d}\n"
                                      "  - name: new\n"
                                      "    cascade: [{backend: llm}]\n"
                                      "    slo: {availability: 99%}\n";
    uint64_t w0 = M0 * MIN_MS;
    sl_slo_tracker_t *a = tracker(v1, 2, w0);
    traffic(a, w0, 20);
    traffic(a, w0 + 2 * MIN_MS, 30);
    /* observed after the last tick: the reload's final collection must not lose it */
    sl_slo_outcome_t late = {500, 0, 1, 0, 0};
    sl_slo_observe(a, 1, 0, &late);
    sl_slo_observe(a, 1, 1, &late);

    sl_slo_tracker_t *b = tracker(v2, 2, w0 + 2 * MIN_MS + 500);
    cr_assert_eq(sl_slo_tracker_adopt(b, a, w0 + 2 * MIN_MS + 500), SL_OK);
    sl_slo_tracker_destroy(a);

    sl_slo_verdict_t *v;
    cr_assert_eq(sl_slo_tick(b, w0 + 3 * MIN_MS, &v), SL_OK);
    const sl_slo_objective_verdict_t *chat = &v->routes[1].objectives[SL_SLO_AVAILABILITY],
                                     *lat = &v->routes[1].objectives[SL_SLO_LATENCY],
                                     *batch = &v->routes[0].objectives[SL_SLO_AVAILABILITY],
                                     *fresh = &v->routes[2].objectives[SL_SLO_AVAILABILITY];
    cr_assert_str_eq(v->routes[1].name, "chat");
    cr_assert_eq(chat->report.period.total, 51);
    cr_assert_eq(chat->report.period.good, 51 - 2 - 3 - 1);
    cr_assert_eq(chat->requests_total, 51); /* Prometheus counters continue across a reload */
    cr_assert_eq(chat->good_total, 45);
    cr_assert_str_eq(chat->reset_reason, "no state file"); /* as it was: the window is the live one */
    cr_assert_eq(lat->report.period.total, 0);
    cr_assert_str_eq(lat->reset_reason, "threshold changed from 2s to 1s");
    cr_assert_eq(lat->requests_total, 51);
    cr_assert_eq(batch->report.period.total, 51);
    cr_assert_str_eq(batch->restore_note, "window changed from 7d to 28d: 7d of history kept");
    cr_assert_str_eq(fresh->reset_reason, "new objective");
    cr_assert_eq(fresh->requests_total, 0);
    sl_slo_verdict_destroy(v);
    sl_slo_tracker_destroy(b);
}

Test(slo_state, requests_that_end_after_a_reload_are_absorbed)
{
    /* chat keeps its availability objective and changes its latency threshold; batch is removed */
    static const char v2[] = BACKENDS "  - name: chat\n"
                                      "    cascade: [{backend: llm}]\n"
                                      "    slo: {availability: 99.9%, latency: {threshold: 1s, target: 99%}, "
                                      "window: 30d}\n";
    uint64_t w0 = M0 * MIN_MS;
    sl_slo_tracker_t *a = tracker(v1, 2, w0);
    traffic(a, w0, 20); /* 2 failed of 20 on chat and batch */
    sl_slo_tracker_t *b = tracker(v2, 2, w0 + 500);
    cr_assert_eq(sl_slo_tracker_adopt(b, a, w0 + 500), SL_OK);

    /* requests pinned to the old config end after the reload: 3 good and 1 failed, on both routes */
    sl_slo_outcome_t ok = {200, 0, 1500000, 0, 0}, failed = {502, 0, 100, 0, 0};
    for (int i = 0; i != 3; ++i) {
        sl_slo_observe(a, 1, 0, &ok);
        sl_slo_observe(a, 0, 1, &ok);
    }
    sl_slo_observe(a, 0, 0, &failed);
    sl_slo_observe(a, 1, 1, &failed);
    /* and new requests under the new config */
    sl_slo_observe(b, 0, 0, &ok);

    cr_assert_eq(sl_slo_tracker_absorb(b, a, w0 + MIN_MS + 1000), SL_OK);
    cr_assert_eq(sl_slo_tracker_absorb(b, a, w0 + MIN_MS + 2000), SL_OK); /* nothing new: adds nothing */
    sl_slo_verdict_t *v;
    cr_assert_eq(sl_slo_tick(b, w0 + MIN_MS + 3000, &v), SL_OK);
    const sl_slo_objective_verdict_t *av = &v->routes[0].objectives[SL_SLO_AVAILABILITY],
                                     *lat = &v->routes[0].objectives[SL_SLO_LATENCY];
    /* availability: the 20 before, the 4 late ones (1 failed), the new one; in the window and the counters */
    cr_assert_eq(av->report.period.total, 25);
    cr_assert_eq(av->report.period.good, 25 - 2 - 1);
    cr_assert_eq(av->requests_total, 25);
    cr_assert_eq(av->good_total, 22);
    sl_window_sum_t m;
    cr_assert_eq(sl_window_minute(&track(b, 0, SL_SLO_AVAILABILITY)->window, (int64_t)M0 + 1, &m), SL_OK);
    cr_assert_eq(m.total, 5); /* absorbed and ticked counts land in the minute they were collected */
    cr_assert_eq(m.good, 4);
    /* latency: the threshold changed from 2s to 1s, so the late requests (judged against 2s: 3 good of 4) reach
     * the Prometheus counters but not the new window, which holds only the new request (1.5 s > 1 s: bad) */
    cr_assert_eq(lat->report.period.total, 1);
    cr_assert_eq(lat->report.period.good, 0);
    cr_assert_eq(lat->requests_total, 20 + 4 + 1);
    cr_assert_eq(lat->good_total, 15 + 4 + 0);
    sl_slo_verdict_destroy(v);

    /* a request that ends later still: absorbed by the next call */
    sl_slo_observe(a, 1, 0, &failed);
    cr_assert_eq(sl_slo_tracker_absorb(b, a, w0 + 2 * MIN_MS), SL_OK);
    cr_assert_eq(sl_slo_tick(b, w0 + 2 * MIN_MS, &v), SL_OK);
    cr_assert_eq(v->routes[0].objectives[SL_SLO_AVAILABILITY].report.period.total, 26);
    cr_assert_eq(v->routes[0].objectives[SL_SLO_AVAILABILITY].good_total, 22);
    cr_assert_eq(v->routes[0].objectives[SL_SLO_AVAILABILITY].requests_total, 26);
    sl_slo_verdict_destroy(v);
    cr_assert_eq(sl_slo_tracker_absorb(b, a, (uint64_t)(SL_WINDOW_MAX_MINUTE + 1) * MIN_MS), SL_EINVAL);
    sl_slo_tracker_destroy(a);
    sl_slo_tracker_destroy(b);
}

Test(slo_state, state_interval_key)
{
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_string("a.yaml", v1, strlen(v1), &conf, &errs), SL_OK);
    cr_assert_eq(conf->state_interval_ms, 10000); /* the default */
    sl_conf_release(conf);
    static const char every_minute[] = "state_interval: 1m\n" BACKENDS "  - name: chat\n    cascade: [{backend: llm}]\n";
    cr_assert_eq(sl_conf_load_string("b.yaml", every_minute, strlen(every_minute), &conf, &errs), SL_OK);
    cr_assert_eq(conf->state_interval_ms, 60000);
    sl_conf_release(conf);
    static const char too_often[] = "state_interval: 500ms\n" BACKENDS "  - name: chat\n    cascade: [{backend: llm}]\n";
    cr_assert_eq(sl_conf_load_string("c.yaml", too_often, strlen(too_often), &conf, &errs), SL_ECONFIG);
    cr_assert_eq(errs.count, 1);
    cr_assert_str_eq(errs.msgs[0], "c.yaml:1:17: state_interval: must be between 1s and 1h, got 500ms");
    sl_conf_errors_dispose(&errs);
}
