/*
 * bench_canary.c - canary rollouts on simulated traffic: sluice's rollout (the real policies/rollout code with its
 * default configuration) beside Flagger's default analysis on the same kind of streams (sim.c).
 *
 *   bench_canary [aa|errors|latency|srm|all] [--rollouts N] [--streams N] [--threads T] [--tick-ms MS] [--seed S]
 *                [--rollout "KEYS"] [--min-rate R]
 *   KEYS are rollout keys added to the default block ("min_samples: 1000"); --min-rate leaves out the A/A cells
 *   below R req/s (the slow ones).
 *
 *   aa       (a) A/A rollouts: canary identical to stable, at 1, 10, 100 and 1,000 req/s and base error rates
 *            0.1-2 %, every check and every look running; every rollback is a false one. N rollouts per cell.
 *   errors   (b) error regressions 0.2 % -> 2 % and 0.2 % -> 1 %, (c) a hard failure (half the canary's answers
 *            fail): canary requests until the rollback. Also the error check alone with stats/msprt.
 *   latency  (d) +30 % p50; 7 in 10 requests 100x slower; 7 in 100 requests 100x slower: share detected (rolled back
 *            by a latency verdict) within 5,000 canary requests.
 *   srm      (e) the router sends 2x or 1.5x the weight to the canary: requests until the mismatch is flagged.
 *
 * Every rollout has its own seed (derived from --seed, the scenario and its index), so results do not depend on the
 * number of threads. bench/canary/README.md has the figures and how to read them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "policies/canary.h"
#include "sim.h"

typedef struct st_job_t {
    const sl_conf_rollout_t *conf;
    sim_scenario_t sc;
    int flagger; /* run Flagger's analysis instead of sluice's */
    double p99_limit_ms;
    uint64_t seed;
    size_t n;
    sim_result_t *out;
    size_t next; /* shared cursor, under lock */
    pthread_mutex_t lock;
} job_t;

static int threads = 2;
static uint32_t tick_ms = 100;
static uint64_t base_seed = 20261126;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static void *worker(void *arg)
{
    job_t *j = arg;
    sim_t s;
    sim_init(&s, 0);
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next;
        j->next += 16;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->n)
            break;
        for (size_t k = i; k != i + 16 && k < j->n; ++k) {
            s.rng = mix(j->seed ^ mix(k + 1));
            if (j->flagger)
                sim_flagger(&s, j->conf, &j->sc, j->p99_limit_ms, &j->out[k]);
            else
                sim_sluice(&s, j->conf, &j->sc, &j->out[k]);
        }
    }
    sim_dispose(&s);
    return NULL;
}

