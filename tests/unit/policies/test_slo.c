/*
 * test_slo.c - the SLO policy (policies/slo.c, slo_render.c): exact per-request classification, shard layout,
 * aggregation of several shards (also while workers write), no data, alerts on crafted traces at the expected
 * tick, clock steps, self-contained verdicts, and the exact metrics and JSON they render.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "policies/slo.h"
#include "stats/slo.h"
#include "stats/window.h"

#define MIN_MS 60000ull
#define M0 ((uint64_t)29000000) /* a wall-clock minute in 2025 */

static const char yaml[] = "backends:\n"
                           "  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                           "routes:\n"
                           "  - name: chat\n"
                           "    cascade: [{backend: llm}]\n"
                           "    slo: {availability: 99.9%, latency: {threshold: 2s, target: 99%},\n"
                           "          ttft: {threshold: 300ms, target: 95%}, window: 30d}\n"
                           "  - name: plain\n"
                           "    cascade: [{backend: llm}]\n"
                           "  - name: batch\n"
                           "    cascade: [{backend: llm}]\n"
                           "    slo: {availability: 99.5%, window: 7d}\n";

static sl_conf_t *load(const char *text)
{
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_string("slo.yaml", text, strlen(text), &conf, &errs), SL_OK, "%s",
                 errs.count != 0 ? errs.msgs[0] : "");
    sl_conf_errors_dispose(&errs);
    return conf;
}

static sl_slo_tracker_t *tracker(const char *text, uint32_t workers, uint64_t wall_ms)
{
    sl_conf_t *conf = load(text);
    sl_slo_tracker_t *t = NULL;
    cr_assert_eq(sl_slo_tracker_create(conf, workers, wall_ms, &t), SL_OK);
    sl_conf_release(conf); /* the tracker keeps nothing of the config */
    return t;
}

static sl_slo_outcome_t outcome(uint32_t status, int shed, uint64_t latency_us, int has_ttft, uint64_t ttft_us)
{
    sl_slo_outcome_t o = {status, shed, latency_us, has_ttft, ttft_us};
    return o;
}

#define A (1u << SL_SLO_AVAILABILITY)
#define L (1u << SL_SLO_LATENCY)
#define T (1u << SL_SLO_TTFT)

Test(slo, classification_is_exact_per_request)
{
    sl_slo_tracker_t *t = tracker(yaml, 1, M0 * MIN_MS);
    const sl_slo_route_t *chat = &t->routes[0], *plain = &t->routes[1], *batch = &t->routes[2];
    cr_assert_eq(chat->enabled, A | L | T);
    cr_assert_eq(chat->threshold_us[SL_SLO_LATENCY], 2000000);
    cr_assert_eq(chat->threshold_us[SL_SLO_TTFT], 300000);
    cr_assert_eq(plain->enabled, 0);
    cr_assert_eq(batch->enabled, A);
    static const struct {
        sl_slo_outcome_t o;
        uint8_t counted, good;
    } cases[] = {
        {{200, 0, 1500000, 0, 0}, A | L, A | L},
        {{200, 0, 2000000, 0, 0}, A | L, A | L}, /* at the threshold: good */
        {{200, 0, 2000001, 0, 0}, A | L, A},     /* one microsecond over: bad */
        {{499, 0, 10, 0, 0}, A | L, A | L},      /* a client's own error is good for availability */
        {{400, 0, 10, 0, 0}, A | L, A | L},
        {{429, 0, 10, 0, 0}, A | L, A | L}, /* an upstream 429 passed through: counted by status */
        {{429, 1, 10, 0, 0}, A, 0},         /* shed by sluice: bad, and no latency to judge */
        {{503, 1, 10, 0, 0}, A, 0},
        {{500, 0, 10, 0, 0}, A | L, L},      /* a 5xx is bad for availability, fast is still fast */
        {{502, 0, 3000000, 0, 0}, A | L, 0}, /* a gateway error after 3 s: bad twice */
        {{504, 0, 2000000, 1, 100}, A | L | T, L | T},
        {{200, 0, 900000, 1, 300000}, A | L | T, A | L | T}, /* TTFT at the threshold */
        {{200, 0, 900000, 1, 300001}, A | L | T, A | L},
        {{200, 0, 5000000, 1, 0}, A | L | T, A | T},
        {{429, 1, 0, 1, 10}, A, 0}, /* a shed stream never sent a token of ours */
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        sl_slo_class_t c = sl_slo_classify(chat, &cases[i].o);
        cr_expect_eq(c.counted, cases[i].counted, "case %zu: counted %#x", i, c.counted);
        cr_expect_eq(c.good, cases[i].good, "case %zu: good %#x", i, c.good);
        /* a route with availability only counts nothing else */
        sl_slo_class_t b = sl_slo_classify(batch, &cases[i].o);
        cr_expect_eq(b.counted, cases[i].counted & A, "case %zu", i);
        cr_expect_eq(b.good, cases[i].good & A, "case %zu", i);
        sl_slo_class_t p = sl_slo_classify(plain, &cases[i].o);
        cr_expect_eq(p.counted | p.good, 0, "case %zu", i);
    }
    sl_slo_tracker_destroy(t);
}

