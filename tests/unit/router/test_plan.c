/* router/plan.c and router/facts.c: which tiers a request tries, with exact skip cases. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/json_scan.h"
#include "common/status.h"
#include "router/facts.h"
#include "router/plan.h"

static sl_conf_backend_t backends[3] = {{.name = "small"}, {.name = "medium"}, {.name = "large"}};

/* A three-tier route: small (accept logprob_mean >= -0.35, budget 250 ms), medium (no rule), large (rule, budget). */
static sl_conf_tier_t tiers[3];
static sl_conf_route_t route;

static void setup(void)
{
    memset(tiers, 0, sizeof(tiers));
    for (int i = 0; i != 3; ++i) {
        tiers[i].backend = &backends[i];
        tiers[i].escalate_on = SL_CONF_ESCALATE_ALL;
    }
    tiers[0].has_accept = 1;
    tiers[0].accept = (sl_conf_accept_t){{SL_SIGNAL_LOGPROB_MEAN, NULL}, 1, 0, -0.35, 0};
    tiers[0].latency_budget_ms = 250;
    tiers[2].has_accept = 1;
    tiers[2].accept = tiers[0].accept;
    tiers[2].latency_budget_ms = 1000;
    memset(&route, 0, sizeof(route));
    route.name = "chat";
    route.tiers = tiers;
    route.num_tiers = 3;
}

TestSuite(plan, .init = setup);

/* Request headers for the facts' lookup callback: NULL-terminated name/value pairs. */
static const char *header_get(void *ctx, const char *name, size_t name_len, size_t *value_len)
{
    const char *const *kv = ctx;
    for (; kv != NULL && kv[0] != NULL; kv += 2) {
        if (strlen(kv[0]) == name_len && memcmp(kv[0], name, name_len) == 0) {
            *value_len = strlen(kv[1]);
            return kv[1];
        }
    }
    return NULL;
}

static sl_facts_t facts_of(const char *const *headers, const char *body, uint64_t prompt_tokens)
{
    sl_router_facts_t http = {
        .path = "/v1/chat/completions", .path_len = 20, .header = header_get, .header_ctx = (void *)headers};
    sl_facts_t f;
    sl_facts_init(&f, &http);
    if (body != NULL) {
        cr_assert_eq(sl_json_parse(body, strlen(body), &f.body.root), SL_OK);
        sl_json_span_t s;
        f.body.stream = sl_json_find_key(&f.body.root, "stream", 6, &s) == SL_OK && s.type == SL_JSON_TRUE;
    }
    f.body.prompt_tokens = prompt_tokens;
    return f;
}

static sl_plan_t plan_of(const sl_facts_t *f)
{
    sl_plan_t p;
    cr_assert_eq(sl_router_plan(&route, f, 0x9e3779b97f4a7c15u, &p), SL_OK);
    return p;
}

/* The tier indexes of the steps, as a string ("012"), for compact exact checks. */
static const char *order(const sl_plan_t *p)
{
    static char buf[SL_CONF_MAX_TIERS + 1];
    for (size_t i = 0; i != p->num_steps; ++i)
        buf[i] = (char)('0' + p->steps[i].tier_index);
    buf[p->num_steps] = '\0';
    return buf;
}

Test(plan, no_conditions_tries_every_tier)
{
    sl_facts_t f = facts_of(NULL, "{\"messages\":[]}", 10);
    sl_plan_t p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
    cr_assert_eq(p.num_skipped, 0);
    cr_assert_eq(p.route, &route);
    cr_assert_eq(p.draw, 0x9e3779b97f4a7c15u);
    cr_assert_eq(p.stream, 0);
    for (size_t i = 0; i != 3; ++i) {
        cr_assert_eq(p.steps[i].tier, &tiers[i]);
        cr_assert_eq(p.steps[i].backend, &backends[i]);
        cr_assert_eq(p.steps[i].mode, SL_PLAN_BUFFERED);
        cr_assert_eq(p.steps[i].variant, SL_PLAN_VARIANT_ACCURATE);
        cr_assert_eq(p.steps[i].version, SL_PLAN_VERSION_STABLE);
    }
    cr_assert_eq(p.steps[0].judged, 1);
    cr_assert_eq(p.steps[1].judged, 0); /* no accept rule */
    cr_assert_eq(p.steps[2].judged, 0); /* last: always returned */
    cr_assert_eq(p.steps[0].latency_budget_ms, 250);
    cr_assert_eq(p.steps[1].latency_budget_ms, 0);
    cr_assert_eq(p.steps[2].latency_budget_ms, 0); /* the last step has no budget */
}

