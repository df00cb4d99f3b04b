/*
 * canary_seq.c - the mixture sequential test of a canary's error rate conditioned on each batch's failures
 * (stats/canary_seq.h states the model and the bound).
 *
 * Why not the normal-approximation mSPRT (stats/msprt.h): its variance term is dominated by the canary's own
 * estimated rate, which is poorly known exactly when it matters (few canary requests, errors of 0.1-2%), so it needs
 * several times more canary requests to reach the same evidence (bench/canary measures both). Here the only
 * unknown under H0 is the ratio, and conditioning on E makes the stable rate drop out: the likelihood of a batch is
 * that of E coin flips with a known bias under H0.
 *
 * Numerics: everything stays in logs. log(1 + w (g - 1)) is computed with log1p for small w; the mixture is a
 * log-sum-exp around its maximum, so it neither overflows when the evidence is overwhelming (log LR in the
 * thousands) nor underflows when the canary is clean (log LR very negative). The p-value exp(-max) is exactly 0
 * once max exceeds ~745, never NaN.
 */
#include "stats/canary_seq.h"

#include <math.h>
#include <string.h>

#include "common/status.h"

#define MAX_COUNT 9007199254740992ull /* 2^53 */

/* Alternatives: dense where regressions are hardest to see (1.5x to 8x the stable rate), sparse beyond, where the
 * evidence piles up fast anyway. Fewer points cost less of the mixture: 8 points detected 0.2 % -> 1 % about 10 %
 * sooner than 12 at the same false-alarm rate (bench/canary). The weights put twice the mass on 3x to 8x, the
 * regressions a rollout exists to catch within a step (a 5x or 10x error rate): there the mixture costs log 6
 * instead of log 8 nats of evidence, at 1.5x, 2x and beyond 8x log 12 - a hard failure pays that in a fraction of
 * one request, a 1.5x regression takes thousands of requests whatever the weights. Logs of the weights, summing
 * to 1. */
static const double log_weight[SL_CANARY_SEQ_GRID] = {-2.4849066497880004, -2.4849066497880004, -1.791759469228055,
                                                      -1.791759469228055,  -1.791759469228055,  -1.791759469228055,
                                                      -2.4849066497880004, -2.4849066497880004};
static const double grid[SL_CANARY_SEQ_GRID] = {1.5, 2, 3, 4, 6, 8, 16, 64};

double sl_canary_seq_grid(unsigned k)
{
    return k < SL_CANARY_SEQ_GRID ? grid[k] : 0;
}

double sl_canary_seq_weight(unsigned k)
{
    return k < SL_CANARY_SEQ_GRID ? exp(log_weight[k]) : 0;
}

static int params_ok(const sl_canary_seq_params_t *p)
{
    return p != NULL && p->alpha > 0 && p->alpha < 1 && isfinite(p->min_ratio) && p->min_ratio >= 1;
}

int sl_canary_seq_init(sl_canary_seq_t *s, const sl_canary_seq_params_t *params)
{
    if (s == NULL || !params_ok(params))
        return SL_EINVAL;
    memset(s, 0, sizeof(*s));
    s->params = *params;
    return SL_OK;
}

static double log_mixture(const double *l)
{
    double m = l[0] + log_weight[0], sum = 0;
    for (unsigned k = 1; k != SL_CANARY_SEQ_GRID; ++k)
        if (l[k] + log_weight[k] > m)
            m = l[k] + log_weight[k];
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID; ++k)
        sum += exp(l[k] + log_weight[k] - m);
    return m + log(sum);
}

void sl_canary_seq_read(const sl_canary_seq_t *s, sl_canary_seq_result_t *out)
{
    memset(out, 0, sizeof(*out));
    out->status = s->batches != 0 ? SL_STAT_OK : SL_STAT_NO_DATA;
    out->log_lambda = s->batches != 0 ? log_mixture(s->log_lr) : 0;
    out->p_value = s->max_log_lambda > 0 ? exp(-s->max_log_lambda) : 1;
    out->rate_t = s->n_t != 0 ? (double)s->errors_t / (double)s->n_t : 0;
    out->rate_c = s->n_c != 0 ? (double)s->errors_c / (double)s->n_c : 0;
    out->reject = s->rejected;
}

int sl_canary_seq_update(sl_canary_seq_t *s, uint64_t errors_t, uint64_t n_t, uint64_t errors_c, uint64_t n_c,
                         sl_canary_seq_result_t *out)
{
    return sl_canary_seq_update_pooled(s, errors_t, n_t, errors_c, n_c, 0, out);
}

