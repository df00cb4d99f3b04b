/*
 * reservoir-t.h - a bounded uniform sample of a stream (reservoir sampling).
 */
#ifndef SL_STATS_RESERVOIR_T_H
#define SL_STATS_RESERVOIR_T_H

#include <stdint.h>

#define SL_RESERVOIR_MAX_CAPACITY (1u << 24)

typedef struct st_sl_reservoir_t {
    double *values_private; /* owned, capacity slots; the first `size` hold the sample */
    uint32_t capacity;
    uint32_t size; /* min(seen, capacity) */
    uint64_t seen; /* values offered since init/reset */
} sl_reservoir_t;

#endif