Test(plan, prompt_tokens_thresholds_at_the_boundary)
{
    sl_conf_cond_t gt = {SL_FACT_PROMPT_TOKENS, NULL, SL_CMP_GT, 1, 4000, NULL};
    tiers[0].skip_when = &gt;
    tiers[0].num_skip_when = 1;
    sl_facts_t f = facts_of(NULL, NULL, 4000);
    sl_plan_t p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
    f.body.prompt_tokens = 4001;
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    cr_assert_eq(p.num_skipped, 1);
    cr_assert_eq(p.skipped[0].tier_index, 0);
    cr_assert_eq(p.skipped[0].cond_index, 0);
    cr_assert_eq(p.skipped[0].cond, &gt);
    gt.cmp = SL_CMP_GE;
    f.body.prompt_tokens = 4000;
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    f.body.prompt_tokens = 3999;
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
    gt.cmp = SL_CMP_LT;
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    gt.cmp = SL_CMP_LE;
    f.body.prompt_tokens = 4000;
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    gt.cmp = SL_CMP_EQ;
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    gt.cmp = SL_CMP_NE;
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
}

Test(plan, header_conditions)
{
    sl_conf_cond_t c = {SL_FACT_HEADER, "x-tier", SL_CMP_EQ, 0, 0, "gold"};
    tiers[1].skip_when = &c;
    tiers[1].num_skip_when = 1;
    const char *gold[] = {"x-tier", " gold\t", NULL}, *upper[] = {"x-tier", "Gold", NULL},
               *silver[] = {"x-tier", "silver", NULL}, *none[] = {NULL};
    sl_facts_t f = facts_of(gold, NULL, 0);
    sl_plan_t p = plan_of(&f);
    cr_assert_str_eq(order(&p), "02"); /* blanks around the value are trimmed */
    f = facts_of(upper, NULL, 0);
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012"); /* byte for byte */
    f = facts_of(none, NULL, 0);
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
    c.cmp = SL_CMP_NE;
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012"); /* a missing header makes ne false too */
    f = facts_of(silver, NULL, 0);
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "02");
    c.cmp = SL_CMP_EXISTS;
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "02");
    f = facts_of(none, NULL, 0);
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");

    /* numbers in headers: JSON grammar, else not comparable */
    c = (sl_conf_cond_t){SL_FACT_HEADER, "x-budget", SL_CMP_LT, 1, 5, NULL};
    const char *three[] = {"x-budget", "3e0", NULL}, *five[] = {"x-budget", "5", NULL}, *text[] = {"x-budget", "3 ms", NULL},
               *hex[] = {"x-budget", "0x3", NULL};
    f = facts_of(three, NULL, 0);
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "02");
    f = facts_of(five, NULL, 0);
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
    f = facts_of(text, NULL, 0);
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
    f = facts_of(hex, NULL, 0);
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
}

Test(plan, json_conditions)
{
    const char *body = "{\"model\":\"m\",\"stream\":false,\"max_tokens\":64,\"metadata\":{\"lang\":\"fr\",\"a/b\":\"x\"},"
                       "\"n\":\"7\",\"tag\":\"caf\\u00e9\"}";
    sl_conf_cond_t c = {SL_FACT_JSON, "/metadata/lang", SL_CMP_EQ, 0, 0, "fr"};
    tiers[0].skip_when = &c;
    tiers[0].num_skip_when = 1;
    sl_facts_t f = facts_of(NULL, body, 0);
    sl_plan_t p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    c.string = "en";
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
    c = (sl_conf_cond_t){SL_FACT_JSON, "/tag", SL_CMP_EQ, 0, 0, "caf\xc3\xa9"}; /* compared unescaped */
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    c = (sl_conf_cond_t){SL_FACT_JSON, "/metadata/a~1b", SL_CMP_EXISTS, 0, 0, NULL};
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    c = (sl_conf_cond_t){SL_FACT_JSON, "/stream", SL_CMP_EQ, 0, 0, "false"}; /* non-strings by their JSON text */
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    c = (sl_conf_cond_t){SL_FACT_JSON, "/max_tokens", SL_CMP_GT, 1, 63, NULL};
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    c.number = 64;
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
    c = (sl_conf_cond_t){SL_FACT_JSON, "/n", SL_CMP_EQ, 1, 7, NULL}; /* "7" is a string, not a number */
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
    c = (sl_conf_cond_t){SL_FACT_JSON, "/absent", SL_CMP_NE, 0, 0, "x"};
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");
    f = facts_of(NULL, NULL, 0); /* no body read: every JSON fact is missing */
    c = (sl_conf_cond_t){SL_FACT_JSON, "", SL_CMP_EXISTS, 0, 0, NULL};
    p = plan_of(&f);
    cr_assert_str_eq(order(&p), "012");

    double d = 42;
    f = facts_of(NULL, body, 9);
    cr_assert_eq(sl_facts_number(&f, SL_FACT_JSON, "/max_tokens", &d), SL_OK);
    cr_assert_eq(d, 64);
    cr_assert_eq(sl_facts_number(&f, SL_FACT_JSON, "/metadata", &d), SL_EINVAL);
    cr_assert_eq(sl_facts_number(&f, SL_FACT_JSON, "/nope", &d), SL_ENOENT);
    cr_assert_eq(sl_facts_number(&f, SL_FACT_HEADER, "x-none", &d), SL_ENOENT);
    cr_assert_eq(d, 64);
    cr_assert_eq(sl_facts_number(&f, SL_FACT_PROMPT_TOKENS, NULL, &d), SL_OK);
    cr_assert_eq(d, 9);
}

