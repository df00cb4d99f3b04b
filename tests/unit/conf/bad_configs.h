/*
 * bad_configs.h - the table of invalid configs: each YAML text with the exact errors the loader must report, as
 * "line:col: key.path: message" in file order. Checked by test_bad.c; also the seed corpus of the config fuzzer
 * (tests/fuzz/seeds.c).
 */
#ifndef SL_TESTS_UNIT_CONF_BAD_CONFIGS_H
#define SL_TESTS_UNIT_CONF_BAD_CONFIGS_H

#include <stddef.h>

typedef struct st_bad_case_t {
    const char *name;
    const char *yaml;
    const char *expected[12]; /* NULL-terminated */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"empty_file",
        "",
        {"1:1: the file is empty; a config needs at least \"backends\" and \"routes\"", NULL}},
    {"comments_only",
        "# nothing here\n",
        {"1:1: the file is empty; a config needs at least \"backends\" and \"routes\"", NULL}},
    {"root_sequence",
        "- backends\n",
        {"1:1: the top level must be a mapping, got a sequence", NULL}},
    {"root_scalar",
        "hello\n",
        {"1:1: the top level must be a mapping, got \"hello\"", NULL}},
    {"root_null",
        "~\n",
        {"1:1: the top level must be a mapping, got null", NULL}},
    {"yaml_unclosed_flow",
        "backends: [a, b\n"
        "routes: []\n",
        {"2:7: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence that started at 1:11)", NULL}},
    {"yaml_bad_indent",
        "server:\n"
        "  threads: 4\n"
        " max_body: 8MiB\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"3:2: YAML syntax error: did not find expected key (while parsing a block mapping that started at 1:1)", NULL}},
    {"yaml_tab",
        "server:\n"
        "\x09threads: 4\n",
        {"2:1: YAML syntax error: found character that cannot start any token (while scanning for the next token that started at 2:1)", NULL}},
    {"yaml_two_documents",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n"
        "---\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"6:1: only one YAML document is allowed in a config file", NULL}},
    {"yaml_invalid_utf8",
        "server: {access_log: \"\xff\"}\n",
        {"1:23: invalid text: invalid leading UTF-8 octet (byte 0xff)", NULL}},
    {"yaml_nul_in_string",
        "state_dir: \"a\\0b\"\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:12: strings must not contain NUL characters", NULL}},
    {"yaml_too_deep",
        "server: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:40: nesting is deeper than 32 levels", NULL}},
    {"alias_rejected",
        "server: &s {threads: 4}\n"
        "admin: *s\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:8: admin: YAML aliases are not supported; write the value out", NULL}},
    {"key_not_string",
        "? [a, b]\n"
        ": 1\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:3: keys must be strings, got a sequence", NULL}},
    {"unknown_root_key_suggest",
        "backend:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:1: backend: unknown key (did you mean \"backends\"?)",
         "1:1: missing required key \"backends\"", NULL}},
    {"unknown_root_key_list",
        "frontends: 1\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:1: frontends: unknown key; expected one of: server, admin, state_dir, state_interval, backends, routes",
         NULL}},
    {"unknown_server_key_suggest",
        "server:\n"
        "  listen: 127.0.0.1:8080\n"
        "  thraeds: 4\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"3:3: server.thraeds: unknown key (did you mean \"threads\"?)", NULL}},
    {"server_not_mapping",
        "server: 4\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:9: server: expected a mapping, got \"4\"", NULL}},
    {"server_null",
        "server:\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:8: server: expected a mapping, got null", NULL}},
    {"duplicate_key",
        "server:\n"
        "  threads: 4\n"
        "  threads: 8\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"3:3: server.threads: duplicate key (first defined at 2:3)", NULL}},
    {"threads_range",
        "server: {threads: 65}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:19: server.threads: must be \"auto\" or an integer between 1 and 64, got \"65\"", NULL}},
    {"threads_word",
        "server: {threads: many}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:19: server.threads: must be \"auto\" or an integer between 1 and 64, got \"many\"", NULL}},
    {"threads_zero",
        "server: {threads: 0}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:19: server.threads: must be \"auto\" or an integer between 1 and 64, got \"0\"", NULL}},
    {"max_body_bare_number",
        "server: {max_body: 8388608}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:20: server.max_body: invalid size \"8388608\": a bare number has no unit; write e.g. \"8MiB\" or \"512KiB\"", NULL}},
    {"max_body_unit",
        "server: {max_body: 8mb}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:20: server.max_body: invalid size \"8mb\": unknown unit; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB", NULL}},
    {"max_body_range",
        "server: {max_body: 2GiB}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:20: server.max_body: must be between 1B and 1GiB, got 2GiB", NULL}},
    {"duration_bad",
        "server:\n"
        "  header_timeout: 10\n"
        "  shutdown_timeout: -1s\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:19: server.header_timeout: invalid duration \"10\": a bare number has no unit; write e.g. \"2s\" or \"250ms\"",
         "3:21: server.shutdown_timeout: invalid duration \"-1s\": must not be negative", NULL}},
    {"duration_sub_ms",
        "server: {header_timeout: 1.5ms}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:26: server.header_timeout: invalid duration \"1.5ms\": finer than a millisecond", NULL}},
    {"duration_range",
        "server: {shutdown_timeout: 2h}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:28: server.shutdown_timeout: must be between 0 and 1h, got 2h", NULL}},
    {"busy_poll_bad",
        "server:\n"
        "  busy_poll: 50\n"
        "admin: {busy_poll: 50us}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:14: server.busy_poll: invalid duration \"50\": a bare number has no unit; write e.g. \"50us\"",
         "3:9: admin.busy_poll: unknown key; expected one of: enabled, listen, token_file", NULL}},
    {"busy_poll_range",
        "server: {busy_poll: 0.5s}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:21: server.busy_poll: must be between 0 and 10ms, got 0.5s", NULL}},
    {"max_connections_bad",
        "server: {max_connections: 0}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:27: server.max_connections: must be \"auto\" or an integer between 1 and 10000000, got \"0\"", NULL}},
    {"duration_overflow",
        "server: {shutdown_timeout: 99999999999999999999d}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:28: server.shutdown_timeout: must be between 0 and 1h, got 99999999999999999999d", NULL}},
    {"listen_bad_addresses",
        "server:\n"
        "  listen: [localhost, \"300.1.1.1:80\", \"[::1]8080\", \"unix:\", example.com:80]\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:12: server.listen[0]: invalid address \"localhost\": expected host:port, [ipv6]:port or unix:/path",
         "2:23: server.listen[1]: invalid address \"300.1.1.1:80\": host must be an IPv4 address, [IPv6] address or localhost",
         "2:39: server.listen[2]: invalid address \"[::1]8080\": expected [ipv6]:port",
         "2:52: server.listen[3]: invalid address \"unix:\": unix socket path is empty",
         "2:61: server.listen[4]: invalid address \"example.com:80\": host must be an IPv4 address, [IPv6] address or localhost", NULL}},
    {"listen_empty",
        "server: {listen: []}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:18: server.listen: needs at least 1 address", NULL}},
    {"listen_duplicate",
        "server: {listen: [\"127.0.0.1:8080\", \"127.0.0.1:8081\", \"127.0.0.1:8080\"]}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:55: server.listen[2]: duplicate address (also at [0])", NULL}},
    {"tls_missing_key",
        "server:\n"
        "  tls: {cert: /nonexistent/cert.pem}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:8: server.tls: missing required key \"key\"",
         "2:15: server.tls.cert: cannot read /nonexistent/cert.pem: No such file or directory", NULL}},
    {"access_log_empty",
        "server: {access_log: \"\"}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:22: server.access_log: must not be empty", NULL}},
    {"admin_non_loopback",
        "admin: {listen: \"0.0.0.0:9901\"}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:17: admin.listen: an admin listener on a non-loopback address needs a token_file", NULL}},
    {"admin_same_as_server",
        "server: {listen: \"127.0.0.1:9000\"}\n"
        "admin: {listen: \"127.0.0.1:9000\"}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:17: admin.listen: same address as server.listen (127.0.0.1:9000)", NULL}},
    {"admin_token_missing",
        "admin: {token_file: /nonexistent/admin.token}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:21: admin.token_file: cannot read /nonexistent/admin.token: No such file or directory", NULL}},
    {"admin_enabled_word",
        "admin: {enabled: yes}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:18: admin.enabled: must be true or false, got \"yes\"", NULL}},
    {"state_dir_empty",
        "state_dir: \"\"\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:12: state_dir: must not be empty", NULL}},
    {"backends_not_mapping",
        "backends: [small]\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:11: backends: expected a mapping, got a sequence", NULL}},
    {"backends_empty",
        "backends: {}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:11: backends: declare at least one backend", NULL}},
    {"backend_bad_name",
        "backends:\n"
        "  \"bad name\": {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:3: backends.bad name: invalid backend name \"bad name\": use 1 to 64 letters, digits, '_', '-' or '.'",
         "5:25: routes[0].cascade[0].backend: undefined backend \"small\"", NULL}},
    {"backend_duplicate_name",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8002}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"3:3: backends.small: duplicate backend name (first defined at 2:3)", NULL}},
    {"backend_missing_keys",
        "backends:\n"
        "  small: {model: m}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:10: backends.small: missing required key \"protocol\"",
         "2:10: backends.small: missing required key \"endpoints\"", NULL}},
    {"protocol_suggest",
        "backends:\n"
        "  small: {protocol: opnai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:21: backends.small.protocol: invalid value \"opnai\" (did you mean \"openai\"?)", NULL}},
    {"protocol_unknown",
        "backends:\n"
        "  small: {protocol: grpc, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:21: backends.small.protocol: invalid value \"grpc\"; expected one of: openai, kserve_v2, http", NULL}},
    {"endpoints_port_zero_and_dup",
        "backends:\n"
        "  small:\n"
        "    protocol: openai\n"
        "    endpoints: [\"127.0.0.1:0\", \"127.0.0.1:8001\", \"127.0.0.1:8001\"]\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"4:17: backends.small.endpoints[0]: invalid address \"127.0.0.1:0\": port must be between 1 and 65535",
         "4:50: backends.small.endpoints[2]: duplicate address (also at [1])", NULL}},
    {"endpoints_wrong_type",
        "backends:\n"
        "  small: {protocol: openai, endpoints: {a: 1}}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:40: backends.small.endpoints: expected an address or a sequence of addresses, got a mapping", NULL}},
    {"max_concurrency_range",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001, max_concurrency: 2000000, max_queue: -1}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:73: backends.small.max_concurrency: must be between 0 and 1000000, got 2000000",
         "2:93: backends.small.max_queue: must be between 0 and 100000, got -1", NULL}},
    {"max_concurrency_word",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001, max_concurrency: lots}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:73: backends.small.max_concurrency: must be an integer, got \"lots\"", NULL}},
    {"timeouts_errors",
        "backends:\n"
        "  small:\n"
        "    protocol: openai\n"
        "    endpoints: 127.0.0.1:8001\n"
        "    timeouts: {connect: 2 days, total: 25h, firstbyte: 1s}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"5:25: backends.small.timeouts.connect: invalid duration \"2 days\": unknown unit; use ms, s, m, h or d",
         "5:40: backends.small.timeouts.total: must be between 0 and 1d, got 25h",
         "5:45: backends.small.timeouts.firstbyte: unknown key (did you mean \"first_byte\"?)", NULL}},
    {"cost_negative",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001, cost: {per_request: -1, per_1k_input_tokens: cheap}}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:76: backends.small.cost.per_request: must be between 0 and 1e+06, got -1",
         "2:101: backends.small.cost.per_1k_input_tokens: must be a number, got \"cheap\"", NULL}},
    {"health_errors",
        "backends:\n"
        "  small:\n"
        "    protocol: openai\n"
        "    endpoints: 127.0.0.1:8001\n"
        "    health: {path: health, healthy_threshold: 0}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"5:20: backends.small.health.path: invalid path \"health\": must start with \"/\" and contain no spaces",
         "5:47: backends.small.health.healthy_threshold: must be between 1 and 100, got 0", NULL}},
    {"health_timeout_above_interval",
        "backends:\n"
        "  small:\n"
        "    protocol: openai\n"
        "    endpoints: 127.0.0.1:8001\n"
        "    health: {interval: 1s, timeout: 2s}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"5:37: backends.small.health.timeout: must not be longer than interval (2s > 1s)", NULL}},
    {"outlier_base_above_max",
        "backends:\n"
        "  small:\n"
        "    protocol: openai\n"
        "    endpoints: 127.0.0.1:8001\n"
        "    outlier: {base_ejection: 10m, max_ejection: 5m}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"5:30: backends.small.outlier.base_ejection: must not be longer than max_ejection (10m > 5m)", NULL}},
    {"outlier_percent",
        "backends:\n"
        "  small:\n"
        "    protocol: openai\n"
        "    endpoints: 127.0.0.1:8001\n"
        "    outlier: {max_ejected_percent: 150%}\n"
        "  other:\n"
        "    protocol: openai\n"
        "    endpoints: 127.0.0.1:8002\n"
        "    outlier: {max_ejected_percent: 12.5%}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"5:36: backends.small.outlier.max_ejected_percent: must be between 0% and 100%, got 150%",
         "9:36: backends.other.outlier.max_ejected_percent: must be a whole percentage, got 12.5%", NULL}},
    {"prediction_needs_http",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001, prediction: /label}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:68: backends.small.prediction: only valid with protocol http (this backend speaks openai)", NULL}},
    {"pointer_invalid",
        "backends:\n"
        "  small: {protocol: http, endpoints: 127.0.0.1:8001, prediction: label, confidence: /a~2b}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:66: backends.small.prediction: invalid JSON pointer \"label\": a JSON pointer must be empty or start with \"/\" (RFC 6901)",
         "2:85: backends.small.confidence: invalid JSON pointer \"/a~2b\": \"~\" must be followed by \"0\" or \"1\" in a JSON pointer (RFC 6901)", NULL}},
    {"routes_not_list",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes: {chat: {}}\n",
        {"3:9: routes: expected a sequence, got a mapping", NULL}},
    {"routes_empty",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes: []\n",
        {"3:9: routes: declare at least one route", NULL}},
    {"route_missing_keys",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - match: {path: /v1}\n",
        {"4:5: routes[0]: missing required key \"name\"",
         "4:5: routes[0]: missing required key \"cascade\"", NULL}},
    {"route_bad_name",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat/v1\n"
        "    cascade: [{backend: small}]\n",
        {"4:11: routes[0].name: invalid route name \"chat/v1\": use 1 to 64 letters, digits, '_', '-' or '.'", NULL}},
    {"route_duplicate_name",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"6:11: routes[1].name: duplicate route name \"chat\" (first defined at 4:11)", NULL}},
    {"undefined_backend_suggest",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: smal}]\n",
        {"5:25: routes[0].cascade[0].backend: undefined backend \"smal\" (did you mean \"small\"?)", NULL}},
    {"undefined_backend",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: gpt}]\n",
        {"5:25: routes[0].cascade[0].backend: undefined backend \"gpt\"", NULL}},
    {"cascade_empty",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: []\n",
        {"5:14: routes[0].cascade: a cascade needs at least one tier", NULL}},
    {"cascade_too_long",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}, {backend: small}]\n",
        {"5:14: routes[0].cascade: too many tiers (17; the limit is 16)", NULL}},
    {"tier_not_mapping",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [small]\n",
        {"5:15: routes[0].cascade[0]: expected a mapping, got \"small\"", NULL}},
    {"accept_missing_signal",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, accept: {min: -1}}]\n",
        {"5:40: routes[0].cascade[0].accept: missing required key \"signal\"", NULL}},
    {"accept_no_bounds",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, accept: {signal: logprob_mean}}]\n",
        {"5:40: routes[0].cascade[0].accept: set min, max or both", NULL}},
    {"accept_min_above_max",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, accept: {signal: logprob_mean, min: -0.1, max: -0.5}}]\n",
        {"5:79: routes[0].cascade[0].accept.max: must not be below min (-0.5 < -0.1)", NULL}},
    {"accept_signal_suggest",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, accept: {signal: logprob_men, min: -1}}]\n",
        {"5:49: routes[0].cascade[0].accept.signal: unknown signal \"logprob_men\" (did you mean \"logprob_mean\"?)", NULL}},
    {"accept_signal_unknown",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, accept: {signal: perplexity, min: -1}}]\n",
        {"5:49: routes[0].cascade[0].accept.signal: unknown signal \"perplexity\"; expected logprob_mean, logprob_min, top_prob, margin, json:<pointer> or header:<name>", NULL}},
    {"accept_logprob_needs_openai",
        "backends:\n"
        "  small: {protocol: kserve_v2, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, accept: {signal: logprob_min, min: -2}}]\n",
        {"5:49: routes[0].cascade[0].accept.signal: logprob_min needs a backend with protocol openai (backend \"small\" speaks kserve_v2)", NULL}},
    {"accept_top_prob_needs_confidence",
        "backends:\n"
        "  small: {protocol: http, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, accept: {signal: top_prob, min: 0.8}}]\n",
        {"5:49: routes[0].cascade[0].accept.signal: top_prob needs a backend with protocol kserve_v2, or http with a confidence pointer (backend \"small\" speaks http)", NULL}},
    {"accept_top_prob_range",
        "backends:\n"
        "  small: {protocol: kserve_v2, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, accept: {signal: top_prob, min: 80}}]\n",
        {"5:64: routes[0].cascade[0].accept.min: must be between 0 and 1 for top_prob (a probability), got 80", NULL}},
    {"accept_json_and_header",
        "backends:\n"
        "  small: {protocol: http, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: a\n"
        "    cascade: [{backend: small, accept: {signal: \"json:score\", min: 1}}]\n"
        "  - name: b\n"
        "    cascade: [{backend: small, accept: {signal: \"header:x score\", min: 1}}]\n",
        {"5:49: routes[0].cascade[0].accept.signal: invalid JSON pointer \"score\": a JSON pointer must be empty or start with \"/\" (RFC 6901)",
         "7:49: routes[1].cascade[0].accept.signal: invalid header name \"x score\"", NULL}},
    {"skip_when_errors",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, skip_when: {prompt_token: {gt: 10}, \"header:x-tier\": {gtt: 1}, \"json:/stream\": {exists: false}}}]\n",
        {"5:44: routes[0].cascade[0].skip_when.prompt_token: unknown fact \"prompt_token\" (did you mean \"prompt_tokens\"?)",
         "5:86: routes[0].cascade[0].skip_when.header:x-tier.gtt: unknown comparison (did you mean \"gt\"?)",
         "5:120: routes[0].cascade[0].skip_when.json:/stream.exists: must be true (a tier is skipped when the field is present), got \"false\"", NULL}},
    {"skip_when_values",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, skip_when: [{prompt_tokens: {exists: true}}, {prompt_tokens: {lt: many}}, {\"header:x-n\": {ge: \"5\"}}]}]\n",
        {"5:61: routes[0].cascade[0].skip_when[0].prompt_tokens.exists: prompt_tokens is always present; compare it with gt, ge, lt, le, eq or ne",
         "5:98: routes[0].cascade[0].skip_when[1].prompt_tokens.lt: must be a number, got \"many\"",
         "5:126: routes[0].cascade[0].skip_when[2].header:x-n.ge: must be a number, got \"5\"", NULL}},
    {"skip_when_wrong_type",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, skip_when: prompt_tokens}]\n",
        {"5:43: routes[0].cascade[0].skip_when: expected a mapping or a sequence of mappings, got \"prompt_tokens\"", NULL}},
    {"escalate_on_suggest",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, escalate_on: [reset, upstream_500, timeout]}]\n",
        {"5:53: routes[0].cascade[0].escalate_on[1]: unknown failure kind \"upstream_500\" (did you mean \"upstream_5xx\"?)",
         "5:67: routes[0].cascade[0].escalate_on[2]: unknown failure kind \"timeout\"; expected all, none or a list of: connect_refused, connect_timeout, first_byte_timeout, idle_timeout, total_timeout, reset, upstream_5xx, malformed, client_abort, overloaded, no_endpoint, gateway_resources", NULL}},
    {"latency_budget_and_buffer",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, latency_budget: 2h, buffer_streams: yes}]\n",
        {"5:48: routes[0].cascade[0].latency_budget: must be between 0 and 1h, got 2h",
         "5:68: routes[0].cascade[0].buffer_streams: must be true or false, got \"yes\"", NULL}},
    {"match_errors",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    match: {path: v1/chat, host: \"example.com:443\", model: \"\"}\n"
        "    cascade: [{backend: small}]\n",
        {"5:19: routes[0].match.path: invalid path \"v1/chat\": must start with \"/\" and contain no spaces",
         "5:34: routes[0].match.host: invalid host \"example.com:443\": write a host name or IP address without a port",
         "5:60: routes[0].match.model: must not be empty", NULL}},
    {"match_headers",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    match:\n"
        "      headers: {X-Tier: a, x-tier: b, \"bad header\": c, x-list: [1]}\n"
        "    cascade: [{backend: small}]\n",
        {"6:28: routes[0].match.headers.x-tier: duplicate header (first defined at 6:17)",
         "6:39: routes[0].match.headers.bad header: invalid header name \"bad header\"",
         "6:64: routes[0].match.headers.x-list: expected a single value, got a sequence", NULL}},
    {"slo_empty",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    slo: {window: 7d}\n"
        "    cascade: [{backend: small}]\n",
        {"5:10: routes[0].slo: declare at least one objective: availability, latency or ttft", NULL}},
    {"slo_availability_bare",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    slo: {availability: 99.9}\n"
        "    cascade: [{backend: small}]\n",
        {"5:25: routes[0].slo.availability: invalid percentage \"99.9\": a bare number is ambiguous; write it with \"%\", e.g. \"99.9%\"", NULL}},
    {"slo_latency_missing_target",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    slo: {latency: {threshold: 2s}}\n"
        "    cascade: [{backend: small}]\n",
        {"5:20: routes[0].slo.latency: missing required key \"target\"", NULL}},
    {"slo_window_errors",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: a\n"
        "    slo: {availability: 99%, window: 30m}\n"
        "    cascade: [{backend: small}]\n"
        "  - name: b\n"
        "    slo: {availability: 99%, window: 3601s}\n"
        "    cascade: [{backend: small}]\n"
        "  - name: c\n"
        "    slo: {availability: 99%, window: 91d}\n"
        "    cascade: [{backend: small}]\n",
        {"5:38: routes[0].slo.window: must be between 1h and 90d, got 30m",
         "8:38: routes[1].slo.window: must be a whole number of minutes, got 3601s",
         "11:38: routes[2].slo.window: must be between 1h and 90d, got 91d", NULL}},
    {"slo_targets",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    slo: {availability: 0%, latency: {threshold: 0ms, target: 100%}, ttft: {threshold: 2h, target: 101%}}\n"
        "    cascade: [{backend: small}]\n",
        {"5:25: routes[0].slo.availability: must be above 0% and below 100%, got 0%",
         "5:50: routes[0].slo.latency.threshold: must be between 1ms and 1h, got 0ms",
         "5:63: routes[0].slo.latency.target: must be above 0% and below 100%, got 100%",
         "5:88: routes[0].slo.ttft.threshold: must be between 1ms and 1h, got 2h",
         "5:100: routes[0].slo.ttft.target: must be above 0% and below 100%, got 101%", NULL}},
    {"slo_targets_rounding_to_100_or_0_in_ppb",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    slo: {availability: 99.99999999%, latency: {threshold: 1s, target: 0.00000000001%}}\n"
        "    cascade: [{backend: small}]\n"
        "  - name: edge\n"
        "    slo: {availability: 99.9999999%, latency: {threshold: 1s, target: 0.0000001%}}\n"
        "    cascade: [{backend: small}]\n",
        {"5:25: routes[0].slo.availability: 99.99999999% rounds to 100% in parts per billion, which leaves no error "
         "budget; use at most 99.9999999% and at least 0.0000001%",
         "5:72: routes[0].slo.latency.target: 0.00000000001% rounds to 0% in parts per billion, which leaves no good "
         "request; use at most 99.9999999% and at least 0.0000001%", NULL}},
    {"multiple_errors",
        "server:\n"
        "  threads: 0\n"
        "  max_body: 1TiB\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001, max_concurrency: -5}\n"
        "  large: {protocol: openai}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade:\n"
        "      - backend: small\n"
        "        accept: {signal: logprob_mean, max: 1}\n"
        "      - backend: huge\n"
        "  - cascade: [{backend: large}]\n",
        {"2:12: server.threads: must be \"auto\" or an integer between 1 and 64, got \"0\"",
         "3:13: server.max_body: must be between 1B and 1GiB, got 1TiB",
         "5:73: backends.small.max_concurrency: must be between 0 and 1000000, got -5",
         "6:10: backends.large: missing required key \"endpoints\"",
         "11:45: routes[0].cascade[0].accept.max: must be at most 0 for logprob_mean (a log-probability), got 1",
         "12:18: routes[0].cascade[1].backend: undefined backend \"huge\"",
         "13:5: routes[1]: missing required key \"name\"", NULL}},
    {"routes_before_backends_undefined",
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: big}]\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n",
        {"3:25: routes[0].cascade[0].backend: undefined backend \"big\"", NULL}},
    {"skip_when_two_comparisons",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, skip_when: {prompt_tokens: {gt: 100, lt: 1000}, \"header:x-a\": {}}}]\n",
        {"5:59: routes[0].cascade[0].skip_when.prompt_tokens: one comparison per condition; list several conditions as a sequence (any of them skips the tier)",
         "5:94: routes[0].cascade[0].skip_when.header:x-a: needs a comparison: gt, ge, lt, le, eq, ne or exists", NULL}},
    {"skip_when_item_not_mapping",
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small, skip_when: [{prompt_tokens: {gt: 1}}, prompt_tokens]}]\n",
        {"5:70: routes[0].cascade[0].skip_when[1]: expected a mapping, got \"prompt_tokens\"", NULL}},
    {"listen_too_many",
        "server:\n"
        "  listen: [\"127.0.0.1:9000\", \"127.0.0.1:9001\", \"127.0.0.1:9002\", \"127.0.0.1:9003\", \"127.0.0.1:9004\", \"127.0.0.1:9005\", \"127.0.0.1:9006\", \"127.0.0.1:9007\", \"127.0.0.1:9008\", \"127.0.0.1:9009\", \"127.0.0.1:9010\", \"127.0.0.1:9011\", \"127.0.0.1:9012\", \"127.0.0.1:9013\", \"127.0.0.1:9014\", \"127.0.0.1:9015\", \"127.0.0.1:9016\"]\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"2:11: server.listen: must list between 1 and 16 addresses, got 17", NULL}},
    {"threads_sequence",
        "server: {threads: [4]}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:19: server.threads: expected a single value, got a sequence", NULL}},
    {"alias_as_value_in_list",
        "backends:\n"
        "  small: &b {protocol: openai, endpoints: [127.0.0.1:8001]}\n"
        "  other: {protocol: openai, endpoints: [*b]}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"3:41: backends.other.endpoints[0]: YAML aliases are not supported; write the value out", NULL}},
    {"key_path_sanitized",
        "server: {\"a\\x01b\": 1, " "\"" "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" "\": 2}\n"
        "backends:\n"
        "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
        "routes:\n"
        "  - name: chat\n"
        "    cascade: [{backend: small}]\n",
        {"1:10: server.a?b: unknown key; expected one of: listen, threads, max_body, header_timeout, shutdown_timeout, tls, access_log, routing_headers, busy_poll, max_connections",
         "1:23: server.kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: unknown key; expected one of: listen, threads, max_body, header_timeout, shutdown_timeout, tls, access_log, routing_headers, busy_poll, max_connections", NULL}},
};

#define NUM_BAD_CASES (sizeof(bad_cases) / sizeof(bad_cases[0]))

#endif
