/*
 * test_canary_seq.c - the sequential error-rate test (stats/canary_seq.h): scripted batches against the exact
 * rational computation of tests/reference/canary_reference.py (log Lambda and p-value to 1e-9 after every batch),
 * worked cases, the sticky rejection, argument checks and the validation of stored states.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "common/status.h"
#include "stats/canary_seq.h"

Test(canary_seq, matches_the_exact_reference)
{
    json_error_t err;
    json_t *root = json_load_file(SL_SOURCE_DIR "/tests/fixtures/stats/canary.json", 0, &err), *c;
    cr_assert_not_null(root, "canary.json: %s", err.text);
    size_t i;
    json_array_foreach(json_object_get(root, "seq"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        sl_canary_seq_params_t p = {.alpha = json_number_value(json_object_get(c, "alpha")),
                                    .min_ratio = json_number_value(json_object_get(c, "min_ratio"))};
        sl_canary_seq_t s;
        cr_assert_eq(sl_canary_seq_init(&s, &p), SL_OK);
        json_t *batches = json_object_get(c, "batches"), *expected = json_object_get(c, "expected");
        int seen_data = 0;
        uint64_t pend_t = 0, pend_c = 0;
        for (size_t b = 0; b != json_array_size(batches); ++b) {
            json_t *bt = json_array_get(batches, b), *ex = json_array_get(expected, b);
            uint64_t et = (uint64_t)json_integer_value(json_array_get(bt, 0)),
                     nt = (uint64_t)json_integer_value(json_array_get(bt, 1)),
                     ec = (uint64_t)json_integer_value(json_array_get(bt, 2)),
                     nc = (uint64_t)json_integer_value(json_array_get(bt, 3));
            sl_canary_seq_result_t r;
            cr_assert_eq(sl_canary_seq_update(&s, et, nt, ec, nc, &r), SL_OK);
            pend_t += nt;
            pend_c += nc;
            if (pend_t != 0 && pend_c != 0)
                seen_data = 1, pend_t = pend_c = 0;
            double ll = json_number_value(json_object_get(ex, "log_lambda")), pv = json_number_value(json_object_get(ex, "p"));
            cr_expect_eq(r.status, seen_data ? SL_STAT_OK : SL_STAT_NO_DATA, "%s batch %zu", name, b);
            cr_expect(fabs(r.log_lambda - ll) <= 1e-9 * fmax(1, fabs(ll)), "%s batch %zu: log Lambda %.17g, want %.17g", name,
                      b, r.log_lambda, ll);
            cr_expect(fabs(r.p_value - pv) <= 1e-9 * fmax(pv, 1e-300), "%s batch %zu: p %.17g, want %.17g", name, b, r.p_value,
                      pv);
            cr_expect_eq(r.reject, json_is_true(json_object_get(ex, "reject")), "%s batch %zu", name, b);
        }
        cr_assert_eq(sl_canary_seq_validate(&s), SL_OK, "%s", name);
        json_t *ev;
        size_t e;
        json_array_foreach(json_object_get(c, "evidence"), e, ev)
        {
            double pt = json_number_value(json_array_get(ev, 0)), pc = json_number_value(json_array_get(ev, 1)),
                   want = json_number_value(json_array_get(ev, 2)), got = sl_canary_seq_expected(&s, pt, pc);
            cr_expect(fabs(got - want) <= 1e-9 * fmax(1, fabs(want)), "%s: expected evidence at %g / %g: %.17g, want %.17g",
                      name, pt, pc, got, want);
        }
        cr_assert_eq(e, 4, "%s", name);
    }
    cr_assert_eq(i, 7);
    json_decref(root);
}

Test(canary_seq, one_sided_batches_are_pooled)
{
    sl_canary_seq_params_t p = {.alpha = 0.05, .min_ratio = 1};
    sl_canary_seq_t a, b;
    sl_canary_seq_init(&a, &p);
    sl_canary_seq_init(&b, &p);
    sl_canary_seq_result_t r;
    /* two canary-only ticks and a stable-only one count as the single batch (2 of 3 canary, 1 of 50 stable) */
    sl_canary_seq_update(&a, 1, 2, 0, 0, &r);
    cr_assert_eq(r.status, SL_STAT_NO_DATA);
    cr_assert_eq(a.pend_n_t, 2);
    sl_canary_seq_update(&a, 1, 1, 0, 0, &r);
    cr_assert_eq(sl_canary_seq_validate(&a), SL_OK);
    sl_canary_seq_update(&a, 0, 0, 1, 50, &r);
    cr_assert_eq(r.status, SL_STAT_OK);
    cr_assert_eq(a.batches, 1);
    cr_assert_eq(a.pend_n_t, 0);
    sl_canary_seq_update(&b, 2, 3, 1, 50, NULL);
    cr_assert_eq(memcmp(a.log_lr, b.log_lr, sizeof(a.log_lr)), 0);
    cr_assert_eq(a.max_log_lambda, b.max_log_lambda);
    cr_assert_eq(a.n_t, 3);
    cr_assert_eq(a.errors_c, 1);
    /* held-back counts beyond the cumulative ones are an inconsistent state */
    a.pend_n_t = 4;
    a.pend_n_c = 1;
    cr_assert_eq(sl_canary_seq_validate(&a), SL_EINVAL);
}

