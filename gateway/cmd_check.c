/*
 * cmd_check.c - `sluice check -c FILE`: load and validate a config exactly as `sluice run` would, then print a
 * one-screen summary of what it declares (exit 0), or every error as "file:line:col: key.path: message" on stderr
 * (exit 1). Usage errors exit 2 with a one-line hint. Loading reads the admin token file and checks that TLS files
 * are readable, so a config that passes here also passes at start-up on the same machine.
 */
#include "common/status.h"
#include "conf/conf.h"
#include "gateway/cmd.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: sluice check -c FILE\n\n"
                "Validates a sluice config file. Prints a summary of listeners, backends, routes, tiers and SLOs and\n"
                "exits 0 when the file is valid; prints every error as file:line:col: key.path: message on stderr and\n"
                "exits 1 when it is not. The key reference is docs/CONFIG.md.\n\n"
                "options:\n"
                "  -c, --config FILE   the config file to check\n"
                "  -h, --help          show this help\n");
}

static const char *dur(uint64_t ms, char *buf, size_t sz)
{
    return sl_conf_format_duration(ms, buf, sz);
}

static void print_addrs(FILE *fp, const sl_conf_addr_t *a, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        fprintf(fp, "%s%s", i != 0 ? ", " : "", a[i].text);
}

static void print_server(FILE *fp, const sl_conf_t *c)
{
    char b1[32], b2[32], b3[32];
    const sl_conf_server_t *s = &c->server;
    fprintf(fp, "server    listen ");
    print_addrs(fp, s->listen, s->num_listen);
    if (s->threads == 0)
        fprintf(fp, "; threads auto");
    else
        fprintf(fp, "; threads %" PRIu32, s->threads);
    fprintf(fp, "; max_body %s; header_timeout %s; shutdown_timeout %s\n",
            sl_conf_format_size(s->max_body_bytes, b1, sizeof(b1)), dur(s->header_timeout_ms, b2, sizeof(b2)),
            dur(s->shutdown_timeout_ms, b3, sizeof(b3)));
    fprintf(fp, "          tls %s; access_log %s\n", s->tls_cert_file != NULL ? s->tls_cert_file : "off",
            s->access_log != NULL ? s->access_log : "off");
    if (c->admin.enabled)
        fprintf(fp, "admin     listen %s; %s%s\n", c->admin.listen.text,
                c->admin.token_file != NULL ? "bearer token from " : "no token (loopback only)",
                c->admin.token_file != NULL ? c->admin.token_file : "");
    else
        fprintf(fp, "admin     off\n");
    fprintf(fp, "state_dir %s\n", c->state_dir != NULL ? c->state_dir : "none (nothing persisted)");
}

static void print_backend(FILE *fp, const sl_conf_backend_t *b)
{
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    fprintf(fp, "  %-12s %-9s ", b->name, sl_conf_protocol_name(b->protocol));
    print_addrs(fp, b->endpoints, b->num_endpoints);
    fprintf(fp, "\n               model %s; max_concurrency %s", b->model != NULL ? b->model : "(as requested)",
            b->max_concurrency == 0 ? "unlimited" : "");
    if (b->max_concurrency != 0)
        fprintf(fp, "%" PRIu32, b->max_concurrency);
    if (b->max_queue != 0)
        fprintf(fp, "; max_queue %" PRIu32 " (wait at most %s)\n", b->max_queue, dur(b->queue_timeout_ms, b1, sizeof(b1)));
    else
        fprintf(fp, "; no queue\n");
    const sl_conf_timeouts_t *t = &b->timeouts;
    fprintf(fp, "               timeouts connect %s, first_byte %s, idle %s, stream_idle %s, total %s\n",
            dur(t->connect_ms, b1, sizeof(b1)), dur(t->first_byte_ms, b2, sizeof(b2)), dur(t->idle_ms, b3, sizeof(b3)),
            dur(t->stream_idle_ms, b4, sizeof(b4)), dur(t->total_ms, b5, sizeof(b5)));
    if (b->health.path != NULL)
        fprintf(fp, "               health %s every %s (timeout %s, up %" PRIu32 ", down %" PRIu32 ")", b->health.path,
                dur(b->health.interval_ms, b1, sizeof(b1)), dur(b->health.timeout_ms, b2, sizeof(b2)),
                b->health.healthy_threshold, b->health.unhealthy_threshold);
    else
        fprintf(fp, "               health off");
    if (b->outlier.consecutive_failures != 0)
        fprintf(fp, "; eject after %" PRIu32 " failures for %s..%s, at most %" PRIu32 "%%\n", b->outlier.consecutive_failures,
                dur(b->outlier.base_ejection_ms, b1, sizeof(b1)), dur(b->outlier.max_ejection_ms, b2, sizeof(b2)),
                b->outlier.max_ejected_percent);
    else
        fprintf(fp, "; passive ejection off\n");
    if (b->cost.per_request != 0 || b->cost.per_1k_input_tokens != 0 || b->cost.per_1k_output_tokens != 0)
        fprintf(fp, "               cost %g per request, %g per 1k input tokens, %g per 1k output tokens\n",
                b->cost.per_request, b->cost.per_1k_input_tokens, b->cost.per_1k_output_tokens);
    if (b->prediction_pointer != NULL || b->confidence_pointer != NULL)
        fprintf(fp, "               prediction %s; confidence %s\n",
                b->prediction_pointer != NULL ? b->prediction_pointer : "-",
                b->confidence_pointer != NULL ? b->confidence_pointer : "-");
}

static void print_signal(FILE *fp, const sl_conf_signal_t *s)
{
    if (s->arg != NULL)
        fprintf(fp, "%s:%s", sl_conf_signal_name(s->kind), s->arg);
    else
        fprintf(fp, "%s", sl_conf_signal_name(s->kind));
}

