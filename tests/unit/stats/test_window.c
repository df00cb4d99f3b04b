/*
 * Tests for stats/window.c: trailing sums, gaps, clock steps, huge counts, and a randomized comparison with a naive
 * per-minute model.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "stats/window.h"

#define T0 ((int64_t)29000000) /* a realistic wall-clock minute (2025) */

static void expect_sum(const sl_window_t *w, int64_t now, uint32_t win, uint64_t good, uint64_t total)
{
    sl_window_sum_t s = {12345, 12345};
    cr_assert_eq(sl_window_sum(w, now, win, &s), SL_OK);
    cr_assert_eq(s.good, good, "window %u at %lld: good %llu, expected %llu", win, (long long)now, (unsigned long long)s.good,
                 (unsigned long long)good);
    cr_assert_eq(s.total, total, "window %u at %lld: total %llu, expected %llu", win, (long long)now,
                 (unsigned long long)s.total, (unsigned long long)total);
}

Test(window, init_validates)
{
    sl_window_t w;
    memset(&w, 0x5a, sizeof(w));
    cr_assert_eq(sl_window_init(&w, 0, T0), SL_EINVAL);
    cr_assert_eq(sl_window_init(&w, SL_WINDOW_MAX_MINUTES + 1, T0), SL_EINVAL);
    cr_assert_eq(sl_window_init(&w, 60, -1), SL_EINVAL);
    cr_assert_eq(sl_window_init(&w, 60, SL_WINDOW_MAX_MINUTE + 1), SL_EINVAL);
    cr_assert_eq(w.capacity_min, 0x5a5a5a5au); /* untouched */
    cr_assert_eq(sl_window_init(&w, SL_WINDOW_MAX_MINUTES, T0), SL_OK);
    cr_assert_eq(w.capacity_min, SL_WINDOW_MAX_MINUTES);
    cr_assert_eq(w.head_min, T0);
    sl_window_dispose(&w);
    sl_window_dispose(&w); /* twice is harmless */
}

Test(window, sums_over_trailing_minutes)
{
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, 60, T0), SL_OK);
    expect_sum(&w, T0, 60, 0, 0);
    /* minute T0 + i gets total 10 + i, good 10 */
    for (int i = 0; i < 10; i++)
        cr_assert_eq(sl_window_add(&w, T0 + i, 10, 10 + (uint64_t)i), SL_OK);
    expect_sum(&w, T0 + 9, 1, 10, 19);
    expect_sum(&w, T0 + 9, 5, 50, 19 + 18 + 17 + 16 + 15);
    expect_sum(&w, T0 + 9, 10, 100, 145);
    expect_sum(&w, T0 + 9, 60, 100, 145);
    /* two adds to one minute accumulate */
    cr_assert_eq(sl_window_add(&w, T0 + 9, 1, 2), SL_OK);
    expect_sum(&w, T0 + 9, 1, 11, 21);
    /* reading later than the head: minutes after it are empty, old ones slide out */
    expect_sum(&w, T0 + 10, 1, 0, 0);
    expect_sum(&w, T0 + 11, 5, 10 + 10 + 11, 17 + 18 + 21); /* minutes 7, 8, 9 */
    expect_sum(&w, T0 + 68, 60, 11, 21);                    /* minutes 9 .. 68 */
    expect_sum(&w, T0 + 69, 60, 0, 0);
    cr_assert_eq(w.head_min, T0 + 9); /* reading does not move the head */

    sl_window_sum_t s = {7, 7};
    cr_assert_eq(sl_window_sum(&w, T0 + 9, 0, &s), SL_EINVAL);
    cr_assert_eq(sl_window_sum(&w, T0 + 9, 61, &s), SL_EINVAL);
    cr_assert_eq(s.good, 7);
    sl_window_dispose(&w);
}

Test(window, rejects_bad_input_untouched)
{
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, 30, T0), SL_OK);
    cr_assert_eq(sl_window_add(&w, T0, 3, 5), SL_OK);
    cr_assert_eq(sl_window_add(&w, T0 + 5, 6, 5), SL_EINVAL); /* good > total */
    cr_assert_eq(sl_window_add(&w, -1, 1, 1), SL_EINVAL);
    cr_assert_eq(sl_window_add(&w, SL_WINDOW_MAX_MINUTE + 1, 1, 1), SL_EINVAL);
    cr_assert_eq(w.head_min, T0);
    expect_sum(&w, T0, 30, 3, 5);
    sl_window_dispose(&w);
}

