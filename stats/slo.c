/*
 * slo.c - error budgets, burn rates and multi-window multi-burn-rate alert conditions.
 *
 * The measures (Google SRE workbook, "Implementing SLOs" and "Alerting on SLOs"):
 *   allowed bad      = (1 - target) x total
 *   budget remaining = 1 - bad / allowed bad          over the SLO period
 *   burn rate        = (bad / total) / (1 - target)   over a trailing window
 * and four alert rules, each "the burn rate over a long and a short window is strictly above
 * threshold = share x period / long window", where share is the part of the whole budget the long window may
 * consume: 2% in 1h (short 5m), 5% in 6h (30m), 10% in 1d (2h), 10% in 3d (6h). For a 30-day period these give
 * the workbook's 14.4, 6, 3 and 1; for 28 days 13.44, 5.6, 2.8 and 0.9333...
 *
 * Exactness. Targets are held in parts per billion (E = 10^9 - target_ppb), shares in basis points, windows and
 * periods in minutes: every quantity is an integer, so "burn rate above threshold" is decided without rounding:
 *   bad / total x 10^9 / E > share_bp / 10^4 x P / L   <=>   bad x 10^9 x 10^4 x L > total x E x share_bp x P
 * Both sides fit in 128 bits (counts < 2^64, 10^13 x 4320 < 2^56, 10^9 x 10^4 x 129600 < 2^61). A trace sitting
 * exactly on a threshold therefore never fires, and one request more does - no float noise at the boundary.
 * Displayed values (burn rates, budget) are exact integer ratios rounded once when converted to double.
 *
 * No data. A window without traffic has no burn rate and a period without traffic no budget: has_data = 0 (or
 * SL_ENOENT), never a division by zero, and such a window never makes a rule fire.
 *
 * Threads: all functions are pure over their arguments; sl_slo_evaluate() reads a window, which belongs to the
 * control thread.
 */
#include "stats/slo.h"

#include <math.h>
#include <string.h>

#include "common/status.h"
#include "stats/window.h"

typedef unsigned __int128 u128;
typedef __int128 i128;

const uint32_t sl_slo_window_minutes[SL_SLO_NUM_WINDOWS] = {5, 30, 60, 120, 360, 1440, 4320};
const char *const sl_slo_window_names[SL_SLO_NUM_WINDOWS] = {"5m", "30m", "1h", "2h", "6h", "1d", "3d"};
const sl_slo_rule_t sl_slo_rules[SL_SLO_NUM_RULES] = {
    {"page_1h", SL_SLO_PAGE, SL_SLO_W1H, SL_SLO_W5M, 200},
    {"page_6h", SL_SLO_PAGE, SL_SLO_W6H, SL_SLO_W30M, 500},
    {"ticket_1d", SL_SLO_TICKET, SL_SLO_W1D, SL_SLO_W2H, 1000},
    {"ticket_3d", SL_SLO_TICKET, SL_SLO_W3D, SL_SLO_W6H, 1000},
};

int sl_slo_init_ppb(sl_slo_t *slo, uint32_t target_ppb, uint32_t period_min)
{
    if (target_ppb == 0 || target_ppb >= SL_SLO_PPB || period_min == 0 || period_min > SL_WINDOW_MAX_MINUTES)
        return SL_EINVAL;
    slo->target_ppb = target_ppb;
    slo->budget_ppb = SL_SLO_PPB - target_ppb;
    slo->period_min = period_min;
    return SL_OK;
}

int sl_slo_init(sl_slo_t *slo, double target, uint32_t period_min)
{
    if (!(target > 0.0 && target < 1.0)) /* also rejects NaN */
        return SL_EINVAL;
    double ppb = nearbyint(target * (double)SL_SLO_PPB);
    if (ppb < 1.0 || ppb > (double)(SL_SLO_PPB - 1))
        return SL_EINVAL;
    return sl_slo_init_ppb(slo, (uint32_t)ppb, period_min);
}

uint32_t sl_slo_window_capacity_min(const sl_slo_t *slo)
{
    return slo->period_min > SL_SLO_LONGEST_ALERT_MIN ? slo->period_min : SL_SLO_LONGEST_ALERT_MIN;
}

double sl_slo_allowed_bad(const sl_slo_t *slo, uint64_t total)
{
    return (double)((u128)total * slo->budget_ppb) / (double)SL_SLO_PPB;
}

int sl_slo_budget_remaining(const sl_slo_t *slo, sl_window_sum_t s, double *out)
{
    if (s.good > s.total)
        return SL_EINVAL;
    if (s.total == 0)
        return SL_ENOENT;
    /* 1 - bad x 10^9 / (total x E) = (total x E - bad x 10^9) / (total x E); both terms below 2^94 */
    i128 den = (i128)((u128)s.total * slo->budget_ppb);
    i128 num = den - (i128)((u128)(s.total - s.good) * SL_SLO_PPB);
    *out = (double)num / (double)den;
    return SL_OK;
}

int sl_slo_burn_rate(const sl_slo_t *slo, sl_window_sum_t s, double *out)
{
    if (s.good > s.total)
        return SL_EINVAL;
    if (s.total == 0)
        return SL_ENOENT;
    u128 num = (u128)(s.total - s.good) * SL_SLO_PPB;
    u128 den = (u128)s.total * slo->budget_ppb;
    *out = (double)num / (double)den;
    return SL_OK;
}

