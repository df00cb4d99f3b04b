/*
 * conf-t.h - the typed, immutable configuration snapshot.
 *
 * conf/load.c turns one YAML file into an sl_conf_t. Everything a snapshot points to lives in its arena and is
 * read-only once published; workers borrow it for the life of a request (conf/snapshot.h). Durations are stored in
 * milliseconds (or seconds for SLO windows), sizes in bytes, percentages as fractions in [0, 1].
 * Later capabilities add their blocks (degrade, rollout, monitor) as new fields; existing fields keep their names.
 */
#ifndef SL_CONF_CONF_T_H
#define SL_CONF_CONF_T_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/arena.h"
#include "conf/snapshot-t.h"

enum en_sl_protocol_t {
    SL_PROTOCOL_OPENAI = 0, /* OpenAI-compatible: /v1/chat/completions, /v1/completions (vLLM, TGI, ...) */
    SL_PROTOCOL_KSERVE_V2,  /* KServe / Triton v2 inference protocol */
    SL_PROTOCOL_HTTP,       /* any JSON-over-HTTP service; signals located by JSON pointers */
};

typedef struct st_sl_conf_addr_t {
    int family; /* AF_INET, AF_INET6 or AF_UNIX */
    struct sockaddr_storage sa;
    socklen_t salen;
    const char *text; /* as written: "127.0.0.1:8080", "[::1]:8080", "unix:/run/sluice.sock" */
} sl_conf_addr_t;

/* Upstream timeouts of a backend; 0 disables the one concerned. */
typedef struct st_sl_conf_timeouts_t {
    uint32_t connect_ms;     /* TCP connect */
    uint32_t first_byte_ms;  /* request sent -> first byte of the response head */
    uint32_t idle_ms;        /* longest gap between two reads of a non-streaming response */
    uint32_t stream_idle_ms; /* longest gap between two reads of a streaming (SSE/chunked) response */
    uint32_t total_ms;       /* whole exchange, streams included */
} sl_conf_timeouts_t;

typedef struct st_sl_conf_cost_t {
    double per_request;
    double per_1k_input_tokens;
    double per_1k_output_tokens;
} sl_conf_cost_t;

typedef struct st_sl_conf_health_t {
    const char *path;             /* active check path, e.g. "/health"; NULL disables active checks */
    uint32_t interval_ms;         /* between two checks of one endpoint */
    uint32_t timeout_ms;          /* a check slower than this failed */
    uint32_t healthy_threshold;   /* consecutive successes that bring an ejected endpoint back */
    uint32_t unhealthy_threshold; /* consecutive failed checks that eject it */
    int enabled;                  /* 0 when active checks are off (then path is NULL) */
} sl_conf_health_t;

typedef struct st_sl_conf_outlier_t {
    uint32_t consecutive_failures; /* passive ejection after this many failed requests in a row; 0 disables */
    uint32_t base_ejection_ms;     /* first ejection lasts this long; each later one doubles it ... */
    uint32_t max_ejection_ms;      /* ... up to this */
    uint32_t max_ejected_percent;  /* never eject more than this share of a backend's endpoints */
} sl_conf_outlier_t;

typedef struct st_sl_conf_backend_t {
    const char *name;
    size_t index; /* position in sl_conf_t.backends */
    enum en_sl_protocol_t protocol;
    sl_conf_addr_t *endpoints;
    size_t num_endpoints;
    const char *model;        /* upstream model name written into JSON "model"; NULL leaves the client's */
    uint32_t max_concurrency; /* in-flight requests per endpoint; 0 = unlimited */
    uint32_t max_queue;       /* requests that may wait for a free slot (per worker); 0 = none, reject at once */
    uint32_t queue_timeout_ms; /* longest wait in that queue before 503 */
    sl_conf_timeouts_t timeouts;
    sl_conf_cost_t cost;
    sl_conf_health_t health;
    sl_conf_outlier_t outlier;
    const char *prediction_pointer; /* protocol http: JSON pointer to the prediction; NULL if unset */
    const char *confidence_pointer; /* protocol http: JSON pointer to the confidence; NULL if unset */
} sl_conf_backend_t;

