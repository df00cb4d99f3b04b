/*
 * ks.c - the two-sample Kolmogorov-Smirnov test: the statistic by a merge of sorted samples, the exact null tail by
 * lattice paths, the asymptotic tail through the one-sample law (special_ks.c).
 *
 * Design. With g = gcd(n_x, n_y), the scaled difference i n_y/g - j n_x/g after i elements of x and j of y is an
 * integer, so D = H / lcm with H an exact integer: no rounding decides which lattice points count as "outside".
 * Under H0 every interleaving of the two samples is equally likely, i.e. every monotone lattice path from (0, 0)
 * to (n_x, n_y), and P(D >= d) is the share of paths touching |i n_y/g - j n_x/g| >= H (Hodges, "The significance
 * probability of the Smirnov two-sample test", Arkiv for Matematik 3, 1958).
 *
 * We propagate the share of paths that have already crossed, q(i, j) = (i q(i-1, j) + j q(i, j-1)) / (i + j)
 * (the weights are the shares of paths arriving from the left and from below), with q = 1 on crossing points.
 * Only points strictly inside the band are computed, one column at a time. scipy computes 1 - P(stay inside) by
 * the same recursion, which loses all relative accuracy below ~1e-15; propagating the crossing share keeps it, so
 * tiny p-values stay meaningful (the tests check them against exact rational arithmetic).
 * For n_x = n_y the reflection principle gives the closed alternating sum, evaluated Horner-style in O(n).
 *
 * The exact regime ends at max(n) = 10,000 like scipy's method='auto'; beyond, the statistic is converted to the
 * one-sample law with the effective size n_x n_y / (n_x + n_y).
 */
#include "stats/ks.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "stats/mwu.h"
#include "stats/special.h"

#define KS_MAX_N 2147483647u

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* P(D_{n,n} >= h/n) = 2 sum_{k>=1} (-1)^(k-1) C(2n, n-kh)/C(2n, n), as 2 r1 (1 - r2/r1 (1 - r3/r2 (...))) */
static double equal_sizes_sf(uint64_t n, uint64_t h)
{
    double acc = 0;
    for (uint64_t k = n / h; k >= 1; --k) {
        /* ratio C(2n, n - kh) / C(2n, n - (k-1)h) = prod_{j=0}^{h-1} (n - (k-1)h - j) / (n + (k-1)h + j + 1) */
        double r = 1;
        for (uint64_t j = 0; j < h; ++j)
            r *= (double)(n - (k - 1) * h - j) / (double)(n + (k - 1) * h + j + 1);
        acc = r * (1 - acc);
    }
    return 2 * acc;
}

/* share of lattice paths (0,0) -> (m, n) that reach |i n/g - j m/g| >= h; i steps along m, j along n */
static double band_sf(uint64_t m, uint64_t n, uint64_t h)
{
    uint64_t g = gcd_u64(m, n), mg = m / g, ng = n / g;
    /* q[j]: crossing share at (i, j) for the column i being built; (i - 1, j) before it is overwritten. Only the
     * band |i ng - j mg| < h is computed; it moves up with i, so a cell above it still holds the 1 it got in
     * column 0 (every point above the band is a crossing point) and a cell below it is never read again. */
    double *q = sl_malloc((size_t)(n + 1) * sizeof(double));
    for (uint64_t j = 0; j <= n; ++j)
        q[j] = j * mg >= h ? 1 : 0; /* column 0: inside points are reached without crossing */
    for (uint64_t i = 1; i <= m; ++i) {
        uint64_t a = i * ng;
        uint64_t lo = a < h ? 0 : (a - h) / mg + 1, hi = (a + h - 1) / mg;
        if (hi > n)
            hi = n;
        if (lo > hi) { /* the band has no lattice point here: every path crosses */
            sl_free(q);
            return 1;
        }
        double below = 1; /* (i, lo - 1) is outside the band */
        for (uint64_t j = lo; j <= hi; ++j) {
            double v = j == 0 ? q[0] : ((double)i * q[j] + (double)j * below) / (double)(i + j);
            q[j] = v;
            below = v;
        }
    }
    double p = q[n];
    sl_free(q);
    return p;
}

