/*
 * Tests for stats/slo.c with hand-computed values: thresholds for 30 and 28 days, budgets, burn rates, the exact
 * "strictly above" boundary, and first firing minutes on crafted traces.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "stats/slo.h"
#include "stats/window.h"

#define T0 ((int64_t)29000000)
#define DAY 1440u

static sl_window_sum_t sum(uint64_t good, uint64_t total)
{
    sl_window_sum_t s = {good, total};
    return s;
}

Test(slo, init_validates_and_rounds_to_ppb)
{
    sl_slo_t s;
    memset(&s, 0x77, sizeof(s));
    cr_assert_eq(sl_slo_init(&s, 1.0, 30 * DAY), SL_EINVAL);
    cr_assert_eq(sl_slo_init(&s, 0.0, 30 * DAY), SL_EINVAL);
    cr_assert_eq(sl_slo_init(&s, NAN, 30 * DAY), SL_EINVAL);
    cr_assert_eq(sl_slo_init(&s, -0.5, 30 * DAY), SL_EINVAL);
    cr_assert_eq(sl_slo_init(&s, 0.9999999999, 30 * DAY), SL_EINVAL); /* rounds to 10^9 ppb: no budget left */
    cr_assert_eq(sl_slo_init(&s, 0.999, 0), SL_EINVAL);
    cr_assert_eq(sl_slo_init(&s, 0.999, SL_WINDOW_MAX_MINUTES + 1), SL_EINVAL);
    cr_assert_eq(s.period_min, 0x77777777u); /* untouched */
    cr_assert_eq(sl_slo_init(&s, 0.999, 30 * DAY), SL_OK);
    cr_assert_eq(s.target_ppb, 999000000u);
    cr_assert_eq(s.budget_ppb, 1000000u);
    cr_assert_eq(sl_slo_init(&s, 0.99999, 28 * DAY), SL_OK);
    cr_assert_eq(s.target_ppb, 999990000u);
    cr_assert_eq(sl_slo_init_ppb(&s, 0, DAY), SL_EINVAL);
    cr_assert_eq(sl_slo_init_ppb(&s, SL_SLO_PPB, DAY), SL_EINVAL);
    cr_assert_eq(sl_slo_init_ppb(&s, 1, DAY), SL_OK);
    cr_assert_eq(sl_slo_window_capacity_min(&s), 4320u); /* at least three days for the 3d rule */
    cr_assert_eq(sl_slo_init_ppb(&s, 1, 90 * DAY), SL_OK);
    cr_assert_eq(sl_slo_window_capacity_min(&s), 129600u);
}

Test(slo, thresholds_are_exact_for_30_and_28_days)
{
    sl_slo_t s;
    cr_assert_eq(sl_slo_init(&s, 0.999, 30 * DAY), SL_OK);
    cr_assert_eq(sl_slo_threshold(&s, SL_SLO_PAGE_1H), 14.4);
    cr_assert_eq(sl_slo_threshold(&s, SL_SLO_PAGE_6H), 6.0);
    cr_assert_eq(sl_slo_threshold(&s, SL_SLO_TICKET_1D), 3.0);
    cr_assert_eq(sl_slo_threshold(&s, SL_SLO_TICKET_3D), 1.0);
    cr_assert_eq(sl_slo_init(&s, 0.999, 28 * DAY), SL_OK);
    cr_assert_eq(sl_slo_threshold(&s, SL_SLO_PAGE_1H), 13.44);
    cr_assert_eq(sl_slo_threshold(&s, SL_SLO_PAGE_6H), 5.6);
    cr_assert_eq(sl_slo_threshold(&s, SL_SLO_TICKET_1D), 2.8);
    cr_assert_eq(sl_slo_threshold(&s, SL_SLO_TICKET_3D), 14.0 / 15.0);
    cr_assert_eq(sl_slo_init(&s, 0.999, 7 * DAY), SL_OK);
    cr_assert_eq(sl_slo_threshold(&s, SL_SLO_PAGE_1H), 3.36);
}

