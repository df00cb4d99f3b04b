/*
 * test_load.c - valid configs (conf/load*.c): every default, every key of the full example, the shipped examples,
 * files and paths, the admin token, lookups, snapshot references and the input bounds.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/status.h"
#include "conf/conf.h"

#define EXAMPLES SL_SOURCE_ROOT "/conf/examples"

static const char minimal[] = "backends:\n"
                              "  llm: { protocol: openai, endpoints: 127.0.0.1:8001 }\n"
                              "routes:\n"
                              "  - name: chat\n"
                              "    cascade: [ { backend: llm } ]\n";

static sl_conf_t *load_ok(const char *yaml)
{
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    int rc = sl_conf_load_string("test.yaml", yaml, strlen(yaml), &conf, &errs);
    cr_assert_eq(rc, SL_OK, "load failed: %s", errs.count != 0 ? errs.msgs[0] : "?");
    cr_assert_eq(errs.count, 0);
    sl_conf_errors_dispose(&errs);
    return conf;
}

/* Loads yaml expecting failure; returns the first error (static storage). */
static const char *load_err(const char *yaml, size_t *count)
{
    static char first[1024];
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_string("test.yaml", yaml, strlen(yaml), &conf, &errs), SL_ECONFIG);
    cr_assert_null(conf);
    cr_assert_geq(errs.count, 1);
    snprintf(first, sizeof(first), "%s", errs.msgs[0]);
    if (count != NULL)
        *count = errs.count;
    sl_conf_errors_dispose(&errs);
    return first;
}

static uint16_t port_of(const sl_conf_addr_t *a)
{
    return a->family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port)
                                 : ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
}

