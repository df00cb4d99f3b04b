/*
 * bench_monitor_glue.c - what model monitoring costs a worker per request in the gateway (gateway/monitor_observe.c):
 * sl_gw_monitor_answer on an accepted whole answer - fill the monitor's input from the request the proxy already
 * read, read the prediction from the answer's bytes, then the policy's observe (bench_monitor.c measures that alone).
 * The route monitors the same ten features as bench_monitor.c on the same kind of 1.9 KB chat request, with the
 * prediction either a label in a 240-byte answer (one more validating pass over the answer) or a logprob_mean signal
 * the tier's judge did not extract (the adapter decodes the 333-byte answer). Feedback on. One thread, no I/O;
 * the mean over batches of 1000 requests in the thread's CPU time; the control step runs between batches. Then the
 * relay of a passing stream per event, without and with the decoding a monitored signal adds (cascade_sse.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/adapter.h"
#include "common/clock.h"
#include "common/json_scan.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "conf/snapshot.h"
#include "gateway/cascade.h"
#include "gateway/gw.h"
#include "gateway/monitor_glue.h"

static const char *const config = "backends: {small: {protocol: openai, endpoints: 127.0.0.1:8001}}\n"
                                  "routes:\n"
                                  "  - name: chat\n"
                                  "    cascade: [{backend: small}]\n"
                                  "    monitor:\n"
                                  "      prediction: {%s}\n"
                                  "      features:\n"
                                  "        - {name: prompt_tokens}\n"
                                  "        - {name: message_count}\n"
                                  "        - {name: output_tokens}\n"
                                  "        - {name: temperature, source: /temperature}\n"
                                  "        - {name: max_tokens, source: /max_completion_tokens}\n"
                                  "        - {name: top_p, source: /top_p}\n"
                                  "        - {name: lang, source: /metadata/lang, type: categorical}\n"
                                  "        - {name: team, source: /metadata/team, type: categorical}\n"
                                  "        - {name: tier, source: /metadata/tier, type: categorical}\n"
                                  "        - {name: model, source: /model, type: categorical}\n"
                                  "      reference: {baseline_samples: 1000}\n"
                                  "      feedback: {task: %s}\n";

static const char label_answer[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"positive\"},\"finish_reason\":\"stop\"}],\"usage\":{"
    "\"prompt_tokens\":450,\"completion_tokens\":1,\"total_tokens\":451}}";
static const char logprob_answer[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"positive\"},\"logprobs\":{\"content\":[{\"token\":\"positive\","
    "\"logprob\":-0.22,\"bytes\":null,\"top_logprobs\":[]}]},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":"
    "450,\"completion_tokens\":1,\"total_tokens\":451}}";

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void no_dispose(sl_snapshot_t *s)
{
    (void)s;
}

/* A chat request of about 1.9 KB, as bench_monitor.c's. */
static size_t make_request(char *buf, size_t cap)
{
    size_t w = (size_t)snprintf(buf, cap,
                                "{\"model\":\"gpt-4o-mini\",\"temperature\":0.3,\"top_p\":0.95,\"max_completion_tokens\":500,"
                                "\"messages\":[{\"role\":\"system\",\"content\":\"You are a careful technical writer. "
                                "Answer in plain English.\"}");
    for (int round = 0; w < 1750; ++round)
        w += (size_t)snprintf(buf + w, cap - w,
                              ",{\"role\":\"%s\",\"content\":\"The ingestion pipeline stalled at 02:14 UTC when the "
                              "schema registry rejected a new field; consumers retried with backoff.\"}",
                              round % 2 ? "assistant" : "user");
    w += (size_t)snprintf(buf + w, cap - w, "],\"metadata\":{\"lang\":\"fr\",\"team\":\"sre\",\"tier\":\"gold\"},\"stream\":false}");
    return w;
}

