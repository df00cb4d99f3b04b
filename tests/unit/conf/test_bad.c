/*
 * test_bad.c - invalid configs (conf/load*.c): for every entry of bad_configs.h the loader must report exactly the
 * listed errors, in file order, and leave its output untouched; plus the error list's own behaviour.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"
#include "conf/conf.h"

#include "bad_configs.h"

Test(conf_bad, table_has_enough_cases)
{
    cr_assert_geq(NUM_BAD_CASES, 40);
}

Test(conf_bad, every_case_reports_exactly_its_errors)
{
    for (size_t i = 0; i != NUM_BAD_CASES; ++i) {
        const bad_case_t *c = &bad_cases[i];
        sl_conf_errors_t errs;
        sl_conf_t *sentinel = (sl_conf_t *)&errs, *out = sentinel;
        sl_conf_errors_init(&errs);
        int rc = sl_conf_load_string("bad.yaml", c->yaml, strlen(c->yaml), &out, &errs);
        cr_expect_eq(rc, SL_ECONFIG, "%s: rc %d", c->name, rc);
        cr_expect_eq(out, sentinel, "%s: output written on failure", c->name);
        size_t n = 0;
        while (c->expected[n] != NULL)
            ++n;
        cr_expect_eq(errs.count, n, "%s: %zu errors, expected %zu (first: %s)", c->name, errs.count, n,
                     errs.count != 0 ? errs.msgs[0] : "none");
        cr_expect_eq(errs.dropped, 0, "%s: dropped %zu", c->name, errs.dropped);
        for (size_t j = 0; j != n && j != errs.count; ++j) {
            char want[1024];
            snprintf(want, sizeof(want), "bad.yaml:%s", c->expected[j]);
            cr_expect_str_eq(sl_conf_errors_get(&errs, j), want, "%s: error %zu is\n  %s\nnot\n  %s", c->name, j,
                             sl_conf_errors_get(&errs, j), want);
        }
        if (rc == SL_OK && out != sentinel)
            sl_conf_release(out);
        sl_conf_errors_dispose(&errs);
    }
}

Test(conf_bad, errors_accumulate_across_loads_and_dispose_resets)
{
    sl_conf_errors_t errs;
    sl_conf_t *out = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_string("a.yaml", "", 0, &out, &errs), SL_ECONFIG);
    cr_assert_eq(sl_conf_load_string("b.yaml", "- 1\n", 4, &out, &errs), SL_ECONFIG);
    cr_assert_eq(sl_conf_errors_count(&errs), 2);
    cr_assert_str_eq(sl_conf_errors_get(&errs, 0),
                     "a.yaml:1:1: the file is empty; a config needs at least \"backends\" and \"routes\"");
    cr_assert_str_eq(sl_conf_errors_get(&errs, 1), "b.yaml:1:1: the top level must be a mapping, got a sequence");
    cr_assert_null(out);
    sl_conf_errors_dispose(&errs);
    cr_assert_eq(sl_conf_errors_count(&errs), 0);
    cr_assert_null(errs.msgs);
}

Test(conf_bad, error_count_is_capped_and_the_rest_counted)
{
    /* 150 unknown keys: the first SL_CONF_MAX_ERRORS are kept in file order, the others counted */
    char yaml[8192];
    size_t o = 0;
    for (int i = 0; i != 150; ++i)
        o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "zz%03d: 1\n", i);
    o += (size_t)snprintf(yaml + o, sizeof(yaml) - o,
                          "backends: {a: {protocol: openai, endpoints: 127.0.0.1:1}}\nroutes: [{name: r, cascade: "
                          "[{backend: a}]}]\n");
    sl_conf_errors_t errs;
    sl_conf_t *out = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_string("many.yaml", yaml, o, &out, &errs), SL_ECONFIG);
    cr_assert_eq(errs.count, SL_CONF_MAX_ERRORS);
    cr_assert_eq(errs.dropped, 150 - SL_CONF_MAX_ERRORS);
    cr_assert_str_eq(errs.msgs[0], "many.yaml:1:1: zz000: unknown key; expected one of: server, admin, state_dir, "
                                   "state_interval, backends, routes");
    cr_assert_str_eq(errs.msgs[99], "many.yaml:100:1: zz099: unknown key; expected one of: server, admin, "
                                    "state_dir, state_interval, backends, routes");
    sl_conf_errors_dispose(&errs);
}