int sl_canary_seq_update_pooled(sl_canary_seq_t *s, uint64_t errors_t, uint64_t n_t, uint64_t errors_c, uint64_t n_c,
                                double stable_per_canary, sl_canary_seq_result_t *out)
{
    if (s == NULL || errors_t > n_t || errors_c > n_c || n_t > MAX_COUNT || n_c > MAX_COUNT || s->n_t + n_t > MAX_COUNT ||
        s->n_c + n_c > MAX_COUNT)
        return SL_EINVAL;
    s->errors_t += errors_t;
    s->n_t += n_t;
    s->errors_c += errors_c;
    s->n_c += n_c;
    s->pend_errors_t += errors_t;
    s->pend_n_t += n_t;
    s->pend_errors_c += errors_c;
    s->pend_n_c += n_c;
    if (s->pend_n_t != 0 && s->pend_n_c != 0 && (double)s->pend_n_c >= stable_per_canary * (double)s->pend_n_t) {
        errors_t = s->pend_errors_t;
        n_t = s->pend_n_t;
        errors_c = s->pend_errors_c;
        n_c = s->pend_n_c;
        s->pend_errors_t = s->pend_n_t = s->pend_errors_c = s->pend_n_c = 0;
        double r0 = s->params.min_ratio, at = (double)n_t * r0;
        double w = at / (at + (double)n_c), e = (double)(errors_t + errors_c);
        s->batches++;
        for (unsigned k = 0; k != SL_CANARY_SEQ_GRID; ++k) {
            double l = log1p(w * (grid[k] - 1));
            s->load_t[k] += (double)n_t * l;
            s->load_c[k] += (double)n_c * l;
        }
        /* a batch without failures leaves every ratio as it was (E = 0): nothing to recompute */
        if (e != 0 || s->batches == 1) {
            for (unsigned k = 0; k != SL_CANARY_SEQ_GRID && e != 0; ++k)
                s->log_lr[k] += (double)errors_t * log(grid[k]) - e * log1p(w * (grid[k] - 1));
            double l = log_mixture(s->log_lr);
            if (l > s->max_log_lambda)
                s->max_log_lambda = l;
            if (s->max_log_lambda >= -log(s->params.alpha))
                s->rejected = 1;
        }
    }
    if (out != NULL)
        sl_canary_seq_read(s, out);
    return SL_OK;
}

double sl_canary_seq_expected(const sl_canary_seq_t *s, double p_t, double p_c)
{
    double n_t = (double)(s->n_t - s->pend_n_t), best = -INFINITY;
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID; ++k) {
        double e = p_t * (n_t * log(grid[k]) - s->load_t[k]) - p_c * s->load_c[k] + log_weight[k];
        if (e > best)
            best = e;
    }
    return best;
}

int sl_canary_seq_validate(const sl_canary_seq_t *s)
{
    if (s == NULL || !params_ok(&s->params) || !isfinite(s->max_log_lambda) || s->max_log_lambda < 0 || s->errors_t > s->n_t ||
        s->errors_c > s->n_c || s->n_t > MAX_COUNT || s->n_c > MAX_COUNT || s->pend_errors_t > s->pend_n_t ||
        s->pend_errors_c > s->pend_n_c || s->pend_n_t > s->n_t || s->pend_n_c > s->n_c ||
        (s->rejected != 0 && s->rejected != 1) ||
        s->rejected != (s->max_log_lambda >= -log(s->params.alpha)) || (s->batches == 0 && s->max_log_lambda != 0))
        return SL_EINVAL;
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID; ++k)
        if (!isfinite(s->log_lr[k]) || !isfinite(s->load_t[k]) || !isfinite(s->load_c[k]) || s->load_t[k] < 0 ||
            s->load_c[k] < 0)
            return SL_EINVAL;
    return SL_OK;
}

static double lbeta(double a, double b)
{
    int sign;
    return lgamma_r(a, &sign) + lgamma_r(b, &sign) - lgamma_r(a + b, &sign);
}

int sl_canary_srm_log_lambda(uint64_t x, uint64_t n, double w, double c, double *out)
{
    if (x > n || n >= MAX_COUNT || !(w > 0 && w < 1) || !(c > 0) || !isfinite(c))
        return SL_EINVAL;
    double a = c * w, b = c * (1 - w), xd = (double)x, nd = (double)n;
    *out = lbeta(a + xd, b + nd - xd) - lbeta(a, b) - xd * log(w) - (nd - xd) * log1p(-w);
    return SL_OK;
}