Test(window, gap_of_hours_and_gap_longer_than_window)
{
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, 1440, T0), SL_OK);
    cr_assert_eq(sl_window_add(&w, T0, 90, 100), SL_OK);
    cr_assert_eq(sl_window_add(&w, T0 + 1, 9, 10), SL_OK);
    /* five hours without traffic */
    cr_assert_eq(sl_window_add(&w, T0 + 301, 1, 1), SL_OK);
    expect_sum(&w, T0 + 301, 5, 1, 1);
    expect_sum(&w, T0 + 301, 300, 1, 1);   /* minutes 2 .. 301 */
    expect_sum(&w, T0 + 301, 301, 10, 11); /* minutes 1 .. 301 */
    expect_sum(&w, T0 + 301, 302, 100, 111);
    expect_sum(&w, T0 + 301, 1440, 100, 111);
    sl_window_sum_t s;
    cr_assert_eq(sl_window_minute(&w, T0 + 150, &s), SL_OK);
    cr_assert_eq(s.total, 0);
    cr_assert_eq(sl_window_minute(&w, T0 + 1, &s), SL_OK);
    cr_assert_eq(s.good, 9);
    cr_assert_eq(s.total, 10);
    /* a day and a half later: everything before has left the window */
    cr_assert_eq(sl_window_add(&w, T0 + 301 + 2160, 4, 4), SL_OK);
    expect_sum(&w, T0 + 301 + 2160, 1440, 4, 4);
    expect_sum(&w, T0 + 301 + 2160, 1, 4, 4);
    cr_assert_eq(sl_window_minute(&w, T0 + 301, &s), SL_ENOENT);
    /* exactly one window later the previous head minute is just gone */
    cr_assert_eq(sl_window_advance(&w, T0 + 301 + 2160 + 1439), SL_OK);
    expect_sum(&w, T0 + 301 + 2160 + 1439, 1440, 4, 4);
    cr_assert_eq(sl_window_advance(&w, T0 + 301 + 2160 + 1440), SL_OK);
    expect_sum(&w, T0 + 301 + 2160 + 1440, 1440, 0, 0);
    sl_window_dispose(&w);
}

Test(window, clock_stepped_back_counts_in_head)
{
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, 60, T0), SL_OK);
    cr_assert_eq(sl_window_add(&w, T0 + 10, 5, 5), SL_OK);
    cr_assert_eq(sl_window_add(&w, T0 + 7, 1, 2), SL_OK); /* clock went back three minutes */
    cr_assert_eq(w.clamped, 1);
    cr_assert_eq(w.head_min, T0 + 10);
    expect_sum(&w, T0 + 10, 1, 6, 7);
    /* reading at a minute before the head reads the head */
    expect_sum(&w, T0 + 3, 1, 6, 7);
    cr_assert_eq(sl_window_advance(&w, T0 + 2), SL_OK); /* no effect */
    cr_assert_eq(w.head_min, T0 + 10);
    /* the policy may decide the history is not trustworthy */
    cr_assert_eq(sl_window_reset(&w, T0 + 2), SL_OK);
    cr_assert_eq(w.clamped, 0);
    expect_sum(&w, T0 + 2, 60, 0, 0);
    cr_assert_eq(sl_window_reset(&w, -5), SL_EINVAL);
    sl_window_dispose(&w);
}

Test(window, coverage)
{
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, 100, T0), SL_OK);
    cr_assert_eq(sl_window_coverage_min(&w, T0), 1);
    cr_assert_eq(sl_window_coverage_min(&w, T0 + 49), 50);
    cr_assert_eq(sl_window_coverage_min(&w, T0 + 500), 100);
    cr_assert_eq(sl_window_coverage_min(&w, T0 - 5), 1); /* read as the head */
    sl_window_dispose(&w);
}

