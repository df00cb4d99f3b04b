/*
 * schema.c - the table-driven walk of a YAML mapping and the field parsers that key tables point to.
 *
 * A block (sl_conf_block_t) is a table of keys, each with its parse callback, the offset of its field, whether it
 * is required, its default written as text (parsed by the same callback, so defaults obey the same grammar and
 * ranges as the file), its range and an argument (a nested block, enum names). Adding a block to the language is
 * one table entry plus, when its shape is new, one parse callback.
 *
 * Errors never stop the walk: a bad key is reported and its siblings are still parsed, so one run reports every
 * independent error. Checks across keys (block->check) run only when the block's own keys parsed cleanly, to avoid
 * follow-up errors about values that were already reported. Messages are formatted immediately with the current
 * key path and sorted by position at the end (sl_conf_ctx_flush_errors).
 */
#include "conf/schema.h"
#include "common/alloc.h"
#include "common/status.h"
#include "common/str.h"
#include "conf/addr.h"
#include "conf/conf.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_conf_ctx_init(sl_conf_ctx_t *ctx, const char *file, const char *base_dir, sl_conf_t *conf)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->file = file;
    ctx->base_dir = base_dir;
    ctx->conf = conf;
    ctx->arena = &conf->arena;
    sl_arena_init(&ctx->scratch);
}

void sl_conf_ctx_dispose(sl_conf_ctx_t *ctx)
{
    for (size_t i = 0; i != ctx->num_errors; ++i)
        sl_free(ctx->errors[i].msg);
    sl_free(ctx->errors);
    ctx->errors = NULL;
    ctx->num_errors = ctx->cap_errors = 0;
    sl_arena_dispose(&ctx->scratch);
}

