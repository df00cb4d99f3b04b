/*
 * special.c - the normal tail, the regularized incomplete gamma functions (chi-square tail) and the limiting
 * Kolmogorov distribution; Loader's binomial building blocks shared with special_ks.c.
 *
 * Design. Every p-value of stats/ ends here, so the one rule is relative accuracy in the far tails: a regression
 * whose p-value is 1e-300 must read 1e-300, not 0 and not 1e-290. Three habits give it.
 *  - Tails are computed directly, never as 1 - cdf: the normal survival is erfc(z / sqrt 2) / 2 (libm's erfc keeps
 *    a few ulps down to its underflow at z = 38.5), the gamma upper tail Q comes from its continued fraction when
 *    x >= a + 1 (where Q is the small one) and P from its series otherwise.
 *  - The common prefactor x^a e^-x / Gamma(a) is exp(-bd0(a, x) - stirlerr(a)) sqrt(a / 2 pi), with Loader's
 *    deviance bd0(a, x) = a log(a/x) + x - a summed as a series when x is near a. The naive
 *    exp(a log x - x - lgamma(a)) loses |a log a| * 1e-16 of absolute accuracy in the exponent: 1e-9 relative at
 *    a = 5e5, which the chi-square tests of a wide categorical feature would see.
 *  - Iterations are bounded (a few sqrt(a) at worst) and every result is clipped to [0, 1]; underflow is an exact 0.
 *
 * Everything is a pure function of its arguments: any thread, no allocation, no state (lgamma_r, not lgamma, so
 * the sign global is never written).
 */
#include "stats/special.h"

#include <float.h>
#include <math.h>

#include "common/status.h"

#define LOG_SQRT_2PI 0.91893853320467274178032973640561764 /* log(sqrt(2 pi)) */
#define GAMMA_EPS 1e-16
#define TINY 1e-300

static inline double clip01(double p)
{
    return p < 0 ? 0 : (p > 1 ? 1 : p);
}

int sl_special_norm_sf(double z, double *out)
{
    if (isnan(z))
        return SL_EINVAL;
    *out = clip01(0.5 * erfc(z * M_SQRT1_2));
    return SL_OK;
}

int sl_special_norm_cdf(double z, double *out)
{
    if (isnan(z))
        return SL_EINVAL;
    *out = clip01(0.5 * erfc(-z * M_SQRT1_2));
    return SL_OK;
}

double sl_special_stirlerr(double n)
{
    /* Stirling's series: 1/12n - 1/360n^3 + 1/1260n^5 - 1/1680n^7 + 1/1188n^9 - 691/360360n^11; from n > 15 the
     * first omitted term is below 1e-17 of the sum. Below, the definition itself (|error| ~ 1e-14 absolute). */
    if (n > 15) {
        double nn = n * n;
        return (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - (1.0 / 1680 - (1.0 / 1188 - 691.0 / 360360 / nn) / nn) / nn) / nn) / nn) /
               n;
    }
    int sign;
    return lgamma_r(n + 1, &sign) - (n + 0.5) * log(n) + n - LOG_SQRT_2PI;
}

double sl_special_bd0(double x, double m)
{
    if (fabs(x - m) < 0.1 * (x + m)) {
        /* x log(x/m) + m - x = (x - m) v + 2x sum_{j>=1} v^(2j+1) / (2j+1), v = (x - m)/(x + m) */
        double v = (x - m) / (x + m), s = (x - m) * v, ej = 2 * x * v, v2 = v * v;
        for (int j = 1; j < 1000; ++j) {
            ej *= v2;
            double s1 = s + ej / (2 * j + 1);
            if (s1 == s)
                return s1;
            s = s1;
        }
        return s;
    }
    return x * log(x / m) + m - x;
}

/* log of x^a e^-x / Gamma(a), for a > 0, x > 0 */
static double log_gamma_prefactor(double a, double x)
{
    return -sl_special_bd0(a, x) - sl_special_stirlerr(a) + 0.5 * log(a) - LOG_SQRT_2PI;
}

