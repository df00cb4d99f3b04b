/*
 * special_ks.c - the Kolmogorov-Smirnov distributions for finite n: Smirnov's one-sided P(D+_n >= d) and the
 * two-sided P(D_n >= d) (the law of scipy.stats.kstwo), which the two-sample test uses for large samples.
 *
 * Design. No single formula is both fast and accurate over all (n, d). Simard and L'Ecuyer, "Computing the
 * two-sided Kolmogorov-Smirnov distribution" (J. Stat. Software 39(11), 2011), map the plane into regions and pick
 * per region; we follow their map with the cut-offs scipy uses, because its p-values are the reference our tests
 * compare against to 1e-9 and two of the regions are approximations (2 * Smirnov when n d^2 is large drops a term
 * of relative size ~e^(-6 n d^2); Pelz-Good is an asymptotic series): crossing a region boundary at a different
 * place would show. Inside the exact regions any exact method agrees to rounding, so we use the Durbin matrix
 * (Marsaglia, Tsang and Wang, "Evaluating Kolmogorov's distribution", J. Stat. Software 8(18), 2003) wherever
 * scipy uses either it or Pomeranz's recursion.
 *
 * Smirnov's one-sided tail is the Birnbaum-Tingey sum
 *     P(D+_n >= d) = d sum_{v=0}^{v < n(1-d)} C(n, v) (d + v/n)^(v-1) (1 - d - v/n)^(n-v),
 * whose terms are all positive: each is (d/p) * Binomial(n, p) at v with p = d + v/n, computed with Loader's
 * saddle-point form (stirlerr and bd0, special.c) so it keeps ~1e-15 relative accuracy at any n. n d is formed
 * exactly (fma) so floor(n d) is right at the boundaries v = n(1 - d).
 *
 * Cost: Smirnov O(n) (n <= 1e6); Durbin O(m^3 log n) with m <= 117 (about 3e7 flops at worst, 20 ms) plus O(n);
 * Pelz-Good O(1). Pure functions, any thread; the Durbin matrices are allocated per call (control-thread math).
 */
#include "stats/special.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"

#define MIN_LOG (-708.39641853226412) /* log(DBL_MIN) */
#define LOG_SQRT_2PI 0.91893853320467274178032973640561764

static inline double clip01(double p)
{
    return p < 0 ? 0 : (p > 1 ? 1 : p);
}

/* log(n! / n^n) */
static double log_nfact_over_npow(double n)
{
    return sl_special_stirlerr(n) + LOG_SQRT_2PI + 0.5 * log(n) - n;
}

static double smirnov_sf(uint64_t n64, double d)
{
    double n = (double)n64;
    if (n64 == 1)
        return 1 - d;
    if (d <= 0)
        return 1;
    if (d >= 1)
        return 0;
    /* n d as an exact double-double, then floor(n d) and the fractional part alpha */
    double nx = n * d, nx_lo = fma(n, d, -nx);
    double nxfl = floor(nx), alpha = (nx - nxfl) + nx_lo;
    if (alpha < 0)
        nxfl -= 1, alpha += 1;
    if (alpha >= 1)
        nxfl += 1, alpha -= 1;
    if (nxfl == 0 || (nxfl == 1 && alpha == 0)) /* d <= 1/n: cdf = d (1 + d)^(n-1) */
        return clip01(1 - d * exp((n - 1) * log1p(d)));
    if (-2 * n * d * d < MIN_LOG)
        return 0;
    if (nxfl >= n - 1) /* d >= 1 - 1/n: only the v = 0 term */
        return clip01(exp(n * log1p(-d)));
    if (n64 > 1000000) {
        double e = 6 * n * d + 1;
        return clip01(exp(-e * e / 18 / n));
    }
    double vmax = n - nxfl - 1; /* largest v with n - n d - v > 0 */
    double sum = exp(n * log1p(-d)), prev = sum;
    double ln = sl_special_stirlerr(n), lnorm = log(n) - log(2 * M_PI);
    for (double v = 1; v <= vmax; v += 1) {
        double np = (nx + v) + nx_lo, nq = (n - v - nx) - nx_lo;
        double lc =
            ln - sl_special_stirlerr(v) - sl_special_stirlerr(n - v) - sl_special_bd0(v, np) - sl_special_bd0(n - v, nq);
        double term = exp(lc + 0.5 * (lnorm - log(v) - log(n - v))) * ((nx + nx_lo) / np);
        sum += term;
        /* terms rise then fall (log-concave in v): stop once they are falling and negligible */
        if (term < prev && term < sum * 1e-18)
            break;
        prev = term;
    }
    return clip01(sum);
}

