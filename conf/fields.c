/*
 * fields.c - the generic field parsers that key tables point to (see the list in schema.h). Each one reads one YAML
 * node, checks it against its key's grammar and range, writes the typed field, and on error records a message
 * naming the value as written; strings it keeps are copied into the snapshot's arena.
 */
#include "conf/addr.h"
#include "conf/conf.h"
#include "conf/schema.h"
#include "common/status.h"
#include "common/str.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_MAX_STRING 4096

int sl_conf_p_string(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    const char *text = sl_conf_scalar(ctx, node);
    if (text == NULL)
        return SL_ECONFIG;
    int64_t max = key->max != 0 ? key->max : DEFAULT_MAX_STRING;
    if ((int64_t)node->len < key->min) {
        if (key->min == 1)
            sl_conf_error(ctx, node, "must not be empty");
        else
            sl_conf_error(ctx, node, "must be at least %" PRId64 " bytes long", key->min);
        return SL_ECONFIG;
    }
    if ((int64_t)node->len > max) {
        sl_conf_error(ctx, node, "must be at most %" PRId64 " bytes long, got %zu", max, node->len);
        return SL_ECONFIG;
    }
    *(const char **)field = sl_arena_strndup(ctx->arena, text, node->len);
    return SL_OK;
}

int sl_conf_p_path(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    const char *text = sl_conf_scalar(ctx, node);
    if (text == NULL)
        return SL_ECONFIG;
    if (node->len == 0) {
        sl_conf_error(ctx, node, "must not be empty");
        return SL_ECONFIG;
    }
    if (node->len > DEFAULT_MAX_STRING) {
        sl_conf_error(ctx, node, "must be at most %d bytes long, got %zu", DEFAULT_MAX_STRING, node->len);
        return SL_ECONFIG;
    }
    *(const char **)field = sl_conf_resolve_path(ctx, text);
    return SL_OK;
}

int sl_conf_p_json_ptr(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *err, *text = sl_conf_scalar(ctx, node);
    if (text == NULL)
        return SL_ECONFIG;
    if (sl_conf_check_json_pointer(text, &err) != SL_OK) {
        sl_conf_error(ctx, node, "invalid JSON pointer %s: %s", sl_conf_quote(text, buf, sizeof(buf)), err);
        return SL_ECONFIG;
    }
    return sl_conf_p_string(ctx, node, field, key);
}

