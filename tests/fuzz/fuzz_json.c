/*
 * fuzz_json.c - libFuzzer target for the JSON scanner (common/json_scan*.c), the parser of every client request body.
 *
 * The input is one document. Beyond "no crash, leak or sanitizer report" it checks:
 *  - sl_json_parse, sl_json_parse_visit and sl_json_scan agree, and every value the visitor reports parses alone;
 *  - validity equals jansson's (json_loadb with JSON_DECODE_ANY | JSON_ALLOW_NUL: any root, \u0000 allowed, as the
 *    scanner), except for the differences json_scan.h documents or jansson imposes (see jansson_differs());
 *  - on a document both accept: the same tree (types, numbers, strings decoded by sl_json_get_string, members and
 *    elements in order, lookups by key, path, JSON pointer and name index), and the escape of every string reads
 *    back as itself;
 *  - sl_json_rewrite_string, sl_json_edit_object and sl_json_edit_object_at produce documents both parsers accept,
 *    equal (json_equal) to the original with the same edit made in jansson; the two edit calls give the same bytes.
 * A failed check aborts. Run by scripts/fuzz, built only with -Dfuzz=true.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_scan.h"
#include "common/status.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define JANSSON_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

static int same_span(const sl_json_span_t *a, const sl_json_span_t *b)
{
    return a->p == b->p && a->len == b->len && a->type == b->type;
}

/* jansson 2.14's lexer drops a NUL byte it reads just after a number or a literal and puts back: its one-character
 * look-ahead buffer takes NUL for "empty" (stream_get in load.c), so "1\0" and "[true\0]" load. A raw NUL is never
 * valid JSON (RFC 8259: not whitespace, and a control character inside strings). Returns 1 when doc holds such a
 * NUL and is valid once each NUL that follows a number's or literal's last byte is taken out. */
static int jansson_drops_nul(const char *doc, size_t size)
{
    if (memchr(doc, '\0', size) == NULL)
        return 0;
    char *copy = malloc(size);
    CHECK(copy != NULL);
    size_t n = 0;
    for (size_t i = 0; i != size; ++i) {
        char prev = i != 0 ? doc[i - 1] : '\0';
        if (doc[i] == '\0' && ((prev >= '0' && prev <= '9') || (prev >= 'a' && prev <= 'z') || prev == 'E'))
            continue;
        copy[n++] = doc[i];
    }
    int ok = sl_json_parse(copy, n, NULL) == SL_OK;
    free(copy);
    return ok;
}

/* Where the two parsers may legitimately disagree on a document; j is jansson's result, err its error when it
 * refused. */
static int jansson_differs(const char *doc, size_t size, int rc, const json_t *j, const json_error_t *err)
{
    /* the scanner caps nesting at SL_JSON_MAX_DEPTH (SL_ENOMEM: a limit, not a verdict on the text) */
    if (rc == SL_ENOMEM)
        return 1;
    if (j != NULL)
        return rc == SL_ESYNTAX && jansson_drops_nul(doc, size);
    if (rc == SL_OK) {
        switch (json_error_code(err)) {
        case json_error_numeric_overflow:
            /* any number is legal text to the scanner (RFC 8259 sets no range; sl_json_get_double reports SL_ERANGE
             * when read); jansson refuses integers beyond json_int_t and reals beyond DBL_MAX */
        case json_error_null_byte_in_key:
            /* jansson cannot hold a key with U+0000 (C-string keys) even with JSON_ALLOW_NUL; the scanner reads any
             * escaped key */
            return 1;
        default:
            return 0;
        }
    }
    return 0;
}

/* Decodes a STRING span into a malloc'd buffer (checks the buffer contract on the way); *n gets its length. */
static char *decode(const sl_json_span_t *v, size_t *n)
{
    size_t need = sl_json_string_len(v);
    CHECK(need <= v->len);
    char *buf = malloc(need + 1);
    CHECK(buf != NULL);
    if (need != 0) {
        /* one byte short: SL_ENOMEM and the buffer untouched */
        buf[0] = 'x';
        CHECK(sl_json_get_string(v, buf, need, n) == SL_ENOMEM && buf[0] == 'x');
    }
    CHECK(sl_json_get_string(v, buf, need + 1, n) == SL_OK && *n == need && buf[need] == '\0');
    CHECK(sl_json_string_eq(v, buf, need));
    return buf;
}

