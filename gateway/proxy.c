/*
 * proxy.c - arrival and departure of a proxied request (see proxy.h).
 *
 * Arrival runs once per request, before any upstream work: the body limit (413), the route (404), the request id,
 * the body rewrite ("model" -> the backend's upstream model, 400 when a JSON body cannot be edited safely) and the
 * serialized upstream request head. Memory comes from req->pool only; the body is never copied (the upstream
 * request is an iovec list over the client's bytes and the few new ones).
 * Departure runs in the dispose hook of the request's pool, whatever ended it (answer sent, client gone, drain):
 * it cancels anything still running, then records metrics and the access-log line, then unpins the generation.
 */
#include "gateway/proxy.h"
#include "backends/adapter.h"
#include "backends/pool.h"
#include "common/clock.h"
#include "common/status.h"
#include "conf/snapshot.h"
#include "gateway/access_log.h"
#include "gateway/cascade.h"
#include "gateway/failure.h"
#include "gateway/headers.h"
#include "gateway/monitor_glue.h"
#include "gateway/rollout_glue.h"
#include "gateway/slo_glue.h"
#include "gateway/worker.h"
#include "router/match.h"
#include "stats/hist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

const char *sl_proxy_lookup_header(void *ctx, const char *name, size_t name_len, size_t *value_len)
{
    h2o_req_t *req = ctx;
    ssize_t i = h2o_find_header_by_str(&req->headers, name, name_len, -1);
    if (i < 0)
        return NULL;
    *value_len = req->headers.entries[i].value.len;
    return req->headers.entries[i].value.base;
}

static void take_request_id(sl_proxy_t *p)
{
    h2o_req_t *req = p->req;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i >= 0 && sl_gw_request_id_valid(req->headers.entries[i].value.base, req->headers.entries[i].value.len)) {
        p->request_id = req->headers.entries[i].value;
        return;
    }
    char *id = h2o_mem_alloc_pool(&req->pool, 32);
    uint64_t hi = sl_gw_worker_rand(p->w), lo = sl_gw_worker_rand(p->w);
    sl_gw_request_id_format(hi, lo, id);
    p->request_id = h2o_iovec_init(id, 32);
}

static int is_json_content_type(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    return v.len >= 16 && h2o_lcstris(v.base, 16, H2O_STRLIT("application/json"));
}

/* A visitor that keeps the first top-level "model" (a read before routing, when no one adapter reads every body). */
static void on_top_value(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    static const sl_json_piece_t name = {H2O_STRLIT("model")};
    sl_json_span_t *model = ctx;
    if (model->p == NULL && sl_json_string_index(&path[0].key, &name, 1) == 0)
        *model = *v;
}

/* 400 for a body with a member twice that the read takes a fact from: the read takes the first, a model server may
 * take the last, and the two must not disagree on which model answers or whether it streams. */
static void respond_repeated(sl_proxy_t *p, const char *member)
{
    static const char fmt[] = "the request body has more than one \"%s\"";
    size_t cap = sizeof(fmt) + strlen(member);
    char *msg = h2o_mem_alloc_pool(&p->req->pool, cap);
    snprintf(msg, cap, fmt, member);
    sl_proxy_respond_error(p, 400, SL_FAILURE_NONE, strcmp(member, "model") == 0 ? "invalid_model" : "invalid_request", msg);
}

