/*
 * json_scan_edit.c - editing a JSON document without copying it: the result is a list of pieces (iovec-style) that
 * point into the original bytes, the caller's replacement text, or static literals. See json_scan.h.
 *
 * Used on the data path to rewrite "model" and to add "logprobs"/"stream_options" to an upstream request: the
 * request body (up to megabytes) is sent as it came, with a few small pieces spliced in. Each call walks the edited
 * object once (validating it) and refuses an edit of a key that occurs twice, because the upstream's parser may
 * keep the last occurrence while sluice looked at the first.
 */
#include "common/json_scan.h"
#include "common/status.h"

#include <string.h>

/* A key that can be written between quotes as is. */
static int key_is_plain(const char *key, size_t n)
{
    return n != 0 && memchr(key, '\\', n) == NULL && sl_json_is_string_body(key, n);
}

static void put(sl_json_piece_t *pieces, size_t *n, const char *base, size_t len)
{
    if (len != 0) {
        pieces[*n].base = base;
        pieces[*n].len = len;
        ++*n;
    }
}

int sl_json_rewrite_string(const char *json, size_t len, const sl_json_span_t *root, const char *key, size_t key_len,
                           const char *value, size_t value_len, sl_json_piece_t pieces[SL_JSON_REWRITE_PIECES],
                           size_t *num_pieces)
{
    if (root->type != SL_JSON_OBJECT || root->p < json || root->p + root->len > json + len || !key_is_plain(key, key_len) ||
        !sl_json_is_string_body(value, value_len))
        return SL_EINVAL;

    sl_json_iter_t it;
    sl_json_span_t k, v, found = {NULL, 0, SL_JSON_INVALID};
    int ret;
    sl_json_iter_init(&it, root);
    while ((ret = sl_json_iter_next(&it, &k, &v)) == SL_OK) {
        if (!sl_json_string_eq(&k, key, key_len))
            continue;
        if (found.p != NULL)
            return SL_EEXIST;
        found = v;
    }
    if (ret != SL_ENOENT)
        return ret;

    sl_json_piece_t out[SL_JSON_REWRITE_PIECES];
    size_t n = 0;
    const char *end = json + len;
    if (found.p != NULL) {
        if (found.type != SL_JSON_STRING)
            return SL_EINVAL;
        put(out, &n, json, (size_t)(found.p + 1 - json));
        put(out, &n, value, value_len);
        put(out, &n, found.p + found.len - 1, (size_t)(end - (found.p + found.len - 1)));
    } else {
        put(out, &n, json, (size_t)(root->p + 1 - json));
        put(out, &n, "\"", 1);
        put(out, &n, key, key_len);
        put(out, &n, "\":\"", 3);
        put(out, &n, value, value_len);
        if (it.index != 0)
            put(out, &n, "\",", 2);
        else
            put(out, &n, "\"", 1);
        put(out, &n, root->p + 1, (size_t)(end - (root->p + 1)));
    }
    memcpy(pieces, out, n * sizeof(out[0]));
    *num_pieces = n;
    return SL_OK;
}

/* The checks both editing entry points make on their arguments. */
static int edits_valid(const char *json, size_t len, const sl_json_span_t *obj, const sl_json_edit_t *edits, size_t num_edits)
{
    if (obj->type != SL_JSON_OBJECT || obj->len < 2 || obj->p < json || obj->p + obj->len > json + len ||
        num_edits > SL_JSON_MAX_EDITS)
        return 0;
    for (size_t i = 0; i != num_edits; ++i) {
        if (!key_is_plain(edits[i].key, edits[i].key_len) || edits[i].value_len == 0)
            return 0;
        for (size_t j = 0; j != i; ++j)
            if (edits[j].key_len == edits[i].key_len && memcmp(edits[j].key, edits[i].key, edits[i].key_len) == 0)
                return 0;
    }
    return 1;
}