Test(load, defaults_of_a_minimal_config)
{
    sl_conf_t *c = load_ok(minimal);
    cr_assert_eq(atomic_load(&c->super.refs), 1);
    cr_assert_str_eq(c->path, "test.yaml");
    cr_assert_eq(c->server.num_listen, 1);
    cr_assert_str_eq(c->server.listen[0].text, "127.0.0.1:8080");
    cr_assert_eq(c->server.listen[0].family, AF_INET);
    cr_assert_eq(port_of(&c->server.listen[0]), 8080);
    cr_assert_eq(c->server.threads, 0);
    cr_assert_eq(c->server.max_body_bytes, 8u << 20);
    cr_assert_eq(c->server.header_timeout_ms, 10000);
    cr_assert_eq(c->server.shutdown_timeout_ms, 30000);
    cr_assert_null(c->server.tls_cert_file);
    cr_assert_null(c->server.tls_key_file);
    cr_assert_null(c->server.access_log);
    cr_assert_eq(c->server.routing_headers, 1);
    cr_assert_eq(c->server.busy_poll_us, 0);
    cr_assert_eq(c->server.max_connections, 0); /* auto */
    cr_assert_eq(c->admin.enabled, 1);
    cr_assert_str_eq(c->admin.listen.text, "127.0.0.1:9901");
    cr_assert_eq(port_of(&c->admin.listen), 9901);
    cr_assert_null(c->admin.token_file);
    cr_assert_null(c->admin.token);
    cr_assert_null(c->state_dir);

    cr_assert_eq(c->num_backends, 1);
    const sl_conf_backend_t *b = &c->backends[0];
    cr_assert_str_eq(b->name, "llm");
    cr_assert_eq(b->index, 0);
    cr_assert_eq(b->protocol, SL_PROTOCOL_OPENAI);
    cr_assert_eq(b->num_endpoints, 1);
    cr_assert_str_eq(b->endpoints[0].text, "127.0.0.1:8001");
    cr_assert_eq(port_of(&b->endpoints[0]), 8001);
    cr_assert_null(b->model);
    cr_assert_eq(b->max_concurrency, 0);
    cr_assert_eq(b->max_queue, 0);
    cr_assert_eq(b->queue_timeout_ms, 1000);
    cr_assert_eq(b->timeouts.connect_ms, 1000);
    cr_assert_eq(b->timeouts.first_byte_ms, 60000);
    cr_assert_eq(b->timeouts.idle_ms, 30000);
    cr_assert_eq(b->timeouts.stream_idle_ms, 120000);
    cr_assert_eq(b->timeouts.total_ms, 600000);
    cr_assert(b->cost.per_request == 0 && b->cost.per_1k_input_tokens == 0 && b->cost.per_1k_output_tokens == 0);
    cr_assert_eq(b->health.enabled, 1);
    cr_assert_str_eq(b->health.path, "/health");
    cr_assert_eq(b->health.interval_ms, 5000);
    cr_assert_eq(b->health.timeout_ms, 1000);
    cr_assert_eq(b->health.healthy_threshold, 2);
    cr_assert_eq(b->health.unhealthy_threshold, 3);
    cr_assert_eq(b->outlier.consecutive_failures, 5);
    cr_assert_eq(b->outlier.base_ejection_ms, 10000);
    cr_assert_eq(b->outlier.max_ejection_ms, 300000);
    cr_assert_eq(b->outlier.max_ejected_percent, 50);
    cr_assert_null(b->prediction_pointer);
    cr_assert_null(b->confidence_pointer);

    cr_assert_eq(c->num_routes, 1);
    const sl_conf_route_t *r = &c->routes[0];
    cr_assert_str_eq(r->name, "chat");
    cr_assert_eq(r->index, 0);
    cr_assert_null(r->match.path_prefix);
    cr_assert_null(r->match.host);
    cr_assert_eq(r->match.num_headers, 0);
    cr_assert_null(r->match.model);
    cr_assert_eq(r->protocol, SL_PROTOCOL_OPENAI);
    cr_assert_eq(r->num_tiers, 1);
    cr_assert_eq(r->tiers[0].backend, b);
    cr_assert_eq(r->tiers[0].has_accept, 0);
    cr_assert_eq(r->tiers[0].num_skip_when, 0);
    cr_assert_eq(r->tiers[0].escalate_on, SL_CONF_ESCALATE_ALL);
    cr_assert_eq(r->tiers[0].escalate_on & (1u << SL_FAILURE_CLIENT_ABORT), 0);
    cr_assert_neq(r->tiers[0].escalate_on & (1u << SL_FAILURE_UPSTREAM_5XX), 0);
    cr_assert_eq(r->tiers[0].latency_budget_ms, 0);
    cr_assert_eq(r->tiers[0].buffer_streams, 0);
    cr_assert_eq(r->slo.enabled, 0);
    cr_assert_eq(r->slo.window_s, 28u * 86400);
    sl_conf_release(c);
}

