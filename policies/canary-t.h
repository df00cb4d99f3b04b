/*
 * canary-t.h - types of the canary analysis (functions: policies/canary.h): what the data plane hands over about
 * each version's traffic, the verdict of one check with its numbers, and the analysis state of one rollout.
 */
#ifndef SL_POLICIES_CANARY_T_H
#define SL_POLICIES_CANARY_T_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf-t.h"
#include "stats/canary_seq-t.h"
#include "stats/msprt-t.h"
#include "stats/reservoir-t.h"

/* Samples kept per version and metric (each check's min_samples is at most this). */
#define SL_CANARY_RESERVOIR 1024u

enum en_sl_canary_version_t { SL_CANARY_STABLE = 0, SL_CANARY_CANARY = 1 };

/* The sampled metrics of one version. */
enum en_sl_canary_metric_t {
    SL_CANARY_M_LATENCY = 0, /* end-to-end latency, ms */
    SL_CANARY_M_TTFT,        /* time to first token of streams, ms */
    SL_CANARY_M_TPOT,        /* mean time per output token after the first, ms */
    SL_CANARY_M_CONFIDENCE,  /* the tier's accept signal on judged answers */
    SL_CANARY_M_COUNT
};

/* Counts of one version over a span (a tick). Plain data; the control thread sums per-worker shards into it. */
typedef struct st_sl_canary_counts_t {
    uint64_t requests; /* requests this version answered or failed (client aborts excluded) */
    uint64_t errors;   /* of which failed: an upstream failure or a 5xx answer */
    uint64_t judged;   /* answers the tier's accept rule judged */
    uint64_t accepted; /* of which it accepted (did not escalate) */
    uint64_t stale;    /* of the requests, those routed while another weight was in force (in flight when the step
                          changed): the sample-ratio test leaves them out */
} sl_canary_counts_t;

/* Labelled answers of one version as model monitoring reports them over its feedback window (policies/monitor.h). */
typedef struct st_sl_canary_labels_t {
    uint64_t n;       /* answers whose label arrived, in the window */
    uint64_t correct; /* of which the prediction was the label */
} sl_canary_labels_t;

/* One request's outcome as the analysis sees it; a metric the request has not is NaN. */
typedef struct st_sl_canary_outcome_t {
    int error;
    int judged, accepted;
    double latency_ms, ttft_ms, tpot_ms, confidence;
} sl_canary_outcome_t;

/* Counts and value samples of one version over a span (an interval). Caller-owned (sl_canary_sample_init /
 * dispose); one writer at a time. */
typedef struct st_sl_canary_sample_t {
    sl_canary_counts_t counts;
    sl_reservoir_t values[SL_CANARY_M_COUNT];
} sl_canary_sample_t;

enum en_sl_canary_outcome_kind_t {
    SL_CANARY_PASS = 0, /* enough data, no regression found */
    SL_CANARY_FAIL,     /* a regression (or, for srm, a mismatch) beyond the check's floor, significant */
    SL_CANARY_NO_DATA,  /* not enough data to judge: hold, this is not a verdict */
};

/* What a verdict is about: each timing check yields a shift (Mann-Whitney) and a tail (p99) verdict. */
enum en_sl_canary_kind_t {
    SL_CANARY_K_ERROR_RATE = 0,
    SL_CANARY_K_LATENCY,
    SL_CANARY_K_LATENCY_P99,
    SL_CANARY_K_TTFT,
    SL_CANARY_K_TTFT_P99,
    SL_CANARY_K_TPOT,
    SL_CANARY_K_TPOT_P99,
    SL_CANARY_K_ACCEPT_RATE,
    SL_CANARY_K_CONFIDENCE,
    SL_CANARY_K_SRM,
    SL_CANARY_K_FEEDBACK_ACCURACY,
    SL_CANARY_K_COUNT
};

/*
 * One check's verdict and its numbers. By kind:
 *   error_rate   statistic log Lambda; p always-valid; effect canary - stable error rate; values the rates
 *   latency ...  statistic z of Mann-Whitney U; p one-sided (canary slower); effect P(canary slower) - 1/2;
 *                values the medians
 *   ..._p99      statistic canary samples above p99_ratio x stable p99; p one-sided Fisher exact; effect canary
 *                p99 / stable p99; values the p99s
 *   accept_rate  statistic log Lambda of the mSPRT; p always-valid; effect stable - canary accept rate; values the
 *                accept rates
 *   confidence   statistic and effect the KS distance D; p two-sided; values the medians of the signal
 *   srm          statistic log Lambda; p always-valid; effect observed - expected canary share; values the
 *                observed share and the weight
 *   feedback_accuracy  statistic the canary's wrong answers; p one-sided Fisher exact (canary wrong more often);
 *                effect stable - canary accuracy; values the accuracies
 * threshold is the significance level this look was held to (alpha spent on it); n_* the sample sizes.
 */
typedef struct st_sl_canary_verdict_t {
    uint8_t kind;     /* en_sl_canary_kind_t */
    uint8_t check;    /* en_sl_conf_check_t */
    uint8_t outcome;  /* en_sl_canary_outcome_kind_t */
    uint8_t critical; /* the check is critical in the config */
    uint32_t look;    /* the look's number for checks that spend alpha per look (0 for sequential tests) */
    uint64_t n_canary, n_stable;
    double statistic, p_value, threshold, effect;
    double canary_value, stable_value;
} sl_canary_verdict_t;

/* The part of the analysis that spans the whole rollout and is persisted with it. Plain data. */
typedef struct st_sl_canary_durable_t {
    sl_canary_seq_t errors;            /* sequential error-rate test since the rollout started */
    sl_msprt_t accept;                 /* sequential accept-rate test (escalations as failures) */
    uint64_t judged[2], escalated[2];  /* cumulative, by en_sl_canary_version_t */
    uint32_t looks[SL_CANARY_K_COUNT]; /* looks with data so far, per verdict kind (alpha spending) */
} sl_canary_durable_t;

/* The analysis of one rollout. Caller-owned (sl_canary_init / dispose); control thread. */
typedef struct st_sl_canary_t {
    const sl_conf_rollout_t *conf; /* borrowed; replaced on reload */
    sl_canary_durable_t durable;
    /* the current step, not persisted (a restart begins the step's evidence again) */
    uint32_t weight_permille;       /* the weight in force for this step */
    uint64_t ticks;                 /* ticks counted at this step */
    sl_canary_counts_t step[2];     /* counts at this step, by version */
    uint64_t srm_canary, srm_total; /* requests routed at the step's weight, as the sample-ratio test saw them */
    double srm_max_log_lambda;
    sl_reservoir_t values[2][SL_CANARY_M_COUNT];
    sl_canary_labels_t labels[2]; /* the latest labelled answers handed over (sl_canary_set_labels), by version */
    sl_reservoir_t scratch;       /* merge target, swapped in */
    double *sorted[2];      /* SL_CANARY_RESERVOIR each: sorted copies for the tests */
} sl_canary_t;

#endif