int sl_proxy_parse_body(sl_proxy_t *p, const sl_adapter_t *a)
{
    if (p->body_len == 0)
        return 0;
    if (p->body_read) {
        if (a != NULL && a != p->facts_by && p->root.type != SL_JSON_INVALID) {
            p->facts_by = a->inspect(&p->root, &p->body_facts) == SL_OK ? a : NULL;
            if (p->facts_by != NULL && p->body_facts.repeated != NULL) {
                respond_repeated(p, p->body_facts.repeated);
                return -1;
            }
        }
        return 0;
    }
    p->body_read = 1;
    sl_json_span_t root, model = {NULL, 0, SL_JSON_INVALID};
    int ret;
    if (a != NULL) {
        if ((ret = sl_adapter_read(a, p->body, p->body_len, &root, &p->body_facts)) == SL_OK) {
            if (p->body_facts.repeated != NULL) {
                respond_repeated(p, p->body_facts.repeated);
                return -1;
            }
            p->facts_by = a;
            model = p->body_facts.model;
        } else if (ret == SL_EINVAL) {
            ret = SL_OK; /* JSON, but not of a shape the adapter reads: no facts */
        }
    } else {
        sl_json_visitor_t top = {on_top_value, &model, 1};
        ret = sl_json_parse_visit(p->body, p->body_len, &root, &top);
    }
    if (ret != SL_OK) {
        if (!is_json_content_type(p->req))
            return 0; /* not JSON and not said to be: passed through as it is */
        sl_proxy_respond_error(p, 400, SL_FAILURE_NONE, "invalid_json", "the request body is not valid JSON");
        return -1;
    }
    p->root = root;
    if (root.type == SL_JSON_OBJECT && model.type == SL_JSON_STRING)
        p->model = h2o_iovec_init(model.p + 1, model.len - 2); /* the string's body, escapes as written */
    return 0;
}

static void *pool_alloc(void *ctx, size_t n)
{
    return h2o_mem_alloc_pool((h2o_mem_pool_t *)ctx, n);
}

/* The upstream request target: protocols that name the model in the path (kserve_v2: /v2/models/<name>/...) get
 * the backend's model there (by the adapter); a path without a model segment goes unchanged. */
static h2o_iovec_t upstream_path(sl_proxy_t *p, const sl_gw_backend_rt_t *b)
{
    h2o_iovec_t path = p->req->path;
    const sl_adapter_t *a = sl_adapter_get(b->conf->protocol);
    sl_adapter_alloc_t alloc = {pool_alloc, &p->req->pool};
    sl_json_piece_t out;
    if (a == NULL || b->conf->model == NULL || a->encode_path(path.base, path.len, b->conf->model, &alloc, &out) != 0)
        return path;
    return h2o_iovec_init(out.base, out.len);
}

static size_t append(char *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
    return n;
}

#define APPEND_LIT(lit) (len += append(buf + len, lit, sizeof(lit) - 1))
#define APPEND(s, n) (len += append(buf + len, (s), (n)))

