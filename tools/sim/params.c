/*
 * params.c - the simulator's parameter table: the one place that names every knob, its type, range, default and
 * meaning. The flag parser, POST/GET /sim/config, `sluice sim --help` and the table in docs/SIM.md
 * (`sluice sim --help-markdown`) are all generated from it, so they cannot disagree.
 *
 * Values are parsed from text by one function whatever their origin (a default, a flag, a JSON value turned into
 * text), and a failed parse leaves the parameters untouched. Pure: any thread, no allocation.
 */
#include "tools/sim/sim.h"
#include "common/status.h"
#include "common/str.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(sl_sim_params_t, f)
#define RATE(f, h) {#f, SL_SIM_PT_DOUBLE, OFF(f), 0, 1, "0", 1, "probability", h}

static const sl_sim_param_def_t table[] = {
    {"protocol", SL_SIM_PT_PROTOCOL, OFF(protocol), 0, 0, "openai", 0, "enum",
     "wire protocol: OpenAI-compatible (/v1/...) or KServe v2 (/v2/...)"},
    {"model", SL_SIM_PT_NAME, OFF(model), 0, 0, "sim-model", 1, "name",
     "model name served; requests naming another model get 404"},
    {"labels", SL_SIM_PT_LABELS, OFF(labels), 0, 0, "positive,negative", 1, "list",
     "comma-separated class labels of classification prompts (2 to 16)"},
    {"threads", SL_SIM_PT_UINT, OFF(threads), 1, SL_SIM_MAX_THREADS, "1", 0, "count",
     "worker threads, each with its own event loop, slots and queue"},
    {"seed", SL_SIM_PT_U64, OFF(seed), 0, 0, "1", 0, "integer",
     "PRNG seed; worker i draws from a generator seeded with (seed, i)"},
    {"drain_ms", SL_SIM_PT_UINT, OFF(drain_ms), 0, 600000, "5000", 0, "ms",
     "on stop, how long in-flight and queued answers may take to finish"},
    {"max_body_kb", SL_SIM_PT_UINT, OFF(max_body_kb), 1, 65536, "1024", 0, "KiB",
     "largest request body accepted (larger: 413)"},
    {"slots", SL_SIM_PT_UINT, OFF(slots), 0, 1000000, "64", 1, "count",
     "answers produced concurrently per worker thread; 0 = unlimited"},
    {"queue", SL_SIM_PT_UINT, OFF(queue), 0, 1000000, "1024", 1, "count",
     "requests that may wait (FIFO) for a slot per worker thread; beyond: 429 (openai) or 503 (kserve_v2)"},
    {"ttft_ms", SL_SIM_PT_DOUBLE, OFF(ttft_ms), 0, 600000, "20", 1, "ms",
     "base time to first token, counted from the start of service (after any queueing)"},
    {"ttft_per_token_ms", SL_SIM_PT_DOUBLE, OFF(ttft_per_token_ms), 0, 1000, "0.02", 1, "ms",
     "added to the time to first token per prompt token (prefill)"},
    {"ttft_jitter_ms", SL_SIM_PT_DOUBLE, OFF(ttft_jitter_ms), 0, 600000, "5", 1, "ms",
     "mean of an exponential delay added to the time to first token"},
    {"tpot_ms", SL_SIM_PT_DOUBLE, OFF(tpot_ms), 0, 60000, "5", 1, "ms",
     "base time per output token after the first"},
    {"tpot_jitter_ms", SL_SIM_PT_DOUBLE, OFF(tpot_jitter_ms), 0, 60000, "1", 1, "ms",
     "mean of an exponential delay added to each time per output token"},
    {"output_tokens_mean", SL_SIM_PT_UINT, OFF(output_tokens_mean), 1, SL_SIM_MAX_OUTPUT_TOKENS, "16", 1, "tokens",
     "mean length of a free-text answer (geometric distribution)"},
    {"output_tokens_max", SL_SIM_PT_UINT, OFF(output_tokens_max), 1, SL_SIM_MAX_OUTPUT_TOKENS, "256", 1, "tokens",
     "longest free-text answer (also capped by the request's max_tokens); a cut answer has finish_reason length"},
    {"accuracy", SL_SIM_PT_DOUBLE, OFF(accuracy), 0, 1, "0.8", 1, "probability",
     "mean confidence E[c], which is also the share of correct answers (the model is calibrated)"},
    {"concentration", SL_SIM_PT_DOUBLE, OFF(concentration), 0.1, 10000, "10", 1, "alpha+beta",
     "concentration of the Beta distribution of confidence: higher = confidences closer to their mean"},
    {"drift", SL_SIM_PT_DOUBLE, OFF(drift), 0, 1, "0", 1, "0..1",
     "drift strength: forces that share of predictions to drift_label, lowers confidence, lengthens free text"},
    {"drift_label", SL_SIM_PT_UINT, OFF(drift_label), 0, SL_SIM_MAX_LABELS - 1, "0", 1, "index",
     "index in labels of the class that drift pushes predictions to"},
    RATE(error_rate, "share of requests answered with HTTP 500 in the protocol's error shape"),
    RATE(hang_rate, "share of requests never answered (the connection stays open until the client gives up)"),
    RATE(reset_rate, "share of answers whose connection is closed mid-answer"),
    RATE(malformed_rate, "share of answers sent with status 200 and a body that is not valid JSON"),
    RATE(slow_rate, "share of requests whose first token is delayed by slow_ms more"),
    {"slow_ms", SL_SIM_PT_DOUBLE, OFF(slow_ms), 0, 600000, "1000", 1, "ms",
     "extra time to first token of a slow request (see slow_rate)"},
};