int sl_special_smirnov_sf(uint64_t n, double d, double *out)
{
    if (n == 0 || isnan(d) || d < 0 || d > 1)
        return SL_EINVAL;
    *out = smirnov_sf(n, d);
    return SL_OK;
}

/* c = a * b for m x m row-major matrices */
static void matmul(double *c, const double *a, const double *b, int m)
{
    for (int i = 0; i < m; ++i) {
        double *ci = c + (size_t)i * m;
        memset(ci, 0, sizeof(*ci) * (size_t)m);
        for (int l = 0; l < m; ++l) {
            double ail = a[(size_t)i * m + l];
            if (ail == 0)
                continue;
            const double *bl = b + (size_t)l * m;
            for (int j = 0; j < m; ++j)
                ci[j] += ail * bl[j];
        }
    }
}

/* scales a by a power of two so its largest entry is in [0.5, 1); the exponent goes to *e (exact) */
static void renorm(double *a, int m, long *e)
{
    double mx = 0;
    for (int i = 0; i < m * m; ++i)
        mx = fmax(mx, fabs(a[i]));
    if (mx == 0)
        return;
    int ex;
    frexp(mx, &ex);
    for (int i = 0; i < m * m; ++i)
        a[i] = ldexp(a[i], -ex);
    *e += ex;
}

/* P(D_n < d) by Durbin's matrix: (n!/n^n) (H^n)[k-1][k-1] with nd = k - h, 0 <= h < 1, H of order 2k - 1. */
static double durbin_cdf(uint64_t n, double d)
{
    double nd = (double)n * d;
    if (nd <= 0.5)
        return 0;
    int k = (int)ceil(nd), m = 2 * k - 1;
    double h = k - nd;
    size_t sz = (size_t)m * m;
    double *H = sl_malloc(3 * sz * sizeof(double)), *A = H + sz, *T = A + sz;
    double fact = 1; /* 1/j! as j grows */
    for (int r = 0; r < m; ++r)
        for (int c = 0; c < m; ++c)
            H[(size_t)r * m + c] = 0;
    for (int j = 1; j <= m; ++j) {
        fact /= j;
        /* entries on the (j-1)-th subdiagonal (r - c + 1 = j) are 1/j! */
        for (int c = 0; c + j - 1 < m; ++c)
            H[(size_t)(c + j - 1) * m + c] = fact;
        /* superdiagonal r - c + 1 = 0 ... handled below; first column and last row corrected */
        H[(size_t)(j - 1) * m + 0] = (1 - pow(h, j)) * fact;
        H[(size_t)(m - 1) * m + (m - j)] = (1 - pow(h, j)) * fact;
    }
    for (int c = 1; c < m; ++c) /* r - c + 1 = 0: the superdiagonal holds 1/0! = 1 */
        H[(size_t)(c - 1) * m + c] = 1;
    H[(size_t)(m - 1) * m] = (1 - 2 * pow(h, m) + (2 * h - 1 > 0 ? pow(2 * h - 1, m) : 0)) * fact;

    long ea = 0, eh = 0;
    int have = 0;
    for (uint64_t e = n;;) {
        if (e & 1) {
            if (!have) {
                memcpy(A, H, sz * sizeof(double));
                ea = eh;
                have = 1;
            } else {
                matmul(T, A, H, m);
                memcpy(A, T, sz * sizeof(double));
                ea += eh;
            }
            renorm(A, m, &ea);
        }
        e >>= 1;
        if (e == 0)
            break;
        matmul(T, H, H, m);
        memcpy(H, T, sz * sizeof(double));
        eh *= 2;
        renorm(H, m, &eh);
    }
    double p = A[(size_t)(k - 1) * m + (k - 1)];
    sl_free(H);
    /* times n!/n^n, one factor i/n at a time, keeping p near 1 by exact power-of-two steps */
    for (uint64_t i = 1; i <= n; ++i) {
        p = p * (double)i / (double)n;
        if (p < 0x1p-128) {
            p *= 0x1p128;
            ea -= 128;
        }
    }
    if (ea < -2000)
        return 0;
    return clip01(ldexp(p, (int)ea));
}

