/*
 * feedback_parse.c - the body of POST /v1/feedback (grammar and messages: feedback.h).
 *
 * All or nothing: a body with one bad item is refused whole, with a message that names the item and the member,
 * so a client never has to work out which half of a batch was taken. The scanner walks the body without copying;
 * ids and labels are copied into the caller's items, bounded by their caps. Pure; any thread.
 */
#include "policies/feedback.h"
#include "common/json_scan.h"
#include "common/status.h"
#include "common/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 5, 6))) static int fail(char *err, size_t errsz, const char *where, const char *member,
                                                      const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (member != NULL)
        snprintf(err, errsz, "%s%s%s: %s", where, where[0] != '\0' ? "." : "", member, msg);
    else if (where[0] != '\0')
        snprintf(err, errsz, "%s: %s", where, msg);
    else
        snprintf(err, errsz, "%s", msg);
    return SL_EINVAL;
}

static const char *type_name(enum en_sl_json_type_t t)
{
    switch (t) {
    case SL_JSON_NULL:
        return "null";
    case SL_JSON_TRUE:
    case SL_JSON_FALSE:
        return "a boolean";
    case SL_JSON_NUMBER:
        return "a number";
    case SL_JSON_STRING:
        return "a string";
    case SL_JSON_ARRAY:
        return "an array";
    case SL_JSON_OBJECT:
        return "an object";
    default:
        return "nothing";
    }
}

enum { K_ID, K_LABEL, K_VALUE, K_NUM };

static int parse_item(const sl_json_span_t *obj, const char *where, sl_feedback_item_t *item, char *err, size_t errsz)
{
    static const char *const keys[K_NUM + 1] = {"id", "label", "value", NULL};
    sl_json_iter_t it;
    sl_json_span_t k, v;
    unsigned seen = 0;
    size_t n;
    if (obj->type != SL_JSON_OBJECT)
        return fail(err, errsz, where, NULL, "expected an object, got %s", type_name(obj->type));
    memset(item, 0, sizeof(*item));
    sl_json_iter_init(&it, obj);
    while (sl_json_iter_next(&it, &k, &v) == SL_OK) {
        int key = 0;
        while (key != K_NUM && !sl_json_string_eq(&k, keys[key], strlen(keys[key])))
            ++key;
        if (key == K_NUM) {
            char name[72];
            const char *suggestion = NULL;
            if (sl_json_get_string(&k, name, sizeof(name), NULL) != SL_OK)
                snprintf(name, sizeof(name), "%.*s...", 60, k.p + 1);
            else
                suggestion = sl_str_suggest(name, keys);
            if (suggestion != NULL)
                return fail(err, errsz, where, NULL, "unknown key \"%s\" (did you mean \"%s\"?)", name, suggestion);
            return fail(err, errsz, where, NULL, "unknown key \"%s\"", name);
        }
        if (seen & (1u << key))
            return fail(err, errsz, where, NULL, "duplicate key \"%s\"", keys[key]);
        seen |= 1u << key;
        switch (key) {
        case K_ID:
            if (v.type != SL_JSON_STRING)
                return fail(err, errsz, where, "id", "must be a string, got %s", type_name(v.type));
            if (sl_json_get_string(&v, item->id, sizeof(item->id), &n) != SL_OK || n == 0 || strlen(item->id) != n)
                return fail(err, errsz, where, "id", "must be 1 to %d bytes long", SL_FEEDBACK_ID_MAX);
            item->id_len = (uint8_t)n;
            break;
        case K_LABEL:
            item->kind = SL_FEEDBACK_LABEL;
            if (v.type == SL_JSON_STRING) {
                if (sl_json_get_string(&v, item->label, sizeof(item->label), &n) != SL_OK || n == 0 || strlen(item->label) != n)
                    return fail(err, errsz, where, "label", "must be 1 to %d bytes long", SL_FEEDBACK_LABEL_MAX);
            } else if (v.type == SL_JSON_NUMBER || v.type == SL_JSON_TRUE || v.type == SL_JSON_FALSE) {
                if (v.len > SL_FEEDBACK_LABEL_MAX)
                    return fail(err, errsz, where, "label", "must be 1 to %d bytes long", SL_FEEDBACK_LABEL_MAX);
                memcpy(item->label, v.p, v.len);
                item->label[v.len] = '\0';
                n = v.len;
            } else {
                return fail(err, errsz, where, "label", "must be a string, a number or a boolean, got %s", type_name(v.type));
            }
            item->label_len = (uint8_t)n;
            break;
        case K_VALUE:
            item->kind = SL_FEEDBACK_VALUE;
            if (v.type != SL_JSON_NUMBER)
                return fail(err, errsz, where, "value", "must be a number, got %s", type_name(v.type));
            if (sl_json_get_double(&v, &item->value) != SL_OK)
                return fail(err, errsz, where, "value", "must be a finite number");
            break;
        }
    }
    if ((seen & (1u << K_ID)) == 0)
        return fail(err, errsz, where, NULL, "missing \"id\"");
    if ((seen & ((1u << K_LABEL) | (1u << K_VALUE))) == 0)
        return fail(err, errsz, where, NULL, "set \"label\" or \"value\"");
    if ((seen & (1u << K_LABEL)) && (seen & (1u << K_VALUE)))
        return fail(err, errsz, where, NULL, "set only one of \"label\" and \"value\"");
    return SL_OK;
}

int sl_feedback_parse(const char *body, size_t len, sl_feedback_item_t *items, size_t cap, size_t *n, int *batch, char *err,
                      size_t errsz)
{
    sl_json_span_t root, e;
    sl_json_iter_t it;
    char where[32];
    if (len == 0)
        return fail(err, errsz, "", NULL, "the body is empty");
    if (sl_json_parse(body, len, &root) != SL_OK)
        return fail(err, errsz, "", NULL, "the body is not valid JSON");
    if (root.type == SL_JSON_OBJECT) {
        if (cap == 0)
            return fail(err, errsz, "", NULL, "the batch has more than 0 items");
        sl_feedback_item_t item;
        if (parse_item(&root, "", &item, err, errsz) != SL_OK)
            return SL_EINVAL;
        items[0] = item;
        *n = 1;
        *batch = 0;
        return SL_OK;
    }
    if (root.type != SL_JSON_ARRAY)
        return fail(err, errsz, "", NULL, "expected an object or an array of objects, got %s", type_name(root.type));
    size_t count = 0, limit = cap < SL_FEEDBACK_MAX_BATCH ? cap : SL_FEEDBACK_MAX_BATCH;
    sl_json_iter_init(&it, &root);
    while (sl_json_iter_next(&it, NULL, &e) == SL_OK)
        ++count;
    if (count == 0)
        return fail(err, errsz, "", NULL, "the batch is empty");
    if (count > limit)
        return fail(err, errsz, "", NULL, "the batch has more than %zu items", limit);
    /* parse into the caller's items only once every item is known good: validate first, then copy */
    sl_json_iter_init(&it, &root);
    for (size_t i = 0; sl_json_iter_next(&it, NULL, &e) == SL_OK; ++i) {
        sl_feedback_item_t item;
        snprintf(where, sizeof(where), "[%zu]", i);
        if (parse_item(&e, where, &item, err, errsz) != SL_OK)
            return SL_EINVAL;
    }
    sl_json_iter_init(&it, &root);
    for (size_t i = 0; sl_json_iter_next(&it, NULL, &e) == SL_OK; ++i)
        parse_item(&e, "", &items[i], err, errsz);
    *n = count;
    *batch = 1;
    return SL_OK;
}
