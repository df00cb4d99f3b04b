/*
 * test_feedback.c - the table of predictions awaiting labels and the join (policies/feedback.c): joins, duplicates,
 * unknown ids, expiry, eviction of the oldest when full (counted only when the entry was still waiting), ids used
 * twice, the label and task checks, and a randomized churn test of the index against a naive model.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"
#include "policies/feedback.h"
#include "policies/monitor-t.h"
#include "stats/reservoir.h"

static const char *const labels[] = {"positive", "negative", "neutral"};
static const sl_conf_feedback_t classification = {.enabled = 1,
                                                  .task = SL_FEEDBACK_CLASSIFICATION,
                                                  .labels = (const char **)labels,
                                                  .num_labels = 3,
                                                  .horizon_ms = 1000,
                                                  .max_pending = 4,
                                                  .window_ms = 60000};
static const sl_conf_feedback_t regression = {
    .enabled = 1, .task = SL_FEEDBACK_REGRESSION, .horizon_ms = 1000, .max_pending = 4, .window_ms = 60000};

static sl_feedback_record_t rec(const char *id, uint64_t ts, int32_t label)
{
    sl_feedback_record_t r;
    memset(&r, 0, sizeof(r));
    r.ts_ms = ts;
    r.label = label;
    r.value = label * 1.5;
    r.backend = 2;
    r.version = SL_FEEDBACK_CANARY;
    r.has_prediction = label >= 0;
    r.id_len = (uint8_t)strlen(id);
    memcpy(r.id, id, r.id_len);
    return r;
}

static sl_feedback_item_t label_item(const char *id, const char *label)
{
    sl_feedback_item_t it;
    memset(&it, 0, sizeof(it));
    it.kind = SL_FEEDBACK_LABEL;
    it.id_len = (uint8_t)strlen(id);
    memcpy(it.id, id, it.id_len);
    it.label_len = (uint8_t)strlen(label);
    memcpy(it.label, label, it.label_len);
    return it;
}

static sl_feedback_item_t value_item(const char *id, double v)
{
    sl_feedback_item_t it = label_item(id, "");
    it.kind = SL_FEEDBACK_VALUE;
    it.value = v;
    return it;
}

static enum en_sl_feedback_result_t join(sl_feedback_table_t *t, const sl_conf_feedback_t *c, sl_feedback_item_t it,
                                         uint64_t now, double *truth)
{
    const sl_feedback_entry_t *e = (const sl_feedback_entry_t *)1;
    const char *detail = (const char *)1;
    double tr = -1;
    enum en_sl_feedback_result_t r = sl_feedback_join(t, c, &it, now, &e, &tr, &detail);
    cr_assert_eq(e != NULL, r == SL_FEEDBACK_JOINED, "entry set only when joined (result %s)", sl_feedback_result_name(r));
    cr_assert_eq(detail != NULL, r == SL_FEEDBACK_INVALID, "detail only when invalid");
    if (truth != NULL)
        *truth = tr;
    return r;
}

Test(feedback, init_bounds)
{
    sl_feedback_table_t t;
    cr_assert_eq(sl_feedback_table_init(&t, 0, 1000), SL_EINVAL);
    cr_assert_eq(sl_feedback_table_init(&t, SL_FEEDBACK_MAX_PENDING + 1, 1000), SL_EINVAL);
    cr_assert_eq(sl_feedback_table_init(&t, 4, 0), SL_EINVAL);
    cr_assert_eq(sl_feedback_table_init(&t, 4, 1000), SL_OK);
    cr_assert_eq(t.index_mask + 1, 8);
    sl_feedback_table_dispose(&t);
    sl_feedback_table_dispose(&t);
}

Test(feedback, join_duplicate_unknown_invalid)
{
    sl_feedback_table_t t;
    double truth;
    sl_feedback_table_init(&t, 4, 1000);
    sl_feedback_record_t a = rec("req-a", 100, 0), b = rec("req-b", 110, 3), c = rec("req-c", 120, -1);
    sl_feedback_table_insert(&t, &a);
    sl_feedback_table_insert(&t, &b);
    sl_feedback_table_insert(&t, &c);
    cr_assert_eq(sl_feedback_table_pending(&t), 3);
    cr_assert_eq(t.recorded, 3);
    cr_assert_eq(join(&t, &classification, label_item("req-x", "positive"), 200, NULL), SL_FEEDBACK_UNKNOWN);
    cr_assert_eq(join(&t, &classification, label_item("req-a", "maybe"), 200, NULL), SL_FEEDBACK_INVALID);
    cr_assert_eq(join(&t, &classification, value_item("req-a", 1), 200, NULL), SL_FEEDBACK_INVALID);
    cr_assert_eq(sl_feedback_table_pending(&t), 3, "an invalid label leaves the prediction waiting");
    cr_assert_eq(join(&t, &classification, label_item("req-a", "negative"), 200, &truth), SL_FEEDBACK_JOINED);
    cr_assert_eq(truth, 1);
    cr_assert_eq(join(&t, &classification, label_item("req-a", "negative"), 201, NULL), SL_FEEDBACK_DUPLICATE);
    cr_assert_eq(join(&t, &classification, label_item("req-b", "neutral"), 210, &truth), SL_FEEDBACK_JOINED);
    cr_assert_eq(truth, 2);
    cr_assert_eq(join(&t, &classification, label_item("req-c", "neutral"), 220, NULL), SL_FEEDBACK_NO_PREDICTION);
    cr_assert_eq(join(&t, &classification, label_item("req-c", "neutral"), 220, NULL), SL_FEEDBACK_DUPLICATE);
    cr_assert_eq(sl_feedback_table_pending(&t), 0);
    const sl_feedback_entry_t *e = sl_feedback_table_find(&t, "req-b", 5);
    cr_assert_not_null(e);
    cr_assert_eq(e->rec.label, 3);
    cr_assert_eq(e->rec.backend, 2);
    cr_assert_eq(e->rec.version, SL_FEEDBACK_CANARY);
    cr_assert_null(sl_feedback_table_find(&t, "req-b", 4));
    cr_assert_null(sl_feedback_table_find(&t, "", 0));
    sl_feedback_table_dispose(&t);

    /* regression: a value; a label is refused */
    sl_feedback_table_init(&t, 4, 1000);
    a = rec("r1", 0, 2);
    sl_feedback_table_insert(&t, &a);
    cr_assert_eq(join(&t, &regression, label_item("r1", "3"), 10, NULL), SL_FEEDBACK_INVALID);
    cr_assert_eq(join(&t, &regression, value_item("r1", -7.25), 10, &truth), SL_FEEDBACK_JOINED);
    cr_assert_eq(truth, -7.25);
    sl_feedback_table_dispose(&t);
}

