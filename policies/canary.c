/*
 * canary.c - the analysis of one rollout: keeps the inputs of the checks (whole-rollout sequential tests, the
 * step's counts and value samples, the number of looks each check has had) and runs the pure checks of
 * canary_checks.c on them. Control thread only; allocation only in init and when samples are merged.
 *
 * Two time scales. The error rate and the sample ratio are tested at every tick, on counts: their tests are
 * always valid, so looking often costs nothing and a hard failure is caught within a few canary requests. The
 * checks on value samples (timing, confidence) and the accept rate are evaluated at interval ends, when the
 * interval's samples have been merged. Value samples and the sample-ratio test belong to a step (the weight is a
 * parameter of the latter, and each step's samples describe the canary as it is now); the error-rate and
 * accept-rate tests span the rollout, since their p-values stay valid across any number of steps.
 *
 * The sample-ratio test counts only requests routed with the step's weight: the data path records the weight each
 * request was routed with, and those in flight when the weight changed arrive marked `stale`. So no tick is left
 * out, and the split is tested exactly from the step's first request.
 */
#include "policies/canary.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "stats/canary_seq.h"
#include "stats/msprt.h"
#include "stats/mwu.h"
#include "stats/reservoir.h"

/* The mSPRT mixing scale of the accept-rate test: effects of a few points of accept rate are detected soonest. */
#define ACCEPT_TAU 0.05
/* The error-rate test applies a batch once it has at least this share of the stable requests the weight predicts for
 * its canary requests: alike batches lose no evidence to the conditioning (stats/canary_seq.h). */
#define POOL_SHARE 0.5

static void seq_params(const sl_conf_rollout_t *conf, sl_canary_seq_params_t *p)
{
    const sl_conf_check_t *cc = &conf->checks[SL_CONF_CHECK_ERROR_RATE];
    p->alpha = cc->alpha > 0 && cc->alpha < 1 ? cc->alpha : 0.001;
    p->min_ratio = cc->ratio >= 1 ? cc->ratio : 1;
}

static void accept_params(const sl_conf_rollout_t *conf, sl_msprt_params_t *p)
{
    const sl_conf_check_t *cc = &conf->checks[SL_CONF_CHECK_ACCEPT_RATE];
    sl_msprt_params_default(p);
    p->tau = ACCEPT_TAU;
    p->alpha = cc->alpha > 0 && cc->alpha < 1 ? cc->alpha : 0.0001;
    p->min_effect = cc->min_effect >= 0 ? cc->min_effect : 0;
    p->min_samples = cc->min_samples != 0 ? cc->min_samples : 1;
    p->side = SL_MSPRT_GREATER;
}

static void restart_tests(sl_canary_t *c)
{
    sl_canary_seq_params_t sp;
    sl_msprt_params_t mp;
    memset(&c->durable, 0, sizeof(c->durable));
    seq_params(c->conf, &sp);
    accept_params(c->conf, &mp);
    sl_canary_seq_init(&c->durable.errors, &sp);
    sl_msprt_init(&c->durable.accept, &mp);
}

int sl_canary_init(sl_canary_t *c, const sl_conf_rollout_t *conf)
{
    if (c == NULL || conf == NULL || !conf->enabled)
        return SL_EINVAL;
    memset(c, 0, sizeof(*c));
    c->conf = conf;
    for (int v = 0; v != 2; ++v) {
        for (int m = 0; m != SL_CANARY_M_COUNT; ++m)
            sl_reservoir_init(&c->values[v][m], SL_CANARY_RESERVOIR);
        c->sorted[v] = sl_malloc(SL_CANARY_RESERVOIR * sizeof(double));
    }
    sl_reservoir_init(&c->scratch, SL_CANARY_RESERVOIR);
    restart_tests(c);
    return SL_OK;
}

void sl_canary_dispose(sl_canary_t *c)
{
    for (int v = 0; v != 2; ++v) {
        for (int m = 0; m != SL_CANARY_M_COUNT; ++m)
            sl_reservoir_dispose(&c->values[v][m]);
        sl_free(c->sorted[v]);
        c->sorted[v] = NULL;
    }
    sl_reservoir_dispose(&c->scratch);
}

void sl_canary_begin_step(sl_canary_t *c, uint32_t weight_permille)
{
    c->weight_permille = weight_permille;
    c->ticks = 0;
    memset(c->step, 0, sizeof(c->step));
    c->srm_canary = c->srm_total = 0;
    c->srm_max_log_lambda = 0;
    for (int v = 0; v != 2; ++v)
        for (int m = 0; m != SL_CANARY_M_COUNT; ++m)
            sl_reservoir_reset(&c->values[v][m]);
}