enum en_sl_signal_kind_t {
    SL_SIGNAL_NONE = 0,
    SL_SIGNAL_LOGPROB_MEAN, /* mean token logprob of the answer (openai) */
    SL_SIGNAL_LOGPROB_MIN,  /* lowest token logprob (openai) */
    SL_SIGNAL_TOP_PROB,     /* top-1 class probability (classifiers) */
    SL_SIGNAL_MARGIN,       /* top-1 minus top-2 probability */
    SL_SIGNAL_JSON,         /* a number at a JSON pointer (arg) */
    SL_SIGNAL_HEADER,       /* a number in a response header (arg, lower case) */
};

typedef struct st_sl_conf_signal_t {
    enum en_sl_signal_kind_t kind;
    const char *arg; /* JSON pointer or header name; NULL for the built-in signals */
} sl_conf_signal_t;

/* accept: the answer is confident when min <= value <= max (each bound optional). */
typedef struct st_sl_conf_accept_t {
    sl_conf_signal_t signal;
    int has_min, has_max;
    double min, max;
} sl_conf_accept_t;

enum en_sl_fact_t {
    SL_FACT_PROMPT_TOKENS = 0, /* estimated prompt tokens (bytes of prompt text / 4) */
    SL_FACT_HEADER,            /* a request header (arg = lower-case name) */
    SL_FACT_JSON,              /* a JSON field of the request body (arg = JSON pointer) */
};

enum en_sl_cmp_t { SL_CMP_GT = 0, SL_CMP_GE, SL_CMP_LT, SL_CMP_LE, SL_CMP_EQ, SL_CMP_NE, SL_CMP_EXISTS };

/* One pre-routing condition; a tier is skipped when any of its skip_when conditions holds. */
typedef struct st_sl_conf_cond_t {
    enum en_sl_fact_t fact;
    const char *arg;
    enum en_sl_cmp_t cmp;
    int is_number;      /* compare as number (number) or as string (string) */
    double number;
    const char *string;
} sl_conf_cond_t;

/*
 * Progressive delivery of a tier (`rollout`; analysis in policies/canary.h, state machine in policies/rollout.h):
 * a canary backend receives a growing share of the tier's traffic, step by step, while its answers are compared
 * with the concurrent stable traffic. Shares are in permille (1000 = 100%).
 */
enum en_sl_conf_check_t {
    SL_CONF_CHECK_ERROR_RATE = 0, /* share of failed answers: always-valid sequential test (stats/canary_seq.h) */
    SL_CONF_CHECK_LATENCY,        /* end-to-end latency: Mann-Whitney U with an effect floor, and a p99 ratio */
    SL_CONF_CHECK_TTFT,           /* time to first token of streams, as latency */
    SL_CONF_CHECK_TPOT,           /* time per output token of streams, as latency */
    SL_CONF_CHECK_ACCEPT_RATE,    /* share of answers the tier's accept rule took (not escalated) */
    SL_CONF_CHECK_CONFIDENCE,     /* distribution of the accept signal: two-sample Kolmogorov-Smirnov */
    SL_CONF_CHECK_SRM,            /* sample-ratio mismatch: observed canary share against the weight */
    SL_CONF_CHECK_FEEDBACK_ACCURACY, /* accuracy from delayed labels (model monitoring): one-sided Fisher exact test */
    SL_CONF_CHECK_COUNT
};

/* One check of a rollout. Fields a check does not use stay 0. */
typedef struct st_sl_conf_check_t {
    int enabled;
    double alpha;         /* chance of a false alarm of this check over a whole rollout, however often it looks */
    double min_effect;    /* error_rate: increase of the error rate (fraction); latency, ttft, tpot: P(canary slower)
                             - 1/2; accept_rate: drop of the accept rate (fraction); confidence: KS distance */
    double ratio;         /* error_rate: H0 is canary rate <= ratio x stable rate; latency, ttft, tpot: p99 ratio */
    uint32_t min_samples; /* per version, for the checks on samples (latency, ttft, tpot, accept_rate, confidence) and
                             labelled answers (feedback_accuracy) */
    int hold;             /* srm: a mismatch holds the rollout at its step */
    double detect_ratio;    /* error_rate: no data (a hold) until the test could have caught a canary failing this */
    double detect_increase; /* many times as often as stable, or this much more (fraction), whichever is higher */
} sl_conf_check_t;

