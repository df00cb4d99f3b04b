/*
 * test_snapshot.c - publish/reclaim of conf/snapshot.c: the exact sequence of references and frees, readers that
 * stall or release reclamation, and a multi-thread stress test in which every read checks a canary and every
 * snapshot must be freed exactly once.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/snapshot.h"

#define CANARY 0x5eed5eed5eed5eedull
#define MAX_IDS 200000

typedef struct st_test_snap_t {
    sl_snapshot_t super;
    size_t id;
    uint64_t canary; /* CANARY ^ id while alive */
} test_snap_t;

static _Atomic uint32_t freed[MAX_IDS];
static _Atomic size_t num_freed;

static void test_dispose(sl_snapshot_t *s)
{
    test_snap_t *t = (test_snap_t *)s;
    atomic_fetch_add(&freed[t->id], 1);
    atomic_fetch_add(&num_freed, 1);
    t->canary = 0;
    free(t);
}

static test_snap_t *snap_new(size_t id)
{
    test_snap_t *t = calloc(1, sizeof(*t));
    sl_snapshot_init(&t->super, test_dispose);
    t->id = id;
    t->canary = CANARY ^ id;
    return t;
}

static uint32_t refs(test_snap_t *t)
{
    return atomic_load(&t->super.refs);
}

static void reset(void)
{
    for (size_t i = 0; i != MAX_IDS; ++i)
        atomic_store(&freed[i], 0);
    atomic_store(&num_freed, 0);
}

Test(snapshot, exact_sequence, .init = reset)
{
    sl_snapshot_slot_t slot;
    sl_snapshot_reader_t r;
    test_snap_t *s1 = snap_new(1), *s2 = snap_new(2), *s3 = snap_new(3);

    sl_snapshot_slot_init(&slot, &s1->super);
    sl_snapshot_reader_init(&r, &slot);
    cr_assert_eq(sl_snapshot_slot_peek(&slot), &s1->super);
    cr_assert_null(sl_snapshot_pin(&r)); /* nothing held before the first quiescent point */

    sl_snapshot_reader_quiesce(&r);
    cr_assert_eq(refs(s1), 2);
    sl_snapshot_t *p1 = sl_snapshot_pin(&r);
    cr_assert_eq(p1, &s1->super);

    sl_snapshot_publish(&slot, &s2->super);
    cr_assert_eq(sl_snapshot_slot_peek(&slot), &s2->super);
    cr_assert_eq(s1->super.retire_epoch, 2);
    cr_assert_eq(sl_snapshot_reclaim(&slot), 1); /* the reader announced epoch 1 < 2: it may be loading s1 */
    cr_assert_eq(refs(s1), 2);

    sl_snapshot_reader_quiesce(&r); /* takes s2, keeps s1 aside (pinned), announces 2 */
    cr_assert_eq(refs(s2), 2);
    cr_assert_eq(r.num_old, 1);
    cr_assert_eq(sl_snapshot_reclaim(&slot), 0);
    cr_assert_eq(refs(s1), 1); /* the slot's reference is gone; the request's pin keeps it */
    cr_assert_eq(atomic_load(&num_freed), 0);
    cr_assert_eq(s1->canary, CANARY ^ 1);

    sl_snapshot_t *p2 = sl_snapshot_pin(&r);
    cr_assert_eq(p2, &s2->super);
    sl_snapshot_unpin(&r, p1); /* last pin of s1: freed here */
    cr_assert_eq(atomic_load(&freed[1]), 1);
    cr_assert_eq(r.num_old, 0);
    sl_snapshot_unpin(&r, p2);
    cr_assert_eq(r.held_pins, 0);
    cr_assert_eq(refs(s2), 2);

    sl_snapshot_publish(&slot, &s3->super);
    sl_snapshot_reader_quiesce(&r); /* s2 had no pins: dropped at once */
    cr_assert_eq(r.num_old, 0);
    cr_assert_eq(refs(s2), 1);
    cr_assert_eq(sl_snapshot_reclaim(&slot), 0);
    cr_assert_eq(atomic_load(&freed[2]), 1);

    sl_snapshot_reader_dispose(&r);
    cr_assert_eq(refs(s3), 1);
    cr_assert_eq(atomic_load(&r.announced_epoch), UINT64_MAX);
    sl_snapshot_slot_dispose(&slot);
    cr_assert_eq(atomic_load(&freed[3]), 1);
    cr_assert_eq(atomic_load(&num_freed), 3);
}