/* The escape of s[0..n) must be a string body that reads back as s. */
static void check_escape(const char *s, size_t n)
{
    char *q = malloc(6 * n + 2);
    CHECK(q != NULL);
    q[0] = '"';
    size_t w = 1 + sl_json_escape(s, n, q + 1);
    q[w++] = '"';
    CHECK(sl_json_is_string_body(q + 1, w - 2));
    sl_json_span_t v;
    CHECK(sl_json_parse(q, w, &v) == SL_OK && v.type == SL_JSON_STRING);
    size_t m;
    char *back = decode(&v, &m);
    CHECK(m == n && memcmp(back, s, n) == 0);
    free(back);
    free(q);
}

/* A JSON pointer token for key[0..n) (~ and / escaped) appended to ptr; returns the new length or 0 when too long. */
static size_t pointer_append(char *ptr, size_t len, size_t cap, const char *key, size_t n)
{
    if (len + 1 + 2 * n > cap)
        return 0;
    ptr[len++] = '/';
    for (size_t i = 0; i != n; ++i) {
        if (key[i] == '~' || key[i] == '/') {
            ptr[len++] = '~';
            ptr[len++] = key[i] == '~' ? '0' : '1';
        } else
            ptr[len++] = key[i];
    }
    return len;
}

/* Members (or elements) of a container span of a valid document. */
static size_t members_of(const sl_json_span_t *c)
{
    sl_json_iter_t it;
    sl_json_span_t k, v;
    int rc;
    CHECK(sl_json_iter_init(&it, c) == SL_OK);
    while ((rc = sl_json_iter_next(&it, &k, &v)) == SL_OK)
        ;
    CHECK(rc == SL_ENOENT);
    return it.index;
}

#define PTR_CAP 4096

/* Compares the scanner's view of v with jansson's j; ptr[0..plen) is v's JSON pointer from root (plen 0 and ptr
 * unusable when a step could not be written), unique: no object on the way holds a repeated key. */
static void compare(const sl_json_span_t *root, const sl_json_span_t *v, const json_t *j, char *ptr, size_t plen, int unique)
{
    if (unique) {
        sl_json_span_t at;
        CHECK(sl_json_find_pointer(root, ptr, plen, &at) == SL_OK && same_span(&at, v));
    }
    switch (v->type) {
    case SL_JSON_NULL:
        CHECK(json_is_null(j));
        break;
    case SL_JSON_TRUE:
    case SL_JSON_FALSE: {
        int b;
        CHECK(json_is_boolean(j) && sl_json_get_bool(v, &b) == SL_OK && b == json_is_true(j));
        break;
    }
    case SL_JSON_NUMBER: {
        CHECK(json_is_number(j));
        double d;
        int rc = sl_json_get_double(v, &d);
        if (v->len > SL_JSON_MAX_NUMBER_LEN)
            CHECK(rc == SL_ERANGE);
        else
            CHECK(rc == SL_OK && d == json_number_value(j));
        uint64_t u;
        if (sl_json_get_uint64(v, &u) == SL_OK)
            CHECK(json_is_integer(j) && (uint64_t)json_integer_value(j) == u);
        break;
    }
    case SL_JSON_STRING: {
        CHECK(json_is_string(j));
        size_t n;
        char *s = decode(v, &n);
        CHECK(n == json_string_length(j) && memcmp(s, json_string_value(j), n) == 0);
        check_escape(s, n);
        free(s);
        break;
    }
    case SL_JSON_ARRAY: {
        CHECK(json_is_array(j));
        sl_json_iter_t it;
        sl_json_span_t k, e;
        int rc;
        CHECK(sl_json_iter_init(&it, v) == SL_OK);
        while ((rc = sl_json_iter_next(&it, &k, &e)) == SL_OK) {
            CHECK(k.type == SL_JSON_INVALID && it.index <= json_array_size(j));
            char idx[24];
            size_t il = (size_t)snprintf(idx, sizeof(idx), "%zu", it.index - 1);
            size_t l = plen != 0 || unique ? pointer_append(ptr, plen, PTR_CAP, idx, il) : 0;
            compare(root, &e, json_array_get(j, it.index - 1), ptr, l, unique && l != 0);
        }
        CHECK(rc == SL_ENOENT && it.index == json_array_size(j));
        CHECK(sl_json_iter_next(&it, &k, &e) == SL_ENOENT);
        break;
    }
    case SL_JSON_OBJECT: {
        CHECK(json_is_object(j));
        sl_json_iter_t it;
        sl_json_span_t k, e;
        int rc;
        size_t members = members_of(v);
        /* jansson keeps the last of repeated keys, the scanner's lookups the first: values are compared only in an
         * object without repeats (as many members as jansson has keys), keys always */
        int distinct = members == json_object_size(j);
        CHECK(members >= json_object_size(j));
        CHECK(sl_json_iter_init(&it, v) == SL_OK);
        while ((rc = sl_json_iter_next(&it, &k, &e)) == SL_OK) {
            CHECK(k.type == SL_JSON_STRING);
            size_t n;
            char *key = decode(&k, &n);
            json_t *je = json_object_getn(j, key, n);
            CHECK(je != NULL);
            sl_json_span_t first, by_path;
            CHECK(sl_json_find_key(v, key, n, &first) == SL_OK);
            if (memchr(key, '\0', n) == NULL) {
                const char *path[1] = {key};
                CHECK(sl_json_find_path(v, path, 1, &by_path) == SL_OK && same_span(&by_path, &first));
            }
            /* the key among other names (one of them its text less the last byte) is found at its own index */
            sl_json_piece_t names[3] = {{"model", 5}, {key, n != 0 ? n - 1 : 0}, {key, n}};
            int idx = sl_json_string_index(&k, names, 3);
            CHECK(idx == (n == 5 && memcmp(key, "model", 5) == 0 ? 0 : n == 0 ? 1 : 2));
            if (distinct) {
                CHECK(same_span(&first, &e));
                /* a pointer token has at most SL_JSON_MAX_TOKEN_LEN bytes (longer ones are SL_EINVAL) */
                size_t l = (plen != 0 || unique) && n <= SL_JSON_MAX_TOKEN_LEN ? pointer_append(ptr, plen, PTR_CAP, key, n) : 0;
                compare(root, &e, je, ptr, l, unique && l != 0);
            }
            free(key);
        }
        CHECK(rc == SL_ENOENT);
        break;
    }
    default:
        abort();
    }
}

