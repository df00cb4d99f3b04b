/*
 * json_scan.h - a JSON scanner for the data path: no allocation, no recursion, O(n), bounded nesting.
 *
 * The scanner never builds a tree. A value is a span of the caller's bytes (sl_json_span_t); lookups walk the
 * bytes again each time they are called, validating everything they pass over, so a lookup on a span that came
 * from sl_json_parse() can never misread a malformed document. The grammar is RFC 8259, strictly:
 *  - whitespace is space, tab, LF and CR only; literals are lower case; no comments, no trailing commas;
 *  - numbers follow the RFC grammar exactly ("01", "1.", ".5", "+1", "0x1" are errors); any magnitude is legal
 *    text, but sl_json_get_double() reports a number that does not fit a double (1e400) as SL_ERANGE;
 *  - strings must be valid UTF-8 (no overlong forms, no UTF-8-encoded surrogates, nothing above U+10FFFF), raw
 *    control characters are errors, escapes are the RFC's eight plus \uXXXX; a \u high surrogate must be followed
 *    by a \u low surrogate and a lone surrogate is an error (it has no UTF-8 form, so it could only be misread);
 *  - nesting deeper than SL_JSON_MAX_DEPTH arrays/objects is rejected with SL_ENOMEM (a hard cap, not a syntax
 *    error: the text may be valid JSON, sluice just refuses to walk it).
 * Duplicate object keys are legal text (RFC 8259 says names SHOULD be unique); every lookup returns the FIRST
 * member with the name. The editing helpers refuse to edit a key that occurs twice (SL_EEXIST) because an upstream
 * parser that keeps the last one would then see a value sluice never looked at.
 *
 * Any thread; the functions keep no state. Every pointer in a span or piece is borrowed from the caller's document
 * (or points to static storage) and is valid as long as that document is. Functions that read a span expect one
 * this scanner produced (sl_json_parse, sl_json_scan, lookups, iterators): its bytes are then known to be valid.
 */
#ifndef SL_COMMON_JSON_SCAN_H
#define SL_COMMON_JSON_SCAN_H

#include "common/json_scan-t.h"

#include <stddef.h>
#include <stdint.h>

/* Scanning and lookup ------------------------------------------------------------------------------------------ */

/* Validates a whole document (one value, optional surrounding whitespace) and returns its root value in *root
 * (may be NULL to only validate). Returns SL_OK; SL_ESYNTAX for malformed, truncated input or trailing bytes;
 * SL_ENOMEM when nesting exceeds SL_JSON_MAX_DEPTH. *root untouched on failure. */
int sl_json_parse(const char *json, size_t len, sl_json_span_t *root);

/* sl_json_parse() that also reports the values of the document to a visitor as it validates them (json_scan-t.h):
 * one pass collects what a caller needs from the body, with no lookup after it. The same document gives the same
 * returns as sl_json_parse(); v->on_value is called before the return value is known, so a caller keeps what it
 * collected only on SL_OK. */
int sl_json_parse_visit(const char *json, size_t len, sl_json_span_t *root, const sl_json_visitor_t *v);

/* Scans the one value that starts at json[0] after optional whitespace, stopping right after it (bytes beyond are
 * not looked at). *consumed gets the bytes up to the end of the value (leading whitespace included). Same returns
 * as sl_json_parse(); outputs untouched on failure. For framed input such as an SSE data line. */
int sl_json_scan(const char *json, size_t len, sl_json_span_t *value, size_t *consumed);

/* Starts iterating a container span (array or object). Returns SL_OK, or SL_EINVAL when the span is neither. */
int sl_json_iter_init(sl_json_iter_t *it, const sl_json_span_t *container);

/* Advances to the next member/element. For objects *key gets the member's name as a STRING span (key may be NULL;
 * for arrays *key is set to an empty SL_JSON_INVALID span when non-NULL). Returns SL_OK with *value set, SL_ENOENT
 * at the end of the container, SL_ESYNTAX / SL_ENOMEM on malformed or too deep input (iteration then stays
 * failed: later calls return the same error). */
int sl_json_iter_next(sl_json_iter_t *it, sl_json_span_t *key, sl_json_span_t *value);

