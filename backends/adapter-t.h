/*
 * adapter-t.h - types of the protocol adapters (functions: adapter.h).
 *
 * A protocol adapter is a table of callbacks (sl_adapter_t), one table per protocol, one file per table. The
 * gateway holds no protocol knowledge: it asks the adapter of the route (or of the tier's backend) what the client
 * asked for, how to write the upstream request, what an answer or a stream event says, and how an error looks.
 * Everything here is plain data over borrowed bytes: spans into the client's body or the upstream's answer.
 */
#ifndef SL_BACKENDS_ADAPTER_T_H
#define SL_BACKENDS_ADAPTER_T_H

#include <stddef.h>
#include <stdint.h>

#include "common/json_scan-t.h"
#include "conf/conf-t.h"

/* Output memory of the adapters. The gateway passes its request pool (h2o_mem_alloc_pool): memory lives until the
 * request ends and is never freed one block at a time. alloc never returns NULL (it aborts on exhaustion, as
 * h2o_mem_alloc_pool does); alignment is that of malloc. */
typedef struct st_sl_adapter_alloc_t {
    void *(*alloc)(void *ctx, size_t n);
    void *ctx;
} sl_adapter_alloc_t;

/* Header lookup (request or response). Returns the value of the first header named `name` (lower case, name_len
 * bytes) and sets *value_len, or NULL when absent. Pure: may be called several times. */
typedef struct st_sl_adapter_headers_t {
    const char *(*get)(void *ctx, const char *name, size_t name_len, size_t *value_len);
    void *ctx;
} sl_adapter_headers_t;

/* A body made of pieces (iovec-style, same layout as h2o_iovec_t): the array is allocated from the caller's
 * allocator; each base is borrowed (the original body), allocated, or static. */
typedef struct st_sl_adapter_body_t {
    sl_json_piece_t *pieces;
    size_t num_pieces;
    size_t len; /* total bytes */
} sl_adapter_body_t;

enum en_sl_adapter_kind_t {
    SL_ADAPTER_KIND_OTHER = 0,   /* not a request shape the adapter knows; passed through with the model rewrite */
    SL_ADAPTER_KIND_CHAT,        /* openai /v1/chat/completions: "messages" */
    SL_ADAPTER_KIND_COMPLETIONS, /* openai /v1/completions (legacy): "prompt" */
    SL_ADAPTER_KIND_INFER,       /* kserve v2 /v2/models/<m>/infer: "inputs" */
    SL_ADAPTER_KIND_JSON,        /* protocol http: any JSON object */
};

#define SL_ADAPTER_EDIT_KEYS 4  /* top-level members an adapter's one-pass read locates for its encode */
#define SL_ADAPTER_EDIT_MODEL 0 /* the slot of top-level "model", in every adapter that locates it */

/* What the client asked for, found once per request by the route's adapter (read, or inspect). Spans borrow the
 * body. */
typedef struct st_sl_adapter_request_t {
    enum en_sl_adapter_kind_t kind;
    sl_json_span_t root;    /* the body's root value; type SL_JSON_INVALID when no body was inspected */
    sl_json_span_t model;   /* top-level "model" when it is a string, else type SL_JSON_INVALID */
    int stream;             /* "stream": true */
    int logprobs;           /* the client asked for token logprobs (chat "logprobs": true; completions a number) */
    uint32_t top_logprobs;  /* alternatives per token the client asked for (chat top_logprobs; completions logprobs) */
    int usage;              /* a stream whose client asked for the usage chunk (stream_options.include_usage) */
    uint32_t num_messages;  /* chat: entries of "messages" */
    uint64_t prompt_bytes;  /* bytes of prompt text (unescaped UTF-8), see the adapter's file for what counts */
    uint64_t prompt_tokens; /* estimate: ceil(prompt_bytes / 4), the usual 4-bytes-per-token rule of thumb */
    /* The first top-level member the read takes a fact from ("model", "stream", ...) that the body has more than once,
     * by name; NULL when none repeats. The read takes the first occurrence; a model server's parser may take the
     * last, so a body naming one model or stream mode to sluice and another to the server is refused (400). */
    const char *repeated;
    /* Where encode's edits go, when an adapter's read found it in its one pass: located_by is that adapter (NULL:
     * nothing located, encode walks the body), edit_at the first value of each top-level member that adapter may
     * set (which member is which slot is the adapter's own business; type SL_JSON_INVALID when absent), edit_count
     * how often each occurs (2 stands for more than once) and num_members the number of the root's members. Only
     * the adapter named by located_by reads them (a tier of another protocol walks), building its pieces without
     * walking the body again. */
    const struct st_sl_adapter_t *located_by;
    uint32_t num_members;
    sl_json_span_t edit_at[SL_ADAPTER_EDIT_KEYS];
    uint8_t edit_count[SL_ADAPTER_EDIT_KEYS];
} sl_adapter_request_t;

