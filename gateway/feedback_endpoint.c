/*
 * feedback_endpoint.c - POST /v1/feedback on the client listeners (see monitor_glue.h; the body and the answers:
 * docs/MONITORING.md §6).
 *
 * The feedback tables and quality measures belong to the control thread, and a worker never waits on a lock, so the
 * body travels: the worker checks the method (405) and the size (413, server.max_body), copies the body into a job
 * and sends it to the control thread's receiver (h2o_multithread: a wake-up, as the workers' ejection requests
 * use); the control thread joins it with the published generation's monitor (sl_monitor_feedback, or 404 when no
 * route takes feedback), writes the answer into the job and sends the job back to the worker's own receiver; the
 * worker answers and frees the job.
 *
 * Memory. The job is a shared object of the request's pool (h2o_mem_alloc_shared), with one more reference taken
 * when it is sent: the request may go away meanwhile (the client closes) and clear its pool, and the job must
 * outlive that until it is back. Both references are dropped on the worker (the pool's when it is cleared, the
 * sender's when the job comes back), so the non-atomic reference count is only ever touched by that one thread. A
 * guard object in the same pool tells the job that its request is gone; the job is then only released. Guard, job
 * and request are touched only by the worker, except the job's body (read) and answer (written) while the control
 * thread holds it; the message queue's hand-over orders those accesses. A request being answered counts as in
 * flight, so a graceful stop waits for its answer.
 */
#include "gateway/monitor_glue.h"

#include <string.h>

#include "common/clock.h"
#include "common/status.h"
#include "conf/snapshot.h"
#include "gateway/failure.h"
#include "gateway/gw.h"
#include "gateway/worker.h"
#include "policies/monitor.h"

int sl_gw_feedback_match(const h2o_req_t *req)
{
    return h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT(SL_GW_FEEDBACK_PATH));
}

static enum en_sl_gw_fb_code_t code_of(int status)
{
    switch (status) {
    case 200:
        return SL_GW_FB_200;
    case 400:
        return SL_GW_FB_400;
    case 404:
        return SL_GW_FB_404;
    case 405:
        return SL_GW_FB_405;
    case 413:
        return SL_GW_FB_413;
    default:
        return SL_GW_FB_500;
    }
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Request Entity Too Large";
    default:
        return "Internal Server Error";
    }
}

/* Answers req with a JSON body (copied into the request's pool) and counts the answer. Worker thread. */
static void respond(sl_gw_worker_t *w, h2o_req_t *req, int status, const char *body, size_t len)
{
    static h2o_generator_t oneshot = {NULL, NULL};
    sl_gw_fb_worker_t *fw = &w->gw->monitor->workers[w->idx];
    uint64_t *n = &fw->answers[code_of(status)];
    __atomic_store_n(n, __atomic_load_n(n, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (status == 405)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
    w->in_own_start = 1; /* the data plane's filter of h2o's own errors leaves the answer as it is */
    h2o_start_response(req, &oneshot);
    w->in_own_start = 0;
    h2o_iovec_t v = h2o_strdup(&req->pool, body, len);
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    h2o_send(req, &v, head ? 0 : 1, H2O_SEND_STATE_FINAL);
}

static void respond_error(sl_gw_worker_t *w, h2o_req_t *req, int status, const char *code, const char *message)
{
    char body[SL_GW_ERROR_BODY_MAX];
    size_t len = sl_gw_error_body(SL_PROTOCOL_OPENAI, status, code, message, body, sizeof(body));
    respond(w, req, status, body, len < sizeof(body) ? len : sizeof(body) - 1);
}

/* The request's pool is being cleared (the request ended, answered or not). */
static void on_guard_dispose(void *_g)
{
    sl_gw_fb_guard_t *g = _g;
    if (g->job != NULL)
        g->job->req = NULL; /* still with the control thread: it is only released when it comes back */
    SL_GW_SUB(sl_gw_worker_shard(g->w)->inflight, 1);
}

/* The job's last reference went (both on the worker). */
static void on_job_dispose(void *_job)
{
    sl_gw_fb_job_t *job = _job;
    sl_buf_dispose(&job->out);
}

/* Jobs back from the control thread, on the worker that sent them. */
static void on_jobs_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        sl_gw_fb_job_t *job = H2O_STRUCT_FROM_MEMBER(sl_gw_fb_job_t, super.link, messages->next);
        h2o_linklist_unlink(&job->super.link);
        if (job->req != NULL) {
            sl_gw_worker_t *w = sl_gw_worker_of(job->req);
            job->guard->job = NULL;
            if (job->out.len != 0)
                respond(w, job->req, job->status, job->out.data, job->out.len);
            else
                respond_error(w, job->req, 500, "feedback_failed", "the feedback answer could not be written");
        }
        sl_buf_dispose(&job->out);
        h2o_mem_release_shared(job); /* the sender's reference; the pool's goes when the request's pool is cleared */
    }
}