Test(load, full_example_sets_every_key)
{
    sl_conf_errors_t errs;
    sl_conf_t *c = NULL;
    sl_conf_errors_init(&errs);
    int rc = sl_conf_load_file(EXAMPLES "/full.yaml", &c, &errs);
    cr_assert_eq(rc, SL_OK, "%s", errs.count != 0 ? errs.msgs[0] : "?");
    sl_conf_errors_dispose(&errs);

    cr_assert_eq(c->server.num_listen, 3);
    cr_assert_eq(c->server.listen[1].family, AF_INET6);
    cr_assert_eq(port_of(&c->server.listen[1]), 8443);
    cr_assert_eq(c->server.listen[2].family, AF_UNIX);
    cr_assert_str_eq(((struct sockaddr_un *)&c->server.listen[2].sa)->sun_path, "/tmp/sluice-example.sock");
    cr_assert_eq(c->server.threads, 4);
    cr_assert_eq(c->server.max_body_bytes, 16u << 20);
    cr_assert_eq(c->server.header_timeout_ms, 15000);
    cr_assert_eq(c->server.shutdown_timeout_ms, 20000);
    cr_assert_eq(c->server.routing_headers, 0);
    cr_assert_eq(c->server.busy_poll_us, 50);
    cr_assert_eq(c->server.max_connections, 20000);
    cr_assert_str_eq(c->server.tls_cert_file, EXAMPLES "/example-cert.pem");
    cr_assert_str_eq(c->server.tls_key_file, EXAMPLES "/example-key.pem");
    cr_assert_str_eq(c->server.access_log, "-");
    cr_assert_str_eq(c->admin.token_file, EXAMPLES "/admin.token");
    cr_assert_str_eq(c->admin.token, "example-admin-token-change-me");
    cr_assert_str_eq(c->state_dir, EXAMPLES "/./state");

    const sl_conf_backend_t *small = sl_conf_find_backend(c, "small");
    cr_assert_not_null(small);
    cr_assert_eq(small->num_endpoints, 2);
    cr_assert_str_eq(small->model, "llama-8b");
    cr_assert_eq(small->max_concurrency, 64);
    cr_assert_eq(small->max_queue, 128);
    cr_assert_eq(small->queue_timeout_ms, 500);
    cr_assert_eq(small->timeouts.connect_ms, 500);
    cr_assert_eq(small->timeouts.first_byte_ms, 30000);
    cr_assert_eq(small->timeouts.idle_ms, 15000);
    cr_assert_eq(small->timeouts.stream_idle_ms, 60000);
    cr_assert_eq(small->timeouts.total_ms, 300000);
    cr_assert(small->cost.per_request == 0.00001);
    cr_assert(small->cost.per_1k_input_tokens == 0.0001);
    cr_assert(small->cost.per_1k_output_tokens == 0.0002);
    cr_assert_eq(small->health.interval_ms, 2000);
    cr_assert_eq(small->health.timeout_ms, 500);
    cr_assert_eq(small->outlier.consecutive_failures, 3);
    cr_assert_eq(small->outlier.base_ejection_ms, 5000);
    cr_assert_eq(small->outlier.max_ejection_ms, 120000);
    cr_assert_eq(small->outlier.max_ejected_percent, 34);
    const sl_conf_backend_t *cls = sl_conf_find_backend(c, "classifier");
    cr_assert_eq(cls->protocol, SL_PROTOCOL_KSERVE_V2);
    cr_assert_str_eq(cls->health.path, "/v2/health/ready"); /* the protocol's default */
    cr_assert_eq(cls->health.interval_ms, 10000);
    const sl_conf_backend_t *scorer = sl_conf_find_backend(c, "scorer");
    cr_assert_eq(scorer->protocol, SL_PROTOCOL_HTTP);
    cr_assert_eq(scorer->health.enabled, 0);
    cr_assert_null(scorer->health.path);
    cr_assert_eq(scorer->outlier.consecutive_failures, 0);
    cr_assert_str_eq(scorer->prediction_pointer, "/result/label");
    cr_assert_str_eq(scorer->confidence_pointer, "/result/score");
    cr_assert_null(sl_conf_find_backend(c, "nope"));

    const sl_conf_route_t *chat = sl_conf_find_route(c, "chat");
    cr_assert_eq(chat, &c->routes[0]);
    cr_assert_str_eq(chat->match.path_prefix, "/v1/chat/completions");
    cr_assert_str_eq(chat->match.host, "api.example.com");
    cr_assert_eq(chat->match.num_headers, 2);
    cr_assert_str_eq(chat->match.headers[0].name, "x-team");
    cr_assert_str_eq(chat->match.headers[0].value, "search");
    cr_assert_str_eq(chat->match.headers[1].name, "x-debug");
    cr_assert_null(chat->match.headers[1].value);
    cr_assert_str_eq(chat->match.model, "gpt-4o");
    const sl_conf_tier_t *t0 = &chat->tiers[0];
    cr_assert_eq(t0->backend, small);
    cr_assert_eq(t0->has_accept, 1);
    cr_assert_eq(t0->accept.signal.kind, SL_SIGNAL_LOGPROB_MEAN);
    cr_assert_null(t0->accept.signal.arg);
    cr_assert(t0->accept.has_min && !t0->accept.has_max && t0->accept.min == -0.35);
    cr_assert_eq(t0->num_skip_when, 3);
    cr_assert_eq(t0->skip_when[0].fact, SL_FACT_PROMPT_TOKENS);
    cr_assert_eq(t0->skip_when[0].cmp, SL_CMP_GT);
    cr_assert(t0->skip_when[0].is_number && t0->skip_when[0].number == 4000);
    cr_assert_eq(t0->skip_when[1].fact, SL_FACT_HEADER);
    cr_assert_str_eq(t0->skip_when[1].arg, "x-quality");
    cr_assert_eq(t0->skip_when[1].cmp, SL_CMP_EQ);
    cr_assert_eq(t0->skip_when[1].is_number, 0);
    cr_assert_str_eq(t0->skip_when[1].string, "high");
    cr_assert_eq(t0->skip_when[2].fact, SL_FACT_JSON);
    cr_assert_str_eq(t0->skip_when[2].arg, "/stream");
    cr_assert_eq(t0->skip_when[2].cmp, SL_CMP_EXISTS);
    cr_assert_eq(t0->escalate_on, (1u << SL_FAILURE_CONNECT_REFUSED) | (1u << SL_FAILURE_CONNECT_TIMEOUT) |
                                      (1u << SL_FAILURE_FIRST_BYTE_TIMEOUT) | (1u << SL_FAILURE_UPSTREAM_5XX) |
                                      (1u << SL_FAILURE_OVERLOADED));
    cr_assert_eq(t0->latency_budget_ms, 800);
    cr_assert_eq(t0->buffer_streams, 1);
    cr_assert_eq(chat->tiers[1].accept.signal.kind, SL_SIGNAL_LOGPROB_MIN);
    cr_assert_eq(chat->tiers[1].escalate_on, 0);
    cr_assert_eq(chat->slo.enabled, 1);
    cr_assert(chat->slo.availability.enabled && chat->slo.availability.target == 0.999);
    cr_assert(chat->slo.latency.enabled && chat->slo.latency.target == 0.99);
    cr_assert_eq(chat->slo.latency.threshold_ms, 2000);
    cr_assert(chat->slo.ttft.enabled && chat->slo.ttft.target == 0.95);
    cr_assert_eq(chat->slo.ttft.threshold_ms, 300);
    cr_assert_eq(chat->slo.window_s, 28u * 86400);

    const sl_conf_route_t *cl = sl_conf_find_route(c, "classify");
    cr_assert_eq(cl->index, 1);
    cr_assert_eq(cl->protocol, SL_PROTOCOL_KSERVE_V2);
    cr_assert_eq(cl->num_tiers, 4);
    cr_assert_eq(cl->tiers[0].accept.signal.kind, SL_SIGNAL_MARGIN);
    cr_assert_eq(cl->tiers[0].num_skip_when, 2);
    cr_assert_str_eq(cl->tiers[0].skip_when[0].arg, "x-priority");
    cr_assert_eq(cl->tiers[0].skip_when[0].is_number, 0); /* quoted: compared as a string */
    cr_assert_str_eq(cl->tiers[0].skip_when[0].string, "1");
    cr_assert_eq(cl->tiers[0].skip_when[1].cmp, SL_CMP_GE);
    cr_assert(cl->tiers[0].skip_when[1].number == 1000);
    cr_assert_eq(cl->tiers[1].accept.signal.kind, SL_SIGNAL_TOP_PROB);
    cr_assert(cl->tiers[1].accept.has_min && cl->tiers[1].accept.has_max && cl->tiers[1].accept.max == 1);
    cr_assert_eq(cl->tiers[2].accept.signal.kind, SL_SIGNAL_JSON);
    cr_assert_str_eq(cl->tiers[2].accept.signal.arg, "/result/calibrated");
    cr_assert_eq(cl->tiers[2].escalate_on, SL_CONF_ESCALATE_ALL);
    cr_assert_eq(cl->tiers[3].accept.signal.kind, SL_SIGNAL_HEADER);
    cr_assert_str_eq(cl->tiers[3].accept.signal.arg, "x-confidence");
    cr_assert(cl->slo.availability.enabled && !cl->slo.latency.enabled && !cl->slo.ttft.enabled);
    cr_assert_eq(cl->slo.window_s, 7u * 86400);
    cr_assert_null(sl_conf_find_route(c, "nope"));
    sl_conf_release(c);
}

