/*
 * cmd_demo.c - `sluice demo`: three simulated model servers started in this process (tools/sim/sim.h) and the
 * gateway in front of them, on a built-in config; no file needed. Chat requests go through a cascade: the small
 * model answers when its mean token log-probability is at least -0.35, the large one (ten times its price)
 * otherwise, and every answer says which tier answered and what it cost (x-sluice-* headers). `--print-config` prints that
 * config (with the simulators on their usual ports) as a starting point: it passes `sluice check` as printed.
 *
 * The simulators listen on free ports; the running config is the same text with those ports (and the --listen /
 * --admin addresses) filled in, loaded with sl_conf_load_string. A reload (SIGHUP, POST /admin/reload) rebuilds
 * the same text. Stopping: SIGINT/SIGTERM drain the gateway first, then the simulators.
 */
#include "common/log.h"
#include "common/status.h"
#include "common/str.h"
#include "conf/addr.h"
#include "conf/conf.h"
#include "gateway/cmd.h"
#include "gateway/gw.h"
#include "tools/sim/sim.h"

#include <stdio.h>
#include <string.h>

/* The built-in config. %1$s gateway address, %2$s admin address, %3$s/%4$s/%5$s the endpoints of the small, large
 * and intent models. */
static const char template_yaml[] =
    "# The built-in config of `sluice demo`, a starting point for your own (docs/CONFIG.md describes every key).\n"
    "# It expects three model servers; to try it with simulators instead of real ones:\n"
    "#   sluice sim --listen 127.0.0.1:8001 --model demo-small --accuracy 0.72 --ttft-ms 15 --tpot-ms 4 \\\n"
    "#              --listen 127.0.0.1:8011 --model demo-large --accuracy 0.95 --ttft-ms 120 --tpot-ms 20 --slots 8 \\\n"
    "#              --listen 127.0.0.1:8021 --protocol kserve_v2 --model demo-intent --labels positive,negative,neutral\n"
    "server:\n"
    "  listen: [\"%1$s\"]\n"
    "  threads: 2\n"
    "  max_body: 8MiB\n"
    "  shutdown_timeout: 10s\n"
    "admin:\n"
    "  listen: %2$s\n"
    "backends:\n"
    "  small:      # a fast, cheap chat model\n"
    "    protocol: openai\n"
    "    endpoints: [%3$s]\n"
    "    model: demo-small\n"
    "    cost: { per_1k_input_tokens: 0.0001, per_1k_output_tokens: 0.0002 }\n"
    "    max_concurrency: 64\n"
    "    max_queue: 64\n"
    "    queue_timeout: 2s\n"
    "    timeouts: { connect: 1s, first_byte: 30s, idle: 30s, stream_idle: 60s, total: 5m }\n"
    "    outlier: { consecutive_failures: 5, base_ejection: 5s, max_ejection: 1m, max_ejected_percent: 50%% }\n"
    "    health: { path: /health, interval: 2s, timeout: 500ms }\n"
    "  large:      # a slower, more accurate one, ten times the price\n"
    "    protocol: openai\n"
    "    endpoints: [%4$s]\n"
    "    model: demo-large\n"
    "    cost: { per_1k_input_tokens: 0.001, per_1k_output_tokens: 0.002 }\n"
    "    max_concurrency: 8\n"
    "    max_queue: 32\n"
    "    queue_timeout: 5s\n"
    "    timeouts: { connect: 1s, first_byte: 60s, idle: 60s, stream_idle: 60s, total: 10m }\n"
    "  intent:     # a KServe v2 classifier\n"
    "    protocol: kserve_v2\n"
    "    endpoints: [%5$s]\n"
    "    model: demo-intent\n"
    "    max_concurrency: 32\n"
    "routes:\n"
    "  - name: chat-large    # clients that ask for the large model by name get it\n"
    "    match: { path: /v1/chat/completions, model: large }\n"
    "    cascade: [ { backend: large } ]\n"
    "  - name: chat          # a cascade: the small model first, the large one when the small one is unsure\n"
    "    match: { path: /v1/chat/completions }\n"
    "    cascade:\n"
    "      - backend: small\n"
    "        accept: { signal: logprob_mean, min: -0.35 }   # exp(-0.35) = 0.70: below it, escalate\n"
    "        skip_when: { prompt_tokens: { gt: 4000 } }      # long prompts go straight to the large model\n"
    "        latency_budget: 5s                              # a stuck small model does not hold the answer\n"
    "      - backend: large\n"
    "    monitor:              # drift of the answers and inputs; POST /v1/feedback joins the ground truth\n"
    "      prediction: { label: /choices/0/message/content }\n"
    "      features: [ { name: prompt_tokens }, { name: output_tokens } ]\n"
    "      reference: { baseline: 10m, baseline_samples: 1000 }   # the first traffic after the start\n"
    "      window: 10m\n"
    "      feedback: { task: classification, labels: [positive, negative], horizon: 1h }\n"
    "  - name: completions\n"
    "    match: { path: /v1/completions }\n"
    "    cascade: [ { backend: small } ]\n"
    "  - name: intent\n"
    "    match: { path: /v2/models }\n"
    "    cascade: [ { backend: intent } ]\n";

