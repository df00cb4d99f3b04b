/*
 * fuzz_usage.c - libFuzzer target for the token-usage scanner (gateway/usage.c), which reads the "usage" counts out
 * of an upstream answer as its body streams past. The answer is the model server's, so any bytes. Oracle: the
 * counts found when the body is fed in one call equal those found when it is fed in the pieces the input chooses
 * (tests/fuzz/split.h), as socket reads would cut it; no crash, leak or sanitizer report.
 * Run by scripts/fuzz, built only with -Dfuzz=true.
 */
#include <stdlib.h>
#include <string.h>

#include "gateway/usage.h"
#include "split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_fuzz_split_t s;
    if (sl_fuzz_split_read(data, size, &s) != 0)
        return 0;
    char *body = sl_fuzz_split_copy(&s);

    sl_gw_usage_t whole, pieces;
    sl_gw_usage_init(&whole);
    sl_gw_usage_feed(&whole, body, s.len);
    sl_gw_usage_init(&pieces);
    size_t pos = 0;
    for (size_t i = 0; i <= s.num_cuts; ++i) {
        size_t end = sl_fuzz_split_end(&s, i, s.len);
        char *piece = malloc(end - pos + 1); /* each piece its own allocation: ASan sees a read past it */
        memcpy(piece, body + pos, end - pos);
        sl_gw_usage_feed(&pieces, piece, end - pos);
        free(piece);
        pos = end;
    }
    if (whole.has_prompt != pieces.has_prompt || whole.has_completion != pieces.has_completion ||
        (whole.has_prompt && whole.prompt_tokens != pieces.prompt_tokens) ||
        (whole.has_completion && whole.completion_tokens != pieces.completion_tokens))
        abort();
    if ((!whole.has_prompt && whole.prompt_tokens != 0) || (!whole.has_completion && whole.completion_tokens != 0))
        abort();
    free(body);
    return 0;
}
