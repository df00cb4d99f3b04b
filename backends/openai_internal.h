/*
 * openai_internal.h - what openai.c and openai_stream.c share; not for use outside the openai adapter.
 */
#ifndef SL_BACKENDS_OPENAI_INTERNAL_H
#define SL_BACKENDS_OPENAI_INTERNAL_H

#include "backends/adapter.h"

#define KEY_IS(k, lit) sl_json_string_eq((k), (lit), sizeof(lit) - 1)

/* Accumulator shared by whole answers and streams. */
typedef struct st_logprob_acc_t {
    uint64_t count;
    double sum, min;
    int bad;
    int first_seen;
    double first;
    uint32_t top_n;
    double top[2];
} logprob_acc_t;

/* Reads usage.prompt_tokens / usage.completion_tokens of an answer or chunk; sets *has only when both are there. */
void sl_openai__read_usage(const sl_json_span_t *root, int *has, uint64_t *prompt, uint64_t *completion);

/* Adds the tokens of one choice's "logprobs" object (chat or completions shape); returns how many it carried. */
uint32_t sl_openai__acc_logprobs(logprob_acc_t *acc, const sl_json_span_t *logprobs);

/* The signal an accumulator gives (MISSING / UNPARSABLE with their reasons when it cannot). */
void sl_openai__acc_signal(const logprob_acc_t *acc, enum en_sl_signal_kind_t kind, sl_signal_t *out);

/* Table callbacks implemented in openai_request.c (contracts: adapter.h). */
int sl_openai__inspect(const sl_json_span_t *root, sl_adapter_request_t *out);
int sl_openai__read(const char *body, size_t len, sl_json_span_t *root, sl_adapter_request_t *out);
int sl_openai__encode(const char *body, size_t len, const sl_adapter_request_t *req, const sl_adapter_want_t *want,
                      const sl_adapter_alloc_t *alloc, sl_adapter_body_t *out);

/* Table callbacks implemented in openai_stream.c (contracts: adapter.h). */
int sl_openai__decode_event(const char *data, size_t len, sl_adapter_stream_t *st, sl_adapter_event_t *out);
void sl_openai__stream_signal(const sl_adapter_stream_t *st, enum en_sl_signal_kind_t kind, sl_signal_t *out);
int sl_openai__strip(const char *body, size_t len, const sl_adapter_request_t *req, const sl_adapter_alloc_t *alloc,
                     sl_adapter_body_t *out);
int sl_openai__strip_event(const char *data, size_t len, const sl_adapter_request_t *req, const sl_adapter_alloc_t *alloc,
                           sl_adapter_body_t *out, int *drop);

#endif