Test(slo, shards_are_cache_line_aligned_and_disjoint)
{
    sl_slo_tracker_t *t = tracker(yaml, 5, M0 * MIN_MS);
    cr_assert_eq((uintptr_t)t->cells % 64, 0);
    cr_assert_eq(t->stride * sizeof(sl_slo_cell_t) % 64, 0);
    cr_assert_geq(t->stride, t->num_routes * SL_SLO_NUM_OBJECTIVES);
    cr_assert_eq(t->stride, 12); /* 3 routes x 3 objectives = 9 cells, rounded up to 3 lines of 4 */
    for (uint32_t w = 0; w + 1 < 5; ++w)
        cr_assert_eq((uintptr_t)sl_slo_shard(t, w + 1) - (uintptr_t)sl_slo_shard(t, w), 192);
    sl_slo_tracker_destroy(t);
}

Test(slo, tick_sums_every_shard)
{
    uint64_t wall = M0 * MIN_MS + 5000;
    sl_slo_tracker_t *t = tracker(yaml, 3, wall);
    sl_slo_outcome_t good = outcome(200, 0, 1000, 1, 1000), slow = outcome(200, 0, 2500000, 1, 400000),
                     err = outcome(503, 0, 1000, 0, 0), shed = outcome(429, 1, 10, 0, 0);
    for (int i = 0; i != 10; ++i)
        sl_slo_observe(t, 0, 0, &good);
    for (int i = 0; i != 4; ++i)
        sl_slo_observe(t, 1, 0, &slow);
    sl_slo_observe(t, 2, 0, &err);
    sl_slo_observe(t, 2, 0, &shed);
    sl_slo_observe(t, 1, 1, &err); /* route without SLO: nothing */
    sl_slo_observe(t, 2, 2, &err);
    sl_slo_observe(t, 0, 2, &good);

    sl_slo_verdict_t *v = NULL;
    cr_assert_eq(sl_slo_tick(t, wall + 1000, &v), SL_OK);
    cr_assert_eq(v->tick, 1);
    cr_assert_eq(v->minute, (int64_t)M0);
    cr_assert_eq(v->num_routes, 3);
    const sl_slo_route_verdict_t *chat = &v->routes[0];
    cr_assert_str_eq(chat->name, "chat");
    const sl_slo_objective_verdict_t *a = &chat->objectives[SL_SLO_AVAILABILITY], *l = &chat->objectives[SL_SLO_LATENCY],
                                     *f = &chat->objectives[SL_SLO_TTFT];
    cr_assert_eq(a->requests_total, 16);
    cr_assert_eq(a->good_total, 14);
    cr_assert_eq(a->report.period.total, 16);
    cr_assert_eq(a->report.period.good, 14);
    cr_assert_eq(l->requests_total, 15); /* the shed request has no latency to judge */
    cr_assert_eq(l->good_total, 11);
    cr_assert_eq(f->requests_total, 14); /* the 503 sent no token */
    cr_assert_eq(f->good_total, 10);
    cr_assert_eq(a->target_ppb, 999000000u);
    cr_assert_eq(a->period_min, 43200);
    cr_assert_eq(l->threshold_us, 2000000);
    cr_assert_eq(a->restored, 0);
    cr_assert_str_eq(a->reset_reason, "no state file");
    cr_assert_eq(v->routes[1].objectives[0].enabled, 0);
    cr_assert_eq(v->routes[2].objectives[SL_SLO_AVAILABILITY].requests_total, 2);
    cr_assert_eq(v->routes[2].objectives[SL_SLO_AVAILABILITY].good_total, 1);
    cr_assert_eq(v->routes[2].objectives[SL_SLO_LATENCY].enabled, 0);
    /* budget: 2 bad of 16 against 0.1% allowed: 1 - 2 / 0.016 = -124 */
    cr_assert_eq(a->report.budget_remaining.has_data, 1);
    cr_assert_float_eq(a->report.budget_remaining.value, -124.0, 1e-9);
    cr_assert_float_eq(a->report.burn_rate[SL_SLO_W5M].value, 125.0, 1e-9);
    cr_assert_eq(a->thresholds[SL_SLO_PAGE_1H], 14.4);
    cr_assert_eq(a->coverage_min, 1);
    sl_slo_verdict_destroy(v);

    /* the next tick adds only what is new, to the minute of that tick */
    for (int i = 0; i != 3; ++i)
        sl_slo_observe(t, 2, 0, &good);
    cr_assert_eq(sl_slo_tick(t, wall + MIN_MS, &v), SL_OK);
    a = &v->routes[0].objectives[SL_SLO_AVAILABILITY];
    cr_assert_eq(a->requests_total, 19);
    cr_assert_eq(a->report.sums[SL_SLO_W5M].total, 19);
    sl_window_sum_t m;
    cr_assert_eq(sl_window_minute(&t->tracks[0].window, (int64_t)M0, &m), SL_OK);
    cr_assert_eq(m.total, 16);
    cr_assert_eq(sl_window_minute(&t->tracks[0].window, (int64_t)M0 + 1, &m), SL_OK);
    cr_assert_eq(m.total, 3);
    cr_assert_eq(m.good, 3);
    sl_slo_verdict_destroy(v);
    sl_slo_tracker_destroy(t);
}

