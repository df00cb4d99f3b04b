/*
 * bench_router.c - microbenchmark of the per-request decision path: the cascade plan plus the judge of each
 * attempt (router/plan.h), and the JSON work the gateway does on a request body (common/json_scan.h, the adapters'
 * read and encode: openai; http and kserve_v2 beside the parse + inspect they replaced).
 *
 * Decisions are timed one by one with the monotonic clock (the clock's own cost, measured and printed, is
 * included in each sample); percentiles come from sorting every sample. The scanner is timed in batches.
 * Usage: bench_router [decisions]   (default 1000000). Not run by the test suite.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/adapter.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/json_scan.h"
#include "common/status.h"
#include "router/facts.h"
#include "router/plan.h"

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, size_t n)
{
    qsort(ns, n, sizeof(*ns), cmp_u64);
    printf("%-34s n=%zu  p50 %4llu ns  p90 %4llu ns  p99 %4llu ns  p99.9 %5llu ns  max %llu ns\n", what, n,
           (unsigned long long)ns[n / 2], (unsigned long long)ns[n * 90 / 100], (unsigned long long)ns[n * 99 / 100],
           (unsigned long long)ns[n * 999 / 1000], (unsigned long long)ns[n - 1]);
}

/* A chat request of about 2 KiB: a system prompt, a few turns, metadata; the shape the gateway sees most. */
static size_t make_chat_request(char *buf, size_t cap)
{
    static const char *const turns[] = {
        "Summarise the attached incident report in three bullet points for the on-call channel.",
        "The ingestion pipeline stalled at 02:14 UTC when the schema registry rejected a new field; consumers "
        "retried with exponential backoff and the lag peaked at 41 minutes before a manual rollback.",
        "- Schema change rejected at 02:14 UTC\\n- Consumer lag peaked at 41 min\\n- Rolled back manually",
        "Now rewrite it for customers, without internal names, and add an apology.",
    };
    size_t w = (size_t)snprintf(buf, cap,
                                "{\"model\":\"gpt-4o-mini\",\"temperature\":0.2,\"max_completion_tokens\":512,"
                                "\"metadata\":{\"lang\":\"en\",\"team\":\"sre\"},\"messages\":[{\"role\":\"system\","
                                "\"content\":\"You are a careful technical writer. Answer in plain English.\"}");
    for (int round = 0; w < 1900; ++round)
        w += (size_t)snprintf(buf + w, cap - w, ",{\"role\":\"%s\",\"content\":\"%s\"}", round % 2 ? "assistant" : "user",
                              turns[round % 4]);
    w += (size_t)snprintf(buf + w, cap - w, "],\"stream\":false}");
    return w;
}

/* A request of about 1.5 KiB to a JSON-over-HTTP model service (protocol http): a model, text, options, tags. */
static size_t make_http_request(char *buf, size_t cap)
{
    size_t w = (size_t)snprintf(buf, cap,
                                "{\"model\":\"sentiment-v3\",\"options\":{\"lang\":\"en\",\"top_k\":3,\"explain\":false},"
                                "\"tags\":[\"support\",\"billing\",\"priority-2\"],\"documents\":[");
    for (int i = 0; w < 1400; ++i)
        w += (size_t)snprintf(buf + w, cap - w,
                              "%s{\"id\":%d,\"text\":\"The invoice for March was charged twice and "
                              "the refund has not arrived after ten days.\",\"weight\":0.%d}",
                              i ? "," : "", i, i % 10);
    w += (size_t)snprintf(buf + w, cap - w, "],\"stream\":false}");
    return w;
}

/* A KServe v2 inference request of about 1.5 KiB: a BYTES input of a few sentences and an INT64 tensor. */
static size_t make_kserve_request(char *buf, size_t cap)
{
    size_t w = (size_t)snprintf(buf, cap,
                                "{\"id\":\"42\",\"inputs\":[{\"name\":\"text\",\"shape\":[4],"
                                "\"datatype\":\"BYTES\",\"data\":[");
    for (int i = 0; i != 4; ++i)
        w += (size_t)snprintf(buf + w, cap - w, "%s\"Customer %d reports that the export job times out after 30 s.\"",
                              i ? "," : "", i);
    w += (size_t)snprintf(buf + w, cap - w, "]},{\"name\":\"mask\",\"shape\":[1,128],\"datatype\":\"INT64\",\"data\":[[");
    for (int i = 0; i != 128 && w < 1500; ++i)
        w += (size_t)snprintf(buf + w, cap - w, "%s%d", i ? "," : "", (i * 7919) % 30522);
    w += (size_t)snprintf(buf + w, cap - w, "]]}],\"parameters\":{\"binary_data_output\":false}}");
    return w;
}

