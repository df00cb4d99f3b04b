/*
 * test_monitor_fixture.h - helpers shared by the monitoring tests: reading the fixtures of tests/fixtures/monitor
 * (written by tests/reference/monitor_reference.py), loading configs from text, scratch directories.
 *
 * Comparison rule of fixture values: |got - want| <= 1e-9 * max(1, |want|) unless a test says otherwise.
 */
#ifndef SL_TESTS_UNIT_POLICIES_TEST_MONITOR_FIXTURE_H
#define SL_TESTS_UNIT_POLICIES_TEST_MONITOR_FIXTURE_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/status.h"
#include "conf/conf.h"

#ifndef SL_SOURCE_DIR
#error "SL_SOURCE_DIR must name the source tree (set in tests/unit/policies/meson.build)"
#endif

#define MON_TOL 1e-9

/* flags: JSON_DECODE_INT_AS_REAL to read every number as a double (mon_num), 0 to keep integers (to write them
 * back out) */
static inline json_t *mon_fixture_flags(const char *name, size_t flags)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fixtures/monitor/%s", SL_SOURCE_DIR, name);
    json_error_t err;
    json_t *root = json_load_file(path, flags, &err);
    cr_assert_not_null(root, "cannot read %s: %s (line %d)", path, err.text, err.line);
    return root;
}

static inline json_t *mon_fixture(const char *name)
{
    return mon_fixture_flags(name, JSON_DECODE_INT_AS_REAL);
}

static inline double mon_num(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_number(v), "fixture key %s missing or not a number", key);
    return json_number_value(v);
}

static inline void mon_close(double got, double want, const char *what)
{
    double tol = MON_TOL * (fabs(want) > 1 ? fabs(want) : 1);
    cr_assert(fabs(got - want) <= tol, "%s: got %.17g, want %.17g (diff %.3g)", what, got, want, got - want);
}

/* Copies a JSON array of integers (exact as doubles) into out[0..n). */
static inline size_t mon_counts(const json_t *arr, uint64_t *out, size_t cap)
{
    size_t n = json_array_size(arr);
    cr_assert_leq(n, cap);
    for (size_t i = 0; i != n; ++i)
        out[i] = (uint64_t)json_number_value(json_array_get(arr, i));
    return n;
}

/* Loads a config from text; fails the test with the first error. */
static inline sl_conf_t *mon_conf(const char *yaml)
{
    sl_conf_errors_t errs;
    sl_conf_t *c = NULL;
    sl_conf_errors_init(&errs);
    int rc = sl_conf_load_string("test.yaml", yaml, strlen(yaml), &c, &errs);
    cr_assert_eq(rc, SL_OK, "config refused: %s", errs.count != 0 ? errs.msgs[0] : "?");
    sl_conf_errors_dispose(&errs);
    return c;
}

/* A fresh scratch directory (removed with mon_rmdir). */
static inline void mon_mkdtemp(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/sluice-monitor-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static inline void mon_write(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static inline void mon_rmdir(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

#endif