void sl_canary_restart(sl_canary_t *c)
{
    restart_tests(c);
    sl_canary_begin_step(c, 0);
}

int sl_canary_reconfigure(sl_canary_t *c, const sl_conf_rollout_t *conf)
{
    sl_canary_seq_params_t sp;
    sl_msprt_params_t mp;
    int restarted = 0;
    c->conf = conf;
    seq_params(conf, &sp);
    const sl_canary_seq_params_t *os = &c->durable.errors.params;
    if (sp.alpha != os->alpha || sp.min_ratio != os->min_ratio) {
        sl_canary_seq_init(&c->durable.errors, &sp);
        restarted = 1;
    }
    accept_params(conf, &mp);
    const sl_msprt_params_t *om = &c->durable.accept.params;
    if (mp.tau != om->tau || mp.alpha != om->alpha || mp.min_effect != om->min_effect || mp.min_samples != om->min_samples ||
        mp.side != om->side) {
        sl_msprt_init(&c->durable.accept, &mp);
        memset(c->durable.judged, 0, sizeof(c->durable.judged));
        memset(c->durable.escalated, 0, sizeof(c->durable.escalated));
        restarted = 1;
    }
    return restarted;
}

void sl_canary_restore(sl_canary_t *c, const sl_canary_durable_t *durable)
{
    c->durable = *durable;
    sl_canary_reconfigure(c, c->conf);
}

static int counts_ok(const sl_canary_counts_t *k)
{
    return k->errors <= k->requests && k->accepted <= k->judged && k->stale <= k->requests;
}

size_t sl_canary_tick(sl_canary_t *c, const sl_canary_counts_t *canary, const sl_canary_counts_t *stable,
                      sl_canary_verdict_t out[2])
{
    const sl_conf_rollout_t *conf = c->conf;
    size_t n = 0;
    if (!counts_ok(canary) || !counts_ok(stable))
        return 0;
    double pool = c->weight_permille != 0 && c->weight_permille < 1000
                      ? POOL_SHARE * (1000.0 - c->weight_permille) / c->weight_permille
                      : 0;
    if (sl_canary_seq_update_pooled(&c->durable.errors, canary->errors, canary->requests, stable->errors, stable->requests,
                                    pool, NULL) != SL_OK)
        return 0;
    const sl_canary_counts_t *k[2] = {stable, canary};
    for (int v = 0; v != 2; ++v) {
        c->step[v].requests += k[v]->requests;
        c->step[v].errors += k[v]->errors;
        c->step[v].judged += k[v]->judged;
        c->step[v].accepted += k[v]->accepted;
        c->durable.judged[v] += k[v]->judged;
        c->durable.escalated[v] += k[v]->judged - k[v]->accepted;
    }
    c->ticks++;
    uint64_t split_t = canary->requests - canary->stale, split_c = stable->requests - stable->stale;
    if (split_t + split_c != 0) {
        c->srm_canary += split_t;
        c->srm_total += split_t + split_c;
        double l;
        if (c->srm_total != 0 && c->weight_permille != 0 && c->weight_permille < 1000 &&
            sl_canary_srm_log_lambda(c->srm_canary, c->srm_total, c->weight_permille / 1000.0, SL_CANARY_SRM_CONCENTRATION,
                                     &l) == SL_OK &&
            l > c->srm_max_log_lambda)
            c->srm_max_log_lambda = l;
    }
    if (conf->checks[SL_CONF_CHECK_ERROR_RATE].enabled) {
        sl_canary_check_error_rate(&conf->checks[SL_CONF_CHECK_ERROR_RATE], &c->durable.errors, &out[n]);
        out[n++].critical = (conf->critical_mask >> SL_CONF_CHECK_ERROR_RATE) & 1;
    }
    if (conf->checks[SL_CONF_CHECK_SRM].enabled) {
        sl_canary_check_srm(&conf->checks[SL_CONF_CHECK_SRM], c->srm_canary, c->srm_total, c->weight_permille,
                            c->srm_max_log_lambda, conf->num_steps, &out[n++]);
    }
    return n;
}

int sl_canary_add_values(sl_canary_t *c, const sl_canary_sample_t *canary, const sl_canary_sample_t *stable, uint64_t *rng)
{
    const sl_canary_sample_t *in[2] = {stable, canary};
    for (int v = 0; v != 2; ++v) {
        for (int m = 0; m != SL_CANARY_M_COUNT; ++m) {
            if (in[v]->values[m].seen == 0)
                continue;
            if (sl_reservoir_merge(&c->scratch, &c->values[v][m], &in[v]->values[m], rng) != SL_OK)
                return SL_EINVAL;
            sl_reservoir_t t = c->values[v][m];
            c->values[v][m] = c->scratch;
            c->scratch = t;
        }
    }
    return SL_OK;
}