static const char *header_get(void *ctx, const char *name, size_t name_len, size_t *value_len)
{
    static const char *const kv[] = {"x-tier", "silver", "x-user-id", "u-123456", NULL};
    for (const char *const *p = kv; p[0] != NULL; p += 2)
        if (strlen(p[0]) == name_len && memcmp(p[0], name, name_len) == 0) {
            *value_len = strlen(p[1]);
            return p[1];
        }
    return NULL;
}

static void *bump_alloc(void *ctx, size_t n)
{
    char **p = ctx;
    void *r = *p;
    *p += (n + 15) & ~(size_t)15;
    return r;
}

/* The body work of one request with adapter a, the way the gateway does it (one_pass: sl_adapter_read, the
 * adapter's one walk) or the way it did before the adapter had a read (sl_json_parse, then inspect walking the
 * root again, then encode looking "model" up again), then encode for a backend model. Returns something of the
 * result so that the optimiser keeps the work. */
static uint64_t body_work(const sl_adapter_t *a, const char *body, size_t len, int one_pass, char *pool)
{
    char *cursor = pool;
    sl_adapter_alloc_t alloc = {bump_alloc, &cursor};
    sl_json_span_t root;
    sl_adapter_request_t req;
    sl_adapter_body_t up = {NULL, 0, 0};
    sl_adapter_want_t want = {"llama-8b", NULL};
    if (one_pass)
        a->read(body, len, &root, &req);
    else if (sl_json_parse(body, len, &root) != SL_OK || a->inspect(&root, &req) != SL_OK)
        return 0;
    a->encode(body, len, &req, &want, &alloc, &up);
    return up.len + req.prompt_tokens;
}

/* Both ways of body_work, batch by batch in turn (the machine's load falls on both alike); prints each and their
 * ratio of medians. */