typedef struct st_writer_t {
    sl_slo_tracker_t *t;
    uint32_t w;
} writer_t;

static void *write_many(void *arg)
{
    writer_t *wr = arg;
    for (uint32_t i = 0; i != 200000; ++i) {
        sl_slo_outcome_t o = outcome(i % 100 == 0 ? 502 : 200, 0, i % 7 == 0 ? 3000000 : 1000, 0, 0);
        sl_slo_observe(wr->t, wr->w, 0, &o);
    }
    return NULL;
}

Test(slo, ticks_while_workers_write_lose_nothing)
{
    uint64_t wall = M0 * MIN_MS;
    sl_slo_tracker_t *t = tracker(yaml, 4, wall);
    pthread_t th[4];
    writer_t wr[4];
    for (uint32_t w = 0; w != 4; ++w) {
        wr[w] = (writer_t){t, w};
        cr_assert_eq(pthread_create(&th[w], NULL, write_many, &wr[w]), 0);
    }
    uint64_t prev = 0;
    for (int k = 0; k != 200; ++k) {
        sl_slo_verdict_t *v;
        cr_assert_eq(sl_slo_tick(t, wall + (uint64_t)k * 1000, &v), SL_OK);
        const sl_slo_objective_verdict_t *a = &v->routes[0].objectives[SL_SLO_AVAILABILITY];
        cr_assert_geq(a->requests_total, prev); /* counters never go back */
        cr_assert_leq(a->good_total, a->requests_total);
        prev = a->requests_total;
        sl_slo_verdict_destroy(v);
    }
    for (int w = 0; w != 4; ++w)
        pthread_join(th[w], NULL);
    sl_slo_verdict_t *v;
    cr_assert_eq(sl_slo_tick(t, wall + 300000, &v), SL_OK);
    const sl_slo_objective_verdict_t *a = &v->routes[0].objectives[SL_SLO_AVAILABILITY],
                                     *l = &v->routes[0].objectives[SL_SLO_LATENCY];
    cr_assert_eq(a->requests_total, 800000);
    cr_assert_eq(a->good_total, 800000 - 4 * 2000);         /* i % 100 == 0: 2000 per worker */
    cr_assert_eq(l->good_total, 800000 - 4 * 28572);        /* i % 7 == 0: 28572 per worker */
    cr_assert_eq(a->report.sums[SL_SLO_W1H].total, 800000); /* all of it in the windows, over several minutes */
    cr_assert_eq(a->report.sums[SL_SLO_W1H].good, 792000);
    sl_slo_verdict_destroy(v);
    sl_slo_tracker_destroy(t);
}

