/*
 * schema-t.h - types of the table-driven loader, private to conf/: the YAML node tree, key tables and the load
 * context. See schema.h.
 */
#ifndef SL_CONF_SCHEMA_T_H
#define SL_CONF_SCHEMA_T_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "conf/conf-t.h"

enum en_sl_ynode_kind_t {
    SL_YNODE_SCALAR = 0, /* any scalar but a plain null */
    SL_YNODE_NULL,       /* plain "", "~", "null", "Null" or "NULL" */
    SL_YNODE_MAP,
    SL_YNODE_SEQ,
    SL_YNODE_ALIAS, /* "*name": rejected wherever a value is read */
};

/* One YAML node; lives in the load's scratch arena. */
typedef struct st_sl_ynode_t sl_ynode_t;
struct st_sl_ynode_t {
    enum en_sl_ynode_kind_t kind;
    uint32_t line, col; /* 1-based; 0 for the synthetic nodes that carry defaults */
    const char *text;   /* scalars and nulls: NUL-terminated, no embedded NUL */
    size_t len;
    int plain;          /* scalars: written without quotes (so "123" stays a string where it matters) */
    sl_ynode_t **items; /* sequence: the items; mapping: key0, value0, key1, value1, ... */
    size_t num_items;
};

typedef struct st_sl_conf_ctx_t sl_conf_ctx_t;
typedef struct st_sl_conf_key_t sl_conf_key_t;
typedef struct st_sl_conf_block_t sl_conf_block_t;

/* Parses node into field (the key's offset in the object being filled). Reports errors through ctx and returns
 * SL_OK or SL_ECONFIG; field may be partly written on error (the load fails as a whole). */
typedef int (*sl_conf_parse_cb)(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key);

/* One key of a mapping block. */
struct st_sl_conf_key_t {
    const char *name;
    sl_conf_parse_cb parse;
    size_t offset;
    int required;
    const char *def;            /* default, written as in a file and parsed by parse; NULL = zero / nested defaults */
    int64_t min, max;           /* integers; durations in ms; sizes in bytes; string lengths; list lengths */
    double fmin, fmax;          /* numbers; percentages as fractions */
    const void *arg;            /* enum names (NULL-terminated) */
    size_t count_offset;        /* lists: where the number of items goes (size_t) */
    const sl_conf_block_t *sub; /* the block of the value: a nested mapping, or each entry of a map or list */
    const char *sub_path;       /* how entries appear in key paths: NULL (nested mapping), ".<name>" or "[]" */
    int pass;                   /* 0, or 1 for keys that need their siblings parsed first (routes need backends) */
};

/* A mapping block: its keys and an optional check across them once all are parsed. In check, bit i of seen is
 * set when keys[i] appeared in the file. */
struct st_sl_conf_block_t {
    const sl_conf_key_t *keys; /* terminated by an entry whose name is NULL; at most 64 keys */
    int (*check)(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen);
};

typedef struct st_sl_conf_pending_t {
    uint32_t line, col;
    size_t seq;
    char *msg; /* heap; "file:line:col: path: message" */
} sl_conf_pending_t;

#define SL_CONF_PATH_MAX 512
#define SL_CONF_MAX_PENDING 1000 /* errors collected before sorting; later ones are only counted */

struct st_sl_conf_ctx_t {
    const char *file;     /* as printed in messages */
    const char *base_dir; /* relative paths resolve against it; NULL = the current directory */
    sl_conf_t *conf;      /* being built */
    sl_arena_t *arena;    /* &conf->arena: everything the snapshot keeps */
    sl_arena_t scratch;   /* the YAML tree; freed when the load ends */
    char path[SL_CONF_PATH_MAX];
    size_t path_len;
    sl_conf_pending_t *errors;
    size_t num_errors, cap_errors, dropped;
};

#endif
