#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_scan.h"
#include "common/status.h"

static int parse(const char *s)
{
    return sl_json_parse(s, strlen(s), NULL);
}

static sl_json_span_t root_of(const char *s)
{
    sl_json_span_t r;
    cr_assert_eq(sl_json_parse(s, strlen(s), &r), SL_OK, "parse failed: %s", s);
    return r;
}

static int span_is(const sl_json_span_t *v, const char *text)
{
    return v->len == strlen(text) && memcmp(v->p, text, v->len) == 0;
}

Test(json_scan, valid_documents)
{
    static const char *const ok[] = {
        "0",
        "-0",
        "1",
        "-12.5e+3",
        "1E400",
        "0.0001",
        "123456789012345678901234567890",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
        "\"\\u00e9\\uD83D\\uDE00\"",
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
        "[]",
        "{}",
        " \t\r\n[ 1 , 2 ,[ ] ,{ } ] \n",
        "{\"a\":{\"b\":[1,{\"c\":null}]}}",
        "{\"a\":1,\"a\":2}",
        "[\"\\u0000\"]",
    };
    for (size_t i = 0; i != sizeof(ok) / sizeof(ok[0]); ++i)
        cr_expect_eq(parse(ok[i]), SL_OK, "expected valid: %s", ok[i]);
}

Test(json_scan, invalid_documents)
{
    static const char *const bad[] = {
        "",
        " ",
        "01",
        "-",
        "1.",
        ".5",
        "+1",
        "1e",
        "1e+",
        "0x1",
        "NaN",
        "Infinity",
        "tru",
        "True",
        "nul",
        "\"abc",
        "\"a\nb\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "\"\\uD83D\"",
        "\"\\uDE00\"",
        "\"\\uD83D\\u0041\"",
        "\"\xc3\"",
        "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"\xff\"",
        "[1,]",
        "[,1]",
        "[1 2]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{a:1}",
        "{\"a\" 1}",
        "[1]]",
        "{}x",
        "1 2",
        "[1",
        "{\"a\":[1,2}",
        "{\"a\":1",
        "[\"a\",",
        "// c\n1",
    };
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        cr_expect_eq(parse(bad[i]), SL_ESYNTAX, "expected invalid #%zu: %s", i, bad[i]);
    /* an embedded NUL is not whitespace: the length decides, not the terminator */
    cr_expect_eq(sl_json_parse("[1,2]\0", 6, NULL), SL_ESYNTAX);
}

Test(json_scan, truncation_at_every_byte_is_rejected)
{
    const char *doc = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9\"}],\"n\":-1.5e3}";
    size_t n = strlen(doc);
    cr_assert_eq(sl_json_parse(doc, n, NULL), SL_OK);
    for (size_t i = 0; i != n; ++i)
        cr_expect_eq(sl_json_parse(doc, i, NULL), SL_ESYNTAX, "prefix of %zu bytes accepted", i);
}

Test(json_scan, depth_cap)
{
    char buf[2 * (SL_JSON_MAX_DEPTH + 1) + 1];
    for (int d = SL_JSON_MAX_DEPTH; d <= SL_JSON_MAX_DEPTH + 1; ++d) {
        memset(buf, '[', (size_t)d);
        memset(buf + d, ']', (size_t)d);
        buf[2 * d] = '\0';
        cr_expect_eq(parse(buf), d == SL_JSON_MAX_DEPTH ? SL_OK : SL_ENOMEM, "depth %d", d);
    }
    /* objects count the same; the cap holds while skipping values during a lookup too */
    char obj[1024];
    size_t w = (size_t)snprintf(obj, sizeof(obj), "{\"x\":");
    for (int i = 0; i != SL_JSON_MAX_DEPTH; ++i)
        w += (size_t)snprintf(obj + w, sizeof(obj) - w, "{\"a\":");
    w += (size_t)snprintf(obj + w, sizeof(obj) - w, "1");
    for (int i = 0; i != SL_JSON_MAX_DEPTH + 1; ++i)
        obj[w++] = '}';
    obj[w] = '\0';
    cr_expect_eq(parse(obj), SL_ENOMEM);
    /* 100000 brackets: rejected without recursion */
    static char deep[200001];
    memset(deep, '[', 100000);
    memset(deep + 100000, ']', 100000);
    cr_expect_eq(sl_json_parse(deep, 200000, NULL), SL_ENOMEM);
}