Test(plan, first_holding_condition_is_the_reason)
{
    sl_conf_cond_t conds[3] = {
        {SL_FACT_PROMPT_TOKENS, NULL, SL_CMP_GT, 1, 100, NULL},
        {SL_FACT_HEADER, "x-priority", SL_CMP_EQ, 0, 0, "high"},
        {SL_FACT_HEADER, "x-priority", SL_CMP_EXISTS, 0, 0, NULL},
    };
    tiers[0].skip_when = conds;
    tiers[0].num_skip_when = 3;
    const char *high[] = {"x-priority", "high", NULL};
    sl_facts_t f = facts_of(high, NULL, 50);
    sl_plan_t p = plan_of(&f);
    cr_assert_str_eq(order(&p), "12");
    cr_assert_eq(p.skipped[0].cond_index, 1);
    cr_assert_eq(p.skipped[0].cond, &conds[1]);
}

Test(plan, the_last_tier_is_never_skipped)
{
    sl_conf_cond_t always = {SL_FACT_PROMPT_TOKENS, NULL, SL_CMP_GE, 1, 0, NULL};
    for (int i = 0; i != 3; ++i) {
        tiers[i].skip_when = &always;
        tiers[i].num_skip_when = 1;
    }
    sl_facts_t f = facts_of(NULL, NULL, 0);
    sl_plan_t p = plan_of(&f);
    cr_assert_str_eq(order(&p), "2");
    cr_assert_eq(p.num_skipped, 2);
    cr_assert_eq(p.skipped[0].tier_index, 0);
    cr_assert_eq(p.skipped[1].tier_index, 1);
    cr_assert_eq(p.steps[0].latency_budget_ms, 0);
    cr_assert_eq(p.steps[0].judged, 0);
}

Test(plan, stream_modes)
{
    tiers[0].buffer_streams = 1;
    tiers[1].has_accept = 1;
    tiers[1].accept = tiers[0].accept;
    tiers[2].buffer_streams = 1;
    sl_facts_t f = facts_of(NULL, "{\"stream\":true}", 0);
    sl_plan_t p = plan_of(&f);
    cr_assert_eq(p.stream, 1);
    cr_assert_eq(p.steps[0].mode, SL_PLAN_STREAM_BUFFERED);
    cr_assert_eq(p.steps[0].judged, 1);
    cr_assert_eq(p.steps[1].mode, SL_PLAN_STREAMED); /* routed by pre-routing rules only */
    cr_assert_eq(p.steps[1].judged, 0);
    cr_assert_eq(p.steps[2].mode, SL_PLAN_STREAMED); /* no point holding back the last answer */
}

Test(plan, invalid_routes)
{
    sl_facts_t f = facts_of(NULL, NULL, 0);
    sl_plan_t p;
    p.num_steps = 77;
    route.num_tiers = 0;
    cr_assert_eq(sl_router_plan(&route, &f, 1, &p), SL_EINVAL);
    route.num_tiers = SL_CONF_MAX_TIERS + 1;
    cr_assert_eq(sl_router_plan(&route, &f, 1, &p), SL_EINVAL);
    cr_assert_eq(p.num_steps, 77);
}
