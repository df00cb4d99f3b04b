/*
 * drift.c - PSI and Jensen-Shannon distance over binned distributions, and the reference-quantile bins they use.
 *
 * Design. Numeric features are compared through k bins cut at the reference's quantiles, so each bin holds ~1/k of
 * the reference and PSI weighs every part of the distribution alike (equal-width bins would put most of a skewed
 * feature, e.g. prompt lengths, in one bin). The edges come from a sorted reference sample once; afterwards a value
 * is binned by a binary search over k - 1 edges, the only per-request work. The measures then read two count
 * vectors.
 *
 * PSI = sum (a - r) ln(a / r) is infinite when a bin is empty on one side. We add eps (1e-4 by default) to every
 * proportion and renormalize by 1 + k eps; with eps fixed and documented, the reference script computes exactly the
 * same number. Jensen-Shannon needs no such patch: its mixture m = (p + q)/2 is positive wherever p or q is.
 * Rounding can make the JS divergence of two equal distributions -1e-17; it is clipped at 0 before the square
 * root (sqrt of a negative is the NaN we never return).
 *
 * Quantiles follow numpy's default (linear interpolation between order statistics at position (n - 1) q) with its
 * two-sided lerp, a + (b - a) t below t = 0.5 and b - (b - a)(1 - t) from 0.5, so an edge equals the reference
 * script's to the last bit and a value lying exactly on an edge falls in the same bin in both.
 */
#include "stats/drift.h"

#include <math.h>
#include <string.h>

#include "common/status.h"

int sl_drift_edges(const double *ref, size_t n, uint32_t k, double *edges)
{
    if (ref == NULL || edges == NULL || n == 0 || k < 2 || k > SL_DRIFT_MAX_BINS)
        return SL_EINVAL;
    for (size_t i = 0; i != n; ++i)
        if (!isfinite(ref[i]) || (i != 0 && ref[i] < ref[i - 1]))
            return SL_EINVAL;
    for (uint32_t i = 1; i < k; ++i) {
        double q = (double)i / (double)k, pos = (double)(n - 1) * q, lo = floor(pos), t = pos - lo;
        size_t l = (size_t)lo, h = l + 1 < n ? l + 1 : n - 1;
        double a = ref[l], b = ref[h], diff = b - a;
        edges[i - 1] = t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
    }
    return SL_OK;
}

int sl_drift_bin(const double *edges, uint32_t k, double v, uint32_t *bin)
{
    if (isnan(v) || k == 0 || (k > 1 && edges == NULL))
        return SL_EINVAL;
    uint32_t lo = 0, hi = k - 1; /* answer in [lo, hi]: number of edges <= v */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2; /* edges[mid] is the (mid+1)-th edge */
        if (edges[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *bin = lo;
    return SL_OK;
}

static uint64_t total(const uint64_t *c, size_t k)
{
    uint64_t n = 0;
    for (size_t i = 0; i != k; ++i)
        n += c[i];
    return n;
}

static int no_data(sl_drift_result_t *out, uint64_t nr, uint64_t nc)
{
    memset(out, 0, sizeof(*out));
    out->status = SL_STAT_NO_DATA;
    out->n_ref = nr;
    out->n_cur = nc;
    return SL_OK;
}

int sl_drift_psi(const uint64_t *ref, const uint64_t *cur, size_t k, double eps, sl_drift_result_t *out)
{
    if (ref == NULL || cur == NULL || k == 0 || !(eps > 0) || !(eps <= 0.1))
        return SL_EINVAL;
    uint64_t nr = total(ref, k), nc = total(cur, k);
    if (nr == 0 || nc == 0)
        return no_data(out, nr, nc);
    double norm = 1 + (double)k * eps, psi = 0;
    for (size_t i = 0; i != k; ++i) {
        double a = ((double)cur[i] / (double)nc + eps) / norm, r = ((double)ref[i] / (double)nr + eps) / norm;
        psi += (a - r) * log(a / r);
    }
    out->status = SL_STAT_OK;
    out->value = psi < 0 ? 0 : psi;
    out->n_ref = nr;
    out->n_cur = nc;
    return SL_OK;
}

/* x ln(x / y) with 0 ln 0 = 0 (scipy.special.rel_entr for x, y >= 0, y > 0 wherever x > 0) */
static double rel_entr(double x, double y)
{
    return x > 0 ? x * log(x / y) : 0;
}

int sl_drift_js(const uint64_t *ref, const uint64_t *cur, size_t k, sl_drift_result_t *out)
{
    if (ref == NULL || cur == NULL || k == 0)
        return SL_EINVAL;
    uint64_t nr = total(ref, k), nc = total(cur, k);
    if (nr == 0 || nc == 0)
        return no_data(out, nr, nc);
    double left = 0, right = 0;
    for (size_t i = 0; i != k; ++i) {
        double p = (double)ref[i] / (double)nr, q = (double)cur[i] / (double)nc, m = (p + q) / 2;
        left += rel_entr(p, m);
        right += rel_entr(q, m);
    }
    double js = (left + right) / M_LN2 / 2;
    out->status = SL_STAT_OK;
    out->value = js > 0 ? (js < 1 ? sqrt(js) : 1) : 0;
    out->n_ref = nr;
    out->n_cur = nc;
    return SL_OK;
}

int sl_drift_smooth(const uint64_t *counts, size_t k, double eps, double *prop)
{
    if (counts == NULL || prop == NULL || k == 0 || !(eps > 0) || !(eps <= 0.1))
        return SL_EINVAL;
    uint64_t n = total(counts, k);
    if (n == 0)
        return SL_EINVAL;
    double norm = 1 + (double)k * eps;
    for (size_t i = 0; i != k; ++i)
        prop[i] = ((double)counts[i] / (double)n + eps) / norm;
    return SL_OK;
}