Test(json_scan, span_and_types)
{
    sl_json_span_t r = root_of("  {\"a\" : [1, 2] }  ");
    cr_assert_eq(r.type, SL_JSON_OBJECT);
    cr_assert(span_is(&r, "{\"a\" : [1, 2] }"));
    sl_json_span_t v;
    cr_assert_eq(sl_json_find_key(&r, "a", 1, &v), SL_OK);
    cr_assert_eq(v.type, SL_JSON_ARRAY);
    cr_assert(span_is(&v, "[1, 2]"));
    cr_assert_eq(sl_json_find_key(&r, "b", 1, &v), SL_ENOENT);
    cr_assert_eq(sl_json_find_key(&v, "a", 1, &v), SL_EINVAL);
}

Test(json_scan, scan_stops_after_the_value)
{
    sl_json_span_t v;
    size_t used = 0;
    const char *s = " {\"a\":1}\n\ndata: more";
    cr_assert_eq(sl_json_scan(s, strlen(s), &v, &used), SL_OK);
    cr_assert_eq(used, 8);
    cr_assert(span_is(&v, "{\"a\":1}"));
    cr_assert_eq(sl_json_scan("{\"a\":", 5, &v, &used), SL_ESYNTAX);
    cr_assert_eq(used, 8); /* untouched */
}

Test(json_scan, duplicate_keys_first_wins_and_escaped_keys_match)
{
    sl_json_span_t r = root_of("{\"m\\u006fdel\":\"first\",\"model\":\"second\",\"a\\/b\":3,\"\\u00e9\":4}"), v;
    cr_assert_eq(sl_json_find_key(&r, "model", 5, &v), SL_OK);
    cr_assert(span_is(&v, "\"first\""));
    cr_assert_eq(sl_json_find_key(&r, "a/b", 3, &v), SL_OK);
    cr_assert(span_is(&v, "3"));
    cr_assert_eq(sl_json_find_key(&r, "\xc3\xa9", 2, &v), SL_OK);
    cr_assert(span_is(&v, "4"));
    cr_assert_eq(sl_json_find_key(&r, "mode", 4, &v), SL_ENOENT);
    cr_assert_eq(sl_json_find_key(&r, "models", 6, &v), SL_ENOENT);
}

Test(json_scan, lookup_fails_on_malformed_bytes_it_passes)
{
    /* a span not produced by sl_json_parse: the lookup still refuses to step over garbage */
    const char *s = "{\"a\":[1,,2],\"b\":1}";
    sl_json_span_t r = {s, strlen(s), SL_JSON_OBJECT}, v;
    cr_assert_eq(sl_json_find_key(&r, "b", 1, &v), SL_ESYNTAX);
    cr_assert_eq(sl_json_find_key(&r, "a", 1, &v), SL_ESYNTAX);
}

Test(json_scan, iterate_object_and_array)
{
    sl_json_span_t r = root_of("{ \"x\" : 1 , \"y\" : [ true , null , \"s\" ] }"), k, v;
    sl_json_iter_t it;
    cr_assert_eq(sl_json_iter_init(&it, &r), SL_OK);
    cr_assert_eq(sl_json_iter_next(&it, &k, &v), SL_OK);
    cr_assert(sl_json_string_eq(&k, "x", 1));
    cr_assert(span_is(&v, "1"));
    cr_assert_eq(sl_json_iter_next(&it, &k, &v), SL_OK);
    cr_assert(sl_json_string_eq(&k, "y", 1));
    cr_assert_eq(sl_json_iter_next(&it, &k, &v), SL_ENOENT);
    cr_assert_eq(it.index, 2);

    sl_json_span_t arr;
    cr_assert_eq(sl_json_find_key(&r, "y", 1, &arr), SL_OK);
    cr_assert_eq(sl_json_iter_init(&it, &arr), SL_OK);
    enum en_sl_json_type_t want[] = {SL_JSON_TRUE, SL_JSON_NULL, SL_JSON_STRING};
    for (int i = 0; i != 3; ++i) {
        cr_assert_eq(sl_json_iter_next(&it, &k, &v), SL_OK);
        cr_assert_eq(k.type, SL_JSON_INVALID);
        cr_assert_eq(v.type, want[i]);
    }
    cr_assert_eq(sl_json_iter_next(&it, NULL, &v), SL_ENOENT);
    sl_json_span_t num = root_of("5");
    cr_assert_eq(sl_json_iter_init(&it, &num), SL_EINVAL);
}

