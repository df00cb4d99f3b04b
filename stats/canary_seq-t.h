/*
 * canary_seq-t.h - types of the always-valid sequential test of a canary's error rate against the concurrent
 * stable error rate (stats/canary_seq.h).
 */
#ifndef SL_STATS_CANARY_SEQ_T_H
#define SL_STATS_CANARY_SEQ_T_H

#include <stdint.h>

#include "stats/special-t.h"

/* Points of the mixing distribution over the rate ratio (canary rate / stable rate, relative to min_ratio). */
#define SL_CANARY_SEQ_GRID 8

typedef struct st_sl_canary_seq_params_t {
    double alpha;     /* in (0, 1): reject when the always-valid p-value falls to alpha or below */
    double min_ratio; /* >= 1: H0 is "canary rate <= min_ratio x stable rate" */
} sl_canary_seq_params_t;

/* Running state of one test. Plain data (it is persisted with the rollout); caller-owned; one thread (control). */
typedef struct st_sl_canary_seq_t {
    sl_canary_seq_params_t params;
    double log_lr[SL_CANARY_SEQ_GRID]; /* log likelihood ratio of each alternative ratio against min_ratio so far */
    double max_log_lambda;             /* running maximum of log Lambda (the mixture); the p-value is exp(-it) */
    uint64_t errors_t, n_t;            /* cumulative canary errors and requests */
    uint64_t errors_c, n_c;            /* cumulative stable errors and requests */
    uint64_t batches;                  /* batches applied to the ratios (both versions had requests) */
    uint64_t pend_errors_t, pend_n_t;  /* counts held back until both versions have had requests: pooled with */
    uint64_t pend_errors_c, pend_n_c;  /* the next batches into one (a one-sided batch says nothing alone) */
    double load_t[SL_CANARY_SEQ_GRID]; /* sums over the applied batches of n_t L_k and n_c L_k, L_k = log(1 + w (g_k */
    double load_c[SL_CANARY_SEQ_GRID]; /* - 1)): the expected evidence under any rates (sl_canary_seq_expected) */
    int rejected;                      /* p-value <= alpha was reached (sticky) */
} sl_canary_seq_t;

typedef struct st_sl_canary_seq_result_t {
    enum en_sl_stat_status_t status; /* SL_STAT_NO_DATA until a batch had requests on both versions */
    double log_lambda;               /* log of the mixture likelihood ratio after this batch */
    double p_value;                  /* always-valid p-value: exp(-running max of log Lambda), in (0, 1] */
    double rate_t, rate_c;           /* cumulative error rates (0 when a version has no request) */
    int reject;                      /* p_value <= alpha */
} sl_canary_seq_result_t;

#endif
