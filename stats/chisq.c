/*
 * chisq.c - Pearson's chi-square goodness-of-fit and 2 x k homogeneity tests.
 *
 * Design. Both tests are a sum over categories and one chi-square tail (special.c). What needs care is the
 * categories with nothing expected: a zero expectation is a division by zero in the textbook formula. For
 * homogeneity a column empty in both rows carries no information and is dropped (scipy refuses such a table).
 * For goodness of fit a category the reference calls impossible (proportion 0) is dropped from the sum and, if
 * observed anyway, reported as `unseen` with p = 0: the data cannot come from the reference, and saying so is
 * better than an infinite statistic. Counts are integers, converted to double exactly (checked <= 2^53), so
 * counts of 1e12 are fine; expectations of that size keep ~16 significant digits, and the statistic's relative
 * error is about 1e-16 * E / |O - E| per category.
 */
#include "stats/chisq.h"

#include <math.h>
#include <string.h>

#include "common/status.h"
#include "stats/special.h"

#define MAX_EXACT_COUNT 9007199254740992ull /* 2^53 */

static void no_data(sl_chisq_result_t *out, uint64_t n)
{
    memset(out, 0, sizeof(*out));
    out->status = SL_STAT_NO_DATA;
    out->n = n;
}

int sl_chisq_gof(const uint64_t *observed, const double *prop, size_t k, sl_chisq_result_t *out)
{
    if (observed == NULL || prop == NULL || k == 0)
        return SL_EINVAL;
    double psum = 0;
    uint64_t n = 0;
    for (size_t i = 0; i != k; ++i) {
        if (!isfinite(prop[i]) || prop[i] < 0 || observed[i] > MAX_EXACT_COUNT)
            return SL_EINVAL;
        psum += prop[i];
        n += observed[i];
        if (n > MAX_EXACT_COUNT)
            return SL_EINVAL;
    }
    if (!(psum > 0) || !isfinite(psum))
        return SL_EINVAL;
    size_t usable = 0;
    uint64_t unseen = 0;
    double stat = 0, dn = (double)n;
    for (size_t i = 0; i != k; ++i) {
        if (prop[i] == 0) {
            unseen += observed[i];
            continue;
        }
        ++usable;
        double e = dn * prop[i] / psum, d = (double)observed[i] - e;
        if (e > 0)
            stat += d * d / e;
    }
    if (n == 0 || usable < 2) {
        no_data(out, n);
        out->unseen = unseen;
        return SL_OK;
    }
    sl_chisq_result_t r;
    memset(&r, 0, sizeof(r));
    r.status = SL_STAT_OK;
    r.statistic = stat;
    r.dof = (uint32_t)(usable - 1);
    r.n = n;
    r.unseen = unseen;
    if (unseen)
        r.p_value = 0;
    else
        sl_special_chi2_sf(stat, (double)r.dof, &r.p_value);
    *out = r;
    return SL_OK;
}

int sl_chisq_homogeneity(const uint64_t *a, const uint64_t *b, size_t k, sl_chisq_result_t *out)
{
    if (a == NULL || b == NULL || k == 0)
        return SL_EINVAL;
    uint64_t na = 0, nb = 0;
    size_t usable = 0;
    for (size_t i = 0; i != k; ++i) {
        if (a[i] > MAX_EXACT_COUNT || b[i] > MAX_EXACT_COUNT)
            return SL_EINVAL;
        na += a[i];
        nb += b[i];
        if (na > MAX_EXACT_COUNT || nb > MAX_EXACT_COUNT || na + nb > MAX_EXACT_COUNT)
            return SL_EINVAL;
        usable += (a[i] + b[i]) != 0;
    }
    if (na == 0 || nb == 0 || usable < 2) {
        no_data(out, na + nb);
        return SL_OK;
    }
    double n = (double)(na + nb), ra = (double)na, rb = (double)nb, stat = 0;
    for (size_t i = 0; i != k; ++i) {
        if (a[i] + b[i] == 0)
            continue;
        double c = (double)(a[i] + b[i]);
        double ea = ra * c / n, eb = rb * c / n;
        double da = (double)a[i] - ea, db = (double)b[i] - eb;
        stat += da * da / ea + db * db / eb;
    }
    sl_chisq_result_t r;
    memset(&r, 0, sizeof(r));
    r.status = SL_STAT_OK;
    r.statistic = stat;
    r.dof = (uint32_t)(usable - 1);
    r.n = na + nb;
    sl_special_chi2_sf(stat, (double)r.dof, &r.p_value);
    *out = r;
    return SL_OK;
}