Test(json_scan, pointer_resolution)
{
    sl_json_span_t r = root_of(
                       "{\"outputs\":[{\"name\":\"probs\",\"data\":[0.1,0.7,0.2]},{\"name\":\"x\",\"data\":[[1,2],[3,4]]}],"
                       "\"a/b\":{\"m~n\":5},\"\":{\"\":6},\"10\":7}"),
                   v;
    cr_assert_eq(sl_json_find_pointer(&r, "", 0, &v), SL_OK);
    cr_assert_eq(v.p, r.p);
    cr_assert_eq(sl_json_find_pointer(&r, "/outputs/0/data/1", 17, &v), SL_OK);
    cr_assert(span_is(&v, "0.7"));
    cr_assert_eq(sl_json_find_pointer(&r, "/outputs/1/data/1/0", 19, &v), SL_OK);
    cr_assert(span_is(&v, "3"));
    cr_assert_eq(sl_json_find_pointer(&r, "/a~1b/m~0n", 10, &v), SL_OK);
    cr_assert(span_is(&v, "5"));
    cr_assert_eq(sl_json_find_pointer(&r, "//", 2, &v), SL_OK);
    cr_assert(span_is(&v, "6"));
    cr_assert_eq(sl_json_find_pointer(&r, "/10", 3, &v), SL_OK); /* digits name a member of an object */
    cr_assert(span_is(&v, "7"));
    cr_assert_eq(sl_json_find_pointer(&r, "/outputs/2", 10, &v), SL_ENOENT);
    cr_assert_eq(sl_json_find_pointer(&r, "/outputs/01", 11, &v), SL_ENOENT);
    cr_assert_eq(sl_json_find_pointer(&r, "/outputs/-", 10, &v), SL_ENOENT);
    cr_assert_eq(sl_json_find_pointer(&r, "/outputs/0/name/x", 17, &v), SL_ENOENT);
    cr_assert_eq(sl_json_find_pointer(&r, "outputs", 7, &v), SL_EINVAL);
    cr_assert_eq(sl_json_find_pointer(&r, "/a~2b", 5, &v), SL_EINVAL);
    cr_assert_eq(sl_json_find_pointer(&r, "/nope/x~", 8, &v), SL_EINVAL);
    const char *const path[] = {"a/b", "m~n"};
    cr_assert_eq(sl_json_find_path(&r, path, 2, &v), SL_OK);
    cr_assert(span_is(&v, "5"));
    const char *const bad_path[] = {"outputs", "0"};
    cr_assert_eq(sl_json_find_path(&r, bad_path, 2, &v), SL_ENOENT);
}

