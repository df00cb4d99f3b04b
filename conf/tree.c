/*
 * tree.c - YAML text to a node tree, from libyaml's event stream.
 *
 * Events rather than yaml_parser_load(): we bound the nesting depth and the node count while reading (a fuzzer or
 * a hostile file cannot make us build a huge or deep tree), keep each node's 1-based line and column, and see
 * aliases as they are written. Aliases become SL_YNODE_ALIAS markers that the schema walk rejects with the key path
 * they appear under, so "billion laughs" expansion can never happen; anchors alone are harmless and ignored.
 * The first libyaml error ends the parse: a partial tree would only produce misleading schema errors.
 * Nodes and texts live in ctx->scratch; the open collections' item vectors are on the heap until closed.
 */
#include "conf/schema.h"
#include "common/alloc.h"
#include "common/status.h"

#include <string.h>
#include <yaml.h>

typedef struct st_frame_t {
    sl_ynode_t *node;
    sl_ynode_t **items; /* heap until the collection ends, then copied into the scratch arena */
    size_t num, cap;
} frame_t;

typedef struct st_builder_t {
    sl_conf_ctx_t *ctx;
    frame_t stack[SL_CONF_MAX_DEPTH];
    size_t depth;
    size_t num_nodes;
    const sl_ynode_t *root;
} builder_t;

static void attach(builder_t *b, sl_ynode_t *n)
{
    if (b->depth == 0) {
        b->root = n;
        return;
    }
    frame_t *f = &b->stack[b->depth - 1];
    if (f->num == f->cap) {
        f->cap = f->cap == 0 ? 8 : f->cap * 2;
        f->items = sl_realloc(f->items, f->cap * sizeof(*f->items));
    }
    f->items[f->num++] = n;
}

static int is_plain_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !ev->data.scalar.plain_implicit)
        return 0;
    const char *v = (const char *)ev->data.scalar.value;
    return strcmp(v, "") == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* Handles one node-level event; returns SL_OK or SL_ESYNTAX after recording an error. */
static int on_event(builder_t *b, const yaml_event_t *ev)
{
    sl_conf_ctx_t *ctx = b->ctx;
    uint32_t line = (uint32_t)ev->start_mark.line + 1, col = (uint32_t)ev->start_mark.column + 1;

    if (ev->type == YAML_SEQUENCE_END_EVENT || ev->type == YAML_MAPPING_END_EVENT) {
        frame_t *f = &b->stack[--b->depth];
        if (f->num != 0) {
            f->node->items = sl_arena_alloc(&ctx->scratch, f->num * sizeof(*f->items));
            memcpy(f->node->items, f->items, f->num * sizeof(*f->items));
        }
        f->node->num_items = f->num;
        sl_free(f->items);
        sl_ynode_t *done = f->node;
        memset(f, 0, sizeof(*f));
        attach(b, done);
        return SL_OK;
    }

    if (++b->num_nodes > SL_CONF_MAX_NODES) {
        sl_conf_error_at(ctx, line, col, "too many YAML nodes (the limit is %u)", (unsigned)SL_CONF_MAX_NODES);
        return SL_ESYNTAX;
    }
    sl_ynode_t *n = sl_arena_alloc(&ctx->scratch, sizeof(*n));
    n->line = line;
    n->col = col;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length) != NULL) {
            sl_conf_error_at(ctx, line, col, "strings must not contain NUL characters");
            return SL_ESYNTAX;
        }
        n->kind = is_plain_null(ev) ? SL_YNODE_NULL : SL_YNODE_SCALAR;
        n->text = sl_arena_strndup(&ctx->scratch, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        attach(b, n);
        return SL_OK;
    case YAML_ALIAS_EVENT:
        n->kind = SL_YNODE_ALIAS;
        attach(b, n);
        return SL_OK;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (b->depth == SL_CONF_MAX_DEPTH) {
            sl_conf_error_at(ctx, line, col, "nesting is deeper than %u levels", (unsigned)SL_CONF_MAX_DEPTH);
            return SL_ESYNTAX;
        }
        n->kind = ev->type == YAML_MAPPING_START_EVENT ? SL_YNODE_MAP : SL_YNODE_SEQ;
        b->stack[b->depth++].node = n;
        return SL_OK;
    default:
        return SL_OK;
    }
}

/* libyaml's reader errors carry a byte offset, not a mark: count lines and characters up to it. */
static void offset_to_mark(const char *yaml, size_t len, size_t offset, uint32_t *line, uint32_t *col)
{
    uint32_t l = 1, c = 1;
    for (size_t i = 0; i < offset && i < len; ++i) {
        unsigned char ch = (unsigned char)yaml[i];
        if (ch == '\n' || (ch == '\r' && (i + 1 == len || yaml[i + 1] != '\n'))) {
            ++l;
            c = 1;
        } else if ((ch & 0xc0) != 0x80) {
            ++c;
        }
    }
    *line = l;
    *col = c;
}

static void report_parser_error(sl_conf_ctx_t *ctx, const yaml_parser_t *p, const char *yaml, size_t len)
{
    const char *problem = p->problem != NULL ? p->problem : "unknown error";
    if (p->error == YAML_READER_ERROR) {
        uint32_t line, col;
        offset_to_mark(yaml, len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            sl_conf_error_at(ctx, line, col, "invalid text: %s (byte 0x%02x)", problem, (unsigned)p->problem_value);
        else
            sl_conf_error_at(ctx, line, col, "invalid text: %s", problem);
        return;
    }
    if (p->error == YAML_MEMORY_ERROR) {
        sl_conf_error_at(ctx, 1, 1, "YAML parser out of memory");
        return;
    }
    uint32_t line = (uint32_t)p->problem_mark.line + 1, col = (uint32_t)p->problem_mark.column + 1;
    if (p->context != NULL)
        sl_conf_error_at(ctx, line, col, "YAML syntax error: %s (%s that started at %u:%u)", problem, p->context,
                         (unsigned)p->context_mark.line + 1, (unsigned)p->context_mark.column + 1);
    else
        sl_conf_error_at(ctx, line, col, "YAML syntax error: %s", problem);
}

int sl_conf_tree_parse(sl_conf_ctx_t *ctx, const char *yaml, size_t len, const sl_ynode_t **root)
{
    yaml_parser_t parser;
    builder_t b;
    int rc = SL_OK, docs = 0;

    memset(&b, 0, sizeof(b));
    b.ctx = ctx;
    if (!yaml_parser_initialize(&parser)) {
        sl_conf_error_at(ctx, 1, 1, "YAML parser out of memory");
        return SL_ESYNTAX;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    for (int done = 0; !done && rc == SL_OK;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            report_parser_error(ctx, &parser, yaml, len);
            rc = SL_ESYNTAX;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs == 2) {
                sl_conf_error_at(ctx, (uint32_t)ev.start_mark.line + 1, (uint32_t)ev.start_mark.column + 1,
                                 "only one YAML document is allowed in a config file");
                rc = SL_ESYNTAX;
            }
            break;
        default:
            rc = on_event(&b, &ev);
        }
        yaml_event_delete(&ev);
    }
    while (b.depth != 0)
        sl_free(b.stack[--b.depth].items);
    yaml_parser_delete(&parser);
    if (rc == SL_OK)
        *root = b.root;
    return rc;
}
