/*
 * adwin.h - ADWIN2 (Bifet and Gavalda, "Learning from time-changing data with adaptive windowing", SDM 2007): a
 * window over a stream of values in [0, 1] (here: prediction errors, 0 or 1) that grows while the stream is
 * stationary and drops its older part as soon as the two parts' means differ more than chance allows. A cut is a
 * concept-drift signal; the window's mean is the current error rate.
 *
 * The window lives in an exponential histogram: at most M buckets of each size 1, 2, 4, ...; memory is
 * O(M log W) for a window of W samples (fixed at init: max_levels rows of M + 1 buckets, 16 bytes each).
 */
#ifndef SL_STATS_ADWIN_H
#define SL_STATS_ADWIN_H

#include "stats/adwin-t.h"

/* Fills *params with the defaults: delta 0.002, M = 5, 32 levels, clock 1. */
void sl_adwin_params_default(sl_adwin_params_t *params);

/* Starts an empty detector and allocates its rows. Returns SL_OK or SL_EINVAL (parameter out of range; *a
 * untouched). The caller owns a and calls sl_adwin_dispose(). Control thread (allocates). */
int sl_adwin_init(sl_adwin_t *a, const sl_adwin_params_t *params);

/* Frees the rows; safe on a zero-filled or disposed a. */
void sl_adwin_dispose(sl_adwin_t *a);

/*
 * Adds x (in [0, 1]) as the newest sample, then, on every clock-th sample, looks for a cut: for each boundary
 * between two buckets, splitting the window W into an older W0 (n0 samples, mean mu0) and a newer W1 (n1, mu1),
 *     cut when |mu0 - mu1| >= eps = sqrt(2 / m * var_W * L) + 2 / (3 m) * L,
 *     m = 1 / (1/n0 + 1/n1),  L = ln(2 / delta'),  delta' = delta / ln W,  var_W = m2 / W (population variance)
 * and while a cut exists the oldest bucket is dropped and the window checked again (the paper's ADWIN2 with its
 * Bernstein-type bound and delta' = delta / ln W, justified by the O(log W) boundaries tested). *changed is set to 1
 * when at least one bucket was dropped at this step (may be NULL). Cost O(M log W) per check, no allocation.
 * When the window would exceed M (2^levels - 1) samples its oldest bucket is dropped silently (no change signal).
 * Returns SL_OK, or SL_EINVAL (x NaN or outside [0, 1]; nothing changed).
 */
int sl_adwin_observe(sl_adwin_t *a, double x, int *changed);

/* The window's mean (0 when empty) and width. */
double sl_adwin_mean(const sl_adwin_t *a);
uint64_t sl_adwin_width(const sl_adwin_t *a);

#endif