#define NUM_PARAMS (sizeof(table) / sizeof(table[0]))

const sl_sim_param_def_t *sl_sim_params_table(size_t *num)
{
    *num = NUM_PARAMS;
    return table;
}

static void normalize(const char *key, char *buf, size_t bufsz)
{
    size_t i = 0;
    for (; key[i] != '\0' && i + 1 < bufsz; ++i)
        buf[i] = key[i] == '-' ? '_' : key[i];
    buf[i] = '\0';
}

const sl_sim_param_def_t *sl_sim_params_find(const char *key)
{
    char name[64];
    normalize(key, name, sizeof(name));
    for (size_t i = 0; i != NUM_PARAMS; ++i)
        if (strcmp(table[i].name, name) == 0)
            return table + i;
    return NULL;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

/* Parses value into the field of d inside p; p is written only on success. */
static int parse_value(const sl_sim_param_def_t *d, sl_sim_params_t *p, const char *value, char *err, size_t errlen)
{
    char *end;
    void *field = (char *)p + d->offset;
    switch (d->type) {
    case SL_SIM_PT_UINT:
    case SL_SIM_PT_U64: {
        if (value[0] < '0' || value[0] > '9')
            goto Syntax;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (*end != '\0')
            goto Syntax;
        if (errno == ERANGE)
            goto Range;
        if (d->type == SL_SIM_PT_U64) {
            *(uint64_t *)field = v;
        } else {
            if ((double)v < d->min || (double)v > d->max)
                goto Range;
            *(uint32_t *)field = (uint32_t)v;
        }
        return SL_OK;
    }
    case SL_SIM_PT_DOUBLE: {
        if (value[0] == '\0')
            goto Syntax;
        double v = strtod(value, &end);
        if (*end != '\0' || !isfinite(v))
            goto Syntax;
        if (v < d->min || v > d->max)
            goto Range;
        *(double *)field = v;
        return SL_OK;
    }
    case SL_SIM_PT_PROTOCOL:
        if (strcmp(value, "openai") == 0)
            *(int *)field = SL_SIM_PROTOCOL_OPENAI;
        else if (strcmp(value, "kserve_v2") == 0)
            *(int *)field = SL_SIM_PROTOCOL_KSERVE_V2;
        else {
            snprintf(err, errlen, "%s: expected openai or kserve_v2, got '%s'", d->name, value);
            return SL_ESYNTAX;
        }
        return SL_OK;
    case SL_SIM_PT_NAME: {
        size_t len = strlen(value);
        if (len == 0 || len >= SL_SIM_MODEL_MAX) {
            snprintf(err, errlen, "%s: must be 1 to %d bytes long", d->name, SL_SIM_MODEL_MAX - 1);
            return SL_ERANGE;
        }
        for (size_t i = 0; i != len; ++i)
            if (!is_name_char(value[i]) && value[i] != ':' && value[i] != '/') {
                snprintf(err, errlen, "%s: character '%c' not allowed (use A-Z a-z 0-9 . _ - : /)", d->name, value[i]);
                return SL_ESYNTAX;
            }
        memcpy(field, value, len + 1);
        return SL_OK;
    }
    case SL_SIM_PT_LABELS: {
        char labels[SL_SIM_MAX_LABELS][SL_SIM_LABEL_MAX];
        uint32_t n = 0;
        memset(labels, 0, sizeof(labels)); /* unused bytes stay zero, so equal parameters compare equal */
        const char *s = value;
        for (;;) {
            size_t len = strcspn(s, ",");
            if (len == 0 || len >= SL_SIM_LABEL_MAX) {
                snprintf(err, errlen, "%s: each label must be 1 to %d bytes long", d->name, SL_SIM_LABEL_MAX - 1);
                return SL_ERANGE;
            }
            if (n == SL_SIM_MAX_LABELS) {
                snprintf(err, errlen, "%s: at most %d labels", d->name, SL_SIM_MAX_LABELS);
                return SL_ERANGE;
            }
            for (size_t i = 0; i != len; ++i)
                if (!is_name_char(s[i])) {
                    snprintf(err, errlen, "%s: character '%c' not allowed in a label (use A-Z a-z 0-9 . _ -)",
                             d->name, s[i]);
                    return SL_ESYNTAX;
                }
            memcpy(labels[n], s, len);
            labels[n][len] = '\0';
            for (uint32_t j = 0; j != n; ++j)
                if (strcmp(labels[j], labels[n]) == 0) {
                    snprintf(err, errlen, "%s: label '%s' appears twice", d->name, labels[n]);
                    return SL_EEXIST;
                }
            ++n;
            if (s[len] == '\0')
                break;
            s += len + 1;
        }
        if (n < 2) {
            snprintf(err, errlen, "%s: at least 2 labels are needed", d->name);
            return SL_ERANGE;
        }
        memcpy(p->labels, labels, sizeof(labels));
        p->num_labels = n;
        return SL_OK;
    }
    }
Syntax:
    snprintf(err, errlen, "%s: '%s' is not a valid %s", d->name, value,
             d->type == SL_SIM_PT_DOUBLE ? "number" : "non-negative integer");
    return SL_ESYNTAX;
Range:
    if (d->type == SL_SIM_PT_DOUBLE)
        snprintf(err, errlen, "%s: %s is outside [%g, %g]", d->name, value, d->min, d->max);
    else
        snprintf(err, errlen, "%s: %s is outside [%.0f, %.0f]", d->name, value, d->min, d->max);
    return SL_ERANGE;
}

int sl_sim_params_set(sl_sim_params_t *p, const char *key, const char *value, char *err, size_t errlen)
{
    const sl_sim_param_def_t *d = sl_sim_params_find(key);
    if (d == NULL) {
        const char *names[NUM_PARAMS + 1];
        char name[64];
        for (size_t i = 0; i != NUM_PARAMS; ++i)
            names[i] = table[i].name;
        names[NUM_PARAMS] = NULL;
        normalize(key, name, sizeof(name));
        const char *hint = sl_str_suggest(name, names);
        if (hint != NULL)
            snprintf(err, errlen, "unknown parameter '%s' (did you mean '%s'?)", key, hint);
        else
            snprintf(err, errlen, "unknown parameter '%s'", key);
        return SL_ENOENT;
    }
    return parse_value(d, p, value, err, errlen);
}

void sl_sim_params_init(sl_sim_params_t *p)
{
    char err[160];
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i != NUM_PARAMS; ++i) {
        int rc = parse_value(table + i, p, table[i].def, err, sizeof(err));
        assert(rc == SL_OK); /* a default that does not parse is a bug in the table above */
        (void)rc;
    }
}

