/*
 * rollout_fixture.h - shared helpers of the rollout tests: a config loaded from YAML, synthetic traffic for a
 * rollout at its weight, a temporary state directory.
 */
#ifndef SL_TESTS_ROLLOUT_FIXTURE_H
#define SL_TESTS_ROLLOUT_FIXTURE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "policies/canary.h"
#include "policies/rollout.h"
#include "stats/reservoir.h"

/* The error-rate check's power requirement off: the fixture's stable version fails so rarely that it would hold
 * healthy canaries for thousands of requests; the tests that are about it turn it on (fx_conf_raw). */
#define FX_NO_POWER "error_rate: {detect_ratio: 1, detect_increase: 0%}"

/* A route "chat" whose tier 0 (backend large) rolls out `canary` with the given rollout keys, as they are. */
static inline sl_conf_t *fx_conf_raw(const char *canary, const char *extra)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "backends:\n"
             "  large: {protocol: openai, endpoints: 127.0.0.1:8011}\n"
             "  large-v2: {protocol: openai, endpoints: 127.0.0.1:8014}\n"
             "  large-v3: {protocol: openai, endpoints: 127.0.0.1:8015}\n"
             "routes:\n"
             "  - name: chat\n"
             "    cascade:\n"
             "      - backend: large\n"
             "        rollout: {canary: %s, interval: 10s%s%s}\n",
             canary, extra[0] != '\0' ? ", " : "", extra);
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    int rc = sl_conf_load_string("rollout.yaml", yaml, strlen(yaml), &conf, &errs);
    cr_assert_eq(rc, 0, "config: %s", errs.count != 0 ? errs.msgs[0] : "?");
    sl_conf_errors_dispose(&errs);
    return conf;
}

/* fx_conf_raw with FX_NO_POWER; extra may not have a checks block of its own (write FX_NO_POWER in it). */
static inline sl_conf_t *fx_conf(const char *canary, const char *extra)
{
    char keys[1024];
    if (strstr(extra, "checks") != NULL)
        return fx_conf_raw(canary, extra);
    snprintf(keys, sizeof(keys), "%s%schecks: {%s}", extra, extra[0] != '\0' ? ", " : "", FX_NO_POWER);
    return fx_conf_raw(canary, keys);
}

static inline const sl_conf_rollout_t *fx_rollout(const sl_conf_t *conf)
{
    return &conf->routes[0].tiers[0].rollout;
}

/* Traffic of one tick: `total` requests split exactly at the rollout's weight; the canary fails one request in
 * canary_err_every (0: never), stable one in 500 ticks' worth. */
typedef struct st_fx_traffic_t {
    sl_canary_sample_t vc, vs; /* value samples since the last interval end */
    uint64_t rng;
    uint64_t ticks;
} fx_traffic_t;

static inline void fx_traffic_init(fx_traffic_t *t, uint64_t seed)
{
    sl_canary_sample_init(&t->vc);
    sl_canary_sample_init(&t->vs);
    t->rng = seed;
    t->ticks = 0;
}

static inline void fx_traffic_dispose(fx_traffic_t *t)
{
    sl_canary_sample_dispose(&t->vc);
    sl_canary_sample_dispose(&t->vs);
}

static inline void fx_values(sl_canary_sample_t *s, uint64_t *rng, uint64_t n)
{
    for (uint64_t i = 0; i != n; ++i) {
        double u = (double)(sl_reservoir_splitmix64(rng) >> 11) * 0x1p-53;
        sl_canary_outcome_t o = {.latency_ms = 100 * exp(0.5 * (u - 0.5)), .ttft_ms = NAN, .tpot_ms = NAN, .confidence = NAN};
        sl_canary_sample_observe(s, &o, sl_reservoir_splitmix64(rng));
    }
    s->counts.requests = 0;
}

/* One control tick at now_ms: returns the events it recorded. */
static inline int fx_tick(sl_rollout_t *r, fx_traffic_t *t, uint64_t total, uint64_t canary_err_every, uint64_t now_ms)
{
    uint32_t w = sl_rollout_weight(r);
    uint64_t nc = (total * w + 500) / 1000, ns = total - nc;
    sl_canary_counts_t c = {.requests = nc, .errors = canary_err_every != 0 ? nc / canary_err_every : 0};
    sl_canary_counts_t s = {.requests = ns, .errors = t->ticks % 500 == 0 && ns != 0 ? 1 : 0};
    t->ticks++;
    fx_values(&t->vc, &t->rng, nc);
    fx_values(&t->vs, &t->rng, ns);
    int due = sl_rollout_analysis_due(r, now_ms);
    int ev = sl_rollout_tick(r, &c, &s, due ? &t->vc : NULL, due ? &t->vs : NULL, now_ms, 0, &t->rng);
    if (due) {
        sl_canary_sample_reset(&t->vc);
        sl_canary_sample_reset(&t->vs);
    }
    return ev;
}

/* A fresh empty directory under /tmp; the caller removes it with fx_rmdir. */
static inline void fx_mkdtemp(char *dir, size_t sz)
{
    snprintf(dir, sz, "/tmp/sluice-rollout-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static inline void fx_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[4200];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static inline size_t fx_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

#endif