static int run(const char *prediction, const char *task, const char *answer, size_t n)
{
    static sl_gw_t gw;
    static sl_gw_worker_t w;
    static h2o_req_t req;
    static sl_gw_gen_t gen;
    static sl_gw_backend_rt_t backend;
    static sl_gw_route_rt_t route;
    static char body[4096];
    char text[4096], err[512];
    memset(&gw, 0, sizeof(gw));
    memset(&gen, 0, sizeof(gen));
    snprintf(text, sizeof(text), config, prediction, task);
    sl_conf_errors_t errs;
    sl_conf_t *conf;
    sl_conf_errors_init(&errs);
    if (sl_conf_load_string("bench.yaml", text, strlen(text), &conf, &errs) != SL_OK) {
        fprintf(stderr, "bench: %s\n", sl_conf_errors_get(&errs, 0));
        return 1;
    }
    sl_conf_errors_dispose(&errs);
    sl_snapshot_init(&gen.super, no_dispose);
    gen.conf = conf;
    backend.conf = &conf->backends[0];
    route.conf = &conf->routes[0];
    gen.backends = &backend;
    gen.routes = &route;
    sl_snapshot_slot_init(&gw.slot, &gen.super);
    gw.server.num_threads = 1;
    if (sl_gw_monitor_start(&gw, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    /* the request as the proxy leaves it: read once (routing, the cascade's facts) */
    size_t len = make_request(body, sizeof(body));
    const sl_adapter_t *a = sl_adapter_get(SL_PROTOCOL_OPENAI);
    sl_proxy_t p;
    memset(&p, 0, sizeof(p));
    p.req = &req;
    p.w = &w;
    p.gen = &gen;
    p.route = &route;
    p.backend = &backend;
    p.body = body;
    p.body_len = len;
    p.request_id = h2o_iovec_init("3f2b8c1e-9a4d-4c6b-8f1e-000000000001", 36);
    p.usage.has_completion = 1;
    p.usage.completion_tokens = 1;
    if (sl_json_parse(body, len, &p.root) != SL_OK || a->inspect(&p.root, &p.cas.facts.body) != SL_OK) {
        fprintf(stderr, "bench: the request does not parse\n");
        return 1;
    }
    h2o_buffer_t *b;
    h2o_buffer_init(&b, &h2o_socket_buffer_prototype);
    h2o_iovec_t room = h2o_buffer_reserve(&b, strlen(answer));
    memcpy(room.base, answer, strlen(answer));
    b->size = strlen(answer);
    uint64_t total = 0;
    for (size_t i = 0; i != n / 1000; ++i) {
        uint64_t t0 = cpu_ns();
        for (int k = 0; k != 1000; ++k) {
            p.mon_observed = 0;
            sl_gw_monitor_answer(&p, b);
        }
        total += cpu_ns() - t0;
        sl_gw_monitor_tick(&gw, &gen, sl_clock_now_us() / 1000);
    }
    printf("%-38s answer %3zu B  mean %5.0f ns of CPU time per request (n=%zu)\n", prediction, strlen(answer),
           (double)total / (double)(n / 1000 * 1000), n / 1000 * 1000);
    h2o_buffer_dispose(&b);
    sl_gw_monitor_dispose(&gw);
    sl_snapshot_slot_dispose(&gw.slot);
    sl_conf_release(conf);
    return 0;
}

/* One content event of an openai stream with the chosen token's logprob, as a monitored logprob_mean asks for. */
static const char stream_event[] =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"small\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"content\":\" positive\"},\"logprobs\":{\"content\":[{\"token\":\" positive\","
    "\"logprob\":-0.105,\"bytes\":[32,112,111,115,105,116,105,118,101],\"top_logprobs\":[]}]},\"finish_reason\":null}]}\n\n";

static void *bench_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n); /* never reached: the scratch holds every event here */
}

/* The relay of a passing stream, per event: filtered for a client that asked for nothing (logprobs stripped), without
 * and with the decoding a monitored signal adds (sl_cascade_sse_filter with a watch). */
static int run_stream(size_t n)
{
    static const char client[] = "{\"messages\":[],\"stream\":true}";
    static char mem[SL_CASCADE_SCRATCH];
    sl_json_span_t root;
    sl_adapter_request_t rq;
    const sl_adapter_t *a = sl_adapter_get(SL_PROTOCOL_OPENAI);
    if (sl_json_parse(client, sizeof(client) - 1, &root) != SL_OK || a->inspect(&root, &rq) != SL_OK)
        return 1;
    sl_cascade_scratch_t scratch;
    sl_cascade_scratch_init(&scratch, mem, sizeof(mem), (sl_adapter_alloc_t){bench_alloc, NULL});
    h2o_buffer_t *out;
    h2o_buffer_init(&out, &h2o_socket_buffer_prototype);
    for (int watched = 0; watched != 2; ++watched) {
        sl_cascade_watch_t watch;
        memset(&watch, 0, sizeof(watch));
        sl_adapter_stream_init(&watch.state);
        uint64_t t0 = cpu_ns();
        for (size_t i = 0; i != n; ++i) {
            sl_cascade_sse_filter(a, &rq, stream_event, sizeof(stream_event) - 1, 1, &out, &scratch, watched ? &watch : NULL);
            h2o_buffer_consume(&out, out->size);
        }
        printf("%-38s event %4zu B  mean %5.0f ns of CPU time per event (n=%zu)\n",
               watched ? "stream relay + decode (logprob_mean)" : "stream relay, logprobs stripped", sizeof(stream_event) - 1,
               (double)(cpu_ns() - t0) / (double)n, n);
        if (watched && watch.state.logprob_count != n)
            return 1;
    }
    h2o_buffer_dispose(&out);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    if (n < 1000)
        n = 1000;
    sl_log_level = -1;
    return run("label: /choices/0/message/content", "classification, labels: [positive, negative]", label_answer, n) ||
           run("signal: logprob_mean", "regression", logprob_answer, n) || run_stream(n);
}
