/* sl_json_parse_visit (common/json_scan.c): the same verdicts as sl_json_parse, the values reported with their
 * exact paths in the order they complete; sl_json_edit_object_at gives the pieces sl_json_edit_object gives. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_scan.h"
#include "common/status.h"

/* Writes each reported value as "path=value;" where path is the member names (as written) and indices. */
typedef struct {
    char out[2048];
    size_t len;
    size_t calls;
} trace_t;

static void on_value(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    trace_t *t = ctx;
    t->calls++;
    for (size_t d = 0; d != depth; ++d) {
        if (path[d].key.type == SL_JSON_STRING)
            t->len += (size_t)snprintf(t->out + t->len, sizeof(t->out) - t->len, "/%.*s#%zu", (int)path[d].key.len,
                                       path[d].key.p, path[d].index);
        else
            t->len += (size_t)snprintf(t->out + t->len, sizeof(t->out) - t->len, "/[%zu]", path[d].index);
    }
    t->len += (size_t)snprintf(t->out + t->len, sizeof(t->out) - t->len, "=%.*s;", (int)v->len, v->p);
}

static const char *trace(const char *doc, size_t max_depth, trace_t *t)
{
    memset(t, 0, sizeof(*t));
    sl_json_visitor_t v = {on_value, t, max_depth};
    sl_json_span_t root;
    cr_assert_eq(sl_json_parse_visit(doc, strlen(doc), &root, &v), SL_OK, "%s", doc);
    cr_assert_eq(root.p, doc + strspn(doc, " \t\r\n"));
    return t->out;
}

Test(json_visit, paths_in_completion_order)
{
    trace_t t;
    cr_assert_str_eq(trace("{\"a\":1,\"b\":[true,{\"c\":null}],\"d\":{}}", 8, &t),
                     "/\"a\"#0=1;"
                     "/\"b\"#1/[0]=true;"
                     "/\"b\"#1/[1]/\"c\"#0=null;"
                     "/\"b\"#1/[1]={\"c\":null};"
                     "/\"b\"#1=[true,{\"c\":null}];"
                     "/\"d\"#2={};");
    /* whitespace stays outside the spans; keys are reported as written, escapes included */
    cr_assert_str_eq(trace(" [ \"x\" , [ ] , {\"k\\u0041\" : -1.5e2 } ] ", 8, &t),
                     "/[0]=\"x\";/[1]=[ ];/[2]/\"k\\u0041\"#0=-1.5e2;/[2]={\"k\\u0041\" : -1.5e2 };");
    /* max_depth cuts the report, not the validation */
    cr_assert_str_eq(trace("{\"a\":[[1],[2]],\"b\":2}", 1, &t), "/\"a\"#0=[[1],[2]];/\"b\"#1=2;");
    cr_assert_str_eq(trace("{\"a\":[[1],[2]]}", 2, &t), "/\"a\"#0/[0]=[1];/\"a\"#0/[1]=[2];/\"a\"#0=[[1],[2]];");
    /* a scalar root has nothing inside it */
    trace("\"just a string\"", 8, &t);
    cr_assert_eq(t.calls, 0);
    trace("{}", 8, &t);
    cr_assert_eq(t.calls, 0);
}

static void count(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    size_t *n = ctx;
    cr_assert_eq(path[depth - 1].index, 0);
    cr_assert_eq(v->type, SL_JSON_ARRAY);
    ++*n;
}

Test(json_visit, deepest_paths)
{
    char doc[2 * SL_JSON_MAX_DEPTH + 1];
    for (int i = 0; i != SL_JSON_MAX_DEPTH; ++i) {
        doc[i] = '[';
        doc[2 * SL_JSON_MAX_DEPTH - 1 - i] = ']';
    }
    doc[2 * SL_JSON_MAX_DEPTH] = '\0';
    size_t n = 0;
    sl_json_visitor_t v = {count, &n, SL_JSON_MAX_DEPTH};
    cr_assert_eq(sl_json_parse_visit(doc, strlen(doc), NULL, &v), SL_OK);
    cr_assert_eq(n, SL_JSON_MAX_DEPTH - 1); /* every array but the root */
    char deeper[2 * SL_JSON_MAX_DEPTH + 3];
    snprintf(deeper, sizeof(deeper), "[%s]", doc);
    cr_assert_eq(sl_json_parse_visit(deeper, strlen(deeper), NULL, &v), SL_ENOMEM);
}

/* Whatever the bytes, the visiting parse gives sl_json_parse's verdict and root, and reports only spans inside the
 * document that themselves parse as the type they were given. */
typedef struct {
    const char *doc;
    size_t n;
} bounds_t;

static void check_span(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    const bounds_t *b = ctx;
    cr_assert(v->p >= b->doc && v->p + v->len <= b->doc + b->n);
    cr_assert(depth >= 1 && depth <= SL_JSON_MAX_DEPTH);
    for (size_t d = 0; d != depth; ++d)
        if (path[d].key.type == SL_JSON_STRING)
            cr_assert(path[d].key.p >= b->doc && path[d].key.p + path[d].key.len <= v->p);
}

