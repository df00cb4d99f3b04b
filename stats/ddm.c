/*
 * ddm.c - the Drift Detection Method (Gama et al. 2004).
 *
 * Design. The error count of a stable model over i samples is binomial; for large i, p_i +- s_i is close to a
 * normal interval. DDM keeps the smallest p + s seen since its last restart as the model's best operating point
 * and measures the current point against it in units of s_min: 2 for a warning (~95% one-sided), 3 for a drift
 * (~99.7%). Everything is a few flops and two words of state per detector; the control thread runs it over the
 * feedback joins (ground truth arrives late, one outcome at a time).
 *
 * The paper writes the tests as ">="; we use ">" (as MOA does) because with ">=" the degenerate minimum
 * p_min = s_min = 0 of an error-free start satisfies p + s >= p_min + 3 s_min on every error-free sample.
 */
#include "stats/ddm.h"

#include <math.h>
#include <string.h>

#include "common/status.h"

void sl_ddm_params_default(sl_ddm_params_t *params)
{
    params->min_samples = SL_DDM_DEFAULT_MIN_SAMPLES;
    params->warning = SL_DDM_DEFAULT_WARNING;
    params->drift = SL_DDM_DEFAULT_DRIFT;
}

static void restart(sl_ddm_t *d)
{
    d->n = 0;
    d->errors = 0;
    d->p_min = INFINITY;
    d->s_min = INFINITY;
}

int sl_ddm_init(sl_ddm_t *d, const sl_ddm_params_t *params)
{
    if (d == NULL || params == NULL || params->min_samples == 0 || !isfinite(params->warning) || !isfinite(params->drift) ||
        !(params->warning > 0) || !(params->drift > params->warning))
        return SL_EINVAL;
    memset(d, 0, sizeof(*d));
    d->params = *params;
    restart(d);
    d->state = SL_DDM_IN_CONTROL;
    return SL_OK;
}

int sl_ddm_observe(sl_ddm_t *d, int error, enum en_sl_ddm_state_t *state)
{
    if (error != 0 && error != 1)
        return SL_EINVAL;
    d->seen++;
    d->n++;
    d->errors += (uint64_t)error;
    enum en_sl_ddm_state_t st = SL_DDM_IN_CONTROL;
    if (d->n >= d->params.min_samples) {
        double n = (double)d->n, p = (double)d->errors / n, s = sqrt(p * (1 - p) / n);
        if (p + s < d->p_min + d->s_min) {
            d->p_min = p;
            d->s_min = s;
        }
        if (p + s > d->p_min + d->params.drift * d->s_min) {
            st = SL_DDM_DRIFT;
            d->drifts++;
            restart(d);
        } else if (p + s > d->p_min + d->params.warning * d->s_min) {
            st = SL_DDM_WARNING;
        }
    }
    d->state = st;
    if (state)
        *state = st;
    return SL_OK;
}
