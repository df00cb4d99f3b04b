#include <criterion/criterion.h>
#include <string.h>

#include "router/match.h"

static int P(const char *prefix, const char *path)
{
    return sl_router_match_path(prefix, path, strlen(path));
}

Test(match, path_prefix_on_segment_boundary)
{
    cr_assert_eq(P("/v1/chat", "/v1/chat"), 1);
    cr_assert_eq(P("/v1/chat", "/v1/chat/completions"), 1);
    cr_assert_eq(P("/v1/chat", "/v1/chat?stream=1"), 1);
    cr_assert_eq(P("/v1/chat", "/v1/chatx"), 0);
    cr_assert_eq(P("/v1/chat", "/v1/cha"), 0);
    cr_assert_eq(P("/v1/chat", "/v2/chat"), 0);
    cr_assert_eq(P("/v1/", "/v1/models"), 1);
    cr_assert_eq(P("/v1/", "/v1"), 0);
    cr_assert_eq(P("/", "/anything/at/all"), 1);
    cr_assert_eq(P("", "/x"), 1);
    /* the query string never takes part in the match */
    cr_assert_eq(P("/v1/chat", "/v1?x=/v1/chat"), 0);
    cr_assert_eq(P("/a", "/a?"), 1);
}

static int H(const char *want, const char *host)
{
    return sl_router_match_host(want, host, strlen(host));
}

Test(match, host_ignores_case_and_port)
{
    cr_assert_eq(H("api.example.com", "api.example.com"), 1);
    cr_assert_eq(H("api.example.com", "API.Example.COM:8080"), 1);
    cr_assert_eq(H("api.example.com:443", "api.example.com"), 1);
    cr_assert_eq(H("api.example.com", "api.example.co"), 0);
    cr_assert_eq(H("api.example.com", "xapi.example.com"), 0);
    cr_assert_eq(H("[::1]", "[::1]:9000"), 1);
    cr_assert_eq(H("[::1]", "[::2]:9000"), 0);
}

struct hdrs {
    const char *names[4];
    const char *values[4];
    int calls;
};

static const char *lookup(void *ctx, const char *name, size_t name_len, size_t *value_len)
{
    struct hdrs *h = ctx;
    ++h->calls;
    for (int i = 0; i != 4 && h->names[i] != NULL; ++i)
        if (strlen(h->names[i]) == name_len && memcmp(h->names[i], name, name_len) == 0) {
            *value_len = strlen(h->values[i]);
            return h->values[i];
        }
    return NULL;
}

static sl_conf_t *make_conf(void)
{
    static sl_conf_header_match_t tenant_hdr[] = {{"x-tenant", "gold"}};
    static sl_conf_header_match_t any_debug[] = {{"x-debug", NULL}};
    static sl_conf_route_t routes[5];
    static sl_conf_t conf;
    memset(routes, 0, sizeof(routes));
    memset(&conf, 0, sizeof(conf));
    routes[0].name = "gold-chat";
    routes[0].match.path_prefix = "/v1/chat";
    routes[0].match.headers = tenant_hdr;
    routes[0].match.num_headers = 1;
    routes[1].name = "big-model";
    routes[1].match.path_prefix = "/v1/chat";
    routes[1].match.model = "large";
    routes[2].name = "chat";
    routes[2].match.path_prefix = "/v1/chat";
    routes[3].name = "internal";
    routes[3].match.host = "internal.local";
    routes[3].match.headers = any_debug;
    routes[3].match.num_headers = 1;
    routes[4].name = "kserve";
    routes[4].match.path_prefix = "/v2/models/";
    for (int i = 0; i != 5; ++i)
        routes[i].index = (size_t)i;
    conf.routes = routes;
    conf.num_routes = 5;
    return &conf;
}

static const char *route_of(sl_conf_t *conf, const char *path, const char *host, const char *model, struct hdrs *h)
{
    sl_router_facts_t f = {
        path, strlen(path), host, host != NULL ? strlen(host) : 0, model, model != NULL ? strlen(model) : 0, lookup, h};
    const sl_conf_route_t *r = sl_router_match(conf, &f);
    return r != NULL ? r->name : "(none)";
}

Test(match, first_route_whose_conditions_all_hold)
{
    sl_conf_t *conf = make_conf();
    struct hdrs none = {{NULL}, {NULL}, 0};
    struct hdrs gold = {{"x-tenant"}, {"gold"}, 0};
    struct hdrs silver = {{"x-tenant"}, {"silver"}, 0};
    struct hdrs debug = {{"x-debug"}, {""}, 0};

    cr_assert_str_eq(route_of(conf, "/v1/chat/completions", "h", NULL, &none), "chat");
    cr_assert_str_eq(route_of(conf, "/v1/chat/completions", "h", NULL, &gold), "gold-chat");
    cr_assert_str_eq(route_of(conf, "/v1/chat/completions", "h", NULL, &silver), "chat");
    cr_assert_str_eq(route_of(conf, "/v1/chat/completions", "h", "large", &none), "big-model");
    cr_assert_str_eq(route_of(conf, "/v1/chat/completions", "h", "larger", &none), "chat");
    cr_assert_str_eq(route_of(conf, "/v1/chat/completions", "h", "large", &gold), "gold-chat");
    cr_assert_str_eq(route_of(conf, "/v1/embeddings", "INTERNAL.local:80", NULL, &debug), "internal");
    cr_assert_str_eq(route_of(conf, "/v1/embeddings", "internal.local", NULL, &none), "(none)");
    cr_assert_str_eq(route_of(conf, "/v1/embeddings", NULL, NULL, &debug), "(none)");
    cr_assert_str_eq(route_of(conf, "/v2/models/m/infer", "h", NULL, &none), "kserve");
    cr_assert_str_eq(route_of(conf, "/v2/models", "h", NULL, &none), "(none)");
}

Test(match, needs_model)
{
    sl_conf_t *conf = make_conf();
    cr_assert_eq(sl_router_needs_model(conf), 1);
    conf->num_routes = 1;
    cr_assert_eq(sl_router_needs_model(conf), 0);
}