static void print_tier(FILE *fp, size_t i, const sl_conf_tier_t *t)
{
    static const char *const ops[] = {">", ">=", "<", "<=", "==", "!=", "exists"};
    char b1[32];
    fprintf(fp, "    tier %zu  %s", i, t->backend->name);
    if (t->has_accept) {
        fprintf(fp, "; accept ");
        if (t->accept.has_min)
            fprintf(fp, "%g <= ", t->accept.min);
        print_signal(fp, &t->accept.signal);
        if (t->accept.has_max)
            fprintf(fp, " <= %g", t->accept.max);
    }
    if (t->latency_budget_ms != 0)
        fprintf(fp, "; budget %s", dur(t->latency_budget_ms, b1, sizeof(b1)));
    if (t->buffer_streams)
        fprintf(fp, "; buffers streams");
    fprintf(fp, "\n");
    for (size_t j = 0; j != t->num_skip_when; ++j) {
        const sl_conf_cond_t *c = &t->skip_when[j];
        fprintf(fp, "            skip when %s%s%s %s",
                c->fact == SL_FACT_PROMPT_TOKENS ? "prompt_tokens"
                : c->fact == SL_FACT_HEADER      ? "header:"
                                                 : "json:",
                c->arg != NULL ? c->arg : "", "", ops[c->cmp]);
        if (c->cmp != SL_CMP_EXISTS) {
            if (c->is_number)
                fprintf(fp, " %g", c->number);
            else
                fprintf(fp, " \"%s\"", c->string);
        }
        fprintf(fp, "\n");
    }
    fprintf(fp, "            escalate on ");
    if (t->escalate_on == SL_CONF_ESCALATE_ALL) {
        fprintf(fp, "all failures but client_abort\n");
    } else if (t->escalate_on == 0) {
        fprintf(fp, "no failure\n");
    } else {
        const char *sep = "";
        for (int f = 1; f != SL_FAILURE_COUNT; ++f) {
            if (t->escalate_on & (1u << f)) {
                fprintf(fp, "%s%s", sep, sl_conf_failure_name((enum en_sl_failure_t)f));
                sep = ", ";
            }
        }
        fprintf(fp, "\n");
    }
}

static void print_route(FILE *fp, const sl_conf_route_t *r)
{
    char b1[32], b2[32];
    const sl_conf_match_t *m = &r->match;
    fprintf(fp, "  %s (%s)  match path %s", r->name, sl_conf_protocol_name(r->protocol),
            m->path_prefix != NULL ? m->path_prefix : "any");
    if (m->host != NULL)
        fprintf(fp, ", host %s", m->host);
    for (size_t i = 0; i != m->num_headers; ++i)
        fprintf(fp, ", header %s%s%s", m->headers[i].name, m->headers[i].value != NULL ? "=" : " present",
                m->headers[i].value != NULL ? m->headers[i].value : "");
    if (m->model != NULL)
        fprintf(fp, ", model %s", m->model);
    fprintf(fp, "\n");
    for (size_t i = 0; i != r->num_tiers; ++i)
        print_tier(fp, i, &r->tiers[i]);
    if (r->slo.enabled) {
        fprintf(fp, "    slo     window %s", dur((uint64_t)r->slo.window_s * 1000, b1, sizeof(b1)));
        if (r->slo.availability.enabled)
            fprintf(fp, "; availability %g%%", r->slo.availability.target * 100);
        if (r->slo.latency.enabled)
            fprintf(fp, "; latency %g%% <= %s", r->slo.latency.target * 100, dur(r->slo.latency.threshold_ms, b2, sizeof(b2)));
        if (r->slo.ttft.enabled)
            fprintf(fp, "; ttft %g%% <= %s", r->slo.ttft.target * 100, dur(r->slo.ttft.threshold_ms, b2, sizeof(b2)));
        fprintf(fp, "\n");
    }
}

static void print_summary(FILE *fp, const sl_conf_t *c)
{
    fprintf(fp, "%s: ok (%zu backend%s, %zu route%s)\n", c->path, c->num_backends, c->num_backends == 1 ? "" : "s",
            c->num_routes, c->num_routes == 1 ? "" : "s");
    print_server(fp, c);
    fprintf(fp, "backends\n");
    for (size_t i = 0; i != c->num_backends; ++i)
        print_backend(fp, &c->backends[i]);
    fprintf(fp, "routes (first match wins)\n");
    for (size_t i = 0; i != c->num_routes; ++i)
        print_route(fp, &c->routes[i]);
}

int sl_cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *path = NULL;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "sluice check: %s needs a file; try `sluice check --help`\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "sluice check: unknown option '%s'; try `sluice check --help`\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "sluice check: unexpected argument '%s'; try `sluice check --help`\n", argv[optind]);
        return 2;
    }
    if (path == NULL) {
        fprintf(stderr, "sluice check: missing -c FILE; try `sluice check --help`\n");
        return 2;
    }

    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    if (sl_conf_load_file(path, &conf, &errs) != SL_OK) {
        for (size_t i = 0; i != sl_conf_errors_count(&errs); ++i)
            fprintf(stderr, "%s\n", sl_conf_errors_get(&errs, i));
        size_t total = errs.count + errs.dropped;
        if (errs.dropped != 0)
            fprintf(stderr, "(%zu more errors not shown)\n", errs.dropped);
        fprintf(stderr, "%s: %zu error%s\n", path, total, total == 1 ? "" : "s");
        sl_conf_errors_dispose(&errs);
        return 1;
    }
    sl_conf_errors_dispose(&errs);
    print_summary(stdout, conf);
    sl_conf_release(conf);
    return 0;
}
