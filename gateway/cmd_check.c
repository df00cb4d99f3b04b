/*
 * cmd_check.c - `sluice check -c FILE`: load and validate a config exactly as `sluice run` would, then print a
 * one-screen summary of what it declares (exit 0), or every error as "file:line:col: key.path: message" on stderr
 * (exit 1). Usage errors exit 2 with a one-line hint. Loading reads the admin token file and checks that TLS files
 * are readable, and the reference file of every monitor is read and checked against its monitor block as the
 * gateway does at start (policies/reference.h), so a config that passes here also passes at start-up on the same
 * machine.
 */
#include "common/alloc.h"
#include "common/status.h"
#include "conf/conf.h"
#include "gateway/cmd.h"
#include "policies/reference.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: sluice check -c FILE\n\n"
                "Validates a sluice config file and the drift reference files its monitors name. Prints a summary of\n"
                "listeners, backends, routes, tiers, SLOs, accuracy scaling and monitors and exits 0 when the file is\n"
                "valid; prints every error as file:line:col: key.path: message on stderr and exits 1 when it is not.\n"
                "The key reference is docs/CONFIG.md.\n\n"
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
    fprintf(fp, "          tls %s; access_log %s; busy_poll %s\n", s->tls_cert_file != NULL ? s->tls_cert_file : "off",
            s->access_log != NULL ? s->access_log : "off",
            s->busy_poll_us != 0 ? sl_conf_format_duration_us(s->busy_poll_us, b1, sizeof(b1)) : "off");
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

static void print_degrade(FILE *fp, const sl_conf_degrade_t *d)
{
    char b1[32], b2[32], b3[32];
    fprintf(fp, "            degrade to ");
    for (size_t i = 0; i != d->num_to; ++i)
        fprintf(fp, "%s%s", i != 0 ? ", " : "", d->to[i]->name);
    fprintf(fp, "; spill_over %s\n", d->spill_over ? "on" : "off");
    fprintf(fp,
            "              up at saturation %g%% or p99 %g%% of the SLO threshold, down at %g%% / %g%%; "
            "steps +%g%% / -%g%%\n",
            d->saturation_high_permille / 10.0, d->latency_high_permille / 10.0, d->saturation_low_permille / 10.0,
            d->latency_low_permille / 10.0, d->step_up_permille / 10.0, d->step_down_permille / 10.0);
    fprintf(fp, "              hold %s, interval %s, p99 over %s, fast burn scales the high marks by %g%%\n",
            dur(d->hold_ms, b1, sizeof(b1)), dur(d->interval_ms, b2, sizeof(b2)), dur(d->latency_window_ms, b3, sizeof(b3)),
            d->burn_factor_permille / 10.0);
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
    if (t->degrade.enabled)
        print_degrade(fp, &t->degrade);
}

static void print_value(FILE *fp, const sl_conf_monitor_value_t *v, int named)
{
    char src[1100];
    if (named)
        fprintf(fp, "%s ", v->name);
    fprintf(fp, "(%s, ", sl_reference_source(v, src, sizeof(src)));
    if (v->type == SL_MONITOR_NUMERIC)
        fprintf(fp, "numeric, %" PRIu32 " bins)", v->bins);
    else
        fprintf(fp, "categorical, at most %" PRIu32 ")", v->max_categories);
}

/* The drift thresholds that are on (0 is off), as "name value" pairs. */
static void print_thresholds(FILE *fp, const sl_conf_monitor_thresholds_t *t)
{
    const struct {
        const char *name;
        double v, scale;
    } all[] = {{"psi warn", t->psi_warn, 1},
               {"psi alert", t->psi_alert, 1},
               {"js warn", t->js_warn, 1},
               {"js alert", t->js_alert, 1},
               {"ks p <", t->ks_pvalue, 1},
               {"chi2 p <", t->chi2_pvalue, 1},
               {"nulls warn %", t->null_ratio_warn, 100},
               {"nulls alert %", t->null_ratio_alert, 100},
               {"type errors warn %", t->type_error_ratio_warn, 100},
               {"type errors alert %", t->type_error_ratio_alert, 100}};
    const char *sep = "";
    fprintf(fp, "            drift");
    for (size_t i = 0; i != sizeof(all) / sizeof(all[0]); ++i) {
        if (all[i].v == 0)
            continue;
        fprintf(fp, "%s %s %g", sep, all[i].name, all[i].v * all[i].scale);
        sep = ",";
    }
    fprintf(fp, "%s\n", *sep == '\0' ? " thresholds off (measures only)" : "");
}