Test(json_scan, numbers)
{
    double d = 42;
    sl_json_span_t v = root_of("-12.5e+3");
    cr_assert_eq(sl_json_get_double(&v, &d), SL_OK);
    cr_assert_eq(d, -12500.0);
    v = root_of("0.1");
    cr_assert_eq(sl_json_get_double(&v, &d), SL_OK);
    cr_assert_eq(d, 0.1);
    v = root_of("1e400");
    d = 42;
    cr_assert_eq(sl_json_get_double(&v, &d), SL_ERANGE);
    cr_assert_eq(d, 42); /* untouched */
    v = root_of("-1.5E309");
    cr_assert_eq(sl_json_get_double(&v, &d), SL_ERANGE);
    v = root_of("1e-400");
    cr_assert_eq(sl_json_get_double(&v, &d), SL_OK);
    cr_assert_eq(d, 0.0);
    v = root_of("1.7976931348623157e308");
    cr_assert_eq(sl_json_get_double(&v, &d), SL_OK);
    cr_assert_eq(d, DBL_MAX);
    v = root_of("123456789012345678901234567890");
    cr_assert_eq(sl_json_get_double(&v, &d), SL_OK);
    cr_assert_eq(d, 1.2345678901234568e29);
    v = root_of("\"1\"");
    cr_assert_eq(sl_json_get_double(&v, &d), SL_EINVAL);

    char longnum[SL_JSON_MAX_NUMBER_LEN + 2];
    memset(longnum, '1', sizeof(longnum) - 1);
    longnum[sizeof(longnum) - 1] = '\0';
    v = root_of(longnum);
    cr_assert_eq(sl_json_get_double(&v, &d), SL_ERANGE);

    uint64_t u = 7;
    v = root_of("18446744073709551615");
    cr_assert_eq(sl_json_get_uint64(&v, &u), SL_OK);
    cr_assert_eq(u, UINT64_MAX);
    v = root_of("18446744073709551616");
    cr_assert_eq(sl_json_get_uint64(&v, &u), SL_ERANGE);
    cr_assert_eq(u, UINT64_MAX);
    v = root_of("12.0");
    cr_assert_eq(sl_json_get_uint64(&v, &u), SL_EINVAL);
    v = root_of("-1");
    cr_assert_eq(sl_json_get_uint64(&v, &u), SL_EINVAL);
    v = root_of("0");
    cr_assert_eq(sl_json_get_uint64(&v, &u), SL_OK);
    cr_assert_eq(u, 0);
}

Test(json_scan, bools)
{
    int b = 5;
    sl_json_span_t v = root_of("true");
    cr_assert_eq(sl_json_get_bool(&v, &b), SL_OK);
    cr_assert_eq(b, 1);
    v = root_of("false");
    cr_assert_eq(sl_json_get_bool(&v, &b), SL_OK);
    cr_assert_eq(b, 0);
    v = root_of("null");
    cr_assert_eq(sl_json_get_bool(&v, &b), SL_EINVAL);
    cr_assert_eq(b, 0);
}

Test(json_scan, strings_unescape_to_utf8)
{
    char buf[64];
    size_t n = 99;
    sl_json_span_t v = root_of("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00\xe2\x82\xac\"");
    cr_assert_eq(sl_json_get_string(&v, buf, sizeof(buf), &n), SL_OK);
    const char want[] = "a\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x82\xac";
    cr_assert_eq(n, sizeof(want) - 1);
    cr_assert_eq(memcmp(buf, want, n + 1), 0);
    cr_assert_eq(sl_json_string_len(&v), sizeof(want) - 1);
    cr_assert(sl_json_string_eq(&v, want, sizeof(want) - 1));
    cr_assert(!sl_json_string_eq(&v, want, sizeof(want) - 2));

    v = root_of("\"x\\u0000y\"");
    cr_assert_eq(sl_json_get_string(&v, buf, sizeof(buf), &n), SL_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(buf, "x\0y", 4), 0);

    /* exact fit needs room for the NUL; on failure buf is untouched */
    v = root_of("\"\\u00e9\\u00e9\""); /* 12 raw bytes, 4 decoded */
    cr_assert_eq(sl_json_get_string(&v, buf, 5, &n), SL_OK);
    cr_assert_eq(n, 4);
    memset(buf, 'Z', sizeof(buf));
    cr_assert_eq(sl_json_get_string(&v, buf, 4, &n), SL_ENOMEM);
    cr_assert_eq(buf[0], 'Z');
    cr_assert_eq(n, 4);
    v = root_of("7");
    cr_assert_eq(sl_json_get_string(&v, buf, sizeof(buf), &n), SL_EINVAL);
}

