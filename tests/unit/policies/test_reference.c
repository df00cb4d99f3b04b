/*
 * test_reference.c - reference files (policies/reference.c, reference_build.c): parsing, the table of refused
 * documents with their messages, writing and reading back, checking against a route's monitor config, and building
 * a reference from extracted samples.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/json_scan.h"
#include "policies/monitor.h"
#include "policies/reference.h"
#include "stats/drift.h"
#include "test_monitor_fixture.h"

#define GOOD                                                                                                                   \
    "{\"format\":\"sluice-reference\",\"version\":1,\"route\":\"chat\",\"created\":\"2025-01-31T12:00:00Z\","                  \
    "\"samples\":10,"                                                                                                          \
    "\"prediction\":{\"name\":\"prediction\",\"source\":\"signal:logprob_mean\",\"type\":\"numeric\","                         \
    "\"edges\":[-1.5],\"counts\":[4,6],\"nulls\":0,\"type_errors\":0},"                                                        \
    "\"features\":[{\"name\":\"lang\",\"source\":\"/metadata/lang\",\"type\":\"categorical\","                                 \
    "\"categories\":[\"en\",\"fr\\u00e9\"],\"counts\":[5,3],\"other\":1,\"nulls\":1,\"type_errors\":0},"                       \
    "{\"name\":\"prompt_tokens\",\"source\":\"prompt_tokens\",\"type\":\"numeric\",\"edges\":[10,10,42.5],"                    \
    "\"counts\":[1,0,5,4],\"nulls\":0,\"type_errors\":0}]}"

Test(reference, parses_a_good_document)
{
    sl_reference_t r;
    char err[256];
    cr_assert_eq(sl_reference_parse(GOOD, strlen(GOOD), &r, err, sizeof(err)), SL_OK, "%s", err);
    cr_assert_str_eq(r.route, "chat");
    cr_assert_str_eq(r.created, "2025-01-31T12:00:00Z");
    cr_assert_eq(r.samples, 10);
    cr_assert_eq(r.has_prediction, 1);
    cr_assert_eq(r.prediction.num_bins, 2);
    cr_assert_eq(r.prediction.edges[0], -1.5);
    cr_assert_eq(r.num_features, 2);
    const sl_reference_value_t *lang = sl_reference_find(&r, "lang");
    cr_assert_not_null(lang);
    cr_assert_eq(lang->type, SL_MONITOR_CATEGORICAL);
    cr_assert_str_eq(lang->categories[1], "fr\xc3\xa9");
    cr_assert_eq(lang->counts[0], 5);
    cr_assert_eq(lang->other, 1);
    cr_assert_eq(lang->nulls, 1);
    const sl_reference_value_t *pt = sl_reference_find(&r, "prompt_tokens");
    cr_assert_eq(pt->num_bins, 4);
    cr_assert_eq(pt->edges[1], 10, "tied edges are legal");
    cr_assert_eq(sl_reference_find(&r, "prediction"), &r.prediction);
    cr_assert_null(sl_reference_find(&r, "nope"));
    /* written back and read again: the same document, byte for byte */
    sl_buf_t out;
    sl_buf_init(&out, 0);
    cr_assert_eq(sl_reference_write(&r, &out), SL_OK);
    sl_reference_t again;
    cr_assert_eq(sl_reference_parse(out.data, out.len, &again, err, sizeof(err)), SL_OK, "%s", err);
    sl_buf_t out2;
    sl_buf_init(&out2, 0);
    sl_reference_write(&again, &out2);
    cr_assert_eq(out.len, out2.len);
    cr_assert_eq(memcmp(out.data, out2.data, out.len), 0);
    cr_assert_eq(out.data[out.len - 1], '\n');
    /* a capped buffer refuses the whole document */
    sl_buf_t small;
    sl_buf_init(&small, 100);
    sl_buf_append(&small, "x", 1);
    cr_assert_eq(sl_reference_write(&r, &small), SL_ENOMEM);
    cr_assert_eq(small.len, 1);
    sl_buf_dispose(&small);
    sl_buf_dispose(&out);
    sl_buf_dispose(&out2);
    sl_reference_dispose(&again);
    sl_reference_dispose(&r);
}