Test(load, every_shipped_example_loads)
{
    DIR *d = opendir(EXAMPLES);
    cr_assert_not_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", EXAMPLES, e->d_name);
        sl_conf_errors_t errs;
        sl_conf_t *c = NULL;
        sl_conf_errors_init(&errs);
        cr_expect_eq(sl_conf_load_file(path, &c, &errs), SL_OK, "%s: %s", path, errs.count ? errs.msgs[0] : "");
        sl_conf_release(c);
        sl_conf_errors_dispose(&errs);
        ++n;
    }
    closedir(d);
    cr_assert_geq(n, 3);
}

Test(load, generation_counts_successful_loads_only)
{
    sl_conf_t *a = load_ok(minimal);
    load_err("", NULL);
    sl_conf_t *b = load_ok(minimal);
    cr_assert_eq(b->generation, a->generation + 1);
    sl_conf_release(a);
    sl_conf_release(b);
}

Test(load, references_count_holders)
{
    sl_conf_t *c = load_ok(minimal);
    sl_conf_retain(c);
    cr_assert_eq(atomic_load(&c->super.refs), 2);
    sl_conf_release(c);
    cr_assert_eq(atomic_load(&c->super.refs), 1);
    cr_assert_eq(sl_conf_from_snapshot(&c->super), c);
    sl_conf_release(c); /* frees: ASan reports any leak or later use */
    sl_conf_release(NULL);
}

