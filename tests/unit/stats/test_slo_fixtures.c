/*
 * stats/window.c and stats/slo.c against tests/fixtures/stats/slo_cases.txt, made by
 * tests/reference/slo_reference.py (numpy sums, exact fractions). Each trace is replayed minute by minute into a
 * window (minutes without traffic are skipped, so gaps go through sl_window_advance), persisted and restored half
 * way through, and evaluated at the sampled minutes: integer sums must match exactly, budgets and burn rates to
 * 1e-9 (absolute up to 1, relative above: |c - r| <= 1e-9 x max(1, |r|)), alert states and first firing minutes
 * exactly.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "common/str.h"
#include "stats/slo.h"
#include "stats/window.h"

#define FIXTURE SL_SOURCE_DIR "/tests/fixtures/stats/slo_cases.txt"
#define TOL 1e-9

typedef struct {
    int64_t minute;
    uint64_t pg, pt;
    int bh;
    double bv, ab;
    uint64_t g[SL_SLO_NUM_WINDOWS], t[SL_SLO_NUM_WINDOWS];
    int h[SL_SLO_NUM_WINDOWS];
    double v[SL_SLO_NUM_WINDOWS];
    int state[SL_SLO_NUM_RULES + 2];
} check_t;

typedef struct {
    char name[64];
    uint32_t ppb, period;
    int64_t first;
    size_t n, filled, num_checks;
    double thr[SL_SLO_NUM_RULES];
    sl_window_sum_t *trace;
    check_t *checks;
    int64_t firsts[SL_SLO_NUM_RULES + 2];
} case_t;

static double worst_error;
static int cases_seen, checks_seen;

static int close_enough(double c, double r)
{
    double err = fabs(c - r) / fmax(1.0, fabs(r));
    if (err > worst_error)
        worst_error = err;
    return err <= TOL;
}

static void parse_check(const char *line, check_t *c)
{
    char *p;
    c->minute = strtoll(line + 3, &p, 10);
    c->pg = strtoull(p, &p, 10);
    c->pt = strtoull(p, &p, 10);
    c->bh = (int)strtol(p, &p, 10);
    c->bv = strtod(p, &p);
    c->ab = strtod(p, &p);
    for (int i = 0; i < SL_SLO_NUM_WINDOWS; i++) {
        c->g[i] = strtoull(p, &p, 10);
        c->t[i] = strtoull(p, &p, 10);
        c->h[i] = (int)strtol(p, &p, 10);
        c->v[i] = strtod(p, &p);
    }
    for (int i = 0; i < SL_SLO_NUM_RULES + 2; i++)
        c->state[i] = (int)strtol(p, &p, 10);
}

static void compare(const case_t *k, const check_t *c, const sl_slo_report_t *r)
{
    const char *n = k->name;
    long long m = (long long)c->minute;
    cr_assert_eq(r->period.good, c->pg, "%s at %lld: period good", n, m);
    cr_assert_eq(r->period.total, c->pt, "%s at %lld: period total", n, m);
    cr_assert_eq(r->budget_remaining.has_data, c->bh, "%s at %lld: budget has_data", n, m);
    cr_assert(close_enough(r->budget_remaining.value, c->bv), "%s at %lld: budget %.17g, reference %.17g", n, m,
              r->budget_remaining.value, c->bv);
    cr_assert(close_enough(r->allowed_bad, c->ab), "%s at %lld: allowed bad %.17g vs %.17g", n, m, r->allowed_bad, c->ab);
    for (int i = 0; i < SL_SLO_NUM_WINDOWS; i++) {
        cr_assert_eq(r->sums[i].good, c->g[i], "%s at %lld: %s good", n, m, sl_slo_window_names[i]);
        cr_assert_eq(r->sums[i].total, c->t[i], "%s at %lld: %s total", n, m, sl_slo_window_names[i]);
        cr_assert_eq(r->burn_rate[i].has_data, c->h[i], "%s at %lld: %s has_data", n, m, sl_slo_window_names[i]);
        cr_assert(close_enough(r->burn_rate[i].value, c->v[i]), "%s at %lld: burn %s %.17g vs %.17g", n, m,
                  sl_slo_window_names[i], r->burn_rate[i].value, c->v[i]);
    }
    for (int i = 0; i < SL_SLO_NUM_RULES; i++)
        cr_assert_eq(r->rule_firing[i], c->state[i], "%s at %lld: %s", n, m, sl_slo_rules[i].name);
    cr_assert_eq(r->page, c->state[SL_SLO_NUM_RULES], "%s at %lld: page", n, m);
    cr_assert_eq(r->ticket, c->state[SL_SLO_NUM_RULES + 1], "%s at %lld: ticket", n, m);
}

/* Replays one case against the C code. */
static void run_case(const case_t *k)
{
    sl_slo_t slo;
    cr_assert_eq(sl_slo_init_ppb(&slo, k->ppb, k->period), SL_OK, "%s", k->name);
    for (int i = 0; i < SL_SLO_NUM_RULES; i++) /* both are one correctly rounded division of the same rational */
        cr_assert_eq(sl_slo_threshold(&slo, i), k->thr[i], "%s: threshold %d", k->name, i);

    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, sl_slo_window_capacity_min(&slo), k->first), SL_OK);
    size_t next = 0;
    for (size_t i = 0; i < k->n; i++) {
        int64_t m = k->first + (int64_t)i;
        if (k->trace[i].total != 0)
            cr_assert_eq(sl_window_add(&w, m, k->trace[i].good, k->trace[i].total), SL_OK);
        if (i == k->n / 2) { /* persist and restore, as a restart would */
            sl_buf_t b;
            sl_buf_init(&b, 0);
            cr_assert_eq(sl_window_encode(&w, &b), SL_OK);
            sl_window_t v;
            cr_assert_eq(sl_window_init(&v, w.capacity_min, 0), SL_OK);
            cr_assert_eq(sl_window_decode(&v, b.data, b.len, NULL), SL_OK, "%s: decode", k->name);
            sl_window_dispose(&w);
            w = v;
            sl_buf_dispose(&b);
        }
        while (next < k->num_checks && k->checks[next].minute == m) {
            sl_slo_report_t r;
            cr_assert_eq(sl_slo_evaluate(&slo, &w, m, &r), SL_OK);
            compare(k, &k->checks[next], &r);
            next++;
            checks_seen++;
        }
    }
    cr_assert_eq(next, k->num_checks, "%s: checks out of order", k->name);
    sl_window_dispose(&w);

    sl_slo_first_t f;
    cr_assert_eq(sl_slo_first_alerts(&slo, k->trace, k->n, k->first, &f), SL_OK);
    for (int i = 0; i < SL_SLO_NUM_RULES; i++)
        cr_assert_eq(f.rule[i], k->firsts[i], "%s: first %s at %" PRId64 ", reference %" PRId64, k->name, sl_slo_rules[i].name,
                     f.rule[i], k->firsts[i]);
    cr_assert_eq(f.page, k->firsts[SL_SLO_NUM_RULES], "%s: first page", k->name);
    cr_assert_eq(f.ticket, k->firsts[SL_SLO_NUM_RULES + 1], "%s: first ticket", k->name);
    cases_seen++;
}

