/*
 * chisq-t.h - result of Pearson's chi-square tests on categorical counts.
 */
#ifndef SL_STATS_CHISQ_T_H
#define SL_STATS_CHISQ_T_H

#include <stdint.h>

#include "stats/special-t.h"

typedef struct st_sl_chisq_result_t {
    enum en_sl_stat_status_t status; /* SL_STAT_NO_DATA: no observations, or fewer than 2 usable categories */
    double statistic;                /* sum (O - E)^2 / E over the usable categories */
    uint32_t dof;                    /* usable categories - 1 */
    double p_value;                  /* P(chi2(dof) >= statistic); 0 when unseen > 0 */
    uint64_t n;                      /* observations counted */
    uint64_t unseen;                 /* goodness of fit: observations in categories the reference gives probability 0 */
} sl_chisq_result_t;

#endif
