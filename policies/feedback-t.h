/*
 * feedback-t.h - types of the feedback join (functions: feedback.h): predictions waiting for their ground truth,
 * the bounded table that holds them, and the items of a POST /v1/feedback body.
 */
#ifndef SL_POLICIES_FEEDBACK_T_H
#define SL_POLICIES_FEEDBACK_T_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf-t.h"

#define SL_FEEDBACK_ID_MAX 64 /* bytes of a request id kept for feedback */
#define SL_FEEDBACK_LABEL_MAX SL_CONF_MAX_LABEL_LEN
#define SL_FEEDBACK_MAX_BATCH 1000 /* items of one feedback body */
#define SL_FEEDBACK_MAX_PENDING 1000000u

/* The rollout version that answered (the `version` label). */
enum en_sl_feedback_version_t { SL_FEEDBACK_STABLE = 0, SL_FEEDBACK_CANARY, SL_FEEDBACK_NUM_VERSIONS };

/* A prediction on its way from a worker to the control thread, and as the table keeps it. */
typedef struct st_sl_feedback_record_t {
    uint64_t ts_ms; /* monotonic time the request ended */
    double value;   /* regression: the predicted number */
    uint32_t route; /* index in conf->routes */
    uint32_t backend;
    int32_t label; /* classification: index in the route's labels; num_labels when the answer is none of them */
    uint8_t version;
    uint8_t has_prediction; /* 0: the answer had no usable prediction (a join answers no_prediction) */
    uint8_t id_len;
    char id[SL_FEEDBACK_ID_MAX];
} sl_feedback_record_t;

typedef struct st_sl_feedback_entry_t {
    sl_feedback_record_t rec;
    uint64_t hash;  /* of the id */
    uint8_t joined; /* a label was joined (a second one is a duplicate) */
    uint8_t dead;   /* superseded by a newer prediction with the same id */
} sl_feedback_entry_t;

/*
 * The predictions of one route awaiting labels: a FIFO of at most `capacity` entries in arrival order (the oldest
 * is dropped to make room) and an open-addressing index by request id (linear probing, backward-shift deletion,
 * at most half full). Entries older than the horizon stay and answer "expired" until they are pushed out.
 * Control thread only. Memory: capacity x sizeof(sl_feedback_entry_t) + 4 x index slots (see docs/MONITORING.md).
 */
typedef struct st_sl_feedback_table_t {
    sl_feedback_entry_t *entries; /* capacity; entry of sequence number s at s mod capacity */
    uint32_t *index;              /* index_mask + 1 slots: entry position + 1, 0 when empty */
    uint32_t index_mask;
    uint32_t capacity;
    uint64_t horizon_ms;
    uint64_t first;       /* sequence number of the oldest entry */
    uint64_t count;       /* entries held */
    uint64_t expire_next; /* entries below this sequence number have been passed by expiry */
    uint64_t live;        /* entries neither joined, dead nor expired: waiting for a label */
    uint64_t recorded;    /* predictions received */
    uint64_t evicted;     /* live entries dropped because the table was full */
    uint64_t expired;     /* entries that expired without a label */
    uint64_t replaced;    /* predictions superseded by a newer one with the same id */
} sl_feedback_table_t;

enum en_sl_feedback_kind_t { SL_FEEDBACK_LABEL = 0, SL_FEEDBACK_VALUE };

/* One item of a feedback body, copied out of it. */
typedef struct st_sl_feedback_item_t {
    enum en_sl_feedback_kind_t kind;
    uint8_t id_len;
    uint8_t label_len;
    char id[SL_FEEDBACK_ID_MAX + 1];
    char label[SL_FEEDBACK_LABEL_MAX + 1]; /* a string unescaped, or the JSON text of a number or a boolean */
    double value;
} sl_feedback_item_t;

#endif
