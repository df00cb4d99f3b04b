/*
 * stats/hist.c and stats/hist_ring.c against tests/fixtures/stats/hist_cases.txt, made by
 * tests/reference/hist_reference.py from numpy's exact quantiles (inverted CDF). Each quantile must lie within the
 * documented relative bound SL_HIST_REL_ERROR (1/64) of numpy's value - exactly equal for values up to 64 us, and
 * at most the true value when it lies beyond the histogram's range. Counts, sums, min/max and Prometheus
 * cumulative counts must match exactly; a histogram merged from four shards must equal the single one bit for bit.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "stats/hist.h"

#define FIXTURE SL_SOURCE_DIR "/tests/fixtures/stats/hist_cases.txt"

static double worst;
static int quantiles_checked;

/* c: our quantile, t: numpy's */
static void check_quantile(const char *what, double q, double c, unsigned long long t)
{
    double tv = (double)t;
    if (t <= SL_HIST_EXACT_MAX) {
        cr_assert_eq(c, tv, "%s q=%g: %.17g, reference %llu (exact range)", what, q, c, t);
    } else if (t <= SL_HIST_MAX_US) {
        double err = fabs(c - tv) / tv;
        if (err > worst)
            worst = err;
        cr_assert_leq(err, SL_HIST_REL_ERROR, "%s q=%g: %.17g, reference %llu, error %g", what, q, c, t, err);
    } else {
        cr_assert_leq(c, tv, "%s q=%g: beyond the range the result is a lower bound", what, q);
        cr_assert_geq(c, (double)(SL_HIST_MAX_US - (SL_HIST_MAX_US >> 6)), "%s q=%g", what, q);
    }
    quantiles_checked++;
}

typedef struct {
    unsigned long long v, n;
} obs_t;

