/*
 * cmd_reference.c - `sluice reference -c CONFIG --route NAME --input SAMPLE.jsonl -o REF.json`: builds the drift
 * reference of a route from a sample of requests, with the very extraction the data path uses.
 *
 * Each non-empty line of the input is one request body (JSON). The route's adapter inspects it as the gateway
 * would (prompt token estimate, chat message count), the route's monitor plan extracts every value
 * (sl_monitor_extract), and the values are tallied (policies/reference.h). Three top-level members of a line are
 * read as what the answer would have carried: "prediction" (else "label") is the line's prediction, and
 * "output_tokens" its output tokens. The output is written to a temporary file renamed over REF.json, so a
 * reader never sees half a reference. Exit 0 on success, 1 on a bad config, route or input (with the line
 * number), 2 on usage errors.
 */
#include "backends/adapter.h"
#include "common/alloc.h"
#include "common/file.h"
#include "common/json_scan.h"
#include "common/status.h"
#include "common/str.h"
#include "conf/conf.h"
#include "gateway/cmd.h"
#include "policies/monitor.h"
#include "policies/reference.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: sluice reference -c CONFIG --route NAME --input SAMPLE.jsonl -o REF.json\n\n"
                "Builds the drift reference of a route's monitor from a sample of requests (one JSON request body\n"
                "per line; a top-level \"prediction\" or \"label\" member is the line's prediction, \"output_tokens\"\n"
                "its output tokens). Numeric values are binned at the sample's quantiles, categorical values keep\n"
                "their most frequent categories. Name the file in routes[].monitor.reference (docs/MONITORING.md).\n\n"
                "options:\n"
                "  -c, --config FILE    the config file that declares the route's monitor\n"
                "  -r, --route NAME     the route\n"
                "  -i, --input FILE     the sample, JSON Lines (\"-\" reads standard input)\n"
                "  -o, --output FILE    the reference file to write (\"-\" writes standard output)\n"
                "      --created TIME   the creation time to record (default: now, ISO 8601 UTC)\n"
                "  -h, --help           show this help\n");
}

/* Fills the monitor input of one sample line. */
static void sample_input(const sl_conf_route_t *route, const sl_json_span_t *root, sl_monitor_input_t *in,
                         sl_json_span_t *prediction)
{
    sl_adapter_request_t req;
    sl_json_span_t v;
    uint64_t n;
    memset(in, 0, sizeof(*in));
    in->request = *root;
    in->response.type = SL_JSON_INVALID;
    if (sl_adapter_get(route->protocol)->inspect(root, &req) == SL_OK) {
        in->prompt_tokens = req.prompt_tokens;
        if (req.kind == SL_ADAPTER_KIND_CHAT) {
            in->message_count_state = SL_MONITOR_PRESENT;
            in->message_count = req.num_messages;
        }
    }
    if (root->type != SL_JSON_OBJECT)
        return;
    if (sl_json_find_key(root, "output_tokens", 13, &v) == SL_OK) {
        in->output_tokens_state =
            v.type == SL_JSON_NUMBER && sl_json_get_uint64(&v, &n) == SL_OK ? SL_MONITOR_PRESENT : SL_MONITOR_INVALID;
        in->output_tokens = in->output_tokens_state == SL_MONITOR_PRESENT ? n : 0;
    }
    if (sl_json_find_key(root, "prediction", 10, prediction) == SL_OK ||
        sl_json_find_key(root, "label", 5, prediction) == SL_OK)
        in->prediction = prediction;
}

/* Reads the sample into b. Returns 0, or 1 after printing the error. */
static int read_sample(FILE *fp, const char *name, const sl_conf_t *conf, const sl_conf_route_t *route,
                       const sl_monitor_plan_t *plan, sl_reference_builder_t *b)
{
    char *line = NULL, sz[32];
    size_t cap = 0;
    ssize_t len;
    uint64_t lineno = 0;
    int rc = 0;
    sl_monitor_obs_t obs;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        ++lineno;
        while (len != 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            --len;
        size_t start = 0;
        while (start != (size_t)len && (line[start] == ' ' || line[start] == '\t'))
            ++start;
        if (start == (size_t)len)
            continue;
        if ((uint64_t)len > conf->server.max_body_bytes) {
            fprintf(stderr, "sluice reference: %s:%" PRIu64 ": longer than server.max_body (%s)\n", name, lineno,
                    sl_conf_format_size(conf->server.max_body_bytes, sz, sizeof(sz)));
            rc = 1;
            break;
        }
        sl_json_span_t root, prediction;
        int r = sl_json_parse(line, (size_t)len, &root);
        if (r != SL_OK) {
            fprintf(stderr, "sluice reference: %s:%" PRIu64 ": %s\n", name, lineno,
                    r == SL_ENOMEM ? "nested too deeply" : "not valid JSON");
            rc = 1;
            break;
        }
        sl_monitor_input_t in;
        sample_input(route, &root, &in, &prediction);
        sl_monitor_extract(plan, &in, &obs);
        sl_reference_builder_add(b, &obs);
    }
    if (rc == 0 && ferror(fp)) {
        fprintf(stderr, "sluice reference: %s: %s\n", name, strerror(errno));
        rc = 1;
    }
    free(line); /* getline's buffer comes from the C library's allocator */
    return rc;
}