int sl_conf_p_http_path(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *text = sl_conf_scalar(ctx, node);
    if (text == NULL)
        return SL_ECONFIG;
    int ok = text[0] == '/';
    for (size_t i = 0; i != node->len && ok; ++i)
        ok = (unsigned char)text[i] > 0x20 && text[i] != 0x7f;
    if (!ok) {
        sl_conf_error(ctx, node, "invalid path %s: must start with \"/\" and contain no spaces",
                      sl_conf_quote(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    return sl_conf_p_string(ctx, node, field, key);
}

int sl_conf_p_u32(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *err, *text = sl_conf_scalar(ctx, node);
    int64_t v;
    if (text == NULL)
        return SL_ECONFIG;
    int r = sl_conf_parse_int(text, INT64_MIN, INT64_MAX, &v, &err);
    if (r == SL_EINVAL) {
        sl_conf_error(ctx, node, "must be an integer, got %s", sl_conf_quote(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    if (r != SL_OK || v < key->min || v > key->max) {
        sl_conf_error(ctx, node, "must be between %" PRId64 " and %" PRId64 ", got %s", key->min, key->max,
                      sl_conf_bare(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    *(uint32_t *)field = (uint32_t)v;
    return SL_OK;
}

/* A duration key of either resolution: parse gives its grammar, format its range in the error; stored as uint32_t. */
static int p_duration_in(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key,
                         int (*parse)(const char *, uint64_t *, const char **),
                         const char *(*format)(uint64_t, char *, size_t))
{
    char buf[256], lo[32], hi[32];
    const char *err, *text = sl_conf_scalar(ctx, node);
    uint64_t v;
    if (text == NULL)
        return SL_ECONFIG;
    int r = parse(text, &v, &err);
    if (r == SL_EINVAL) {
        sl_conf_error(ctx, node, "invalid duration %s: %s", sl_conf_quote(text, buf, sizeof(buf)), err);
        return SL_ECONFIG;
    }
    if (r != SL_OK || v < (uint64_t)key->min || v > (uint64_t)key->max) {
        sl_conf_error(ctx, node, "must be between %s and %s, got %s", format((uint64_t)key->min, lo, sizeof(lo)),
                      format((uint64_t)key->max, hi, sizeof(hi)), sl_conf_bare(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    *(uint32_t *)field = (uint32_t)v;
    return SL_OK;
}

int sl_conf_p_duration(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    return p_duration_in(ctx, node, field, key, sl_conf_parse_duration_ms, sl_conf_format_duration);
}

int sl_conf_p_duration_us(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    return p_duration_in(ctx, node, field, key, sl_conf_parse_duration_us, sl_conf_format_duration_us);
}

int sl_conf_p_size(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256], lo[32], hi[32];
    const char *err, *text = sl_conf_scalar(ctx, node);
    uint64_t v;
    if (text == NULL)
        return SL_ECONFIG;
    int r = sl_conf_parse_size(text, &v, &err);
    if (r == SL_EINVAL) {
        sl_conf_error(ctx, node, "invalid size %s: %s", sl_conf_quote(text, buf, sizeof(buf)), err);
        return SL_ECONFIG;
    }
    if (r != SL_OK || v < (uint64_t)key->min || v > (uint64_t)key->max) {
        sl_conf_error(ctx, node, "must be between %s and %s, got %s", sl_conf_format_size((uint64_t)key->min, lo, sizeof(lo)),
                      sl_conf_format_size((uint64_t)key->max, hi, sizeof(hi)), sl_conf_bare(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    *(uint64_t *)field = v;
    return SL_OK;
}

int sl_conf_p_number(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *err, *text = sl_conf_scalar(ctx, node);
    double v;
    if (text == NULL)
        return SL_ECONFIG;
    int r = sl_conf_parse_number(text, &v, &err);
    if (r == SL_EINVAL) {
        sl_conf_error(ctx, node, "must be a number, got %s", sl_conf_quote(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    if (r != SL_OK || v < key->fmin || v > key->fmax) {
        sl_conf_error(ctx, node, "must be between %g and %g, got %s", key->fmin, key->fmax, sl_conf_bare(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    *(double *)field = v;
    return SL_OK;
}

int sl_conf_p_percent(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *err, *text = sl_conf_scalar(ctx, node);
    double v;
    if (text == NULL)
        return SL_ECONFIG;
    if (sl_conf_parse_percent(text, &v, &err) != SL_OK) {
        sl_conf_error(ctx, node, "invalid percentage %s: %s", sl_conf_quote(text, buf, sizeof(buf)), err);
        return SL_ECONFIG;
    }
    if (v < key->fmin || v > key->fmax) {
        sl_conf_error(ctx, node, "must be between %g%% and %g%%, got %s", key->fmin * 100, key->fmax * 100,
                      sl_conf_bare(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    *(double *)field = v;
    return SL_OK;
}

int sl_conf_p_bool(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *err, *text = sl_conf_scalar(ctx, node);
    if (text == NULL)
        return SL_ECONFIG;
    if (sl_conf_parse_bool(text, (int *)field, &err) != SL_OK) {
        sl_conf_error(ctx, node, "must be true or false, got %s", sl_conf_quote(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    return SL_OK;
}

int sl_conf_p_enum(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256], list[256];
    const char *suggestion, *text = sl_conf_scalar(ctx, node);
    const char *const *names = key->arg;
    if (text == NULL)
        return SL_ECONFIG;
    if (sl_conf_parse_enum(text, names, (int *)field, &suggestion) == SL_OK)
        return SL_OK;
    if (suggestion != NULL) {
        sl_conf_error(ctx, node, "invalid value %s (did you mean \"%s\"?)", sl_conf_quote(text, buf, sizeof(buf)), suggestion);
    } else {
        size_t o = 0;
        for (size_t i = 0; names[i] != NULL && o < sizeof(list); ++i)
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i != 0 ? ", " : "", names[i]);
        sl_conf_error(ctx, node, "invalid value %s; expected one of: %s", sl_conf_quote(text, buf, sizeof(buf)), list);
    }
    return SL_ECONFIG;
}

int sl_conf_p_addr(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *err, *text = sl_conf_scalar(ctx, node);
    if (text == NULL)
        return SL_ECONFIG;
    if (sl_conf_parse_addr(text, key->min == 0, ctx->arena, field, &err) != SL_OK) {
        sl_conf_error(ctx, node, "invalid address %s: %s", sl_conf_quote(text, buf, sizeof(buf)), err);
        return SL_ECONFIG;
    }
    return SL_OK;
}

/* key->min and key->max bound the number of addresses; key->fmin != 0 allows port 0 (listeners). */
int sl_conf_p_addr_list(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_key_t one = {.name = key->name, .min = key->fmin != 0 ? 0 : 1};
    size_t *count = (size_t *)((char *)field - key->offset + key->count_offset);
    const sl_ynode_t *const *items = &node;
    size_t n = 1;
    int rc = SL_OK;

    if (node->kind == SL_YNODE_SEQ) {
        items = (const sl_ynode_t *const *)node->items;
        n = node->num_items;
    } else if (node->kind != SL_YNODE_SCALAR) {
        char buf[256];
        if (node->kind == SL_YNODE_ALIAS)
            return sl_conf_expect(ctx, node, SL_YNODE_SCALAR);
        sl_conf_error(ctx, node, "expected an address or a sequence of addresses, got %s",
                      sl_conf_describe(node, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    if ((int64_t)n < key->min || (int64_t)n > key->max) {
        if (n == 0)
            sl_conf_error(ctx, node, "needs at least %" PRId64 " address%s", key->min, key->min == 1 ? "" : "es");
        else
            sl_conf_error(ctx, node, "must list between %" PRId64 " and %" PRId64 " addresses, got %zu", key->min, key->max, n);
        return SL_ECONFIG;
    }
    sl_conf_addr_t *addrs = sl_arena_alloc(ctx->arena, n * sizeof(*addrs));
    for (size_t i = 0; i != n; ++i) {
        size_t saved = node->kind == SL_YNODE_SEQ ? sl_conf_path_push_index(ctx, i) : ctx->path_len;
        if (sl_conf_p_addr(ctx, items[i], &addrs[i], &one) != SL_OK) {
            rc = SL_ECONFIG;
        } else {
            for (size_t j = 0; j != i; ++j) {
                if (addrs[j].text != NULL && strcmp(addrs[j].text, addrs[i].text) == 0) {
                    sl_conf_error(ctx, items[i], "duplicate address (also at [%zu])", j);
                    rc = SL_ECONFIG;
                    break;
                }
            }
        }
        sl_conf_path_pop(ctx, saved);
    }
    if (rc == SL_OK) {
        *(sl_conf_addr_t **)field = addrs;
        *count = n;
    }
    return rc;
}

int sl_conf_p_block(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    return sl_conf_walk(ctx, node, key->sub, field);
}

const char *sl_conf_header_name(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const char *name)
{
    char buf[256];
    size_t len = strlen(name);
    if (len == 0 || len > 128 ||
        strspn(name, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != len) {
        sl_conf_error(ctx, node, "invalid header name %s", sl_conf_quote(name, buf, sizeof(buf)));
        return NULL;
    }
    char *lower = sl_arena_strdup(ctx->arena, name);
    for (char *p = lower; *p != '\0'; ++p)
        *p = (char)tolower((unsigned char)*p);
    return lower;
}

const char *sl_conf_json_pointer(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const char *ptr)
{
    char buf[256];
    const char *err;
    if (sl_conf_check_json_pointer(ptr, &err) != SL_OK) {
        sl_conf_error(ctx, node, "invalid JSON pointer %s: %s", sl_conf_quote(ptr, buf, sizeof(buf)), err);
        return NULL;
    }
    return sl_arena_strdup(ctx->arena, ptr);
}

const sl_conf_backend_t *sl_conf_backend_ref(sl_conf_ctx_t *ctx, const sl_ynode_t *node)
{
    const sl_conf_t *conf = ctx->conf;
    char buf[256];
    const char *text = sl_conf_scalar(ctx, node);
    if (text == NULL)
        return NULL;
    const sl_conf_backend_t *b = sl_conf_find_backend(conf, text);
    if (b != NULL || conf->backends == NULL)
        return b; /* NULL: the backends block itself is broken and already reported */
    const char *names[SL_CONF_MAX_BACKENDS + 1];
    for (size_t i = 0; i != conf->num_backends; ++i)
        names[i] = conf->backends[i].name;
    names[conf->num_backends] = NULL;
    const char *suggestion = sl_str_suggest(text, names);
    if (suggestion != NULL)
        sl_conf_error(ctx, node, "undefined backend %s (did you mean \"%s\"?)", sl_conf_quote(text, buf, sizeof(buf)),
                      suggestion);
    else
        sl_conf_error(ctx, node, "undefined backend %s", sl_conf_quote(text, buf, sizeof(buf)));
    return NULL;
}

int sl_conf_check_other_backend(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const sl_conf_tier_t *tier,
                                const sl_conf_backend_t *b, const char *own)
{
    if (tier->backend == NULL)
        return SL_OK; /* the tier's backend is undefined (reported): nothing to compare with */
    if (b == tier->backend) {
        sl_conf_error(ctx, node, "backend \"%s\" is the tier's own backend; %s", b->name, own);
        return SL_ECONFIG;
    }
    if (b->protocol != tier->backend->protocol) {
        sl_conf_error(ctx, node, "backend \"%s\" speaks %s but the tier's backend \"%s\" speaks %s", b->name,
                      sl_conf_protocol_name(b->protocol), tier->backend->name, sl_conf_protocol_name(tier->backend->protocol));
        return SL_ECONFIG;
    }
    return SL_OK;
}

const char *sl_conf_format_permille(uint32_t permille, char *buf, size_t bufsz)
{
    if (permille % 10 == 0)
        snprintf(buf, bufsz, "%" PRIu32 "%%", permille / 10);
    else
        snprintf(buf, bufsz, "%" PRIu32 ".%" PRIu32 "%%", permille / 10, permille % 10);
    return buf;
}