int sl_ks_exact_sf(uint64_t n_x, uint64_t n_y, uint64_t h, double *p)
{
    if (n_x == 0 || n_y == 0 || n_x > KS_MAX_N || n_y > KS_MAX_N)
        return SL_EINVAL;
    uint64_t g = gcd_u64(n_x, n_y), lcm = n_x / g * n_y;
    if (h > lcm)
        return SL_EINVAL;
    double v;
    if (h == 0)
        v = 1;
    else if (n_x == n_y)
        v = equal_sizes_sf(n_x, h); /* lcm = n: h is in units of 1/n */
    else
        v = n_x >= n_y ? band_sf(n_x, n_y, h) : band_sf(n_y, n_x, h);
    *p = v < 0 ? 0 : (v > 1 ? 1 : v);
    return SL_OK;
}

static int sample_ok(const double *a, size_t n, int need_sorted)
{
    if (n != 0 && a == NULL)
        return 0;
    for (size_t i = 0; i != n; ++i) {
        if (isnan(a[i]))
            return 0;
        if (need_sorted && i != 0 && a[i] < a[i - 1])
            return 0;
    }
    return 1;
}

int sl_ks_test_sorted(const double *x, size_t n_x, const double *y, size_t n_y, sl_ks_result_t *out)
{
    if (!sample_ok(x, n_x, 1) || !sample_ok(y, n_y, 1))
        return SL_EINVAL;
    if (n_x > KS_MAX_N || n_y > KS_MAX_N)
        return SL_ERANGE;
    sl_ks_result_t r;
    memset(&r, 0, sizeof(r));
    r.n_x = n_x;
    r.n_y = n_y;
    if (n_x == 0 || n_y == 0) {
        r.status = SL_STAT_NO_DATA;
        *out = r;
        return SL_OK;
    }
    uint64_t g = gcd_u64(n_x, n_y), xg = n_x / g, yg = n_y / g, lcm = xg * n_y;
    uint64_t hmax = 0;
    double dmax = 0;
    size_t i = 0, j = 0;
    while (i < n_x && j < n_y) {
        double v = x[i] <= y[j] ? x[i] : y[j];
        while (i < n_x && x[i] == v)
            ++i;
        while (j < n_y && y[j] == v)
            ++j;
        /* exact: |i/n_x - j/n_y| * lcm; float: as scipy forms the ECDF difference */
        int64_t diff = (int64_t)(i * yg) - (int64_t)(j * xg);
        uint64_t ad = (uint64_t)(diff < 0 ? -diff : diff);
        if (ad > hmax)
            hmax = ad;
        double fd = fabs((double)i / (double)n_x - (double)j / (double)n_y);
        if (fd > dmax)
            dmax = fd;
    }
    /* past the end of one sample the difference only shrinks toward 0: nothing more to see */
    r.status = SL_STAT_OK;
    if (n_x <= SL_KS_EXACT_MAX_N && n_y <= SL_KS_EXACT_MAX_N) {
        r.method = SL_KS_EXACT;
        r.statistic = (double)hmax / (double)lcm;
        sl_ks_exact_sf(n_x, n_y, hmax, &r.p_value);
    } else {
        double a = (double)(n_x > n_y ? n_x : n_y), b = (double)(n_x > n_y ? n_y : n_x);
        double en = nearbyint(a * b / (a + b));
        r.method = SL_KS_ASYMPTOTIC;
        r.statistic = dmax;
        sl_special_kstwo_sf((uint64_t)(en < 1 ? 1 : en), dmax, &r.p_value);
    }
    *out = r;
    return SL_OK;
}

int sl_ks_test(double *x, size_t n_x, double *y, size_t n_y, sl_ks_result_t *out)
{
    if (!sample_ok(x, n_x, 0) || !sample_ok(y, n_y, 0))
        return SL_EINVAL;
    sl_mwu_sort(x, n_x);
    sl_mwu_sort(y, n_y);
    return sl_ks_test_sorted(x, n_x, y, n_y, out);
}
