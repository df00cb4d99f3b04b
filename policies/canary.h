/*
 * canary.h - the analysis of a canary rollout: canary traffic compared with the concurrent stable traffic, check by
 * check, into verdicts (pass / fail / no data) with their numbers. docs/ROLLOUTS.md states every test in words and
 * formulas; the state machine that acts on the verdicts is policies/rollout.h.
 *
 * Feeding (control thread): every tick, the tick's counts of each version (sl_canary_tick: the sequential error-rate
 * and sample-ratio tests look at every tick, which their always-valid p-values allow); at each interval end, the
 * interval's value samples of each version (sl_canary_add_values) and then sl_canary_analyze for every enabled
 * check. Samples of one step accumulate until the step changes (sl_canary_begin_step). On the workers, outcomes
 * go into sl_canary_sample_t shards (O(1), no allocation) that the control thread merges.
 *
 * The check functions (sl_canary_check_*) are pure: the same inputs give the same verdict, with no state, no
 * clock, no allocation; the analysis object only keeps their inputs and the looks counted so far.
 */
#ifndef SL_POLICIES_CANARY_H
#define SL_POLICIES_CANARY_H

#include "policies/canary-t.h"

/* ---- samples (canary_sample.c) ---- */

/* Allocates the reservoirs (SL_CANARY_RESERVOIR values per metric); empty. Returns SL_OK. The caller owns s and
 * calls sl_canary_sample_dispose(). Control thread (allocates). */
int sl_canary_sample_init(sl_canary_sample_t *s);
/* Frees the reservoirs; safe on a zero-filled or disposed s. */
void sl_canary_sample_dispose(sl_canary_sample_t *s);
/* Empties s (keeps the storage). */
void sl_canary_sample_reset(sl_canary_sample_t *s);
/* Adds one request's outcome: counts, and each metric that is not NaN into its reservoir, with random draws
 * derived from `draw` (the worker's PRNG). O(1), no allocation: the request path, on the worker's own shard. */
void sl_canary_sample_observe(sl_canary_sample_t *s, const sl_canary_outcome_t *o, uint64_t draw);
/* dst := dst and src together: counts added, each reservoir a uniform sample of both streams (sl_reservoir_merge;
 * *rng a splitmix64 state). src is borrowed. Returns SL_OK or SL_EINVAL (dst == src; dst untouched). Control
 * thread (allocates scratch). */
int sl_canary_sample_merge(sl_canary_sample_t *dst, const sl_canary_sample_t *src, uint64_t *rng);

/* ---- the checks, pure (canary_checks.c) ---- */

/* Verdict names for logs, metric labels and /admin/state: "error_rate", "latency", "latency_p99", "ttft",
 * "ttft_p99", "tpot", "tpot_p99", "accept_rate", "confidence", "srm"; outcomes "pass", "fail", "no_data". */
const char *sl_canary_kind_name(enum en_sl_canary_kind_t kind);
const char *sl_canary_outcome_name(enum en_sl_canary_outcome_kind_t outcome);
/* The config check a verdict kind belongs to. */
enum en_sl_conf_check_t sl_canary_kind_check(enum en_sl_canary_kind_t kind);

/*
 * Error rate from the sequential test's state: no data before a batch had requests of both versions; fail when
 * the test rejected (always-valid p-value <= alpha) and the canary's cumulative error rate exceeds the stable one
 * by at least min_effect; pass once the test has had the power to see a regression (sl_canary_error_power); no data
 * until then (which holds the step: a canary is not promoted before a regression of the configured size could have
 * shown).
 */
void sl_canary_check_error_rate(const sl_conf_check_t *cc, const sl_canary_seq_t *seq, sl_canary_verdict_t *out);

/*
 * 1 when the test's traffic so far would have given it, in expectation, the evidence to reject (log Lambda >=
 * log(1/alpha), sl_canary_seq_expected) against a canary failing at p_t = max(detect_ratio x p_c, p_c +
 * detect_increase) (at most 1) with p_c the stable's observed error rate; also 1 when p_t <= p_c (nothing to
 * detect: the requirement is off). Pure.
 */
int sl_canary_error_power(const sl_conf_check_t *cc, const sl_canary_seq_t *seq);

/*
 * Shift of a timing metric (kind LATENCY, TTFT or TPOT): Mann-Whitney U of the canary sample c[0..nc) against
 * the stable sample s[0..ns), both sorted ascending. No data when either has fewer than cc->min_samples values.
 * Otherwise this is look number `look` (>= 1) of the check and is held to sl_canary_spend(alpha / 2, look): fail
 * when the one-sided p-value (canary slower) is at or below it and P(canary slower) - 1/2 >= cc->min_effect.
 */
void sl_canary_check_shift(const sl_conf_check_t *cc, enum en_sl_canary_kind_t kind, const double *c, size_t nc,
                           const double *s, size_t ns, uint32_t look, sl_canary_verdict_t *out);

/*
 * Tail of a timing metric (kind LATENCY_P99, TTFT_P99 or TPOT_P99), same samples and look rule (the other half of
 * alpha). With q_s and q_c the p99 of each sample (the value of rank ceil(0.99 n)) and T = cc->ratio x q_s: fail
 * when q_c >= T and the canary's share of values above T is significantly larger than the stable one's (one-sided
 * Fisher exact test on the 2 x 2 table of counts above and below T).
 */