Test(feedback, expiry_keeps_answering_expired)
{
    sl_feedback_table_t t;
    sl_feedback_table_init(&t, 4, 1000);
    sl_feedback_record_t a = rec("a", 100, 0), b = rec("b", 600, 0);
    sl_feedback_table_insert(&t, &a);
    sl_feedback_table_insert(&t, &b);
    cr_assert_eq(join(&t, &classification, label_item("a", "positive"), 1099, NULL), SL_FEEDBACK_JOINED);
    sl_feedback_record_t a2 = rec("a", 700, 0);
    sl_feedback_table_insert(&t, &a2); /* the same id again later: the newer prediction replaces the joined one */
    cr_assert_eq(t.replaced, 1);
    cr_assert_eq(sl_feedback_table_pending(&t), 2);
    sl_feedback_table_expire(&t, 1599);
    cr_assert_eq(t.expired, 0, "the first entry was joined: its expiry counts nothing");
    cr_assert_eq(sl_feedback_table_pending(&t), 2);
    sl_feedback_table_expire(&t, 1600); /* b: 600 + 1000 */
    cr_assert_eq(t.expired, 1);
    cr_assert_eq(sl_feedback_table_pending(&t), 1);
    cr_assert_eq(join(&t, &classification, label_item("b", "positive"), 1700, NULL), SL_FEEDBACK_EXPIRED);
    cr_assert_eq(join(&t, &classification, label_item("b", "positive"), 1700, NULL), SL_FEEDBACK_EXPIRED,
                 "an expired entry stays until its room is needed");
    /* the horizon is checked at join time too: c arrived after a2 (700) but is older, so the expiry cursor, which
     * stops at a2, has not reached it - the join still says expired */
    sl_feedback_record_t c = rec("c", 300, 0);
    sl_feedback_table_insert(&t, &c);
    sl_feedback_table_expire(&t, 1650);
    cr_assert_eq(t.expired, 1);
    cr_assert_eq(join(&t, &classification, label_item("c", "positive"), 1650, NULL), SL_FEEDBACK_EXPIRED);
    cr_assert_eq(join(&t, &classification, label_item("a", "positive"), 1650, NULL), SL_FEEDBACK_JOINED);
    sl_feedback_table_dispose(&t);
}

