/*
 * ks-t.h - result of the two-sample Kolmogorov-Smirnov test.
 */
#ifndef SL_STATS_KS_T_H
#define SL_STATS_KS_T_H

#include <stdint.h>

#include "stats/special-t.h"

/* Samples up to this size on both sides get the exact p-value (scipy's method='auto' rule); larger ones the
 * asymptotic one. */
#define SL_KS_EXACT_MAX_N 10000u

enum en_sl_ks_method_t {
    SL_KS_EXACT = 0,  /* lattice-path count of P(D >= d) under H0 (Hodges 1958) */
    SL_KS_ASYMPTOTIC, /* P(D_m >= d) of the one-sample law with m = round(n_x n_y / (n_x + n_y)) */
};

typedef struct st_sl_ks_result_t {
    enum en_sl_stat_status_t status; /* SL_STAT_NO_DATA when either sample is empty (all numbers 0) */
    enum en_sl_ks_method_t method;
    uint64_t n_x, n_y;
    double statistic; /* D = sup |F_x - F_y|, in [0, 1] */
    double p_value;   /* two-sided, in [0, 1] */
} sl_ks_result_t;

#endif
