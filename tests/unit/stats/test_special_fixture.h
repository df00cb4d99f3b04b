/*
 * test_special_fixture.h - fixture loading and comparison shared by the stats/ tests that read reference values
 * (JSON files under tests/fixtures/stats, written by the scripts under tests/reference with scipy/numpy).
 *
 * Comparison rule: relative, |got - want| <= rtol * |want|, where rtol is 1e-9 unless a test says otherwise; two
 * values both below 1e-305 (the subnormal range, where a double has lost its relative precision) count as equal.
 */
#ifndef SL_TESTS_UNIT_STATS_TEST_SPECIAL_FIXTURE_H
#define SL_TESTS_UNIT_STATS_TEST_SPECIAL_FIXTURE_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "stats/reservoir.h"

#ifndef SL_SOURCE_DIR
#error "SL_SOURCE_DIR must name the source tree (set in tests/unit/stats/meson.build)"
#endif

#define SL_FIXTURE_RTOL 1e-9

static inline json_t *fixture_load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fixtures/stats/%s", SL_SOURCE_DIR, name);
    json_error_t err;
    json_t *root = json_load_file(path, JSON_DECODE_INT_AS_REAL, &err);
    cr_assert_not_null(root, "cannot read %s: %s (line %d)", path, err.text, err.line);
    return root;
}

static inline double fx_num(const json_t *v)
{
    cr_assert(json_is_number(v), "fixture value is not a number");
    return json_number_value(v);
}

static inline double fx_at(const json_t *arr, size_t i)
{
    return fx_num(json_array_get(arr, i));
}

static inline double fx_get(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert_not_null(v, "fixture key %s missing", key);
    return fx_num(v);
}

static inline uint64_t fx_u64(const json_t *v)
{
    double d = fx_num(v);
    cr_assert(d >= 0 && d <= 9007199254740992.0 && d == floor(d), "fixture count %g is not an exact integer", d);
    return (uint64_t)d;
}

/* a JSON array of numbers as a fresh double array (sl_free it); *n gets its length */
static inline double *fx_doubles(const json_t *arr, size_t *n)
{
    cr_assert(json_is_array(arr));
    *n = json_array_size(arr);
    double *out = sl_malloc((*n ? *n : 1) * sizeof(double));
    for (size_t i = 0; i != *n; ++i)
        out[i] = fx_at(arr, i);
    return out;
}

static inline uint64_t *fx_counts(const json_t *arr, size_t *n)
{
    cr_assert(json_is_array(arr));
    *n = json_array_size(arr);
    uint64_t *out = sl_malloc((*n ? *n : 1) * sizeof(uint64_t));
    for (size_t i = 0; i != *n; ++i)
        out[i] = fx_u64(json_array_get(arr, i));
    return out;
}

/* The reference script's generator: u = (splitmix64 >> 11) 2^-53, value = u * scale + shift (two roundings, no
 * fused multiply-add, exactly as Python evaluates it). */
static inline double *fx_gen(uint64_t seed, size_t n, double scale, double shift)
{
    double *out = sl_malloc((n ? n : 1) * sizeof(double));
    uint64_t s = seed;
    for (size_t i = 0; i != n; ++i) {
        volatile double u = (double)(sl_reservoir_splitmix64(&s) >> 11) * (1.0 / 9007199254740992.0);
        volatile double p = u * scale;
        out[i] = p + shift;
    }
    return out;
}

static inline int fx_close(double got, double want, double rtol)
{
    if (fabs(got) < 1e-305 && fabs(want) < 1e-305)
        return 1;
    return fabs(got - want) <= rtol * fabs(want);
}

#define assert_close(got, want, rtol, what)                                                                                    \
    do {                                                                                                                       \
        double g_ = (got), w_ = (want);                                                                                        \
        cr_assert(fx_close(g_, w_, (rtol)), "%s: got %.17g want %.17g (rel %.3g)", (what), g_, w_,                             \
                  w_ != 0 ? fabs(g_ - w_) / fabs(w_) : fabs(g_));                                                              \
    } while (0)

#endif
