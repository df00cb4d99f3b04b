/*
 * canary_checks.c - the canary checks as pure functions: the same inputs always give the same verdict, with no
 * state, clock or allocation, so every decision of a rollout can be replayed from its evidence.
 *
 * Each check has a significance test and an effect floor, and fails only when both say so: significance alone
 * would roll back a canary for a difference too small to matter once samples are large, a floor alone would roll
 * back on noise while they are small (Kayenta's judge pairs Mann-Whitney U with an effect-size floor the same
 * way). The false-alarm budget of a check, alpha, holds over the whole rollout however often it looks: the
 * sequential tests (error rate, accept rate, sample ratio) have always-valid p-values; the others spend alpha over
 * their looks (stats/canary_tail.h), half on the shift and half on the tail for the timing checks.
 */
#include "policies/canary.h"

#include <math.h>
#include <string.h>

#include "common/status.h"
#include "stats/canary_seq.h"
#include "stats/canary_tail.h"
#include "stats/ks.h"
#include "stats/msprt.h"
#include "stats/mwu.h"
#include "stats/special.h"

static const char *const kind_names[SL_CANARY_K_COUNT] = {"error_rate", "latency",     "latency_p99", "ttft",
                                                          "ttft_p99",   "tpot",        "tpot_p99",    "accept_rate",
                                                          "confidence", "srm",         "feedback_accuracy"};

static const uint8_t kind_checks[SL_CANARY_K_COUNT] = {
    SL_CONF_CHECK_ERROR_RATE, SL_CONF_CHECK_LATENCY, SL_CONF_CHECK_LATENCY,     SL_CONF_CHECK_TTFT,       SL_CONF_CHECK_TTFT,
    SL_CONF_CHECK_TPOT,       SL_CONF_CHECK_TPOT,    SL_CONF_CHECK_ACCEPT_RATE, SL_CONF_CHECK_CONFIDENCE, SL_CONF_CHECK_SRM,
    SL_CONF_CHECK_FEEDBACK_ACCURACY};

const char *sl_canary_kind_name(enum en_sl_canary_kind_t kind)
{
    return (unsigned)kind < SL_CANARY_K_COUNT ? kind_names[kind] : "?";
}

const char *sl_canary_outcome_name(enum en_sl_canary_outcome_kind_t outcome)
{
    switch (outcome) {
    case SL_CANARY_PASS:
        return "pass";
    case SL_CANARY_FAIL:
        return "fail";
    case SL_CANARY_NO_DATA:
        return "no_data";
    }
    return "?";
}

enum en_sl_conf_check_t sl_canary_kind_check(enum en_sl_canary_kind_t kind)
{
    return (unsigned)kind < SL_CANARY_K_COUNT ? (enum en_sl_conf_check_t)kind_checks[kind] : SL_CONF_CHECK_COUNT;
}

static void start(sl_canary_verdict_t *out, enum en_sl_canary_kind_t kind)
{
    memset(out, 0, sizeof(*out));
    out->kind = (uint8_t)kind;
    out->check = kind_checks[kind];
    out->outcome = SL_CANARY_NO_DATA;
    out->p_value = 1;
}

void sl_canary_check_error_rate(const sl_conf_check_t *cc, const sl_canary_seq_t *seq, sl_canary_verdict_t *out)
{
    sl_canary_seq_result_t r;
    start(out, SL_CANARY_K_ERROR_RATE);
    sl_canary_seq_read(seq, &r);
    out->n_canary = seq->n_t;
    out->n_stable = seq->n_c;
    out->threshold = seq->params.alpha;
    out->canary_value = r.rate_t;
    out->stable_value = r.rate_c;
    out->effect = r.rate_t - r.rate_c;
    if (r.status == SL_STAT_NO_DATA)
        return;
    out->statistic = r.log_lambda;
    out->p_value = r.p_value;
    /* the floor is compared with a margin of a few ulps: 3/1000 - 1/1000 must count as 0.2% */
    if (r.reject && out->effect >= cc->min_effect * (1 - 1e-12))
        out->outcome = SL_CANARY_FAIL;
    else if (sl_canary_error_power(cc, seq))
        out->outcome = SL_CANARY_PASS;
}