/* ref: the route's reference file, loaded and checked (unused for a baseline). */
static void print_monitor(FILE *fp, const sl_conf_monitor_t *m, const sl_reference_t *ref)
{
    char b1[32], b2[32], b3[32];
    fprintf(fp, "    monitor window %s in %" PRIu32 " slots; min_samples %" PRIu32 "; reference ", dur(m->window_ms, b1, sizeof(b1)),
            m->slots, m->min_samples);
    if (m->reference.kind == SL_MONITOR_REFERENCE_FILE)
        fprintf(fp, "%s (%" PRIu64 " samples, %s)\n", m->reference.file, ref->samples, ref->created);
    else
        fprintf(fp, "baseline of %s or %" PRIu32 " requests\n", dur(m->reference.baseline_ms, b1, sizeof(b1)),
                m->reference.baseline_samples);
    if (m->has_prediction) {
        fprintf(fp, "            prediction ");
        print_value(fp, &m->prediction, 0);
        fprintf(fp, "\n");
    }
    for (size_t i = 0; i != m->num_features; ++i) {
        fprintf(fp, "            %s ", i == 0 ? "features  " : "          ");
        print_value(fp, &m->features[i], 1);
        fprintf(fp, "\n");
    }
    print_thresholds(fp, &m->thresholds);
    const sl_conf_feedback_t *f = &m->feedback;
    if (!f->enabled)
        return;
    fprintf(fp, "            feedback %s", f->task == SL_FEEDBACK_CLASSIFICATION ? "classification" : "regression");
    for (size_t i = 0; i != f->num_labels; ++i)
        fprintf(fp, "%s%s", i == 0 ? " [" : ", ", f->labels[i]);
    fprintf(fp, "%s; horizon %s, window %s, at most %" PRIu32 " pending", f->num_labels != 0 ? "]" : "",
            dur(f->horizon_ms, b2, sizeof(b2)), dur(f->window_ms, b3, sizeof(b3)), f->max_pending);
    if (f->has_tolerance)
        fprintf(fp, ", tolerance %g", f->tolerance);
    fprintf(fp, "\n");
}

static void print_route(FILE *fp, const sl_conf_route_t *r, const sl_reference_t *ref)
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
    if (r->monitor.enabled)
        print_monitor(fp, &r->monitor, ref);
}

static void print_summary(FILE *fp, const sl_conf_t *c, const sl_reference_t *refs)
{
    fprintf(fp, "%s: ok (%zu backend%s, %zu route%s)\n", c->path, c->num_backends, c->num_backends == 1 ? "" : "s",
            c->num_routes, c->num_routes == 1 ? "" : "s");
    print_server(fp, c);
    fprintf(fp, "backends\n");
    for (size_t i = 0; i != c->num_backends; ++i)
        print_backend(fp, &c->backends[i]);
    fprintf(fp, "routes (first match wins)\n");
    for (size_t i = 0; i != c->num_routes; ++i)
        print_route(fp, &c->routes[i], refs + i);
}

/* Loads and checks the reference file of every monitor that names one, as the gateway does when it starts
 * (policies/monitor.c): refs[i] for route i. Prints each defect on stderr ("FILE: routes[i].monitor.reference:
 * ref.json: message") and returns how many there were. */
static size_t check_references(const sl_conf_t *c, sl_reference_t *refs)
{
    size_t bad = 0;
    for (size_t i = 0; i != c->num_routes; ++i) {
        const sl_conf_monitor_t *m = &c->routes[i].monitor;
        char err[1024], why[1024];
        if (!m->enabled || m->reference.kind != SL_MONITOR_REFERENCE_FILE)
            continue;
        if (sl_reference_load(m->reference.file, &refs[i], err, sizeof(err)) != SL_OK) {
            fprintf(stderr, "%s: routes[%zu].monitor.reference: %s\n", c->path, i, err);
            ++bad;
        } else if (sl_reference_check(&refs[i], m, why, sizeof(why)) != SL_OK) {
            fprintf(stderr, "%s: routes[%zu].monitor.reference: %s: %s\n", c->path, i, m->reference.file, why);
            ++bad;
        }
    }
    return bad;
}

int sl_cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    const sl_cmd_opt_t opts[] = {{"config", 'c', &path}, {NULL}};
    int rc = sl_cmd_parse("check", argc, argv, opts, "a file", usage);
    if (rc >= 0)
        return rc;
    if (path == NULL)
        return sl_cmd_missing("check", "-c FILE");
    sl_conf_t *conf = sl_cmd_load_config(path, 1);
    if (conf == NULL)
        return 1;
    sl_reference_t *refs = sl_calloc(conf->num_routes + 1, sizeof(*refs));
    size_t bad = check_references(conf, refs);
    if (bad != 0)
        fprintf(stderr, "%s: %zu error%s\n", path, bad, bad == 1 ? "" : "s");
    else
        print_summary(stdout, conf, refs);
    for (size_t i = 0; i != conf->num_routes; ++i)
        sl_reference_dispose(&refs[i]);
    sl_free(refs);
    sl_conf_release(conf);
    return bad != 0 ? 1 : 0;
}