Test(slo, budget_and_burn_rate)
{
    sl_slo_t s;
    cr_assert_eq(sl_slo_init(&s, 0.999, 30 * DAY), SL_OK);
    double v = -42;
    cr_assert_eq(sl_slo_allowed_bad(&s, 1000000), 1000.0);
    cr_assert_eq(sl_slo_allowed_bad(&s, 0), 0.0);
    cr_assert_eq(sl_slo_budget_remaining(&s, sum(1000000 - 500, 1000000), &v), SL_OK);
    cr_assert_eq(v, 0.5);
    cr_assert_eq(sl_slo_budget_remaining(&s, sum(1000000, 1000000), &v), SL_OK);
    cr_assert_eq(v, 1.0);
    cr_assert_eq(sl_slo_budget_remaining(&s, sum(1000000 - 1000, 1000000), &v), SL_OK);
    cr_assert_eq(v, 0.0);
    cr_assert_eq(sl_slo_budget_remaining(&s, sum(1000000 - 3000, 1000000), &v), SL_OK);
    cr_assert_eq(v, -2.0);
    cr_assert_eq(sl_slo_budget_remaining(&s, sum(0, 7), &v), SL_OK); /* everything failed */
    cr_assert_eq(v, -999.0);
    v = -42;
    cr_assert_eq(sl_slo_budget_remaining(&s, sum(0, 0), &v), SL_ENOENT); /* no data */
    cr_assert_eq(sl_slo_budget_remaining(&s, sum(5, 4), &v), SL_EINVAL);
    cr_assert_eq(v, -42); /* untouched */

    cr_assert_eq(sl_slo_burn_rate(&s, sum(990, 1000), &v), SL_OK);
    cr_assert_eq(v, 10.0);
    cr_assert_eq(sl_slo_burn_rate(&s, sum(1000, 1000), &v), SL_OK);
    cr_assert_eq(v, 0.0);
    cr_assert_eq(sl_slo_burn_rate(&s, sum(0, 3), &v), SL_OK);
    cr_assert_eq(v, 1000.0);
    v = -42;
    cr_assert_eq(sl_slo_burn_rate(&s, sum(0, 0), &v), SL_ENOENT);
    cr_assert_eq(sl_slo_burn_rate(&s, sum(2, 1), &v), SL_EINVAL);
    cr_assert_eq(v, -42);
}

Test(slo, huge_counts_stay_exact)
{
    sl_slo_t s;
    cr_assert_eq(sl_slo_init(&s, 0.999, 30 * DAY), SL_OK);
    /* 3 days at 1e12 a minute with exactly 0.1% bad: burn rate exactly 1, on the ticket_3d threshold, not above */
    uint64_t total = 1000000000000ull * 4320, bad = total / 1000;
    double v;
    cr_assert_eq(sl_slo_burn_rate(&s, sum(total - bad, total), &v), SL_OK);
    cr_assert_eq(v, 1.0);
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_TICKET_3D, sum(total - bad, total)), 0);
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_TICKET_3D, sum(total - bad - 1, total)), 1);
    /* one request past the threshold out of 10^19: the burn rate 1 + 10^-16 rounds to 1.0 in a double, and only
     * the integer comparison sees it above */
    uint64_t t19 = 10000000000000000000ull, b16 = 10000000000000000ull;
    cr_assert_eq(sl_slo_burn_rate(&s, sum(t19 - b16 - 1, t19), &v), SL_OK);
    cr_assert_eq(v, 1.0);
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_TICKET_3D, sum(t19 - b16, t19)), 0);
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_TICKET_3D, sum(t19 - b16 - 1, t19)), 1);
    /* the largest counts still compare exactly */
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_TICKET_3D, sum(0, UINT64_MAX)), 1);
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_TICKET_3D, sum(UINT64_MAX, UINT64_MAX)), 0);
    cr_assert_eq(sl_slo_budget_remaining(&s, sum(UINT64_MAX, UINT64_MAX), &v), SL_OK);
    cr_assert_eq(v, 1.0);
    cr_assert_eq(sl_slo_budget_remaining(&s, sum(0, UINT64_MAX), &v), SL_OK);
    cr_assert_eq(v, -999.0);
}

