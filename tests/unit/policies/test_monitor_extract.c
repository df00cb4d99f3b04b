/*
 * test_monitor_extract.c - pulling monitored values out of requests and answers (policies/monitor_extract.c):
 * numbers, categories, nested and escaped pointers, missing values, nulls, wrong types, malformed bodies, derived
 * sources, the prediction's sources, and the bounded category tables.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/json_scan.h"
#include "policies/monitor.h"
#include "test_monitor_fixture.h"

#define HEAD                                                                                                                   \
    "backends: {a: {protocol: openai, endpoints: 127.0.0.1:1}, k: {protocol: kserve_v2, endpoints: 127.0.0.1:2}}\n"            \
    "routes:\n"                                                                                                                \
    "  - name: r\n"                                                                                                            \
    "    cascade: [{backend: a}, {backend: k}]\n"                                                                              \
    "    monitor:\n"

static const char *const features_yaml = HEAD "      prediction: {label: /choices/0/message/content}\n"
                                              "      features:\n"
                                              "        - {name: a, source: /a}\n"                          /* 1 */
                                              "        - {name: bc, source: /b/c}\n"                       /* 2 */
                                              "        - {name: de, source: \"/d~1e/~0x\"}\n"              /* 3 */
                                              "        - {name: arr1, source: /arr/1}\n"                   /* 4 */
                                              "        - {name: cat, source: /cat, type: categorical}\n"   /* 5 */
                                              "        - {name: flag, source: /flag, type: categorical}\n" /* 6 */
                                              "        - {name: prompt_tokens}\n"                          /* 7 */
                                              "        - {name: message_count}\n"                          /* 8 */
                                              "        - {name: output_tokens}\n"                          /* 9 */
                                              "        - {name: a_again, source: /a}\n";                   /* 10 */

typedef struct st_ctx_t {
    sl_conf_t *conf;
    sl_monitor_plan_t plan;
    sl_monitor_input_t in;
    sl_monitor_obs_t obs;
} ctx_t;

static void setup(ctx_t *c, const char *yaml)
{
    memset(c, 0, sizeof(*c));
    c->conf = mon_conf(yaml);
    cr_assert_eq(sl_monitor_plan_init(&c->plan, &c->conf->routes[0].monitor), SL_OK);
    c->in.request.type = SL_JSON_INVALID;
    c->in.response.type = SL_JSON_INVALID;
}

static void teardown(ctx_t *c)
{
    sl_monitor_plan_dispose(&c->plan);
    sl_conf_release(c->conf);
}

/* Extracts from the request body (and answer body, may be NULL). */
static void run(ctx_t *c, const char *body, const char *answer)
{
    c->in.request.type = SL_JSON_INVALID;
    c->in.response.type = SL_JSON_INVALID;
    if (body != NULL)
        cr_assert_eq(sl_json_parse(body, strlen(body), &c->in.request), SL_OK, "bad test body %s", body);
    if (answer != NULL)
        cr_assert_eq(sl_json_parse(answer, strlen(answer), &c->in.response), SL_OK);
    memset(&c->obs, 0xa5, sizeof(c->obs)); /* nothing may be read uninitialized */
    sl_monitor_extract(&c->plan, &c->in, &c->obs);
}

static void expect_number(const ctx_t *c, size_t i, double v)
{
    cr_expect_eq(c->obs.values[i].status, SL_MONITOR_VALUE, "value %zu: status %d", i, c->obs.values[i].status);
    cr_expect_eq(c->obs.values[i].number, v, "value %zu: %.17g, want %.17g", i, c->obs.values[i].number, v);
}

static void expect_status(const ctx_t *c, size_t i, enum en_sl_monitor_status_t st)
{
    cr_expect_eq(c->obs.values[i].status, st, "value %zu: status %d, want %d", i, c->obs.values[i].status, st);
}

