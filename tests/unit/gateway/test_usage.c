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

Test(usage, every_split_point_and_byte_by_byte)
{
    size_t n = strlen(body);
    for (size_t cut = 0; cut <= n; ++cut) {
        sl_gw_usage_t u;
        sl_gw_usage_init(&u);
        sl_gw_usage_feed(&u, body, cut);
        sl_gw_usage_feed(&u, body + cut, n - cut);
        cr_assert_eq(u.prompt_tokens, 17, "cut at %zu", cut);
        cr_assert_eq(u.completion_tokens, 42, "cut at %zu", cut);
    }
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
