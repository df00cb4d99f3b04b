/*
 * canary_tail.c - exact binomial and hypergeometric tails, and alpha spending (stats/canary_tail.h).
 *
 * A tail is a sum of probability masses taken from its inner end outward. The first mass is formed with Loader's
 * saddle-point terms (stats/special.h: stirlerr, bd0), which keep full relative accuracy where differences of
 * log-gamma values of large arguments would lose ~1e-9; the following ones come from the ratio of consecutive
 * masses, relative to the first. The sum stops when a term falls below 2^-60 of the running sum beyond the mean,
 * or the support ends. Binomial and hypergeometric masses are log-concave, so past the mode each term is smaller
 * than the one before and what is left out is negligible. A tail that holds the mean is computed as 1 minus the
 * other tail, so every result keeps relative accuracy where it is small.
 */
#include "stats/canary_tail.h"

#include <math.h>

#include "common/status.h"
#include "stats/special.h"

#define MAX_COUNT 9007199254740992ull /* 2^53 */

double sl_canary_spend(double alpha, uint64_t look)
{
    if (look == 0)
        return 0;
    double k = (double)look;
    return alpha * 6.0 / (M_PI * M_PI * k * k);
}

/* log P(X = x) for X ~ Binomial(n, p), 0 < p < 1, by Loader's saddle-point form (no cancellation between
 * log-gamma values of large arguments, which would cost ~1e-9 relative accuracy at n = 10^6):
 *   log P = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n p) - bd0(n - x, n q) + log sqrt(n / (2 pi x (n - x)))
 */
static double binom_logpmf(double x, double n, double p)
{
    double q = 1 - p;
    if (x == 0)
        return n * log1p(-p);
    if (x == n)
        return n * log(p);
    return sl_special_stirlerr(n) - sl_special_stirlerr(x) - sl_special_stirlerr(n - x) - sl_special_bd0(x, n * p) -
           sl_special_bd0(n - x, n * q) + 0.5 * log(n / (2 * M_PI * x * (n - x)));
}

/* Sum of P(X = y) for y from x stepping by dir (+1 up, -1 down) to the end of the support, 0 < p < 1. */
static double binom_walk(uint64_t x, uint64_t n, double p, int dir)
{
    double lp = binom_logpmf((double)x, (double)n, p), term = 1, sum = 0, odds = p / (1 - p);
    uint64_t y = x;
    for (;;) {
        sum += term;
        if (term < sum * 0x1p-60 && ((dir > 0 && (double)y > (double)n * p) || (dir < 0 && (double)y < (double)n * p)))
            break;
        if ((dir > 0 && y == n) || (dir < 0 && y == 0))
            break;
        if (dir > 0) {
            term *= (double)(n - y) / (double)(y + 1) * odds;
            ++y;
        } else {
            term *= (double)y / (double)(n - y + 1) / odds;
            --y;
        }
        if (term == 0)
            break;
    }
    return exp(lp + log(sum));
}

static int binom_args_ok(uint64_t x, uint64_t n, double p)
{
    return n < MAX_COUNT && x <= n && p >= 0 && p <= 1;
}

int sl_canary_binom_sf(uint64_t x, uint64_t n, double p, double *out)
{
    if (!binom_args_ok(x, n, p))
        return SL_EINVAL;
    double r;
    if (x == 0 || p == 1)
        r = 1;
    else if (p == 0)
        r = 0;
    else if ((double)x > (double)n * p)
        r = binom_walk(x, n, p, +1);
    else
        r = 1 - binom_walk(x - 1, n, p, -1);
    *out = r < 0 ? 0 : r > 1 ? 1 : r;
    return SL_OK;
}

int sl_canary_binom_cdf(uint64_t x, uint64_t n, double p, double *out)
{
    if (!binom_args_ok(x, n, p))
        return SL_EINVAL;
    double r;
    if (x == n || p == 0)
        r = 1;
    else if (p == 1)
        r = 0;
    else if ((double)x < (double)n * p)
        r = binom_walk(x, n, p, -1);
    else
        r = 1 - binom_walk(x + 1, n, p, +1);
    *out = r < 0 ? 0 : r > 1 ? 1 : r;
    return SL_OK;
}

