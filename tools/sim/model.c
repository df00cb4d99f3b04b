/*
 * model.c - the simulator's behaviour model (see model.h), kept pure so every rule can be replayed in a unit test.
 *
 * Randomness: each worker owns one xoshiro256** generator seeded from (seed, worker index). A request consumes a
 * documented sequence of draws at arrival (sl_sim_draw), whatever happens later, so with one worker and a fixed seed
 * the same sequence of requests gets the same sequence of answers. What is drawn while an answer is sent (the gaps
 * between tokens, the words) comes from a generator of the request's own, seeded by its answer_seed, so concurrent
 * answers cannot disturb each other's sequences.
 *
 * Quality: the confidence c = floor + (1 - floor) * B with B ~ Beta(m k, (1 - m) k), k = concentration, m chosen so
 * that E[c] = accuracy. The answer is correct with probability c, which makes the model calibrated by construction:
 * among answers reported with confidence c, a share c is right.
 */
#include "tools/sim/model.h"

#include <math.h>
#include <string.h>

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void sl_sim_rng_seed(sl_sim_rng_t *rng, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed + stream * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i != 4; ++i)
        rng->s[i] = splitmix64(&x);
}

uint64_t sl_sim_rng_next(sl_sim_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sl_sim_rng_uniform(sl_sim_rng_t *rng)
{
    return (double)(sl_sim_rng_next(rng) >> 11) * 0x1.0p-53;
}

double sl_sim_rng_uniform_pos(sl_sim_rng_t *rng)
{
    return (double)((sl_sim_rng_next(rng) >> 11) + 1) * 0x1.0p-53;
}

double sl_sim_rng_exponential(sl_sim_rng_t *rng, double mean)
{
    if (!(mean > 0))
        return 0;
    return -mean * log(sl_sim_rng_uniform_pos(rng));
}

double sl_sim_rng_normal(sl_sim_rng_t *rng)
{
    for (;;) {
        double u = 2 * sl_sim_rng_uniform(rng) - 1, v = 2 * sl_sim_rng_uniform(rng) - 1;
        double s = u * u + v * v;
        if (s < 1 && s > 0)
            return u * sqrt(-2 * log(s) / s);
    }
}

double sl_sim_rng_gamma(sl_sim_rng_t *rng, double shape)
{
    if (shape < 1) {
        double g = sl_sim_rng_gamma(rng, shape + 1);
        return g * pow(sl_sim_rng_uniform_pos(rng), 1 / shape);
    }
    double d = shape - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = sl_sim_rng_normal(rng), v = 1 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = sl_sim_rng_uniform_pos(rng);
        if (u < 1 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1 - v + log(v)))
            return d * v;
    }
}

double sl_sim_rng_beta(sl_sim_rng_t *rng, double a, double b)
{
    double x = sl_sim_rng_gamma(rng, a), y = sl_sim_rng_gamma(rng, b);
    if (x + y <= 0)
        return a / (a + b); /* both underflowed: only possible for tiny shapes; return the mean */
    return x / (x + y);
}

uint32_t sl_sim_rng_geometric(sl_sim_rng_t *rng, double mean)
{
    double u = sl_sim_rng_uniform_pos(rng); /* drawn even when mean <= 1 so the sequence does not depend on mean */
    if (mean <= 1)
        return 1;
    double n = 1 + floor(log(u) / log1p(-1 / mean));
    return n >= 4294967295.0 ? UINT32_MAX : (uint32_t)n;
}

