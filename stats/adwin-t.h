/*
 * adwin-t.h - types of ADWIN2, the adaptive sliding window change detector (Bifet and Gavalda 2007).
 */
#ifndef SL_STATS_ADWIN_T_H
#define SL_STATS_ADWIN_T_H

#include <stdint.h>

#define SL_ADWIN_DEFAULT_DELTA 0.002
#define SL_ADWIN_DEFAULT_MAX_BUCKETS 5u /* M: buckets of each size before two merge */
#define SL_ADWIN_DEFAULT_MAX_LEVELS 32u /* bucket sizes 1 .. 2^31: a window of up to M (2^32 - 1) samples */
#define SL_ADWIN_MAX_LEVELS 48u

typedef struct st_sl_adwin_params_t {
    double delta;         /* confidence, in (0, 1) */
    uint32_t max_buckets; /* M >= 2 */
    uint32_t max_levels;  /* 1 .. SL_ADWIN_MAX_LEVELS; the window keeps at most M (2^levels - 1) samples */
    uint32_t clock;       /* look for a cut every `clock` samples (>= 1; 1 = every sample, as the paper) */
} sl_adwin_params_t;

/* One bucket of the exponential histogram: 2^level samples summarized. */
typedef struct st_sl_adwin_bucket_t {
    double sum; /* of the samples */
    double m2;  /* sum of squared deviations from their mean */
} sl_adwin_bucket_t;

/* Caller-owned; the bucket rows are allocated by sl_adwin_init. One thread (control). */
typedef struct st_sl_adwin_t {
    sl_adwin_params_t params;
    sl_adwin_bucket_t *rows_private; /* max_levels rows of max_buckets + 1 slots, oldest first within a row */
    uint32_t *row_len_private;       /* buckets in each row */
    uint32_t levels;                 /* rows in use */
    uint64_t width;                  /* samples in the window */
    double total;                    /* their sum */
    double m2;                       /* their sum of squared deviations */
    uint64_t seen;                   /* samples since init */
    uint64_t detections;             /* steps at which the window was cut */
} sl_adwin_t;

#endif
