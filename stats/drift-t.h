/*
 * drift-t.h - types of the distribution-drift measures (PSI, Jensen-Shannon distance).
 */
#ifndef SL_STATS_DRIFT_T_H
#define SL_STATS_DRIFT_T_H

#include <stdint.h>

#include "stats/special-t.h"

#define SL_DRIFT_DEFAULT_BINS 10u /* quantile bins of a numeric feature */
#define SL_DRIFT_MAX_BINS 1000u   /* hard cap on k */
#define SL_DRIFT_PSI_EPSILON 1e-4 /* added to every bin proportion before PSI's logarithms */

typedef struct st_sl_drift_result_t {
    enum en_sl_stat_status_t status; /* SL_STAT_NO_DATA when either side has no observation (value 0) */
    double value;                    /* PSI (>= 0, unbounded) or JS distance (in [0, 1]) */
    uint64_t n_ref, n_cur;           /* observations on each side */
} sl_drift_result_t;

#endif