Test(json_visit, same_verdicts_as_parse_on_mutations)
{
    const char *seed = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"h\\u00e9\"}]}],"
                       "\"n\":[1,-2.5e3,true,false,null,{}],\"s\":\"caf\xc3\xa9\",\"deep\":[[[[]]]]}";
    size_t n = strlen(seed);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int round = 0; round != 20000; ++round) {
        char *doc = malloc(n);
        memcpy(doc, seed, n);
        for (int k = 0; k != 1 + round % 3; ++k) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            doc[x % n] = (char)(x >> 32);
        }
        bounds_t b = {doc, n};
        sl_json_visitor_t v = {check_span, &b, SL_JSON_MAX_DEPTH};
        sl_json_span_t r1 = {NULL, 0, SL_JSON_INVALID}, r2 = {NULL, 0, SL_JSON_INVALID};
        int a = sl_json_parse(doc, n, &r1), c = sl_json_parse_visit(doc, n, &r2, &v);
        cr_assert_eq(a, c, "round %d", round);
        cr_assert(r1.p == r2.p && r1.len == r2.len && r1.type == r2.type);
        free(doc);
    }
}

/* The located edit gives the pieces of the walking one, from members found by a visitor. */
typedef struct {
    const char *names[3];
    sl_json_span_t at[3];
    size_t members;
} locate_t;

static void locate(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    locate_t *l = ctx;
    l->members = path[0].index + 1;
    for (size_t i = 0; i != 3; ++i)
        if (l->at[i].p == NULL && sl_json_string_eq(&path[0].key, l->names[i], strlen(l->names[i])))
            l->at[i] = *v;
}

static void join(const sl_json_piece_t *pieces, size_t n, char *out)
{
    out[sl_json_pieces_copy(pieces, n, out)] = '\0';
}

Test(json_visit, edit_at_equals_edit_object)
{
    static const char *const docs[] = {
        "{}",
        "{\"model\":\"a\"}",
        "{ \"x\" : 1 , \"model\" : \"a\" , \"logprobs\" : false }",
        "{\"logprobs\":true,\"y\":[1,2],\"model\":{\"nested\":\"model\"},\"z\":null}",
        "{\"a\":{\"model\":\"inner\"},\"b\":2}",
        "{\"mod\\u0065l\":\"escaped key\",\"stream_options\":{}}",
    };
    sl_json_edit_t edits[3] = {{"model", 5, "\"m\"", 3, 0}, {"logprobs", 8, "true", 4, 0},
                               {"stream_options", 14, "{\"include_usage\":true}", 22, 1}};
    for (size_t d = 0; d != sizeof(docs) / sizeof(docs[0]); ++d) {
        const char *doc = docs[d];
        size_t len = strlen(doc);
        locate_t l = {{"model", "logprobs", "stream_options"}, {{NULL, 0, 0}, {NULL, 0, 0}, {NULL, 0, 0}}, 0};
        sl_json_visitor_t v = {locate, &l, 1};
        sl_json_span_t root;
        cr_assert_eq(sl_json_parse_visit(doc, len, &root, &v), SL_OK);
        for (size_t k = 1; k <= 3; ++k) {
            sl_json_piece_t p1[SL_JSON_EDIT_PIECES(3)], p2[SL_JSON_EDIT_PIECES(3)];
            size_t n1, n2;
            char s1[512], s2[512];
            cr_assert_eq(sl_json_edit_object(doc, len, &root, edits, k, p1, SL_JSON_EDIT_PIECES(3), &n1), SL_OK);
            cr_assert_eq(sl_json_edit_object_at(doc, len, &root, edits, k, l.at, l.members, p2, SL_JSON_EDIT_PIECES(3), &n2),
                         SL_OK);
            join(p1, n1, s1);
            join(p2, n2, s2);
            cr_assert_str_eq(s2, s1, "%s with %zu edits", doc, k);
            cr_assert_eq(n1, n2);
        }
    }
    /* a located member outside the object is refused, as are bad edits */
    const char *doc = "{\"model\":\"a\"}";
    sl_json_span_t root = {doc, strlen(doc), SL_JSON_OBJECT}, outside = {doc, 1, SL_JSON_STRING};
    sl_json_piece_t p[SL_JSON_EDIT_PIECES(1)];
    size_t n = 7;
    cr_assert_eq(sl_json_edit_object_at(doc, strlen(doc), &root, edits, 1, &outside, 1, p, SL_JSON_EDIT_PIECES(1), &n), SL_EINVAL);
    sl_json_edit_t bad = {"mo\"del", 6, "1", 1, 0};
    sl_json_span_t none = {NULL, 0, SL_JSON_INVALID};
    cr_assert_eq(sl_json_edit_object_at(doc, strlen(doc), &root, &bad, 1, &none, 1, p, SL_JSON_EDIT_PIECES(1), &n), SL_EINVAL);
    cr_assert_eq(n, 7);
}