int sl_sim_params_check(const sl_sim_params_t *p, char *err, size_t errlen)
{
    if (p->drift_label >= p->num_labels) {
        snprintf(err, errlen, "drift_label: %u is not the index of a label (there are %u)", p->drift_label,
                 p->num_labels);
        return SL_EINVAL;
    }
    if (p->output_tokens_mean > p->output_tokens_max) {
        snprintf(err, errlen, "output_tokens_mean: %u is above output_tokens_max (%u)", p->output_tokens_mean,
                 p->output_tokens_max);
        return SL_EINVAL;
    }
    double sum = p->error_rate + p->hang_rate + p->reset_rate + p->malformed_rate;
    if (sum > 1 + 1e-12) {
        snprintf(err, errlen, "error_rate + hang_rate + reset_rate + malformed_rate: %g is above 1", sum);
        return SL_EINVAL;
    }
    return SL_OK;
}

const char *sl_sim_params_format(const sl_sim_params_t *p, const sl_sim_param_def_t *d, char *buf, size_t bufsz)
{
    const void *field = (const char *)p + d->offset;
    switch (d->type) {
    case SL_SIM_PT_UINT:
        snprintf(buf, bufsz, "%u", *(const uint32_t *)field);
        break;
    case SL_SIM_PT_U64:
        snprintf(buf, bufsz, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case SL_SIM_PT_DOUBLE: {
        double v = *(const double *)field;
        snprintf(buf, bufsz, "%.15g", v); /* the shortest that reads back exactly, for the usual values */
        if (strtod(buf, NULL) != v)
            snprintf(buf, bufsz, "%.17g", v);
        break;
    }
    case SL_SIM_PT_PROTOCOL:
        snprintf(buf, bufsz, "%s", *(const int *)field == SL_SIM_PROTOCOL_KSERVE_V2 ? "kserve_v2" : "openai");
        break;
    case SL_SIM_PT_NAME:
        snprintf(buf, bufsz, "%s", (const char *)field);
        break;
    case SL_SIM_PT_LABELS: {
        size_t off = 0;
        buf[0] = '\0';
        for (uint32_t i = 0; i != p->num_labels && off < bufsz; ++i)
            off += (size_t)snprintf(buf + off, bufsz - off, "%s%s", i == 0 ? "" : ",", p->labels[i]);
        break;
    }
    }
    return buf;
}

int sl_sim_params_to_json(const sl_sim_params_t *p, char *buf, size_t bufsz)
{
    size_t off = 0;
    char val[SL_SIM_MAX_LABELS * SL_SIM_LABEL_MAX];
    for (size_t i = 0; i != NUM_PARAMS; ++i) {
        const sl_sim_param_def_t *d = table + i;
        int quote = d->type == SL_SIM_PT_PROTOCOL || d->type == SL_SIM_PT_NAME || d->type == SL_SIM_PT_LABELS;
        /* names and labels are restricted to characters that need no JSON escaping */
        sl_sim_params_format(p, d, val, sizeof(val));
        int n = snprintf(buf + off, bufsz - off, "%s\"%s\":%s%s%s", i == 0 ? "{" : ",", d->name, quote ? "\"" : "",
                         val, quote ? "\"" : "");
        if (n < 0 || (size_t)n >= bufsz - off)
            return SL_ENOMEM;
        off += (size_t)n;
    }
    if (off + 2 > bufsz)
        return SL_ENOMEM;
    buf[off++] = '}';
    buf[off] = '\0';
    return (int)off;
}