int sl_canary_error_power(const sl_conf_check_t *cc, const sl_canary_seq_t *seq)
{
    double p_c = seq->n_c != 0 ? (double)seq->errors_c / (double)seq->n_c : 0;
    double p_t = fmax(cc->detect_ratio * p_c, p_c + cc->detect_increase);
    if (p_t > 1)
        p_t = 1;
    if (!(p_t > p_c))
        return 1; /* no regression to detect: the requirement is off */
    return sl_canary_seq_expected(seq, p_t, p_c) >= -log(seq->params.alpha);
}

/* The value of rank ceil(q n) (at least 1) of a sorted sample: the inverted empirical distribution function. */
static double quantile(const double *v, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n - 1e-9);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

void sl_canary_check_shift(const sl_conf_check_t *cc, enum en_sl_canary_kind_t kind, const double *c, size_t nc,
                           const double *s, size_t ns, uint32_t look, sl_canary_verdict_t *out)
{
    start(out, kind);
    out->n_canary = nc;
    out->n_stable = ns;
    if (nc != 0)
        out->canary_value = quantile(c, nc, 0.5);
    if (ns != 0)
        out->stable_value = quantile(s, ns, 0.5);
    sl_mwu_result_t m;
    if (nc < cc->min_samples || ns < cc->min_samples || nc == 0 || ns == 0 || sl_mwu_test_sorted(c, nc, s, ns, &m) != SL_OK ||
        m.status != SL_STAT_OK)
        return;
    out->look = look;
    out->threshold = sl_canary_spend(cc->alpha / 2, look);
    out->statistic = m.z;
    out->effect = m.prob_superiority - 0.5;
    out->p_value = out->effect > 0 ? m.p_value / 2 : 1 - m.p_value / 2;
    out->outcome = out->p_value <= out->threshold && out->effect >= cc->min_effect ? SL_CANARY_FAIL : SL_CANARY_PASS;
}

/* Values of a sorted sample strictly above t. */
static size_t count_above(const double *v, size_t n, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return n - lo;
}

void sl_canary_check_tail(const sl_conf_check_t *cc, enum en_sl_canary_kind_t kind, const double *c, size_t nc, const double *s,
                          size_t ns, uint32_t look, sl_canary_verdict_t *out)
{
    start(out, kind);
    out->n_canary = nc;
    out->n_stable = ns;
    if (nc != 0)
        out->canary_value = quantile(c, nc, 0.99);
    if (ns != 0)
        out->stable_value = quantile(s, ns, 0.99);
    if (nc < cc->min_samples || ns < cc->min_samples || nc == 0 || ns == 0)
        return;
    double qc = out->canary_value, qs = out->stable_value, t = cc->ratio * qs, p;
    size_t k = count_above(c, nc, t), j = count_above(s, ns, t);
    if (sl_canary_hypergeom_sf(k, nc + ns, k + j, nc, &p) != SL_OK)
        return;
    out->look = look;
    out->threshold = sl_canary_spend(cc->alpha / 2, look);
    out->statistic = (double)k;
    out->p_value = p;
    /* a stable p99 of 0 (every request instant) makes any slower canary tail an infinite ratio: report the
     * canary's p99 over the smallest positive double instead of dividing by 0 */
    out->effect = qs > 0 ? qc / qs : (qc > 0 ? qc / 0x1p-1022 : 1);
    out->outcome = p <= out->threshold && qc >= t && k != 0 ? SL_CANARY_FAIL : SL_CANARY_PASS;
}

void sl_canary_check_accept_rate(const sl_conf_check_t *cc, const sl_msprt_t *m, const uint64_t judged[2],
                                 const uint64_t escalated[2], sl_canary_verdict_t *out)
{
    start(out, SL_CANARY_K_ACCEPT_RATE);
    out->n_canary = judged[SL_CANARY_CANARY];
    out->n_stable = judged[SL_CANARY_STABLE];
    out->threshold = m->params.alpha;
    double ac = judged[1] != 0 ? 1 - (double)escalated[1] / (double)judged[1] : 0;
    double as = judged[0] != 0 ? 1 - (double)escalated[0] / (double)judged[0] : 0;
    out->canary_value = ac;
    out->stable_value = as;
    out->effect = as - ac;
    if (judged[0] < cc->min_samples || judged[1] < cc->min_samples)
        return;
    double log_lr, diff, var;
    if (sl_msprt_log_lr(&m->params, escalated[1], judged[1], escalated[0], judged[0], &log_lr, &diff, &var) != SL_OK)
        return;
    out->statistic = log_lr;
    out->p_value = m->p_value;
    out->outcome = m->rejected ? SL_CANARY_FAIL : SL_CANARY_PASS;
}