Test(slo, strictly_above_at_the_boundary)
{
    sl_slo_t s;
    cr_assert_eq(sl_slo_init(&s, 0.999, 30 * DAY), SL_OK);
    /* 1h of 10000 requests a minute: 600000; 14.4 x 0.001 x 600000 = 8640 bad is exactly on the threshold */
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_PAGE_1H, sum(600000 - 8640, 600000)), 0);
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_PAGE_1H, sum(600000 - 8641, 600000)), 1);
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_PAGE_1H, sum(0, 0)), 0); /* no data never fires */
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_PAGE_1H, sum(3, 2)), 0); /* invalid never fires */
    /* 28 days: 13.44 x 0.001 x 600000 = 8064 */
    cr_assert_eq(sl_slo_init(&s, 0.999, 28 * DAY), SL_OK);
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_PAGE_1H, sum(600000 - 8064, 600000)), 0);
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_PAGE_1H, sum(600000 - 8065, 600000)), 1);
    /* 3d rule of 28 days: 0.9333.. x 0.001 x 4320000 = 4032 */
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_TICKET_3D, sum(4320000 - 4032, 4320000)), 0);
    cr_assert_eq(sl_slo_burn_above(&s, SL_SLO_TICKET_3D, sum(4320000 - 4033, 4320000)), 1);
}

/*
 * Three clean days at 1000 requests a minute, then bad_per_1000 bad requests a minute from minute T = T0 + 4320
 * on. With k minutes of incident the long windows hold bad_per_1000 x k bad out of 1000 x L; every threshold
 * comparison below is worked out in the test.
 */
static sl_window_sum_t *incident_trace(size_t n, uint64_t bad_per_1000)
{
    sl_window_sum_t *t = sl_calloc(n, sizeof(*t));
    for (size_t i = 0; i < n; i++)
        t[i] = sum(1000 - (i >= 4320 ? bad_per_1000 : 0), 1000);
    return t;
}

Test(slo, first_alerts_on_a_crafted_incident_30d)
{
    sl_slo_t s;
    cr_assert_eq(sl_slo_init(&s, 0.999, 30 * DAY), SL_OK);
    sl_window_sum_t *t = incident_trace(4320 + 400, 24); /* 2.4% bad: burn rate 24 */
    sl_slo_first_t f;
    cr_assert_eq(sl_slo_first_alerts(&s, t, 4320 + 400, T0, &f), SL_OK);
    const int64_t T = T0 + 4320;
    /* page_1h: 24k > 0.0144 x 60000 = 864 <=> k > 36: k = 37, the minute T + 36 (k = 36 sits on the threshold) */
    cr_assert_eq(f.rule[SL_SLO_PAGE_1H], T + 36);
    /* page_6h: 24k > 0.006 x 360000 = 2160 <=> k > 90 */
    cr_assert_eq(f.rule[SL_SLO_PAGE_6H], T + 90);
    /* ticket_1d: 24k > 0.003 x 1440000 = 4320 <=> k > 180; ticket_3d: 24k > 0.001 x 4320000 = 4320, same */
    cr_assert_eq(f.rule[SL_SLO_TICKET_1D], T + 180);
    cr_assert_eq(f.rule[SL_SLO_TICKET_3D], T + 180);
    cr_assert_eq(f.page, T + 36);
    cr_assert_eq(f.ticket, T + 180);

    /* the report at those minutes agrees, and one minute earlier nothing fired */
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, sl_slo_window_capacity_min(&s), T0), SL_OK);
    sl_slo_report_t r;
    for (int64_t i = 0; i < 4320 + 400; i++) {
        cr_assert_eq(sl_window_add(&w, T0 + i, t[i].good, t[i].total), SL_OK);
        cr_assert_eq(sl_slo_evaluate(&s, &w, T0 + i, &r), SL_OK);
        cr_assert_eq(r.page, T0 + i >= T + 36);
        cr_assert_eq(r.ticket, T0 + i >= T + 180);
        cr_assert_eq(r.rule_firing[SL_SLO_PAGE_6H], T0 + i >= T + 90);
    }
    /* at the end: 400 incident minutes; 1h burn 24, 3d burn = 24 x 400 / 4320 */
    cr_assert_eq(r.burn_rate[SL_SLO_W1H].has_data, 1);
    cr_assert_float_eq(r.burn_rate[SL_SLO_W1H].value, 24.0, 1e-12);
    cr_assert_float_eq(r.burn_rate[SL_SLO_W3D].value, 24.0 * 400 / 4320, 1e-12);
    /* budget over everything so far: allowed 0.001 x 4720000 = 4720, spent 9600 */
    cr_assert_eq(r.period.total, 4720000u);
    cr_assert_float_eq(r.allowed_bad, 4720.0, 1e-9);
    cr_assert_float_eq(r.budget_remaining.value, 1.0 - 9600.0 / 4720.0, 1e-12);
    sl_window_dispose(&w);
    sl_free(t);
}