/* Runs n rollouts of the scenario; the caller frees the results. */
static sim_result_t *run(const sl_conf_rollout_t *conf, const sim_scenario_t *scenario, int flagger, size_t n, uint64_t tag)
{
    sim_scenario_t sc_ = *scenario, *sc = &sc_;
    if (sc->tick_ms == 0)
        sc->tick_ms = tick_ms;
    if (!flagger)
        sc->max_ticks = sc->max_ticks * 1000 / sc->tick_ms; /* given in seconds */
    job_t j = {.conf = conf,
               .sc = *sc,
               .flagger = flagger,
               .p99_limit_ms = 1.5 * sim_stable_p99(),
               .seed = mix(base_seed ^ mix(tag)),
               .n = n,
               .out = calloc(n, sizeof(sim_result_t))};
    pthread_mutex_init(&j.lock, NULL);
    pthread_t t[16];
    for (int i = 0; i != threads; ++i)
        pthread_create(&t[i], NULL, worker, &j);
    for (int i = 0; i != threads; ++i)
        pthread_join(t[i], NULL);
    pthread_mutex_destroy(&j.lock);
    return j.out;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Quantile q (type 1) of the values of the results that pass `keep`; UINT64_MAX when fewer than half pass. */
static uint64_t quantile(uint64_t *v, size_t n, double q)
{
    if (n == 0)
        return UINT64_MAX;
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t rank = (size_t)((double)n * q + 0.999999);
    if (rank < 1)
        rank = 1;
    return v[rank - 1];
}

static const char *fmt_u(uint64_t v, char *buf)
{
    if (v == UINT64_MAX)
        snprintf(buf, 32, "-");
    else
        snprintf(buf, 32, "%llu", (unsigned long long)v);
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- (a) ---- */

static double aa_min_rate = 0; /* --min-rate: leave out the slower A/A cells */

static void bench_aa(const sl_conf_rollout_t *conf, size_t n_cell)
{
    static const double rates[] = {1, 10, 100, 1000}, bases[] = {0.001, 0.002, 0.005, 0.01, 0.02};
    size_t total = 0, total_rb = 0, total_srm = 0;
    printf("\n(a) A/A rollouts, %zu per cell (a fifth of that at 1 req/s); sluice with its defaults (error_rate, "
           "latency, srm), Flagger's default analysis\n\n",
           n_cell);
    printf("| req/s | base errors | rollouts | sluice false rollbacks | by check | srm flags | looks / rollout | "
           "minutes / rollout | Flagger false rollbacks |\n|---:|---:|---:|---:|---|---:|---:|---:|---:|\n");
    for (size_t i = 0; i != sizeof(rates) / sizeof(rates[0]); ++i) {
        if (rates[i] < aa_min_rate)
            continue;
        for (size_t b = 0; b != sizeof(bases) / sizeof(bases[0]); ++b) {
            sim_scenario_t sc = {
                .rate = rates[i], .p_stable = bases[b], .p_canary = bases[b], .split_factor = 1, .max_ticks = 400000};
            double t0 = now_s();
            size_t n = rates[i] < 10 ? (n_cell + 4) / 5 : n_cell; /* 1 req/s rollouts last two hours each */
            sim_result_t *r = run(conf, &sc, 0, n, 1000 + i * 10 + b);
            sim_result_t *f = run(conf, &sc, 1, n, 2000 + i * 10 + b);
            size_t rb = 0, srm = 0, frb = 0, by[SL_CANARY_K_COUNT + 1] = {0}, stopped = 0;
            double looks = 0, minutes = 0;
            for (size_t k = 0; k != n; ++k) {
                rb += r[k].end == SIM_ROLLED_BACK;
                stopped += r[k].end == SIM_STOPPED;
                if (r[k].end == SIM_ROLLED_BACK)
                    by[r[k].cause >= 0 ? r[k].cause : SL_CANARY_K_COUNT]++;
                srm += r[k].srm_requests != 0;
                looks += (double)r[k].looks;
                minutes += (double)r[k].ticks * tick_ms / 60000.0;
                frb += f[k].end == SIM_ROLLED_BACK;
            }
            char causes[256] = "";
            size_t o = 0;
            for (int c = 0; c <= SL_CANARY_K_COUNT; ++c)
                if (by[c] != 0)
                    o += (size_t)snprintf(causes + o, sizeof(causes) - o, "%s%s %zu", o != 0 ? ", " : "",
                                          c < SL_CANARY_K_COUNT ? sl_canary_kind_name(c) : "?", by[c]);
            printf("| %g | %g %% | %zu | %zu (%.2f %%) | %s | %zu | %.0f | %.0f | %.2f %% |%s\n", rates[i], 100 * bases[b], n,
                   rb, 100.0 * (double)rb / (double)n, o != 0 ? causes : "-", srm, looks / (double)n, minutes / (double)n,
                   100.0 * (double)frb / (double)n, stopped != 0 ? " (some rollouts hit the time cap)" : "");
            fprintf(stderr, "  aa %g req/s %g%%: %.1f s\n", rates[i], 100 * bases[b], now_s() - t0);
            fflush(stdout);
            total += n;
            total_rb += rb;
            total_srm += srm;
            free(r);
            free(f);
        }
    }
    printf("\nAll cells: %zu false rollbacks in %zu A/A rollouts (%.3f %%); %zu sample-ratio flags (%.3f %%).\n", total_rb,
           total, 100.0 * (double)total_rb / (double)total, total_srm, 100.0 * (double)total_srm / (double)total);
}

/* ---- (b), (c) ---- */

static void bench_errors(const sl_conf_rollout_t *conf, size_t n)
{
    static const struct {
        const char *name;
        double base, bad;
        uint64_t goal;
    } cases[] = {{"0.2 % -> 2 %", 0.002, 0.02, 300}, {"0.2 % -> 1 %", 0.002, 0.01, 1000}, {"half fail", 0.002, 0.5, 20}};
    static const double rates[] = {10, 100, 1000};
    printf("\n(b), (c) error regressions from the first canary request; canary requests until the rollback, %zu "
           "streams each\n\n",
           n);
    printf("| regression | req/s | goal (median) | sluice median | p90 | p95 | rolled back | within goal | "
           "Flagger median | Flagger rolled back | msprt-only median (5 %%) |\n"
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    uint64_t *v = malloc(n * sizeof(uint64_t)), *fv = malloc(n * sizeof(uint64_t));
    for (size_t c = 0; c != sizeof(cases) / sizeof(cases[0]); ++c) {
        for (size_t i = 0; i != sizeof(rates) / sizeof(rates[0]); ++i) {
            sim_scenario_t sc = {.rate = rates[i],
                                 .p_stable = cases[c].base,
                                 .p_canary = cases[c].bad,
                                 .split_factor = 1,
                                 .max_canary = 50000,
                                 .max_ticks = 2000000};
            sim_result_t *r = run(conf, &sc, 0, n, 3000 + c * 10 + i);
            sim_result_t *f = run(conf, &sc, 1, n, 4000 + c * 10 + i);
            size_t m = 0, fm = 0, within = 0;
            for (size_t k = 0; k != n; ++k) {
                if (r[k].end == SIM_ROLLED_BACK) {
                    v[m++] = r[k].canary;
                    within += r[k].canary <= cases[c].goal;
                }
                if (f[k].end == SIM_ROLLED_BACK)
                    fv[fm++] = f[k].canary;
            }
            /* a stream not rolled back counts as "not yet" at the cap: quantiles over all streams */
            for (size_t k = m; k != n; ++k)
                v[k] = UINT64_MAX - 1;
            for (size_t k = fm; k != n; ++k)
                fv[k] = UINT64_MAX - 1;
            sim_t s;
            sim_init(&s, mix(base_seed ^ (5000 + c * 10 + i)));
            size_t mn = n < 2000 ? n : 2000;
            uint64_t *mv = malloc(mn * sizeof(uint64_t));
            sim_scenario_t ms = sc;
            ms.max_canary = 50000;
            ms.tick_ms = tick_ms;
            for (size_t k = 0; k != mn; ++k)
                mv[k] = sim_msprt_delay(&s, &ms, 0.05, 0.001, 0.05);
            sim_dispose(&s);
            char a[32], b2[32], d[32], e[32], g[32];
            uint64_t med = quantile(v, n, 0.5), p90 = quantile(v, n, 0.9), p95 = quantile(v, n, 0.95);
            printf("| %s | %g | %llu | %s | %s | %s | %.1f %% | %.1f %% | %s | %.1f %% | %s |\n", cases[c].name, rates[i],
                   (unsigned long long)cases[c].goal, fmt_u(med >= UINT64_MAX - 1 ? UINT64_MAX : med, a),
                   fmt_u(p90 >= UINT64_MAX - 1 ? UINT64_MAX : p90, b2), fmt_u(p95 >= UINT64_MAX - 1 ? UINT64_MAX : p95, d),
                   100.0 * (double)m / (double)n, 100.0 * (double)within / (double)n,
                   fmt_u(quantile(fv, n, 0.5) >= UINT64_MAX - 1 ? UINT64_MAX : quantile(fv, n, 0.5), e),
                   100.0 * (double)fm / (double)n, fmt_u(quantile(mv, mn, 0.5), g));
            fflush(stdout);
            free(mv);
            free(r);
            free(f);
        }
    }
    free(v);
    free(fv);
}

/* ---- (d) ---- */

static void bench_latency(const sl_conf_rollout_t *conf, size_t n)
{
    static const struct {
        const char *name;
        enum en_sim_latency_t kind;
    } cases[] = {
        {"+30 % p50", SIM_LAT_P50_30}, {"7 in 10 100x slower", SIM_LAT_BIMODAL}, {"7 in 100 100x slower", SIM_LAT_TAIL}};
    static const double rates[] = {10, 100, 1000};
    printf("\n(d) latency regressions, %zu streams each; detected = rolled back by a latency verdict within 5,000 "
           "canary requests (goal: >= 95 %%)\n\n",
           n);
    printf("| regression | req/s | sluice detected | by shift / by p99 | median canary requests | Flagger detected "
           "(p99 limit %.0f ms) |\n|---|---:|---:|---:|---:|---:|\n",
           1.5 * sim_stable_p99());
    uint64_t *v = malloc(n * sizeof(uint64_t));
    for (size_t c = 0; c != sizeof(cases) / sizeof(cases[0]); ++c) {
        for (size_t i = 0; i != sizeof(rates) / sizeof(rates[0]); ++i) {
            sim_scenario_t sc = {.rate = rates[i],
                                 .p_stable = 0.002,
                                 .p_canary = 0.002,
                                 .latency = cases[c].kind,
                                 .split_factor = 1,
                                 .max_canary = 5000,
                                 .max_ticks = 2000000};
            sim_result_t *r = run(conf, &sc, 0, n, 6000 + c * 10 + i);
            sim_result_t *f = run(conf, &sc, 1, n, 7000 + c * 10 + i);
            size_t det = 0, shift = 0, tail = 0, fdet = 0;
            for (size_t k = 0; k != n; ++k) {
                int lat =
                    r[k].end == SIM_ROLLED_BACK && (r[k].cause == SL_CANARY_K_LATENCY || r[k].cause == SL_CANARY_K_LATENCY_P99);
                if (lat) {
                    v[det++] = r[k].canary;
                    shift += r[k].cause == SL_CANARY_K_LATENCY;
                    tail += r[k].cause == SL_CANARY_K_LATENCY_P99;
                }
                fdet += f[k].end == SIM_ROLLED_BACK && f[k].cause == SL_CANARY_K_LATENCY_P99;
            }
            char a[32];
            printf("| %s | %g | %.1f %% | %zu / %zu | %s | %.1f %% |\n", cases[c].name, rates[i],
                   100.0 * (double)det / (double)n, shift, tail, fmt_u(det * 2 >= n ? quantile(v, det, 0.5) : UINT64_MAX, a),
                   100.0 * (double)fdet / (double)n);
            fflush(stdout);
            free(r);
            free(f);
        }
    }
    free(v);
}

/* ---- (e) ---- */

static void bench_srm(const sl_conf_rollout_t *conf, size_t n)
{
    static const double factors[] = {2, 1.5}, rates[] = {10, 100, 1000};
    printf("\n(e) sample-ratio mismatch: the canary gets factor x its weight; requests (both versions, from the "
           "canary's first weighted request) until flagged, %zu streams each\n\n",
           n);
    printf("| split | req/s | flagged within 1,000 requests | median requests | p95 | flagged at all (20,000) |\n"
           "|---|---:|---:|---:|---:|---:|\n");
    uint64_t *v = malloc(n * sizeof(uint64_t));
    for (size_t c = 0; c != sizeof(factors) / sizeof(factors[0]); ++c) {
        for (size_t i = 0; i != sizeof(rates) / sizeof(rates[0]); ++i) {
            sim_scenario_t sc = {.rate = rates[i],
                                 .p_stable = 0.002,
                                 .p_canary = 0.002,
                                 .split_factor = factors[c],
                                 .max_requests = 20000,
                                 .max_ticks = 2000000};
            sim_result_t *r = run(conf, &sc, 0, n, 8000 + c * 10 + i);
            size_t m = 0, within = 0;
            for (size_t k = 0; k != n; ++k) {
                if (r[k].srm_requests != 0) {
                    v[m++] = r[k].srm_requests;
                    within += r[k].srm_requests <= 1000;
                }
            }
            for (size_t k = m; k != n; ++k)
                v[k] = UINT64_MAX - 1;
            char a[32], b[32];
            uint64_t med = quantile(v, n, 0.5), p95 = quantile(v, n, 0.95);
            printf("| %gx weight | %g | %.1f %% | %s | %s | %.1f %% |\n", factors[c], rates[i],
                   100.0 * (double)within / (double)n, fmt_u(med >= UINT64_MAX - 1 ? UINT64_MAX : med, a),
                   fmt_u(p95 >= UINT64_MAX - 1 ? UINT64_MAX : p95, b), 100.0 * (double)m / (double)n);
            fflush(stdout);
            free(r);
        }
    }
    free(v);
}

int main(int argc, char **argv)
{
    const char *what = "all", *extra = NULL;
    size_t rollouts = 10000, streams = 2000;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--rollouts") == 0 && i + 1 < argc)
            rollouts = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--streams") == 0 && i + 1 < argc)
            streams = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--min-rate") == 0 && i + 1 < argc)
            aa_min_rate = atof(argv[++i]);
        else if (strcmp(argv[i], "--rollout") == 0 && i + 1 < argc)
            extra = argv[++i];
        else if (strcmp(argv[i], "--tick-ms") == 0 && i + 1 < argc)
            tick_ms = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            base_seed = strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] != '-')
            what = argv[i];
        else {
            fprintf(stderr,
                    "usage: %s [aa|errors|latency|srm|all] [--rollouts N] [--streams N] [--threads T] "
                    "[--seed S]\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > 16 || rollouts < 1 || streams < 1 || tick_ms < 10 || tick_ms > 60000 || 60000 % tick_ms != 0) {
        fprintf(stderr, "bad --threads, --rollouts, --streams or --tick-ms (10 to 60000, dividing a minute)\n");
        return 2;
    }
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "backends:\n"
             "  large: {protocol: openai, endpoints: 127.0.0.1:8011}\n"
             "  large-v2: {protocol: openai, endpoints: 127.0.0.1:8014}\n"
             "routes:\n"
             "  - name: chat\n"
             "    cascade: [{backend: large, rollout: {canary: large-v2%s%s}}]\n",
             extra != NULL ? ", " : "", extra != NULL ? extra : "");
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    if (sl_conf_load_string("bench.yaml", yaml, strlen(yaml), &conf, &errs) != 0) {
        fprintf(stderr, "%s\n", errs.count != 0 ? errs.msgs[0] : "config error");
        return 1;
    }
    sl_conf_errors_dispose(&errs);
    const sl_conf_rollout_t *rc = &conf->routes[0].tiers[0].rollout;
    double t0 = now_s();
    printf("bench_canary: seed %llu, %d threads; rollout {canary: large-v2%s%s}: interval %u s, min_samples %u, "
           "error_rate alpha %g; control tick %u ms\n",
           (unsigned long long)base_seed, threads, extra != NULL ? ", " : "", extra != NULL ? extra : "",
           rc->interval_ms / 1000, rc->min_samples, rc->checks[SL_CONF_CHECK_ERROR_RATE].alpha, tick_ms);
    int all = strcmp(what, "all") == 0;
    if (all || strcmp(what, "aa") == 0)
        bench_aa(rc, rollouts);
    if (all || strcmp(what, "errors") == 0)
        bench_errors(rc, streams);
    if (all || strcmp(what, "latency") == 0)
        bench_latency(rc, streams);
    if (all || strcmp(what, "srm") == 0)
        bench_srm(rc, streams);
    printf("\n%.0f s\n", now_s() - t0);
    sl_conf_release(conf);
    return 0;
}