/* Serializes the upstream request head (RFC 9112 §3) for backend b. */
static h2o_iovec_t build_head(sl_proxy_t *p, h2o_iovec_t path, size_t body_len)
{
    h2o_req_t *req = p->req;
    char peer[INET6_ADDRSTRLEN] = "";
    struct sockaddr_storage ss;
    socklen_t sslen = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sslen != 0 && ss.ss_family == AF_INET)
        sl_gw_ipv4_format(&((struct sockaddr_in *)&ss)->sin_addr.s_addr, peer);
    else if (sslen != 0 && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, peer, sizeof(peer));

    /* the Connection field lists more hop-by-hop names (RFC 9110 §7.6.1) */
    h2o_iovec_t conn_lists[4];
    size_t num_conn = 0;
    for (ssize_t i = -1; num_conn != 4 && (i = h2o_find_header(&req->headers, H2O_TOKEN_CONNECTION, i)) >= 0;)
        if (sl_gw_header_connection_names_more(req->headers.entries[i].value.base, req->headers.entries[i].value.len))
            conn_lists[num_conn++] = req->headers.entries[i].value; /* "keep-alive" alone removes nothing more */

    size_t cap = req->method.len + path.len + req->authority.len + p->request_id.len + 256 + sizeof(peer);
    for (size_t i = 0; i != req->headers.size; ++i)
        cap += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    char *buf = h2o_mem_alloc_pool(&req->pool, cap);
    size_t len = 0;

    APPEND(req->method.base, req->method.len);
    APPEND_LIT(" ");
    APPEND(path.base, path.len);
    APPEND_LIT(" HTTP/1.1\r\nhost: ");
    APPEND(req->authority.base, req->authority.len);
    APPEND_LIT("\r\n"); /* no Connection field: HTTP/1.1 connections persist unless one side says close */
    if (req->entity.base != NULL || h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) ||
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PUT")) ||
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PATCH"))) {
        char digits[24];
        size_t nd = 0, v = body_len;
        do
            digits[nd++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        APPEND_LIT("content-length: ");
        while (nd != 0)
            buf[len++] = digits[--nd];
        APPEND_LIT("\r\n");
    }

    h2o_iovec_t xff = {NULL, 0};
    for (size_t i = 0; i != req->headers.size; ++i) {
        const h2o_header_t *h = req->headers.entries + i;
        const h2o_iovec_t *n = h->name;
        if (sl_gw_header_is_hop_by_hop(n->base, n->len))
            continue;
        if (h2o_iovec_is_token(n)) {
            const h2o_token_t *t = (const h2o_token_t *)n;
            if (t == H2O_TOKEN_HOST || t == H2O_TOKEN_CONTENT_LENGTH || t == H2O_TOKEN_EXPECT)
                continue;
            if (t == H2O_TOKEN_ACCEPT_ENCODING && p->cas.reads_answer)
                continue; /* the cascade reads this answer (judge, strip): ask for it uncompressed */
            if (t == H2O_TOKEN_X_FORWARDED_FOR) {
                if (xff.base == NULL)
                    xff = h->value;
                continue;
            }
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("x-forwarded-proto")) ||
                   h2o_memis(n->base, n->len, H2O_STRLIT("x-request-id"))) {
            continue;
        }
        int listed = 0;
        for (size_t c = 0; c != num_conn && !listed; ++c)
            listed = sl_gw_header_connection_lists(conn_lists[c].base, conn_lists[c].len, n->base, n->len);
        if (listed)
            continue;
        APPEND(h->orig_name != NULL ? h->orig_name : n->base, n->len);
        APPEND_LIT(": ");
        APPEND(h->value.base, h->value.len);
        APPEND_LIT("\r\n");
    }
    APPEND_LIT("x-forwarded-for: ");
    if (xff.base != NULL) {
        APPEND(xff.base, xff.len);
        APPEND_LIT(", ");
    }
    APPEND(peer, strlen(peer));
    if (req->scheme == &H2O_URL_SCHEME_HTTPS)
        APPEND_LIT("\r\nx-forwarded-proto: https\r\nx-request-id: ");
    else
        APPEND_LIT("\r\nx-forwarded-proto: http\r\nx-request-id: ");
    APPEND(p->request_id.base, p->request_id.len);
    APPEND_LIT("\r\n\r\n");
    return h2o_iovec_init(buf, len);
}

#undef APPEND
#undef APPEND_LIT

int sl_proxy_build_request(sl_proxy_t *p, const sl_gw_backend_rt_t *b)
{
    size_t n = 0;
    h2o_iovec_t *bufs = p->reqbufs + 1;
    h2o_iovec_t path = p->req->path;

    path = upstream_path(p, b);
    if (sl_cascade_encode(p, b, bufs, SL_PROXY_MAX_BODY_PIECES, &n) != 0)
        return -1; /* answered 400 */
    size_t body_len = 0;
    for (size_t i = 0; i != n; ++i)
        body_len += bufs[i].len;
    p->reqbufs[0] = build_head(p, path, body_len);
    p->num_reqbufs = 1 + n;
    p->reqbufs_for = b;
    return 0;
}

