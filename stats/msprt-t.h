/*
 * msprt-t.h - types of the sequential (always-valid) two-proportion test used by the canary error-rate check.
 */
#ifndef SL_STATS_MSPRT_T_H
#define SL_STATS_MSPRT_T_H

#include <stdint.h>

#include "stats/special-t.h"

#define SL_MSPRT_DEFAULT_TAU 0.05   /* mixing standard deviation of the effect, in error-rate units */
#define SL_MSPRT_DEFAULT_ALPHA 0.05 /* false-alarm bound over the whole (unbounded) sequence of looks */

enum en_sl_msprt_side_t {
    SL_MSPRT_GREATER = 0, /* H1: the treatment (canary) error rate exceeds the control's by more than min_effect */
    SL_MSPRT_TWO_SIDED,   /* H1: the rates differ (min_effect must be 0) */
};

typedef struct st_sl_msprt_params_t {
    double tau;           /* > 0: standard deviation of the normal mixing distribution over the effect */
    double alpha;         /* in (0, 1): reject when the always-valid p-value falls to alpha or below */
    double min_effect;    /* >= 0: H0 is "difference <= min_effect" (GREATER); must be 0 for TWO_SIDED */
    uint64_t min_samples; /* looks with fewer observations than this on either arm are "no data" */
    enum en_sl_msprt_side_t side;
} sl_msprt_params_t;

/* The running state of one test: the p-value only ever falls. Caller-owned, no heap; one thread (control). */
typedef struct st_sl_msprt_t {
    sl_msprt_params_t params;
    double p_value; /* always-valid p-value so far: min over looks of 1 / Lambda, starts at 1 */
    uint64_t looks; /* looks that had data */
    int rejected;   /* p_value <= alpha was reached (sticky) */
} sl_msprt_t;

typedef struct st_sl_msprt_result_t {
    enum en_sl_stat_status_t status; /* SL_STAT_NO_DATA: an arm below min_samples (the state is unchanged) */
    double diff;                     /* observed treatment rate - control rate */
    double variance;                 /* estimated variance of diff */
    double log_lr;                   /* log of the mixture likelihood ratio at this look (<= 0 when diff is on the H0 side) */
    double p_value;                  /* always-valid p-value after this look */
    int reject;                      /* p_value <= alpha */
} sl_msprt_result_t;

#endif