static const struct {
    const char *text, *err;
} bad[] = {
    {"{", "not valid JSON"},
    {"[]", "expected a JSON object, got an array"},
    {"{\"format\":\"sluice-ref\"}", "format: must be \"sluice-reference\""},
    {"{\"format\":\"sluice-reference\",\"version\":2}", "version: version 2 is not supported (this build reads version 1)"},
    {"{\"format\":\"sluice-reference\",\"version\":\"1\"}", "version: must be an integer"},
    {"{\"format\":\"sluice-reference\",\"version\":1,\"route\":\"r\",\"created\":\"\",\"samples\":1}", "missing \"features\""},
    {"{\"format\":\"sluice-reference\",\"version\":1,\"comment\":\"x\"}", "unknown key \"comment\""},
    {"{\"format\":\"sluice-reference\",\"format\":\"sluice-reference\"}", "duplicate key \"format\""},
    {"{\"samples\":-1}", "samples: must be an integer between 0 and 2^53"},
    {"{\"features\":{}}", "features: must be an array, got an object"},
    {"{\"features\":[1]}", "features[0]: must be an object, got a number"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"numeric\",\"counts\":[1,2]}]}",
     "features[0]: missing \"edges\" (a numeric value is binned)"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"numeric\",\"edges\":[1,2],\"counts\":[1,2]}]}",
     "features[0]: needs one more count than edges (2 edges, 2 counts)"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"numeric\",\"edges\":[2,1],\"counts\":[1,2,3]}]}",
     "features[0].edges: must be ascending (entry 1 is below entry 0)"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"numeric\",\"edges\":[],\"counts\":[1]}]}",
     "features[0]: must have 2 to 1000 bins, got 1 counts"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"numeric\",\"edges\":[1],\"counts\":[1,2.5]}]}",
     "features[0].counts[1]: must be an integer between 0 and 2^53"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"numeric\",\"edges\":[1],\"counts\":[1,9007199254740993]}]}",
     "features[0].counts[1]: must be an integer between 0 and 2^53"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"numeric\",\"edges\":[\"1\"],\"counts\":[1,2]}]}",
     "features[0].edges[0]: must be a finite number"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"text\"}]}",
     "features[0].type: must be \"numeric\" or \"categorical\""},
    {"{\"features\":[{\"name\":\"a\",\"type\":\"numeric\"}]}", "features[0]: missing \"source\""},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"categorical\",\"categories\":[\"x\",\"x\"],"
     "\"counts\":[1,2]}]}",
     "features[0].categories[1]: duplicate category \"x\" (also at [0])"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"categorical\",\"categories\":[\"x\"],\"counts\":[1,2]}]}",
     "features[0]: needs one count per category (1 categories, 2 counts)"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"categorical\",\"categories\":[\"x\"],\"counts\":[1],"
     "\"edges\":[]}]}",
     "features[0]: \"edges\" are for numeric values"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"numeric\",\"edges\":[1],\"counts\":[1,2],\"other\":3}]}",
     "features[0]: \"categories\" and \"other\" are for categorical values"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"categorical\",\"categories\":["
     "\"0123456789012345678901234567890123456789012345678901234567890123456789\"],\"counts\":[1]}]}",
     "features[0].categories[0]: must be at most 64 bytes long"},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"categorical\",\"categories\":[],\"counts\":[],"
     "\"colour\":1}]}",
     "features[0]: unknown key \"colour\""},
    {"{\"features\":[{\"name\":\"a\",\"source\":\"/a\",\"type\":\"categorical\",\"categories\":[],\"counts\":[]},"
     "{\"name\":\"a\",\"source\":\"/b\",\"type\":\"categorical\",\"categories\":[],\"counts\":[]}]}",
     "features[1]: duplicate feature \"a\" (also at features[0])"},
    {"{\"prediction\":{\"name\":\"prediction\",\"source\":\"/a\",\"type\":\"numeric\",\"edges\":[1],\"counts\":[1,2],"
     "\"nulls\":-2}}",
     "prediction.nulls: must be an integer between 0 and 2^53"},
};

Test(reference, refused_documents_and_their_messages)
{
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        sl_reference_t r;
        char err[256] = "";
        memset(&r, 0x5a, sizeof(r));
        cr_expect_eq(sl_reference_parse(bad[i].text, strlen(bad[i].text), &r, err, sizeof(err)), SL_ESYNTAX, "case %zu", i);
        cr_expect_str_eq(err, bad[i].err, "case %zu: \"%s\"", i, err);
        cr_expect_eq(((unsigned char *)&r)[0], 0x5a, "case %zu: output written on failure", i);
    }
}