/* Finds the first member of object obj whose (unescaped) name equals key[0..key_len). Returns SL_OK with *out set,
 * SL_ENOENT when absent, SL_EINVAL when obj is not an object, SL_ESYNTAX / SL_ENOMEM on malformed input. */
int sl_json_find_key(const sl_json_span_t *obj, const char *key, size_t key_len, sl_json_span_t *out);

/* Follows a path of member names (NUL-terminated strings) from obj. Same returns as sl_json_find_key(); SL_ENOENT
 * also when an intermediate value is not an object. num_keys == 0 returns obj itself. */
int sl_json_find_path(const sl_json_span_t *obj, const char *const *keys, size_t num_keys, sl_json_span_t *out);

/* Resolves an RFC 6901 JSON pointer (e.g. "/outputs/0/data/1", "/a~1b/m~0n") against root. "" is root itself.
 * Array indices are "0" or digits without leading zeros; "-" (past the end) never resolves. Returns SL_OK with
 * *out set; SL_ENOENT when nothing is there; SL_EINVAL for a pointer that is not RFC 6901 text (no leading '/',
 * '~' not followed by 0 or 1) or a reference token longer than SL_JSON_MAX_TOKEN_LEN; SL_ESYNTAX / SL_ENOMEM on
 * malformed input. */
int sl_json_find_pointer(const sl_json_span_t *root, const char *ptr, size_t ptr_len, sl_json_span_t *out);

/* Starts iterating the scalar leaves of an array span, however deeply nested ([[1,2],[3]] gives 1, 2, 3). Returns
 * SL_OK, or SL_EINVAL when the span is not an array. */
int sl_json_leaf_init(sl_json_leaf_iter_t *it, const sl_json_span_t *array);

/* Next scalar leaf (number, string, true, false, null). Returns SL_OK with *leaf set, SL_ENOENT at the end,
 * SL_EINVAL when an object is met (tensors hold no objects), SL_ESYNTAX on malformed input. */
int sl_json_leaf_next(sl_json_leaf_iter_t *it, sl_json_span_t *leaf);

/* Reading values ----------------------------------------------------------------------------------------------- */

/* Converts a NUMBER span to the nearest double (correct rounding, C locale: sluice never calls setlocale). A value
 * that underflows converts to the nearest representable (0 or subnormal). Returns SL_OK; SL_EINVAL when v is not a
 * number; SL_ERANGE when its magnitude exceeds DBL_MAX (1e400) or its text is longer than SL_JSON_MAX_NUMBER_LEN. */
int sl_json_get_double(const sl_json_span_t *v, double *out);

/* Converts a NUMBER span written as a non-negative integer (no fraction, no exponent) to uint64_t. Returns SL_OK;
 * SL_EINVAL when v is not such a number; SL_ERANGE above UINT64_MAX. */
int sl_json_get_uint64(const sl_json_span_t *v, uint64_t *out);

/* Reads a TRUE/FALSE span as 1/0. Returns SL_OK or SL_EINVAL (any other type). */
int sl_json_get_bool(const sl_json_span_t *v, int *out);

/* Unescapes a STRING span as UTF-8 into buf, NUL-terminated; *out_len (may be NULL) gets the byte count without
 * the NUL (the text may itself contain U+0000 written as \u0000). Returns SL_OK; SL_EINVAL when v is not a string
 * (or holds an invalid escape); SL_ENOMEM when the text and its NUL do not fit bufsz (buf untouched). */
int sl_json_get_string(const sl_json_span_t *v, char *buf, size_t bufsz, size_t *out_len);

/* Returns the unescaped length of a STRING span in bytes, or 0 when v is not a valid string. */
size_t sl_json_string_len(const sl_json_span_t *v);

/* Returns 1 when v is a STRING whose unescaped text equals s[0..n), else 0. No copy. */
int sl_json_string_eq(const sl_json_span_t *v, const char *s, size_t n);

/* Returns the index of the first names[i] (text without escapes) equal to the unescaped text of the STRING span v,
 * or -1 (also when v is not a string). A key is matched against several names with one look at its bytes: names
 * are compared by length first, and an escape is looked for only when no name matched the raw text. */