/* Sorted copies of the step's samples of metric m into c->sorted; sets the sizes. */
static void sorted_samples(sl_canary_t *c, int m, size_t *nc, size_t *ns)
{
    size_t n[2];
    for (int v = 0; v != 2; ++v) {
        n[v] = c->values[v][m].size;
        memcpy(c->sorted[v], c->values[v][m].values_private, n[v] * sizeof(double));
        sl_mwu_sort(c->sorted[v], n[v]);
    }
    *ns = n[SL_CANARY_STABLE];
    *nc = n[SL_CANARY_CANARY];
}

/* Counts the look when the verdict had data. */
static void counted(sl_canary_t *c, const sl_canary_verdict_t *v)
{
    if (v->outcome != SL_CANARY_NO_DATA && v->look != 0)
        c->durable.looks[v->kind] = v->look;
}

void sl_canary_set_labels(sl_canary_t *c, const sl_canary_labels_t *canary, const sl_canary_labels_t *stable)
{
    c->labels[SL_CANARY_CANARY] = *canary;
    c->labels[SL_CANARY_STABLE] = *stable;
}

size_t sl_canary_analyze(sl_canary_t *c, sl_canary_verdict_t out[SL_CANARY_K_COUNT])
{
    static const struct {
        int check, metric, shift, tail;
    } timing[] = {{SL_CONF_CHECK_LATENCY, SL_CANARY_M_LATENCY, SL_CANARY_K_LATENCY, SL_CANARY_K_LATENCY_P99},
                  {SL_CONF_CHECK_TTFT, SL_CANARY_M_TTFT, SL_CANARY_K_TTFT, SL_CANARY_K_TTFT_P99},
                  {SL_CONF_CHECK_TPOT, SL_CANARY_M_TPOT, SL_CANARY_K_TPOT, SL_CANARY_K_TPOT_P99}};
    const sl_conf_rollout_t *conf = c->conf;
    const sl_conf_check_t *cc;
    size_t n = 0, nc, ns;

    if ((cc = &conf->checks[SL_CONF_CHECK_ERROR_RATE])->enabled)
        sl_canary_check_error_rate(cc, &c->durable.errors, &out[n++]);
    for (size_t i = 0; i != sizeof(timing) / sizeof(timing[0]); ++i) {
        if (!(cc = &conf->checks[timing[i].check])->enabled)
            continue;
        sorted_samples(c, timing[i].metric, &nc, &ns);
        sl_canary_check_shift(cc, timing[i].shift, c->sorted[1], nc, c->sorted[0], ns, c->durable.looks[timing[i].shift] + 1,
                              &out[n]);
        counted(c, &out[n++]);
        sl_canary_check_tail(cc, timing[i].tail, c->sorted[1], nc, c->sorted[0], ns, c->durable.looks[timing[i].tail] + 1,
                             &out[n]);
        counted(c, &out[n++]);
    }
    if ((cc = &conf->checks[SL_CONF_CHECK_ACCEPT_RATE])->enabled) {
        sl_msprt_result_t r;
        sl_msprt_look(&c->durable.accept, c->durable.escalated[1], c->durable.judged[1], c->durable.escalated[0],
                      c->durable.judged[0], &r);
        sl_canary_check_accept_rate(cc, &c->durable.accept, c->durable.judged, c->durable.escalated, &out[n++]);
    }
    if ((cc = &conf->checks[SL_CONF_CHECK_CONFIDENCE])->enabled) {
        sorted_samples(c, SL_CANARY_M_CONFIDENCE, &nc, &ns);
        sl_canary_check_confidence(cc, c->sorted[1], nc, c->sorted[0], ns, c->durable.looks[SL_CANARY_K_CONFIDENCE] + 1,
                                   &out[n]);
        counted(c, &out[n++]);
    }
    if ((cc = &conf->checks[SL_CONF_CHECK_SRM])->enabled)
        sl_canary_check_srm(cc, c->srm_canary, c->srm_total, c->weight_permille, c->srm_max_log_lambda, conf->num_steps,
                            &out[n++]);
    if ((cc = &conf->checks[SL_CONF_CHECK_FEEDBACK_ACCURACY])->enabled) {
        sl_canary_check_feedback(cc, &c->labels[SL_CANARY_CANARY], &c->labels[SL_CANARY_STABLE],
                                 c->durable.looks[SL_CANARY_K_FEEDBACK_ACCURACY] + 1, &out[n]);
        counted(c, &out[n++]);
    }
    for (size_t i = 0; i != n; ++i)
        out[i].critical = (conf->critical_mask >> out[i].check) & 1;
    return n;
}
