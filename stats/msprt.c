/*
 * msprt.c - the mixture SPRT for the difference of two error rates (always-valid p-values).
 *
 * Design. A fixed-horizon test looked at after every batch of requests raises false alarms far above its alpha
 * (ten looks at alpha = 0.05 already give ~0.2). The mSPRT replaces the test by a likelihood ratio mixed over a
 * normal prior on the effect, N(min_effect, tau^2); under H0 it is a non-negative martingale, so by Ville's
 * inequality the chance it ever exceeds 1/alpha is at most alpha, whatever the number of looks. The running
 * minimum of 1/Lambda is then a p-value valid at any stopping time; it is kept in the state, so a rollback decided
 * once stays justified.
 *
 * Everything is computed in logs: Lambda overflows a double when the evidence is strong (log Lambda ~ 1e4 for a
 * hard failure over thousands of requests) and p = exp(-log Lambda) then underflows to an exact 0, never NaN.
 * For the one-sided test (the canary is worse) looks whose estimate lies on the H0 side count as Lambda = 1: the
 * event "Lambda >= 1/alpha and diff > min_effect" is contained in the two-sided one, so the bound still holds,
 * and for a true difference below min_effect the probability is smaller still (moving every observation down
 * moves diff away from the rejection region).
 */
#include "stats/msprt.h"

#include <math.h>
#include <string.h>

#include "common/status.h"

#define MAX_EXACT_COUNT 9007199254740992ull /* 2^53 */

void sl_msprt_params_default(sl_msprt_params_t *params)
{
    memset(params, 0, sizeof(*params));
    params->tau = SL_MSPRT_DEFAULT_TAU;
    params->alpha = SL_MSPRT_DEFAULT_ALPHA;
    params->min_effect = 0;
    params->min_samples = 1;
    params->side = SL_MSPRT_GREATER;
}

static int params_ok(const sl_msprt_params_t *p)
{
    return p != NULL && isfinite(p->tau) && p->tau > 0 && p->alpha > 0 && p->alpha < 1 && isfinite(p->min_effect) &&
           p->min_effect >= 0 && p->min_samples >= 1 &&
           (p->side == SL_MSPRT_GREATER || (p->side == SL_MSPRT_TWO_SIDED && p->min_effect == 0));
}

int sl_msprt_init(sl_msprt_t *m, const sl_msprt_params_t *params)
{
    if (m == NULL || !params_ok(params))
        return SL_EINVAL;
    memset(m, 0, sizeof(*m));
    m->params = *params;
    m->p_value = 1;
    return SL_OK;
}

static int counts_ok(uint64_t e_t, uint64_t n_t, uint64_t e_c, uint64_t n_c)
{
    return e_t <= n_t && e_c <= n_c && n_t <= MAX_EXACT_COUNT && n_c <= MAX_EXACT_COUNT;
}

int sl_msprt_log_lr(const sl_msprt_params_t *params, uint64_t errors_t, uint64_t n_t, uint64_t errors_c, uint64_t n_c,
                    double *log_lr, double *diff, double *variance)
{
    if (!params_ok(params) || !counts_ok(errors_t, n_t, errors_c, n_c) || n_t == 0 || n_c == 0)
        return SL_EINVAL;
    double nt = (double)n_t, nc = (double)n_c;
    double d = (double)errors_t / nt - (double)errors_c / nc;
    double pt = ((double)errors_t + 0.5) / (nt + 1), pc = ((double)errors_c + 0.5) / (nc + 1);
    double v = pt * (1 - pt) / nt + pc * (1 - pc) / nc, tau2 = params->tau * params->tau;
    double delta = d - params->min_effect, l = 0;
    if (params->side == SL_MSPRT_TWO_SIDED || delta > 0)
        l = 0.5 * log(v / (v + tau2)) + tau2 * delta * delta / (2 * v * (v + tau2));
    *log_lr = l;
    *diff = d;
    *variance = v;
    return SL_OK;
}

int sl_msprt_look(sl_msprt_t *m, uint64_t errors_t, uint64_t n_t, uint64_t errors_c, uint64_t n_c, sl_msprt_result_t *out)
{
    if (m == NULL || out == NULL || !counts_ok(errors_t, n_t, errors_c, n_c))
        return SL_EINVAL;
    sl_msprt_result_t r;
    memset(&r, 0, sizeof(r));
    if (n_t < m->params.min_samples || n_c < m->params.min_samples) {
        r.status = SL_STAT_NO_DATA;
        r.p_value = m->p_value;
        r.reject = m->rejected;
        *out = r;
        return SL_OK;
    }
    int rc = sl_msprt_log_lr(&m->params, errors_t, n_t, errors_c, n_c, &r.log_lr, &r.diff, &r.variance);
    if (rc != SL_OK)
        return rc;
    /* 1 / Lambda = exp(-log Lambda); log Lambda <= 0 gives >= 1, which never lowers the running minimum */
    double inv = r.log_lr > 0 ? exp(-r.log_lr) : 1;
    if (inv < m->p_value)
        m->p_value = inv;
    m->looks++;
    if (m->p_value <= m->params.alpha)
        m->rejected = 1;
    r.status = SL_STAT_OK;
    r.p_value = m->p_value;
    r.reject = m->rejected;
    *out = r;
    return SL_OK;
}