/* The control thread's side: joins each body with the published generation's monitor and sends the answer back. */
static void on_jobs(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    sl_gw_monitor_t *s = H2O_STRUCT_FROM_MEMBER(sl_gw_monitor_t, jobs, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        sl_gw_fb_job_t *job = H2O_STRUCT_FROM_MEMBER(sl_gw_fb_job_t, super.link, messages->next);
        h2o_linklist_unlink(&job->super.link);
        const sl_gw_gen_t *gen = sl_gw_current(s->gw);
        sl_buf_init(&job->out, SL_GW_FEEDBACK_OUT_MAX);
        if (gen->mon == NULL || !gen->mon->any_feedback) {
            char body[SL_GW_ERROR_BODY_MAX];
            size_t len =
                sl_gw_error_body(SL_PROTOCOL_OPENAI, 404, "feedback_not_configured",
                                 "no route of this gateway takes feedback (routes[].monitor.feedback)", body, sizeof(body));
            job->status = 404;
            sl_buf_append(&job->out, body, len < sizeof(body) ? len : sizeof(body) - 1);
        } else {
            /* a control step first: the predictions of answers already sent are moved from the workers' rings into
             * the tables, so a label posted right after its answer finds it */
            uint64_t now_ms = sl_clock_now_us() / 1000;
            sl_monitor_tick(gen->mon->monitor, now_ms);
            job->status = sl_monitor_feedback(gen->mon->monitor, job->body, job->len, now_ms, &job->out);
        }
        h2o_multithread_send_message(&s->workers[job->worker].done, &job->super);
    }
}

void sl_gw_monitor_control_init(sl_gw_t *gw, h2o_multithread_queue_t *queue)
{
    sl_gw_monitor_t *s = gw->monitor;
    if (s == NULL || s->jobs_registered)
        return;
    h2o_multithread_register_receiver(queue, &s->jobs, on_jobs);
    s->jobs_registered = 1;
}

int sl_gw_feedback_on_req(sl_gw_worker_t *w, h2o_req_t *req)
{
    sl_gw_monitor_t *s = w->gw->monitor;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        respond_error(w, req, 405, "method_not_allowed", "POST feedback to /v1/feedback");
        return 0;
    }
    size_t len = req->entity.base != NULL ? req->entity.len : 0;
    sl_gw_gen_t *gen = (sl_gw_gen_t *)sl_snapshot_pin(&w->reader);
    uint64_t max_body = 0;
    if (gen != NULL) {
        max_body = gen->max_body_bytes; /* never above the start value: an HTTP/2 body cut there is not whole */
        sl_snapshot_unpin(&w->reader, &gen->super);
    }
    if (len > max_body) {
        respond_error(w, req, 413, "body_too_large", "the request body is too large");
        return 0;
    }
    sl_gw_fb_worker_t *fw = &s->workers[w->idx];
    if (!fw->registered) {
        h2o_multithread_register_receiver(w->ctx->queue, &fw->done, on_jobs_done);
        fw->registered = 1;
    }
    sl_gw_fb_job_t *job = h2o_mem_alloc_shared(&req->pool, sizeof(*job) + len + 1, on_job_dispose);
    memset(job, 0, sizeof(*job));
    job->worker = w->idx;
    job->req = req;
    job->len = len;
    if (len != 0)
        memcpy(job->body, req->entity.base, len);
    job->body[len] = '\0';
    sl_gw_fb_guard_t *g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), on_guard_dispose);
    g->job = job;
    g->w = w;
    job->guard = g;
    SL_GW_ADD(sl_gw_worker_shard(w)->inflight, 1);
    h2o_mem_addref_shared(job); /* the sender's reference, dropped on this worker when the job comes back */
    h2o_multithread_send_message(&s->jobs, &job->super);
    return 0;
}