Test(reference, load_reports_the_path)
{
    sl_reference_t r;
    char err[512], dir[64], path[128];
    cr_assert_eq(sl_reference_load("/nonexistent/ref.json", &r, err, sizeof(err)), SL_EIO);
    cr_assert_str_eq(err, "/nonexistent/ref.json: cannot read: No such file or directory");
    mon_mkdtemp(dir, sizeof(dir));
    cr_assert_eq(sl_reference_load(dir, &r, err, sizeof(err)), SL_EIO);
    snprintf(path, sizeof(path), "%s: cannot read: not a regular file", dir);
    cr_assert_str_eq(err, path);
    snprintf(path, sizeof(path), "%s/r.json", dir);
    mon_write(path, "{\"format\":1}", 12);
    cr_assert_eq(sl_reference_load(path, &r, err, sizeof(err)), SL_ESYNTAX);
    char want[256];
    snprintf(want, sizeof(want), "%s: format: must be \"sluice-reference\"", path);
    cr_assert_str_eq(err, want);
    mon_write(path, GOOD, strlen(GOOD));
    cr_assert_eq(sl_reference_load(path, &r, err, sizeof(err)), SL_OK, "%s", err);
    cr_assert_eq(r.samples, 10);
    sl_reference_dispose(&r);
    mon_rmdir(dir);
}

#define ROUTE                                                                                                                  \
    "backends: {a: {protocol: openai, endpoints: 127.0.0.1:1}}\n"                                                              \
    "routes:\n"                                                                                                                \
    "  - name: chat\n"                                                                                                         \
    "    cascade: [{backend: a}]\n"                                                                                            \
    "    monitor:\n"

static void expect_check(const char *monitor, const char *want)
{
    char yaml[1024], err[512] = "";
    snprintf(yaml, sizeof(yaml), "%s%s", ROUTE, monitor);
    sl_conf_t *c = mon_conf(yaml);
    sl_reference_t r;
    cr_assert_eq(sl_reference_parse(GOOD, strlen(GOOD), &r, err, sizeof(err)), SL_OK);
    int rc = sl_reference_check(&r, &c->routes[0].monitor, err, sizeof(err));
    if (want == NULL) {
        cr_expect_eq(rc, SL_OK, "%s", err);
    } else {
        cr_expect_eq(rc, SL_ECONFIG);
        cr_expect_str_eq(err, want);
    }
    sl_reference_dispose(&r);
    sl_conf_release(c);
}

Test(reference, checked_against_the_config)
{
    expect_check("      prediction: {signal: logprob_mean, bins: 2}\n"
                 "      features: [{name: lang, source: /metadata/lang, type: categorical}, {name: prompt_tokens, bins: 4}]\n",
                 NULL);
    expect_check("      features: [{name: prompt_tokens, bins: 4}]\n", NULL); /* a file may describe more */
    expect_check("      features: [{name: turns, source: message_count}]\n", "no reference for feature \"turns\"");
    expect_check("      prediction: {value: /v}\n      features: [{name: prompt_tokens, bins: 4}]\n",
                 "the prediction: the reference was made from \"signal:logprob_mean\", the config reads \"value:/v\"");
    expect_check("      prediction: {label: /l}\n", "the prediction: the reference is numeric, the config says categorical");
    expect_check("      features: [{name: prompt_tokens}]\n",
                 "feature \"prompt_tokens\": the reference has 4 bins, the config asks for 10");
    expect_check("      features: [{name: lang, source: /meta/lang, type: categorical}]\n",
                 "feature \"lang\": the reference was made from \"/metadata/lang\", the config reads \"/meta/lang\"");
    expect_check("      features: [{name: lang, source: /metadata/lang, type: categorical, max_categories: 1}]\n",
                 "feature \"lang\": the reference has 2 categories, more than max_categories (1)");
}

Test(reference, sources_as_recorded)
{
    char buf[256];
    sl_conf_t *c = mon_conf(ROUTE "      prediction: {signal: \"json:/s\"}\n"
                                  "      features: [{name: a, source: \"/x~1y\"}, {name: output_tokens}]\n");
    cr_assert_str_eq(sl_reference_source(&c->routes[0].monitor.prediction, buf, sizeof(buf)), "signal:json:/s");
    cr_assert_str_eq(sl_reference_source(&c->routes[0].monitor.features[0], buf, sizeof(buf)), "/x~1y");
    cr_assert_str_eq(sl_reference_source(&c->routes[0].monitor.features[1], buf, sizeof(buf)), "output_tokens");
    sl_conf_release(c);
}