/* What the upstream request must carry beyond the client's own request. */
typedef struct st_sl_adapter_want_t {
    const char *model;              /* upstream model to write into "model"; NULL keeps the client's (backend->model) */
    const sl_conf_signal_t *signal; /* the tier's accept signal (asks for the logprobs it needs); NULL = none */
    const char *model_quoted;       /* model as a JSON string, quotes included, when the caller keeps it ready (the
                                       gateway does, per config generation); NULL: the adapter writes it */
    size_t model_quoted_len;
} sl_adapter_want_t;

/* Result of extracting one signal. A value is reported only with SL_SIGNAL_VALUE; the two other states carry a
 * static reason and never a number (no 0, no NaN stand-ins). */
enum en_sl_signal_state_t {
    SL_SIGNAL_VALUE = 0,  /* value holds a finite number */
    SL_SIGNAL_MISSING,    /* the answer has no such signal (not asked, not returned, no such field/header) */
    SL_SIGNAL_UNPARSABLE, /* the field exists but is not a usable number (text, out of range, not a prob.) */
};

typedef struct st_sl_signal_t {
    enum en_sl_signal_state_t state;
    double value;
    const char *reason; /* static text for MISSING / UNPARSABLE ("answer has no token logprobs"); NULL for VALUE */
} sl_signal_t;

/* A decoded full (non-streamed) answer. Spans borrow the answer body. */
typedef struct st_sl_adapter_answer_t {
    int status;          /* HTTP status of the upstream answer */
    sl_json_span_t root; /* the body's root value; SL_JSON_INVALID when the body is not JSON (non-2xx only) */
    int has_usage;       /* usage found (openai "usage") */
    uint64_t prompt_tokens;
    uint64_t completion_tokens;
    sl_json_span_t prediction; /* openai: choices[0].message.content / choices[0].text; http: the value at
                                  prediction_pointer; kserve: the data of the probability tensor; else INVALID */
    int64_t prediction_class;  /* kserve/http probability vectors: index of the top class; -1 when none */
} sl_adapter_answer_t;

enum en_sl_adapter_event_t {
    SL_ADAPTER_EVENT_CHUNK = 0, /* an ordinary data event */
    SL_ADAPTER_EVENT_USAGE,     /* openai: the closing chunk with "usage" and no choices */
    SL_ADAPTER_EVENT_DONE,      /* openai: "[DONE]" */
    SL_ADAPTER_EVENT_ERROR,     /* an {"error": ...} event sent in the middle of a stream */
};

/* One decoded stream event. */
typedef struct st_sl_adapter_event_t {
    enum en_sl_adapter_event_t kind;
    uint32_t tokens; /* output tokens carried by this event (logprob entries, else 1 per non-empty text delta) */
    int has_content; /* the event carries answer text (time to first token is measured on the first one) */
} sl_adapter_event_t;