Test(slo, no_traffic_is_no_data)
{
    sl_slo_tracker_t *t = tracker(yaml, 2, M0 * MIN_MS);
    sl_slo_verdict_t *v;
    cr_assert_eq(sl_slo_tick(t, (M0 + 90) * MIN_MS, &v), SL_OK);
    for (int o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o) {
        const sl_slo_objective_verdict_t *ov = &v->routes[0].objectives[o];
        cr_assert_eq(ov->enabled, 1);
        cr_assert_eq(ov->report.budget_remaining.has_data, 0);
        cr_assert_eq(ov->report.budget_remaining.value, 0.0);
        for (int w = 0; w != SL_SLO_NUM_WINDOWS; ++w) {
            cr_assert_eq(ov->report.burn_rate[w].has_data, 0);
            cr_assert(isfinite(ov->report.burn_rate[w].value));
        }
        cr_assert_eq(ov->report.page, 0);
        cr_assert_eq(ov->report.ticket, 0);
        cr_assert_eq(ov->report.allowed_bad, 0.0);
        cr_assert_eq(ov->coverage_min, 91);
    }
    cr_assert_eq(sl_slo_verdict_fast_burn(v, 0), 0);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_slo_render_metrics(v, &b), SL_OK);
    cr_assert_null(strstr(b.data, "sluice_slo_budget_remaining{"));
    cr_assert_null(strstr(b.data, "sluice_slo_burn_rate{"));
    cr_assert_null(strstr(b.data, "NaN"));
    cr_assert_not_null(strstr(b.data, "sluice_slo_requests_total{route=\"chat\",objective=\"ttft\"} 0\n"));
    sl_buf_dispose(&b);
    sl_slo_verdict_destroy(v);
    sl_slo_tracker_destroy(t);
}

/* A crafted trace on route chat's availability (99.9% over 30 days; page 14.4x over 1h and 5m, 6x over 6h and
 * 30m; ticket 3x over 1d and 2h, 1x over 3d and 6h): 1000 requests a minute, 120 healthy minutes, then 3% errors.
 * With T incident minutes so far (all data younger than the windows but 5m, 30m, 1h, 2h):
 *   ticket_3d: 3d ratio 30T / (1000 (120 + T)) > 0.001 and the same for 6h  <=> T >= 5   -> minute 124
 *   ticket_1d: 30T / (1000 (120 + T)) > 0.003 (T >= 14), 2h 30T / 120000 > 0.003 (T >= 13) -> minute 133
 *   page_1h:   1h 30T / 60000 > 0.0144 (T >= 29), 5m (T >= 3)                          -> minute 148
 *   page_6h:   30T / (1000 (120 + T)) > 0.006 (T >= 31), 30m (T >= 7)                    -> minute 150 */
#define INCIDENT 120
#define TRACE_MIN 200

static void trace_minute(int i, uint64_t *total, uint64_t *bad)
{
    *total = 1000;
    *bad = i >= INCIDENT ? 30 : 0;
}

