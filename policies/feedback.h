/*
 * feedback.h - delayed ground truth: the bounded table of predictions waiting for their labels, the join of a label
 * to its prediction, and the POST /v1/feedback body.
 *
 * The path of a prediction: a worker ends a request of a route with feedback and pushes an sl_feedback_record_t on
 * its own ring (policies/monitor_ring.h; sl_monitor_observe does it); the control thread drains the rings into the
 * route's table (sl_feedback_table_insert), later joins posted labels to it (sl_feedback_join) and feeds the quality
 * measures (policies/quality.h). The table and everything in this file but the parser belong to the control thread.
 */
#ifndef SL_POLICIES_FEEDBACK_H
#define SL_POLICIES_FEEDBACK_H

#include "policies/feedback-t.h"

/* Prepares an empty table for capacity (1 .. SL_FEEDBACK_MAX_PENDING) predictions kept for horizon_ms (>= 1).
 * Returns SL_OK or SL_EINVAL (t untouched). Caller-owned t; sl_feedback_table_dispose frees. */
int sl_feedback_table_init(sl_feedback_table_t *t, uint32_t capacity, uint64_t horizon_ms);
void sl_feedback_table_dispose(sl_feedback_table_t *t);

/*
 * Adds a prediction (copied). When the table is full its oldest entry leaves first; that counts as `evicted` when
 * the entry was still waiting for a label within its horizon. A prediction whose id is already in the table replaces
 * the older one (the id then names the newer request; `replaced` counts it). rec->id_len must be 1 ..
 * SL_FEEDBACK_ID_MAX. O(1) expected.
 */
void sl_feedback_table_insert(sl_feedback_table_t *t, const sl_feedback_record_t *rec);

/* Marks entries older than the horizon at now_ms as expired (counted in `expired` when no label came). Expired
 * entries stay, answering "expired", until the table needs their room. Amortized O(1) per entry. */
void sl_feedback_table_expire(sl_feedback_table_t *t, uint64_t now_ms);

/* The entry of request id[0..len), or NULL. */
sl_feedback_entry_t *sl_feedback_table_find(const sl_feedback_table_t *t, const char *id, size_t len);

/* Entries waiting for a label (neither joined, replaced nor expired). */
static inline uint64_t sl_feedback_table_pending(const sl_feedback_table_t *t)
{
    return t->live;
}

/* The index of label text[0..len) among conf's labels, or conf->num_labels when it is none of them. */
int32_t sl_feedback_label_index(const sl_conf_feedback_t *conf, const char *text, size_t len);

/*
 * Joins a posted item to the prediction of its id in table t (the route's feedback config conf). Checks, in order:
 *   no entry                         SL_FEEDBACK_UNKNOWN
 *   already joined                   SL_FEEDBACK_DUPLICATE
 *   older than the horizon at now_ms SL_FEEDBACK_EXPIRED
 *   a label for a regression route, a value for a classification one, or a label that is none of the route's
 *                                    SL_FEEDBACK_INVALID (*detail: a static or item-borrowed explanation)
 *   the answer had no prediction     SL_FEEDBACK_NO_PREDICTION (the entry is then joined: later items duplicate)
 *   otherwise                        SL_FEEDBACK_JOINED: the entry is marked joined, *entry points at it, *truth is
 *                                    the label's index (classification) or the value (regression).
 * *entry is NULL for every other result. detail may be NULL. Control thread.
 */
enum en_sl_feedback_result_t sl_feedback_join(sl_feedback_table_t *t, const sl_conf_feedback_t *conf,
                                              const sl_feedback_item_t *item, uint64_t now_ms,
                                              const sl_feedback_entry_t **entry, double *truth, const char **detail);

/* "joined", "unknown", "expired", "duplicate", "invalid", "no_prediction": the `result` label. */
const char *sl_feedback_result_name(enum en_sl_feedback_result_t result);

/*
 * Parses a feedback body: one object {"id": "<request id>", "label": <string | number | boolean>} or {"id": ...,
 * "value": <number>}, or an array of 1 .. SL_FEEDBACK_MAX_BATCH such objects (*batch set). Items are copied into
 * items[0..*n) (cap entries; cap >= SL_FEEDBACK_MAX_BATCH always suffices). The whole body is refused on the first
 * defect: returns SL_EINVAL with err set to one of (i the item's index, "" for a single object):
 *   "the body is empty"                        "the body is not valid JSON"
 *   "expected an object or an array of objects, got <type>"
 *   "the batch is empty"                       "the batch has more than 1000 items"
 *   "[i]: expected an object, got <type>"      "[i]: unknown key \"k\"" (with "(did you mean \"label\"?)" for typos)
 *   "[i]: duplicate key \"k\""                 "[i]: missing \"id\""
 *   "[i]: set \"label\" or \"value\""          "[i]: set only one of \"label\" and \"value\""
 *   "[i].id: must be a string, got <type>"     "[i].id: must be 1 to 64 bytes long"
 *   "[i].label: must be a string, a number or a boolean, got <type>"
 *   "[i].label: must be 1 to 64 bytes long"    "[i].value: must be a number, got <type>"
 *   "[i].value: must be a finite number"
 * The message of a single object has no "[i]" prefix ("id: must be a string, got a number"). Outputs untouched on
 * failure. Pure; any thread.
 */
int sl_feedback_parse(const char *body, size_t len, sl_feedback_item_t *items, size_t cap, size_t *n, int *batch, char *err,
                      size_t errsz);

#endif
