/*
 * monitor_glue-t.h - types of model monitoring in the running gateway (functions: monitor_glue.h; the policy:
 * policies/monitor.h; for users: docs/MONITORING.md).
 *
 * Threads and ownership (fields grouped by the thread that writes them):
 *   sl_gw_mon_gen_t    the monitor of one generation, built by the control thread with the generation (gen->mon) and
 *                      owned by the control thread: workers observe into it while a request pins the generation; the
 *                      generation's dispose, on any thread, only sets `released`, and the control thread destroys it
 *                      at its next tick (the SLO tracker's rule, slo_glue.h).
 *   sl_gw_fb_job_t     one POST /v1/feedback body on its way from a worker to the control thread and back: a shared
 *                      object of the request's pool, referenced by the pool and by the sender until it is back (both
 *                      dropped on the worker); the control thread only reads the body and writes the answer.
 *   sl_gw_monitor_t    gw->monitor: the control thread's, for the life of the process, except each worker's part
 *                      (its reply receiver and answer counters, written by that worker only).
 */
#ifndef SL_GATEWAY_MONITOR_GLUE_T_H
#define SL_GATEWAY_MONITOR_GLUE_T_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

#include "common/str.h"
#include "conf/conf-t.h"
#include "policies/monitor-t.h"

#define SL_GW_FEEDBACK_PATH "/v1/feedback"
#define SL_GW_FEEDBACK_OUT_MAX (4u << 20) /* the longest answer to a feedback body (1000 items need about 100 KB) */

/* The answers of POST /v1/feedback, by status (the `code` label of sluice_feedback_requests_total). */
enum en_sl_gw_fb_code_t {
    SL_GW_FB_200 = 0, /* the body was joined (each item's result is in the answer) */
    SL_GW_FB_400,     /* the body was refused (malformed) */
    SL_GW_FB_404,     /* no route of the running config takes feedback */
    SL_GW_FB_405,     /* not a POST */
    SL_GW_FB_413,     /* the body is larger than server.max_body */
    SL_GW_FB_500,     /* the answer outgrew SL_GW_FEEDBACK_OUT_MAX */
    SL_GW_FB_NUM_CODES
};

/* The monitor of one generation. */
typedef struct st_sl_gw_mon_gen_t {
    /* immutable once attached (workers read) */
    sl_monitor_t *monitor; /* every monitored route of the generation's config (policies/monitor.h) */
    sl_conf_t *conf;       /* one reference: the monitor borrows the config for its whole life */
    int any_feedback;      /* some route has monitor.feedback */
    /* any thread: set (release) when the generation is disposed; nobody observes into the monitor any more */
    _Atomic int released;
    /* control thread */
    struct st_sl_gw_mon_gen_t *next;
} sl_gw_mon_gen_t;

struct st_sl_gw_fb_guard_t;

/* One feedback body in flight. The message link is zero while nobody holds it in a queue. */
typedef struct st_sl_gw_fb_job_t {
    h2o_multithread_message_t super; /* first */
    size_t worker;                   /* index of the worker that received the body (where the answer goes back) */
    /* the worker's only */
    h2o_req_t *req;                    /* NULL once the request went away (its pool was cleared) */
    struct st_sl_gw_fb_guard_t *guard; /* in req->pool: tells the job when the request goes away */
    /* written by the control thread, read by the worker once the job came back */
    int status;
    sl_buf_t out;
    /* the body, copied: the request may go away while the control thread reads it */
    size_t len;
    char body[];
} sl_gw_fb_job_t;

/* A pool-owned object of the feedback request: its dispose (the request ends) detaches the job. */
typedef struct st_sl_gw_fb_guard_t {
    sl_gw_fb_job_t *job; /* NULL once the job was answered */
    struct st_sl_gw_worker_t *w;
} sl_gw_fb_guard_t;

/* A worker's part: where the control thread sends the answers back, and what the worker answered. */
typedef struct st_sl_gw_fb_worker_t {
    _Alignas(64) h2o_multithread_receiver_t done; /* registered by the worker itself before its first job */
    int registered;
    uint64_t answers[SL_GW_FB_NUM_CODES]; /* by code; the worker writes (relaxed), the control thread reads */
} sl_gw_fb_worker_t;

/* gw->monitor. */
typedef struct st_sl_gw_monitor_t {
    struct st_sl_gw_t *gw;
    sl_gw_mon_gen_t *gens;           /* every generation's monitor not yet destroyed, newest first (control thread) */
    h2o_multithread_receiver_t jobs; /* on the control thread's queue: feedback bodies from the workers */
    int jobs_registered;
    sl_gw_fb_worker_t *workers; /* [num_workers], 64-byte aligned inside workers_raw */
    void *workers_raw;
    size_t num_workers;
} sl_gw_monitor_t;

#endif