Test(snapshot, a_kept_reference_is_last_once_the_slot_and_the_readers_let_go, .init = reset)
{
    sl_snapshot_slot_t slot;
    sl_snapshot_reader_t r;
    test_snap_t *s1 = snap_new(1), *s2 = snap_new(2);
    sl_snapshot_slot_init(&slot, &s1->super);
    sl_snapshot_reader_init(&r, &slot);
    sl_snapshot_reader_quiesce(&r);
    sl_snapshot_t *p1 = sl_snapshot_pin(&r);
    sl_snapshot_retain(&s1->super); /* kept by its replacer, as the gateway's reload does */
    sl_snapshot_publish(&slot, &s2->super);
    cr_assert_eq(sl_snapshot_is_last_ref(&s1->super), 0); /* the slot, the reader and the keeper */
    sl_snapshot_reader_quiesce(&r);
    sl_snapshot_reclaim(&slot);
    cr_assert_eq(sl_snapshot_is_last_ref(&s1->super), 0); /* a request still pins it */
    sl_snapshot_unpin(&r, p1);
    cr_assert_eq(sl_snapshot_is_last_ref(&s1->super), 1);
    cr_assert_eq(atomic_load(&freed[1]), 0);
    sl_snapshot_release(&s1->super);
    cr_assert_eq(atomic_load(&freed[1]), 1);
    sl_snapshot_reader_dispose(&r);
    sl_snapshot_slot_dispose(&slot);
}

Test(snapshot, idle_reader_stalls_and_detached_reader_does_not, .init = reset)
{
    sl_snapshot_slot_t slot;
    sl_snapshot_reader_t a, b;
    sl_snapshot_slot_init(&slot, &snap_new(1)->super);
    sl_snapshot_reader_init(&a, &slot);
    sl_snapshot_reader_init(&b, &slot);
    sl_snapshot_reader_quiesce(&a);
    sl_snapshot_reader_quiesce(&b);
    sl_snapshot_publish(&slot, &snap_new(2)->super);
    sl_snapshot_publish(&slot, &snap_new(3)->super);
    sl_snapshot_reader_quiesce(&a);
    cr_assert_eq(sl_snapshot_reclaim(&slot), 2); /* b is idle at epoch 1 */
    cr_assert_eq(atomic_load(&num_freed), 0);
    sl_snapshot_reader_quiesce(&b);
    cr_assert_eq(sl_snapshot_reclaim(&slot), 0);
    cr_assert_eq(atomic_load(&freed[1]), 1);
    cr_assert_eq(atomic_load(&freed[2]), 1);

    sl_snapshot_reader_dispose(&b); /* detached: no longer stalls */
    sl_snapshot_publish(&slot, &snap_new(4)->super);
    sl_snapshot_reader_quiesce(&a);
    cr_assert_eq(sl_snapshot_reclaim(&slot), 0);
    cr_assert_eq(atomic_load(&freed[3]), 1);
    sl_snapshot_reader_dispose(&a);
    sl_snapshot_slot_dispose(&slot);
    cr_assert_eq(atomic_load(&freed[4]), 1);
    cr_assert_eq(atomic_load(&num_freed), 4);
}

Test(snapshot, no_readers_and_empty_slot, .init = reset)
{
    sl_snapshot_slot_t slot;
    sl_snapshot_reader_t r;
    sl_snapshot_slot_init(&slot, NULL);
    cr_assert_null(sl_snapshot_slot_peek(&slot));
    sl_snapshot_publish(&slot, &snap_new(1)->super); /* replaces nothing */
    cr_assert_eq(slot.num_retired, 0);
    sl_snapshot_publish(&slot, &snap_new(2)->super);
    cr_assert_eq(sl_snapshot_reclaim(&slot), 0); /* no reader: reclaimed at once */
    cr_assert_eq(atomic_load(&freed[1]), 1);

    sl_snapshot_reader_init(&r, &slot);
    sl_snapshot_reader_quiesce(&r);
    cr_assert_eq(sl_snapshot_pin(&r), sl_snapshot_slot_peek(&slot));
    sl_snapshot_unpin(&r, sl_snapshot_slot_peek(&slot));
    sl_snapshot_unpin(&r, NULL); /* ignored */
    sl_snapshot_reader_dispose(&r);
    sl_snapshot_slot_dispose(&slot);
    cr_assert_eq(atomic_load(&num_freed), 2);
}

Test(snapshot, many_superseded_snapshots_pinned_by_one_reader, .init = reset)
{
    enum { N = 12 };
    sl_snapshot_slot_t slot;
    sl_snapshot_reader_t r;
    sl_snapshot_t *pins[N];
    sl_snapshot_slot_init(&slot, &snap_new(0)->super);
    sl_snapshot_reader_init(&r, &slot);
    for (size_t i = 0; i != N; ++i) {
        sl_snapshot_reader_quiesce(&r);
        pins[i] = sl_snapshot_pin(&r);
        cr_assert_eq(((test_snap_t *)pins[i])->id, i);
        sl_snapshot_publish(&slot, &snap_new(i + 1)->super);
    }
    sl_snapshot_reader_quiesce(&r);
    cr_assert_eq(r.num_old, N);
    cr_assert_eq(sl_snapshot_reclaim(&slot), 0);
    cr_assert_eq(atomic_load(&num_freed), 0); /* every old one is still pinned */
    static const size_t order[N] = {5, 0, 11, 3, 7, 1, 9, 2, 10, 4, 8, 6};
    for (size_t k = 0; k != N; ++k) {
        sl_snapshot_unpin(&r, pins[order[k]]);
        cr_assert_eq(atomic_load(&freed[order[k]]), 1);
        cr_assert_eq(atomic_load(&num_freed), k + 1);
    }
    cr_assert_eq(r.num_old, 0);
    sl_snapshot_reader_dispose(&r);
    sl_snapshot_slot_dispose(&slot);
    cr_assert_eq(atomic_load(&num_freed), N + 1);
}