enum en_sl_conf_sticky_t {
    SL_CONF_STICKY_NONE = 0, /* each request draws its version at random */
    SL_CONF_STICKY_HEADER,   /* by a hash of a request header's value */
    SL_CONF_STICKY_COOKIE,   /* by a hash of a cookie's value */
};

#define SL_CONF_MAX_ROLLOUT_STEPS 16

typedef struct st_sl_conf_rollout_t {
    int enabled;                     /* 0 when the tier has no rollout block (then every other field is 0) */
    const sl_conf_backend_t *canary; /* borrowed from the snapshot; never the tier's own backend */
    uint32_t steps_permille[SL_CONF_MAX_ROLLOUT_STEPS]; /* strictly increasing, in (0, 1000]; the first below 1000 */
    size_t num_steps;
    uint32_t interval_ms;            /* analysis interval: a step lasts at least one */
    uint32_t min_samples;            /* canary requests a step needs before it may advance */
    uint32_t failure_limit;          /* consecutive failed intervals of a non-critical check that roll back */
    uint32_t critical_mask;          /* bit (1u << en_sl_conf_check_t): a failure rolls back at once */
    enum en_sl_conf_sticky_t sticky;
    const char *sticky_name;         /* lower-case header name, or cookie name as written; NULL when not sticky */
    sl_conf_check_t checks[SL_CONF_CHECK_COUNT];
} sl_conf_rollout_t;

/* Failure kinds, classified once on the data path; bit i of a mask is (1u << kind). */
enum en_sl_failure_t {
    SL_FAILURE_NONE = 0,
    SL_FAILURE_CONNECT_REFUSED,
    SL_FAILURE_CONNECT_TIMEOUT,
    SL_FAILURE_FIRST_BYTE_TIMEOUT,
    SL_FAILURE_IDLE_TIMEOUT,
    SL_FAILURE_TOTAL_TIMEOUT,
    SL_FAILURE_RESET,
    SL_FAILURE_UPSTREAM_5XX,
    SL_FAILURE_MALFORMED,
    SL_FAILURE_CLIENT_ABORT,
    SL_FAILURE_OVERLOADED,        /* every endpoint at max_concurrency and the queue full / timed out */
    SL_FAILURE_NO_ENDPOINT,       /* every endpoint ejected */
    SL_FAILURE_GATEWAY_RESOURCES, /* the gateway could not open a socket (out of file descriptors or memory) */
    SL_FAILURE_COUNT
};

/* The default of a tier's escalate_on ("all"): every failure kind but client_abort (nobody is left to answer). */
#define SL_CONF_ESCALATE_ALL                                                                                           \
    (((1u << SL_FAILURE_COUNT) - 1) & ~(1u << SL_FAILURE_NONE) & ~(1u << SL_FAILURE_CLIENT_ABORT))

/*
 * Accuracy scaling of a tier (`degrade`; the controller is policies/degrade.h). Shares are in permille
 * (1000 = 100%); latency thresholds are shares of the route's latency SLO threshold.
 */
