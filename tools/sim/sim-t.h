/*
 * sim-t.h - types of the model-server simulator (`sluice sim`): its parameters, the per-request draw of the
 * behaviour model, the PRNG state and the parameter table that documents them all.
 */
#ifndef SL_TOOLS_SIM_T_H
#define SL_TOOLS_SIM_T_H

#include <stddef.h>
#include <stdint.h>

#define SL_SIM_MAX_LABELS 16
#define SL_SIM_LABEL_MAX 32   /* bytes of one label, NUL included */
#define SL_SIM_MODEL_MAX 64   /* bytes of the model name, NUL included */
#define SL_SIM_MAX_THREADS 64
#define SL_SIM_MAX_OUTPUT_TOKENS 4096
#define SL_SIM_MAX_TOP_LOGPROBS 20
#define SL_SIM_MAX_ROWS 256   /* kserve_v2: rows of one infer request */

enum en_sl_sim_protocol_t {
    SL_SIM_PROTOCOL_OPENAI = 0,
    SL_SIM_PROTOCOL_KSERVE_V2,
};

/*
 * Every knob of the simulator. The single source of names, types, ranges, defaults and help texts is the table in
 * params.c (sl_sim_params_table); this struct is only where the values live. A published copy is immutable.
 */
typedef struct st_sl_sim_params_t {
    /* identity (start-up only unless marked in the table) */
    int protocol; /* en_sl_sim_protocol_t */
    char model[SL_SIM_MODEL_MAX];
    char labels[SL_SIM_MAX_LABELS][SL_SIM_LABEL_MAX];
    uint32_t num_labels;
    uint32_t threads;
    uint64_t seed;
    uint32_t drain_ms;
    uint32_t max_body_kb;
    /* capacity */
    uint32_t slots; /* concurrent answers per worker thread; 0 = unlimited */
    uint32_t queue; /* FIFO places per worker thread */
    /* timing */
    double ttft_ms;
    double ttft_per_token_ms;
    double ttft_jitter_ms;
    double tpot_ms;
    double tpot_jitter_ms;
    uint32_t output_tokens_mean;
    uint32_t output_tokens_max;
    /* quality */
    double accuracy;
    double concentration;
    double drift;
    uint32_t drift_label;
    /* faults */
    double error_rate;
    double hang_rate;
    double reset_rate;
    double malformed_rate;
    double slow_rate;
    double slow_ms;
} sl_sim_params_t;

enum en_sl_sim_ptype_t {
    SL_SIM_PT_UINT = 0, /* uint32_t */
    SL_SIM_PT_U64,      /* uint64_t */
    SL_SIM_PT_DOUBLE,   /* double */
    SL_SIM_PT_PROTOCOL, /* "openai" | "kserve_v2" */
    SL_SIM_PT_NAME,     /* the model name: 1..63 bytes of [A-Za-z0-9._:/-] */
    SL_SIM_PT_LABELS,   /* comma-separated list of 2..16 labels of 1..31 bytes of [A-Za-z0-9._-] */
};

/* One row of the parameter table. */
typedef struct st_sl_sim_param_def_t {
    const char *name; /* key in /sim/config; the flag is --name with '_' written as '-' */
    enum en_sl_sim_ptype_t type;
    size_t offset;    /* into sl_sim_params_t */
    double min, max;  /* inclusive range of numeric types */
    const char *def;  /* default, as text (parsed by the same code as flags) */
    int runtime;      /* may be changed with POST /sim/config */
    const char *unit; /* for the help: "ms", "probability", ... */
    const char *help;
} sl_sim_param_def_t;

/* xoshiro256** state (Blackman & Vigna, "Scrambled linear pseudorandom number generators", 2021). */
typedef struct st_sl_sim_rng_t {
    uint64_t s[4];
} sl_sim_rng_t;

enum en_sl_sim_fault_t {
    SL_SIM_FAULT_NONE = 0,
    SL_SIM_FAULT_ERROR,     /* HTTP 500 in the protocol's shape */
    SL_SIM_FAULT_HANG,      /* never answered */
    SL_SIM_FAULT_RESET,     /* the connection is closed mid-answer */
    SL_SIM_FAULT_MALFORMED, /* 200 with a body that is not valid JSON */
    SL_SIM_FAULT_COUNT
};

/* What the caller knows about a request before the draw. */
typedef struct st_sl_sim_facts_t {
    uint32_t prompt_tokens;
    int is_classify;       /* a classification prompt (see docs/SIM.md) */
    uint32_t truth;        /* its ground-truth label index when is_classify */
    uint32_t max_tokens;   /* from the request; 0 = no limit */
} sl_sim_facts_t;

/* Everything random about one answer, drawn at arrival in a documented order (sl_sim_draw). */
typedef struct st_sl_sim_draw_t {
    int fault;             /* en_sl_sim_fault_t */
    int slow;              /* slow_ms is added to the time to first token */
    double ttft_ms;        /* from the start of service to the first token, slow_ms included */
    double confidence;     /* c: the reported probability of the answer */
    int correct;           /* the answer is right */
    uint32_t predicted;    /* classification: the label answered */
    int drifted;           /* classification: the prediction was forced to drift_label */
    uint32_t output_tokens;
    int truncated;         /* output_tokens was cut by max_tokens */
    uint64_t answer_seed;  /* seeds the request's own generator (token gaps, words, ids) */
} sl_sim_draw_t;

#endif