static int cmp_pending(const void *a, const void *b)
{
    const sl_conf_pending_t *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void sl_conf_ctx_flush_errors(sl_conf_ctx_t *ctx, sl_conf_errors_t *errs)
{
    if (ctx->num_errors != 0)
        qsort(ctx->errors, ctx->num_errors, sizeof(*ctx->errors), cmp_pending);
    for (size_t i = 0; i != ctx->num_errors; ++i) {
        sl_conf_errors_addf(errs, "%s", ctx->errors[i].msg);
        sl_free(ctx->errors[i].msg);
    }
    errs->dropped += ctx->dropped;
    ctx->num_errors = 0;
    ctx->dropped = 0;
}

static void add_error(sl_conf_ctx_t *ctx, uint32_t line, uint32_t col, int with_path, const char *fmt, va_list ap)
{
    if (ctx->num_errors == SL_CONF_MAX_PENDING) {
        ++ctx->dropped;
        return;
    }
    char msg[640];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    sl_buf_appendf(&b, "%s:%u:%u: ", ctx->file, (unsigned)line, (unsigned)col);
    if (with_path && ctx->path_len != 0)
        sl_buf_appendf(&b, "%s: ", ctx->path);
    sl_buf_appendf(&b, "%s", msg);
    if (ctx->num_errors == ctx->cap_errors) {
        ctx->cap_errors = ctx->cap_errors == 0 ? 16 : ctx->cap_errors * 2;
        ctx->errors = sl_realloc(ctx->errors, ctx->cap_errors * sizeof(*ctx->errors));
    }
    sl_conf_pending_t *e = &ctx->errors[ctx->num_errors];
    e->line = line;
    e->col = col;
    e->seq = ctx->num_errors++;
    e->msg = b.data;
}

void sl_conf_error(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const char *fmt, ...)
{
    assert(node->line != 0); /* defaults never fail */
    va_list ap;
    va_start(ap, fmt);
    add_error(ctx, node->line, node->col, 1, fmt, ap);
    va_end(ap);
}

void sl_conf_error_at(sl_conf_ctx_t *ctx, uint32_t line, uint32_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_error(ctx, line, col, 0, fmt, ap);
    va_end(ap);
}

size_t sl_conf_path_push_key(sl_conf_ctx_t *ctx, const char *key)
{
    size_t saved = ctx->path_len, len = strlen(key), o = ctx->path_len;
    if (len > 64) { /* keys in paths are shortened, never cut inside a UTF-8 sequence */
        len = 64;
        while (len != 0 && ((unsigned char)key[len] & 0xc0) == 0x80)
            --len;
    }
    if (o != 0 && o + 1 < sizeof(ctx->path))
        ctx->path[o++] = '.';
    for (size_t i = 0; i != len && o + 1 < sizeof(ctx->path); ++i) /* control characters would garble a terminal */
        ctx->path[o++] = (unsigned char)key[i] < 0x20 || key[i] == 0x7f ? '?' : key[i];
    ctx->path[o] = '\0';
    ctx->path_len = o;
    return saved;
}

size_t sl_conf_path_push_index(sl_conf_ctx_t *ctx, size_t index)
{
    size_t saved = ctx->path_len;
    int n = snprintf(ctx->path + ctx->path_len, sizeof(ctx->path) - ctx->path_len, "[%zu]", index);
    if (n > 0)
        ctx->path_len += (size_t)n < sizeof(ctx->path) - ctx->path_len ? (size_t)n : sizeof(ctx->path) - 1 - ctx->path_len;
    return saved;
}

void sl_conf_path_pop(sl_conf_ctx_t *ctx, size_t len)
{
    ctx->path_len = len;
    ctx->path[len] = '\0';
}

const char *sl_conf_quote(const char *text, char *buf, size_t bufsz)
{
    size_t len = strlen(text), cut = len < 48 ? len : 48, o = 0;
    assert(bufsz >= 4 * 48 + 8);
    while (cut != 0 && cut != len && ((unsigned char)text[cut] & 0xc0) == 0x80)
        --cut; /* never cut a UTF-8 sequence in half */
    buf[o++] = '"';
    for (size_t i = 0; i != cut; ++i) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    if (cut != len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

const char *sl_conf_bare(const char *text, char *buf, size_t bufsz)
{
    sl_conf_quote(text, buf, bufsz);
    size_t n = strlen(buf);
    memmove(buf, buf + 1, n - 2);
    buf[n - 2] = '\0';
    return buf;
}

const char *sl_conf_describe(const sl_ynode_t *node, char *buf, size_t bufsz)
{
    switch (node->kind) {
    case SL_YNODE_MAP:
        return "a mapping";
    case SL_YNODE_SEQ:
        return "a sequence";
    case SL_YNODE_NULL:
        return "null";
    case SL_YNODE_ALIAS:
        return "an alias";
    case SL_YNODE_SCALAR:
        break;
    }
    return sl_conf_quote(node->text, buf, bufsz);
}

int sl_conf_expect(sl_conf_ctx_t *ctx, const sl_ynode_t *node, enum en_sl_ynode_kind_t kind)
{
    static const char *const wanted[] = {"a single value", "null", "a mapping", "a sequence", "an alias"};
    char buf[256];
    if (node->kind == kind)
        return SL_OK;
    if (node->kind == SL_YNODE_ALIAS)
        sl_conf_error(ctx, node, "YAML aliases are not supported; write the value out");
    else
        sl_conf_error(ctx, node, "expected %s, got %s", wanted[kind], sl_conf_describe(node, buf, sizeof(buf)));
    return SL_ECONFIG;
}

const char *sl_conf_format_duration(uint64_t ms, char *buf, size_t bufsz)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    if (ms == 0) {
        snprintf(buf, bufsz, "0");
        return buf;
    }
    for (size_t i = 0; i != sizeof(units) / sizeof(units[0]); ++i) {
        if (ms % units[i].ms == 0) {
            snprintf(buf, bufsz, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
            return buf;
        }
    }
    snprintf(buf, bufsz, "%" PRIu64 "ms", ms);
    return buf;
}

const char *sl_conf_format_duration_us(uint64_t us, char *buf, size_t bufsz)
{
    if (us % 1000 == 0)
        return sl_conf_format_duration(us / 1000, buf, bufsz);
    snprintf(buf, bufsz, "%" PRIu64 "us", us);
    return buf;
}

const char *sl_conf_format_size(uint64_t bytes, char *buf, size_t bufsz)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    if (bytes == 0) {
        snprintf(buf, bufsz, "0");
        return buf;
    }
    for (size_t i = 0; i != 4; ++i) {
        uint64_t f = (uint64_t)1 << (10 * (4 - i));
        if (bytes % f == 0) {
            snprintf(buf, bufsz, "%" PRIu64 "%s", bytes / f, units[i]);
            return buf;
        }
    }
    snprintf(buf, bufsz, "%" PRIu64 "B", bytes);
    return buf;
}

const sl_ynode_t *sl_conf_map_get(const sl_ynode_t *map, const char *key)
{
    if (map == NULL || map->kind != SL_YNODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->num_items; i += 2)
        if (map->items[i]->kind == SL_YNODE_SCALAR && strcmp(map->items[i]->text, key) == 0)
            return map->items[i + 1];
    return NULL;
}

int sl_conf_seen(const sl_conf_block_t *block, uint64_t seen, const char *name)
{
    for (size_t i = 0; block->keys[i].name != NULL; ++i)
        if (strcmp(block->keys[i].name, name) == 0)
            return (seen >> i) & 1;
    assert(!"no such key in block");
    return 0;
}

void sl_conf_apply_defaults(sl_conf_ctx_t *ctx, const sl_conf_block_t *block, void *obj)
{
    for (const sl_conf_key_t *k = block->keys; k->name != NULL; ++k) {
        void *field = (char *)obj + k->offset;
        if (k->def != NULL) {
            sl_ynode_t n = {.kind = SL_YNODE_SCALAR, .text = k->def, .len = strlen(k->def)};
            int r = k->parse(ctx, &n, field, k);
            assert(r == SL_OK);
            (void)r;
        } else if (k->parse == sl_conf_p_block) {
            sl_conf_apply_defaults(ctx, k->sub, field);
        }
    }
}

/* Orders key indices of a mapping by (text, position) so duplicates are adjacent: O(n log n) for any map size. */
static int cmp_keys(const void *a, const void *b, void *items)
{
    const sl_ynode_t *x = ((sl_ynode_t **)items)[*(const size_t *)a], *y = ((sl_ynode_t **)items)[*(const size_t *)b];
    int c = strcmp(x->text, y->text);
    if (c != 0)
        return c;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

const sl_ynode_t **sl_conf_find_duplicates(sl_conf_ctx_t *ctx, const sl_ynode_t *map)
{
    size_t pairs = map->num_items / 2, n = 0;
    const sl_ynode_t **first = sl_arena_alloc(&ctx->scratch, (pairs + 1) * sizeof(*first));
    if (pairs < 2)
        return first;
    size_t *idx = sl_malloc(pairs * sizeof(*idx));
    for (size_t i = 0; i != map->num_items / 2 * 2; i += 2)
        if (map->items[i]->kind == SL_YNODE_SCALAR)
            idx[n++] = i;
    qsort_r(idx, n, sizeof(*idx), cmp_keys, map->items);
    for (size_t i = 1; i < n; ++i) {
        const sl_ynode_t *prev = map->items[idx[i - 1]], *cur = map->items[idx[i]];
        if (strcmp(prev->text, cur->text) == 0)
            first[idx[i] / 2] = first[idx[i - 1] / 2] != NULL ? first[idx[i - 1] / 2] : prev;
    }
    sl_free(idx);
    return first;
}

static void unknown_key(sl_conf_ctx_t *ctx, const sl_conf_block_t *block, const sl_ynode_t *key)
{
    const char *names[65];
    size_t n = 0;
    for (; block->keys[n].name != NULL; ++n)
        names[n] = block->keys[n].name;
    names[n] = NULL;
    const char *suggestion = sl_str_suggest(key->text, names);
    if (suggestion != NULL) {
        sl_conf_error(ctx, key, "unknown key (did you mean \"%s\"?)", suggestion);
        return;
    }
    char list[512];
    size_t o = 0;
    for (size_t i = 0; i != n && o < sizeof(list); ++i)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i != 0 ? ", " : "", names[i]);
    sl_conf_error(ctx, key, "unknown key; expected one of: %s", list);
}

int sl_conf_walk(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const sl_conf_block_t *block, void *obj)
{
    char buf[256];
    int rc = SL_OK;
    uint64_t seen = 0;
    if (sl_conf_expect(ctx, node, SL_YNODE_MAP) != SL_OK)
        return SL_ECONFIG;
    const sl_ynode_t **first = sl_conf_find_duplicates(ctx, node);
    for (int pass = 0; pass != 2; ++pass) {
        for (size_t i = 0; i + 1 < node->num_items; i += 2) {
            const sl_ynode_t *k = node->items[i], *v = node->items[i + 1];
            if (k->kind != SL_YNODE_SCALAR) {
                if (pass == 0) {
                    sl_conf_error(ctx, k, "keys must be strings, got %s", sl_conf_describe(k, buf, sizeof(buf)));
                    rc = SL_ECONFIG;
                }
                continue;
            }
            size_t ki = 0;
            while (block->keys[ki].name != NULL && strcmp(block->keys[ki].name, k->text) != 0)
                ++ki;
            const sl_conf_key_t *key = block->keys[ki].name != NULL ? &block->keys[ki] : NULL;
            if ((key != NULL && first[i / 2] == NULL ? key->pass : 0) != pass)
                continue;
            size_t saved = sl_conf_path_push_key(ctx, k->text);
            if (first[i / 2] != NULL) {
                sl_conf_error(ctx, k, "duplicate key (first defined at %u:%u)", (unsigned)first[i / 2]->line,
                              (unsigned)first[i / 2]->col);
                rc = SL_ECONFIG;
            } else if (key == NULL) {
                unknown_key(ctx, block, k);
                rc = SL_ECONFIG;
            } else {
                seen |= (uint64_t)1 << ki;
                if (key->parse(ctx, v, (char *)obj + key->offset, key) != SL_OK)
                    rc = SL_ECONFIG;
            }
            sl_conf_path_pop(ctx, saved);
        }
    }
    for (size_t ki = 0; block->keys[ki].name != NULL; ++ki) {
        if (block->keys[ki].required && (seen >> ki & 1) == 0) {
            sl_conf_error(ctx, node, "missing required key \"%s\"", block->keys[ki].name);
            rc = SL_ECONFIG;
        }
    }
    if (rc == SL_OK && block->check != NULL)
        rc = block->check(ctx, node, obj, seen);
    return rc;
}

const char *sl_conf_resolve_path(sl_conf_ctx_t *ctx, const char *path)
{
    if (path[0] == '/' || ctx->base_dir == NULL || ctx->base_dir[0] == '\0')
        return sl_arena_strdup(ctx->arena, path);
    size_t bl = strlen(ctx->base_dir), pl = strlen(path);
    char *p = sl_arena_alloc(ctx->arena, bl + pl + 2);
    memcpy(p, ctx->base_dir, bl);
    if (ctx->base_dir[bl - 1] != '/')
        p[bl++] = '/';
    memcpy(p + bl, path, pl + 1);
    return p;
}

const char *sl_conf_scalar(sl_conf_ctx_t *ctx, const sl_ynode_t *node)
{
    return sl_conf_expect(ctx, node, SL_YNODE_SCALAR) == SL_OK ? node->text : NULL;
}

int sl_conf_check_name(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const char *what)
{
    char buf[256];
    size_t len = strlen(node->text);
    if (len == 0 || len > 64 ||
        strspn(node->text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len) {
        sl_conf_error(ctx, node, "invalid %s name %s: use 1 to 64 letters, digits, '_', '-' or '.'", what,
                      sl_conf_quote(node->text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    return SL_OK;
}