Test(hist_fixtures, reference_quantiles_and_counts)
{
    FILE *fp = fopen(FIXTURE, "r");
    cr_assert_not_null(fp, "cannot open %s", FIXTURE);
    char *line = NULL, name[64] = "";
    size_t cap = 0, nobs = 0, obs_cap = 0;
    obs_t *obs = NULL;
    sl_hist_t one, shards[4], merged;
    sl_hist_ring_t ring;
    int in_ring = 0, cases = 0, rings = 0, queries = 0;
    while (getline(&line, &cap, fp) > 0) {
        char *p;
        if (line[0] == '#')
            continue;
        if (strncmp(line, "bounds ", 7) == 0) {
            p = line + 7;
            for (uint32_t b = 0; b < SL_HIST_PROM_NUM; b++)
                cr_assert_eq(strtoull(p, &p, 10), sl_hist_prom_bounds_us[b], "bound %u", b);
        } else if (strncmp(line, "case ", 5) == 0) {
            cr_assert_eq(sscanf(line, "case %63s", name), 1);
            nobs = 0;
        } else if (strncmp(line, "v ", 2) == 0 || strncmp(line, "w ", 2) == 0) {
            p = line + 2;
            int weighted = line[0] == 'w';
            for (;;) {
                char *q;
                unsigned long long v = strtoull(p, &q, 10);
                if (q == p)
                    break;
                p = q;
                unsigned long long n = weighted ? strtoull(p, &p, 10) : 1;
                if (nobs == obs_cap) {
                    obs_cap = obs_cap ? 2 * obs_cap : 1024;
                    obs = sl_realloc(obs, obs_cap * sizeof(*obs));
                }
                obs[nobs].v = v;
                obs[nobs++].n = n;
                if (weighted)
                    break;
            }
        } else if (strncmp(line, "stats ", 6) == 0) {
            /* all observations are in: build the single histogram and the merged shards */
            sl_hist_init(&one);
            sl_hist_init(&merged);
            for (int s = 0; s < 4; s++)
                sl_hist_init(&shards[s]);
            for (size_t i = 0; i < nobs; i++) {
                sl_hist_record_n(&one, obs[i].v, obs[i].n);
                sl_hist_record_n(&shards[i % 4], obs[i].v, obs[i].n);
            }
            for (int s = 0; s < 4; s++)
                sl_hist_merge(&merged, &shards[s]);
            cr_assert_eq(memcmp(&one, &merged, sizeof(one)), 0, "%s: merged shards differ", name);
            unsigned long long n, sum, mn, mx;
            cr_assert_eq(sscanf(line, "stats %llu %llu %llu %llu", &n, &sum, &mn, &mx), 4);
            cr_assert_eq(sl_hist_count(&one), n, "%s: count", name);
            cr_assert_eq(sl_hist_sum_us(&one), sum, "%s: sum", name);
            cr_assert_eq(one.min_us, mn, "%s: min", name);
            cr_assert_eq(one.max_us, mx, "%s: max", name);
        } else if (strncmp(line, "q ", 2) == 0) {
            double q = strtod(line + 2, &p), c = -1;
            while (*p == ' ')
                p++;
            if (strncmp(p, "none", 4) == 0) {
                cr_assert_eq(sl_hist_quantile(&one, q, &c), SL_ENOENT, "%s: empty", name);
                continue;
            }
            cr_assert_eq(sl_hist_quantile(&one, q, &c), SL_OK, "%s q=%g", name, q);
            check_quantile(name, q, c, strtoull(p, NULL, 10));
        } else if (strncmp(line, "prom ", 5) == 0) {
            uint64_t got[SL_HIST_PROM_NUM];
            sl_hist_prom_cumulative(&one, got);
            p = line + 5;
            for (uint32_t b = 0; b < SL_HIST_PROM_NUM; b++) {
                unsigned long long want = strtoull(p, &p, 10);
                cr_assert_eq(got[b], want, "%s: le=%s: %llu, reference %llu", name, sl_hist_prom_labels[b],
                             (unsigned long long)got[b], want);
            }
        } else if (strncmp(line, "ring ", 5) == 0) {
            unsigned ticks;
            cr_assert_eq(sscanf(line, "ring %63s %u", name, &ticks), 2);
            cr_assert_eq(sl_hist_ring_init(&ring, ticks, 0), SL_OK);
            in_ring = 1;
        } else if (strncmp(line, "tick ", 5) == 0) {
            long long t = strtoll(line + 5, &p, 10);
            sl_hist_t h;
            sl_hist_init(&h);
            for (;;) {
                char *q;
                unsigned long long v = strtoull(p, &q, 10);
                if (q == p)
                    break;
                p = q;
                sl_hist_record(&h, v);
            }
            cr_assert_eq(sl_hist_ring_push(&ring, t, &h), SL_OK);
        } else if (strncmp(line, "query ", 6) == 0) {
            long long t = strtoll(line + 6, &p, 10);
            double q = strtod(p, &p), c = -1;
            while (*p == ' ')
                p++;
            cr_assert_eq(sl_hist_ring_advance(&ring, t), SL_OK);
            char what[96];
            snprintf(what, sizeof(what), "%s at tick %lld", name, t);
            if (strncmp(p, "none", 4) == 0)
                cr_assert_eq(sl_hist_ring_quantile(&ring, q, &c), SL_ENOENT, "%s: empty window", what);
            else {
                cr_assert_eq(sl_hist_ring_quantile(&ring, q, &c), SL_OK, "%s", what);
                check_quantile(what, q, c, strtoull(p, NULL, 10));
            }
            queries++;
        } else if (strncmp(line, "end", 3) == 0) {
            if (in_ring) {
                cr_assert_eq(ring.late, 0);
                sl_hist_ring_dispose(&ring);
                in_ring = 0;
                rings++;
            } else {
                cases++;
            }
        }
    }
    free(line);
    fclose(fp);
    sl_free(obs);
    cr_assert_eq(cases, 10);
    cr_assert_eq(rings, 1);
    cr_assert_gt(queries, 40);
    cr_log_info("%d quantiles within bound, worst relative error %.5f (bound %.5f)", quantiles_checked, worst,
                SL_HIST_REL_ERROR);
}
