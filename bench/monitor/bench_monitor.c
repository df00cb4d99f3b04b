/*
 * bench_monitor.c - microbenchmark of model monitoring: the worker's cost per request (sl_monitor_observe: extract
 * ten features and the prediction from a chat request and its answer, count them in the worker's shard, queue the
 * prediction for feedback), and the control thread's costs (a tick, a full evaluation of the measures).
 *
 * The goal is under 2 us per request for ten features on the data path. Requests are timed one by one with the
 * monotonic clock (the clock pair's own cost is measured and printed, and included in each sample), and also in
 * batches of 4096 measured in the thread's CPU time (no clock in the loop, and preemption on a busy machine does not
 * count). The feedback rings are drained between batches, outside the timed region, as the
 * control thread's tick would do. Usage: bench_monitor [requests] (default 1000000). Not run by the test suite.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/json_scan.h"
#include "common/status.h"
#include "conf/conf.h"
#include "policies/monitor.h"
#include "stats/reservoir.h"

static const char *const config = "backends: {small: {protocol: openai, endpoints: 127.0.0.1:8001}}\n"
                                  "routes:\n"
                                  "  - name: chat\n"
                                  "    cascade: [{backend: small}]\n"
                                  "    monitor:\n"
                                  "      prediction: {signal: logprob_mean}\n"
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
                                  "      reference: {baseline_samples: 20000}\n"
                                  "      feedback: {task: regression}\n";

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, size_t n)
{
    qsort(ns, n, sizeof(*ns), cmp_u64);
    printf("%-38s n=%zu  p50 %5llu ns  p90 %5llu ns  p99 %5llu ns  p99.9 %6llu ns  max %llu ns\n", what, n,
           (unsigned long long)ns[n / 2], (unsigned long long)ns[n * 90 / 100], (unsigned long long)ns[n * 99 / 100],
           (unsigned long long)ns[n * 999 / 1000], (unsigned long long)ns[n - 1]);
}

/* A chat request of about 2 KiB (system prompt, turns, sampling parameters, metadata), varied per index. */
static size_t make_request(char *buf, size_t cap, uint64_t r)
{
    static const char *const langs[] = {"en", "fr", "de", "es", "it", "pt", "nl", "ja"};
    static const char *const teams[] = {"sre", "search", "billing", "support"};
    size_t w = (size_t)snprintf(buf, cap,
                                "{\"model\":\"gpt-4o-mini\",\"temperature\":%.2f,\"top_p\":0.95,"
                                "\"max_completion_tokens\":%u,\"messages\":[{\"role\":\"system\",\"content\":\"You are a "
                                "careful technical writer. Answer in plain English.\"}",
                                (double)(r % 100) / 100, (unsigned)(256 + r % 768));
    for (int round = 0; w < 1750; ++round)
        w += (size_t)snprintf(buf + w, cap - w,
                              ",{\"role\":\"%s\",\"content\":\"The ingestion pipeline stalled at 02:14 UTC when the "
                              "schema registry rejected a new field; consumers retried with backoff.\"}",
                              round % 2 ? "assistant" : "user");
    w +=
        (size_t)snprintf(buf + w, cap - w, "],\"metadata\":{\"lang\":\"%s\",\"team\":\"%s\",\"tier\":\"%s\"},\"stream\":false}",
                         langs[r % 8], teams[(r >> 8) % 4], (r >> 16) % 5 ? "silver" : "gold");
    return w;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    enum { BODIES = 64, BATCH = 4096 };
    if (n < BATCH)
        n = BATCH;
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    if (sl_conf_load_string("bench.yaml", config, strlen(config), &conf, &errs) != SL_OK) {
        fprintf(stderr, "bench: %s\n", errs.msgs[0]);
        return 1;
    }
    sl_conf_errors_dispose(&errs);
    sl_monitor_t *m;
    char err[512];
    if (sl_monitor_create(conf, 1, 0, &m, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }

    /* distinct bodies, parsed once (the gateway parses every body anyway, for routing) */
    static char bodies[BODIES][4096];
    static sl_monitor_input_t inputs[BODIES];
    static char ids[BODIES][40];
    uint64_t seed = 0x853c49e6748fea9bu;
    size_t body_len = 0;
    for (int i = 0; i != BODIES; ++i) {
        sl_monitor_input_t *in = &inputs[i];
        body_len = make_request(bodies[i], sizeof(bodies[i]), sl_reservoir_splitmix64(&seed));
        memset(in, 0, sizeof(*in));
        if (sl_json_parse(bodies[i], body_len, &in->request) != SL_OK) {
            fprintf(stderr, "bench: request body does not parse\n");
            return 1;
        }
        in->response.type = SL_JSON_INVALID;
        in->prompt_tokens = 300 + (uint64_t)i;
        in->message_count_state = in->output_tokens_state = in->signal_state = SL_MONITOR_PRESENT;
        in->message_count = 12;
        in->output_tokens = 100 + (uint64_t)i * 7;
        in->signal = -(double)i / 100;
        snprintf(ids[i], sizeof(ids[i]), "3f2b8c1e-9a4d-4c6b-8f1e-%012d", i);
        in->request_id = ids[i];
        in->request_id_len = strlen(ids[i]);
    }
    printf("request body: %zu bytes; 10 features (3 derived, 3 numeric and 4 categorical by JSON pointer) and the "
           "prediction; feedback on\n",
           body_len);

    uint64_t now = 1, *ns = sl_malloc(n * sizeof(*ns));
    /* warm up and close the baseline capture, so the timed requests take the binned path */
    for (size_t i = 0; i != 25000; ++i) {
        sl_monitor_observe(m, 0, 0, &inputs[i % BODIES]);
        if (i % BATCH == BATCH - 1)
            sl_monitor_tick(m, now += 100);
    }
    sl_monitor_tick(m, now += 100);
    if (sl_monitor_route(m, 0)->model == NULL) {
        fprintf(stderr, "bench: the baseline did not close\n");
        return 1;
    }

    for (size_t i = 0; i != n; ++i) {
        uint64_t t0 = sl_clock_now_ns();
        ns[i] = sl_clock_now_ns() - t0;
    }
    report("clock_gettime pair (overhead)", ns, n);

    for (size_t i = 0; i != n; ++i) {
        const sl_monitor_input_t *in = &inputs[i % BODIES];
        uint64_t t0 = sl_clock_now_ns();
        sl_monitor_observe(m, 0, 0, in);
        ns[i] = sl_clock_now_ns() - t0;
        if (i % BATCH == BATCH - 1)
            sl_monitor_tick(m, now += 100); /* drain the feedback ring, as the control thread does */
    }
    report("observe (extract + record + queue)", ns, n);

    /* the mean in CPU time of this thread, which a loaded machine's preemptions do not inflate */
    uint64_t total = 0;
    for (size_t done = 0; done < n; done += BATCH) {
        uint64_t t0 = cpu_ns();
        for (size_t i = 0; i != BATCH; ++i)
            sl_monitor_observe(m, 0, 0, &inputs[(done + i) % BODIES]);
        total += cpu_ns() - t0;
        sl_monitor_tick(m, now += 100);
    }
    size_t batched = (n + BATCH - 1) / BATCH * BATCH;
    printf("%-38s n=%zu  mean %.0f ns of CPU time\n", "observe, batches of 4096", batched, (double)total / (double)batched);

    sl_monitor_plan_t *plan = &((sl_monitor_route_t *)sl_monitor_route(m, 0))->plan;
    sl_monitor_obs_t obs;
    for (size_t i = 0; i != n; ++i) {
        uint64_t t0 = sl_clock_now_ns();
        sl_monitor_extract(plan, &inputs[i % BODIES], &obs);
        ns[i] = sl_clock_now_ns() - t0;
    }
    report("extract only", ns, n);

    size_t ticks = 2000;
    for (size_t i = 0; i != ticks; ++i) {
        for (int j = 0; j != 50; ++j)
            sl_monitor_observe(m, 0, 0, &inputs[j]);
        uint64_t t0 = sl_clock_now_ns();
        sl_monitor_tick(m, now += 100); /* harvest 50 requests and their predictions; evaluation every 5 s */
        ns[i] = sl_clock_now_ns() - t0;
    }
    report("control tick (50 requests, 1 worker)", ns, ticks);
    for (size_t i = 0; i != ticks / 10; ++i) {
        uint64_t t0 = sl_clock_now_ns();
        sl_monitor_evaluate(m, now);
        ns[i] = sl_clock_now_ns() - t0;
    }
    report("evaluate (every measure, 11 values)", ns, ticks / 10);
    printf("requests observed: %llu\n", (unsigned long long)sl_monitor_route(m, 0)->requests);
    sl_free(ns);
    sl_monitor_destroy(m);
    sl_conf_release(conf);
    return 0;
}