/* Builds the pieces of an edit whose members are located (at[i]: the value of edits[i].key, p NULL when absent). */
static int edit_build(const char *json, size_t len, const sl_json_span_t *obj, const sl_json_edit_t *edits, size_t num_edits,
                      const sl_json_span_t *at, size_t num_members, sl_json_piece_t *pieces, size_t cap, size_t *num_pieces)
{
    /* replacements in document order (insertion sort of at most SL_JSON_MAX_EDITS indices) */
    size_t order[SL_JSON_MAX_EDITS], num_repl = 0;
    for (size_t i = 0; i != num_edits; ++i) {
        if (at[i].p == NULL || edits[i].keep_existing)
            continue;
        size_t j = num_repl++;
        while (j != 0 && at[order[j - 1]].p > at[i].p) {
            order[j] = order[j - 1];
            --j;
        }
        order[j] = i;
    }

    sl_json_piece_t out[SL_JSON_EDIT_PIECES(SL_JSON_MAX_EDITS)];
    size_t n = 0;
    const char *cursor = json, *close = obj->p + obj->len - 1;
    for (size_t r = 0; r != num_repl; ++r) {
        const sl_json_edit_t *e = &edits[order[r]];
        put(out, &n, cursor, (size_t)(at[order[r]].p - cursor));
        put(out, &n, e->value, e->value_len);
        cursor = at[order[r]].p + at[order[r]].len;
    }
    put(out, &n, cursor, (size_t)(close - cursor));
    for (size_t i = 0; i != num_edits; ++i) {
        if (at[i].p != NULL)
            continue;
        if (num_members++ != 0)
            put(out, &n, ",\"", 2);
        else
            put(out, &n, "\"", 1);
        put(out, &n, edits[i].key, edits[i].key_len);
        put(out, &n, "\":", 2);
        put(out, &n, edits[i].value, edits[i].value_len);
    }
    put(out, &n, close, (size_t)(json + len - close));
    if (n > cap)
        return SL_ENOMEM;
    memcpy(pieces, out, n * sizeof(out[0]));
    *num_pieces = n;
    return SL_OK;
}

int sl_json_edit_object(const char *json, size_t len, const sl_json_span_t *obj, const sl_json_edit_t *edits, size_t num_edits,
                        sl_json_piece_t *pieces, size_t cap, size_t *num_pieces)
{
    if (!edits_valid(json, len, obj, edits, num_edits))
        return SL_EINVAL;

    /* one pass over the members: where is each edited key? */
    sl_json_span_t at[SL_JSON_MAX_EDITS];
    for (size_t i = 0; i != num_edits; ++i)
        at[i].p = NULL;
    sl_json_iter_t it;
    sl_json_span_t k, v;
    int ret;
    sl_json_iter_init(&it, obj);
    while ((ret = sl_json_iter_next(&it, &k, &v)) == SL_OK) {
        for (size_t i = 0; i != num_edits; ++i) {
            if (!sl_json_string_eq(&k, edits[i].key, edits[i].key_len))
                continue;
            if (at[i].p != NULL)
                return SL_EEXIST;
            at[i] = v;
        }
    }
    if (ret != SL_ENOENT)
        return ret;
    return edit_build(json, len, obj, edits, num_edits, at, it.index, pieces, cap, num_pieces);
}

int sl_json_edit_object_at(const char *json, size_t len, const sl_json_span_t *obj, const sl_json_edit_t *edits,
                           size_t num_edits, const sl_json_span_t *at, size_t num_members, sl_json_piece_t *pieces, size_t cap,
                           size_t *num_pieces)
{
    if (!edits_valid(json, len, obj, edits, num_edits))
        return SL_EINVAL;
    for (size_t i = 0; i != num_edits; ++i)
        if (at[i].p != NULL && (at[i].p <= obj->p || at[i].p + at[i].len >= obj->p + obj->len))
            return SL_EINVAL;
    return edit_build(json, len, obj, edits, num_edits, at, num_members, pieces, cap, num_pieces);
}

size_t sl_json_pieces_len(const sl_json_piece_t *pieces, size_t num_pieces)
{
    size_t total = 0;
    for (size_t i = 0; i != num_pieces; ++i)
        total += pieces[i].len;
    return total;
}

size_t sl_json_pieces_copy(const sl_json_piece_t *pieces, size_t num_pieces, char *dst)
{
    size_t w = 0;
    for (size_t i = 0; i != num_pieces; ++i) {
        memcpy(dst + w, pieces[i].base, pieces[i].len);
        w += pieces[i].len;
    }
    return w;
}

size_t sl_json_escape(const char *s, size_t n, char *dst)
{
    static const char hex[] = "0123456789abcdef";
    size_t w = 0;
    for (size_t i = 0; i != n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            dst[w++] = '\\';
            dst[w++] = (char)c;
        } else if (c < 0x20) {
            const char *short_form = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (short_form != NULL) {
                memcpy(dst + w, short_form, 2);
                w += 2;
            } else {
                memcpy(dst + w, "\\u00", 4);
                dst[w + 4] = hex[c >> 4];
                dst[w + 5] = hex[c & 15];
                w += 6;
            }
        } else
            dst[w++] = (char)c;
    }
    return w;
}
