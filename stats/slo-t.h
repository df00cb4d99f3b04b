/*
 * slo-t.h - types of the error-budget and burn-rate math (stats/slo.c).
 */
#ifndef SL_STATS_SLO_T_H
#define SL_STATS_SLO_T_H

#include <stdint.h>

#include "stats/window-t.h"

/* Targets are held as parts per billion so every alert decision is exact integer arithmetic. */
#define SL_SLO_PPB 1000000000u

/* Budget shares are held in basis points (1/10000 of the whole budget). */
#define SL_SLO_SHARE_BP 10000u

/* The alerting ladder of the Google SRE workbook ("Alerting on SLOs", multiwindow, multi-burn-rate) needs up to
 * three days of minutes, whatever the SLO period. */
#define SL_SLO_LONGEST_ALERT_MIN 4320u

/* "Never fired" in sl_slo_first_t. */
#define SL_SLO_NEVER ((int64_t)-1)

/* The burn-rate windows reported and used by the alert rules. */
enum en_sl_slo_window_t {
    SL_SLO_W5M = 0,
    SL_SLO_W30M,
    SL_SLO_W1H,
    SL_SLO_W2H,
    SL_SLO_W6H,
    SL_SLO_W1D,
    SL_SLO_W3D,
    SL_SLO_NUM_WINDOWS
};

enum en_sl_slo_severity_t {
    SL_SLO_PAGE = 0,
    SL_SLO_TICKET,
};

/* The four alert conditions: page = PAGE_1H OR PAGE_6H, ticket = TICKET_1D OR TICKET_3D. */
enum en_sl_slo_rule_id_t {
    SL_SLO_PAGE_1H = 0, /* 2% of the budget in 1h, confirmed over 5m */
    SL_SLO_PAGE_6H,     /* 5% in 6h, confirmed over 30m */
    SL_SLO_TICKET_1D,   /* 10% in 1d, confirmed over 2h */
    SL_SLO_TICKET_3D,   /* 10% in 3d, confirmed over 6h */
    SL_SLO_NUM_RULES
};

/* One multi-window rule: fires while the burn rate over both windows is strictly above
 * share x period / long window. */
typedef struct st_sl_slo_rule_t {
    const char *name; /* "page_1h", ... (metric label) */
    enum en_sl_slo_severity_t severity;
    enum en_sl_slo_window_t long_window;
    enum en_sl_slo_window_t short_window;
    uint32_t share_bp; /* share of the whole budget that the long window may consume, in basis points */
} sl_slo_rule_t;

/* One objective: target and period. Immutable once initialized; any thread may read it. */
typedef struct st_sl_slo_t {
    uint32_t target_ppb; /* share of good requests, parts per billion, 1 .. SL_SLO_PPB - 1 (999000000 = 99.9%) */
    uint32_t budget_ppb; /* SL_SLO_PPB - target_ppb: the allowed share of bad requests */
    uint32_t period_min; /* the SLO period (rolling window), in minutes: 40320 for 28 days */
} sl_slo_t;

/* A measure that may be absent: has_data is 0 when there was no traffic, and value is then 0. */
typedef struct st_sl_slo_value_t {
    int has_data;
    double value;
} sl_slo_value_t;

/* Everything the SLO policy publishes about one objective at one minute. */
typedef struct st_sl_slo_report_t {
    sl_window_sum_t period;          /* counts over the SLO period */
    double allowed_bad;              /* (1 - target) x period.total, in requests; 0 without traffic */
    sl_slo_value_t budget_remaining; /* 1 - bad / allowed_bad: 1 untouched, 0 spent, negative overspent */
    sl_window_sum_t sums[SL_SLO_NUM_WINDOWS];
    sl_slo_value_t burn_rate[SL_SLO_NUM_WINDOWS]; /* (bad / total) / (1 - target); 1 spends the budget in a period */
    int rule_firing[SL_SLO_NUM_RULES];            /* 1 while the rule's condition holds */
    int page;                                     /* rule_firing[PAGE_1H] || rule_firing[PAGE_6H] */
    int ticket;                                   /* rule_firing[TICKET_1D] || rule_firing[TICKET_3D] */
} sl_slo_report_t;

/* First minute at which each condition held over a trace, or SL_SLO_NEVER. */
typedef struct st_sl_slo_first_t {
    int64_t rule[SL_SLO_NUM_RULES];
    int64_t page;
    int64_t ticket;
} sl_slo_first_t;

#endif
