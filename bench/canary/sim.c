/*
 * sim.c - simulated traffic for canary rollouts and the controllers run on it (sim.h).
 *
 * Time advances in control ticks (1 s unless the scenario says otherwise). Each tick, Poisson(rate x tick)
 * requests arrive; each goes to the canary with probability weight x split_factor (the router's random draw), so the split is
 * Binomial; each version's errors are Binomial(requests, its error rate). Latencies are lognormal (median 200 ms, sigma 0.5:
 * p99 640 ms) for stable, and for the canary as the scenario says. Every draw is exact (inversion, or a search outward from the
 * mode for large means), from a splitmix64 stream, so a run is reproducible from its seed.
 *
 * Value samples: the gateway keeps a reservoir of at most 1024 latencies per version and interval; a reservoir of a
 * stream of independent draws is itself min(n, 1024) independent draws, so the simulation draws exactly that many at
 * the interval's end and records n as the number seen. This keeps a 1,000 req/s rollout from costing 60,000 draws
 * per interval without changing what the analysis sees.
 */
#include "sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policies/canary.h"
#include "policies/rollout.h"
#include "stats/canary_seq.h"
#include "stats/msprt.h"
#include "stats/reservoir.h"

#define FLAGGER_INTERVAL_S 60
#define FLAGGER_THRESHOLD 5
#define MEDIAN_MS 200.0
#define SIGMA 0.5
#define Z99 2.3263478740408408

void sim_init(sim_t *s, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->rng = seed;
    sl_canary_sample_init(&s->values[0]);
    sl_canary_sample_init(&s->values[1]);
}

void sim_dispose(sim_t *s)
{
    sl_canary_sample_dispose(&s->values[0]);
    sl_canary_sample_dispose(&s->values[1]);
}

double sim_stable_p99(void)
{
    return MEDIAN_MS * exp(SIGMA * Z99);
}

static double uniform(sim_t *s)
{
    return ((double)(sl_reservoir_splitmix64(&s->rng) >> 11) + 0.5) * 0x1p-53;
}

static double normal(sim_t *s)
{
    double u, v, q;
    do {
        u = 2 * uniform(s) - 1;
        v = 2 * uniform(s) - 1;
        q = u * u + v * v;
    } while (q >= 1 || q == 0);
    return u * sqrt(-2 * log(q) / q);
}