Test(slo, the_math_of_the_crafted_trace)
{
    sl_slo_t s;
    cr_assert_eq(sl_slo_init(&s, 0.999, 43200), SL_OK);
    sl_window_sum_t trace[TRACE_MIN];
    for (int i = 0; i != TRACE_MIN; ++i) {
        uint64_t n, b;
        trace_minute(i, &n, &b);
        trace[i] = (sl_window_sum_t){n - b, n};
    }
    sl_slo_first_t f;
    cr_assert_eq(sl_slo_first_alerts(&s, trace, TRACE_MIN, (int64_t)M0, &f), SL_OK);
    cr_assert_eq(f.rule[SL_SLO_TICKET_3D], (int64_t)M0 + INCIDENT + 4);
    cr_assert_eq(f.rule[SL_SLO_TICKET_1D], (int64_t)M0 + INCIDENT + 13);
    cr_assert_eq(f.rule[SL_SLO_PAGE_1H], (int64_t)M0 + INCIDENT + 28);
    cr_assert_eq(f.rule[SL_SLO_PAGE_6H], (int64_t)M0 + INCIDENT + 30);
    cr_assert_eq(f.page, (int64_t)M0 + INCIDENT + 28);
    cr_assert_eq(f.ticket, (int64_t)M0 + INCIDENT + 4);
}

/* Feeds the trace through shards, `chunks` slices per minute, one tick after each slice (ticks every 60 / chunks
 * seconds, the first at the minute's start). Returns the first tick time (ms) at which page and ticket fired. */
static void replay(int chunks, uint64_t *page_ms, uint64_t *ticket_ms, uint64_t *rule_ms)
{
    uint64_t start = M0 * MIN_MS;
    sl_slo_tracker_t *t = tracker(yaml, 2, start);
    sl_slo_outcome_t ok = outcome(200, 0, 1000, 0, 0), fail = outcome(502, 0, 1000, 0, 0);
    *page_ms = *ticket_ms = 0;
    for (int r = 0; r != SL_SLO_NUM_RULES; ++r)
        rule_ms[r] = 0;
    for (int i = 0; i != TRACE_MIN; ++i) {
        uint64_t total, bad;
        trace_minute(i, &total, &bad);
        for (int c = 0; c != chunks; ++c) {
            /* slice c gets its share of the minute's requests and of its errors, spread over two workers */
            uint64_t n = total * (uint64_t)(c + 1) / (uint64_t)chunks - total * (uint64_t)c / (uint64_t)chunks;
            uint64_t nb = bad * (uint64_t)(c + 1) / (uint64_t)chunks - bad * (uint64_t)c / (uint64_t)chunks;
            for (uint64_t k = 0; k != n; ++k)
                sl_slo_observe(t, (uint32_t)(k % 2), 0, k < nb ? &fail : &ok);
            uint64_t now = start + (uint64_t)i * MIN_MS + (uint64_t)c * (MIN_MS / (uint64_t)chunks);
            sl_slo_verdict_t *v;
            cr_assert_eq(sl_slo_tick(t, now, &v), SL_OK);
            const sl_slo_report_t *rep = &v->routes[0].objectives[SL_SLO_AVAILABILITY].report;
            if (rep->page && *page_ms == 0)
                *page_ms = now;
            if (rep->ticket && *ticket_ms == 0)
                *ticket_ms = now;
            for (int r = 0; r != SL_SLO_NUM_RULES; ++r)
                if (rep->rule_firing[r] && rule_ms[r] == 0)
                    rule_ms[r] = now;
            cr_assert_eq(sl_slo_verdict_fast_burn(v, 0), rep->page);
            sl_slo_verdict_destroy(v);
        }
    }
    sl_slo_tracker_destroy(t);
}