Test(feedback, full_table_evicts_the_oldest)
{
    sl_feedback_table_t t;
    char id[16];
    sl_feedback_table_init(&t, 4, 1000);
    for (int i = 0; i != 4; ++i) {
        snprintf(id, sizeof(id), "id%d", i);
        sl_feedback_record_t r = rec(id, 100 + (uint64_t)i, 0);
        sl_feedback_table_insert(&t, &r);
    }
    cr_assert_eq(join(&t, &classification, label_item("id1", "positive"), 150, NULL), SL_FEEDBACK_JOINED);
    sl_feedback_record_t r4 = rec("id4", 200, 0), r5 = rec("id5", 201, 0), r6 = rec("id6", 202, 0);
    sl_feedback_table_insert(&t, &r4); /* id0 leaves: it was waiting, so it counts as evicted */
    cr_assert_eq(t.evicted, 1);
    cr_assert_eq(join(&t, &classification, label_item("id0", "positive"), 210, NULL), SL_FEEDBACK_UNKNOWN);
    sl_feedback_table_insert(&t, &r5); /* id1 leaves: already joined, not an eviction */
    cr_assert_eq(t.evicted, 1);
    sl_feedback_table_expire(&t, 1103); /* id2 (102) and id3 (103) expire */
    cr_assert_eq(t.expired, 2);
    sl_feedback_table_insert(&t, &r6); /* id2 leaves: expired, not an eviction */
    cr_assert_eq(t.evicted, 1);
    cr_assert_eq(t.count, 4);
    cr_assert_eq(sl_feedback_table_pending(&t), 3);
    cr_assert_eq(join(&t, &classification, label_item("id3", "positive"), 1103, NULL), SL_FEEDBACK_EXPIRED);
    cr_assert_eq(join(&t, &classification, label_item("id6", "positive"), 1103, NULL), SL_FEEDBACK_JOINED);
    cr_assert_eq(sl_feedback_table_pending(&t), 2);
    sl_feedback_table_dispose(&t);
}

/* Random inserts, joins, expiries on a small table: every lookup agrees with a naive list of the last `cap`
 * predictions (an id maps to its newest prediction), so the index survives any pattern of backward shifts. */
Test(feedback, index_survives_churn)
{
    enum { CAP = 61, IDS = 97, STEPS = 20000 };
    sl_feedback_table_t t;
    static int newest[IDS];   /* sequence number of the id's newest prediction, -1 none */
    static int joined[STEPS]; /* sequence number was joined */
    uint64_t rng = 7;
    int seq = 0;
    char id[16];
    sl_feedback_table_init(&t, CAP, 1000000);
    for (int i = 0; i != IDS; ++i)
        newest[i] = -1;
    for (int step = 0; step != STEPS; ++step) {
        uint64_t r = sl_reservoir_splitmix64(&rng);
        int k = (int)((r >> 8) % IDS);
        snprintf(id, sizeof(id), "k%d", k);
        if (r % 3 != 0) {
            sl_feedback_record_t rr = rec(id, (uint64_t)step, 1);
            sl_feedback_table_insert(&t, &rr);
            joined[seq] = 0;
            newest[k] = seq++;
        } else {
            int s = newest[k];
            int present = s >= 0 && s >= seq - CAP;
            enum en_sl_feedback_result_t want = !present    ? SL_FEEDBACK_UNKNOWN
                                                : joined[s] ? SL_FEEDBACK_DUPLICATE
                                                            : SL_FEEDBACK_JOINED;
            enum en_sl_feedback_result_t got = join(&t, &classification, label_item(id, "negative"), (uint64_t)step, NULL);
            cr_assert_eq(got, want, "step %d id %s: %s, want %s", step, id, sl_feedback_result_name(got),
                         sl_feedback_result_name(want));
            if (present)
                joined[s] = 1;
        }
    }
    cr_assert_eq(t.count, CAP);
    cr_assert_eq(t.recorded, (uint64_t)seq);
    sl_feedback_table_dispose(&t);
}

Test(feedback, label_index_and_names)
{
    cr_assert_eq(sl_feedback_label_index(&classification, "negative", 8), 1);
    cr_assert_eq(sl_feedback_label_index(&classification, "negativ", 7), 3);
    cr_assert_eq(sl_feedback_label_index(&classification, "positive!", 9), 3);
    cr_assert_str_eq(sl_feedback_result_name(SL_FEEDBACK_NO_PREDICTION), "no_prediction");
    cr_assert_str_eq(sl_feedback_result_name(SL_FEEDBACK_EXPIRED), "expired");
    cr_assert_str_eq(sl_feedback_result_name((enum en_sl_feedback_result_t)42), "unknown");
}