/* Visitor: every reported value is a valid document on its own, at a depth within the bounds. */
static void on_value(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    const sl_json_span_t *doc = ctx;
    CHECK(depth >= 1 && depth <= SL_JSON_MAX_DEPTH);
    CHECK(v->p > doc->p && v->p + v->len <= doc->p + doc->len);
    sl_json_span_t alone;
    CHECK(sl_json_parse(v->p, v->len, &alone) == SL_OK && same_span(&alone, v) && alone.plain == v->plain);
    for (size_t d = 0; d != depth; ++d)
        if (path[d].key.type == SL_JSON_STRING)
            CHECK(sl_json_string_len(&path[d].key) <= path[d].key.len);
}

static char *join(const sl_json_piece_t *pieces, size_t n, size_t *len)
{
    *len = sl_json_pieces_len(pieces, n);
    char *out = malloc(*len + 1);
    CHECK(out != NULL);
    CHECK(sl_json_pieces_copy(pieces, n, out) == *len);
    return out;
}

/* An edited document must be valid to both parsers and equal to `expected`. */
static void check_edited(const char *doc, size_t len, const json_t *expected)
{
    CHECK(sl_json_parse(doc, len, NULL) == SL_OK);
    json_error_t err;
    json_t *j = json_loadb(doc, len, JANSSON_FLAGS, &err);
    CHECK(j != NULL && json_equal(j, expected));
    json_decref(j);
}

/* Occurrences of key[0..n) among obj's members (at most 2 counted); *first gets the first one's value. */
static int occurrences(const sl_json_span_t *obj, const char *key, size_t n, sl_json_span_t *first)
{
    sl_json_iter_t it;
    sl_json_span_t k, v;
    int count = 0;
    CHECK(sl_json_iter_init(&it, obj) == SL_OK);
    while (count < 2 && sl_json_iter_next(&it, &k, &v) == SL_OK)
        if (sl_json_string_eq(&k, key, n) && count++ == 0)
            *first = v;
    return count;
}

/* String bodies (escapes as written) the rewrite puts in, and their decoded text. */
static const struct {
    const char *body, *text;
} new_strings[] = {
    {"m", "m"}, {"", ""}, {"gpt-4o\\u00e9\\\"\\n", "gpt-4o\xc3\xa9\"\n"}, {"\xf0\x9f\x98\x80/x", "\xf0\x9f\x98\x80/x"}};