static void expect_category(const ctx_t *c, size_t i, const char *text)
{
    const sl_monitor_item_t *it = &c->obs.values[i];
    cr_expect_eq(it->status, SL_MONITOR_VALUE, "value %zu: status %d", i, it->status);
    cr_expect_eq(it->overflow, 0, "value %zu overflows", i);
    cr_expect_eq(it->len, strlen(text), "value %zu: length %u", i, it->len);
    cr_expect_eq(memcmp(it->text, text, strlen(text)), 0, "value %zu: \"%.*s\", want \"%s\"", i, it->len, it->text, text);
    cr_expect_eq(it->hash, sl_monitor_hash(text, strlen(text)));
}

Test(monitor_extract, plan_layout)
{
    ctx_t c;
    setup(&c, features_yaml);
    cr_assert_eq(c.plan.num_values, 11);
    cr_assert_eq(c.plan.num_pointers, 7);
    cr_assert_eq(c.plan.num_numeric, 8);
    cr_assert_eq(c.plan.num_categorical, 3);
    /* prediction: 64 categories + other + null + type; numeric: 10 bins + 2 */
    cr_assert_eq(c.plan.specs[0].cell, 0);
    cr_assert_eq(c.plan.specs[0].bins, 65);
    cr_assert_eq(c.plan.specs[1].cell, 67);
    cr_assert_eq(c.plan.specs[1].bins, 10);
    cr_assert_eq(c.plan.specs[2].cell, 79);
    cr_assert_eq(c.plan.num_cells, 67 * 3 + 12 * 8);
    cr_assert_eq(c.plan.num_edges, 9 * 8);
    cr_assert_str_eq(c.plan.specs[3].first, "d/e");
    cr_assert_str_eq(c.plan.specs[3].rest, "/~0x");
    cr_assert_str_eq(c.plan.specs[2].first, "b");
    cr_assert_str_eq(c.plan.specs[2].rest, "/c");
    cr_assert_str_eq(c.plan.specs[1].rest, "");
    teardown(&c);
}