Test(canary_seq, pooling_until_the_batch_has_the_composition_asked_for)
{
    sl_canary_seq_params_t p = {.alpha = 0.05, .min_ratio = 1};
    sl_canary_seq_t a, b;
    sl_canary_seq_init(&a, &p);
    sl_canary_seq_init(&b, &p);
    sl_canary_seq_result_t r;
    /* 9.5 stable requests asked per canary one: 1 + 4 is held back, 1 + 4 + 0 + 6 too, 1 + 10 is applied */
    sl_canary_seq_update_pooled(&a, 1, 1, 0, 4, 9.5, &r);
    cr_assert_eq(r.status, SL_STAT_NO_DATA);
    cr_assert_eq(a.pend_n_c, 4);
    cr_assert_eq(sl_canary_seq_validate(&a), SL_OK, "a held-back two-sided batch is a valid state");
    sl_canary_seq_update_pooled(&a, 0, 0, 0, 5, 9.5, &r);
    cr_assert_eq(r.status, SL_STAT_NO_DATA);
    sl_canary_seq_update_pooled(&a, 0, 0, 1, 1, 9.5, &r);
    cr_assert_eq(r.status, SL_STAT_OK);
    cr_assert_eq(a.batches, 1);
    cr_assert_eq(a.pend_n_t + a.pend_n_c, 0);
    sl_canary_seq_update(&b, 1, 1, 1, 10, NULL);
    cr_assert_eq(memcmp(a.log_lr, b.log_lr, sizeof(a.log_lr)), 0, "the pooled batch counts as one");
    cr_assert_eq(memcmp(a.load_t, b.load_t, sizeof(a.load_t)), 0);
    cr_assert_eq(a.max_log_lambda, b.max_log_lambda);
}