void sl_canary_check_confidence(const sl_conf_check_t *cc, const double *c, size_t nc, const double *s, size_t ns,
                                uint32_t look, sl_canary_verdict_t *out)
{
    start(out, SL_CANARY_K_CONFIDENCE);
    out->n_canary = nc;
    out->n_stable = ns;
    if (nc != 0)
        out->canary_value = quantile(c, nc, 0.5);
    if (ns != 0)
        out->stable_value = quantile(s, ns, 0.5);
    sl_ks_result_t k;
    if (nc < cc->min_samples || ns < cc->min_samples || nc == 0 || ns == 0 || sl_ks_test_sorted(c, nc, s, ns, &k) != SL_OK ||
        k.status != SL_STAT_OK)
        return;
    out->look = look;
    out->threshold = sl_canary_spend(cc->alpha, look);
    out->statistic = k.statistic;
    out->effect = k.statistic;
    out->p_value = k.p_value;
    out->outcome = k.p_value <= out->threshold && k.statistic >= cc->min_effect ? SL_CANARY_FAIL : SL_CANARY_PASS;
}

void sl_canary_check_srm(const sl_conf_check_t *cc, uint64_t x, uint64_t n, uint32_t weight_permille, double max_log_lambda,
                         size_t num_steps, sl_canary_verdict_t *out)
{
    start(out, SL_CANARY_K_SRM);
    double w = weight_permille / 1000.0, steps = num_steps != 0 ? (double)num_steps : 1;
    out->n_canary = x;
    out->n_stable = n - x;
    out->stable_value = w;
    out->threshold = cc->alpha / steps;
    if (n == 0 || weight_permille == 0 || weight_permille >= 1000)
        return;
    out->canary_value = (double)x / (double)n;
    out->effect = out->canary_value - w;
    double now;
    if (sl_canary_srm_log_lambda(x, n, w, SL_CANARY_SRM_CONCENTRATION, &now) != SL_OK)
        return;
    out->statistic = now;
    out->p_value = max_log_lambda > 0 ? exp(-max_log_lambda) : 1;
    /* the first crossing of the threshold is the always-valid flag; afterwards the verdict follows the current
     * evidence, so a false flag fades as the mixture ratio (a martingale under H0) falls back, and a real mismatch
     * keeps failing */
    out->outcome = now >= log(steps / cc->alpha) ? SL_CANARY_FAIL : SL_CANARY_PASS;
}

void sl_canary_check_feedback(const sl_conf_check_t *cc, const sl_canary_labels_t *canary, const sl_canary_labels_t *stable,
                              uint32_t look, sl_canary_verdict_t *out)
{
    start(out, SL_CANARY_K_FEEDBACK_ACCURACY);
    out->n_canary = canary->n;
    out->n_stable = stable->n;
    if (canary->correct > canary->n || stable->correct > stable->n)
        return;
    out->canary_value = canary->n != 0 ? (double)canary->correct / (double)canary->n : 0;
    out->stable_value = stable->n != 0 ? (double)stable->correct / (double)stable->n : 0;
    out->effect = out->stable_value - out->canary_value;
    if (canary->n < cc->min_samples || stable->n < cc->min_samples || canary->n == 0 || stable->n == 0)
        return;
    uint64_t wrong_t = canary->n - canary->correct, wrong_s = stable->n - stable->correct;
    double p;
    if (sl_canary_hypergeom_sf(wrong_t, canary->n + stable->n, wrong_t + wrong_s, canary->n, &p) != SL_OK)
        return;
    out->look = look;
    out->threshold = sl_canary_spend(cc->alpha, look);
    out->statistic = (double)wrong_t;
    out->p_value = p;
    /* the floor with a margin of a few ulps, as for the error rate: 0.90 - 0.88 must count as 2 points */
    out->outcome = p <= out->threshold && out->effect >= cc->min_effect * (1 - 1e-12) ? SL_CANARY_FAIL : SL_CANARY_PASS;
}
