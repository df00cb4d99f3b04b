/*
 * feedback.c - the table of predictions awaiting their labels, and the join (contracts: feedback.h).
 *
 * Entries live in a FIFO ring in arrival order, so the oldest is always at `first` and making room is O(1); an
 * open-addressing index (linear probing, at most half full, so a probe is short) maps a request id to the entry's
 * ring position. Removing an id uses backward-shift deletion, which keeps every probe chain unbroken without
 * tombstones, so the index never degrades however long the gateway runs.
 *
 * Expiry is a cursor (expire_next) that follows the FIFO: an entry it has passed is past its horizon. Expired
 * entries are not removed - the memory is reserved anyway - so a late label still gets the precise answer
 * "expired" instead of "unknown" until the table recycles the slot. Control thread only.
 */
#include "policies/feedback.h"
#include "common/alloc.h"
#include "common/status.h"
#include "policies/monitor.h"

#include <string.h>

int sl_feedback_table_init(sl_feedback_table_t *t, uint32_t capacity, uint64_t horizon_ms)
{
    if (capacity == 0 || capacity > SL_FEEDBACK_MAX_PENDING || horizon_ms == 0)
        return SL_EINVAL;
    uint32_t slots = 4;
    while (slots < 2 * capacity)
        slots *= 2;
    memset(t, 0, sizeof(*t));
    t->entries = sl_calloc(capacity, sizeof(*t->entries));
    t->index = sl_calloc(slots, sizeof(*t->index));
    t->index_mask = slots - 1;
    t->capacity = capacity;
    t->horizon_ms = horizon_ms;
    return SL_OK;
}

void sl_feedback_table_dispose(sl_feedback_table_t *t)
{
    sl_free(t->entries);
    sl_free(t->index);
    t->entries = NULL;
    t->index = NULL;
}

static inline uint32_t home(const sl_feedback_table_t *t, uint64_t hash)
{
    return (uint32_t)(hash ^ (hash >> 32)) & t->index_mask;
}

/* The index slot holding position pos (the entry's hash given), or UINT32_MAX. */
static uint32_t slot_of(const sl_feedback_table_t *t, uint64_t hash, uint32_t pos)
{
    for (uint32_t i = home(t, hash); t->index[i] != 0; i = (i + 1) & t->index_mask)
        if (t->index[i] == pos + 1)
            return i;
    return UINT32_MAX;
}

/* Backward-shift deletion of index slot i: later entries of the cluster that may move into the hole do. */
static void index_delete(sl_feedback_table_t *t, uint32_t i)
{
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & t->index_mask;
        if (t->index[j] == 0)
            break;
        uint32_t k = home(t, t->entries[t->index[j] - 1].hash);
        /* the entry at j may fill the hole at i unless its home lies cyclically in (i, j] */
        int in_between = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (!in_between) {
            t->index[i] = t->index[j];
            i = j;
        }
    }
    t->index[i] = 0;
}

static inline int is_live(const sl_feedback_table_t *t, const sl_feedback_entry_t *e, uint64_t seq)
{
    return !e->joined && !e->dead && seq >= t->expire_next;
}

static void pop_oldest(sl_feedback_table_t *t)
{
    uint64_t seq = t->first;
    uint32_t pos = (uint32_t)(seq % t->capacity);
    sl_feedback_entry_t *e = &t->entries[pos];
    if (!e->dead) {
        uint32_t s = slot_of(t, e->hash, pos);
        if (s != UINT32_MAX)
            index_delete(t, s);
    }
    if (is_live(t, e, seq)) {
        --t->live;
        ++t->evicted;
    }
    if (t->expire_next <= seq)
        t->expire_next = seq + 1;
    ++t->first;
    --t->count;
}

static uint32_t find_slot(const sl_feedback_table_t *t, uint64_t hash, const char *id, size_t len)
{
    for (uint32_t i = home(t, hash); t->index[i] != 0; i = (i + 1) & t->index_mask) {
        const sl_feedback_entry_t *e = &t->entries[t->index[i] - 1];
        if (e->hash == hash && e->rec.id_len == len && memcmp(e->rec.id, id, len) == 0)
            return i;
    }
    return UINT32_MAX;
}

