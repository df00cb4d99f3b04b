/*
 * sse.h - the framing of Server-Sent Events (WHATWG HTML, "Server-sent events", "Interpreting an event stream"):
 * finding whole events in a byte stream, reading their data, and writing an event whose data was rewritten.
 *
 * An event is a run of lines ended by an empty line; a line ends with CRLF, LF or CR. A line "data:V" or "data: V"
 * (one leading space dropped) adds V to the event's data, several data lines joined with "\n"; "data" alone adds an
 * empty line; a line starting with ':' is a comment; other fields (event, id, retry) are kept as written when an
 * event is rewritten. The cascade needs only the data: it holds an upstream stream to judge it, replays it, or
 * strips members from each event on the way through.
 *
 * Pure functions over caller bytes, no allocation, any thread.
 */
#ifndef SL_GATEWAY_SSE_H
#define SL_GATEWAY_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/json_scan-t.h"

typedef struct st_sl_sse_event_t {
    size_t len;          /* bytes of the event in the input, its ending blank line included */
    size_t data_len;     /* bytes of its data once the data lines are joined with "\n" */
    uint32_t data_lines; /* number of data lines; 0 for an event of comments or other fields only */
    const char *data;    /* exactly one data line: its value inside the input (no copy); else NULL */
} sl_sse_event_t;

/* Finds the event that starts at p[0..len). Returns SL_OK with *ev, or SL_EAGAIN when the bytes hold no whole
 * event yet (then nothing is written). With eos set the stream is over: trailing bytes without their blank line
 * form a last event (SL_EAGAIN only when len is 0). A CR at the very end of the bytes is not taken as a line end
 * before eos (the LF of a CRLF may follow). */
int sl_sse_next(const char *p, size_t len, int eos, sl_sse_event_t *ev);

/* Writes the data of ev (the event at p, as found by sl_sse_next) to dst, which holds ev->data_len bytes; returns
 * ev->data_len. */
size_t sl_sse_data(const char *p, const sl_sse_event_t *ev, char *dst);

/* Bytes sl_sse_rewrite() writes for the event at p with new data pieces[0..n). */
size_t sl_sse_rewrite_len(const char *p, const sl_sse_event_t *ev, const sl_json_piece_t *pieces, size_t n);

/* Writes the event at p with its data replaced by the concatenation of pieces[0..n): every line that is not a data
 * line, as written (LF-terminated), then the new data as "data: " lines (one per "\n" in it), then a blank line.
 * dst holds sl_sse_rewrite_len() bytes; returns the bytes written. */
size_t sl_sse_rewrite(const char *p, const sl_sse_event_t *ev, const sl_json_piece_t *pieces, size_t n, char *dst);

#endif
