/*
 * bench_canary.c - simulated canary rollouts for the error-rate check (the mSPRT of stats/msprt.h), beside
 * Flagger's default rule on the same streams.
 *
 * Design. A rollout is a schedule of canary weights (10, 20, 30, 40, 50 %, one analysis interval of 60 s each, then
 * promotion) over a route receiving `rate` requests per second. Every 10 s of traffic is one look: the look's
 * requests split between canary and stable by the weight (rounded; hashing users to versions makes the split
 * nearly exact in aggregate), and each arm's errors are Binomial(requests, its error rate), drawn by inversion from
 * a seeded splitmix64 stream. Scenarios:
 *   aa      canary and stable share the base error rate: every rollback is a false one. Counts every look.
 *   delay   a regression from look one (stable at base, canary at bad): the canary requests seen until the
 *           rollback, with a look after every single canary request (continuous monitoring), stable traffic in
 *           proportion to the weight.
 * Flagger's default rule, on the same streams: at the end of each 60 s interval the canary's success rate must be
 * at least 99 %; a failing interval holds the weight and counts one failed check; 5 failed checks roll back, 5
 * passing intervals promote.
 *
 * Run by hand (bench/canary/README.md): bench_canary aa|delay [alpha tau rollouts]. Deterministic for given
 * arguments.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/msprt.h"
#include "stats/reservoir.h"

#define STEPS 5
#define INTERVAL_S 60
#define LOOK_S 10
static const double weights[STEPS] = {0.10, 0.20, 0.30, 0.40, 0.50};

static double uniform(uint64_t *rng)
{
    return (double)(sl_reservoir_splitmix64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* Binomial(n, p) by inversion; expected cost O(n p), fine for n p up to a few hundred */
static uint64_t binomial(uint64_t n, double p, uint64_t *rng)
{
    if (n == 0 || p <= 0)
        return 0;
    if (p >= 1)
        return n;
    double u = uniform(rng), q = 1 - p, prob = exp((double)n * log1p(-p)), cdf = prob;
    uint64_t k = 0;
    while (u > cdf && k < n) {
        prob *= (double)(n - k) / (double)(k + 1) * p / q;
        cdf += prob;
        ++k;
    }
    return k;
}

/* One A/A rollout. Returns whether the mSPRT rolled back; *flagger_rb whether Flagger's rule did. */
static int aa_rollout(double rate, double base, const sl_msprt_params_t *params, uint64_t *rng, int *flagger_rb)
{
    sl_msprt_t m;
    sl_msprt_init(&m, params);
    uint64_t et = 0, nt = 0, ec = 0, nc = 0;
    int rolled = 0;
    uint64_t per_look = (uint64_t)llround(rate * LOOK_S);
    for (int s = 0; s < STEPS && !rolled; ++s) {
        for (int l = 0; l < INTERVAL_S / LOOK_S; ++l) {
            uint64_t t = (uint64_t)llround((double)per_look * weights[s]), c = per_look - t;
            et += binomial(t, base, rng);
            ec += binomial(c, base, rng);
            nt += t;
            nc += c;
            sl_msprt_result_t r;
            sl_msprt_look(&m, et, nt, ec, nc, &r);
            if (r.reject) {
                rolled = 1;
                break;
            }
        }
    }
    /* Flagger: per-interval canary success rate >= 99 %, 5 failed checks roll back, 5 passes promote */
    int failed = 0, passed = 0, s = 0;
    uint64_t per_interval = (uint64_t)llround(rate * INTERVAL_S);
    while (failed < 5 && passed < STEPS) {
        uint64_t t = (uint64_t)llround((double)per_interval * weights[s]);
        uint64_t e = binomial(t, base, rng);
        /* no request in the interval: Flagger reports "no values found" and counts a failed check */
        if (t == 0 || (double)(t - e) / (double)t < 0.99) {
            ++failed;
        } else {
            ++passed;
            ++s;
        }
    }
    *flagger_rb = failed >= 5;
    return rolled;
}

static void run_aa(double alpha, double tau, int rollouts)
{
    const double rates[] = {1, 10, 100, 1000}, bases[] = {0.001, 0.002, 0.005, 0.01, 0.02};
    sl_msprt_params_t params;
    sl_msprt_params_default(&params);
    params.alpha = alpha;
    params.tau = tau;
    printf("A/A rollouts: %d per cell, weights 10-50 %% over 5 x 60 s, a look every 10 s; alpha %g, tau %g\n", rollouts, alpha,
           tau);
    printf("%8s %8s %14s %14s\n", "req/s", "errors", "mSPRT rollback", "Flagger rollback");
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); ++i)
        for (size_t j = 0; j < sizeof(bases) / sizeof(bases[0]); ++j) {
            uint64_t rng = 0xC0FFEEull + i * 131 + j;
            int rb = 0, frb = 0;
            for (int r = 0; r < rollouts; ++r) {
                int f;
                rb += aa_rollout(rates[i], bases[j], &params, &rng, &f);
                frb += f;
            }
            printf("%8g %7.1f%% %13.3f%% %13.2f%%\n", rates[i], 100 * bases[j], 100.0 * rb / rollouts, 100.0 * frb / rollouts);
        }
}

