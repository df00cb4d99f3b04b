#include <criterion/criterion.h>
#include <string.h>

#include "gateway/usage.h"

static const char body[] =
    "{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
    "\"the \\\"prompt_tokens\\\": 999 trick\"}}],\"usage\":{\"prompt_tokens\":17,\"completion_tokens\":  42,"
    "\"total_tokens\":59}}";

Test(usage, whole_body)
{
    sl_gw_usage_t u;
    sl_gw_usage_init(&u);
    sl_gw_usage_feed(&u, body, strlen(body));
    cr_assert_eq(u.has_prompt, 1);
    cr_assert_eq(u.has_completion, 1);
    cr_assert_eq(u.prompt_tokens, 17);
    cr_assert_eq(u.completion_tokens, 42);
}

/* Every two-piece split of text gives has/value as fed whole. */
static void expect_every_split(const char *text, int has_prompt, uint64_t prompt, int has_completion, uint64_t completion)
{
    size_t n = strlen(text);
    for (size_t cut = 0; cut <= n; ++cut) {
        sl_gw_usage_t u;
        sl_gw_usage_init(&u);
        sl_gw_usage_feed(&u, text, cut);
        sl_gw_usage_feed(&u, text + cut, n - cut);
        cr_assert_eq(u.has_prompt, has_prompt, "%s cut at %zu", text, cut);
        cr_assert_eq(u.prompt_tokens, prompt, "%s cut at %zu", text, cut);
        cr_assert_eq(u.has_completion, has_completion, "%s cut at %zu", text, cut);
        cr_assert_eq(u.completion_tokens, completion, "%s cut at %zu", text, cut);
    }
}

Test(usage, every_split_point_and_byte_by_byte)
{
    expect_every_split(body, 1, 17, 1, 42);
    size_t n = strlen(body);
    sl_gw_usage_t u;
    sl_gw_usage_init(&u);
    for (size_t i = 0; i != n; ++i)
        sl_gw_usage_feed(&u, body + i, 1);
    cr_assert_eq(u.prompt_tokens, 17);
    cr_assert_eq(u.completion_tokens, 42);
}

Test(usage, sse_stream_last_usage_wins_and_null_is_ignored)
{
    const char *events[] = {
        "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n",
        "data: [DONE]\n\n",
    };
    sl_gw_usage_t u;
    sl_gw_usage_init(&u);
    sl_gw_usage_feed(&u, events[0], strlen(events[0]));
    cr_assert_eq(u.has_prompt, 0);
    for (int i = 1; i != 4; ++i)
        sl_gw_usage_feed(&u, events[i], strlen(events[i]));
    cr_assert_eq(u.prompt_tokens, 5);
    cr_assert_eq(u.completion_tokens, 3);
}

Test(usage, incomplete_or_malformed_values_are_not_counted)
{
    const char *texts[] = {"{\"prompt_tokens\":12",  "{\"prompt_tokens\":\"12\"}", "{\"prompt_tokens\" 12}",
                           "{\"prompt_tokens\":-1}", "{\"xprompt_tokens\":3}",     "{\"prompt_tokens\":99999999999999999999}"};
    for (size_t i = 0; i != sizeof(texts) / sizeof(texts[0]); ++i) {
        sl_gw_usage_t u;
        sl_gw_usage_init(&u);
        sl_gw_usage_feed(&u, texts[i], strlen(texts[i]));
        cr_assert_eq(u.has_prompt, 0, "%s", texts[i]);
    }
}

/* A member longer than the bytes kept across pieces was found in a whole body and lost when a piece ended inside it
 * (19 digits with a space on each side of the colon; whitespace before the value). Now the longest member read is
 * SL_GW_USAGE_CARRY bytes from its opening quote to the byte after its digits, wherever the pieces are cut. */
Test(usage, long_members_count_the_same_at_every_split)
{
    expect_every_split("{\"completion_tokens\" : 1234567890123456789}", 0, 0, 1, 1234567890123456789u);
    expect_every_split("{\"prompt_tokens\":                              7,\"completion_tokens\":\n\n\n\n\n\n\n\n\n8}", 1, 7,
                       1, 8);
    expect_every_split("{\"prompt_tokens\":                                                               5}", 0, 0, 0, 0);
}