static double lgam(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

/* Binomial(n, p), exact: inversion from 0 for small means, else the inverse transform over the support ordered
 * outward from the mode (m, m - 1, m + 1, m - 2, ...), O(sqrt(n p q)). */
static uint64_t binomial(sim_t *s, uint64_t n, double p)
{
    if (n == 0 || p <= 0)
        return 0;
    if (p >= 1)
        return n;
    if (p > 0.5)
        return n - binomial(s, n, 1 - p);
    double q = 1 - p, u = uniform(s), nd = (double)n;
    if (nd * p < 20) {
        double prob = exp(nd * log1p(-p)), cdf = prob;
        uint64_t k = 0;
        while (u > cdf && k < n) {
            prob *= (double)(n - k) / (double)(k + 1) * p / q;
            cdf += prob;
            ++k;
        }
        return k;
    }
    uint64_t m = (uint64_t)floor((nd + 1) * p), lo = m, hi = m;
    if (m > n)
        m = lo = hi = n;
    double pm =
        exp(lgam(nd + 1) - lgam((double)m + 1) - lgam(nd - (double)m + 1) + (double)m * log(p) + (nd - (double)m) * log1p(-p));
    double plo = pm, phi = pm, cum = pm;
    if (u <= cum)
        return m;
    for (;;) {
        int moved = 0;
        if (lo > 0) {
            plo *= (double)lo / (nd - (double)lo + 1) * q / p;
            --lo;
            cum += plo;
            moved = 1;
            if (u <= cum)
                return lo;
        }
        if (hi < n) {
            phi *= (nd - (double)hi) / (double)(hi + 1) * p / q;
            ++hi;
            cum += phi;
            moved = 1;
            if (u <= cum)
                return hi;
        }
        if (!moved || (plo < 1e-300 && phi < 1e-300))
            return m; /* rounding left u beyond the summed mass: the mode */
    }
}

/* Poisson(lambda), exact, the same two ways. */
static uint64_t poisson(sim_t *s, double lambda)
{
    double u = uniform(s);
    if (lambda < 30) {
        double prob = exp(-lambda), cdf = prob;
        uint64_t k = 0;
        while (u > cdf && k < 100000) {
            prob *= lambda / (double)(k + 1);
            cdf += prob;
            ++k;
        }
        return k;
    }
    uint64_t m = (uint64_t)floor(lambda), lo = m, hi = m;
    double pm = exp(-lambda + (double)m * log(lambda) - lgam((double)m + 1)), plo = pm, phi = pm, cum = pm;
    if (u <= cum)
        return m;
    for (;;) {
        if (lo > 0) {
            plo *= (double)lo / lambda;
            --lo;
            cum += plo;
            if (u <= cum)
                return lo;
        }
        phi *= lambda / (double)(hi + 1);
        ++hi;
        cum += phi;
        if (u <= cum)
            return hi;
        if (plo < 1e-300 && phi < 1e-300)
            return m;
    }
}

static double latency(sim_t *s, int canary, enum en_sim_latency_t kind)
{
    double x = MEDIAN_MS * exp(SIGMA * normal(s));
    if (!canary)
        return x;
    switch (kind) {
    case SIM_LAT_P50_30:
        return x * 1.3;
    case SIM_LAT_BIMODAL:
        return uniform(s) < 0.7 ? x * 100 : x;
    case SIM_LAT_TAIL:
        return uniform(s) < 0.07 ? x * 100 : x;
    default:
        return x;
    }
}

/* Fills the interval's value sample of a version: min(seen, capacity) draws, as a reservoir of `seen` draws. */
static void fill_values(sim_t *s, int v, enum en_sim_latency_t kind)
{
    sl_reservoir_t *r = &s->values[v].values[SL_CANARY_M_LATENCY];
    uint64_t k = s->seen[v] < r->capacity ? s->seen[v] : r->capacity;
    for (uint64_t i = 0; i != k; ++i)
        r->values_private[i] = latency(s, v == SL_CANARY_CANARY, kind);
    r->size = (uint32_t)k;
    r->seen = s->seen[v];
}

static void reset_values(sim_t *s)
{
    sl_canary_sample_reset(&s->values[0]);
    sl_canary_sample_reset(&s->values[1]);
    s->seen[0] = s->seen[1] = 0;
}

/* One tick of traffic at canary weight w (0 .. 1): counts of each version. */
static void traffic(sim_t *s, const sim_scenario_t *sc, double w, double seconds, sl_canary_counts_t *c, sl_canary_counts_t *st)
{
    uint64_t n = poisson(s, sc->rate * seconds);
    double wa = w * sc->split_factor;
    uint64_t nc = binomial(s, n, wa > 1 ? 1 : wa), ns = n - nc;
    memset(c, 0, sizeof(*c));
    memset(st, 0, sizeof(*st));
    c->requests = nc;
    c->errors = binomial(s, nc, sc->p_canary);
    st->requests = ns;
    st->errors = binomial(s, ns, sc->p_stable);
}

static int stop(const sim_scenario_t *sc, const sim_result_t *out)
{
    return (sc->max_canary != 0 && out->canary >= sc->max_canary) ||
           (sc->max_requests != 0 && out->requests >= sc->max_requests) || out->ticks >= sc->max_ticks;
}

void sim_sluice(sim_t *s, const sl_conf_rollout_t *conf, const sim_scenario_t *sc, sim_result_t *out)
{
    sl_rollout_t r;
    memset(out, 0, sizeof(*out));
    out->cause = -1;
    out->end = SIM_STOPPED;
    sl_rollout_init(&r, conf, 0);
    reset_values(s);
    uint64_t now = 0, weighted = 0;
    while (!stop(sc, out)) {
        now += sc->tick_ms;
        out->ticks++;
        sl_canary_counts_t c, st;
        traffic(s, sc, sl_rollout_weight(&r) / 1000.0, sc->tick_ms / 1000.0, &c, &st);
        if (weighted == 0 && sl_rollout_weight(&r) != 0)
            weighted = out->requests + 1; /* the first request sent while the canary had a weight */
        out->requests += c.requests + st.requests;
        out->canary += c.requests;
        s->seen[1] += c.requests;
        s->seen[0] += st.requests;
        int due = sl_rollout_analysis_due(&r, now), active = r.state.phase == SL_ROLLOUT_PROGRESSING;
        if (due) {
            fill_values(s, SL_CANARY_CANARY, sc->latency);
            fill_values(s, SL_CANARY_STABLE, sc->latency);
        }
        sl_rollout_tick(&r, &c, &st, due ? &s->values[1] : NULL, due ? &s->values[0] : NULL, now, 0, &s->rng);
        if (due)
            reset_values(s);
        out->looks += (uint64_t)active + (uint64_t)(active && due);
        if (weighted != 0 && r.state.srm_flagged && out->srm_requests == 0)
            out->srm_requests = out->requests - weighted + 1;
        if (r.state.phase == SL_ROLLOUT_ROLLED_BACK) {
            const sl_rollout_event_t *ev = sl_rollout_history_get(&r.history, r.history.count - 1);
            out->end = SIM_ROLLED_BACK;
            out->cause = ev->num_evidence != 0 ? ev->evidence[0].kind : -1;
            break;
        }
        if (r.state.phase == SL_ROLLOUT_PROMOTED) {
            out->end = SIM_PROMOTED;
            break;
        }
    }
    sl_rollout_dispose(&r);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void sim_flagger(sim_t *s, const sl_conf_rollout_t *conf, const sim_scenario_t *sc, double p99_limit_ms, sim_result_t *out)
{
    memset(out, 0, sizeof(*out));
    out->cause = -1;
    out->end = SIM_STOPPED;
    size_t step = 0;
    int failed = 0;
    double *v = s->values[1].values[SL_CANARY_M_LATENCY].values_private;
    while (!stop(sc, out)) {
        double w = conf->steps_permille[step] / 1000.0;
        uint64_t nc = 0, errors = 0;
        for (int t = 0; t != FLAGGER_INTERVAL_S && !stop(sc, out); ++t) {
            sl_canary_counts_t c, st;
            traffic(s, sc, w, 1, &c, &st);
            out->ticks++;
            out->requests += c.requests + st.requests;
            out->canary += c.requests;
            nc += c.requests;
            errors += c.errors;
        }
        out->looks++;
        int fail_kind = -1;
        if (nc == 0) {
            fail_kind = SL_CANARY_K_COUNT; /* "no values found": a failed check */
        } else if ((double)(nc - errors) / (double)nc < 0.99) {
            fail_kind = SL_CANARY_K_ERROR_RATE;
        } else {
            uint64_t k = nc < SL_CANARY_RESERVOIR ? nc : SL_CANARY_RESERVOIR;
            for (uint64_t i = 0; i != k; ++i)
                v[i] = latency(s, 1, sc->latency);
            qsort(v, k, sizeof(double), cmp_double);
            size_t rank = (size_t)ceil(0.99 * (double)k);
            if (v[rank - 1] > p99_limit_ms)
                fail_kind = SL_CANARY_K_LATENCY_P99;
        }
        if (fail_kind >= 0) {
            if (++failed >= FLAGGER_THRESHOLD) {
                out->end = SIM_ROLLED_BACK;
                out->cause = fail_kind;
                return;
            }
        } else if (++step >= conf->num_steps || conf->steps_permille[step] >= 1000) {
            out->end = SIM_PROMOTED;
            return;
        }
    }
}

uint64_t sim_msprt_delay(sim_t *s, const sim_scenario_t *sc, double weight, double alpha, double tau)
{
    sl_msprt_params_t p;
    sl_msprt_params_default(&p);
    p.alpha = alpha;
    p.tau = tau;
    sl_msprt_t m;
    sl_msprt_init(&m, &p);
    uint64_t et = 0, nt = 0, ec = 0, nc = 0;
    while (nt < sc->max_canary) {
        sl_canary_counts_t c, st;
        traffic(s, sc, weight, sc->tick_ms / 1000.0, &c, &st);
        et += c.errors;
        nt += c.requests;
        ec += st.errors;
        nc += st.requests;
        sl_msprt_result_t r;
        if (nt != 0 && nc != 0 && sl_msprt_look(&m, et, nt, ec, nc, &r) == 0 && r.reject)
            return nt;
    }
    return sc->max_canary;
}
