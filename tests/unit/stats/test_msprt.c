/*
 * test_msprt.c - the mixture SPRT: every look of the reference sequences (tests/fixtures/stats/msprt.json, an
 * independent Python transcription of the formula in stats/msprt.h) to relative 1e-9, and the always-valid
 * property by simulation: A/A streams looked at after every batch must alarm in at most alpha of the streams (plus
 * sampling error), where a fixed-horizon z-test looked at as often alarms in several times alpha.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "stats/msprt.h"
#include "stats/special.h"
#include "test_special_fixture.h"

static void params_from(const json_t *c, sl_msprt_params_t *p)
{
    sl_msprt_params_default(p);
    p->tau = fx_get(c, "tau");
    p->alpha = fx_get(c, "alpha");
    p->min_effect = fx_get(c, "min_effect");
    p->side = json_is_true(json_object_get(c, "two_sided")) ? SL_MSPRT_TWO_SIDED : SL_MSPRT_GREATER;
}

Test(msprt, sequences_match_reference)
{
    json_t *root = fixture_load("msprt.json");
    size_t i, j;
    json_t *c, *row;
    json_array_foreach(json_object_get(root, "sequences"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        sl_msprt_params_t params;
        params_from(c, &params);
        sl_msprt_t m;
        cr_assert_eq(sl_msprt_init(&m, &params), SL_OK, "%s", name);
        json_array_foreach(json_object_get(c, "looks"), j, row)
        {
            sl_msprt_result_t r;
            cr_assert_eq(sl_msprt_look(&m, fx_u64(json_array_get(row, 0)), fx_u64(json_array_get(row, 1)),
                                       fx_u64(json_array_get(row, 2)), fx_u64(json_array_get(row, 3)), &r),
                         SL_OK);
            char what[64];
            snprintf(what, sizeof(what), "%s look %zu", name, j);
            cr_assert_eq(r.status, SL_STAT_OK);
            assert_close(r.log_lr, fx_at(row, 4), SL_FIXTURE_RTOL, what);
            assert_close(r.diff, fx_at(row, 5), SL_FIXTURE_RTOL, what);
            assert_close(r.variance, fx_at(row, 6), SL_FIXTURE_RTOL, what);
            assert_close(r.p_value, fx_at(row, 7), SL_FIXTURE_RTOL, what);
            cr_assert_eq(r.reject, r.p_value <= params.alpha, "%s", what);
        }
    }
    json_array_foreach(json_object_get(root, "single"), i, row)
    {
        sl_msprt_params_t params;
        sl_msprt_params_default(&params);
        params.tau = fx_at(row, 4);
        params.min_effect = fx_at(row, 5);
        params.side = json_is_true(json_array_get(row, 6)) ? SL_MSPRT_TWO_SIDED : SL_MSPRT_GREATER;
        double l, d, v;
        cr_assert_eq(sl_msprt_log_lr(&params, fx_u64(json_array_get(row, 0)), fx_u64(json_array_get(row, 1)),
                                     fx_u64(json_array_get(row, 2)), fx_u64(json_array_get(row, 3)), &l, &d, &v),
                     SL_OK);
        char what[32];
        snprintf(what, sizeof(what), "single %zu", i);
        assert_close(l, fx_at(row, 7), SL_FIXTURE_RTOL, what);
        assert_close(d, fx_at(row, 8), SL_FIXTURE_RTOL, what);
        assert_close(v, fx_at(row, 9), SL_FIXTURE_RTOL, what);
    }
    json_decref(root);
}

Test(msprt, validation_min_samples_and_sticky_rejection)
{
    sl_msprt_params_t p;
    sl_msprt_t m;
    sl_msprt_params_default(&p);
    p.tau = 0;
    cr_assert_eq(sl_msprt_init(&m, &p), SL_EINVAL);
    sl_msprt_params_default(&p);
    p.side = SL_MSPRT_TWO_SIDED;
    p.min_effect = 0.01;
    cr_assert_eq(sl_msprt_init(&m, &p), SL_EINVAL);
    sl_msprt_params_default(&p);
    p.min_samples = 50;
    cr_assert_eq(sl_msprt_init(&m, &p), SL_OK);
    sl_msprt_result_t r;
    cr_assert_eq(sl_msprt_look(&m, 5, 4, 0, 10, &r), SL_EINVAL); /* errors > requests */
    cr_assert_eq(sl_msprt_look(&m, 40, 49, 0, 1000, &r), SL_OK);
    cr_assert_eq(r.status, SL_STAT_NO_DATA);
    cr_assert_eq(r.p_value, 1.0);
    cr_assert_eq(m.looks, 0);
    /* a hard failure: half the canary's answers fail, stable is clean */
    cr_assert_eq(sl_msprt_look(&m, 100, 200, 2, 2000, &r), SL_OK);
    cr_assert_eq(r.status, SL_STAT_OK);
    cr_assert(r.reject);
    cr_assert(r.p_value < 1e-10, "%g", r.p_value);
    double low = r.p_value;
    /* later evidence for H0 never raises the p-value nor clears the rejection */
    cr_assert_eq(sl_msprt_look(&m, 100, 100000, 2000, 200000, &r), SL_OK);
    cr_assert_eq(r.p_value, low);
    cr_assert(r.reject);
    /* overwhelming evidence: Lambda overflows a double, p is an exact 0, never NaN */
    sl_msprt_params_default(&p);
    cr_assert_eq(sl_msprt_init(&m, &p), SL_OK);
    cr_assert_eq(sl_msprt_look(&m, 1000000000000ull, 1000000000000ull, 0, 1000000000000ull, &r), SL_OK);
    cr_assert(r.log_lr > 1e6);
    cr_assert_eq(r.p_value, 0.0);
}