/* canary requests until the mSPRT rejects, looking after each canary request; weight w, stable traffic
 * (1 - w)/w per canary request on average (Bernoulli thinning of the stable arrivals). Gives up at `cap`. */
static uint64_t delay_once(double w, double base, double bad, const sl_msprt_params_t *params, uint64_t cap, uint64_t *rng)
{
    sl_msprt_t m;
    sl_msprt_init(&m, params);
    uint64_t et = 0, nt = 0, ec = 0, nc = 0;
    double ratio = (1 - w) / w, owed = 0;
    while (nt < cap) {
        nt++;
        et += uniform(rng) < bad;
        owed += ratio;
        uint64_t c = (uint64_t)owed;
        owed -= (double)c;
        nc += c;
        ec += binomial(c, base, rng);
        if (nc == 0)
            continue;
        sl_msprt_result_t r;
        sl_msprt_look(&m, et, nt, ec, nc, &r);
        if (r.reject)
            return nt;
    }
    return cap;
}

/* canary requests until Flagger rolls back on the same kind of stream, at rate req/s and weight w */
static uint64_t flagger_delay(double rate, double w, double bad, uint64_t cap, uint64_t *rng)
{
    uint64_t per_interval = (uint64_t)llround(rate * INTERVAL_S * w), seen = 0;
    int failed = 0;
    while (seen < cap) {
        uint64_t e = binomial(per_interval, bad, rng);
        seen += per_interval;
        if (per_interval == 0 || (double)(per_interval - e) / (double)per_interval < 0.99)
            if (++failed >= 5)
                return seen;
    }
    return cap;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void run_delay(double alpha, double tau, int rollouts)
{
    const struct {
        const char *name;
        double base, bad;
    } cases[] = {{"0.2% -> 2%", 0.002, 0.02}, {"0.2% -> 1%", 0.002, 0.01}, {"hard failure 50%", 0.002, 0.5}};
    sl_msprt_params_t params;
    sl_msprt_params_default(&params);
    params.alpha = alpha;
    params.tau = tau;
    uint64_t cap = 200000, *d = malloc(sizeof(uint64_t) * (size_t)rollouts);
    printf("Detection delay (canary requests until rollback), weight 10 %%, %d streams; alpha %g, tau %g\n", rollouts, alpha,
           tau);
    printf("%-18s %10s %10s %10s %16s\n", "regression", "median", "p90", "detected", "Flagger @100/s");
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
        uint64_t rng = 0xDE1A7ull + c, hits = 0;
        for (int r = 0; r < rollouts; ++r) {
            d[r] = delay_once(0.10, cases[c].base, cases[c].bad, &params, cap, &rng);
            hits += d[r] < cap;
        }
        qsort(d, (size_t)rollouts, sizeof(*d), cmp_u64);
        uint64_t fd[101];
        for (int r = 0; r < 101; ++r)
            fd[r] = flagger_delay(100, 0.10, cases[c].bad, cap, &rng);
        qsort(fd, 101, sizeof(*fd), cmp_u64);
        printf("%-18s %10lu %10lu %9.1f%% %16lu\n", cases[c].name, (unsigned long)d[rollouts / 2],
               (unsigned long)d[rollouts * 9 / 10], 100.0 * (double)hits / rollouts, (unsigned long)fd[50]);
    }
    free(d);
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "aa") != 0 && strcmp(argv[1], "delay") != 0)) {
        fprintf(stderr, "usage: %s aa|delay [alpha tau rollouts]\n", argv[0]);
        return 2;
    }
    double alpha = argc > 2 ? atof(argv[2]) : 0.001, tau = argc > 3 ? atof(argv[3]) : 0.05;
    int rollouts = argc > 4 ? atoi(argv[4]) : 10000;
    if (!(alpha > 0 && alpha < 1) || !(tau > 0) || rollouts < 1) {
        fprintf(stderr, "bad alpha, tau or rollouts\n");
        return 2;
    }
    if (argv[1][0] == 'a')
        run_aa(alpha, tau, rollouts);
    else
        run_delay(alpha, tau, rollouts);
    return 0;
}