static void compare_reads(const char *name, const char *body, size_t len, const sl_adapter_t *a, uint64_t *ns, size_t batches,
                          char *pool, uint64_t *sink)
{
    uint64_t *before = ns, *after = ns + batches;
    sl_json_span_t root;
    sl_adapter_request_t req;
    if (a->read(body, len, &root, &req) != SL_OK || req.prompt_bytes == 0) {
        fprintf(stderr, "bench: the %s request does not read\n", name);
        exit(1);
    }
    for (size_t b = 0; b != batches; ++b) {
        for (int one_pass = 0; one_pass != 2; ++one_pass) {
            uint64_t t0 = sl_clock_now_ns();
            for (int k = 0; k != 100; ++k)
                *sink += body_work(a, body, len, one_pass, pool);
            (one_pass ? after : before)[b] = (sl_clock_now_ns() - t0) / 100;
        }
    }
    char what[64];
    snprintf(what, sizeof(what), "parse + inspect + encode (%s)", name);
    report(what, before, batches);
    snprintf(what, sizeof(what), "read + encode (%s)", name);
    report(what, after, batches);
    printf("  %s %zu-byte request: one pass %.2fx faster at p50\n", name, len,
           (double)before[batches / 2] / (double)(after[batches / 2] != 0 ? after[batches / 2] : 1));
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    if (n < 1000)
        n = 1000;
    char body[4096];
    size_t body_len = make_chat_request(body, sizeof(body));

    /* the route: small (accept logprob_mean >= -0.35, skipped for long prompts or gold users), medium (skipped for
     * German), large (last) */
    sl_conf_backend_t backends[3] = {{.name = "small", .model = "llama-8b"}, {.name = "medium"}, {.name = "large"}};
    sl_conf_cond_t small_skip[2] = {{SL_FACT_PROMPT_TOKENS, NULL, SL_CMP_GT, 1, 4000, NULL},
                                    {SL_FACT_HEADER, "x-tier", SL_CMP_EQ, 0, 0, "gold"}};
    sl_conf_cond_t medium_skip[1] = {{SL_FACT_JSON, "/metadata/lang", SL_CMP_EQ, 0, 0, "de"}};
    sl_conf_tier_t tiers[3] = {
        {.backend = &backends[0],
         .has_accept = 1,
         .accept = {{SL_SIGNAL_LOGPROB_MEAN, NULL}, 1, 0, -0.35, 0},
         .skip_when = small_skip,
         .num_skip_when = 2,
         .escalate_on = SL_CONF_ESCALATE_ALL,
         .latency_budget_ms = 800},
        {.backend = &backends[1],
         .has_accept = 1,
         .accept = {{SL_SIGNAL_LOGPROB_MEAN, NULL}, 1, 0, -0.6, 0},
         .skip_when = medium_skip,
         .num_skip_when = 1,
         .escalate_on = SL_CONF_ESCALATE_ALL},
        {.backend = &backends[2], .escalate_on = SL_CONF_ESCALATE_ALL},
    };
    sl_conf_route_t route = {.name = "chat", .tiers = tiers, .num_tiers = 3};

    sl_router_facts_t http = {.path = "/v1/chat/completions", .path_len = 20, .header = header_get};
    sl_facts_t facts;
    sl_facts_init(&facts, &http);
    sl_json_span_t body_root;
    if (sl_adapter_read(&sl_adapter_openai, body, body_len, &body_root, &facts.body) != SL_OK) {
        fprintf(stderr, "bench: request body does not parse\n");
        return 1;
    }

    uint64_t *ns = sl_malloc(n * sizeof(*ns)), seed = 0x853c49e6748fea9bu, sink = 0;

    /* the clock's own cost */
    for (size_t i = 0; i != n; ++i) {
        uint64_t t0 = sl_clock_now_ns();
        ns[i] = sl_clock_now_ns() - t0;
    }
    report("clock_gettime pair (overhead)", ns, n);

    /* one decision = plan + judge of every attempt until accept/fail; signals drawn so that about half of the
     * requests escalate, with a failure now and then */
    for (size_t i = 0; i != n; ++i) {
        uint64_t r = xorshift(&seed);
        sl_signal_t sig = {SL_SIGNAL_VALUE, -(double)(r % 1000) / 1000.0, NULL};
        if (r % 97 == 0)
            sig.state = SL_SIGNAL_MISSING;
        sl_judge_input_t in = {(r >> 20) % 50 == 0 ? SL_FAILURE_UPSTREAM_5XX : SL_FAILURE_NONE, &sig, 0, 0};
        uint64_t t0 = sl_clock_now_ns();
        sl_plan_t plan;
        sl_judge_t j = {SL_VERDICT_ESCALATE, SL_REASON_CONFIDENT, SL_FAILURE_NONE};
        sl_router_plan(&route, &facts, r, &plan);
        for (size_t s = 0; s != plan.num_steps && j.verdict == SL_VERDICT_ESCALATE; ++s)
            sl_router_judge(&plan, s, &in, &j);
        ns[i] = sl_clock_now_ns() - t0;
        sink += j.reason + plan.num_steps;
    }
    report("plan + judge (one decision)", ns, n);

    /* the scanner on the 2 KiB request, in batches of 100 parses */
    size_t batches = n / 100 < 10000 ? n / 100 : 10000;
    uint64_t total = 0;
    for (size_t b = 0; b != batches; ++b) {
        uint64_t t0 = sl_clock_now_ns();
        for (int k = 0; k != 100; ++k) {
            sl_json_span_t root;
            sink += (uint64_t)sl_json_parse(body, body_len, &root) + root.len;
        }
        ns[b] = (sl_clock_now_ns() - t0) / 100;
        total += ns[b] * 100;
    }
    printf("json_scan validate %zu-byte chat request: %.0f ns/parse, %.0f MB/s\n", body_len,
           (double)total / (double)(batches * 100), (double)body_len * (double)(batches * 100) * 1e3 / (double)total);
    report("  per parse (batch means)", ns, batches);

    /* what the gateway does once per request and per attempt: read (validate and collect the facts in one pass),
     * then encode for the small tier */
    static char pool[1 << 16];
    for (size_t b = 0; b != batches; ++b) {
        uint64_t t0 = sl_clock_now_ns();
        for (int k = 0; k != 100; ++k) {
            char *cursor = pool;
            sl_adapter_alloc_t alloc = {bump_alloc, &cursor};
            sl_json_span_t root;
            sl_adapter_request_t req;
            sl_adapter_body_t up;
            sl_conf_signal_t sig = {SL_SIGNAL_LOGPROB_MEAN, NULL};
            sl_adapter_want_t want = {"llama-8b", &sig};
            sl_adapter_read(&sl_adapter_openai, body, body_len, &root, &req);
            sl_adapter_openai.encode(body, body_len, &req, &want, &alloc, &up);
            sink += up.len + req.prompt_tokens;
        }
        ns[b] = (sl_clock_now_ns() - t0) / 100;
    }
    report("read + encode (openai)", ns, batches);

    /* the two adapters whose read came after openai's, against the parse + inspect they did before (same run) */
    char other[4096];
    size_t other_len = make_http_request(other, sizeof(other));
    compare_reads("http", other, other_len, &sl_adapter_http, ns, batches, pool, &sink);
    other_len = make_kserve_request(other, sizeof(other));
    compare_reads("kserve_v2", other, other_len, &sl_adapter_kserve_v2, ns, batches, pool, &sink);

    sl_free(ns);
    return sink == 42 ? 2 : 0; /* keeps the work observable to the optimiser */
}