static void on_dispose(void *_p)
{
    sl_proxy_t *p = _p;
    sl_gw_worker_t *w = p->w;
    p->disposed = 1;
    sl_proxy_abandon(p);
    uint64_t now = sl_clock_now_us();
    p->t_end_us = now;
    sl_gw_shard_t *s = sl_gw_worker_shard(w);
    if (!p->finished) {
        if (p->failure == SL_FAILURE_NONE)
            p->failure = SL_FAILURE_CLIENT_ABORT;
        p->status = 499;
        if (p->failure == SL_FAILURE_CLIENT_ABORT && p->backend != NULL)
            SL_GW_ADD(s->backends[p->backend->id].failures[SL_FAILURE_CLIENT_ABORT], 1);
    }
    if (p->route != NULL)
        sl_cascade_end(p); /* closes the last attempt, records the cascade's metrics */

    if (p->route != NULL) {
        const sl_gw_route_rt_t *r = p->route;
        sl_gw_series_stats_t *ss = s->series + r->series[p->tier];
        int cls = p->status >= 100 && p->status < 600 ? p->status / 100 : 0;
        SL_GW_ADD(ss->requests[cls], 1);
        if (p->usage.has_prompt)
            SL_GW_ADD(ss->tokens_in, p->usage.prompt_tokens);
        if (p->usage.has_completion)
            SL_GW_ADD(ss->tokens_out, p->usage.completion_tokens);
        sl_gw_route_stats_t *rs = s->routes + r->id;
        sl_hist_record(&rs->latency, now - p->t_recv_us);
        if (p->t_first_byte_us != 0)
            sl_hist_record(&rs->ttft, p->t_first_byte_us - p->t_recv_us);
    }
    if (p->t_dispatch_us != 0)
        sl_hist_record(&s->overhead, p->overhead_us + (p->t_dispatch_us - p->t_recv_us));
    sl_gw_slo_observe(p, now); /* SLO outcome, sheds, the accurate variant's latency (slo_glue.h) */
    sl_gw_rollout_observe(p, now); /* the outcome of a tier with a rollout, by version (rollout_glue.h) */
    /* a monitored route's request not observed with its answer (monitor_glue.h) */
    sl_gw_monitor_observe(p, now);
    sl_gw_log_request(w, p);

    h2o_doublebuffer_dispose(&p->sending);
    h2o_buffer_dispose(&p->tail);
    if (p->held != NULL)
        h2o_buffer_dispose(&p->held);
    SL_GW_SUB(s->inflight, 1);
    sl_snapshot_unpin(&w->reader, &p->gen->super);
    sl_proxy_read_ahead_end(p); /* last: the request's strings live in the buffer it gives back */
}

int sl_proxy_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    sl_gw_worker_t *w = sl_gw_worker_of(req);
    uint64_t t0 = sl_clock_now_us();
    if (sl_gw_feedback_match(req))
        return sl_gw_feedback_on_req(w, req); /* POST /v1/feedback: answered by the control thread (monitor_glue.h) */
    sl_gw_gen_t *gen = (sl_gw_gen_t *)sl_snapshot_pin(&w->reader);
    if (gen == NULL) {
        /* cannot happen once the server accepts: the first generation is published before the listeners open */
        h2o_send_error_503(req, "Service Unavailable", "starting\n", 0);
        return 0;
    }
    sl_proxy_t *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), on_dispose);
    memset(p, 0, sizeof(*p));
    p->super.proceed = sl_proxy_on_proceed;
    p->super.stop = sl_proxy_on_stop;
    p->req = req;
    p->w = w;
    p->gen = gen;
    p->t_recv_us = t0;
    p->status = 0;
    p->root.type = SL_JSON_INVALID;
    sl_proxy_read_ahead_start(p);
    h2o_doublebuffer_init(&p->sending, &h2o_socket_buffer_prototype);
    h2o_buffer_init(&p->tail, &h2o_socket_buffer_prototype);
    sl_gw_usage_init(&p->usage);
    sl_gw_shard_t *s = sl_gw_worker_shard(w);
    SL_GW_ADD(s->inflight, 1);
    p->is_head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    p->body = req->entity.base;
    p->body_len = req->entity.base != NULL ? req->entity.len : 0;
    take_request_id(p);

    if (p->body_len > gen->max_body_bytes) {
        sl_proxy_respond_too_large(p); /* in the shape of the route the request's head matches */
        return 0;
    }
    if (gen->needs_model && sl_proxy_parse_body(p, gen->body_adapter) != 0)
        return 0;
    sl_router_facts_t facts = {req->path.base, req->path.len, req->authority.base, req->authority.len,
                               p->model.base,  p->model.len,  sl_proxy_lookup_header, req};
    const sl_conf_route_t *route = sl_router_match(gen->conf, &facts);
    if (route == NULL) {
        sl_proxy_respond_error(p, 404, SL_FAILURE_NONE, "no_route", "no route matches this request");
        return 0;
    }
    p->route = gen->routes + route->index;
    sl_cascade_start(p, &facts); /* facts, plan, first tier */
    return 0;
}