Test(json_scan, string_body_check)
{
    cr_assert(sl_json_is_string_body("gpt-4o-mini", 11));
    cr_assert(sl_json_is_string_body("a\\\"b\\u00e9", 10));
    cr_assert(sl_json_is_string_body("", 0));
    cr_assert(!sl_json_is_string_body("a\"b", 3));
    cr_assert(!sl_json_is_string_body("a\\", 2));
    cr_assert(!sl_json_is_string_body("a\nb", 3));
    cr_assert(!sl_json_is_string_body("\xc3", 1));
    cr_assert(!sl_json_is_string_body("\\ud800", 6));
}

static void join(const sl_json_piece_t *pieces, size_t n, char *out)
{
    size_t len = sl_json_pieces_copy(pieces, n, out);
    out[len] = '\0';
    cr_assert_eq(len, sl_json_pieces_len(pieces, n));
}

Test(json_scan_edit, rewrite_string_replaces_in_place)
{
    const char *doc = " {\"messages\":[{\"model\":\"inner\"}], \"model\" : \"gpt-4o\" ,\"n\":1} ";
    sl_json_span_t r = root_of(doc);
    sl_json_piece_t p[SL_JSON_REWRITE_PIECES];
    size_t n = 0;
    cr_assert_eq(sl_json_rewrite_string(doc, strlen(doc), &r, "model", 5, "llama-8b", 8, p, &n), SL_OK);
    cr_assert_eq(n, 3);
    char out[256];
    join(p, n, out);
    cr_assert_str_eq(out, " {\"messages\":[{\"model\":\"inner\"}], \"model\" : \"llama-8b\" ,\"n\":1} ");
    cr_assert_eq(p[0].base, doc); /* zero copy: the prefix and suffix point into the original */
    cr_assert_eq(parse(out), SL_OK);
}

Test(json_scan_edit, rewrite_string_inserts_when_absent)
{
    char out[256];
    sl_json_piece_t p[SL_JSON_REWRITE_PIECES];
    size_t n;
    const char *doc = "{\"n\":1}";
    sl_json_span_t r = root_of(doc);
    cr_assert_eq(sl_json_rewrite_string(doc, strlen(doc), &r, "model", 5, "m\\u00e9", 7, p, &n), SL_OK);
    join(p, n, out);
    cr_assert_str_eq(out, "{\"model\":\"m\\u00e9\",\"n\":1}");
    doc = "{ }";
    r = root_of(doc);
    cr_assert_eq(sl_json_rewrite_string(doc, strlen(doc), &r, "model", 5, "x", 1, p, &n), SL_OK);
    join(p, n, out);
    cr_assert_str_eq(out, "{\"model\":\"x\" }");
    cr_assert_eq(parse(out), SL_OK);
}

Test(json_scan_edit, rewrite_string_refusals)
{
    sl_json_piece_t p[SL_JSON_REWRITE_PIECES];
    size_t n = 77;
    const char *dup = "{\"model\":\"a\",\"m\\u006fdel\":\"b\"}";
    sl_json_span_t r = root_of(dup);
    cr_assert_eq(sl_json_rewrite_string(dup, strlen(dup), &r, "model", 5, "x", 1, p, &n), SL_EEXIST);
    cr_assert_eq(n, 77);
    const char *num = "{\"model\":5}";
    r = root_of(num);
    cr_assert_eq(sl_json_rewrite_string(num, strlen(num), &r, "model", 5, "x", 1, p, &n), SL_EINVAL);
    const char *ok = "{\"model\":\"a\"}";
    r = root_of(ok);
    cr_assert_eq(sl_json_rewrite_string(ok, strlen(ok), &r, "model", 5, "x\"y", 3, p, &n), SL_EINVAL);
    cr_assert_eq(sl_json_rewrite_string(ok, strlen(ok), &r, "mo\"del", 6, "x", 1, p, &n), SL_EINVAL);
    const char *arr = "[1]";
    r = root_of(arr);
    cr_assert_eq(sl_json_rewrite_string(arr, strlen(arr), &r, "model", 5, "x", 1, p, &n), SL_EINVAL);
    cr_assert_eq(n, 77);
}

