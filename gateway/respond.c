/*
 * respond.c - what the client receives: the gateway's own JSON errors, the upstream head (filtered), and the
 * streamed body under h2o's rules: one h2o_send at a time (the next waits for proceed), never an IN_PROGRESS send
 * without bytes (h2o 2.2.5 truncates or stalls on it), HEAD answered without a body, FINAL or ERROR exactly once.
 * Also the output filter that turns h2o's own "413 Request Entity Too Large" (raised before any handler runs) into
 * the same JSON error. A 413 is answered before routing, in the shape of the route the request's head matches.
 */
#include "gateway/proxy.h"
#include "conf/snapshot.h"
#include "gateway/cascade.h"
#include "gateway/failure.h"
#include "gateway/headers.h"
#include "gateway/worker.h"
#include "router/match.h"

#include <stdio.h>
#include <string.h>

const char *sl_proxy_reason(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 413:
        return "Request Entity Too Large";
    case 499:
        return "Client Closed Request";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

static void add_own_headers(sl_proxy_t *p)
{
    h2o_req_t *req = p->req;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, p->request_id.base,
                          p->request_id.len);
    if (p->backend != NULL && p->gen->conf->server.routing_headers) {
        const char *name = p->backend->conf->name;
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-sluice-backend"), 0, NULL, name, strlen(name));
        char digits[20], *tier = h2o_mem_alloc_pool(&req->pool, sizeof(digits));
        size_t n = 0, v = p->tier;
        do
            digits[n++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        for (size_t i = 0; i != n; ++i)
            tier[i] = digits[n - 1 - i];
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-sluice-tier"), 0, NULL, tier, n);
    }
}

static void start_response(sl_proxy_t *p, h2o_generator_t *gen)
{
    sl_cascade_add_headers(p); /* x-sluice-escalations, x-sluice-cost: known only now */
    p->w->in_own_start = 1;
    h2o_start_response(p->req, gen);
    p->w->in_own_start = 0;
    p->responded = 1;
}

enum en_sl_protocol_t sl_proxy_head_protocol(h2o_req_t *req, const sl_gw_gen_t *gen)
{
    sl_router_facts_t facts = {req->path.base, req->path.len, req->authority.base, req->authority.len, NULL, 0,
                               sl_proxy_lookup_header, req};
    const sl_conf_route_t *route = sl_router_match(gen->conf, &facts);
    return route != NULL ? route->protocol : SL_PROTOCOL_OPENAI;
}

static void respond_error_as(sl_proxy_t *p, enum en_sl_protocol_t proto, int status, enum en_sl_failure_t failure,
                             const char *code, const char *message);

void sl_proxy_respond_error(sl_proxy_t *p, int status, enum en_sl_failure_t failure, const char *code, const char *message)
{
    respond_error_as(p, p->route != NULL ? p->route->conf->protocol : SL_PROTOCOL_OPENAI, status, failure, code, message);
}

void sl_proxy_respond_too_large(sl_proxy_t *p)
{
    respond_error_as(p, sl_proxy_head_protocol(p->req, p->gen), 413, SL_FAILURE_NONE, "body_too_large",
                     "the request body is too large");
}

static void respond_error_as(sl_proxy_t *p, enum en_sl_protocol_t proto, int status, enum en_sl_failure_t failure,
                             const char *code, const char *message)
{
    static h2o_generator_t oneshot = {NULL, NULL}; /* a FINAL send: h2o never calls back */
    h2o_req_t *req = p->req;
    char *body = h2o_mem_alloc_pool(&req->pool, SL_GW_ERROR_BODY_MAX);
    size_t len = sl_gw_error_body(proto, status, code, message, body, SL_GW_ERROR_BODY_MAX);
    if (len >= SL_GW_ERROR_BODY_MAX)
        len = SL_GW_ERROR_BODY_MAX - 1;

    if (p->route == NULL) {
        sl_gw_shard_t *s = sl_gw_worker_shard(p->w);
        if (status == 404)
            SL_GW_ADD(s->unmatched, 1);
        else if (status == 413)
            SL_GW_ADD(s->too_large, 1);
        else
            SL_GW_ADD(s->bad_request, 1);
    }
    memset(&req->res.headers, 0, sizeof(req->res.headers)); /* a held-back upstream head may have set some */
    req->res.status = status;
    req->res.reason = sl_proxy_reason(status);
    req->res.content_length = len; /* h2o keeps non-200 answers alive only when their length is known */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (failure == SL_FAILURE_OVERLOADED || failure == SL_FAILURE_GATEWAY_RESOURCES)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    add_own_headers(p);
    p->status = status;
    p->failure = failure;
    start_response(p, &oneshot);
    h2o_iovec_t v = h2o_iovec_init(body, len);
    p->finished = 1;
    p->bytes_out = p->is_head ? 0 : len;
    h2o_send(req, &v, p->is_head ? 0 : 1, H2O_SEND_STATE_FINAL);
}

void sl_proxy_set_head(sl_proxy_t *p, int status, h2o_iovec_t reason, const h2o_header_t *headers, size_t num_headers)
{
    h2o_req_t *req = p->req;
    h2o_iovec_t conn_lists[4];
    size_t num_conn = 0;
    for (size_t i = 0; i != num_headers && num_conn != 4; ++i)
        if (headers[i].name == &H2O_TOKEN_CONNECTION->buf &&
            sl_gw_header_connection_names_more(headers[i].value.base, headers[i].value.len))
            conn_lists[num_conn++] = headers[i].value; /* "keep-alive" alone removes nothing more */

    req->res.status = status;
    req->res.reason = h2o_strdup(&req->pool, reason.base, reason.len).base;
    req->res.content_length = SIZE_MAX;
    for (size_t i = 0; i != num_headers; ++i) {
        const h2o_header_t *h = headers + i;
        const h2o_iovec_t *n = h->name;
        if (sl_gw_header_is_hop_by_hop(n->base, n->len))
            continue;
        int listed = 0;
        for (size_t c = 0; c != num_conn && !listed; ++c)
            listed = sl_gw_header_connection_lists(conn_lists[c].base, conn_lists[c].len, n->base, n->len);
        if (listed)
            continue;
        if (h2o_iovec_is_token(n)) {
            const h2o_token_t *t = (const h2o_token_t *)n;
            if (t == H2O_TOKEN_CONTENT_LENGTH) {
                req->res.content_length = h2o_strtosize(h->value.base, h->value.len);
                continue;
            }
            if (t == H2O_TOKEN_DATE || t == H2O_TOKEN_SERVER) /* h2o writes its own */
                continue;
            if (t == H2O_TOKEN_CONTENT_TYPE && h->value.len >= 17 &&
                h2o_lcstris(h->value.base, 17, H2O_STRLIT("text/event-stream")))
                p->is_stream = 1;
            h2o_iovec_t v = h2o_strdup(&req->pool, h->value.base, h->value.len);
            h2o_add_header(&req->pool, &req->res.headers, t, NULL, v.base, v.len);
        } else {
            if (h2o_memis(n->base, n->len, H2O_STRLIT("x-request-id")))
                continue;
            h2o_iovec_t nv = h2o_strdup(&req->pool, n->base, n->len);
            h2o_iovec_t v = h2o_strdup(&req->pool, h->value.base, h->value.len);
            h2o_add_header_by_str(&req->pool, &req->res.headers, nv.base, nv.len, 0, NULL, v.base, v.len);
        }
    }
    if (req->res.content_length == SIZE_MAX && !p->is_head)
        p->is_stream = 1; /* chunked or delimited by close: treated as a stream (stream_idle, TPOT) */
    add_own_headers(p);
}

void sl_proxy_start_stream(sl_proxy_t *p)
{
    sl_cascade_on_stream(p); /* the judge accepts a stream once its head goes out; filtering when needed */
    p->status = p->req->res.status;
    start_response(p, &p->super);
}

void sl_proxy_respond_buffered(sl_proxy_t *p, h2o_buffer_t *body)
{
    static h2o_generator_t oneshot = {NULL, NULL};
    h2o_req_t *req = p->req;
    h2o_buffer_link_to_pool(body, &req->pool); /* freed with the request */
    req->res.content_length = body->size;
    p->status = req->res.status;
    start_response(p, &oneshot);
    h2o_iovec_t v = h2o_iovec_init(body->bytes, body->size);
    p->finished = 1;
    p->bytes_out = v.len;
    h2o_send(req, &v, v.len != 0 ? 1 : 0, H2O_SEND_STATE_FINAL);
}

void sl_proxy_flush(sl_proxy_t *p)
{
    if (p->finished || !p->responded)
        return;
    h2o_buffer_t **src = sl_proxy_pending(p);
    h2o_iovec_t v = h2o_doublebuffer_prepare(&p->sending, src, p->req->preferred_chunk_size);
    if (p->client != NULL && src == &p->client->sock->input)
        p->input_seen = p->client->sock->input->size; /* prepare may have swapped in an empty buffer */
    int all_sent = p->upstream_done && v.len == p->sending.buf->size && (*src)->size == 0;
    if (p->is_head) {
        /* no protocol layer of h2o drops a body for HEAD: never hand it one */
        if (!p->upstream_done)
            return;
        v.len = 0;
        all_sent = 1;
    }
    if (!all_sent && v.len == 0)
        return; /* never h2o_send(IN_PROGRESS) without bytes: it ends or stalls the response in 2.2.5 */
    p->bytes_out += v.len;
    if (all_sent) {
        p->finished = 1;
        h2o_send(p->req, &v, v.len != 0 ? 1 : 0, p->upstream_error ? H2O_SEND_STATE_ERROR : H2O_SEND_STATE_FINAL);
    } else {
        h2o_send(p->req, &v, 1, H2O_SEND_STATE_IN_PROGRESS);
    }
}

void sl_proxy_on_proceed(h2o_generator_t *self, h2o_req_t *req)
{
    sl_proxy_t *p = H2O_STRUCT_FROM_MEMBER(sl_proxy_t, super, self);
    h2o_doublebuffer_consume(&p->sending);
    sl_proxy_flush(p);
    sl_proxy_resume_reads(p);
}

void sl_proxy_on_stop(h2o_generator_t *self, h2o_req_t *req)
{
    sl_proxy_t *p = H2O_STRUCT_FROM_MEMBER(sl_proxy_t, super, self);
    if (p->phase != SL_PROXY_DONE)
        p->failure = SL_FAILURE_CLIENT_ABORT; /* the client left before the upstream finished */
    sl_proxy_abandon(p);
}

/* h2o answers some requests itself, as text, before any handler runs: "413 Request Entity Too Large" when a body
 * outgrows max_request_entity_size while it is being read, 400 for a broken content-length or chunked body, and
 * the like. This filter rewrites such an answer into the JSON error of the route's protocol (413 body_too_large,
 * other 4xx invalid_request, 5xx internal_error). Answers the proxy starts itself (w->in_own_start) pass
 * untouched, upstream errors included. (What h2o cannot parse at all, a broken request line or more than 100 header
 * fields, it answers on the socket without a request, so no filter sees it: that stays text.)
 * Every answer of the data plane passes here, which is where its `server` field is added: h2o would write it
 * with a sprintf of its own for every HTTP/1 answer (its server_name is left empty, gw.c). */
typedef struct st_sl_proxy_h2o_error_ostream_t {
    h2o_ostream_t super;
    h2o_iovec_t body;
} sl_proxy_h2o_error_ostream_t;

static void on_h2o_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    sl_proxy_h2o_error_ostream_t *os = (sl_proxy_h2o_error_ostream_t *)self;
    if (!h2o_send_state_is_in_progress(state)) {
        int head = h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"));
        h2o_ostream_send_next(&os->super, req, &os->body, head ? 0 : 1, state);
        return;
    }
    /* h2o sends its error page in one FINAL piece; anything else is dropped, the JSON goes out with the final */
    h2o_ostream_send_next(&os->super, req, NULL, 0, state);
}