/* Binomial(n, p) by inversion with one uniform draw; fine for the small n p of these streams. */
static uint64_t binomial(uint64_t n, double p, uint64_t *rng)
{
    double u = (double)(sl_reservoir_splitmix64(rng) >> 11) * (1.0 / 9007199254740992.0);
    double q = 1 - p, prob = pow(q, (double)n), cdf = prob;
    uint64_t k = 0;
    while (u > cdf && k < n) {
        prob *= (double)(n - k) / (double)(k + 1) * p / q;
        cdf += prob;
        ++k;
    }
    return k;
}

/* A/A streams: canary and stable share the error rate; a look after every batch. Returns the number of streams
 * in which the mSPRT rejected, and in *naive the number in which a one-sided z-test at the same alpha (pooled
 * variance, fixed-horizon critical value) rejected at some look. */
static int aa_streams(int streams, int looks, uint64_t batch_t, uint64_t batch_c, double rate, double alpha, int *naive)
{
    sl_msprt_params_t params;
    sl_msprt_params_default(&params);
    params.alpha = alpha;
    params.min_samples = 1;
    double zcrit = 1.6448536269514722; /* one-sided 5% */
    int alarms = 0, naive_alarms = 0;
    uint64_t rng = 0x5EEDull;
    for (int s = 0; s < streams; ++s) {
        sl_msprt_t m;
        sl_msprt_init(&m, &params);
        uint64_t et = 0, nt = 0, ec = 0, nc = 0;
        int naive_hit = 0;
        for (int l = 0; l < looks; ++l) {
            et += binomial(batch_t, rate, &rng);
            ec += binomial(batch_c, rate, &rng);
            nt += batch_t;
            nc += batch_c;
            sl_msprt_result_t r;
            sl_msprt_look(&m, et, nt, ec, nc, &r);
            if (!naive_hit) {
                double pool = (double)(et + ec) / (double)(nt + nc);
                double se = sqrt(pool * (1 - pool) * (1.0 / (double)nt + 1.0 / (double)nc));
                if (se > 0 && ((double)et / (double)nt - (double)ec / (double)nc) / se > zcrit)
                    naive_hit = 1;
            }
        }
        alarms += m.rejected;
        naive_alarms += naive_hit;
    }
    *naive = naive_alarms;
    return alarms;
}

Test(msprt, false_alarms_stay_below_alpha_under_continuous_monitoring)
{
    /* 2,000 A/A streams of 2,000 looks each (10 canary and 90 stable requests per look, 5% errors). */
    enum { STREAMS = 2000, LOOKS = 2000 };
    double alpha = 0.05, se = sqrt(alpha * (1 - alpha) / STREAMS);
    int naive, alarms = aa_streams(STREAMS, LOOKS, 10, 90, 0.05, alpha, &naive);
    double share = (double)alarms / STREAMS, naive_share = (double)naive / STREAMS;
    cr_log_info("mSPRT A/A false alarms: %d of %d streams (%.4f), fixed-horizon z-test: %.4f", alarms, STREAMS, share,
                naive_share);
    cr_assert(share <= alpha + 3 * se, "mSPRT false-alarm share %.4f above %.4f", share, alpha + 3 * se);
    /* the property is not vacuous: peeking at a fixed-horizon test breaks it badly on the same streams */
    cr_assert(naive_share > 4 * alpha, "z-test share %.4f", naive_share);
}