typedef struct st_sl_conf_degrade_t {
    int enabled;                        /* 0 when the tier has no degrade block (then every other field is 0) */
    const sl_conf_backend_t **to;       /* the faster variants, in order of preference; borrowed from the snapshot */
    size_t num_to;
    uint32_t saturation_high_permille;  /* step up when in-flight / capacity of the accurate variant reaches this */
    uint32_t saturation_low_permille;   /* step down only when it is at or below this */
    uint32_t latency_high_permille;     /* step up when the windowed p99 reaches this share of the SLO threshold */
    uint32_t latency_low_permille;      /* step down only when the p99 is at or below this share */
    uint32_t step_up_permille;          /* added to the degrade fraction by one step up */
    uint32_t step_down_permille;        /* taken off by one step down */
    uint32_t hold_ms;                   /* both signals must stay low this long before the first step down */
    uint32_t interval_ms;               /* shortest time between two changes of the fraction */
    uint32_t burn_factor_permille;      /* during a fast budget burn the high thresholds are scaled by this */
    uint32_t latency_window_ms;         /* the window over which the p99 is measured */
    int spill_over;                     /* a request goes to a faster variant at once when the accurate one is full */
} sl_conf_degrade_t;

#define SL_CONF_MAX_DEGRADE_TO 8 /* faster variants of one tier */

typedef struct st_sl_conf_tier_t {
    const sl_conf_backend_t *backend; /* borrowed from the same snapshot */
    int has_accept;
    sl_conf_accept_t accept;
    sl_conf_cond_t *skip_when;
    size_t num_skip_when;
    uint32_t escalate_on;       /* mask of en_sl_failure_t that move on to the next tier */
    uint32_t latency_budget_ms; /* abandon the tier after this long and try the next; 0 = none */
    int buffer_streams;         /* buffer a streamed answer to judge it before the client sees it */
    sl_conf_degrade_t degrade;  /* accuracy scaling; degrade.enabled is 0 without a degrade block */
    sl_conf_rollout_t rollout;  /* progressive delivery; rollout.enabled is 0 without a rollout block */
} sl_conf_tier_t;

typedef struct st_sl_conf_header_match_t {
    const char *name; /* lower case */
    const char *value; /* exact match; NULL = present with any value */
} sl_conf_header_match_t;

typedef struct st_sl_conf_match_t {
    const char *path_prefix; /* NULL = any; matched on a path segment boundary */
    const char *host;        /* NULL = any; exact, case-insensitive, port ignored */
    sl_conf_header_match_t *headers;
    size_t num_headers;
    const char *model; /* JSON "model" of the request body; NULL = any */
} sl_conf_match_t;

typedef struct st_sl_conf_objective_t {
    int enabled;
    uint32_t threshold_ms; /* latency objectives: a request is good when it took at most this long */
    double target;         /* share of good requests, in (0, 1) */
} sl_conf_objective_t;

typedef struct st_sl_conf_slo_t {
    int enabled;
    sl_conf_objective_t availability; /* threshold_ms unused */
    sl_conf_objective_t latency;
    sl_conf_objective_t ttft;
    uint32_t window_s; /* rolling window, e.g. 28d */
} sl_conf_slo_t;

/*
 * Model monitoring of a route (`monitor`; the policy is policies/monitor.h, the measures docs/MONITORING.md): the
 * prediction and input features whose distributions are compared with a reference, and the feedback (delayed
 * ground truth) settings.
 */
enum en_sl_monitor_source_t {
    SL_MONITOR_SOURCE_POINTER = 0,   /* a value of the request body at a JSON pointer */
    SL_MONITOR_SOURCE_PROMPT_TOKENS, /* the route adapter's prompt token estimate (prompt bytes / 4) */
    SL_MONITOR_SOURCE_MESSAGE_COUNT, /* entries of a chat request's "messages" */
    SL_MONITOR_SOURCE_OUTPUT_TOKENS, /* output tokens of the answer (usage, or counted on a stream) */
    SL_MONITOR_SOURCE_SIGNAL,        /* prediction: the answering tier's signal (signal) */
    SL_MONITOR_SOURCE_LABEL,         /* prediction: a class label at a JSON pointer of the answer */
    SL_MONITOR_SOURCE_VALUE,         /* prediction: a number at a JSON pointer of the answer */
};

enum en_sl_monitor_type_t {
    SL_MONITOR_NUMERIC = 0, /* binned at the reference's quantiles; PSI, JS, KS */
    SL_MONITOR_CATEGORICAL, /* one bin per category; PSI, JS, chi-square */
};

