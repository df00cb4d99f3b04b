/*
 * facts-t.h - the facts of one request the router decides on (functions: facts.h).
 *
 * Filled once per request by the gateway, before the plan: the HTTP facts route matching already uses
 * (router/match-t.h) and what the route's protocol adapter found in the body (backends/adapter-t.h, inspect).
 * Facts carry spans and pointers into the request, never copies; they live as long as the request.
 */
#ifndef SL_ROUTER_FACTS_T_H
#define SL_ROUTER_FACTS_T_H

#include "backends/adapter-t.h"
#include "router/match-t.h"

typedef struct st_sl_facts_t {
    sl_router_facts_t http;    /* path, host, JSON model, request headers (lookup callback) */
    sl_adapter_request_t body; /* body facts: root span (type SL_JSON_INVALID when no body was read), stream,
                                  logprobs asked, estimated prompt tokens, ... */
} sl_facts_t;

#endif