static void on_h2o_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    sl_gw_worker_t *w = sl_gw_worker_of(req);
    int status = req->res.status;
    if (status >= 400 && !w->in_own_start) {
        char *body = h2o_mem_alloc_pool(&req->pool, SL_GW_ERROR_BODY_MAX);
        enum en_sl_protocol_t proto = SL_PROTOCOL_OPENAI;
        sl_gw_gen_t *gen = (sl_gw_gen_t *)sl_snapshot_pin(&w->reader);
        if (gen != NULL) {
            proto = sl_proxy_head_protocol(req, gen); /* the shape of the route its head matches */
            sl_snapshot_unpin(&w->reader, &gen->super);
        }
        const char *code = "body_too_large", *message = "the request body is too large";
        if (status >= 500) {
            code = "internal_error";
            message = "the gateway could not serve the request";
        } else if (status != 413) {
            code = "invalid_request";
            message = "the request is not valid HTTP";
        }
        size_t len = sl_gw_error_body(proto, status, code, message, body, SL_GW_ERROR_BODY_MAX);
        memset(&req->res.headers, 0, sizeof(req->res.headers));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
        req->res.content_length = len;
        if (status == 413)
            SL_GW_ADD(sl_gw_worker_shard(w)->too_large, 1);
        else if (status < 500)
            SL_GW_ADD(sl_gw_worker_shard(w)->bad_request, 1);
        sl_proxy_h2o_error_ostream_t *os = (sl_proxy_h2o_error_ostream_t *)h2o_add_ostream(req, sizeof(*os), slot);
        os->super.do_send = on_h2o_error_send;
        os->body = h2o_iovec_init(body, len);
        slot = &os->super.next;
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SERVER, NULL, H2O_STRLIT("sluice"));
    h2o_setup_next_ostream(req, slot);
}

void sl_proxy_register_filters(h2o_pathconf_t *pc)
{
    h2o_filter_t *f = h2o_create_filter(pc, sizeof(*f));
    f->on_setup_ostream = on_h2o_error_setup;
}