Test(json_scan_edit, edit_object_replaces_and_appends_in_order)
{
    const char *doc = "{\"top_logprobs\":5,\"messages\":[],\"logprobs\":false,\"stream\":true}";
    sl_json_span_t r = root_of(doc);
    sl_json_edit_t e[] = {
        {"logprobs", 8, "true", 4, 0},
        {"top_logprobs", 12, "1", 1, 1}, /* keep the client's */
        {"stream_options", 14, "{\"include_usage\":true}", 22, 0},
        {"model", 5, "\"m\"", 3, 0},
    };
    sl_json_piece_t p[SL_JSON_EDIT_PIECES(4)];
    size_t n;
    cr_assert_eq(sl_json_edit_object(doc, strlen(doc), &r, e, 4, p, SL_JSON_EDIT_PIECES(4), &n), SL_OK);
    char out[512];
    join(p, n, out);
    cr_assert_str_eq(out, "{\"top_logprobs\":5,\"messages\":[],\"logprobs\":true,\"stream\":true,"
                          "\"stream_options\":{\"include_usage\":true},\"model\":\"m\"}");
    cr_assert_eq(parse(out), SL_OK);
}

Test(json_scan_edit, edit_nested_object_keeps_whole_document)
{
    const char *doc = "{\"a\":1,\"stream_options\":{ },\"z\":2}";
    sl_json_span_t r = root_of(doc), so;
    cr_assert_eq(sl_json_find_key(&r, "stream_options", 14, &so), SL_OK);
    sl_json_edit_t e[] = {{"include_usage", 13, "true", 4, 0}};
    sl_json_piece_t p[SL_JSON_EDIT_PIECES(1)];
    size_t n;
    cr_assert_eq(sl_json_edit_object(doc, strlen(doc), &so, e, 1, p, SL_JSON_EDIT_PIECES(1), &n), SL_OK);
    char out[256];
    join(p, n, out);
    cr_assert_str_eq(out, "{\"a\":1,\"stream_options\":{ \"include_usage\":true},\"z\":2}");
    cr_assert_eq(parse(out), SL_OK);
}

Test(json_scan_edit, edit_object_refusals)
{
    const char *doc = "{\"logprobs\":true,\"logprobs\":false}";
    sl_json_span_t r = root_of(doc);
    sl_json_edit_t e[] = {{"logprobs", 8, "true", 4, 0}, {"logprobs", 8, "true", 4, 0}};
    sl_json_piece_t p[SL_JSON_EDIT_PIECES(2)];
    size_t n = 9;
    cr_assert_eq(sl_json_edit_object(doc, strlen(doc), &r, e, 1, p, SL_JSON_EDIT_PIECES(1), &n), SL_EEXIST);
    const char *one = "{}";
    r = root_of(one);
    cr_assert_eq(sl_json_edit_object(one, 2, &r, e, 2, p, SL_JSON_EDIT_PIECES(2), &n), SL_EINVAL); /* same key */
    cr_assert_eq(sl_json_edit_object(one, 2, &r, e, 1, p, 5, &n), SL_ENOMEM);                      /* needs 6 pieces */
    cr_assert_eq(n, 9);
    cr_assert_eq(sl_json_edit_object(one, 2, &r, e, 1, p, 6, &n), SL_OK);
    cr_assert_eq(n, 6);
    char out[64];
    join(p, n, out);
    cr_assert_str_eq(out, "{\"logprobs\":true}");
}