/* P(a, x) by its series, x < a + 1: x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a+1)...(a+n)) */
static double gamma_p_series(double a, double x, double logpref)
{
    double term = 1, sum = 1;
    long cap = 1000 + (long)(50 * sqrt(a));
    for (long n = 1; n < cap; ++n) {
        term *= x / (a + n);
        sum += term;
        if (term < sum * GAMMA_EPS)
            break;
    }
    return exp(logpref - log(a)) * sum;
}

/* Q(a, x) by its continued fraction (modified Lentz), x >= a + 1 */
static double gamma_q_fraction(double a, double x, double logpref)
{
    double b = x + 1 - a, c = 1 / TINY, d = 1 / b, h = d;
    long cap = 1000 + (long)(50 * sqrt(a));
    for (long i = 1; i < cap; ++i) {
        double an = -(double)i * ((double)i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < TINY)
            d = TINY;
        c = b + an / c;
        if (fabs(c) < TINY)
            c = TINY;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < GAMMA_EPS)
            break;
    }
    return exp(logpref) * h;
}

/* Sets *p and *q = P(a, x), Q(a, x); arguments already validated. */
static void gamma_pq(double a, double x, double *p, double *q)
{
    if (x == 0) {
        *p = 0, *q = 1;
        return;
    }
    if (isinf(x)) {
        *p = 1, *q = 0;
        return;
    }
    double logpref = log_gamma_prefactor(a, x);
    if (x < a + 1) {
        double pv = logpref < -760 ? 0 : clip01(gamma_p_series(a, x, logpref));
        *p = pv, *q = clip01(1 - pv);
    } else {
        double qv = logpref < -760 ? 0 : clip01(gamma_q_fraction(a, x, logpref));
        *q = qv, *p = clip01(1 - qv);
    }
}

static int gamma_args_ok(double a, double x)
{
    return !isnan(a) && !isnan(x) && a > 0 && a <= 1e8 && x >= 0;
}

int sl_special_gamma_p(double a, double x, double *out)
{
    double p, q;
    if (!gamma_args_ok(a, x))
        return SL_EINVAL;
    gamma_pq(a, x, &p, &q);
    *out = p;
    return SL_OK;
}

int sl_special_gamma_q(double a, double x, double *out)
{
    double p, q;
    if (!gamma_args_ok(a, x))
        return SL_EINVAL;
    gamma_pq(a, x, &p, &q);
    *out = q;
    return SL_OK;
}

int sl_special_chi2_sf(double x, double dof, double *out)
{
    if (isnan(x) || isnan(dof) || !(dof > 0) || dof > 2e8)
        return SL_EINVAL;
    if (x <= 0) {
        *out = 1;
        return SL_OK;
    }
    return sl_special_gamma_q(dof / 2, x / 2, out);
}

int sl_special_kolmogorov_sf(double y, double *out)
{
    if (isnan(y))
        return SL_EINVAL;
    /* below y = pi / sqrt(8 * 746) every term of the theta series underflows: the cdf is 0 */
    if (y <= M_PI / sqrt(8.0 * 746)) {
        *out = 1;
        return SL_OK;
    }
    double p = 0;
    if (y <= 0.82) {
        /* cdf = sqrt(2 pi)/y sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 y^2)) */
        double alpha = -M_PI * M_PI / (8 * y * y);
        for (int k = 1; k < 100; ++k) {
            double m = 2 * k - 1, t = exp(alpha * m * m);
            p += t;
            if (t <= p * 1e-17)
                break;
        }
        p = 1 - p * sqrt(2 * M_PI) / y;
    } else {
        /* sf = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 y^2) */
        double sign = 1;
        for (int k = 1; k < 100; ++k) {
            double t = exp(-2.0 * k * k * y * y);
            p += sign * t;
            if (t <= fabs(p) * 1e-17)
                break;
            sign = -sign;
        }
        p *= 2;
    }
    *out = clip01(p);
    return SL_OK;
}
