/*
 * json_scan_internal.h - scanner primitives shared by the json_scan*.c files; not for use elsewhere.
 */
#ifndef SL_COMMON_JSON_SCAN_INTERNAL_H
#define SL_COMMON_JSON_SCAN_INTERNAL_H

#include "common/json_scan.h"

/* Length of the valid UTF-8 sequence starting with the non-ASCII byte at p (RFC 3629), or 0. */
size_t sl_json__utf8_len(const unsigned char *p, const unsigned char *end);

/* Decodes one \u escape (p at the 'u'), pairing surrogates: the byte after it with the code point in *cp, or NULL
 * when invalid (bad hex, lone or reversed surrogate). */
const char *sl_json__decode_u(const char *p, const char *end, unsigned long *cp);

/* Scans an RFC 8259 number (p at '-' or a digit): the byte after it, or NULL. */
const char *sl_json__scan_number(const char *p, const char *end);

#endif