void sl_canary_check_tail(const sl_conf_check_t *cc, enum en_sl_canary_kind_t kind, const double *c, size_t nc, const double *s,
                          size_t ns, uint32_t look, sl_canary_verdict_t *out);

/* Accept rate from the mSPRT of escalation rates (treatment canary, control stable) and the cumulative judged /
 * escalated counts: no data below min_samples judged answers on either version; fail when rejected; else pass. */
void sl_canary_check_accept_rate(const sl_conf_check_t *cc, const sl_msprt_t *m, const uint64_t judged[2],
                                 const uint64_t escalated[2], sl_canary_verdict_t *out);

/* Confidence: two-sample Kolmogorov-Smirnov of the accept signal (sorted samples as for the shift); look rule
 * with the whole alpha; fail when p <= the spent level and D >= cc->min_effect. */
void sl_canary_check_confidence(const sl_conf_check_t *cc, const double *c, size_t nc, const double *s, size_t ns,
                                uint32_t look, sl_canary_verdict_t *out);

/*
 * Sample-ratio mismatch of a step: x of n requests went to the canary at weight_permille (1 .. 999), max_log_lambda
 * the running maximum of sl_canary_srm_log_lambda over the step's looks, num_steps the rollout's steps (each step's
 * test gets alpha / num_steps). No data before the first look; fail while the current log Lambda of (x, n) is at
 * least log(num_steps / alpha): its first crossing is the always-valid flag, and a flag raised by chance fades as
 * the evidence falls back (p_value reports exp(-max_log_lambda), the always-valid p-value of the step).
 */
void sl_canary_check_srm(const sl_conf_check_t *cc, uint64_t x, uint64_t n, uint32_t weight_permille, double max_log_lambda,
                         size_t num_steps, sl_canary_verdict_t *out);

/*
 * Feedback accuracy: the canary's accuracy on labelled answers against the stable one's (model monitoring's window).
 * No data while either version has fewer than cc->min_samples labelled answers (or a count is inconsistent).
 * Otherwise look number `look` (>= 1), held to sl_canary_spend(alpha, look): the one-sided Fisher exact test that the
 * canary answers wrong more often (hypergeometric tail of its wrong answers given the table's margins); fail when its
 * p-value is at or below the spent level and the accuracy dropped by at least cc->min_effect; else pass.
 */
void sl_canary_check_feedback(const sl_conf_check_t *cc, const sl_canary_labels_t *canary, const sl_canary_labels_t *stable,
                              uint32_t look, sl_canary_verdict_t *out);

/* The beta prior's concentration of the sample-ratio test. */
#define SL_CANARY_SRM_CONCENTRATION 100.0

/* ---- the analysis of one rollout (canary.c) ---- */

/* Prepares c for conf (borrowed, enabled): allocates the step's reservoirs, starts the whole-rollout tests.
 * Returns SL_OK or SL_EINVAL (conf without a rollout). The caller owns c and calls sl_canary_dispose(). */
int sl_canary_init(sl_canary_t *c, const sl_conf_rollout_t *conf);
void sl_canary_dispose(sl_canary_t *c);

/* A new rollout (a restart or a new canary): every test and look count starts again, step at weight 0. */
void sl_canary_restart(sl_canary_t *c);

/* A new step at weight_permille: the step's counts and samples are dropped (the whole-rollout tests go on). */
void sl_canary_begin_step(sl_canary_t *c, uint32_t weight_permille);

/* A reloaded config with the same canary: conf is replaced; a sequential test whose parameters changed starts
 * again (its evidence was weighed against the old ones). Returns 1 when a test was restarted, else 0. */
int sl_canary_reconfigure(sl_canary_t *c, const sl_conf_rollout_t *conf);

/* Restores the whole-rollout part read back from storage (validated by the caller), then applies the current
 * config as sl_canary_reconfigure does. */
void sl_canary_restore(sl_canary_t *c, const sl_canary_durable_t *durable);

/*
 * One tick's counts of each version: feeds the sequential tests and the step's counts, and writes the verdicts of
 * the checks that look at every tick (error_rate, srm; the enabled ones) into out. Returns how many (0 to 2).
 * Requests marked stale (routed under another weight) count everywhere but in the sample-ratio test.
 * Returns 0 and changes nothing when a count is inconsistent (errors or stale > requests, accepted > judged).
 */
size_t sl_canary_tick(sl_canary_t *c, const sl_canary_counts_t *canary, const sl_canary_counts_t *stable,
                      sl_canary_verdict_t out[2]);

/* Adds value samples of each version to the step's (their counts are ignored: sl_canary_tick counts). *rng is a
 * splitmix64 state. Returns SL_OK or SL_EINVAL. */
int sl_canary_add_values(sl_canary_t *c, const sl_canary_sample_t *canary, const sl_canary_sample_t *stable, uint64_t *rng);

/* The labelled answers of each version as model monitoring reports them now (the feedback_accuracy check reads the
 * latest at each analysis; both zero until handed over: no data). */
void sl_canary_set_labels(sl_canary_t *c, const sl_canary_labels_t *canary, const sl_canary_labels_t *stable);

/* Every enabled check on the step's data, in kind order, into out; each look that had data is counted. Returns
 * the number of verdicts written. */
size_t sl_canary_analyze(sl_canary_t *c, sl_canary_verdict_t out[SL_CANARY_K_COUNT]);

/* Canary requests counted at the current step. */
static inline uint64_t sl_canary_step_requests(const sl_canary_t *c)
{
    return c->step[SL_CANARY_CANARY].requests;
}

#endif
