/*
 * test_busy_poll.c - sl_busy_poll_wait() (gateway/server.h): when a worker polls without sleeping and when it goes
 * back to sleep, with exact times.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "gateway/server.h"

Test(busy_poll, off_never_spins)
{
    sl_busy_poll_t bp = {0, 0};
    cr_assert_eq(sl_busy_poll_wait(&bp, 0, 1, 1000), INT32_MAX); /* events, but no window */
    cr_assert_eq(sl_busy_poll_wait(&bp, 0, 2, 1001), INT32_MAX);
    cr_assert_eq(sl_busy_poll_wait(&bp, 0, 2, 1002), INT32_MAX);
}

Test(busy_poll, window_runs_from_the_last_iteration_with_events)
{
    sl_busy_poll_t bp = {0, 0};
    cr_assert_eq(sl_busy_poll_wait(&bp, 50, 0, 1000), INT32_MAX); /* idle: sleeps */
    cr_assert_eq(sl_busy_poll_wait(&bp, 50, 1, 2000), 0);         /* events at 2000: poll until 2050 */
    cr_assert_eq(bp.until_us, 2050);
    cr_assert_eq(sl_busy_poll_wait(&bp, 50, 1, 2030), 0);         /* nothing new, still inside */
    cr_assert_eq(sl_busy_poll_wait(&bp, 50, 2, 2040), 0);         /* events at 2040: until 2090 */
    cr_assert_eq(bp.until_us, 2090);
    cr_assert_eq(sl_busy_poll_wait(&bp, 50, 2, 2089), 0);
    cr_assert_eq(sl_busy_poll_wait(&bp, 50, 2, 2090), INT32_MAX); /* 50 us without events: sleep */
    cr_assert_eq(sl_busy_poll_wait(&bp, 50, 2, 9000), INT32_MAX); /* woken by a timer, no events: sleep again */
    cr_assert_eq(sl_busy_poll_wait(&bp, 50, 3, 9100), 0);         /* woken by events: poll again */
}

Test(busy_poll, mark_wraps)
{
    /* h2o's mark counts modulo 8: any change is an iteration with events */
    sl_busy_poll_t bp = {0, 7};
    cr_assert_eq(sl_busy_poll_wait(&bp, 10, 0, 100), 0);
    cr_assert_eq(bp.seen, 0);
    cr_assert_eq(sl_busy_poll_wait(&bp, 10, 0, 110), INT32_MAX);
}

Test(busy_poll, window_turned_off_while_polling)
{
    /* a reload to busy_poll: 0 while polling: the open window ends as set, the next events open none */
    sl_busy_poll_t bp = {0, 0};
    cr_assert_eq(sl_busy_poll_wait(&bp, 100, 1, 1000), 0);
    cr_assert_eq(sl_busy_poll_wait(&bp, 0, 1, 1050), 0);
    cr_assert_eq(sl_busy_poll_wait(&bp, 0, 2, 1060), INT32_MAX);
}

Test(busy_poll, idle_time_counts_only_polls_that_found_nothing)
{
    sl_busy_poll_t bp = {0, 0};
    cr_assert_eq(sl_busy_poll_wait(&bp, 100, 1, 1000), 0);        /* a sleep ended by events at 1000: not counted */
    cr_assert_eq(bp.idle_us, 0);
    cr_assert_eq(sl_busy_poll_wait(&bp, 100, 1, 1010), 0);        /* the poll 1000..1010 found nothing */
    cr_assert_eq(bp.idle_us, 10);
    cr_assert_eq(sl_busy_poll_wait(&bp, 100, 2, 1025), 0);        /* the poll 1010..1025 caught events */
    cr_assert_eq(bp.idle_us, 10);
    cr_assert_eq(sl_busy_poll_wait(&bp, 100, 2, 1100), 0);        /* 1025..1100 empty */
    cr_assert_eq(bp.idle_us, 85);
    cr_assert_eq(sl_busy_poll_wait(&bp, 100, 2, 1125), INT32_MAX); /* 1100..1125 empty; the window is over */
    cr_assert_eq(bp.idle_us, 110);
    cr_assert_eq(sl_busy_poll_wait(&bp, 100, 2, 5000), INT32_MAX); /* a sleep (a timer woke it): not counted */
    cr_assert_eq(bp.idle_us, 110);
}