/* One monitored value: an input feature, or the prediction (named "prediction"). */
typedef struct st_sl_conf_monitor_value_t {
    const char *name; /* the `feature` label of the drift metrics */
    enum en_sl_monitor_source_t source;
    const char *pointer;     /* POINTER (request body), LABEL and VALUE (answer body); NULL otherwise */
    sl_conf_signal_t signal; /* SIGNAL */
    enum en_sl_monitor_type_t type;
    uint32_t bins;           /* numeric: quantile bins of the reference */
    uint32_t max_categories; /* categorical: distinct values tracked; the rest count as "__other__" */
} sl_conf_monitor_value_t;

/* Drift states from the window's measures. A threshold of 0 is off. Ratios and p-values are fractions. */
typedef struct st_sl_conf_monitor_thresholds_t {
    double psi_warn, psi_alert;               /* PSI at or above */
    double js_warn, js_alert;                 /* Jensen-Shannon distance at or above */
    double ks_pvalue;                         /* numeric: alert when the KS p-value is below */
    double chi2_pvalue;                       /* categorical: alert when the chi-square p-value is below */
    double null_ratio_warn, null_ratio_alert; /* share of missing or null values at or above */
    double type_error_ratio_warn, type_error_ratio_alert; /* share of values of the wrong type at or above */
    double hysteresis; /* a state is left only when its measure is this share on the good side of its threshold */
} sl_conf_monitor_thresholds_t;

enum en_sl_monitor_reference_t {
    SL_MONITOR_REFERENCE_BASELINE = 0, /* captured from live traffic after the monitor starts */
    SL_MONITOR_REFERENCE_FILE,         /* a file written by `sluice reference` */
};

typedef struct st_sl_conf_monitor_reference_t {
    enum en_sl_monitor_reference_t kind;
    const char *file;          /* FILE: resolved path, readable at load time (its contents are checked by the policy) */
    uint32_t baseline_ms;      /* BASELINE: capture at least this long ... */
    uint32_t baseline_samples; /* ... or until this many requests, whichever ends first (see docs/MONITORING.md) */
} sl_conf_monitor_reference_t;

enum en_sl_feedback_task_t {
    SL_FEEDBACK_CLASSIFICATION = 0, /* labels: accuracy, macro precision/recall/F1 */
    SL_FEEDBACK_REGRESSION,         /* values: MAE, RMSE */
};

typedef struct st_sl_conf_feedback_t {
    int enabled;
    enum en_sl_feedback_task_t task;
    const char **labels; /* classification: the classes, distinct; NULL for regression */
    size_t num_labels;
    uint32_t horizon_ms;  /* a prediction waits this long for its label */
    uint32_t max_pending; /* predictions kept at most; the oldest is dropped (and counted) beyond */
    uint32_t window_ms;   /* sliding window of the quality measures */
    int has_tolerance;
    double tolerance; /* regression: an absolute error above this is an error for the concept-drift detectors */
    double min_accuracy; /* classification: `sluice rules` alerts below this accuracy (a fraction); 0 = no alert */
    int has_max_mae;
    double max_mae; /* regression: `sluice rules` alerts above this mean absolute error */
} sl_conf_feedback_t;

#define SL_CONF_MAX_FEATURES 32     /* input features of one route */
#define SL_CONF_MAX_BINS 1000       /* quantile bins of one numeric value */
#define SL_CONF_MAX_CATEGORIES 1024 /* tracked categories of one categorical value */
#define SL_CONF_MAX_LABELS 64       /* classes of a classification feedback */
#define SL_CONF_MAX_LABEL_LEN 64    /* bytes of a class label or a category */

typedef struct st_sl_conf_monitor_t {
    int enabled; /* 0 without a monitor block (then every other field is 0) */
    int has_prediction;
    sl_conf_monitor_value_t prediction;
    sl_conf_monitor_value_t *features;
    size_t num_features;
    sl_conf_monitor_reference_t reference;
    uint32_t window_ms;   /* sliding window of the drift measures */
    uint32_t slots;       /* the windows slide by window / slots */
    uint32_t min_samples; /* fewer values than this in the window (or the reference) is "no data" */
    sl_conf_monitor_thresholds_t thresholds;
    sl_conf_feedback_t feedback;
} sl_conf_monitor_t;