int sl_json_string_index(const sl_json_span_t *v, const sl_json_piece_t *names, size_t num_names);

/* Returns 1 when s[0..n) can be the body of a JSON string as is (valid UTF-8, no control character, no quote or
 * backslash except as part of a valid escape), else 0. */
int sl_json_is_string_body(const char *s, size_t n);

/* Editing without copying (json_scan_edit.c) ----------------------------------------------------------------- */

/* Rewrites the first top-level member `key` of the object document json[0..len) (root from sl_json_parse) so that
 * its value becomes the string whose JSON body (escapes already applied, no quotes) is value[0..value_len); when
 * the member is absent it is inserted as the first member. The result is pieces[0..*num_pieces) (at most
 * SL_JSON_REWRITE_PIECES), whose
 * concatenation is the new document; the bytes of json are not copied. Returns SL_OK; SL_EINVAL when root is not an
 * object, the member exists but is not a string, key needs escaping or value is not a valid string body; SL_EEXIST
 * when key occurs more than once at the top level; SL_ESYNTAX / SL_ENOMEM on malformed input. Outputs untouched on
 * failure. */
int sl_json_rewrite_string(const char *json, size_t len, const sl_json_span_t *root, const char *key, size_t key_len,
                           const char *value, size_t value_len, sl_json_piece_t pieces[SL_JSON_REWRITE_PIECES],
                           size_t *num_pieces);

/* Pieces needed by sl_json_edit_object() for num_edits edits. */
#define SL_JSON_EDIT_PIECES(num_edits) (2 + 4 * (size_t)(num_edits))

/* Sets fields of the object obj, which lies inside the document json[0..len) (obj may be the root or any nested
 * object span of it): a present member gets its value replaced (unless keep_existing), an absent one is appended
 * before the closing brace, in the order given. Produces pieces covering the WHOLE document (bytes before and after
 * obj included). num_edits <= SL_JSON_MAX_EDITS, keys distinct; cap >= SL_JSON_EDIT_PIECES(num_edits) is always
 * enough. Returns SL_OK with pieces[0..*num_pieces); SL_EINVAL when obj is not an object inside json, an edit key
 * needs escaping, keys repeat or num_edits is out of range; SL_EEXIST when an edited key occurs twice in obj;
 * SL_ENOMEM when cap is too small or nesting is too deep; SL_ESYNTAX on malformed input. Outputs untouched on
 * failure. */
int sl_json_edit_object(const char *json, size_t len, const sl_json_span_t *obj, const sl_json_edit_t *edits, size_t num_edits,
                        sl_json_piece_t *pieces, size_t cap, size_t *num_pieces);

/* sl_json_edit_object() for a caller that already knows where the edited members are (a one-pass read found them
 * with sl_json_parse_visit): at[i] is the value of the first member named edits[i].key (p NULL when absent; the
 * caller has checked that none of them occurs twice) and num_members the number of obj's members. Builds the same
 * pieces without walking obj. Returns as sl_json_edit_object(), SL_EINVAL also for an at[i] outside obj (never
 * SL_EEXIST or SL_ESYNTAX: nothing is scanned). */
int sl_json_edit_object_at(const char *json, size_t len, const sl_json_span_t *obj, const sl_json_edit_t *edits,
                           size_t num_edits, const sl_json_span_t *at, size_t num_members, sl_json_piece_t *pieces, size_t cap,
                           size_t *num_pieces);

/* Writes s[0..n) escaped as the body of a JSON string (RFC 8259: quote, backslash and control characters; other
 * bytes as they are) to dst, which must hold 6 * n bytes; returns the bytes written. */
size_t sl_json_escape(const char *s, size_t n, char *dst);

/* Total length of a piece list. */
size_t sl_json_pieces_len(const sl_json_piece_t *pieces, size_t num_pieces);

/* Copies a piece list into dst (which must hold sl_json_pieces_len() bytes); returns the bytes written. */
size_t sl_json_pieces_copy(const sl_json_piece_t *pieces, size_t num_pieces, char *dst);

#endif
