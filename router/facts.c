/*
 * facts.c - pre-routing conditions on request facts. See facts.h for the semantics.
 *
 * Everything is read in place: header values through the gateway's lookup callback, JSON values as spans of the
 * body (json_scan), so a condition costs a header lookup or one walk of the body up to the pointed value. Called
 * by the plan on the worker thread; never allocates, never logs.
 */
#include "router/facts.h"
#include "common/json_scan.h"
#include "common/status.h"

#include <string.h>

void sl_facts_init(sl_facts_t *f, const sl_router_facts_t *http)
{
    memset(f, 0, sizeof(*f));
    f->http = *http;
    f->body.root.type = SL_JSON_INVALID;
    f->body.model.type = SL_JSON_INVALID;
}

/* The trimmed value of a request header, or NULL. */
static const char *header_value(const sl_facts_t *f, const char *name, size_t *len)
{
    if (f->http.header == NULL || name == NULL)
        return NULL;
    const char *v = f->http.header(f->http.header_ctx, name, strlen(name), len);
    if (v == NULL)
        return NULL;
    while (*len != 0 && (v[0] == ' ' || v[0] == '\t'))
        ++v, --*len;
    while (*len != 0 && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
        --*len;
    return v;
}

/* The JSON value at the fact's pointer. Returns SL_OK, or SL_ENOENT when there is no body or no such value. */
static int json_value(const sl_facts_t *f, const char *ptr, sl_json_span_t *v)
{
    if (f->body.root.type == SL_JSON_INVALID || ptr == NULL)
        return SL_ENOENT;
    return sl_json_find_pointer(&f->body.root, ptr, strlen(ptr), v) == SL_OK ? SL_OK : SL_ENOENT;
}

int sl_facts_number(const sl_facts_t *f, enum en_sl_fact_t fact, const char *arg, double *out)
{
    sl_json_span_t v;
    const char *text;
    size_t len;
    switch (fact) {
    case SL_FACT_PROMPT_TOKENS:
        *out = (double)f->body.prompt_tokens;
        return SL_OK;
    case SL_FACT_HEADER:
        if ((text = header_value(f, arg, &len)) == NULL)
            return SL_ENOENT;
        if (sl_json_parse(text, len, &v) != SL_OK || v.type != SL_JSON_NUMBER)
            return SL_EINVAL;
        break;
    case SL_FACT_JSON:
        if (json_value(f, arg, &v) != SL_OK)
            return SL_ENOENT;
        if (v.type != SL_JSON_NUMBER)
            return SL_EINVAL;
        break;
    default:
        return SL_EINVAL;
    }
    return sl_json_get_double(&v, out) == SL_OK ? SL_OK : SL_EINVAL;
}

static int compare_number(enum en_sl_cmp_t cmp, double a, double b)
{
    switch (cmp) {
    case SL_CMP_GT:
        return a > b;
    case SL_CMP_GE:
        return a >= b;
    case SL_CMP_LT:
        return a < b;
    case SL_CMP_LE:
        return a <= b;
    case SL_CMP_EQ:
        return a == b;
    case SL_CMP_NE:
        return a != b;
    default:
        return 0;
    }
}

/* String comparison (eq / ne) of a fact with want; 0 when the fact is missing. */
static int compare_string(const sl_facts_t *f, const sl_conf_cond_t *c)
{
    const char *want = c->string != NULL ? c->string : "";
    size_t want_len = strlen(want), len;
    int equal;
    if (c->cmp != SL_CMP_EQ && c->cmp != SL_CMP_NE)
        return 0;
    if (c->fact == SL_FACT_HEADER) {
        const char *v = header_value(f, c->arg, &len);
        if (v == NULL)
            return 0;
        equal = len == want_len && memcmp(v, want, len) == 0;
    } else if (c->fact == SL_FACT_JSON) {
        sl_json_span_t v;
        if (json_value(f, c->arg, &v) != SL_OK)
            return 0;
        if (v.type == SL_JSON_STRING)
            equal = sl_json_string_eq(&v, want, want_len);
        else
            equal = v.len == want_len && memcmp(v.p, want, want_len) == 0;
    } else {
        return 0; /* prompt_tokens is a number */
    }
    return c->cmp == SL_CMP_EQ ? equal : !equal;
}

int sl_facts_cond_holds(const sl_facts_t *f, const sl_conf_cond_t *c)
{
    if (c->cmp == SL_CMP_EXISTS) {
        size_t len;
        sl_json_span_t v;
        switch (c->fact) {
        case SL_FACT_HEADER:
            return header_value(f, c->arg, &len) != NULL;
        case SL_FACT_JSON:
            return json_value(f, c->arg, &v) == SL_OK;
        default:
            return 1;
        }
    }
    if (!c->is_number)
        return compare_string(f, c);
    double value;
    if (sl_facts_number(f, c->fact, c->arg, &value) != SL_OK)
        return 0;
    return compare_number(c->cmp, value, c->number);
}