#define DEMO_MODELS 3

static char g_listen[128] = "127.0.0.1:8080", g_admin[128] = "127.0.0.1:9901";
static char g_endpoints[DEMO_MODELS][128] = {"127.0.0.1:8001", "127.0.0.1:8011", "127.0.0.1:8021"};

static int render(sl_buf_t *b)
{
    return sl_buf_appendf(b, template_yaml, g_listen, g_admin, g_endpoints[0], g_endpoints[1], g_endpoints[2]);
}

/* The running config (also what a reload rebuilds). */
static sl_conf_t *builtin_conf(sl_conf_errors_t *errs)
{
    sl_buf_t b;
    sl_conf_t *conf = NULL;
    sl_buf_init(&b, 0);
    render(&b);
    if (sl_conf_load_string("built-in config", b.data, b.len, &conf, errs) != SL_OK)
        conf = NULL;
    sl_buf_dispose(&b);
    return conf;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: sluice demo [--listen ADDR] [--admin ADDR] [--print-config] [--ready-file PATH]\n"
                "                   [--log-level error|warn|info|debug]\n"
                "\n"
                "Starts three simulated model servers (a small and a large OpenAI-compatible chat model, a KServe v2\n"
                "classifier) and the gateway in front of them, on a built-in config; runs until SIGINT/SIGTERM.\n"
                "  --listen ADDR     the gateway (default 127.0.0.1:8080; port 0 picks a free one)\n"
                "  --admin ADDR      the admin listener (default 127.0.0.1:9901)\n"
                "  --print-config    print the built-in config and exit (a starting point for your own)\n"
                "  --ready-file PATH once every listener accepts, write {\"pid\",\"listen\",\"admin\"} there\n");
}

static const char *const sim_args[DEMO_MODELS][12] = {
    {"model", "demo-small", "accuracy", "0.72", "ttft_ms", "15", "tpot_ms", "4", NULL},
    {"model", "demo-large", "accuracy", "0.95", "ttft_ms", "120", "tpot_ms", "20", "slots", "8", NULL},
    {"protocol", "kserve_v2", "model", "demo-intent", "labels", "positive,negative,neutral", NULL},
};

static int start_sims(sl_sim_t **sims)
{
    char err[256];
    sl_conf_addr_t any;
    const char *why;
    if (sl_conf_parse_addr("127.0.0.1:0", 1, NULL, &any, &why) != SL_OK)
        return SL_EINVAL;
    for (int i = 0; i != DEMO_MODELS; ++i) {
        sl_sim_params_t params;
        sl_sim_params_init(&params);
        for (int k = 0; sim_args[i][k] != NULL; k += 2)
            if (sl_sim_params_set(&params, sim_args[i][k], sim_args[i][k + 1], err, sizeof(err)) != SL_OK) {
                fprintf(stderr, "sluice demo: simulator %d: %s\n", i, err);
                return SL_EINVAL;
            }
        if (sl_sim_start(&params, &any, &sims[i], err, sizeof(err)) != SL_OK) {
            fprintf(stderr, "sluice demo: simulator %d: %s\n", i, err);
            while (i-- > 0)
                sl_sim_stop(sims[i]);
            return SL_EIO;
        }
        sl_sim_address(sims[i], g_endpoints[i], sizeof(g_endpoints[i]));
    }
    return SL_OK;
}