/* Signal state of a stream, accumulated event by event: fixed size, no pointer into past events. */
typedef struct st_sl_adapter_stream_t {
    uint64_t events;
    uint64_t output_tokens; /* summed sl_adapter_event_t.tokens */
    int has_usage;
    uint64_t prompt_tokens; /* from the usage chunk */
    uint64_t completion_tokens;
    uint64_t logprob_count; /* content tokens of choice 0 that carried a logprob */
    double logprob_sum;
    double logprob_min;
    int logprob_bad;      /* a logprob was present but not a finite number */
    int first_seen;       /* first content token of choice 0 seen: first_top[] is final */
    uint32_t first_top_n; /* alternatives kept for the first token (at most 2) */
    double first_top[2];  /* their logprobs, best first */
    double first_logprob; /* the first token's own logprob */
    int done;             /* [DONE] seen */
    int failed;           /* an error event was seen */
} sl_adapter_stream_t;

/* An error to send to the client, in the protocol's own shape. Strings are borrowed; code may be NULL. */
typedef struct st_sl_adapter_error_t {
    int status;          /* HTTP status the gateway will send */
    const char *type;    /* "invalid_request_error", "upstream_error", "rate_limit_error", "timeout", ... */
    const char *code;    /* machine-readable detail ("no_route", "upstream_timeout") or NULL */
    const char *message; /* for people */
} sl_adapter_error_t;

typedef struct st_sl_adapter_t sl_adapter_t;

/*
 * The table. Every callback is pure (no I/O, no clock, no global state) and safe on any thread; outputs are
 * written only on success. Contracts in detail: adapter.h.
 */
struct st_sl_adapter_t {
    const char *name;
    enum en_sl_protocol_t protocol;
    /* Reads the client's request body (root: a validated document) into *out. */
    int (*inspect)(const sl_json_span_t *root, sl_adapter_request_t *out);
    /* Reads the client's request body from its bytes in one pass: validates it (sl_json_parse's grammar and
     * returns) and collects what inspect would, plus where encode's edits go. NULL for a protocol without one
     * (sl_adapter_read then parses and inspects). */
    int (*read)(const char *body, size_t len, sl_json_span_t *root, sl_adapter_request_t *out);
    /* Writes the upstream request body: the client's bytes plus the edits `want` requires. */
    int (*encode)(const char *body, size_t len, const sl_adapter_request_t *req, const sl_adapter_want_t *want,
                  const sl_adapter_alloc_t *alloc, sl_adapter_body_t *out);
    /* Writes the upstream request target from the client's (path[0..len), query included): protocols that name the
     * model in the path (kserve_v2) put `model` there (NULL: unchanged). *out is one piece. */
    int (*encode_path)(const char *path, size_t len, const char *model, const sl_adapter_alloc_t *alloc, sl_json_piece_t *out);
    /* Decodes a whole answer (status, body) into *out. */
    int (*decode)(const sl_conf_backend_t *backend, int status, const char *body, size_t len, sl_adapter_answer_t *out);
    /* Extracts a protocol-specific signal (logprob_*, top_prob, margin) from a decoded answer. json:/header:
     * signals are handled by sl_adapter_signal() for every protocol and never reach this callback. */
    void (*signal)(const sl_conf_backend_t *backend, const sl_adapter_answer_t *ans, enum en_sl_signal_kind_t kind,
                   sl_signal_t *out);
    /* Decodes the data of one stream event and accumulates it into *state. */
    int (*decode_event)(const char *data, size_t len, sl_adapter_stream_t *state, sl_adapter_event_t *out);
    /* Extracts a signal from an accumulated stream state. */
    void (*stream_signal)(const sl_adapter_stream_t *state, enum en_sl_signal_kind_t kind, sl_signal_t *out);
    /* Removes from a whole answer what the client did not ask for but sluice did (logprobs). */
    int (*strip)(const char *body, size_t len, const sl_adapter_request_t *req, const sl_adapter_alloc_t *alloc,
                 sl_adapter_body_t *out);
    /* Same for one stream event's data; *drop = 1 when the whole event must not reach the client. */
    int (*strip_event)(const char *data, size_t len, const sl_adapter_request_t *req, const sl_adapter_alloc_t *alloc,
                       sl_adapter_body_t *out, int *drop);
    /* Formats an error body. */
    int (*format_error)(const sl_adapter_error_t *err, const sl_adapter_alloc_t *alloc, sl_adapter_body_t *out);
};

#endif