/* P(D_n <= x) by the Pelz-Good asymptotic series K0 + K1/sqrt(n) + K2/n + K3/n^1.5, z = x sqrt(n). */
static double pelz_good_cdf(uint64_t n64, double x)
{
    double n = (double)n64, z = sqrt(n) * x;
    double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2, z7 = z6 * z, z8 = z4 * z4, z10 = z8 * z2;
    double pi2 = M_PI * M_PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2, s2pi = sqrt(2 * M_PI);
    double qlog = -pi2 / 8 / z2;
    if (qlog < -708)
        return 0;
    int kmax = (int)ceil(16 * z / M_PI) + 2;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, e2 = 0, e3 = 0;
    for (int k = 1; k <= kmax; ++k) {
        double mm = (double)(2 * k - 1), m2 = mm * mm, m4 = m2 * m2, m6 = m4 * m2;
        double w = exp(qlog * m2); /* exp(-pi^2 (2k-1)^2 / (8 z^2)) */
        s0 += w;
        s1 += (pi2 * m2 / 4 - z2) * w;
        s2 += (6 * z6 + 2 * z4 + (2 * z4 - 5 * z2) * pi2 * m2 / 4 + pi4 * (1 - 2 * z2) * m4 / 16) * w;
        s3 += (-30 * z6 - 90 * z8 + pi2 * (135 * z4 - 96 * z6) * m2 / 4 + pi4 * (212 * z4 - 60 * z2) * m4 / 16 +
               pi6 * (5 - 30 * z2) * m6 / 64) *
              w;
        double kk = (double)k * k, u = exp(-pi2 * kk / 2 / z2); /* exp(-pi^2 k^2 / (2 z^2)) */
        e2 += kk * u;
        e3 += (3 * z2 - pi2 * kk) * kk * u;
    }
    double K0 = s2pi / z * s0;
    double K1 = s2pi / (6 * z4) * s1;
    double K2 = s2pi / (72 * z7) * s2 - pi2 * s2pi / (36 * z3) * e2;
    double K3 = s2pi / (6480 * z10) * s3 + pi2 * s2pi / (216 * z6) * e3;
    return K0 + K1 / sqrt(n) + K2 / n + K3 / (n * sqrt(n));
}

int sl_special_kstwo_sf(uint64_t n64, double x, double *out)
{
    if (n64 == 0 || isnan(x) || x < 0 || x > 1)
        return SL_EINVAL;
    double n = (double)n64, p;
    if (x >= 1) {
        *out = 0;
        return SL_OK;
    }
    if (x <= 0) {
        *out = 1;
        return SL_OK;
    }
    double t = n * x;
    if (t <= 1) { /* Ruben-Gambino: P(D_n < x) = n!/n^n (2t - 1)^n for 1/2n <= x <= 1/n */
        p = t <= 0.5 ? 1 : 1 - exp(log_nfact_over_npow(n) + n * log(2 * t - 1));
    } else if (t >= n - 1) { /* Ruben-Gambino: P(D_n >= x) = 2 (1 - x)^n for x >= 1 - 1/n */
        p = 2 * exp(n * log1p(-x));
    } else if (x >= 0.5) { /* both one-sided events cannot happen together: exactly 2 * Smirnov */
        p = 2 * smirnov_sf(n64, x);
    } else {
        double nxx = t * x;
        if (n64 <= 140)
            p = nxx <= 4 ? 1 - durbin_cdf(n64, x) : 2 * smirnov_sf(n64, x);
        else if (nxx >= 370)
            p = 0;
        else if (nxx >= 2.2)
            p = 2 * smirnov_sf(n64, x);
        else if (n64 <= 100000 && n * pow(x, 1.5) <= 1.4)
            p = 1 - durbin_cdf(n64, x);
        else
            p = 1 - pelz_good_cdf(n64, x);
    }
    *out = clip01(p);
    return SL_OK;
}