Test(slo, first_alerts_scale_with_the_period_28d)
{
    sl_slo_t s;
    cr_assert_eq(sl_slo_init(&s, 0.999, 28 * DAY), SL_OK);
    sl_window_sum_t *t = incident_trace(4320 + 400, 24);
    sl_slo_first_t f;
    cr_assert_eq(sl_slo_first_alerts(&s, t, 4320 + 400, T0, &f), SL_OK);
    const int64_t T = T0 + 4320;
    /* page_1h: 24k > 0.01344 x 60000 = 806.4 <=> k >= 34 */
    cr_assert_eq(f.rule[SL_SLO_PAGE_1H], T + 33);
    /* page_6h: 24k > 0.0056 x 360000 = 2016 <=> k > 84 */
    cr_assert_eq(f.rule[SL_SLO_PAGE_6H], T + 84);
    /* ticket_1d: 24k > 0.0028 x 1440000 = 4032 <=> k > 168; ticket_3d: 24k > 0.00093.. x 4320000 = 4032 */
    cr_assert_eq(f.rule[SL_SLO_TICKET_1D], T + 168);
    cr_assert_eq(f.rule[SL_SLO_TICKET_3D], T + 168);
    sl_free(t);
}

Test(slo, burn_exactly_on_every_threshold_never_fires)
{
    /* 99.9%, 30 days, a constant 0.1% bad: burn rate exactly 1 on every window, the ticket_3d threshold */
    sl_slo_t s;
    cr_assert_eq(sl_slo_init(&s, 0.999, 30 * DAY), SL_OK);
    size_t n = 5000;
    sl_window_sum_t *t = sl_calloc(n, sizeof(*t));
    for (size_t i = 0; i < n; i++)
        t[i] = sum(999, 1000);
    sl_slo_first_t f;
    cr_assert_eq(sl_slo_first_alerts(&s, t, n, T0, &f), SL_OK);
    cr_assert_eq(f.rule[SL_SLO_TICKET_3D], SL_SLO_NEVER);
    cr_assert_eq(f.ticket, SL_SLO_NEVER);
    cr_assert_eq(f.page, SL_SLO_NEVER);
    /* one more bad request in the last minute tips the 3d and 6h windows over */
    t[n - 1] = sum(998, 1000);
    cr_assert_eq(sl_slo_first_alerts(&s, t, n, T0, &f), SL_OK);
    cr_assert_eq(f.rule[SL_SLO_TICKET_3D], T0 + (int64_t)n - 1);
    cr_assert_eq(f.ticket, T0 + (int64_t)n - 1);
    sl_free(t);
}