/* ---- stress: 4 readers pin, check and unpin in tight loops while the control thread publishes ---- */

enum { READERS = 4, INFLIGHT = 8 };

typedef struct st_stress_t {
    sl_snapshot_slot_t slot;
    sl_snapshot_reader_t readers[READERS];
    pthread_barrier_t start;
    _Atomic int stop;
    _Atomic size_t reads, bad_canary, went_back;
} stress_t;

typedef struct st_reader_arg_t {
    stress_t *st;
    size_t idx;
} reader_arg_t;

static void *reader_main(void *p)
{
    reader_arg_t *a = p;
    stress_t *st = a->st;
    sl_snapshot_reader_t *r = &st->readers[a->idx];
    sl_snapshot_t *inflight[INFLIGHT] = {NULL};
    size_t reads = 0, bad = 0, back = 0, last_id = 0, slot_i = 0;
    pthread_barrier_wait(&st->start);
    while (!atomic_load_explicit(&st->stop, memory_order_relaxed)) {
        sl_snapshot_reader_quiesce(r);
        /* one "request" starts per iteration; each lives for INFLIGHT iterations, as if it spanned loop turns */
        sl_snapshot_unpin(r, inflight[slot_i]);
        test_snap_t *t = (test_snap_t *)sl_snapshot_pin(r);
        inflight[slot_i] = &t->super;
        slot_i = (slot_i + 1) % INFLIGHT;
        if (t->id < last_id)
            ++back;
        last_id = t->id;
        for (size_t i = 0; i != INFLIGHT; ++i) {
            test_snap_t *s = (test_snap_t *)inflight[i];
            if (s != NULL && s->canary != (CANARY ^ s->id))
                ++bad;
        }
        ++reads;
    }
    for (size_t i = 0; i != INFLIGHT; ++i)
        sl_snapshot_unpin(r, inflight[i]);
    sl_snapshot_reader_dispose(r);
    atomic_fetch_add(&st->reads, reads);
    atomic_fetch_add(&st->bad_canary, bad);
    atomic_fetch_add(&st->went_back, back);
    return NULL;
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

Test(snapshot, stress_publish_while_readers_pin, .init = reset, .timeout = 60)
{
    static stress_t st;
    reader_arg_t args[READERS];
    pthread_t tids[READERS];
    memset(&st, 0, sizeof(st));
    sl_snapshot_slot_init(&st.slot, &snap_new(0)->super);
    for (size_t i = 0; i != READERS; ++i) {
        sl_snapshot_reader_init(&st.readers[i], &st.slot);
        sl_snapshot_reader_quiesce(&st.readers[i]); /* every worker holds the first snapshot before it starts */
    }
    pthread_barrier_init(&st.start, NULL, READERS + 1);
    for (size_t i = 0; i != READERS; ++i) {
        args[i] = (reader_arg_t){&st, i};
        cr_assert_eq(pthread_create(&tids[i], NULL, reader_main, &args[i]), 0);
    }
    pthread_barrier_wait(&st.start);

    /* bounded in count and in time: whichever comes first */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t published = 0, max_pending = 0;
    while (published + 1 < MAX_IDS && published < 50000 && elapsed_s(&t0) < 1.0) {
        sl_snapshot_publish(&st.slot, &snap_new(published + 1)->super);
        ++published;
        size_t pending = sl_snapshot_reclaim(&st.slot);
        if (pending > max_pending)
            max_pending = pending;
    }
    atomic_store(&st.stop, 1);
    for (size_t i = 0; i != READERS; ++i)
        cr_assert_eq(pthread_join(tids[i], NULL), 0);
    cr_assert_eq(sl_snapshot_reclaim(&st.slot), 0); /* every reader detached */
    sl_snapshot_slot_dispose(&st.slot);
    pthread_barrier_destroy(&st.start);

    cr_assert_geq(published, 1000, "only %zu snapshots published", published);
    cr_assert_gt(atomic_load(&st.reads), 0);
    cr_assert_eq(atomic_load(&st.bad_canary), 0);
    cr_assert_eq(atomic_load(&st.went_back), 0); /* a reader never sees an older snapshot after a newer one */
    cr_assert_eq(atomic_load(&num_freed), published + 1);
    for (size_t id = 0; id <= published; ++id)
        cr_assert_eq(atomic_load(&freed[id]), 1, "snapshot %zu freed %u times", id, atomic_load(&freed[id]));
}
