/*
 * mwu-t.h - result of the two-sided Mann-Whitney U test.
 */
#ifndef SL_STATS_MWU_T_H
#define SL_STATS_MWU_T_H

#include <stdint.h>

#include "stats/special-t.h"

typedef struct st_sl_mwu_result_t {
    enum en_sl_stat_status_t status; /* SL_STAT_NO_DATA when either sample is empty (all numbers 0) */
    uint64_t n_x, n_y;
    double u_x;              /* U of the first sample: pairs (x_i, y_j) with x_i > y_j, plus half the ties (scipy's U1) */
    double z;                /* (max(U_x, U_y) - n_x n_y / 2 - 0.5) / sigma, tie-corrected sigma; 0 when every value ties */
    double p_value;          /* two-sided, 2 * (1 - Phi(z)) clipped to [0, 1]; 1 when every value ties */
    double prob_superiority; /* U_x / (n_x n_y) = P(X > Y) + P(X = Y) / 2, the common-language effect size */
} sl_mwu_result_t;

#endif
