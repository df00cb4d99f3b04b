/*
 * access_log.h - one JSON line per request, formatted into the worker's buffer and written off the request path by
 * one writer thread. A worker hands its buffer over when it cannot take another line, on its one-second timer,
 * when it switches targets and when it exits, and goes on in the next of its SL_GW_LOG_SLOTS buffers; the writer
 * writes the buffers of every worker, each worker's in order, whole (one writer: the lines of several workers never
 * mix, whatever the destination). A destination that blocks (stderr to a pipe nobody reads, a stalled log
 * collector) blocks only the writer: when every other buffer of a worker still waits for it, the worker drops the
 * lines of the one it filled instead of waiting. A failed write loses the lines it did not write. Both losses are
 * counted in sluice_access_log_dropped_lines_total.
 *
 * Line (keys always present, in this order; see docs/OPERATIONS.md):
 *   {"time":"2026-11-26T12:00:00.123Z","id":"...","method":"POST","path":"/v1/chat/completions","route":"chat",
 *    "tiers":"0","backend":"small","endpoint":"127.0.0.1:8001","status":200,"upstream_status":200,
 *    "failure":"none","attempts":1,"latency_ms":12.345,"upstream_ms":11.907,"ttft_ms":5.210,"overhead_us":38,
 *    "tokens_in":17,"tokens_out":42,"bytes_in":345,"bytes_out":1234,"cost":0.00108,"escalations":0,
 *    "cascade":[{"tier":0,"backend":"small","verdict":"accept","reason":"confident","signal":-0.12,
 *    "tokens_in":17,"tokens_out":42,"cost":0.00108}]}
 * Unknown values are null (no route, no backend, no first byte; cost, escalations and cascade before a route). Strings from the client are JSON-escaped and
 * the path is cut at 256 bytes.
 */
#ifndef SL_GATEWAY_ACCESS_LOG_H
#define SL_GATEWAY_ACCESS_LOG_H

#include "gateway/gw-t.h"
#include "gateway/proxy-t.h"

/* Opens the target for path ("-" = stderr, NULL = logging off) with one reference. Returns SL_OK with *out set,
 * or SL_EIO with a message in err (*out untouched). Control thread. */
int sl_gw_log_target_open(const char *path, sl_gw_log_target_t **out, char *err, size_t errlen);
void sl_gw_log_target_retain(sl_gw_log_target_t *t);
/* Drops a reference; the last one closes the file. NULL is ignored. Any thread. */
void sl_gw_log_target_release(sl_gw_log_target_t *t);

/* Formats the line of a finished request into buf (at most SL_GW_LOG_LINE_MAX bytes, newline included); returns
 * its length. now_wall_ms is the wall clock for the "time" key. Pure. */
size_t sl_gw_log_format(const sl_proxy_t *p, uint64_t now_wall_ms, char *buf);

/* Appends the line of a finished request to the worker's buffer (flushing first when it is nearly full). */
void sl_gw_log_request(sl_gw_worker_t *w, const sl_proxy_t *p);

/* Hands the worker's buffer to the writer (or drops its lines when the writer is that far behind). Worker thread. */
void sl_gw_log_flush(sl_gw_worker_t *w);

/* Starts the writer thread (before the workers); SL_OK or SL_EIO. Main thread. */
int sl_gw_log_writer_start(sl_gw_t *gw);

/* After the workers have ended: lets the writer write what they handed over and waits for it up to wait_ms (a
 * destination that does not take the lines would hold the exit forever). Main thread. */
void sl_gw_log_writer_stop(sl_gw_t *gw, uint32_t wait_ms);

#endif