Test(load, routes_may_precede_backends)
{
    sl_conf_t *c = load_ok("routes:\n  - name: r\n    cascade: [{backend: b}]\n"
                           "backends:\n  b: {protocol: kserve_v2, endpoints: \"[::1]:9000\"}\n");
    cr_assert_eq(c->routes[0].tiers[0].backend, &c->backends[0]);
    cr_assert_eq(c->routes[0].protocol, SL_PROTOCOL_KSERVE_V2);
    sl_conf_release(c);
}

Test(load, scalars_quoting_anchors_and_case)
{
    sl_conf_t *c = load_ok("server: &srv {threads: \"8\", max_body: '1KiB'}\n"
                           "backends:\n  b: {protocol: openai, endpoints: [localhost:80]}\n"
                           "routes:\n  - name: r\n    match: {host: API.Example.COM, headers: {X-Tier: Fast}}\n"
                           "    cascade:\n"
                           "      - backend: b\n"
                           "        skip_when: [{\"header:X-N\": {eq: 5}}, {\"header:x-n\": {ne: '5'}}]\n"
                           "    slo: {availability: 99%, window: 1.5h}\n");
    cr_assert_eq(c->server.threads, 8);
    cr_assert_eq(c->server.max_body_bytes, 1024);
    cr_assert_str_eq(c->backends[0].endpoints[0].text, "localhost:80");
    cr_assert_eq(c->backends[0].endpoints[0].family, AF_INET);
    cr_assert_str_eq(c->routes[0].match.host, "api.example.com");
    cr_assert_str_eq(c->routes[0].match.headers[0].name, "x-tier");
    cr_assert_str_eq(c->routes[0].match.headers[0].value, "Fast");
    const sl_conf_tier_t *t = &c->routes[0].tiers[0];
    cr_assert_str_eq(t->skip_when[0].arg, "x-n");
    cr_assert(t->skip_when[0].is_number && t->skip_when[0].number == 5);
    cr_assert_eq(t->skip_when[1].cmp, SL_CMP_NE);
    cr_assert(!t->skip_when[1].is_number && strcmp(t->skip_when[1].string, "5") == 0);
    cr_assert_eq(c->routes[0].slo.window_s, 5400);
    sl_conf_release(c);
}