Test(reference, numeric_bins_at_the_sample_quantiles)
{
    double v[10] = {9, 1, 8, 2, 7, 3, 6, 4, 5, 10}, edges[3];
    uint64_t counts[4];
    cr_assert_eq(sl_reference_numeric(v, 10, 4, edges, counts), SL_OK);
    /* numpy.quantile([1..10], [0.25, 0.5, 0.75]) = 3.25, 5.5, 7.75 */
    cr_assert_eq(edges[0], 3.25);
    cr_assert_eq(edges[1], 5.5);
    cr_assert_eq(edges[2], 7.75);
    cr_assert_eq(counts[0], 3);
    cr_assert_eq(counts[1], 2);
    cr_assert_eq(counts[2], 2);
    cr_assert_eq(counts[3], 3);
    cr_assert_eq(v[0], 1, "sorted in place");
    cr_assert_eq(sl_reference_numeric(v, 0, 4, edges, counts), SL_OK);
    cr_assert_eq(edges[1], 0);
    cr_assert_eq(counts[3], 0);
    cr_assert_eq(sl_reference_numeric(v, 10, 1, edges, counts), SL_EINVAL);
    v[3] = INFINITY;
    cr_assert_eq(sl_reference_numeric(v, 10, 4, edges, counts), SL_EINVAL);
}

Test(reference, builder_keeps_the_most_frequent_categories)
{
    sl_conf_t *c = mon_conf(ROUTE "      prediction: {label: /l, max_categories: 2}\n"
                                  "      features: [{name: x, source: /x, bins: 2}]\n");
    sl_monitor_plan_t plan;
    sl_reference_builder_t b;
    sl_monitor_plan_init(&plan, &c->routes[0].monitor);
    sl_reference_builder_init(&b, &c->routes[0].monitor);
    /* labels: c x3, a x3, b x2, d x1, one null, one object; x: 1..8, a null, a string */
    const char *preds[] = {"\"c\"", "\"a\"", "\"b\"", "\"c\"", "\"a\"", "\"d\"", "\"c\"", "\"a\"", "\"b\"", "null", "{}"};
    const char *xs[] = {"1", "2", "3", "4", "5", "6", "7", "8", "null", "\"9\"", "1"};
    for (int i = 0; i != 11; ++i) {
        char body[64];
        sl_json_span_t p;
        sl_monitor_input_t in;
        sl_monitor_obs_t obs;
        memset(&in, 0, sizeof(in));
        snprintf(body, sizeof(body), "{\"x\":%s}", xs[i]);
        cr_assert_eq(sl_json_parse(body, strlen(body), &in.request), SL_OK);
        cr_assert_eq(sl_json_parse(preds[i], strlen(preds[i]), &p), SL_OK);
        in.response.type = SL_JSON_INVALID;
        in.prediction = &p;
        sl_monitor_extract(&plan, &in, &obs);
        sl_reference_builder_add(&b, &obs);
    }
    sl_reference_t r;
    cr_assert_eq(sl_reference_builder_finish(&b, "chat", "now", &r), SL_OK);
    cr_assert_eq(r.samples, 11);
    cr_assert_eq(r.prediction.num_bins, 2);
    cr_assert_str_eq(r.prediction.categories[0], "a", "ties ordered by text");
    cr_assert_str_eq(r.prediction.categories[1], "c");
    cr_assert_eq(r.prediction.counts[0], 3);
    cr_assert_eq(r.prediction.counts[1], 3);
    cr_assert_eq(r.prediction.other, 3);
    cr_assert_eq(r.prediction.nulls, 1);
    cr_assert_eq(r.prediction.type_errors, 1);
    cr_assert_str_eq(r.prediction.source, "label:/l");
    const sl_reference_value_t *x = &r.features[0];
    cr_assert_eq(x->num_bins, 2);
    cr_assert_eq(x->edges[0], 4); /* values 1, 1..8: median of [1,1,2,3,4,5,6,7,8] */
    cr_assert_eq(x->counts[0], 4);
    cr_assert_eq(x->counts[1], 5);
    cr_assert_eq(x->nulls, 1);
    cr_assert_eq(x->type_errors, 1);
    char err[256];
    cr_assert_eq(sl_reference_check(&r, &c->routes[0].monitor, err, sizeof(err)), SL_OK, "%s", err);
    sl_reference_dispose(&r);
    sl_reference_builder_dispose(&b);
    sl_monitor_plan_dispose(&plan);
    sl_conf_release(c);
}