uint64_t sl_sim_fnv1a64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i != len; ++i) {
        h ^= p[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

uint32_t sl_sim_truth(const char *text, size_t len, uint32_t num_labels)
{
    return (uint32_t)(sl_sim_fnv1a64(text, len) % num_labels);
}

int sl_sim_classify_text(const char *text, size_t len, const char **body, size_t *body_len)
{
    static const char prefix[] = "classify:";
    if (len < sizeof(prefix) - 1 || memcmp(text, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    size_t i = sizeof(prefix) - 1;
    while (i < len && text[i] == ' ')
        ++i;
    *body = text + i;
    *body_len = len - i;
    return 1;
}

double sl_sim_confidence_floor(int is_classify, uint32_t num_labels)
{
    return is_classify && num_labels != 0 ? 1.0 / num_labels : 0;
}

void sl_sim_logprobs(double c, uint32_t n, double *lp)
{
    double base = log(c), a = -base / 2;
    for (uint32_t i = 0; i != n; ++i) {
        double s = (i % 2 == 0) ? 1 : -1;
        if (n % 2 == 1 && i == n - 1)
            s = 0;
        lp[i] = base + a * s;
    }
}

double sl_sim_beta_mean(const sl_sim_params_t *p, double floor)
{
    double m = (p->accuracy - floor) / (1 - floor);
    if (m < 0.001)
        m = 0.001;
    if (m > 0.999)
        m = 0.999;
    return m * (1 - p->drift / 2);
}

void sl_sim_draw(const sl_sim_params_t *p, sl_sim_rng_t *rng, const sl_sim_facts_t *facts, sl_sim_draw_t *out)
{
    memset(out, 0, sizeof(*out));

    /* faults: one uniform against the cumulative rates (their sum is at most 1, see sl_sim_params_check) */
    double u = sl_sim_rng_uniform(rng), edge = p->error_rate;
    if (u < edge)
        out->fault = SL_SIM_FAULT_ERROR;
    else if (u < (edge += p->hang_rate))
        out->fault = SL_SIM_FAULT_HANG;
    else if (u < (edge += p->reset_rate))
        out->fault = SL_SIM_FAULT_RESET;
    else if (u < (edge += p->malformed_rate))
        out->fault = SL_SIM_FAULT_MALFORMED;
    out->slow = sl_sim_rng_uniform(rng) < p->slow_rate;

    /* timing: TTFT = base + per-token * prompt tokens + Exp(jitter) (+ slow_ms) */
    out->ttft_ms = p->ttft_ms + p->ttft_per_token_ms * facts->prompt_tokens + sl_sim_rng_exponential(rng, p->ttft_jitter_ms);
    if (out->slow)
        out->ttft_ms += p->slow_ms;

    /* quality */
    double floor = sl_sim_confidence_floor(facts->is_classify, p->num_labels);
    double m = sl_sim_beta_mean(p, floor), k = p->concentration;
    double c = floor + (1 - floor) * sl_sim_rng_beta(rng, m * k, (1 - m) * k);
    if (c < floor + 1e-6)
        c = floor + 1e-6;
    if (c > 1 - 1e-6)
        c = 1 - 1e-6;
    out->confidence = c;
    out->correct = sl_sim_rng_uniform(rng) < c;
    if (facts->is_classify) {
        uint32_t L = p->num_labels;
        uint32_t other = (uint32_t)(sl_sim_rng_uniform(rng) * (L - 1));
        if (other >= L - 1)
            other = L - 2;
        out->predicted = out->correct ? facts->truth : (other >= facts->truth ? other + 1 : other);
        if (p->drift > 0 && sl_sim_rng_uniform(rng) < p->drift) {
            out->predicted = p->drift_label;
            out->drifted = 1;
            out->correct = out->predicted == facts->truth;
        }
        out->output_tokens = 1;
    } else {
        uint32_t n = sl_sim_rng_geometric(rng, p->output_tokens_mean * (1 + p->drift));
        uint32_t cap = p->output_tokens_max;
        if (facts->max_tokens != 0 && facts->max_tokens < cap)
            cap = facts->max_tokens;
        if (n > cap) {
            n = cap;
            out->truncated = 1;
        }
        out->output_tokens = n;
    }
    out->answer_seed = sl_sim_rng_next(rng);
}
