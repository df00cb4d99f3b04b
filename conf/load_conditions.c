/*
 * load_conditions.c - a tier's `skip_when`: pre-routing conditions on facts of the request (estimated prompt
 * tokens, a header, a field of the JSON body), each a single comparison. A tier is skipped when any of its
 * conditions holds, so several comparisons in one mapping ({gt: 100, lt: 1000}), which read like a range, are
 * refused rather than silently OR'ed. A plain scalar that parses as a number compares as a number; a quoted one
 * compares as a string.
 */
#include "conf/conf.h"
#include "common/status.h"
#include "common/str.h"
#include "conf/schema.h"

#include <string.h>

/* The fact a skip_when key names: prompt_tokens, header:<name> or json:<pointer>. */
static int parse_fact(sl_conf_ctx_t *ctx, const sl_ynode_t *k, sl_conf_cond_t *c)
{
    static const char *const facts[] = {"prompt_tokens", NULL};
    char buf[256];
    if (strcmp(k->text, "prompt_tokens") == 0) {
        c->fact = SL_FACT_PROMPT_TOKENS;
        return SL_OK;
    }
    if (strncmp(k->text, "header:", 7) == 0) {
        c->fact = SL_FACT_HEADER;
        return (c->arg = sl_conf_header_name(ctx, k, k->text + 7)) != NULL ? SL_OK : SL_ECONFIG;
    }
    if (strncmp(k->text, "json:", 5) == 0) {
        c->fact = SL_FACT_JSON;
        return (c->arg = sl_conf_json_pointer(ctx, k, k->text + 5)) != NULL ? SL_OK : SL_ECONFIG;
    }
    const char *suggestion = sl_str_suggest(k->text, facts);
    if (suggestion != NULL)
        sl_conf_error(ctx, k, "unknown fact %s (did you mean \"%s\"?)", sl_conf_quote(k->text, buf, sizeof(buf)), suggestion);
    else
        sl_conf_error(ctx, k, "unknown fact %s; expected prompt_tokens, header:<name> or json:<pointer>",
                      sl_conf_quote(k->text, buf, sizeof(buf)));
    return SL_ECONFIG;
}