Test(load, crlf_line_endings_keep_positions)
{
    const char *e = load_err("backends:\r\n  b: {protocol: openai, endpoints: 127.0.0.1:1}\r\nroutes:\r\n"
                             "  - name: r\r\n    cascade: [{backend: c}]\r\n",
                             NULL);
    cr_assert_str_eq(e, "test.yaml:5:25: routes[0].cascade[0].backend: undefined backend \"c\" (did you mean \"b\"?)");
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sl-conf-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

/* Loads tmpdir/sluice.yaml; on failure returns the first message, on success "ok" and *out. */
static const char *load_tmp(sl_conf_t **out, int *rc_out)
{
    static char msg[1024];
    char path[256];
    snprintf(path, sizeof(path), "%s/sluice.yaml", tmpdir);
    sl_conf_errors_t errs;
    sl_conf_errors_init(&errs);
    *out = NULL;
    int rc = sl_conf_load_file(path, out, &errs);
    if (rc_out != NULL)
        *rc_out = rc;
    snprintf(msg, sizeof(msg), "%s", rc == SL_OK ? "ok" : errs.msgs[0]);
    sl_conf_errors_dispose(&errs);
    /* report paths relative to tmpdir so expectations stay fixed */
    size_t tl = strlen(tmpdir);
    for (char *p; (p = strstr(msg, tmpdir)) != NULL;)
        memmove(p, p + tl, strlen(p + tl) + 1);
    return msg;
}

#define TOKEN_CONFIG                                                                                                           \
    "admin: {listen: \"0.0.0.0:9901\", token_file: tok}\n"                                                                     \
    "backends: {b: {protocol: openai, endpoints: 127.0.0.1:1}}\nroutes: [{name: r, cascade: [{backend: b}]}]\n"

Test(load, admin_token_is_read_relative_to_the_config, .init = make_tmpdir, .fini = remove_tmpdir)
{
    sl_conf_t *c;
    write_file("sluice.yaml", TOKEN_CONFIG);
    write_file("tok", "  s3cr3t-token\n\n");
    cr_assert_str_eq(load_tmp(&c, NULL), "ok");
    cr_assert_str_eq(c->admin.token, "s3cr3t-token");
    cr_assert_eq(strncmp(c->admin.token_file, tmpdir, strlen(tmpdir)), 0);
    sl_conf_release(c);

    write_file("tok", " \n\t\n");
    cr_assert_str_eq(load_tmp(&c, NULL), "/sluice.yaml:1:45: admin.token_file: /tok: the token file is empty");
    write_file("tok", "two words\n");
    cr_assert_str_eq(load_tmp(&c, NULL),
                     "/sluice.yaml:1:45: admin.token_file: /tok: the token must be printable ASCII without spaces");
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    write_file("tok", big);
    cr_assert_str_eq(load_tmp(&c, NULL), "/sluice.yaml:1:45: admin.token_file: /tok: the token is longer than 4096 bytes");
    char path[256];
    snprintf(path, sizeof(path), "%s/tok", tmpdir);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(mkdir(path, 0700), 0);
    cr_assert_str_eq(load_tmp(&c, NULL), "/sluice.yaml:1:45: admin.token_file: cannot read /tok: not a regular file");
    cr_assert_eq(rmdir(path), 0);
    cr_assert_str_eq(load_tmp(&c, NULL), "/sluice.yaml:1:45: admin.token_file: cannot read /tok: No such file or directory");
    cr_assert_null(c);
}

Test(load, file_errors, .init = make_tmpdir, .fini = remove_tmpdir)
{
    sl_conf_t *c;
    int rc;
    cr_assert_str_eq(load_tmp(&c, &rc), "/sluice.yaml: cannot open: No such file or directory");
    cr_assert_eq(rc, SL_EIO);
    char path[256];
    snprintf(path, sizeof(path), "%s/sluice.yaml", tmpdir);
    cr_assert_eq(mkdir(path, 0700), 0);
    cr_assert_str_eq(load_tmp(&c, &rc), "/sluice.yaml: cannot read: is a directory");
    cr_assert_eq(rc, SL_EIO);
    cr_assert_eq(rmdir(path), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ftruncate(fileno(f), SL_CONF_MAX_FILE_BYTES + 1), 0);
    fclose(f);
    cr_assert_str_eq(load_tmp(&c, &rc), "/sluice.yaml:1:1: the file is larger than 4 MiB");
    cr_assert_eq(rc, SL_ECONFIG);
    cr_assert_null(c);
}

Test(load, string_size_cap)
{
    size_t len = SL_CONF_MAX_FILE_BYTES + 1;
    char *big = calloc(1, len);
    sl_conf_errors_t errs;
    sl_conf_t *c = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_string("big.yaml", big, len, &c, &errs), SL_ECONFIG);
    cr_assert_eq(errs.count, 1);
    cr_assert_str_eq(errs.msgs[0], "big.yaml:1:1: the file is larger than 4 MiB");
    sl_conf_errors_dispose(&errs);
    free(big);
}

