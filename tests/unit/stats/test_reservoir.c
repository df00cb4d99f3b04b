/*
 * test_reservoir.c - reservoir sampling: deterministic behaviour for given draws, and uniform inclusion (every value
 * of the stream equally likely to be in the sample) for observe and for the merge of two shards, checked with a
 * chi-square goodness-of-fit test over 20,000 seeded trials.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/status.h"
#include "stats/chisq.h"
#include "stats/reservoir.h"

Test(reservoir, keeps_first_values_then_replaces_by_draw)
{
    sl_reservoir_t r;
    cr_assert_eq(sl_reservoir_init(&r, 3), SL_OK);
    for (int i = 0; i < 3; ++i)
        cr_assert_eq(sl_reservoir_observe(&r, 10 + i, 0), SL_OK);
    cr_assert_eq(r.size, 3);
    /* 4th value: j = floor(draw * 4 / 2^64); draw = 2^62 gives j = 1 -> slot 1 */
    cr_assert_eq(sl_reservoir_observe(&r, 99, 1ull << 62), SL_OK);
    cr_assert_eq(r.values_private[1], 99.0);
    /* 5th value: draw = 2^64 - 1 gives j = 4 >= capacity -> not kept */
    cr_assert_eq(sl_reservoir_observe(&r, 77, UINT64_MAX), SL_OK);
    cr_assert_eq(r.values_private[0], 10.0);
    cr_assert_eq(r.values_private[1], 99.0);
    cr_assert_eq(r.values_private[2], 12.0);
    cr_assert_eq(r.seen, 5);
    cr_assert_eq(sl_reservoir_observe(&r, NAN, 0), SL_EINVAL);
    cr_assert_eq(r.seen, 5);
    sl_reservoir_reset(&r);
    cr_assert_eq(r.size, 0);
    cr_assert_eq(r.seen, 0);
    sl_reservoir_dispose(&r);
    cr_assert_eq(sl_reservoir_init(&r, 0), SL_EINVAL);
}

enum { STREAM = 200, CAP = 20, TRIALS = 20000 };

static void assert_uniform(const uint64_t *hits, const char *what)
{
    double prop[STREAM];
    for (int i = 0; i < STREAM; ++i)
        prop[i] = 1;
    sl_chisq_result_t r;
    cr_assert_eq(sl_chisq_gof(hits, prop, STREAM, &r), SL_OK);
    cr_assert_eq(r.n, (uint64_t)TRIALS * CAP);
    cr_log_info("%s: chi2 %.1f on %u dof, p = %.3f", what, r.statistic, r.dof, r.p_value);
    cr_assert(r.p_value > 0.001, "%s inclusion not uniform: chi2 %.1f p %g", what, r.statistic, r.p_value);
}

Test(reservoir, inclusion_is_uniform)
{
    static uint64_t hits[STREAM];
    sl_reservoir_t r;
    sl_reservoir_init(&r, CAP);
    uint64_t rng = 42;
    for (int t = 0; t < TRIALS; ++t) {
        sl_reservoir_reset(&r);
        for (int i = 0; i < STREAM; ++i)
            sl_reservoir_observe(&r, i, sl_reservoir_splitmix64(&rng));
        cr_assert_eq(r.size, CAP);
        for (uint32_t s = 0; s < r.size; ++s)
            hits[(int)r.values_private[s]]++;
    }
    sl_reservoir_dispose(&r);
    assert_uniform(hits, "observe");
}

Test(reservoir, merge_of_unequal_shards_is_uniform)
{
    static uint64_t hits[STREAM];
    sl_reservoir_t a, b, m;
    sl_reservoir_init(&a, CAP);
    sl_reservoir_init(&b, CAP);
    sl_reservoir_init(&m, CAP);
    uint64_t rng = 7;
    for (int t = 0; t < TRIALS; ++t) {
        sl_reservoir_reset(&a);
        sl_reservoir_reset(&b);
        for (int i = 0; i < STREAM; ++i) /* shard a sees 150 values, shard b 50 */
            sl_reservoir_observe(i < 150 ? &a : &b, i, sl_reservoir_splitmix64(&rng));
        cr_assert_eq(sl_reservoir_merge(&m, &a, &b, &rng), SL_OK);
        cr_assert_eq(m.size, CAP);
        cr_assert_eq(m.seen, STREAM);
        for (uint32_t s = 0; s < m.size; ++s)
            hits[(int)m.values_private[s]]++;
    }
    assert_uniform(hits, "merge");
    /* small shards: the merge keeps everything */
    sl_reservoir_reset(&a);
    sl_reservoir_reset(&b);
    sl_reservoir_observe(&a, 1, 0);
    sl_reservoir_observe(&b, 2, 0);
    cr_assert_eq(sl_reservoir_merge(&m, &a, &b, &rng), SL_OK);
    cr_assert_eq(m.size, 2);
    cr_assert_eq(m.values_private[0] + m.values_private[1], 3.0);
    /* a source smaller than the destination cannot stand for its stream */
    sl_reservoir_t tiny;
    sl_reservoir_init(&tiny, 2);
    for (int i = 0; i < 10; ++i)
        sl_reservoir_observe(&tiny, i, sl_reservoir_splitmix64(&rng));
    cr_assert_eq(sl_reservoir_merge(&m, &tiny, &b, &rng), SL_EINVAL);
    cr_assert_eq(m.size, 2);
    sl_reservoir_dispose(&tiny);
    sl_reservoir_dispose(&a);
    sl_reservoir_dispose(&b);
    sl_reservoir_dispose(&m);
}