static void check_rewrite(const char *doc, size_t len, const sl_json_span_t *root, const json_t *j, const char *key,
                          size_t key_len, unsigned pick)
{
    const char *body = new_strings[pick % 4].body, *text = new_strings[pick % 4].text;
    sl_json_piece_t pieces[SL_JSON_REWRITE_PIECES];
    size_t np = 0;
    int rc = sl_json_rewrite_string(doc, len, root, key, key_len, body, strlen(body), pieces, &np);
    sl_json_span_t first;
    int count = occurrences(root, key, key_len, &first);
    if (count == 2) {
        CHECK(rc == SL_EEXIST);
        return;
    }
    if (count == 1 && first.type != SL_JSON_STRING) {
        CHECK(rc == SL_EINVAL);
        return;
    }
    CHECK(rc == SL_OK && np <= SL_JSON_REWRITE_PIECES);
    size_t n;
    char *out = join(pieces, np, &n);
    json_t *expected = json_deep_copy(j);
    CHECK(json_object_setn_new(expected, key, key_len, json_string(text)) == 0);
    check_edited(out, n, expected);
    json_decref(expected);
    free(out);
}

/* Values the edits set (valid JSON text). */
static const char *const new_values[] = {"\"x\"", "true", "2", "{\"include_usage\":true}", "[1,{\"a\":null}]"};

/* Edits obj (root itself or a member of the root; jobj is jansson's same object inside jroot) with up to three edits
 * picked from the input, checks both entry points against jansson. */
static void check_edit(const char *doc, size_t len, const sl_json_span_t *obj, const json_t *jroot, json_t *jobj,
                       const char *key, size_t key_len, unsigned pick)
{
    sl_json_edit_t edits[3] = {
        {"model", 5, new_values[pick % 5], strlen(new_values[pick % 5]), 0},
        {"stream_options", 14, new_values[(pick >> 3) % 5], strlen(new_values[(pick >> 3) % 5]), (pick >> 6) & 1},
        {key, key_len, new_values[(pick >> 7) % 5], strlen(new_values[(pick >> 7) % 5]), (pick >> 10) & 1},
    };
    size_t num = key != NULL && !(key_len == 5 && memcmp(key, "model", 5) == 0) &&
                         !(key_len == 14 && memcmp(key, "stream_options", 14) == 0)
                     ? 3
                     : 2;
    sl_json_piece_t pieces[SL_JSON_EDIT_PIECES(3)], pieces_at[SL_JSON_EDIT_PIECES(3)];
    size_t np = 0, np_at = 0;
    int rc = sl_json_edit_object(doc, len, obj, edits, num, pieces, SL_JSON_EDIT_PIECES(3), &np);

    sl_json_span_t at[3];
    int dup = 0;
    for (size_t i = 0; i != num; ++i) {
        int count = occurrences(obj, edits[i].key, edits[i].key_len, &at[i]);
        if (count == 0)
            at[i].p = NULL;
        dup |= count == 2;
    }
    if (dup) {
        CHECK(rc == SL_EEXIST);
        return;
    }
    CHECK(rc == SL_OK);
    CHECK(sl_json_edit_object_at(doc, len, obj, edits, num, at, members_of(obj), pieces_at, SL_JSON_EDIT_PIECES(3), &np_at) ==
          SL_OK);
    size_t n, n_at;
    char *out = join(pieces, np, &n), *out_at = join(pieces_at, np_at, &n_at);
    CHECK(n == n_at && memcmp(out, out_at, n) == 0);

    json_t *expected = json_deep_copy(jroot);
    json_t *target = jobj == jroot ? expected : NULL;
    if (target == NULL) {
        /* jobj is a member of jroot: find the same member in the copy */
        const char *jk;
        size_t jkl;
        json_t *jv;
        json_object_keylen_foreach((json_t *)jroot, jk, jkl, jv)
        {
            if (jv == jobj)
                target = json_object_getn(expected, jk, jkl);
        }
    }
    CHECK(target != NULL);
    for (size_t i = 0; i != num; ++i) {
        if (at[i].p != NULL && edits[i].keep_existing)
            continue;
        json_t *nv = json_loadb(edits[i].value, edits[i].value_len, JANSSON_FLAGS, NULL);
        CHECK(nv != NULL && json_object_setn_new(target, edits[i].key, edits[i].key_len, nv) == 0);
    }
    check_edited(out, n, expected);
    json_decref(expected);
    free(out);
    free(out_at);
}

