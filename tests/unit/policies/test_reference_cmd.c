/*
 * test_reference_cmd.c - `sluice reference` end to end: the binary of this build reads a config and a JSONL sample
 * (tests/fixtures/monitor/sample.jsonl) and must write the reference numpy computes for it
 * (sample_expected.json: quantile edges, bin counts, top categories, nulls, type errors); the gateway's monitor then
 * accepts the file. Also the command's usage and input errors, with their exit statuses.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "policies/monitor.h"
#include "policies/reference.h"
#include "test_monitor_fixture.h"

#ifndef SL_SLUICE_BIN
#error "SL_SLUICE_BIN must name the sluice binary (set in tests/unit/policies/meson.build)"
#endif

static const char *const config_yaml = "backends: {a: {protocol: openai, endpoints: 127.0.0.1:1}}\n"
                                       "routes:\n"
                                       "  - name: chat\n"
                                       "    cascade: [{backend: a}]\n"
                                       "    monitor:\n"
                                       "      prediction: {label: /choices/0/message/content, max_categories: 8}\n"
                                       "      features:\n"
                                       "        - {name: temperature, source: /temperature, bins: 4}\n"
                                       "        - {name: lang, source: /metadata/lang, type: categorical, max_categories: 3}\n"
                                       "        - {name: message_count, bins: 2}\n"
                                       "        - {name: output_tokens}\n"
                                       "      reference: ref.json\n";

/* Runs the command line; returns the exit status and the combined output in out. */
static int run(const char *args, char *out, size_t outsz)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s %s 2>&1", SL_SLUICE_BIN, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, outsz - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    cr_assert(WIFEXITED(st), "%s did not exit", cmd);
    return WEXITSTATUS(st);
}

static void compare_value(const sl_reference_value_t *got, const json_t *want)
{
    const char *name = json_string_value(json_object_get(want, "name"));
    cr_assert_str_eq(got->name, name);
    cr_assert_str_eq(got->source, json_string_value(json_object_get(want, "source")), "%s", name);
    int cat = strcmp(json_string_value(json_object_get(want, "type")), "categorical") == 0;
    cr_assert_eq(got->type, cat ? SL_MONITOR_CATEGORICAL : SL_MONITOR_NUMERIC, "%s", name);
    json_t *counts = json_object_get(want, "counts");
    cr_assert_eq(got->num_bins, json_array_size(counts), "%s: %zu bins", name, got->num_bins);
    for (size_t i = 0; i != got->num_bins; ++i)
        cr_assert_eq(got->counts[i], (uint64_t)json_number_value(json_array_get(counts, i)), "%s count %zu", name, i);
    if (cat) {
        for (size_t i = 0; i != got->num_bins; ++i)
            cr_assert_str_eq(got->categories[i], json_string_value(json_array_get(json_object_get(want, "categories"), i)),
                             "%s category %zu", name, i);
        cr_assert_eq(got->other, (uint64_t)mon_num(want, "other"), "%s other", name);
    } else {
        for (size_t i = 0; i + 1 < got->num_bins; ++i)
            cr_assert_eq(got->edges[i], json_number_value(json_array_get(json_object_get(want, "edges"), i)),
                         "%s edge %zu: %.17g", name, i, got->edges[i]); /* numpy.quantile, bit for bit */
    }
    cr_assert_eq(got->nulls, (uint64_t)mon_num(want, "nulls"), "%s nulls", name);
    cr_assert_eq(got->type_errors, (uint64_t)mon_num(want, "type_errors"), "%s type errors", name);
}

