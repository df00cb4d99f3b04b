/*
 * test_feedback_parse.c - the POST /v1/feedback body (policies/feedback_parse.c): single items and batches, every
 * kind of label, and a table of refused bodies with their exact messages.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "policies/feedback.h"

static sl_feedback_item_t items[SL_FEEDBACK_MAX_BATCH];

static int parse(const char *body, size_t *n, int *batch, char *err)
{
    return sl_feedback_parse(body, strlen(body), items, SL_FEEDBACK_MAX_BATCH, n, batch, err, 256);
}

Test(feedback_parse, single_items)
{
    size_t n = 99;
    int batch = 9;
    char err[256] = "";
    cr_assert_eq(parse("{\"id\":\"req-1\",\"label\":\"positive\"}", &n, &batch, err), SL_OK, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_eq(batch, 0);
    cr_assert_eq(items[0].kind, SL_FEEDBACK_LABEL);
    cr_assert_str_eq(items[0].id, "req-1");
    cr_assert_eq(items[0].id_len, 5);
    cr_assert_str_eq(items[0].label, "positive");
    cr_assert_eq(items[0].label_len, 8);
    cr_assert_eq(parse(" {\"value\": -2.5e1, \"id\": \"r\\u00e9q\"} ", &n, &batch, err), SL_OK, "%s", err);
    cr_assert_eq(items[0].kind, SL_FEEDBACK_VALUE);
    cr_assert_eq(items[0].value, -25);
    cr_assert_str_eq(items[0].id, "r\xc3\xa9q");
    cr_assert_eq(parse("{\"id\":\"a\",\"label\":3}", &n, &batch, err), SL_OK);
    cr_assert_str_eq(items[0].label, "3");
    cr_assert_eq(parse("{\"id\":\"a\",\"label\":false}", &n, &batch, err), SL_OK);
    cr_assert_str_eq(items[0].label, "false");
}

Test(feedback_parse, batches)
{
    size_t n = 0;
    int batch = 0;
    char err[256];
    cr_assert_eq(parse("[{\"id\":\"a\",\"label\":\"x\"},{\"id\":\"b\",\"value\":1}]", &n, &batch, err), SL_OK, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_eq(batch, 1);
    cr_assert_str_eq(items[0].id, "a");
    cr_assert_str_eq(items[1].id, "b");
    cr_assert_eq(items[1].kind, SL_FEEDBACK_VALUE);
    cr_assert_eq(items[1].value, 1);

    /* exactly the limit, then one more */
    size_t cap = 40 * (SL_FEEDBACK_MAX_BATCH + 1) + 16, o = 0;
    char *big = sl_malloc(cap);
    big[o++] = '[';
    for (int i = 0; i != SL_FEEDBACK_MAX_BATCH; ++i)
        o += (size_t)snprintf(big + o, cap - o, "%s{\"id\":\"%d\",\"value\":%d}", i != 0 ? "," : "", i, i);
    big[o++] = ']';
    cr_assert_eq(sl_feedback_parse(big, o, items, SL_FEEDBACK_MAX_BATCH, &n, &batch, err, sizeof(err)), SL_OK, "%s", err);
    cr_assert_eq(n, SL_FEEDBACK_MAX_BATCH);
    cr_assert_str_eq(items[999].id, "999");
    cr_assert_eq(items[999].value, 999);
    o += (size_t)snprintf(big + o - 1, cap - o, ",{\"id\":\"x\",\"value\":0}]") - 1;
    cr_assert_eq(sl_feedback_parse(big, o, items, SL_FEEDBACK_MAX_BATCH, &n, &batch, err, sizeof(err)), SL_EINVAL);
    cr_assert_str_eq(err, "the batch has more than 1000 items");
    /* a smaller room than the limit */
    cr_assert_eq(sl_feedback_parse("[{\"id\":\"a\",\"value\":1},{\"id\":\"b\",\"value\":1}]", 43, items, 1, &n, &batch, err,
                                   sizeof(err)),
                 SL_EINVAL);
    cr_assert_str_eq(err, "the batch has more than 1 items");
    sl_free(big);
}

static const struct {
    const char *body, *err;
} bad[] = {
    {"", "the body is empty"},
    {"{\"id\":\"a\",", "the body is not valid JSON"},
    {"{\"id\":\"a\",\"label\":\"x\"} x", "the body is not valid JSON"},
    {"\"a\"", "expected an object or an array of objects, got a string"},
    {"null", "expected an object or an array of objects, got null"},
    {"[]", "the batch is empty"},
    {"[1]", "[0]: expected an object, got a number"},
    {"[{\"id\":\"a\",\"label\":\"x\"},[]]", "[1]: expected an object, got an array"},
    {"{\"label\":\"x\"}", "missing \"id\""},
    {"[{\"id\":\"a\",\"label\":\"x\"},{\"label\":\"x\"}]", "[1]: missing \"id\""},
    {"{\"id\":\"a\"}", "set \"label\" or \"value\""},
    {"{\"id\":\"a\",\"label\":\"x\",\"value\":1}", "set only one of \"label\" and \"value\""},
    {"{\"id\":\"a\",\"labl\":\"x\"}", "unknown key \"labl\" (did you mean \"label\"?)"},
    {"{\"id\":\"a\",\"lable\":\"x\"}", "unknown key \"lable\""},
    {"{\"id\":\"a\",\"timestamp\":1}", "unknown key \"timestamp\""},
    {"{\"id\":\"a\",\"id\":\"b\",\"label\":\"x\"}", "duplicate key \"id\""},
    {"{\"id\":7,\"label\":\"x\"}", "id: must be a string, got a number"},
    {"[{\"id\":\"\",\"label\":\"x\"}]", "[0].id: must be 1 to 64 bytes long"},
    {"{\"id\":\"0123456789012345678901234567890123456789012345678901234567890123x\",\"label\":\"x\"}",
     "id: must be 1 to 64 bytes long"},
    {"{\"id\":\"a\\u0000b\",\"label\":\"x\"}", "id: must be 1 to 64 bytes long"},
    {"{\"id\":\"a\",\"label\":null}", "label: must be a string, a number or a boolean, got null"},
    {"{\"id\":\"a\",\"label\":{\"x\":1}}", "label: must be a string, a number or a boolean, got an object"},
    {"{\"id\":\"a\",\"label\":\"\"}", "label: must be 1 to 64 bytes long"},
    {"{\"id\":\"a\",\"value\":\"1\"}", "value: must be a number, got a string"},
    {"{\"id\":\"a\",\"value\":true}", "value: must be a number, got a boolean"},
    {"[{\"id\":\"a\",\"value\":1},{\"id\":\"b\",\"value\":1e999}]", "[1].value: must be a finite number"},
};

Test(feedback_parse, refused_bodies_and_their_messages)
{
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        char err[256] = "";
        size_t n = 77;
        int batch = 77;
        memset(&items[0], 0x5a, sizeof(items[0]));
        int rc =
            sl_feedback_parse(bad[i].body, strlen(bad[i].body), items, SL_FEEDBACK_MAX_BATCH, &n, &batch, err, sizeof(err));
        cr_expect_eq(rc, SL_EINVAL, "case %zu (%s): rc %d", i, bad[i].body, rc);
        cr_expect_str_eq(err, bad[i].err, "case %zu (%s): \"%s\"", i, bad[i].body, err);
        cr_expect_eq(n, 77, "case %zu: n written on failure", i);
        cr_expect_eq(batch, 77, "case %zu: batch written on failure", i);
        cr_expect_eq(((unsigned char *)&items[0])[0], 0x5a, "case %zu: items written on failure", i);
    }
}