Test(slo, alerts_fire_at_the_tick_the_math_implies)
{
    /* each minute's traffic arrives before the first tick of the minute: every tick sees whole minutes, so the
     * alerts fire exactly at the first tick of the minute the math names, and not one tick before */
    uint64_t page, ticket, rule[SL_SLO_NUM_RULES];
    replay(1, &page, &ticket, rule);
    uint64_t start = M0 * MIN_MS;
    cr_assert_eq(page, start + (INCIDENT + 28) * MIN_MS);
    cr_assert_eq(ticket, start + (INCIDENT + 4) * MIN_MS);
    cr_assert_eq(rule[SL_SLO_TICKET_1D], start + (INCIDENT + 13) * MIN_MS);
    cr_assert_eq(rule[SL_SLO_PAGE_6H], start + (INCIDENT + 30) * MIN_MS);
}

Test(slo, alerts_fire_within_the_minute_when_traffic_is_spread)
{
    /* six ticks a minute, each after a sixth of the minute's traffic. page_1h at minute 148 needs bad > 0.0144 of
     * the hour: with k sixths of minute 148 in, (28 x 30 + 5k) / (59000 + 1000k / 6) crosses 0.0144 at k = 4,
     * the tick 30 s into the minute (k = 3 gives 855 / 59500 = 0.01437). Never in an earlier minute, never later
     * than that minute's last tick. */
    uint64_t page, ticket, rule[SL_SLO_NUM_RULES];
    replay(6, &page, &ticket, rule);
    uint64_t start = M0 * MIN_MS;
    cr_assert_eq(page, start + (INCIDENT + 28) * MIN_MS + 30000);
    cr_assert_geq(ticket, start + (INCIDENT + 4) * MIN_MS);
    cr_assert_lt(ticket, start + (INCIDENT + 5) * MIN_MS);
    cr_assert_geq(rule[SL_SLO_TICKET_1D], start + (INCIDENT + 13) * MIN_MS);
    cr_assert_lt(rule[SL_SLO_TICKET_1D], start + (INCIDENT + 14) * MIN_MS);
}

Test(slo, clock_steps_and_bounds)
{
    uint64_t wall = (M0 + 10) * MIN_MS;
    sl_slo_tracker_t *t = tracker(yaml, 1, wall);
    sl_slo_outcome_t ok = outcome(200, 0, 1, 0, 0);
    sl_slo_observe(t, 0, 0, &ok);
    cr_assert_eq(sl_slo_tick(t, wall, NULL), SL_OK);
    /* the wall clock steps back five minutes: the count goes to the newest minute, nothing is lost */
    sl_slo_observe(t, 0, 0, &ok);
    sl_slo_verdict_t *v;
    cr_assert_eq(sl_slo_tick(t, wall - 5 * MIN_MS, &v), SL_OK);
    cr_assert_eq(v->routes[0].objectives[0].report.sums[SL_SLO_W5M].total, 2);
    cr_assert_eq(t->tracks[0].window.clamped, 1);
    cr_assert_eq(t->tracks[0].window.head_min, (int64_t)M0 + 10);
    sl_slo_verdict_destroy(v);
    /* beyond the windows' range */
    cr_assert_eq(sl_slo_tick(t, (((uint64_t)1 << 40) + 1) * MIN_MS, &v), SL_EINVAL);
    sl_slo_tracker_destroy(t);

    sl_conf_t *conf = load(yaml);
    sl_slo_tracker_t *none = (sl_slo_tracker_t *)&conf;
    cr_assert_eq(sl_slo_tracker_create(conf, 0, wall, &none), SL_EINVAL);
    cr_assert_eq(sl_slo_tracker_create(conf, 1025, wall, &none), SL_EINVAL);
    cr_assert_eq(none, (sl_slo_tracker_t *)&conf); /* untouched */
    sl_conf_release(conf);
}