Test(reference_cmd, builds_the_reference_numpy_computes)
{
    char dir[64], conf_path[128], ref_path[128], args[1024], out[4096], err[1024];
    mon_mkdtemp(dir, sizeof(dir));
    snprintf(conf_path, sizeof(conf_path), "%s/sluice.yaml", dir);
    snprintf(ref_path, sizeof(ref_path), "%s/ref.json", dir);
    mon_write(conf_path, config_yaml, strlen(config_yaml));
    snprintf(args, sizeof(args),
             "reference -c %s --route chat --input %s/tests/fixtures/monitor/sample.jsonl -o %s --created "
             "2025-02-03T00:00:00Z",
             conf_path, SL_SOURCE_DIR, ref_path);
    cr_assert_eq(run(args, out, sizeof(out)), 0, "%s", out);
    char want_msg[256];
    snprintf(want_msg, sizeof(want_msg), "sluice reference: wrote %s: 257 samples, 4 features and the prediction\n", ref_path);
    cr_assert_str_eq(out, want_msg);

    sl_reference_t r;
    cr_assert_eq(sl_reference_load(ref_path, &r, err, sizeof(err)), SL_OK, "%s", err);
    json_t *want = mon_fixture("sample_expected.json");
    cr_assert_str_eq(r.route, "chat");
    cr_assert_str_eq(r.created, "2025-02-03T00:00:00Z");
    cr_assert_eq(r.samples, (uint64_t)mon_num(want, "samples"));
    cr_assert_eq(r.has_prediction, 1);
    compare_value(&r.prediction, json_object_get(want, "prediction"));
    json_t *features = json_object_get(want, "features");
    cr_assert_eq(r.num_features, json_array_size(features));
    for (size_t i = 0; i != r.num_features; ++i)
        compare_value(&r.features[i], json_array_get(features, i));
    sl_reference_dispose(&r);
    json_decref(want);

    /* the gateway's monitor takes the file as it is */
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_file(conf_path, &conf, &errs), SL_OK);
    sl_conf_errors_dispose(&errs);
    sl_monitor_t *m = NULL;
    cr_assert_eq(sl_monitor_create(conf, 1, 0, &m, err, sizeof(err)), SL_OK, "%s", err);
    const sl_monitor_route_t *mr = sl_monitor_route(m, 0);
    cr_assert_eq(mr->ref_state, SL_MONITOR_REF_READY);
    cr_assert_eq(mr->ref_samples, 257);
    cr_assert_eq(mr->ref_categories[2], 3);
    sl_monitor_destroy(m);
    sl_conf_release(conf);
    mon_rmdir(dir);
}

Test(reference_cmd, usage_and_input_errors)
{
    char dir[64], conf_path[128], bad_path[128], args[1024], out[4096], want[512];
    mon_mkdtemp(dir, sizeof(dir));
    snprintf(conf_path, sizeof(conf_path), "%s/sluice.yaml", dir);
    snprintf(bad_path, sizeof(bad_path), "%s/bad.jsonl", dir);
    mon_write(conf_path, config_yaml, strlen(config_yaml));
    mon_write(bad_path, "{\"a\":1}\n\n{\"a\":\n", 16);

    cr_assert_eq(run("reference -c x.yaml", out, sizeof(out)), 2);
    cr_assert_str_eq(out, "sluice reference: missing --route NAME; try `sluice reference --help`\n");
    cr_assert_eq(run("reference --bogus", out, sizeof(out)), 2);
    cr_assert_str_eq(out, "sluice reference: unknown option '--bogus'; try `sluice reference --help`\n");
    cr_assert_eq(run("reference --help", out, sizeof(out)), 0);
    cr_assert(strncmp(out, "usage: sluice reference -c CONFIG", 33) == 0, "%s", out);

    snprintf(args, sizeof(args), "reference -c %s --route nope --input %s -o %s/r.json", conf_path, bad_path, dir);
    cr_assert_eq(run(args, out, sizeof(out)), 1);
    snprintf(want, sizeof(want), "sluice reference: %s has no route named \"nope\"\n", conf_path);
    cr_assert_str_eq(out, want);

    snprintf(args, sizeof(args), "reference -c %s --route chat --input %s -o %s/r.json", conf_path, bad_path, dir);
    cr_assert_eq(run(args, out, sizeof(out)), 1);
    snprintf(want, sizeof(want), "sluice reference: %s:3: not valid JSON\n", bad_path);
    cr_assert_str_eq(out, want);
    snprintf(args, sizeof(args), "%s/r.json", dir);
    cr_assert_neq(access(args, F_OK), 0, "nothing written on failure");

    snprintf(args, sizeof(args), "reference -c %s --route chat --input %s/missing.jsonl -o -", conf_path, dir);
    cr_assert_eq(run(args, out, sizeof(out)), 1);
    snprintf(want, sizeof(want), "sluice reference: cannot read %s/missing.jsonl: No such file or directory\n", dir);
    cr_assert_str_eq(out, want);
    mon_rmdir(dir);
}