double sl_slo_threshold(const sl_slo_t *slo, enum en_sl_slo_rule_id_t rule)
{
    const sl_slo_rule_t *r = &sl_slo_rules[rule];
    uint64_t num = (uint64_t)r->share_bp * slo->period_min;                           /* < 2^31 */
    uint64_t den = (uint64_t)SL_SLO_SHARE_BP * sl_slo_window_minutes[r->long_window]; /* < 2^26 */
    return (double)num / (double)den;
}

int sl_slo_burn_above(const sl_slo_t *slo, enum en_sl_slo_rule_id_t rule, sl_window_sum_t s)
{
    if (s.total == 0 || s.good > s.total)
        return 0;
    const sl_slo_rule_t *r = &sl_slo_rules[rule];
    u128 lhs = (u128)(s.total - s.good) * ((uint64_t)SL_SLO_PPB * SL_SLO_SHARE_BP * sl_slo_window_minutes[r->long_window]);
    u128 rhs = (u128)s.total * ((uint64_t)slo->budget_ppb * r->share_bp) * slo->period_min;
    return lhs > rhs;
}

static int rule_fires(const sl_slo_t *slo, enum en_sl_slo_rule_id_t rule, const sl_window_sum_t sums[])
{
    const sl_slo_rule_t *r = &sl_slo_rules[rule];
    return sl_slo_burn_above(slo, rule, sums[r->long_window]) && sl_slo_burn_above(slo, rule, sums[r->short_window]);
}

int sl_slo_evaluate_sums(const sl_slo_t *slo, sl_window_sum_t period, const sl_window_sum_t sums[SL_SLO_NUM_WINDOWS],
                         sl_slo_report_t *out)
{
    if (period.good > period.total)
        return SL_EINVAL;
    for (int i = 0; i < SL_SLO_NUM_WINDOWS; i++)
        if (sums[i].good > sums[i].total)
            return SL_EINVAL;

    sl_slo_report_t r;
    memset(&r, 0, sizeof(r));
    r.period = period;
    r.allowed_bad = sl_slo_allowed_bad(slo, period.total);
    r.budget_remaining.has_data = sl_slo_budget_remaining(slo, period, &r.budget_remaining.value) == SL_OK;
    for (int i = 0; i < SL_SLO_NUM_WINDOWS; i++) {
        r.sums[i] = sums[i];
        r.burn_rate[i].has_data = sl_slo_burn_rate(slo, sums[i], &r.burn_rate[i].value) == SL_OK;
    }
    for (int i = 0; i < SL_SLO_NUM_RULES; i++)
        r.rule_firing[i] = rule_fires(slo, i, sums);
    r.page = r.rule_firing[SL_SLO_PAGE_1H] || r.rule_firing[SL_SLO_PAGE_6H];
    r.ticket = r.rule_firing[SL_SLO_TICKET_1D] || r.rule_firing[SL_SLO_TICKET_3D];
    *out = r;
    return SL_OK;
}

/* Reads the period and the burn windows at now_min; SL_EINVAL when w is too small. */
static int read_sums(const sl_slo_t *slo, const sl_window_t *w, int64_t now_min, sl_window_sum_t *period,
                     sl_window_sum_t sums[SL_SLO_NUM_WINDOWS])
{
    if (w->capacity_min < sl_slo_window_capacity_min(slo))
        return SL_EINVAL;
    sl_window_sum(w, now_min, slo->period_min, period);
    for (int i = 0; i < SL_SLO_NUM_WINDOWS; i++)
        sl_window_sum(w, now_min, sl_slo_window_minutes[i], &sums[i]);
    return SL_OK;
}

int sl_slo_evaluate(const sl_slo_t *slo, const sl_window_t *w, int64_t now_min, sl_slo_report_t *out)
{
    sl_window_sum_t period, sums[SL_SLO_NUM_WINDOWS];
    int rc = read_sums(slo, w, now_min, &period, sums);
    if (rc != SL_OK)
        return rc;
    return sl_slo_evaluate_sums(slo, period, sums, out);
}

int sl_slo_first_alerts(const sl_slo_t *slo, const sl_window_sum_t *trace, size_t n, int64_t first_min, sl_slo_first_t *out)
{
    for (size_t i = 0; i < n; i++)
        if (trace[i].good > trace[i].total)
            return SL_EINVAL;
    if (first_min < 0 || first_min > SL_WINDOW_MAX_MINUTE - (int64_t)n)
        return SL_EINVAL;

    sl_window_t w;
    int rc = sl_window_init(&w, sl_slo_window_capacity_min(slo), first_min);
    if (rc != SL_OK)
        return rc;
    sl_slo_first_t f;
    for (int i = 0; i < SL_SLO_NUM_RULES; i++)
        f.rule[i] = SL_SLO_NEVER;
    f.page = f.ticket = SL_SLO_NEVER;

    for (size_t i = 0; i < n; i++) {
        int64_t m = first_min + (int64_t)i;
        sl_window_add(&w, m, trace[i].good, trace[i].total);
        sl_window_sum_t period, sums[SL_SLO_NUM_WINDOWS];
        read_sums(slo, &w, m, &period, sums);
        for (int r = 0; r < SL_SLO_NUM_RULES; r++)
            if (f.rule[r] == SL_SLO_NEVER && rule_fires(slo, r, sums))
                f.rule[r] = m;
    }
    sl_window_dispose(&w);

    for (int r = 0; r < SL_SLO_NUM_RULES; r++) {
        int64_t *agg = sl_slo_rules[r].severity == SL_SLO_PAGE ? &f.page : &f.ticket;
        if (f.rule[r] != SL_SLO_NEVER && (*agg == SL_SLO_NEVER || f.rule[r] < *agg))
            *agg = f.rule[r];
    }
    *out = f;
    return SL_OK;
}