Test(slo, verdicts_outlive_their_tracker)
{
    sl_slo_tracker_t *t = tracker(yaml, 1, M0 * MIN_MS);
    sl_slo_outcome_t bad = outcome(500, 0, 1, 0, 0);
    for (int i = 0; i != 50; ++i)
        sl_slo_observe(t, 0, 0, &bad);
    sl_slo_verdict_t *v;
    cr_assert_eq(sl_slo_tick(t, M0 * MIN_MS + 1, &v), SL_OK);
    sl_slo_tracker_destroy(t);
    cr_assert_str_eq(v->routes[0].name, "chat");
    cr_assert_eq(v->routes[0].objectives[0].requests_total, 50);
    cr_assert_eq(v->routes[0].page, 1); /* 100% errors: both windows far above 14.4x */
    cr_assert_eq(sl_slo_verdict_fast_burn(v, 0), 1);
    cr_assert_eq(sl_slo_verdict_fast_burn(v, 3), 0);
    cr_assert_eq(sl_slo_verdict_fast_burn(NULL, 0), 0);
    sl_slo_verdict_destroy(v);
    sl_slo_verdict_destroy(NULL);
    sl_slo_tracker_destroy(NULL);
}

Test(slo, metrics_are_rendered_exactly)
{
    const char *one = "backends:\n"
                      "  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                      "routes:\n"
                      "  - name: chat\n"
                      "    cascade: [{backend: llm}]\n"
                      "    slo: {availability: 99.5%, latency: {threshold: 1s, target: 90%}, window: 1d}\n";
    sl_slo_tracker_t *t = tracker(one, 1, M0 * MIN_MS);
    sl_slo_outcome_t ok = outcome(200, 0, 10, 0, 0), slow = outcome(200, 0, 1000001, 0, 0), err = outcome(500, 0, 10, 0, 0);
    for (int i = 0; i != 197; ++i)
        sl_slo_observe(t, 0, 0, &ok);
    sl_slo_observe(t, 0, 0, &slow);
    sl_slo_observe(t, 0, 0, &err);
    sl_slo_observe(t, 0, 0, &err);
    sl_slo_verdict_t *v;
    cr_assert_eq(sl_slo_tick(t, M0 * MIN_MS, &v), SL_OK);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_buf_append(&b, "x", 1), SL_OK);
    cr_assert_eq(sl_slo_render_metrics(v, &b), SL_OK);
    const char *want =
        "x"
        "# HELP sluice_slo_requests_total Requests counted by an SLO objective since the process started.\n"
        "# TYPE sluice_slo_requests_total counter\n"
        "sluice_slo_requests_total{route=\"chat\",objective=\"availability\"} 200\n"
        "sluice_slo_requests_total{route=\"chat\",objective=\"latency\"} 200\n"
        "# HELP sluice_slo_good_total Requests that met an SLO objective since the process started.\n"
        "# TYPE sluice_slo_good_total counter\n"
        "sluice_slo_good_total{route=\"chat\",objective=\"availability\"} 198\n"
        "sluice_slo_good_total{route=\"chat\",objective=\"latency\"} 199\n"
        "# HELP sluice_slo_objective Target share of good requests of an SLO objective.\n"
        "# TYPE sluice_slo_objective gauge\n"
        "sluice_slo_objective{route=\"chat\",objective=\"availability\"} 0.995\n"
        "sluice_slo_objective{route=\"chat\",objective=\"latency\"} 0.9\n"
        "# HELP sluice_slo_budget_remaining Share of the error budget left over the SLO window (1 untouched, 0 "
        "spent, negative overspent).\n"
        "# TYPE sluice_slo_budget_remaining gauge\n"
        "sluice_slo_budget_remaining{route=\"chat\",objective=\"availability\"} -1\n"
        "sluice_slo_budget_remaining{route=\"chat\",objective=\"latency\"} 0.94999999999999996\n"
        "# HELP sluice_slo_burn_rate Error rate over a trailing window divided by the error budget (1 spends it in "
        "one SLO window).\n"
        "# TYPE sluice_slo_burn_rate gauge\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"availability\",window=\"5m\"} 2\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"availability\",window=\"30m\"} 2\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"availability\",window=\"1h\"} 2\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"availability\",window=\"2h\"} 2\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"availability\",window=\"6h\"} 2\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"availability\",window=\"1d\"} 2\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"availability\",window=\"3d\"} 2\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"latency\",window=\"5m\"} 0.050000000000000003\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"latency\",window=\"30m\"} 0.050000000000000003\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"latency\",window=\"1h\"} 0.050000000000000003\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"latency\",window=\"2h\"} 0.050000000000000003\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"latency\",window=\"6h\"} 0.050000000000000003\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"latency\",window=\"1d\"} 0.050000000000000003\n"
        "sluice_slo_burn_rate{route=\"chat\",objective=\"latency\",window=\"3d\"} 0.050000000000000003\n"
        "# HELP sluice_slo_alert 1 while a multi-window multi-burn-rate alert of the objective fires, else 0.\n"
        "# TYPE sluice_slo_alert gauge\n"
        "sluice_slo_alert{route=\"chat\",objective=\"availability\",severity=\"page\"} 1\n"
        "sluice_slo_alert{route=\"chat\",objective=\"availability\",severity=\"ticket\"} 1\n"
        "sluice_slo_alert{route=\"chat\",objective=\"latency\",severity=\"page\"} 0\n"
        "sluice_slo_alert{route=\"chat\",objective=\"latency\",severity=\"ticket\"} 1\n";
    /* over a 1-day window the thresholds are small: page 0.48x over 1h, ticket 0.1x over 1d and 0.0333x over 3d;
     * availability burns 2x everywhere (page and ticket), latency 0.05x (ticket by the 3d rule only) */
    cr_assert_str_eq(b.data, want);

    /* a cap too small to hold it all leaves the buffer as it was */
    sl_buf_t small;
    sl_buf_init(&small, 300);
    cr_assert_eq(sl_buf_append(&small, "keep", 4), SL_OK);
    cr_assert_eq(sl_slo_render_metrics(v, &small), SL_ENOMEM);
    cr_assert_eq(small.len, 4);
    cr_assert_eq(sl_slo_render_json(v, &small), SL_ENOMEM);
    cr_assert_eq(small.len, 4);
    sl_buf_dispose(&small);
    sl_buf_dispose(&b);
    sl_slo_verdict_destroy(v);
    sl_slo_tracker_destroy(t);
}

