/*
 * Unit tests of tools/sim/params.c: defaults, parsing and range checks, all-or-nothing behaviour of a failed set,
 * cross-parameter checks, and that formatting reads back exactly for every row of the table.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "common/status.h"
#include "tools/sim/sim.h"

Test(params, defaults)
{
    sl_sim_params_t p;
    sl_sim_params_init(&p);
    cr_assert_eq(p.protocol, SL_SIM_PROTOCOL_OPENAI);
    cr_assert_str_eq(p.model, "sim-model");
    cr_assert_eq(p.num_labels, 2);
    cr_assert_str_eq(p.labels[0], "positive");
    cr_assert_str_eq(p.labels[1], "negative");
    cr_assert_eq(p.threads, 1);
    cr_assert_eq(p.slots, 64);
    cr_assert_eq(p.queue, 1024);
    cr_assert(p.accuracy == 0.8);
    cr_assert(p.error_rate == 0);
    char err[200];
    cr_assert_eq(sl_sim_params_check(&p, err, sizeof(err)), SL_OK);
}

Test(params, set_values_and_dashes)
{
    sl_sim_params_t p;
    char err[200];
    sl_sim_params_init(&p);
    cr_assert_eq(sl_sim_params_set(&p, "slots", "3", err, sizeof(err)), SL_OK);
    cr_assert_eq(p.slots, 3);
    cr_assert_eq(sl_sim_params_set(&p, "error-rate", "0.25", err, sizeof(err)), SL_OK);
    cr_assert(p.error_rate == 0.25);
    cr_assert_eq(sl_sim_params_set(&p, "protocol", "kserve_v2", err, sizeof(err)), SL_OK);
    cr_assert_eq(p.protocol, SL_SIM_PROTOCOL_KSERVE_V2);
    cr_assert_eq(sl_sim_params_set(&p, "seed", "18446744073709551615", err, sizeof(err)), SL_OK);
    cr_assert_eq(p.seed, UINT64_MAX);
    cr_assert_eq(sl_sim_params_set(&p, "model", "llama-70b:v2", err, sizeof(err)), SL_OK);
    cr_assert_str_eq(p.model, "llama-70b:v2");
    cr_assert_eq(sl_sim_params_set(&p, "labels", "cat,dog,bird", err, sizeof(err)), SL_OK);
    cr_assert_eq(p.num_labels, 3);
    cr_assert_str_eq(p.labels[2], "bird");
}

Test(params, errors_leave_params_untouched)
{
    sl_sim_params_t p, before;
    char err[200];
    sl_sim_params_init(&p);
    before = p;
    cr_assert_eq(sl_sim_params_set(&p, "slot", "3", err, sizeof(err)), SL_ENOENT);
    cr_assert_str_eq(err, "unknown parameter 'slot' (did you mean 'slots'?)");
    cr_assert_eq(sl_sim_params_set(&p, "slots", "3x", err, sizeof(err)), SL_ESYNTAX);
    cr_assert_eq(sl_sim_params_set(&p, "slots", "-1", err, sizeof(err)), SL_ESYNTAX);
    cr_assert_eq(sl_sim_params_set(&p, "threads", "65", err, sizeof(err)), SL_ERANGE);
    cr_assert_str_eq(err, "threads: 65 is outside [1, 64]");
    cr_assert_eq(sl_sim_params_set(&p, "accuracy", "1.5", err, sizeof(err)), SL_ERANGE);
    cr_assert_str_eq(err, "accuracy: 1.5 is outside [0, 1]");
    cr_assert_eq(sl_sim_params_set(&p, "accuracy", "nan", err, sizeof(err)), SL_ESYNTAX);
    cr_assert_eq(sl_sim_params_set(&p, "accuracy", "", err, sizeof(err)), SL_ESYNTAX);
    cr_assert_eq(sl_sim_params_set(&p, "protocol", "grpc", err, sizeof(err)), SL_ESYNTAX);
    cr_assert_eq(sl_sim_params_set(&p, "model", "", err, sizeof(err)), SL_ERANGE);
    cr_assert_eq(sl_sim_params_set(&p, "model", "a b", err, sizeof(err)), SL_ESYNTAX);
    cr_assert_eq(sl_sim_params_set(&p, "labels", "one", err, sizeof(err)), SL_ERANGE);
    cr_assert_eq(sl_sim_params_set(&p, "labels", "a,,b", err, sizeof(err)), SL_ERANGE);
    cr_assert_eq(sl_sim_params_set(&p, "labels", "a,b,a", err, sizeof(err)), SL_EEXIST);
    cr_assert_eq(sl_sim_params_set(&p, "labels", "a b,c", err, sizeof(err)), SL_ESYNTAX);
    cr_assert_eq(sl_sim_params_set(&p, "labels", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", err, sizeof(err)), SL_ERANGE);
    cr_assert(memcmp(&p, &before, sizeof(p)) == 0);
}

Test(params, cross_checks)
{
    sl_sim_params_t p;
    char err[200];
    sl_sim_params_init(&p);
    p.drift_label = 2;
    cr_assert_eq(sl_sim_params_check(&p, err, sizeof(err)), SL_EINVAL);
    cr_assert_str_eq(err, "drift_label: 2 is not the index of a label (there are 2)");
    sl_sim_params_init(&p);
    p.error_rate = 0.6;
    p.reset_rate = 0.5;
    cr_assert_eq(sl_sim_params_check(&p, err, sizeof(err)), SL_EINVAL);
    sl_sim_params_init(&p);
    p.output_tokens_mean = 300;
    cr_assert_eq(sl_sim_params_check(&p, err, sizeof(err)), SL_EINVAL);
}

Test(params, format_reads_back_and_json_lists_every_key)
{
    sl_sim_params_t p, q;
    char err[200], buf[4096];
    size_t n;
    const sl_sim_param_def_t *t = sl_sim_params_table(&n);
    sl_sim_params_init(&p);
    sl_sim_params_set(&p, "ttft_per_token_ms", "0.1234567890123", err, sizeof(err));
    sl_sim_params_set(&p, "labels", "x,y,z", err, sizeof(err));
    sl_sim_params_set(&p, "seed", "123456789012345", err, sizeof(err));
    memset(&q, 0, sizeof(q));
    sl_sim_params_init(&q);
    for (size_t i = 0; i != n; ++i) {
        char val[600];
        sl_sim_params_format(&p, t + i, val, sizeof(val));
        cr_assert_eq(sl_sim_params_set(&q, t[i].name, val, err, sizeof(err)), SL_OK, "%s=%s: %s", t[i].name, val, err);
    }
    cr_assert(memcmp(&p, &q, sizeof(p)) == 0);

    int len = sl_sim_params_to_json(&p, buf, sizeof(buf));
    cr_assert(len > 0);
    json_error_t je;
    json_t *o = json_loads(buf, 0, &je);
    cr_assert_not_null(o, "%s", je.text);
    cr_assert_eq(json_object_size(o), n);
    for (size_t i = 0; i != n; ++i)
        cr_assert_not_null(json_object_get(o, t[i].name), "%s", t[i].name);
    cr_assert_str_eq(json_string_value(json_object_get(o, "labels")), "x,y,z");
    cr_assert(json_real_value(json_object_get(o, "ttft_per_token_ms")) == 0.1234567890123);
    json_decref(o);
    cr_assert_eq(sl_sim_params_to_json(&p, buf, 40), SL_ENOMEM);
}
