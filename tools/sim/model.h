/*
 * model.h - the pure behaviour model of the simulator: PRNG, distributions, the ground-truth rule, the confidence
 * to logprobs construction and the per-request draw. No I/O, no clock, no allocation; docs/SIM.md states the same
 * rules in words and tests/unit/tools/test_model.c checks them.
 */
#ifndef SL_TOOLS_SIM_MODEL_H
#define SL_TOOLS_SIM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tools/sim/sim-t.h"

/* Seeds rng for worker `stream` from seed: the four words are successive outputs of SplitMix64 started at
 * seed + stream * 0x9E3779B97F4A7C15 (so each worker has its own sequence). */
void sl_sim_rng_seed(sl_sim_rng_t *rng, uint64_t seed, uint64_t stream);
uint64_t sl_sim_rng_next(sl_sim_rng_t *rng);
/* Uniform in [0, 1) with 53 random bits. */
double sl_sim_rng_uniform(sl_sim_rng_t *rng);
/* Uniform in (0, 1]: safe to take the logarithm of. */
double sl_sim_rng_uniform_pos(sl_sim_rng_t *rng);
/* Exponential with the given mean (inversion); 0 when mean <= 0, without consuming a draw. */
double sl_sim_rng_exponential(sl_sim_rng_t *rng, double mean);
/* Standard normal (Marsaglia's polar method). */
double sl_sim_rng_normal(sl_sim_rng_t *rng);
/* Gamma(shape, 1) (Marsaglia & Tsang 2000; shape < 1 through Gamma(shape + 1) * U^(1/shape)). shape > 0. */
double sl_sim_rng_gamma(sl_sim_rng_t *rng, double shape);
/* Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). a, b > 0. */
double sl_sim_rng_beta(sl_sim_rng_t *rng, double a, double b);
/* Geometric on {1, 2, ...} with the given mean >= 1 (each token ends the answer with probability 1/mean). */
uint32_t sl_sim_rng_geometric(sl_sim_rng_t *rng, double mean);

/* FNV-1a 64-bit hash of the bytes. */
uint64_t sl_sim_fnv1a64(const void *data, size_t len);

/* The ground truth of a classification text: FNV-1a 64 of its bytes modulo num_labels. */
uint32_t sl_sim_truth(const char *text, size_t len, uint32_t num_labels);

/* Recognises a classification prompt: text starting with "classify:". On success sets *body and *body_len to the text
 * after the prefix and any spaces that follow it, and returns 1; returns 0 otherwise (outputs untouched). */
int sl_sim_classify_text(const char *text, size_t len, const char **body, size_t *body_len);

/* The lowest confidence of an answer: 1/num_labels for a classification, 0 for free text. */
double sl_sim_confidence_floor(int is_classify, uint32_t num_labels);

/* Logprobs of the n answer tokens for confidence c in (0, 1]: lp[i] = ln c + a * s_i with a = -ln(c) / 2 and
 * s = (+1, -1, +1, -1, ...), the last s being 0 when n is odd. So every lp[i] <= 0 and mean(lp) == ln c exactly
 * (up to rounding), i.e. exp(mean logprob) == c. */
void sl_sim_logprobs(double c, uint32_t n, double *lp);

/* Draws everything random about one answer, consuming rng in this fixed order: fault (1 uniform), slow (1),
 * TTFT jitter (1 when ttft_jitter_ms > 0), confidence (Beta: a variable number), correctness (1), wrong label (1,
 * classification), drift (1, classification with drift > 0), output length (1, free text), answer seed (1).
 * p is the parameter snapshot; out is fully written. */
void sl_sim_draw(const sl_sim_params_t *p, sl_sim_rng_t *rng, const sl_sim_facts_t *facts, sl_sim_draw_t *out);

/* The mean of the Beta variable B in c = floor + (1 - floor) * B, for the configured accuracy and drift:
 * m = clamp((accuracy - floor) / (1 - floor), 0.001, 0.999) * (1 - drift / 2). */
double sl_sim_beta_mean(const sl_sim_params_t *p, double floor);

#endif
