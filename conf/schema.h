/*
 * schema.h - the table-driven loader's machinery, private to conf/.
 *
 * A load goes: bytes -> node tree (tree.c: libyaml events, bounded depth and size, aliases kept as markers) ->
 * typed structs (schema.c walks a mapping against a key table; load*.c hold the tables and the checks across
 * keys). Every error names the node it is about and the key path being parsed; errors are sorted by position
 * before they are handed to the caller. Control thread (or `sluice check`), one load per context.
 */
#ifndef SL_CONF_SCHEMA_H
#define SL_CONF_SCHEMA_H

#include "conf/schema-t.h"

void sl_conf_ctx_init(sl_conf_ctx_t *ctx, const char *file, const char *base_dir, sl_conf_t *conf);
/* Frees the scratch arena and any error not flushed. */
void sl_conf_ctx_dispose(sl_conf_ctx_t *ctx);
/* Moves the collected errors, sorted by line and column, into errs. */
void sl_conf_ctx_flush_errors(sl_conf_ctx_t *ctx, sl_conf_errors_t *errs);

/* Records "file:line:col: key.path: message" for node under the current key path (no path part when empty). */
void sl_conf_error(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same at an explicit position, without a key path. */
void sl_conf_error_at(sl_conf_ctx_t *ctx, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Key path: push a mapping key or a list index; each returns the length to restore with sl_conf_path_pop. */
size_t sl_conf_path_push_key(sl_conf_ctx_t *ctx, const char *key);
size_t sl_conf_path_push_index(sl_conf_ctx_t *ctx, size_t index);
void sl_conf_path_pop(sl_conf_ctx_t *ctx, size_t len);

/* Parses the YAML text into a node tree in ctx->scratch. Returns SL_OK with *root set (NULL when the stream holds
 * no document), or SL_ESYNTAX after recording the error. */
int sl_conf_tree_parse(sl_conf_ctx_t *ctx, const char *yaml, size_t len, const sl_ynode_t **root);

/* "a mapping", "a sequence", "a string \"x\"", "null", "an alias": how a node is named in type errors. */
const char *sl_conf_describe(const sl_ynode_t *node, char *buf, size_t bufsz);
/* Records "expected <what>, got <description>" (or the alias error) unless node is of kind; returns SL_OK when
 * it is. */
int sl_conf_expect(sl_conf_ctx_t *ctx, const sl_ynode_t *node, enum en_sl_ynode_kind_t kind);
/* The scalar text quoted and escaped for a message, shortened past 48 bytes; bufsz >= 200. */
const char *sl_conf_quote(const char *text, char *buf, size_t bufsz);
/* The same without the quotes, for values that read better bare (numbers in range errors). */
const char *sl_conf_bare(const char *text, char *buf, size_t bufsz);

/* Value of key in a mapping node, or NULL. */
const sl_ynode_t *sl_conf_map_get(const sl_ynode_t *map, const char *key);
/* For a mapping node: an array (scratch arena) whose entry i is the earlier key node with the same text as the key
 * of pair i, or NULL when that key is its first occurrence (or not a string). O(n log n). */
const sl_ynode_t **sl_conf_find_duplicates(sl_conf_ctx_t *ctx, const sl_ynode_t *map);
/* Whether the key named name of block was in the file (seen as given to a block's check). */
int sl_conf_seen(const sl_conf_block_t *block, uint64_t seen, const char *name);

/* Writes every default of block (and of nested blocks) into obj. */
void sl_conf_apply_defaults(sl_conf_ctx_t *ctx, const sl_conf_block_t *block, void *obj);
/* Parses the mapping node into obj: unknown and duplicate keys are errors, each known key is parsed with its
 * callback under its key path, missing required keys are errors, then block->check runs. Defaults are not applied
 * here (call sl_conf_apply_defaults first). Keys with pass 1 are parsed after all keys with pass 0, whatever their
 * order in the file. Returns SL_OK or SL_ECONFIG. */
int sl_conf_walk(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const sl_conf_block_t *block, void *obj);

/* Copies a relative path joined to ctx->base_dir (absolute paths as they are) into the snapshot's arena. */
const char *sl_conf_resolve_path(sl_conf_ctx_t *ctx, const char *path);

/* Field parsers for key tables (the field type each writes is in brackets):
 *   string      [const char *] any scalar; length in [min, max] (max 0 = 4096)
 *   path        [const char *] a non-empty string, resolved with sl_conf_resolve_path
 *   json_ptr    [const char *] an RFC 6901 JSON pointer
 *   http_path   [const char *] an HTTP path: starts with "/", no spaces or control characters
 *   u32         [uint32_t]     an integer in [min, max]
 *   duration    [uint32_t]     a duration in ms, in [min, max] ms
 *   size        [uint64_t]     a size in bytes, in [min, max]
 *   number      [double]       a number in [fmin, fmax]
 *   percent     [double]       a percentage as a fraction in [fmin, fmax]
 *   bool        [int]
 *   enum        [int]          one of the names in arg
 *   addr        [sl_conf_addr_t] a listen address (port 0 allowed when min == 0)
 *   addr_list   [sl_conf_addr_t *, count at count_offset] one address or a list of [min, max] distinct ones;
 *               port 0 (a free port) allowed when fmin != 0
 *   block       [the nested struct] a mapping parsed with the block in arg */
int sl_conf_p_string(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_path(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_json_ptr(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_http_path(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_u32(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_duration(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_duration_us(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key); /* uint32_t, us */
int sl_conf_p_size(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_number(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_percent(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_bool(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_enum(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_addr(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_addr_list(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_block(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);

/* Reads a scalar as text (errors for other kinds); returns its text or NULL. */
const char *sl_conf_scalar(sl_conf_ctx_t *ctx, const sl_ynode_t *node);
/* An HTTP header name (RFC 9110 token, 1 to 128 bytes) copied lower-case into the snapshot's arena; NULL after
 * recording an error at node. */
const char *sl_conf_header_name(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const char *name);
/* An RFC 6901 JSON pointer copied into the snapshot's arena; NULL after recording an error at node. */
const char *sl_conf_json_pointer(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const char *ptr);
/* Checks a backend or route name: 1 to 64 of [A-Za-z0-9_.-]. */
int sl_conf_check_name(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const char *what);
/* The backend a scalar node names; NULL after recording "undefined backend" (with the closest name as a hint), or
 * silently when the scalar was invalid or the backends block itself is broken (both reported already). */
const sl_conf_backend_t *sl_conf_backend_ref(sl_conf_ctx_t *ctx, const sl_ynode_t *node);
/* Checks that b, named at node as another backend of tier (a degrade variant, a canary), is not the tier's own and
 * speaks its protocol; `own` ends the message of the first case. SL_OK also when the tier's backend is undefined
 * (reported already); SL_ECONFIG after recording the error. */
int sl_conf_check_other_backend(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const struct st_sl_conf_tier_t *tier,
                                const sl_conf_backend_t *b, const char *own);
/* "12.5%" from permille. */
const char *sl_conf_format_permille(uint32_t permille, char *buf, size_t bufsz);

/* The blocks (load.c, load_backends.c, load_tiers.c, load_routes.c) and the parsers of their lists. The tables can
 * be walked from sl_conf_root_block through each key's sub block (tests check docs/CONFIG.md against them). */
extern const sl_conf_block_t sl_conf_root_block;
extern const sl_conf_block_t sl_conf_backend_block;
extern const sl_conf_block_t sl_conf_route_block;
extern const sl_conf_block_t sl_conf_tier_block;
extern const sl_conf_block_t sl_conf_monitor_block; /* load_monitor.c: a route's model monitoring */
int sl_conf_p_monitor(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
extern const sl_conf_block_t sl_conf_degrade_block; /* load_degrade.c: a tier's accuracy scaling */
int sl_conf_p_degrade(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
extern const sl_conf_block_t sl_conf_rollout_block; /* load_rollout.c: a tier's canary rollout */
int sl_conf_p_rollout(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_backends(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_skip_when(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_cascade(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);
int sl_conf_p_routes(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);

#endif
