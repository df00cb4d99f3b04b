/*
 * timer.c - see timer.h. The heap is ordered by (due_us, seq); idx lets an entry be removed in O(log n) when its
 * request dies early. The driver compares against the monotonic clock, so a wall-clock step that makes h2o fire the
 * driver early or late only costs one extra re-arm.
 */
#include "tools/sim/timer.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/status.h"

static int before(const sl_sim_timer_t *a, const sl_sim_timer_t *b)
{
    return a->due_us < b->due_us || (a->due_us == b->due_us && a->seq < b->seq);
}

static void place(sl_sim_timers_t *t, size_t i, sl_sim_timer_t *e)
{
    t->heap[i] = e;
    e->idx = i + 1;
}

static void sift_up(sl_sim_timers_t *t, size_t i)
{
    sl_sim_timer_t *e = t->heap[i];
    while (i != 0) {
        size_t parent = (i - 1) / 2;
        if (!before(e, t->heap[parent]))
            break;
        place(t, i, t->heap[parent]);
        i = parent;
    }
    place(t, i, e);
}

static void sift_down(sl_sim_timers_t *t, size_t i)
{
    sl_sim_timer_t *e = t->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const sl_sim_timer_t *best = e;
        if (l < t->num && before(t->heap[l], best))
            best = t->heap[m = l];
        if (l + 1 < t->num && before(t->heap[l + 1], best))
            m = l + 1;
        if (m == i)
            break;
        place(t, i, t->heap[m]);
        i = m;
    }
    place(t, i, e);
}

static void arm(sl_sim_timers_t *t)
{
    h2o_timeout_unlink(&t->driver);
    if (t->num == 0)
        return;
    uint64_t now = sl_clock_now_us(), due = t->heap[0]->due_us;
    uint64_t ms = due > now ? (due - now) / 1000 : 0;
    size_t k = 0;
    while (k + 1 < SL_SIM_TIMER_CLASSES && ((uint64_t)1 << (k + 1)) <= ms)
        ++k;
    h2o_timeout_link(t->loop, &t->classes[k], &t->driver);
}

static void on_driver(h2o_timeout_entry_t *entry)
{
    sl_sim_timers_t *t = H2O_STRUCT_FROM_MEMBER(sl_sim_timers_t, driver, entry);
    /* run what is due within half a millisecond: waiting for the next millisecond tick would only add latency */
    uint64_t horizon = sl_clock_now_us() + 500;
    while (t->num != 0 && t->heap[0]->due_us <= horizon) {
        sl_sim_timer_t *e = t->heap[0];
        sl_sim_timer_unlink(t, e);
        e->cb(e);
    }
    arm(t);
}

void sl_sim_timers_init(sl_sim_timers_t *t, h2o_loop_t *loop)
{
    *t = (sl_sim_timers_t){.loop = loop};
    for (size_t k = 0; k != SL_SIM_TIMER_CLASSES; ++k)
        h2o_timeout_init(loop, &t->classes[k], (uint64_t)1 << k);
    t->driver.cb = on_driver;
}

int sl_sim_timers_dispose(sl_sim_timers_t *t)
{
    if (t->num != 0)
        return SL_EAGAIN;
    h2o_timeout_unlink(&t->driver);
    for (size_t k = 0; k != SL_SIM_TIMER_CLASSES; ++k)
        h2o_timeout_dispose(t->loop, &t->classes[k]);
    sl_free(t->heap);
    t->heap = NULL;
    t->cap = 0;
    return SL_OK;
}

void sl_sim_timer_link(sl_sim_timers_t *t, sl_sim_timer_t *e, uint64_t due_us)
{
    if (t->num == t->cap) {
        t->cap = t->cap == 0 ? 64 : t->cap * 2;
        t->heap = sl_realloc(t->heap, t->cap * sizeof(*t->heap));
    }
    e->due_us = due_us;
    e->seq = t->seq++;
    place(t, t->num++, e);
    sift_up(t, t->num - 1);
    if (e->idx == 1) /* a new earliest timer: the driver may be armed too late for it */
        arm(t);
}

void sl_sim_timer_unlink(sl_sim_timers_t *t, sl_sim_timer_t *e)
{
    if (e->idx == 0)
        return;
    size_t i = e->idx - 1;
    e->idx = 0;
    sl_sim_timer_t *last = t->heap[--t->num];
    if (i == t->num)
        return;
    place(t, i, last);
    if (i != 0 && before(last, t->heap[(i - 1) / 2]))
        sift_up(t, i);
    else
        sift_down(t, i);
}
