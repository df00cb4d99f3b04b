/*
 * reference-t.h - a drift reference as a file holds it (functions and the file format: reference.h).
 */
#ifndef SL_POLICIES_REFERENCE_T_H
#define SL_POLICIES_REFERENCE_T_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf-t.h"

#define SL_REFERENCE_FORMAT "sluice-reference"
#define SL_REFERENCE_VERSION 1
#define SL_REFERENCE_MAX_BYTES (64u << 20) /* largest reference file read */

/* The reference distribution of one value. Everything is owned by the sl_reference_t. */
typedef struct st_sl_reference_value_t {
    char *name;   /* the feature's name, or "prediction" */
    char *source; /* as in the config: "/metadata/lang", "prompt_tokens", "signal:logprob_mean", "label:/x", ... */
    enum en_sl_monitor_type_t type;
    size_t num_bins;   /* numeric: bins (edges + 1); categorical: categories */
    double *edges;     /* numeric: num_bins - 1, ascending (ties allowed) */
    char **categories; /* categorical: num_bins distinct texts of at most SL_CONF_MAX_LABEL_LEN bytes */
    uint64_t *counts;  /* num_bins: values per bin or category */
    uint64_t other;    /* categorical: values in no listed category */
    uint64_t nulls, type_errors;
} sl_reference_value_t;

typedef struct st_sl_reference_t {
    char *route;
    char *created; /* ISO 8601 UTC, as written */
    uint64_t samples;
    int has_prediction;
    sl_reference_value_t prediction;
    sl_reference_value_t *features;
    size_t num_features;
} sl_reference_t;

#endif