/* A key that the editing helpers accept: plain text, no backslash (they refuse to escape). */
static int plain_key(const char *k, size_t n)
{
    return n != 0 && memchr(k, '\\', n) == NULL && memchr(k, '\0', n) == NULL && sl_json_is_string_body(k, n);
}

static void check_edits(const char *doc, size_t len, const sl_json_span_t *root, json_t *j)
{
    /* the keys to edit: "model" and the root's first member name; the first object member is edited too */
    sl_json_iter_t it;
    sl_json_span_t k, v, nested = {NULL, 0, SL_JSON_INVALID, 0};
    char *first_key = NULL, *nested_key = NULL;
    size_t first_len = 0, nested_len = 0, members = 0;
    CHECK(sl_json_iter_init(&it, root) == SL_OK);
    while (sl_json_iter_next(&it, &k, &v) == SL_OK) {
        ++members;
        if (first_key == NULL)
            first_key = decode(&k, &first_len);
        if (nested.p == NULL && v.type == SL_JSON_OBJECT) {
            nested = v;
            nested_key = decode(&k, &nested_len);
        }
    }
    unsigned pick = (unsigned)(len * 2654435761u >> 7);
    check_rewrite(doc, len, root, j, "model", 5, pick);
    if (first_key != NULL && plain_key(first_key, first_len))
        check_rewrite(doc, len, root, j, first_key, first_len, pick + 1);
    check_edit(doc, len, root, j, j, first_key != NULL && plain_key(first_key, first_len) ? first_key : NULL, first_len, pick);
    /* the nested object is found in jansson by its key: only when the root repeats no key (jansson keeps the last) */
    if (nested.p != NULL && members == json_object_size(j)) {
        json_t *jn = json_object_getn(j, nested_key, nested_len);
        CHECK(jn != NULL && json_is_object(jn));
        check_edit(doc, len, &nested, j, jn, NULL, 0, pick >> 2);
    }
    free(first_key);
    free(nested_key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *doc = (const char *)data;
    sl_json_span_t root = {NULL, 0, SL_JSON_INVALID, 0}, vroot = root, sroot = root;
    int rc = sl_json_parse(doc, size, &root);
    CHECK(rc == SL_OK || rc == SL_ESYNTAX || rc == SL_ENOMEM);

    sl_json_span_t whole = {doc, size, SL_JSON_INVALID, 0};
    sl_json_visitor_t vis = {on_value, &whole, (size_t)(size % (SL_JSON_MAX_DEPTH + 1))};
    CHECK(sl_json_parse_visit(doc, size, &vroot, &vis) == rc);

    size_t consumed = 0;
    int src = sl_json_scan(doc, size, &sroot, &consumed);
    if (rc == SL_OK) {
        CHECK(same_span(&vroot, &root) && vroot.plain == root.plain);
        CHECK(src == SL_OK && same_span(&sroot, &root) && consumed == (size_t)(root.p + root.len - doc));
    }
    if (src == SL_OK) {
        sl_json_span_t again;
        CHECK(consumed <= size && sl_json_parse(doc, consumed, &again) == SL_OK && same_span(&again, &sroot));
    }

    json_error_t err;
    json_t *j = json_loadb(doc, size, JANSSON_FLAGS, &err);
    if (jansson_differs(doc, size, rc, j, &err)) {
        json_decref(j);
        return 0;
    }
    CHECK((rc == SL_OK) == (j != NULL));
    if (j == NULL)
        return 0;

    char ptr[PTR_CAP];
    compare(&root, &root, j, ptr, 0, 1);
    if (root.type == SL_JSON_ARRAY) {
        sl_json_leaf_iter_t li;
        sl_json_span_t leaf;
        CHECK(sl_json_leaf_init(&li, &root) == SL_OK);
        while ((rc = sl_json_leaf_next(&li, &leaf)) == SL_OK)
            CHECK(leaf.type != SL_JSON_ARRAY && leaf.type != SL_JSON_OBJECT);
        CHECK(rc == SL_ENOENT || rc == SL_EINVAL);
    } else if (root.type == SL_JSON_OBJECT) {
        check_edits(doc, size, &root, j);
    }
    json_decref(j);
    return 0;
}