int sl_canary_binom_test(uint64_t x, uint64_t n, double p, double *out)
{
    if (!binom_args_ok(x, n, p) || n == 0 || p <= 0 || p >= 1)
        return SL_EINVAL;
    double nd = (double)n, lx = binom_logpmf((double)x, nd, p) + log1p(1e-7), mean = nd * p, r;
    /* the other side's boundary: the first y beyond the mode, on the side away from x, whose mass is <= x's */
    if ((double)x == mean) {
        r = 1;
    } else if ((double)x < mean) {
        uint64_t lo = (uint64_t)ceil(mean), hi = n;
        if (binom_logpmf((double)n, nd, p) > lx) {
            lo = n + 1; /* no such y */
        } else {
            while (lo < hi) { /* masses decrease past the mode: bisect */
                uint64_t mid = lo + (hi - lo) / 2;
                if (binom_logpmf((double)mid, nd, p) <= lx)
                    hi = mid;
                else
                    lo = mid + 1;
            }
        }
        double a, b = 0;
        sl_canary_binom_cdf(x, n, p, &a);
        if (lo <= n)
            sl_canary_binom_sf(lo, n, p, &b);
        r = a + b;
    } else {
        uint64_t hi = (uint64_t)floor(mean), lo = 0;
        int none = binom_logpmf(0, nd, p) > lx;
        if (!none) {
            while (lo < hi) {
                uint64_t mid = lo + (hi - lo + 1) / 2;
                if (binom_logpmf((double)mid, nd, p) <= lx)
                    lo = mid;
                else
                    hi = mid - 1;
            }
        }
        double a, b = 0;
        sl_canary_binom_sf(x, n, p, &a);
        if (!none)
            sl_canary_binom_cdf(lo, n, p, &b);
        r = a + b;
    }
    *out = r > 1 ? 1 : r;
    return SL_OK;
}

/* log P(X = x) for the hypergeometric law, as three binomial masses at p = draws / total (the form of Loader's
 * dhyper): P = b(x; good, p) b(draws - x; total - good, p) / b(draws; total, p). */
static double hyper_logpmf(double x, double total, double good, double draws)
{
    double p = draws / total;
    if (p == 0 || p == 1)
        return 0; /* nothing or everything drawn: the only value in the support */
    return binom_logpmf(x, good, p) + binom_logpmf(draws - x, total - good, p) - binom_logpmf(draws, total, p);
}

int sl_canary_hypergeom_sf(uint64_t x, uint64_t total, uint64_t good, uint64_t draws, double *out)
{
    if (total >= MAX_COUNT || good > total || draws > total)
        return SL_EINVAL;
    uint64_t lo = good + draws > total ? good + draws - total : 0, hi = good < draws ? good : draws;
    if (x <= lo) {
        *out = 1;
        return SL_OK;
    }
    if (x > hi) {
        *out = 0;
        return SL_OK;
    }
    double t = (double)total, g = (double)good, d = (double)draws, mean = d * g / t;
    /* walk from `from` by dir to the end of the support; terms by the ratio of consecutive masses */
    int upper = (double)x > mean;
    uint64_t y = upper ? x : x - 1;
    double term = 1, sum = 0, lp = hyper_logpmf((double)y, t, g, d);
    for (;;) {
        sum += term;
        if (term < sum * 0x1p-60 && (upper ? (double)y > mean : (double)y < mean))
            break;
        if (upper ? y == hi : y == lo)
            break;
        double yy = (double)y;
        if (upper) {
            term *= (g - yy) * (d - yy) / ((yy + 1) * (t - g - d + yy + 1));
            ++y;
        } else {
            term *= yy * (t - g - d + yy) / ((g - yy + 1) * (d - yy + 1));
            --y;
        }
        if (term == 0)
            break;
    }
    double tail = exp(lp + log(sum));
    double r = upper ? tail : 1 - tail;
    *out = r < 0 ? 0 : r > 1 ? 1 : r;
    return SL_OK;
}
