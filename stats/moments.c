/*
 * moments.c - Welford's online mean/variance and the pairwise merge of two summaries.
 *
 * Design. The textbook sum of squares minus n mean^2 cancels catastrophically for values with a large offset
 * (timestamps, token counts near 1e6); Welford's update keeps the squared deviations themselves. Welford alone
 * still carries the mean's own rounding: at an offset of 1e9 the mean moves in steps of ulp(1e9) = 1.2e-7, which is
 * a 1e-7 relative error on a unit variance. So the sums run on x - shift, with the first value as the shift: the
 * differences are exact (Sterbenz) for values near it and the running mean stays of the size of the spread.
 * Shards merge with Chan et al.'s formula, the difference of their means formed as (shift_b - shift_a) +
 * (mean_b - mean_a) so the offsets cancel exactly first; counts are 64-bit and every product is formed in double
 * (na nb / n computed as na * (nb / n)), so shards of 1e12 observations merge without overflow.
 */
#include "stats/moments.h"

#include <math.h>
#include <string.h>

#include "common/status.h"

void sl_moments_init(sl_moments_t *m)
{
    memset(m, 0, sizeof(*m));
}

int sl_moments_observe(sl_moments_t *m, double x)
{
    if (!isfinite(x))
        return SL_EINVAL;
    if (m->n == 0) {
        m->n = 1;
        m->shift = x;
        m->mean = 0;
        m->m2 = 0;
        m->min = m->max = x;
        return SL_OK;
    }
    m->n++;
    double y = x - m->shift, d = y - m->mean;
    m->mean += d / (double)m->n;
    m->m2 += d * (y - m->mean);
    if (x < m->min)
        m->min = x;
    if (x > m->max)
        m->max = x;
    return SL_OK;
}

void sl_moments_merge(sl_moments_t *dst, const sl_moments_t *src)
{
    if (src->n == 0)
        return;
    if (dst->n == 0) {
        *dst = *src;
        return;
    }
    double na = (double)dst->n, nb = (double)src->n, n = na + nb;
    double d = (src->shift - dst->shift) + (src->mean - dst->mean); /* difference of the true means */
    dst->mean += d * (nb / n);
    dst->m2 += src->m2 + d * d * na * (nb / n);
    dst->n += src->n;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

enum en_sl_stat_status_t sl_moments_read(const sl_moments_t *m, double *mean, double *var_pop, double *var_sample, double *min,
                                         double *max)
{
    int empty = m->n == 0;
    double m2 = m->m2 > 0 ? m->m2 : 0;
    if (mean)
        *mean = empty ? 0 : m->shift + m->mean;
    if (var_pop)
        *var_pop = empty ? 0 : m2 / (double)m->n;
    if (var_sample)
        *var_sample = m->n < 2 ? 0 : m2 / (double)(m->n - 1);
    if (min)
        *min = empty ? 0 : m->min;
    if (max)
        *max = empty ? 0 : m->max;
    return empty ? SL_STAT_NO_DATA : SL_STAT_OK;
}