Test(slo_fixtures, reference_traces)
{
    FILE *fp = fopen(FIXTURE, "r");
    cr_assert_not_null(fp, "cannot open %s", FIXTURE);
    char *line = NULL;
    size_t cap = 0;
    case_t k;
    memset(&k, 0, sizeof(k));
    size_t checks_cap = 0;
    while (getline(&line, &cap, fp) > 0) {
        if (line[0] == '#')
            continue;
        if (strncmp(line, "case ", 5) == 0) {
            long long first;
            unsigned long long n;
            cr_assert_eq(sscanf(line, "case %63s %" SCNu32 " %" SCNu32 " %lld %llu", k.name, &k.ppb, &k.period, &first, &n), 5);
            k.first = first;
            k.n = (size_t)n;
            k.filled = k.num_checks = 0;
            k.trace = sl_calloc(k.n ? k.n : 1, sizeof(*k.trace));
        } else if (strncmp(line, "thr ", 4) == 0) {
            char *p = line + 4;
            for (int i = 0; i < SL_SLO_NUM_RULES; i++)
                k.thr[i] = strtod(p, &p);
        } else if (line[0] == 't' && line[1] == ' ') {
            unsigned long long t, b;
            cr_assert_eq(sscanf(line, "t %llu %llu", &t, &b), 2);
            cr_assert_lt(k.filled, k.n);
            k.trace[k.filled].total = t;
            k.trace[k.filled].good = t - b;
            k.filled++;
        } else if (line[0] == 'z' && line[1] == ' ') {
            k.filled += (size_t)strtoull(line + 2, NULL, 10); /* already zero */
            cr_assert_leq(k.filled, k.n);
        } else if (strncmp(line, "at ", 3) == 0) {
            if (k.num_checks == checks_cap) {
                checks_cap = checks_cap ? 2 * checks_cap : 64;
                k.checks = sl_realloc(k.checks, checks_cap * sizeof(*k.checks));
            }
            parse_check(line, &k.checks[k.num_checks++]);
        } else if (strncmp(line, "first ", 6) == 0) {
            char *p = line + 6;
            for (int i = 0; i < SL_SLO_NUM_RULES + 2; i++)
                k.firsts[i] = strtoll(p, &p, 10);
        } else if (strncmp(line, "end", 3) == 0) {
            cr_assert_eq(k.filled, k.n, "%s: trace length", k.name);
            run_case(&k);
            sl_free(k.trace);
            k.trace = NULL;
        }
    }
    free(line);
    fclose(fp);
    sl_free(k.checks);
    cr_assert_eq(cases_seen, 8);
    cr_assert_gt(checks_seen, 250);
    cr_log_info("%d cases, %d evaluations, worst budget/burn error %.3g", cases_seen, checks_seen, worst_error);
}