void sl_feedback_table_insert(sl_feedback_table_t *t, const sl_feedback_record_t *rec)
{
    uint64_t hash = sl_monitor_hash(rec->id, rec->id_len);
    uint32_t s = find_slot(t, hash, rec->id, rec->id_len);
    if (s != UINT32_MAX) {
        uint32_t pos = t->index[s] - 1;
        uint64_t seq = t->first + (pos + t->capacity - (uint32_t)(t->first % t->capacity)) % t->capacity;
        sl_feedback_entry_t *old = &t->entries[pos];
        if (is_live(t, old, seq))
            --t->live;
        old->dead = 1;
        index_delete(t, s);
        ++t->replaced;
    }
    if (t->count == t->capacity)
        pop_oldest(t);
    uint64_t seq = t->first + t->count;
    uint32_t pos = (uint32_t)(seq % t->capacity);
    sl_feedback_entry_t *e = &t->entries[pos];
    e->rec = *rec;
    e->hash = hash;
    e->joined = 0;
    e->dead = 0;
    uint32_t i = home(t, hash);
    while (t->index[i] != 0)
        i = (i + 1) & t->index_mask;
    t->index[i] = pos + 1;
    ++t->count;
    ++t->live;
    ++t->recorded;
}

void sl_feedback_table_expire(sl_feedback_table_t *t, uint64_t now_ms)
{
    if (t->expire_next < t->first)
        t->expire_next = t->first;
    while (t->expire_next < t->first + t->count) {
        sl_feedback_entry_t *e = &t->entries[t->expire_next % t->capacity];
        if (e->rec.ts_ms + t->horizon_ms > now_ms)
            break;
        if (!e->joined && !e->dead) {
            --t->live;
            ++t->expired;
        }
        ++t->expire_next;
    }
}

sl_feedback_entry_t *sl_feedback_table_find(const sl_feedback_table_t *t, const char *id, size_t len)
{
    if (len == 0 || len > SL_FEEDBACK_ID_MAX)
        return NULL;
    uint32_t s = find_slot(t, sl_monitor_hash(id, len), id, len);
    return s == UINT32_MAX ? NULL : &t->entries[t->index[s] - 1];
}

int32_t sl_feedback_label_index(const sl_conf_feedback_t *conf, const char *text, size_t len)
{
    for (size_t i = 0; i != conf->num_labels; ++i)
        if (strlen(conf->labels[i]) == len && memcmp(conf->labels[i], text, len) == 0)
            return (int32_t)i;
    return (int32_t)conf->num_labels;
}

enum en_sl_feedback_result_t sl_feedback_join(sl_feedback_table_t *t, const sl_conf_feedback_t *conf,
                                              const sl_feedback_item_t *item, uint64_t now_ms,
                                              const sl_feedback_entry_t **entry, double *truth, const char **detail)
{
    const char *why = NULL;
    *entry = NULL;
    sl_feedback_entry_t *e = sl_feedback_table_find(t, item->id, item->id_len);
    enum en_sl_feedback_result_t r;
    int32_t label = 0;
    if (e == NULL) {
        r = SL_FEEDBACK_UNKNOWN;
    } else if (e->joined) {
        r = SL_FEEDBACK_DUPLICATE;
    } else if (now_ms >= e->rec.ts_ms + t->horizon_ms) {
        r = SL_FEEDBACK_EXPIRED;
    } else if (conf->task == SL_FEEDBACK_REGRESSION && item->kind == SL_FEEDBACK_LABEL) {
        r = SL_FEEDBACK_INVALID;
        why = "this route takes a \"value\" (regression), not a \"label\"";
    } else if (conf->task == SL_FEEDBACK_CLASSIFICATION && item->kind == SL_FEEDBACK_VALUE) {
        r = SL_FEEDBACK_INVALID;
        why = "this route takes a \"label\" (classification), not a \"value\"";
    } else if (conf->task == SL_FEEDBACK_CLASSIFICATION &&
               (label = sl_feedback_label_index(conf, item->label, item->label_len)) == (int32_t)conf->num_labels) {
        r = SL_FEEDBACK_INVALID;
        why = "the label is not one of the route's labels";
    } else {
        e->joined = 1;
        --t->live;
        if (!e->rec.has_prediction) {
            r = SL_FEEDBACK_NO_PREDICTION;
        } else {
            r = SL_FEEDBACK_JOINED;
            *entry = e;
            *truth = conf->task == SL_FEEDBACK_CLASSIFICATION ? (double)label : item->value;
        }
    }
    if (detail != NULL)
        *detail = why;
    return r;
}

const char *sl_feedback_result_name(enum en_sl_feedback_result_t result)
{
    static const char *const names[SL_FEEDBACK_NUM_RESULTS] = {"joined",    "unknown", "expired",
                                                               "duplicate", "invalid", "no_prediction"};
    return (unsigned)result < SL_FEEDBACK_NUM_RESULTS ? names[result] : "unknown";
}
