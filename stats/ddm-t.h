/*
 * ddm-t.h - types of the Drift Detection Method (Gama et al. 2004) on an error stream.
 */
#ifndef SL_STATS_DDM_T_H
#define SL_STATS_DDM_T_H

#include <stdint.h>

#define SL_DDM_DEFAULT_MIN_SAMPLES 30u
#define SL_DDM_DEFAULT_WARNING 2.0
#define SL_DDM_DEFAULT_DRIFT 3.0

enum en_sl_ddm_state_t {
    SL_DDM_IN_CONTROL = 0,
    SL_DDM_WARNING, /* p + s > p_min + warning s_min: the error rate may be rising */
    SL_DDM_DRIFT,   /* p + s > p_min + drift s_min: concept drift; the detector restarted on this sample */
};

typedef struct st_sl_ddm_params_t {
    uint32_t min_samples; /* samples since the last (re)start before any rule applies (>= 1; default 30) */
    double warning;       /* warning multiple of s_min (default 2) */
    double drift;         /* drift multiple of s_min (default 3; > warning) */
} sl_ddm_params_t;

/* Caller-owned, no heap, O(1) per sample; one thread. */
typedef struct st_sl_ddm_t {
    sl_ddm_params_t params;
    uint64_t n, errors;  /* since the last (re)start */
    double p_min, s_min; /* at the minimum of p + s (infinite until min_samples) */
    enum en_sl_ddm_state_t state;
    uint64_t seen;   /* samples since init */
    uint64_t drifts; /* drift signals since init */
} sl_ddm_t;

#endif
