/*
 * json_scan-t.h - types and limits of the JSON scanner (prototypes and the grammar it accepts: json_scan.h).
 */
#ifndef SL_COMMON_JSON_SCAN_T_H
#define SL_COMMON_JSON_SCAN_T_H

#include <stddef.h>
#include <stdint.h>

#define SL_JSON_MAX_DEPTH 64       /* arrays/objects open at once */
#define SL_JSON_MAX_NUMBER_LEN 256 /* longest number text sl_json_get_double() converts (SL_ERANGE beyond) */
#define SL_JSON_MAX_TOKEN_LEN 256  /* longest decoded JSON pointer reference token (SL_EINVAL beyond) */
#define SL_JSON_MAX_EDITS 8        /* fields one sl_json_edit_object() call may set */
#define SL_JSON_REWRITE_PIECES 7   /* pieces sl_json_rewrite_string() may produce */

enum en_sl_json_type_t {
    SL_JSON_INVALID = 0,
    SL_JSON_NULL,
    SL_JSON_FALSE,
    SL_JSON_TRUE,
    SL_JSON_NUMBER,
    SL_JSON_STRING,
    SL_JSON_ARRAY,
    SL_JSON_OBJECT,
};

/* One JSON value inside a caller's buffer: p points at its first byte (the quote of a string, the bracket of a
 * container, the sign or first digit of a number) and len covers it up to its last byte, quotes and brackets
 * included, no surrounding whitespace. */
typedef struct st_sl_json_span_t {
    const char *p;
    size_t len;
    enum en_sl_json_type_t type;
    uint8_t plain; /* 1: a STRING the scanner found without a backslash, whose raw body is its text (readers then
                      skip looking for escapes); 0: not known (any span made by hand) */
} sl_json_span_t;

/* A piece of an edited document. Same layout as h2o_iovec_t (base, len); base is borrowed (the original document,
 * the caller's replacement text, or static storage). */
typedef struct st_sl_json_piece_t {
    const char *base;
    size_t len;
} sl_json_piece_t;

/* Iterator over the members of an object or the elements of an array (caller-owned storage, no teardown). */
typedef struct st_sl_json_iter_t {
    const char *p;   /* next byte to read */
    const char *end; /* one past the container's closing bracket */
    char close;      /* ']' or '}' */
    size_t index;    /* members/elements returned so far */
} sl_json_iter_t;

/* One field to set in an object (sl_json_edit_object). value is raw JSON text (e.g. "true", "1", "\"m\"",
 * "{\"include_usage\":true}"); the caller guarantees it is one valid JSON value. key needs no escaping
 * (checked). When keep_existing is set and the key is present, the member is left as it is. */
typedef struct st_sl_json_edit_t {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    int keep_existing;
} sl_json_edit_t;

/* One step of the path from a container to a value inside it (sl_json_parse_visit). */
typedef struct st_sl_json_step_t {
    sl_json_span_t key; /* the member's name (a STRING span, escapes as written) in an object; type SL_JSON_INVALID
                           in an array */
    size_t index;       /* members or elements of the container before this one */
} sl_json_step_t;

/* What sl_json_parse_visit() reports while it validates (caller-owned, no teardown). on_value is called for every
 * value at depth 1 to max_depth (the root's members or elements are at depth 1) once its last byte is scanned: a
 * container after its contents, values in document order otherwise. path[0..depth) leads from the root to the value
 * (path[d] is the step out of the container at depth d); value is the value's span. A document that turns out
 * malformed may have had values reported before the error: the caller discards what it collected when the parse
 * fails. */
typedef struct st_sl_json_visitor_t {
    void (*on_value)(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *value);
    void *ctx;
    size_t max_depth;
} sl_json_visitor_t;

/* Iterator over the scalar leaves of nested arrays, in document (row-major) order (caller-owned, no teardown). */
typedef struct st_sl_json_leaf_iter_t {
    const char *p;
    const char *end;
} sl_json_leaf_iter_t;

#endif