Test(canary_seq, one_batch_by_hand)
{
    /* 1 canary failure, none on stable; w = 10/100: log LR_k = log g_k - log(1 + 0.1 (g_k - 1)), mixed with weights
     * 1/12 on 1.5, 2, 16, 64 and 1/6 on 3, 4, 6, 8 */
    sl_canary_seq_params_t p = {.alpha = 0.05, .min_ratio = 1};
    sl_canary_seq_t s;
    cr_assert_eq(sl_canary_seq_init(&s, &p), SL_OK);
    sl_canary_seq_result_t r;
    cr_assert_eq(sl_canary_seq_update(&s, 1, 10, 0, 90, &r), SL_OK);
    double sum = 0;
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID; ++k) {
        double g = sl_canary_seq_grid(k);
        sum += (g >= 3 && g <= 8 ? 1.0 / 6 : 1.0 / 12) * g / (1 + 0.1 * (g - 1));
        cr_assert_float_eq(sl_canary_seq_weight(k), g >= 3 && g <= 8 ? 1.0 / 6 : 1.0 / 12, 1e-15);
    }
    cr_assert_eq(sl_canary_seq_weight(SL_CANARY_SEQ_GRID), 0);
    cr_assert_float_eq(r.log_lambda, log(sum), 1e-12);
    cr_assert_float_eq(r.p_value, 1 / sum, 1e-12);
    cr_assert_float_eq(r.rate_t, 0.1, 0);
    cr_assert_eq(r.rate_c, 0);
    cr_assert_eq(r.reject, 0);
    cr_assert_eq(s.batches, 1);
    cr_assert_eq(sl_canary_seq_grid(0), 1.5);
    cr_assert_eq(sl_canary_seq_grid(SL_CANARY_SEQ_GRID - 1), 64);
    cr_assert_eq(sl_canary_seq_grid(SL_CANARY_SEQ_GRID), 0);
}

Test(canary_seq, clean_canary_never_rejects_and_p_only_falls)
{
    sl_canary_seq_params_t p = {.alpha = 0.001, .min_ratio = 1};
    sl_canary_seq_t s;
    sl_canary_seq_init(&s, &p);
    sl_canary_seq_result_t r;
    double last = 1;
    for (int i = 0; i != 1000; ++i) {
        /* stable fails twice per 100, the canary never */
        cr_assert_eq(sl_canary_seq_update(&s, 0, 5, 2, 95, &r), SL_OK);
        cr_assert(r.p_value <= last);
        last = r.p_value;
        cr_assert_eq(r.reject, 0);
    }
    cr_assert_eq(r.p_value, 1); /* the evidence only ever pointed the other way */
    /* log Lambda = log sum_k v_k (1 + 0.05 (g_k - 1))^-2000 */
    double sum = 0;
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID; ++k)
        sum += sl_canary_seq_weight(k) * exp(-2000 * log1p(0.05 * (sl_canary_seq_grid(k) - 1)));
    cr_assert_float_eq(r.log_lambda, log(sum), 1e-9);
    cr_assert(r.log_lambda < -27);
}

Test(canary_seq, hard_failure_rejects_within_a_few_requests_and_stays_rejected)
{
    sl_canary_seq_params_t p = {.alpha = 0.001, .min_ratio = 1};
    sl_canary_seq_t s;
    sl_canary_seq_init(&s, &p);
    sl_canary_seq_result_t r;
    int at = 0;
    for (int i = 1; i <= 20 && at == 0; ++i) {
        /* one canary request per batch, every other one fails; 19 stable requests at 0.2% never fail here */
        sl_canary_seq_update(&s, (uint64_t)(i & 1), 1, 0, 19, &r);
        if (r.reject)
            at = i;
    }
    cr_assert(at >= 3 && at <= 10, "rejected after %d canary requests", at);
    /* then the canary recovers: the decision stands */
    for (int i = 0; i != 100; ++i)
        sl_canary_seq_update(&s, 0, 50, 1, 950, &r);
    cr_assert_eq(r.reject, 1);
    cr_assert(r.p_value <= 0.001);
}