Test(json_scan, leaves_of_nested_arrays_in_row_major_order)
{
    sl_json_span_t r = root_of("[ [0.25, [1e-3]] ,[], [[ \"s\" , true , null ]], -2 ]"), leaf;
    sl_json_leaf_iter_t it;
    cr_assert_eq(sl_json_leaf_init(&it, &r), SL_OK);
    static const char *const want[] = {"0.25", "1e-3", "\"s\"", "true", "null", "-2"};
    for (size_t i = 0; i != 6; ++i) {
        cr_assert_eq(sl_json_leaf_next(&it, &leaf), SL_OK);
        cr_assert(span_is(&leaf, want[i]), "leaf %zu", i);
    }
    cr_assert_eq(sl_json_leaf_next(&it, &leaf), SL_ENOENT);
    cr_assert_eq(sl_json_leaf_next(&it, &leaf), SL_ENOENT);
    r = root_of("[1,{\"a\":2}]");
    cr_assert_eq(sl_json_leaf_init(&it, &r), SL_OK);
    cr_assert_eq(sl_json_leaf_next(&it, &leaf), SL_OK);
    cr_assert_eq(sl_json_leaf_next(&it, &leaf), SL_EINVAL);
    r = root_of("{}");
    cr_assert_eq(sl_json_leaf_init(&it, &r), SL_EINVAL);
}

Test(json_scan_edit, escape_round_trips)
{
    const char in[] = "a\"b\\c\n\t\x01/\xc3\xa9";
    char out[6 * sizeof(in)], quoted[6 * sizeof(in) + 2], back[64];
    size_t n = sl_json_escape(in, sizeof(in) - 1, out);
    cr_assert_eq(n, 20);
    cr_assert_eq(memcmp(out, "a\\\"b\\\\c\\n\\t\\u0001/\xc3\xa9", n), 0);
    cr_assert(sl_json_is_string_body(out, n));
    quoted[0] = '"';
    memcpy(quoted + 1, out, n);
    quoted[n + 1] = '"';
    sl_json_span_t v;
    cr_assert_eq(sl_json_parse(quoted, n + 2, &v), SL_OK);
    size_t blen;
    cr_assert_eq(sl_json_get_string(&v, back, sizeof(back), &blen), SL_OK);
    cr_assert_eq(blen, sizeof(in) - 1);
    cr_assert_eq(memcmp(back, in, blen), 0);
}

/* The string scanner skips 8 plain bytes at a time: every special byte must be seen at every offset. */
Test(json_scan, special_bytes_at_every_offset_of_long_strings)
{
    static const struct {
        const char *insert;
        int valid;
    } cases[] = {
        {"\x01", 0},
        {"\x1f", 0},
        {"\x7f", 1},
        {" ", 1},
        {"\xc3\xa9", 1},
        {"\xc3", 0},
        {"\\n", 1},
        {"\\q", 0},
        {"\\u00e9", 1},
        {"\\ud800", 0},
        {"\"", 0},
        {"\xe2\x82\xac", 1},
        {"\xf0\x9f\x98\x80", 1},
        {"\x80", 0},
    };
    for (size_t c = 0; c != sizeof(cases) / sizeof(cases[0]); ++c) {
        for (size_t at = 0; at != 24; ++at) {
            char doc[64];
            size_t w = 0;
            doc[w++] = '"';
            memset(doc + w, 'a', at);
            w += at;
            memcpy(doc + w, cases[c].insert, strlen(cases[c].insert));
            w += strlen(cases[c].insert);
            memset(doc + w, 'b', 24 - at);
            w += 24 - at;
            doc[w++] = '"';
            int ret = sl_json_parse(doc, w, NULL);
            cr_expect_eq(ret, cases[c].valid ? SL_OK : SL_ESYNTAX, "case %zu at %zu", c, at);
            if (cases[c].valid) {
                sl_json_span_t v;
                sl_json_parse(doc, w, &v);
                size_t raw = strlen(cases[c].insert), dec = cases[c].insert[0] == '\\' ? (raw == 2 ? 1 : 2) : raw;
                cr_expect_eq(sl_json_string_len(&v), 24 + dec, "case %zu at %zu", c, at);
            }
        }
    }
}

/* Mutated documents: whatever the bytes, the scanner answers one of its codes, stays inside the buffer (ASan
 * checks), and an accepted document's root span parses again to itself. */