Test(monitor_extract, values_of_every_kind)
{
    ctx_t c;
    setup(&c, features_yaml);
    c.in.prompt_tokens = 17;
    c.in.message_count_state = SL_MONITOR_PRESENT;
    c.in.message_count = 3;
    c.in.output_tokens_state = SL_MONITOR_PRESENT;
    c.in.output_tokens = 250;
    run(&c,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a long {\\\"a\\\": 9} prompt\"}],"
        "\"a\":1.5,\"b\":{\"x\":1,\"c\":-2e3},\"d/e\":{\"~x\":5},\"arr\":[0,7,9],\"cat\":\"\\u00e9t\\u00e9\",\"flag\":true}",
        "{\"choices\":[{\"message\":{\"content\":\"positive\"}}]}");
    cr_assert_eq(c.obs.num_values, 11);
    cr_assert_eq(c.obs.malformed, 0);
    expect_category(&c, 0, "positive");
    expect_number(&c, 1, 1.5);
    expect_number(&c, 2, -2000);
    expect_number(&c, 3, 5);
    expect_number(&c, 4, 7);
    expect_category(&c, 5, "\xc3\xa9t\xc3\xa9");
    expect_category(&c, 6, "true");
    expect_number(&c, 7, 17);
    expect_number(&c, 8, 3);
    expect_number(&c, 9, 250);
    expect_number(&c, 10, 1.5); /* two features on the same member */
    teardown(&c);
}

Test(monitor_extract, missing_null_and_wrong_types)
{
    ctx_t c;
    setup(&c, features_yaml);
    c.in.message_count_state = SL_MONITOR_ABSENT;
    c.in.output_tokens_state = SL_MONITOR_INVALID;
    run(&c, "{\"a\":\"1.5\",\"b\":{\"c\":[1]},\"d/e\":null,\"arr\":[0],\"cat\":{},\"flag\":null}", "{\"choices\":[]}");
    expect_status(&c, 0, SL_MONITOR_NULL);       /* no choice 0 */
    expect_status(&c, 1, SL_MONITOR_TYPE_ERROR); /* text is not a number */
    expect_status(&c, 2, SL_MONITOR_TYPE_ERROR); /* an array */
    expect_status(&c, 3, SL_MONITOR_NULL);       /* the member is null: nothing below it */
    expect_status(&c, 4, SL_MONITOR_NULL);       /* index 1 past the end */
    expect_status(&c, 5, SL_MONITOR_TYPE_ERROR); /* an object is no category */
    expect_status(&c, 6, SL_MONITOR_NULL);       /* JSON null */
    expect_number(&c, 7, 0);                     /* no estimate: 0 */
    expect_status(&c, 8, SL_MONITOR_NULL);
    expect_status(&c, 9, SL_MONITOR_TYPE_ERROR);
    expect_status(&c, 10, SL_MONITOR_TYPE_ERROR);

    run(&c, "{\"b\":3,\"arr\":{\"1\":4},\"a\":1e400,\"cat\":12.50,\"flag\":[true]}", NULL);
    expect_status(&c, 0, SL_MONITOR_NULL);       /* no answer body */
    expect_status(&c, 1, SL_MONITOR_TYPE_ERROR); /* does not fit a double */
    expect_status(&c, 2, SL_MONITOR_NULL);       /* /b is a number: /b/c is nowhere */
    expect_number(&c, 4, 4);                     /* "1" names an object member too (RFC 6901) */
    expect_category(&c, 5, "12.50");             /* numbers by their JSON text */
    expect_status(&c, 6, SL_MONITOR_TYPE_ERROR);
    teardown(&c);
}

Test(monitor_extract, first_member_wins_and_missing_body)
{
    ctx_t c;
    setup(&c, features_yaml);
    run(&c, "{\"a\":1,\"a\":2,\"b\":{\"c\":3},\"b\":{\"c\":4}}", NULL);
    expect_number(&c, 1, 1);
    expect_number(&c, 2, 3);
    expect_number(&c, 10, 1);
    run(&c, NULL, NULL); /* no body at all */
    for (size_t i = 1; i != 7; ++i)
        expect_status(&c, i, SL_MONITOR_NULL);
    cr_expect_eq(c.obs.malformed, 0);
    run(&c, "[{\"a\":1}]", NULL); /* a body that is not an object: pointers resolve from the root */
    expect_status(&c, 1, SL_MONITOR_NULL);
    c.in.request_malformed = 1; /* the body was not JSON: pointer values are nulls, and the request is counted */
    run(&c, NULL, NULL);
    cr_expect_eq(c.obs.malformed, 1);
    expect_status(&c, 1, SL_MONITOR_NULL);
    expect_number(&c, 7, 0);
    teardown(&c);
}

Test(monitor_extract, array_root_pointers)
{
    ctx_t c;
    setup(&c, HEAD "      features: [{name: x, source: /1/v}, {name: y, source: /0}]\n");
    run(&c, "[3,{\"v\":8.25}]", NULL);
    expect_number(&c, 0, 8.25);
    expect_number(&c, 1, 3);
    teardown(&c);
}

Test(monitor_extract, long_categories_overflow)
{
    ctx_t c;
    char body[400];
    char t64[65], t65[66];
    setup(&c, features_yaml);
    memset(t64, 'x', 64);
    t64[64] = '\0';
    memset(t65, 'y', 65);
    t65[65] = '\0';
    snprintf(body, sizeof(body), "{\"cat\":\"%s\",\"flag\":\"%s\"}", t64, t65);
    run(&c, body, NULL);
    expect_category(&c, 5, t64);
    cr_expect_eq(c.obs.values[6].status, SL_MONITOR_VALUE);
    cr_expect_eq(c.obs.values[6].overflow, 1);
    /* an escape makes the text shorter than its JSON: 64 bytes unescaped fit */
    snprintf(body, sizeof(body), "{\"cat\":\"\\u0041%.63s\"}", t64);
    run(&c, body, NULL);
    cr_expect_eq(c.obs.values[5].overflow, 0);
    cr_expect_eq(c.obs.values[5].len, 64);
    cr_expect_eq(c.obs.values[5].text[0], 'A');
    teardown(&c);
}

Test(monitor_extract, prediction_sources)
{
    ctx_t c;
    sl_json_span_t direct;
    setup(&c, HEAD "      prediction: {signal: logprob_mean}\n");
    c.in.signal_state = SL_MONITOR_PRESENT;
    c.in.signal = -0.25;
    run(&c, NULL, NULL);
    expect_number(&c, 0, -0.25);
    c.in.signal_state = SL_MONITOR_ABSENT;
    run(&c, NULL, NULL);
    expect_status(&c, 0, SL_MONITOR_NULL);
    c.in.signal_state = SL_MONITOR_INVALID;
    run(&c, NULL, NULL);
    expect_status(&c, 0, SL_MONITOR_TYPE_ERROR);
    cr_assert_eq(sl_json_parse("-1.5", 4, &direct), SL_OK); /* a reference sample carries its prediction */
    c.in.prediction = &direct;
    run(&c, NULL, NULL);
    expect_number(&c, 0, -1.5);
    teardown(&c);

    setup(&c, HEAD "      prediction: {value: /outputs/0/data/0}\n");
    run(&c, NULL, "{\"outputs\":[{\"data\":[0.875,0.125]}]}");
    expect_number(&c, 0, 0.875);
    run(&c, NULL, "{\"outputs\":[{\"data\":[\"high\"]}]}");
    expect_status(&c, 0, SL_MONITOR_TYPE_ERROR);
    teardown(&c);

    setup(&c, HEAD "      prediction: {value: \"\"}\n");
    run(&c, NULL, "42");
    expect_number(&c, 0, 42);
    teardown(&c);
}

Test(monitor_extract, category_table_bounds_and_lookup)
{
    sl_monitor_cattab_t t;
    cr_assert_eq(sl_monitor_cattab_init(&t, 0), SL_EINVAL);
    cr_assert_eq(sl_monitor_cattab_init(&t, SL_CONF_MAX_CATEGORIES + 1), SL_EINVAL);
    cr_assert_eq(sl_monitor_cattab_init(&t, 3), SL_OK);
    const char *const names[] = {"en", "fr", "de", "es"};
    for (uint32_t i = 0; i != 3; ++i)
        cr_assert_eq(sl_monitor_cattab_add(&t, sl_monitor_hash(names[i], 2), names[i], 2), i);
    cr_assert_eq(sl_monitor_cattab_add(&t, sl_monitor_hash("es", 2), "es", 2), UINT32_MAX, "full");
    for (uint32_t i = 0; i != 3; ++i)
        cr_assert_eq(sl_monitor_cattab_find(&t, sl_monitor_hash(names[i], 2), names[i], 2), i);
    cr_assert_eq(sl_monitor_cattab_find(&t, sl_monitor_hash("es", 2), "es", 2), UINT32_MAX);
    /* equal hashes, different text: never confused */
    cr_assert_eq(sl_monitor_cattab_find(&t, sl_monitor_hash("en", 2), "EN", 2), UINT32_MAX);
    cr_assert_eq(t.count, 3);
    sl_monitor_cattab_dispose(&t);
    /* FNV-1a 64 test vectors */
    cr_assert_eq(sl_monitor_hash("", 0), 0xcbf29ce484222325ull);
    cr_assert_eq(sl_monitor_hash("a", 1), 0xaf63dc4c8601ec8cull);
    cr_assert_eq(sl_monitor_hash("foobar", 6), 0x85944171f73967e8ull);
}