int sl_cmd_demo(int argc, char **argv)
{
    const char *ready = NULL;
    int print_config = 0, taken;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--print-config") == 0) {
            print_config = 1;
        } else if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            snprintf(g_listen, sizeof(g_listen), "%s", argv[++i]);
        } else if (strcmp(a, "--admin") == 0 && i + 1 < argc) {
            snprintf(g_admin, sizeof(g_admin), "%s", argv[++i]);
        } else if ((taken = sl_cmd_serve_option("demo", argc, argv, &i, &ready)) != 0) {
            if (taken == 2)
                return 2;
        } else {
            fprintf(stderr, "sluice demo: unexpected argument '%s'; try `sluice demo --help`\n", a);
            return 2;
        }
    }
    if (print_config) {
        sl_buf_t b;
        sl_buf_init(&b, 0);
        render(&b);
        fwrite(b.data, 1, b.len, stdout);
        sl_buf_dispose(&b);
        return 0;
    }

    sl_server_block_signals(); /* before any thread: simulators and workers inherit the mask */
    sl_sim_t *sims[DEMO_MODELS];
    if (start_sims(sims) != SL_OK)
        return 1;
    int rc = 1;
    sl_conf_errors_t errs;
    sl_conf_errors_init(&errs);
    sl_conf_t *conf = builtin_conf(&errs);
    static sl_gw_t gw; /* lives until exit, like `sluice run`'s */
    char err[512], addr[256], admin[256];
    if (conf == NULL) {
        sl_cmd_print_conf_errors(&errs, NULL);
        goto Exit;
    }
    gw.builtin_conf = builtin_conf;
    if (sl_gw_init(&gw, conf, NULL, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "sluice demo: %s\n", err);
        goto Exit;
    }
    sl_gw_start(&gw);
    if (ready != NULL && sl_gw_write_ready(&gw, ready) != SL_OK) {
        sl_gw_stop(&gw);
        goto Exit;
    }
    sl_gw_listen_text(&gw, 0, addr, sizeof(addr));
    sl_gw_admin_text(&gw, admin, sizeof(admin));
    printf("sluice demo is running (Ctrl-C to stop)\n\n"
           "  gateway   http://%s\n"
           "  admin     http://%s   (/metrics, /readyz, /admin/endpoints)\n"
           "  models    demo-small (openai) %s, demo-large (openai) %s, demo-intent (kserve_v2) %s\n\n"
           "Try (chat is a cascade: the small model first, the large one when the small one is unsure):\n"
           "  curl -si http://%s/v1/chat/completions -H 'content-type: application/json' \\\n"
           "       -d '{\"model\":\"any\",\"messages\":[{\"role\":\"user\",\"content\":\"classify: great movie\"}]}' \\\n"
           "       | grep -i '^x-sluice'\n"
           "    x-sluice-tier         the tier that answered (0: small, 1: large)\n"
           "    x-sluice-backend      its backend\n"
           "    x-sluice-escalations  how many tiers were tried and left before it\n"
           "    x-sluice-cost         what the request cost, every tier tried included\n"
           "  curl -sN http://%s/v1/chat/completions -H 'content-type: application/json' \\\n"
           "       -d '{\"model\":\"large\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'\n"
           "  curl -s http://%s/v1/feedback -d '{\"id\":\"<its x-request-id>\",\"label\":\"positive\"}'\n"
           "  curl -s http://%s/metrics | grep -E '^sluice_(cascade_answers|cascade_escalations|cost|drift_state|quality)'\n\n"
           "`sluice demo --print-config` prints the config behind it.\n",
           addr, admin, g_endpoints[0], g_endpoints[1], g_endpoints[2], addr, addr, addr, admin);
    fflush(stdout);
    rc = sl_gw_run_until_signal(&gw);
Exit:
    sl_conf_errors_dispose(&errs);
    for (int i = 0; i != DEMO_MODELS; ++i)
        sl_sim_stop(sims[i]);
    return rc;
}