/* One comparison "op: value" of a fact into *c (fact and arg already set). */
static int parse_comparison(sl_conf_ctx_t *ctx, const sl_ynode_t *op, const sl_ynode_t *v, sl_conf_cond_t *c)
{
    static const char *const ops[] = {"gt", "ge", "lt", "le", "eq", "ne", "exists", NULL};
    char buf[256];
    const char *suggestion, *text, *err;
    int idx;
    if (sl_conf_parse_enum(op->text, ops, &idx, &suggestion) != SL_OK) {
        if (suggestion != NULL)
            sl_conf_error(ctx, op, "unknown comparison (did you mean \"%s\"?)", suggestion);
        else
            sl_conf_error(ctx, op, "unknown comparison; expected gt, ge, lt, le, eq, ne or exists");
        return SL_ECONFIG;
    }
    c->cmp = (enum en_sl_cmp_t)idx;
    if ((text = sl_conf_scalar(ctx, v)) == NULL)
        return SL_ECONFIG;
    if (c->cmp == SL_CMP_EXISTS) {
        if (c->fact == SL_FACT_PROMPT_TOKENS) {
            sl_conf_error(ctx, op, "prompt_tokens is always present; compare it with gt, ge, lt, le, eq or ne");
            return SL_ECONFIG;
        }
        if (strcmp(text, "true") != 0) {
            sl_conf_error(ctx, v, "must be true (a tier is skipped when the field is present), got %s",
                          sl_conf_quote(text, buf, sizeof(buf)));
            return SL_ECONFIG;
        }
        return SL_OK;
    }
    int numeric = v->plain && sl_conf_parse_number(text, &c->number, &err) == SL_OK;
    if (!numeric && (c->cmp <= SL_CMP_LE || c->fact == SL_FACT_PROMPT_TOKENS)) {
        sl_conf_error(ctx, v, "must be a number, got %s", sl_conf_quote(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    c->is_number = numeric;
    c->string = numeric ? NULL : sl_arena_strdup(ctx->arena, text);
    return SL_OK;
}

/* One mapping of facts to their comparison (one each); appends to conds. */
static int parse_cond_map(sl_conf_ctx_t *ctx, const sl_ynode_t *map, sl_conf_cond_t *conds, size_t *n)
{
    int rc = SL_OK;
    if (sl_conf_expect(ctx, map, SL_YNODE_MAP) != SL_OK)
        return SL_ECONFIG;
    const sl_ynode_t **first = sl_conf_find_duplicates(ctx, map);
    for (size_t i = 0; i + 1 < map->num_items; i += 2) {
        const sl_ynode_t *k = map->items[i], *v = map->items[i + 1];
        sl_conf_cond_t proto = {0};
        if (sl_conf_expect(ctx, k, SL_YNODE_SCALAR) != SL_OK) {
            rc = SL_ECONFIG;
            continue;
        }
        size_t saved = sl_conf_path_push_key(ctx, k->text);
        if (first[i / 2] != NULL) {
            sl_conf_error(ctx, k, "duplicate key (first defined at %u:%u)", (unsigned)first[i / 2]->line,
                          (unsigned)first[i / 2]->col);
            rc = SL_ECONFIG;
        } else if (parse_fact(ctx, k, &proto) != SL_OK || sl_conf_expect(ctx, v, SL_YNODE_MAP) != SL_OK) {
            rc = SL_ECONFIG;
        } else if (v->num_items != 2) {
            /* {gt: 100, lt: 1000} reads like a range but conditions are alternatives: refuse the ambiguity */
            sl_conf_error(ctx, v,
                          v->num_items == 0 ? "needs a comparison: gt, ge, lt, le, eq, ne or exists"
                                            : "one comparison per condition; list several conditions as a "
                                              "sequence (any of them skips the tier)");
            rc = SL_ECONFIG;
        } else {
            const sl_ynode_t *op = v->items[0];
            if (sl_conf_expect(ctx, op, SL_YNODE_SCALAR) != SL_OK) {
                rc = SL_ECONFIG;
            } else {
                size_t saved2 = sl_conf_path_push_key(ctx, op->text);
                if (*n == SL_CONF_MAX_CONDS) {
                    sl_conf_error(ctx, op, "too many conditions (the limit is %u per tier)", (unsigned)SL_CONF_MAX_CONDS);
                    rc = SL_ECONFIG;
                } else {
                    conds[*n] = proto;
                    if (parse_comparison(ctx, op, v->items[1], &conds[*n]) == SL_OK)
                        ++*n;
                    else
                        rc = SL_ECONFIG;
                }
                sl_conf_path_pop(ctx, saved2);
            }
        }
        sl_conf_path_pop(ctx, saved);
    }
    return rc;
}

/* skip_when: a mapping {fact: {op: value}, ...} or a sequence of such mappings; any condition skips the tier. */
int sl_conf_p_skip_when(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_tier_t *tier = (sl_conf_tier_t *)((char *)field - key->offset);
    sl_conf_cond_t conds[SL_CONF_MAX_CONDS];
    size_t n = 0;
    int rc = SL_OK;
    if (node->kind == SL_YNODE_SEQ) {
        for (size_t i = 0; i != node->num_items; ++i) {
            size_t saved = sl_conf_path_push_index(ctx, i);
            if (parse_cond_map(ctx, node->items[i], conds, &n) != SL_OK)
                rc = SL_ECONFIG;
            sl_conf_path_pop(ctx, saved);
        }
    } else if (node->kind == SL_YNODE_MAP) {
        rc = parse_cond_map(ctx, node, conds, &n);
    } else {
        char buf[256];
        if (node->kind == SL_YNODE_ALIAS)
            return sl_conf_expect(ctx, node, SL_YNODE_MAP);
        sl_conf_error(ctx, node, "expected a mapping or a sequence of mappings, got %s",
                      sl_conf_describe(node, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    if (rc != SL_OK)
        return rc;
    tier->skip_when = sl_arena_alloc(ctx->arena, (n != 0 ? n : 1) * sizeof(*conds));
    memcpy(tier->skip_when, conds, n * sizeof(*conds));
    tier->num_skip_when = n;
    return SL_OK;
}
