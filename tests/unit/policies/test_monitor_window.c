/*
 * test_monitor_window.c - the sliding window of the drift measures (policies/monitor_window.c): slots, sliding,
 * gaps longer than the window, late adds, and a randomized comparison with a naive list of timed counts.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "policies/monitor.h"
#include "stats/reservoir.h"

static void add1(sl_monitor_window_t *w, uint64_t t, size_t cell, uint64_t n)
{
    uint64_t d[3] = {0, 0, 0};
    d[cell] = n;
    sl_monitor_window_add(w, t, d);
}

static void expect_sum(const sl_monitor_window_t *w, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t s[3];
    sl_monitor_window_sum(w, s);
    cr_expect_eq(s[0], a, "cell 0: %llu, want %llu", (unsigned long long)s[0], (unsigned long long)a);
    cr_expect_eq(s[1], b, "cell 1: %llu, want %llu", (unsigned long long)s[1], (unsigned long long)b);
    cr_expect_eq(s[2], c, "cell 2: %llu, want %llu", (unsigned long long)s[2], (unsigned long long)c);
}

Test(monitor_window, rejects_bad_shapes)
{
    sl_monitor_window_t w;
    cr_assert_eq(sl_monitor_window_init(&w, 0, 4, 1000), SL_EINVAL);
    cr_assert_eq(sl_monitor_window_init(&w, 3, 1, 1000), SL_EINVAL);
    cr_assert_eq(sl_monitor_window_init(&w, 3, 1441, 1000), SL_EINVAL);
    cr_assert_eq(sl_monitor_window_init(&w, 3, 4, 0), SL_EINVAL);
}

Test(monitor_window, slides_by_whole_slots)
{
    sl_monitor_window_t w;
    cr_assert_eq(sl_monitor_window_init(&w, 3, 4, 1000), SL_OK); /* 4 slots of 1 s */
    expect_sum(&w, 0, 0, 0);
    add1(&w, 500, 0, 1);  /* slot 0 */
    add1(&w, 999, 1, 2);  /* slot 0 */
    add1(&w, 1000, 2, 4); /* slot 1 */
    add1(&w, 3999, 0, 8); /* slot 3: the window is slots 0..3 */
    expect_sum(&w, 9, 2, 4);
    sl_monitor_window_advance(&w, 4000); /* slot 4: slot 0 leaves */
    expect_sum(&w, 8, 0, 4);
    sl_monitor_window_advance(&w, 4999); /* same slot: nothing changes */
    expect_sum(&w, 8, 0, 4);
    add1(&w, 2500, 1, 16); /* late: counted in the newest slot (4), never in the past */
    expect_sum(&w, 8, 16, 4);
    sl_monitor_window_advance(&w, 5000); /* slot 1 leaves */
    expect_sum(&w, 8, 16, 0);
    sl_monitor_window_advance(&w, 6999); /* window 3..6: slots 3 and 4 are still in */
    expect_sum(&w, 8, 16, 0);
    sl_monitor_window_advance(&w, 7000); /* 3 leaves */
    expect_sum(&w, 0, 16, 0);
    sl_monitor_window_advance(&w, 8000); /* 4 leaves */
    expect_sum(&w, 0, 0, 0);
    sl_monitor_window_advance(&w, 1000000); /* a gap longer than the window empties it */
    expect_sum(&w, 0, 0, 0);
    add1(&w, 1000001, 2, 1);
    expect_sum(&w, 0, 0, 1);
    sl_monitor_window_clear(&w);
    expect_sum(&w, 0, 0, 0);
    sl_monitor_window_dispose(&w);
    sl_monitor_window_dispose(&w); /* idempotent */
}

Test(monitor_window, matches_a_naive_model)
{
    enum { N = 4000, SLOTS = 7, SLOT_MS = 300 };
    static uint64_t t_of[N];
    static uint32_t cell_of[N], n_of[N];
    sl_monitor_window_t w;
    uint64_t rng = 42, t = 0;
    cr_assert_eq(sl_monitor_window_init(&w, 3, SLOTS, SLOT_MS), SL_OK);
    for (int i = 0; i != N; ++i) {
        uint64_t r = sl_reservoir_splitmix64(&rng);
        t += r % 100 == 0 ? 5000 : r % 97; /* mostly small steps, some gaps longer than the window */
        t_of[i] = t;
        cell_of[i] = (uint32_t)(r >> 20) % 3;
        n_of[i] = 1 + (uint32_t)(r >> 40) % 5;
        add1(&w, t, cell_of[i], n_of[i]);
        if (i % 13 == 0) {
            uint64_t want[3] = {0, 0, 0}, head = t / SLOT_MS;
            for (int j = 0; j <= i; ++j)
                if (t_of[j] / SLOT_MS + SLOTS > head)
                    want[cell_of[j]] += n_of[j];
            expect_sum(&w, want[0], want[1], want[2]);
        }
    }
    sl_monitor_window_dispose(&w);
}