/* Builds "backends:" with n backends and "routes:" with n routes, each through one backend. */
static char *many(size_t n)
{
    size_t cap = 200 * n + 64, o = 0;
    char *y = malloc(cap);
    o += (size_t)snprintf(y + o, cap - o, "backends:\n");
    for (size_t i = 0; i != n; ++i)
        o += (size_t)snprintf(y + o, cap - o, "  b%zu: {protocol: openai, endpoints: 127.0.0.1:%zu}\n", i, i + 1);
    o += (size_t)snprintf(y + o, cap - o, "routes:\n");
    for (size_t i = 0; i != n; ++i)
        o += (size_t)snprintf(y + o, cap - o, "  - {name: r%zu, cascade: [{backend: b%zu}]}\n", i, n - 1 - i);
    return y;
}

Test(load, count_limits)
{
    char *y = many(SL_CONF_MAX_BACKENDS);
    sl_conf_t *c = load_ok(y);
    cr_assert_eq(c->num_backends, SL_CONF_MAX_BACKENDS);
    cr_assert_eq(c->num_routes, SL_CONF_MAX_ROUTES);
    cr_assert_str_eq(c->routes[3].tiers[0].backend->name, "b1020");
    sl_conf_release(c);
    free(y);
    y = many(SL_CONF_MAX_BACKENDS + 1);
    size_t count;
    cr_assert_str_eq(load_err(y, &count), "test.yaml:2:3: backends: too many backends (1025; the limit is 1024)");
    cr_assert_eq(count, 2); /* and "routes: too many routes (1025; the limit is 1024)" */
    free(y);
}

Test(load, a_huge_mapping_is_handled_in_bounded_time_and_memory)
{
    /* 50000 keys in one mapping: duplicate detection is O(n log n); errors are capped and counted. Only the first
     * SL_CONF_MAX_PENDING errors found are sorted, so the two missing keys (found last) are among the counted. */
    size_t n = 50000, cap = n * 16 + 256, o = 0;
    char *y = malloc(cap);
    o += (size_t)snprintf(y + o, cap - o, "server:\n");
    for (size_t i = 0; i != n; ++i)
        o += (size_t)snprintf(y + o, cap - o, "  k%zu: 1\n", i % 40000);
    sl_conf_errors_t errs;
    sl_conf_t *c = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_string("huge.yaml", y, o, &c, &errs), SL_ECONFIG);
    cr_assert_eq(errs.count, SL_CONF_MAX_ERRORS);
    cr_assert_eq(errs.count + errs.dropped, n + 2); /* every key is unknown or duplicate, plus 2 missing keys */
    cr_assert_str_eq(errs.msgs[0], "huge.yaml:2:3: server.k0: unknown key; expected one of: listen, threads, "
                                   "max_body, header_timeout, shutdown_timeout, tls, access_log, routing_headers, busy_poll, "
                                   "max_connections");
    cr_assert_str_eq(errs.msgs[99], "huge.yaml:101:3: server.k99: unknown key; expected one of: listen, threads, "
                                    "max_body, header_timeout, shutdown_timeout, tls, access_log, routing_headers, busy_poll, "
                                    "max_connections");
    sl_conf_errors_dispose(&errs);
    free(y);
}