typedef struct st_sl_conf_route_t {
    const char *name;
    size_t index;
    sl_conf_match_t match;
    enum en_sl_protocol_t protocol; /* error body shape; the first tier's backend protocol */
    sl_conf_tier_t *tiers;
    size_t num_tiers;
    sl_conf_slo_t slo;
    sl_conf_monitor_t monitor; /* model monitoring; monitor.enabled is 0 without a monitor block */
} sl_conf_route_t;

typedef struct st_sl_conf_server_t {
    sl_conf_addr_t *listen;
    size_t num_listen;
    uint32_t threads;          /* 0 = one per core */
    uint64_t max_body_bytes;   /* request bodies above this get 413 */
    uint32_t header_timeout_ms; /* HTTP/1 request head + body, and keep-alive idle */
    uint32_t shutdown_timeout_ms; /* drain deadline on SIGTERM */
    const char *tls_cert_file; /* both set: TLS with ALPN (h2, http/1.1) on every listener */
    const char *tls_key_file;
    const char *access_log;    /* path, "-" for stderr, NULL = off */
    int routing_headers;       /* answers carry x-sluice-backend, -tier, -escalations and -cost */
    uint32_t busy_poll_us;     /* a worker polls without sleeping this long after its last event; 0 = off */
    uint32_t max_connections;  /* client connections, shared evenly by the workers; 0 = auto (open-files limit / 2) */
} sl_conf_server_t;

typedef struct st_sl_conf_admin_t {
    int enabled;
    sl_conf_addr_t listen;
    const char *token_file; /* NULL = no token required (loopback listeners only) */
    const char *token;      /* the token read from token_file at load time */
} sl_conf_admin_t;

typedef struct st_sl_conf_t {
    sl_snapshot_t super; /* must stay first: publish/reclaim (conf/snapshot.h) */
    sl_arena_t arena;    /* owns everything below */
    const char *path;    /* the file it came from */
    uint64_t generation; /* increases by one on every successful load in this process */
    sl_conf_server_t server;
    sl_conf_admin_t admin;
    const char *state_dir; /* NULL = nothing persisted */
    sl_conf_backend_t *backends;
    size_t num_backends;
    sl_conf_route_t *routes;
    size_t num_routes;
    uint32_t state_interval_ms; /* longest time between two writes of the state files (what a kill -9 may lose) */
} sl_conf_t;

/* Bounds on what one config file may declare; larger inputs are rejected with an error, never truncated. */
#define SL_CONF_MAX_FILE_BYTES (4u << 20)
#define SL_CONF_MAX_DEPTH 32       /* nesting of YAML collections */
#define SL_CONF_MAX_NODES 200000   /* YAML nodes in one file */
#define SL_CONF_MAX_ERRORS 100     /* messages kept; later ones are only counted */
#define SL_CONF_MAX_BACKENDS 1024
#define SL_CONF_MAX_ROUTES 1024
#define SL_CONF_MAX_TIERS 16
#define SL_CONF_MAX_ENDPOINTS 256
#define SL_CONF_MAX_LISTEN 16
#define SL_CONF_MAX_HEADERS 64     /* header matches of one route */
#define SL_CONF_MAX_CONDS 64       /* skip_when conditions of one tier */

/* The errors of one load, in file order of discovery. Each message is "file:line:col: key.path: message" (line and
 * column 1-based). Caller-owned storage: sl_conf_errors_init() / sl_conf_errors_dispose() (conf/conf.h). */
typedef struct st_sl_conf_errors_t {
    char **msgs;    /* owned */
    size_t count;   /* messages stored (at most SL_CONF_MAX_ERRORS) */
    size_t alloc;
    size_t dropped; /* errors found beyond SL_CONF_MAX_ERRORS */
} sl_conf_errors_t;

#endif