Test(json_scan, random_mutations_stay_in_bounds)
{
    const char *seed = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9 \\ud83d\\ude00\"}],"
                       "\"n\":[1,-2.5e3,true,false,null,{}],\"s\":\"caf\xc3\xa9\"}";
    size_t n = strlen(seed);
    uint64_t x = 88172645463325252u;
    size_t accepted = 0;
    for (int round = 0; round != 20000; ++round) {
        char *doc = malloc(n); /* exact size: a read past the end is an ASan error */
        memcpy(doc, seed, n);
        for (int k = 0; k != 1 + round % 3; ++k) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            doc[x % n] = (char)(x >> 32);
        }
        sl_json_span_t r;
        int ret = sl_json_parse(doc, n, &r);
        cr_assert(ret == SL_OK || ret == SL_ESYNTAX, "round %d: %d", round, ret);
        if (ret == SL_OK) {
            ++accepted;
            cr_assert(r.p >= doc && r.p + r.len <= doc + n);
            sl_json_span_t again;
            cr_assert_eq(sl_json_parse(r.p, r.len, &again), SL_OK);
            cr_assert_eq(again.len, r.len);
        }
        free(doc);
    }
    cr_assert_gt(accepted, 0); /* some mutations land inside strings and stay valid */
}

Test(json_scan, string_index_matches_names_as_unescaped)
{
    static const sl_json_piece_t names[] = {{"model", 5}, {"messages", 8}, {"stream", 6}, {"", 0}};
    struct {
        const char *json;
        int want;
    } cases[] = {
        {"\"model\"", 0},         {"\"messages\"", 1},       {"\"stream\"", 2},  {"\"\"", 3},
        {"\"mod\\u0065l\"", 0},   {"\"\\u006dessages\"", 1}, {"\"Model\"", -1}, {"\"streams\"", -1},
        {"\"stre\\\"am\"", -1},   {"\"model \"", -1},        {"\"x\"", -1},     {"\"\\\\model\"", -1},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        sl_json_span_t v = root_of(cases[i].json);
        cr_assert_eq(sl_json_string_index(&v, names, 4), cases[i].want, "%s", cases[i].json);
    }
    sl_json_span_t num = root_of("5");
    cr_assert_eq(sl_json_string_index(&num, names, 4), -1);
    sl_json_span_t s = root_of("\"model\"");
    cr_assert_eq(sl_json_string_index(&s, names, 0), -1);
}

/* plain: set on strings the scanner saw without a backslash, for values, keys and visited values alike */
static void check_plain(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    int *seen = ctx;
    cr_assert_eq(path[depth - 1].key.plain, path[depth - 1].key.len == 5); /* "ab\/" is 6 bytes, "abc" 5 */
    if (v->type == SL_JSON_STRING)
        cr_assert_eq(v->plain, v->len == 3, "%.*s", (int)v->len, v->p); /* "x" plain, "\n" not */
    else
        cr_assert_eq(v->plain, 0);
    ++*seen;
}

Test(json_scan, plain_strings_are_marked)
{
    const char *doc = "{\"abc\":\"x\",\"ab\\/\":\"\\n\",\"abc\":1}";
    sl_json_span_t root = root_of(doc), k, v;
    cr_assert_eq(root.plain, 0);
    sl_json_iter_t it;
    sl_json_iter_init(&it, &root);
    cr_assert_eq(sl_json_iter_next(&it, &k, &v), SL_OK);
    cr_assert(k.plain && v.plain);
    cr_assert_eq(sl_json_iter_next(&it, &k, &v), SL_OK);
    cr_assert(!k.plain && !v.plain);
    cr_assert_eq(sl_json_string_len(&v), 1);
    cr_assert(sl_json_string_eq(&k, "ab/", 3));
    sl_json_span_t s = root_of("\"pl\\u0061in\""), t = root_of("\"plain\"");
    cr_assert(!s.plain && t.plain);
    cr_assert(sl_json_string_eq(&s, "plain", 5) && sl_json_string_eq(&t, "plain", 5));
    int seen = 0;
    sl_json_visitor_t vis = {check_plain, &seen, 1};
    cr_assert_eq(sl_json_parse_visit(doc, strlen(doc), NULL, &vis), SL_OK);
    cr_assert_eq(seen, 3);
}