Test(canary_seq, bad_arguments)
{
    sl_canary_seq_t s;
    memset(&s, 0x5a, sizeof(s));
    sl_canary_seq_params_t p = {.alpha = 0, .min_ratio = 1};
    cr_assert_eq(sl_canary_seq_init(&s, &p), SL_EINVAL);
    p.alpha = 1;
    cr_assert_eq(sl_canary_seq_init(&s, &p), SL_EINVAL);
    p.alpha = 0.01;
    p.min_ratio = 0.99;
    cr_assert_eq(sl_canary_seq_init(&s, &p), SL_EINVAL);
    p.min_ratio = INFINITY;
    cr_assert_eq(sl_canary_seq_init(&s, &p), SL_EINVAL);
    cr_assert_eq(sl_canary_seq_init(NULL, &p), SL_EINVAL);
    cr_assert_eq(((unsigned char *)&s)[0], 0x5a);
    p.min_ratio = 1;
    cr_assert_eq(sl_canary_seq_init(&s, &p), SL_OK);
    sl_canary_seq_t before = s;
    cr_assert_eq(sl_canary_seq_update(&s, 3, 2, 0, 10, NULL), SL_EINVAL);
    cr_assert_eq(sl_canary_seq_update(&s, 0, 2, 11, 10, NULL), SL_EINVAL);
    cr_assert_eq(sl_canary_seq_update(&s, 0, 1ull << 54, 0, 10, NULL), SL_EINVAL);
    cr_assert_eq(memcmp(&s, &before, sizeof(s)), 0);
    cr_assert_eq(sl_canary_seq_update(&s, 0, 0, 0, 0, NULL), SL_OK); /* an empty batch is fine */
    cr_assert_eq(s.batches, 0);
}

Test(canary_seq, validate_rejects_inconsistent_states)
{
    sl_canary_seq_params_t p = {.alpha = 0.01, .min_ratio = 1};
    sl_canary_seq_t s, t;
    sl_canary_seq_init(&s, &p);
    sl_canary_seq_update(&s, 4, 10, 1, 90, NULL);
    cr_assert_eq(s.rejected, 1);
    cr_assert_eq(sl_canary_seq_validate(&s), SL_OK);
    t = s, t.rejected = 0;
    cr_assert_eq(sl_canary_seq_validate(&t), SL_EINVAL);
    t = s, t.errors_t = 11;
    cr_assert_eq(sl_canary_seq_validate(&t), SL_EINVAL);
    t = s, t.log_lr[3] = NAN;
    cr_assert_eq(sl_canary_seq_validate(&t), SL_EINVAL);
    t = s, t.max_log_lambda = -1;
    cr_assert_eq(sl_canary_seq_validate(&t), SL_EINVAL);
    t = s, t.params.alpha = 2;
    cr_assert_eq(sl_canary_seq_validate(&t), SL_EINVAL);
    t = s, t.batches = 0;
    cr_assert_eq(sl_canary_seq_validate(&t), SL_EINVAL);
    t = s, t.load_t[2] = -1;
    cr_assert_eq(sl_canary_seq_validate(&t), SL_EINVAL);
    t = s, t.load_c[7] = INFINITY;
    cr_assert_eq(sl_canary_seq_validate(&t), SL_EINVAL);
    cr_assert_eq(sl_canary_seq_validate(NULL), SL_EINVAL);
}

Test(canary_seq, sample_ratio_mixture_matches_scipy)
{
    json_error_t err;
    json_t *root = json_load_file(SL_SOURCE_DIR "/tests/fixtures/stats/canary.json", 0, &err), *c;
    cr_assert_not_null(root, "canary.json: %s", err.text);
    size_t i;
    json_array_foreach(json_object_get(root, "srm"), i, c)
    {
        double want = json_number_value(json_object_get(c, "log_lambda")), got = NAN;
        cr_assert_eq(sl_canary_srm_log_lambda((uint64_t)json_integer_value(json_object_get(c, "x")),
                                              (uint64_t)json_integer_value(json_object_get(c, "n")),
                                              json_number_value(json_object_get(c, "w")),
                                              json_number_value(json_object_get(c, "c")), &got),
                     SL_OK);
        /* log-gamma of arguments near 10^5 carries ~1e-11 absolute error: compare absolutely */
        cr_expect(fabs(got - want) <= 1e-8 * fmax(1, fabs(want)), "case %zu: %.17g, want %.17g", i, got, want);
    }
    cr_assert_eq(i, 10);
    json_decref(root);
}