Test(window, window_starting_at_minute_zero)
{
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, 10, 0), SL_OK);
    cr_assert_eq(sl_window_add(&w, 0, 1, 1), SL_OK);
    cr_assert_eq(sl_window_add(&w, 3, 2, 2), SL_OK);
    expect_sum(&w, 3, 10, 3, 3);
    expect_sum(&w, 3, 4, 3, 3);
    expect_sum(&w, 3, 3, 2, 2);
    sl_window_sum_t s;
    cr_assert_eq(sl_window_minute(&w, 0, &s), SL_OK);
    cr_assert_eq(s.total, 1);
    cr_assert_eq(sl_window_minute(&w, -1, &s), SL_ENOENT);
    sl_window_dispose(&w);
}

Test(window, ninety_days_of_1e12_a_minute)
{
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, SL_WINDOW_MAX_MINUTES, T0), SL_OK);
    const uint64_t total = 1000000000000ull, good = 999999000000ull;
    for (int64_t m = 0; m < SL_WINDOW_MAX_MINUTES; m++)
        cr_assert_eq(sl_window_add(&w, T0 + m, good, total), SL_OK);
    int64_t head = T0 + SL_WINDOW_MAX_MINUTES - 1;
    expect_sum(&w, head, SL_WINDOW_MAX_MINUTES, good * SL_WINDOW_MAX_MINUTES, total * SL_WINDOW_MAX_MINUTES);
    expect_sum(&w, head, 4320, good * 4320, total * 4320);
    expect_sum(&w, head, 5, good * 5, total * 5);
    /* one more minute pushes the oldest out */
    cr_assert_eq(sl_window_add(&w, head + 1, 0, 7), SL_OK);
    expect_sum(&w, head + 1, SL_WINDOW_MAX_MINUTES, good * (SL_WINDOW_MAX_MINUTES - 1),
               total * (SL_WINDOW_MAX_MINUTES - 1) + 7);
    sl_window_dispose(&w);
}

Test(window, running_totals_wrap_but_sums_stay_exact)
{
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, 3, T0), SL_OK);
    const uint64_t big = (uint64_t)1 << 62;
    for (int m = 0; m < 100; m++) /* the running total wraps 2^64 every four minutes */
        cr_assert_eq(sl_window_add(&w, T0 + m, big - 1, big), SL_OK);
    expect_sum(&w, T0 + 99, 3, 3 * (big - 1), 3 * big);
    expect_sum(&w, T0 + 99, 1, big - 1, big);
    sl_window_dispose(&w);
}

/* splitmix64: a small deterministic generator for the randomized tests */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

Test(window, random_operations_match_a_naive_model)
{
    enum { CAP = 97, SPAN = 4000 };
    uint64_t *good = sl_calloc(SPAN, sizeof(uint64_t)), *total = sl_calloc(SPAN, sizeof(uint64_t));
    uint64_t seed = 42;
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, CAP, T0), SL_OK);
    int64_t head = 0; /* offset from T0 */
    int checks = 0;
    while (head < SPAN - 300) {
        uint64_t r = rnd(&seed) % 100;
        int64_t m = head;
        if (r < 60)
            m = head + (int64_t)(rnd(&seed) % 3); /* same or next minutes */
        else if (r < 70)
            m = head + (int64_t)(rnd(&seed) % (2 * CAP)); /* a gap, sometimes longer than the window */
        else if (r < 80)
            m = head - (int64_t)(rnd(&seed) % 20); /* clock stepped back */
        uint64_t t = rnd(&seed) % 1000, g = t == 0 ? 0 : rnd(&seed) % (t + 1);
        cr_assert_eq(sl_window_add(&w, T0 + m, g, t), SL_OK);
        if (m > head)
            head = m;
        good[head] += g;
        total[head] += t;
        /* compare every window length at the head and a little after it */
        int64_t now = head + (int64_t)(rnd(&seed) % 5);
        for (uint32_t win = 1; win <= CAP; win += 1 + (uint32_t)(rnd(&seed) % 7)) {
            uint64_t eg = 0, et = 0;
            for (int64_t k = now - win + 1; k <= now; k++)
                if (k >= 0 && k <= head) {
                    eg += good[k];
                    et += total[k];
                }
            expect_sum(&w, T0 + now, win, eg, et);
            checks++;
        }
    }
    cr_assert_gt(checks, 1000);
    sl_window_dispose(&w);
    sl_free(good);
    sl_free(total);
}