Test(slo, json_for_admin_state)
{
    const char *one = "backends:\n"
                      "  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                      "routes:\n"
                      "  - name: idle\n"
                      "    cascade: [{backend: llm}]\n"
                      "  - name: chat\n"
                      "    cascade: [{backend: llm}]\n"
                      "    slo: {ttft: {threshold: 250ms, target: 99%}, window: 1h}\n";
    sl_slo_tracker_t *t = tracker(one, 1, M0 * MIN_MS);
    sl_slo_verdict_t *v;
    cr_assert_eq(sl_slo_tick(t, M0 * MIN_MS + 7, &v), SL_OK);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_slo_render_json(v, &b), SL_OK);
    const char *want =
        "{\"tick\":1,\"wall_ms\":1740000000007,\"minute\":29000000,\"routes\":[{\"route\":\"chat\",\"page\":false,"
        "\"ticket\":false,\"objectives\":{\"ttft\":{\"target\":0.99,\"window_minutes\":60,\"threshold_us\":250000,"
        "\"requests_total\":0,\"good_total\":0,\"coverage_minutes\":1,\"window\":{\"good\":0,\"total\":0},"
        "\"allowed_bad\":0,\"budget_remaining\":null,\"burn_rates\":{\"5m\":null,\"30m\":null,\"1h\":null,\"2h\":null,"
        "\"6h\":null,\"1d\":null,\"3d\":null},\"rules\":{\"page_1h\":{\"firing\":false,\"threshold\":0.02},"
        "\"page_6h\":{\"firing\":false,\"threshold\":0.0083333333333333332},\"ticket_1d\":{\"firing\":false,"
        "\"threshold\":0.0041666666666666666},\"ticket_3d\":{\"firing\":false,\"threshold\":0.0013888888888888889}},"
        "\"page\":false,\"ticket\":false,\"restored\":false,\"reset_reason\":\"no state file\",\"restore_note\":null}}}]}";
    cr_assert_str_eq(b.data, want);
    sl_buf_dispose(&b);
    sl_slo_verdict_destroy(v);
    sl_slo_tracker_destroy(t);
}
