/*
 * reference.h - drift references: the file format, reading and checking a file against a route's monitor config,
 * and building one from sample requests (the `sluice reference` command).
 *
 * A reference file is one JSON object (docs/MONITORING.md, "Reference files"):
 *   {"format": "sluice-reference", "version": 1, "route": "chat", "created": "2025-01-31T12:00:00Z",
 *    "samples": 5000,
 *    "prediction": <value>,                         (when the route monitors a prediction)
 *    "features": [<value>, ...]}
 * where a numeric value is
 *   {"name": "prompt_tokens", "source": "prompt_tokens", "type": "numeric",
 *    "edges": [e_1, ..., e_(k-1)], "counts": [c_0, ..., c_(k-1)], "nulls": 0, "type_errors": 0}
 * (bin 0 is (-inf, e_1), bin i is [e_i, e_(i+1)), the last [e_(k-1), +inf); edges are quantiles of the sample, so
 * counts are about equal) and a categorical value is
 *   {"name": "lang", "source": "/metadata/lang", "type": "categorical",
 *    "categories": ["en", "fr"], "counts": [700, 250], "other": 50, "nulls": 3, "type_errors": 0}
 * Proportions are counts / their sum (other included). Everything here runs off the request path.
 */
#ifndef SL_POLICIES_REFERENCE_H
#define SL_POLICIES_REFERENCE_H

#include "policies/reference-t.h"

#include "common/str.h"
#include "policies/monitor-t.h"

/* Parses a reference document text[0..len) into *out (owned; sl_reference_dispose). Returns SL_OK, or SL_ESYNTAX
 * with a message in err ("features[1].edges: must be ascending") and *out untouched. */
int sl_reference_parse(const char *text, size_t len, sl_reference_t *out, char *err, size_t errsz);

/* Reads and parses the file at path (at most SL_REFERENCE_MAX_BYTES). Returns SL_OK, SL_EIO or SL_ESYNTAX; err gets
 * "path: message". */
int sl_reference_load(const char *path, sl_reference_t *out, char *err, size_t errsz);

void sl_reference_dispose(sl_reference_t *ref);

/* Appends ref as a reference document (one line, then a newline). Numbers round-trip exactly (%.17g). Returns SL_OK
 * or SL_ENOMEM (out's cap; out's length restored). */
int sl_reference_write(const sl_reference_t *ref, sl_buf_t *out);

/* The reference of the value named name ("prediction" is the prediction), or NULL. */
const sl_reference_value_t *sl_reference_find(const sl_reference_t *ref, const char *name);

/* Writes how a value is sourced, as reference files record it: "prompt_tokens", "/metadata/lang",
 * "signal:logprob_mean", "signal:json:/score", "label:/choices/0/text", "value:/outputs/0". Returns buf. */
const char *sl_reference_source(const sl_conf_monitor_value_t *v, char *buf, size_t bufsz);

/* Checks that ref describes every value of conf: same name, type and source; a numeric value has conf's bins; a
 * categorical one at most max_categories categories. Returns SL_OK, or SL_ECONFIG with the first mismatch in err
 * ("feature \"lang\": the reference is numeric, the config says categorical"). */
int sl_reference_check(const sl_reference_t *ref, const sl_conf_monitor_t *conf, char *err, size_t errsz);

/* The reference bins of a numeric sample: sorts values[0..n) in place, writes the bins - 1 quantile edges
 * (sl_drift_edges) and the count of values per bin (sl_drift_bin). n = 0 gives zero edges and counts. Returns SL_OK
 * or SL_EINVAL (bins out of range, a value not finite). */
int sl_reference_numeric(double *values, size_t n, uint32_t bins, double *edges, uint64_t *counts);

/* Builder: the values of sample requests, for `sluice reference` ----------------------------------------------- */

#define SL_REFERENCE_MAX_DISTINCT 100000u /* distinct categories counted per value; later new ones count as other */

typedef struct st_sl_reference_tally_t sl_reference_tally_t;

typedef struct st_sl_reference_builder_t {
    const sl_conf_monitor_t *conf; /* borrowed */
    size_t num_values;             /* values in plan order: the prediction first, then the features */
    uint64_t samples;
    struct st_sl_reference_builder_value_t {
        double *numbers; /* numeric: every value seen */
        size_t n, cap;
        sl_reference_tally_t *tally; /* categorical: count per distinct text */
        uint64_t other, nulls, type_errors;
    } values[SL_MONITOR_MAX_VALUES];
} sl_reference_builder_t;

void sl_reference_builder_init(sl_reference_builder_t *b, const sl_conf_monitor_t *conf);
void sl_reference_builder_dispose(sl_reference_builder_t *b);

/* Adds one sample's values (from sl_monitor_extract with the plan of the same conf). */
void sl_reference_builder_add(sl_reference_builder_t *b, const sl_monitor_obs_t *obs);

/* Builds the reference: numeric values binned at the sample's quantiles; categorical values keep their
 * max_categories most frequent categories (ties by text), the rest count as other. route and created are copied.
 * *out is owned by the caller. Returns SL_OK. */
int sl_reference_builder_finish(const sl_reference_builder_t *b, const char *route, const char *created, sl_reference_t *out);

#endif
