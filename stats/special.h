/*
 * special.h - special functions behind the p-values of stats/: the normal tail, the regularized incomplete gamma
 * function (chi-square tail), and the Kolmogorov-Smirnov family (limiting Kolmogorov distribution, the exact
 * one-sample two-sided distribution for finite n, Smirnov's one-sided distribution).
 *
 * Every function is pure (no state, no allocation unless said), deterministic, callable from any thread, and
 * validates its arguments: a NaN or out-of-domain argument returns SL_EINVAL and leaves *out untouched. Results are
 * always finite and clipped to [0, 1] where they are probabilities; a tail that underflows is exactly 0.
 */
#ifndef SL_STATS_SPECIAL_H
#define SL_STATS_SPECIAL_H

#include "stats/special-t.h"

#include <stdint.h>

/* Standard normal distribution: *out = Phi(z) (cdf) or 1 - Phi(z) (sf), computed as erfc(-+z / sqrt 2) / 2 so the
 * far tails keep full relative accuracy (sf(37.5) = 2.3e-308 is exact to a few ulps). z may be +-infinity.
 * Returns SL_OK or SL_EINVAL (z is NaN). */
int sl_special_norm_cdf(double z, double *out);
int sl_special_norm_sf(double z, double *out);

/* Regularized incomplete gamma functions P(a, x) = gamma(a, x) / Gamma(a) and Q(a, x) = 1 - P(a, x), for
 * 0 < a <= 1e8 and x >= 0 (x may be +infinity). Series for x < a + 1, continued fraction otherwise, with the
 * prefactor x^a e^-x / Gamma(a) formed from Loader's deviance and Stirling's series so it keeps ~1e-14 relative
 * accuracy for large a; O(sqrt(a)) iterations at worst. Returns SL_OK or SL_EINVAL (NaN, a out of range, x < 0). */
int sl_special_gamma_p(double a, double x, double *out);
int sl_special_gamma_q(double a, double x, double *out);

/* Chi-square survival function: P(X >= x) for X ~ chi2(dof) = Q(dof / 2, x / 2). dof in (0, 2e8], x >= 0
 * (x <= 0 gives 1). Returns SL_OK or SL_EINVAL. */
int sl_special_chi2_sf(double x, double dof, double *out);

/* Limiting Kolmogorov distribution: *out = P(K > y) where K = sup |B(t)| of a Brownian bridge (y >= 0; y <= 0
 * gives 1). The alternating series 2 sum (-1)^(k-1) exp(-2 k^2 y^2) for y > 0.82, the Jacobi-theta form
 * sqrt(2 pi)/y sum exp(-(2k-1)^2 pi^2 / (8 y^2)) below. Returns SL_OK or SL_EINVAL (NaN). */
int sl_special_kolmogorov_sf(double y, double *out);

/* Smirnov's one-sided distribution: *out = P(D+_n >= d) for the one-sample statistic D+_n = sup(F_n - F), n >= 1,
 * d in [0, 1]. Exact Birnbaum-Tingey sum (terms formed with Loader's binomial deviance, all positive, so no
 * cancellation) for n <= 1e6, O(n) terms at most; for n > 1e6 the approximation exp(-(6nd + 1)^2 / (18 n)).
 * Returns SL_OK or SL_EINVAL (n = 0, d NaN or outside [0, 1]). */
int sl_special_smirnov_sf(uint64_t n, double d, double *out);

/*
 * Two-sided one-sample Kolmogorov-Smirnov distribution for finite n: *out = P(D_n >= d), D_n = sup |F_n - F|,
 * n >= 1, d in [0, 1]. The method depends on (n, d) as in Simard and L'Ecuyer (2011), with the same cut-offs as
 * scipy.stats.kstwo (so the values agree with it to ~1e-12): the Ruben-Gambino closed forms at the ends
 * (nd <= 1, nd >= n - 1), 2 * Smirnov for d >= 0.5 and wherever n d^2 is large (> 4 for n <= 140, >= 2.2 above;
 * 0 from n d^2 >= 370), the Durbin matrix (Marsaglia-Tsang-Wang, O(m^3 log n) with m = 2 ceil(nd) - 1) for the
 * exact body (n <= 140, or n <= 1e5 and n d^1.5 <= 1.4), and the Pelz-Good asymptotic series otherwise.
 * Allocates three m x m matrices (m <= 117) transiently. Returns SL_OK or SL_EINVAL.
 */
int sl_special_kstwo_sf(uint64_t n, double d, double *out);

/* Building blocks of Loader (2000), "Fast and accurate computation of binomial probabilities", shared by the
 * modules above; exported for their tests. sl_special_stirlerr(n) = log(n!) - log(sqrt(2 pi n) (n/e)^n) for n >= 1
 * (Stirling series from n > 15, direct below); sl_special_bd0(x, m) = x log(x/m) + m - x for x > 0, m > 0, by a
 * series when x and m are close so it keeps full relative accuracy. Arguments are not validated. */
double sl_special_stirlerr(double n);
double sl_special_bd0(double x, double m);

#endif
