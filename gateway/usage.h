/*
 * usage.h - token counts from an OpenAI-style "usage" object, found by scanning the answer as it streams past,
 * never by parsing it: the proxy feeds every body piece once, in order, and reads the last counts seen.
 *
 * The scanner looks for the members "prompt_tokens" and "completion_tokens" followed by ':' and an unsigned
 * integer, anywhere in the bytes (the usage object of a whole answer, or the usage chunk of an SSE stream). A
 * quote inside a JSON string is always escaped, so the exact text "prompt_tokens" with its quotes cannot come
 * from answer content. Pieces may split a member anywhere: the scanner keeps the last bytes of each piece. A
 * member counts only when its text, from its opening quote to the byte after its digits, fits in
 * SL_GW_USAGE_CARRY bytes (whitespace included), so that where the pieces are cut never changes what is found.
 * "usage": null and non-integer values are ignored. Fixed memory, no allocation, O(n) with memchr. Any thread.
 */
#ifndef SL_GATEWAY_USAGE_H
#define SL_GATEWAY_USAGE_H

#include <stddef.h>
#include <stdint.h>

#define SL_GW_USAGE_CARRY 64 /* longest member text read: "completion_tokens" : 1234567890123456789, is 42 */

typedef struct st_sl_gw_usage_t {
    uint64_t prompt_tokens;
    uint64_t completion_tokens;
    int has_prompt, has_completion;
    char carry[SL_GW_USAGE_CARRY];
    size_t carry_len;
} sl_gw_usage_t;

void sl_gw_usage_init(sl_gw_usage_t *u);

/* Scans the next n bytes of the answer. */
void sl_gw_usage_feed(sl_gw_usage_t *u, const char *p, size_t n);

#endif