/* Writes data to path through path.tmp and a rename (common/file.h; "-": standard output). Returns 0 or 1 after
 * printing. */
static int write_file(const char *path, const sl_buf_t *data)
{
    if (strcmp(path, "-") == 0)
        return fwrite(data->data, 1, data->len, stdout) == data->len && fflush(stdout) == 0 ? 0 : 1;
    sl_buf_t tmp, dir;
    const char *step, *slash = strrchr(path, '/');
    sl_buf_init(&tmp, 0);
    sl_buf_init(&dir, 0);
    sl_buf_appendf(&tmp, "%s.tmp", path);
    if (slash == NULL)
        sl_buf_appendf(&dir, ".");
    else
        sl_buf_appendf(&dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int rc = sl_file_replace(NULL, dir.data, path, tmp.data, data->data, data->len, 0644, &step);
    if (rc != SL_OK)
        fprintf(stderr, "sluice reference: cannot write %s: %s\n", path, errno != 0 ? strerror(errno) : "short write");
    sl_buf_dispose(&tmp);
    sl_buf_dispose(&dir);
    return rc == SL_OK ? 0 : 1;
}

static int build(const char *config, const char *route_name, const char *input, const char *output, const char *created)
{
    sl_conf_t *conf = sl_cmd_load_config(config, 0);
    if (conf == NULL)
        return 1;
    const sl_conf_route_t *route = sl_conf_find_route(conf, route_name);
    int rc = 1;
    if (route == NULL) {
        fprintf(stderr, "sluice reference: %s has no route named \"%s\"\n", config, route_name);
        sl_conf_release(conf);
        return 1;
    }
    if (!route->monitor.enabled) {
        fprintf(stderr, "sluice reference: route \"%s\" has no monitor block; nothing to build\n", route_name);
        sl_conf_release(conf);
        return 1;
    }
    FILE *fp = strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
    if (fp == NULL) {
        fprintf(stderr, "sluice reference: cannot read %s: %s\n", input, strerror(errno));
        sl_conf_release(conf);
        return 1;
    }
    sl_monitor_plan_t plan;
    sl_reference_builder_t b;
    sl_monitor_plan_init(&plan, &route->monitor);
    sl_reference_builder_init(&b, &route->monitor);
    if (read_sample(fp, input, conf, route, &plan, &b) == 0) {
        sl_reference_t ref;
        sl_buf_t out;
        sl_buf_init(&out, 0);
        sl_reference_builder_finish(&b, route->name, created, &ref);
        sl_reference_write(&ref, &out);
        rc = write_file(output, &out);
        if (rc == 0)
            fprintf(stderr, "sluice reference: wrote %s: %" PRIu64 " samples, %zu feature%s%s\n", output, ref.samples,
                    ref.num_features, ref.num_features == 1 ? "" : "s", ref.has_prediction ? " and the prediction" : "");
        sl_buf_dispose(&out);
        sl_reference_dispose(&ref);
    }
    if (fp != stdin)
        fclose(fp);
    sl_reference_builder_dispose(&b);
    sl_monitor_plan_dispose(&plan);
    sl_conf_release(conf);
    return rc;
}

int sl_cmd_reference(int argc, char **argv)
{
    const char *config = NULL, *route = NULL, *input = NULL, *output = NULL, *created = NULL;
    const sl_cmd_opt_t opts[] = {{"config", 'c', &config}, {"route", 'r', &route}, {"input", 'i', &input},
                                 {"output", 'o', &output}, {"created", 0, &created}, {NULL}};
    char now[40];
    int parsed = sl_cmd_parse("reference", argc, argv, opts, "a value", usage);
    if (parsed >= 0)
        return parsed;
    const char *missing = config == NULL   ? "-c CONFIG"
                          : route == NULL  ? "--route NAME"
                          : input == NULL  ? "--input FILE"
                          : output == NULL ? "-o FILE"
                                           : NULL;
    if (missing != NULL)
        return sl_cmd_missing("reference", missing);
    if (created == NULL) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
        created = now;
    } else if (strlen(created) > 39) {
        fprintf(stderr, "sluice reference: --created must be at most 39 characters\n");
        return 2;
    }
    return build(config, route, input, output, created);
}
