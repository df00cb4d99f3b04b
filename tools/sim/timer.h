/*
 * timer.h - per-worker timers with arbitrary delays on top of h2o's fixed-delay timeout classes.
 *
 * h2o 2.2.5 timeouts come in classes whose entries all fire the same delay after being linked. The simulator needs a
 * different delay for every answer and token, so each worker keeps its own binary min-heap of due times and one
 * "driver" entry linked into the largest of eleven classes (1, 2, 4, ... 1024 ms) that does not overshoot the earliest
 * due time; when the driver fires it runs what is due and re-arms. Nothing polls while the heap is empty.
 * Resolution is about one millisecond. Owned and used by one worker thread; no locks.
 */
#ifndef SL_TOOLS_SIM_TIMER_H
#define SL_TOOLS_SIM_TIMER_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

#define SL_SIM_TIMER_CLASSES 11

typedef struct st_sl_sim_timer_t sl_sim_timer_t;
struct st_sl_sim_timer_t {
    uint64_t due_us; /* monotonic microseconds (common/clock.h) */
    uint64_t seq;    /* link order: equal due times fire first-linked first */
    size_t idx;      /* 1-based position in the heap; 0 = not linked */
    void (*cb)(sl_sim_timer_t *t);
};

typedef struct st_sl_sim_timers_t {
    h2o_loop_t *loop;
    sl_sim_timer_t **heap; /* owned; grows to the largest number of simultaneous timers, never shrinks */
    size_t num, cap;
    uint64_t seq;
    h2o_timeout_t classes[SL_SIM_TIMER_CLASSES];
    h2o_timeout_entry_t driver;
} sl_sim_timers_t;

/* Initialises the timers of the loop's thread. */
void sl_sim_timers_init(sl_sim_timers_t *t, h2o_loop_t *loop);
/* Disposes the classes and the heap. Returns SL_OK, or SL_EAGAIN (nothing done) while timers are still linked. */
int sl_sim_timers_dispose(sl_sim_timers_t *t);
/* Links e (cb set by the caller, not linked) to fire at due_us (which may be in the past: it fires on the next
 * driver run, from the loop, never from inside this call). */
void sl_sim_timer_link(sl_sim_timers_t *t, sl_sim_timer_t *e, uint64_t due_us);
/* Unlinks e; safe when e is not linked. */
void sl_sim_timer_unlink(sl_sim_timers_t *t, sl_sim_timer_t *e);

static inline int sl_sim_timer_is_linked(const sl_sim_timer_t *e)
{
    return e->idx != 0;
}

#endif