Test(slo, no_data_never_fires_and_reports_no_data)
{
    sl_slo_t s;
    cr_assert_eq(sl_slo_init(&s, 0.999, 30 * DAY), SL_OK);
    /* an hour of total failure, then silence: the 1h window burns at 1000x but the 5m window has no data */
    size_t n = 200;
    sl_window_sum_t *t = sl_calloc(n, sizeof(*t));
    for (size_t i = 0; i < 60; i++)
        t[i] = sum(0, 100);
    sl_slo_first_t f;
    cr_assert_eq(sl_slo_first_alerts(&s, t, n, T0, &f), SL_OK);
    cr_assert_eq(f.page, T0); /* fires at once: 1h and 5m both at 1000x */
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, 43200, T0), SL_OK);
    for (size_t i = 0; i < 60; i++)
        cr_assert_eq(sl_window_add(&w, T0 + (int64_t)i, 0, 100), SL_OK);
    sl_slo_report_t r;
    cr_assert_eq(sl_slo_evaluate(&s, &w, T0 + 64, &r), SL_OK);
    cr_assert_eq(r.burn_rate[SL_SLO_W5M].has_data, 0);
    cr_assert_eq(r.burn_rate[SL_SLO_W5M].value, 0.0);
    cr_assert_eq(r.burn_rate[SL_SLO_W1H].has_data, 1);
    cr_assert_eq(r.burn_rate[SL_SLO_W1H].value, 1000.0);
    cr_assert_eq(r.rule_firing[SL_SLO_PAGE_1H], 0);
    cr_assert_eq(r.rule_firing[SL_SLO_PAGE_6H], 1); /* 6h and 30m still hold the failures */
    cr_assert_eq(r.page, 1);
    /* a window that never saw traffic: everything is "no data" */
    cr_assert_eq(sl_window_reset(&w, T0), SL_OK);
    cr_assert_eq(sl_slo_evaluate(&s, &w, T0 + 10, &r), SL_OK);
    cr_assert_eq(r.budget_remaining.has_data, 0);
    cr_assert_eq(r.allowed_bad, 0.0);
    for (int i = 0; i < SL_SLO_NUM_WINDOWS; i++)
        cr_assert_eq(r.burn_rate[i].has_data, 0);
    cr_assert_eq(r.page + r.ticket, 0);
    sl_window_dispose(&w);
    sl_free(t);
}

Test(slo, evaluate_rejects_small_windows_and_bad_sums)
{
    sl_slo_t s;
    cr_assert_eq(sl_slo_init(&s, 0.99, 28 * DAY), SL_OK);
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, 4320, T0), SL_OK); /* shorter than the 28-day period */
    sl_slo_report_t r;
    r.page = 77;
    cr_assert_eq(sl_slo_evaluate(&s, &w, T0, &r), SL_EINVAL);
    cr_assert_eq(r.page, 77);
    sl_window_sum_t sums[SL_SLO_NUM_WINDOWS] = {{0, 0}};
    sums[3] = sum(2, 1);
    cr_assert_eq(sl_slo_evaluate_sums(&s, sum(0, 0), sums, &r), SL_EINVAL);
    cr_assert_eq(sl_slo_evaluate_sums(&s, sum(3, 1), sums, &r), SL_EINVAL);
    cr_assert_eq(r.page, 77);
    sl_window_sum_t bad[1] = {{5, 4}};
    sl_slo_first_t f;
    f.page = 99;
    cr_assert_eq(sl_slo_first_alerts(&s, bad, 1, T0, &f), SL_EINVAL);
    cr_assert_eq(sl_slo_first_alerts(&s, NULL, 0, -1, &f), SL_EINVAL);
    cr_assert_eq(f.page, 99);
    cr_assert_eq(sl_slo_first_alerts(&s, NULL, 0, T0, &f), SL_OK); /* empty trace: nothing fires */
    cr_assert_eq(f.page, SL_SLO_NEVER);
    sl_window_dispose(&w);
}

Test(slo, window_names_and_rules_table)
{
    cr_assert_str_eq(sl_slo_window_names[SL_SLO_W3D], "3d");
    cr_assert_eq(sl_slo_window_minutes[SL_SLO_W2H], 120u);
    cr_assert_str_eq(sl_slo_rules[SL_SLO_TICKET_1D].name, "ticket_1d");
    cr_assert_eq(sl_slo_rules[SL_SLO_PAGE_6H].short_window, SL_SLO_W30M);
    cr_assert_eq(sl_slo_rules[SL_SLO_TICKET_3D].share_bp, 1000u);
}
