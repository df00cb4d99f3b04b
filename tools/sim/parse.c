/*
 * parse.c - reads what the simulator needs from a request body: whether it streams, what it asks for (logprobs,
 * max_tokens), how long its prompt is, and whether it is a classification prompt (and its ground truth).
 *
 * Bodies are parsed with jansson (the body is needed: the prompt decides the answer); the tree is released before
 * returning, and what outlives the call (a KServe id, the per-row facts) is copied into the request's pool.
 * Tokens are counted as the gateway estimates them: ceil(bytes / 4), at least 1.
 * Validation follows the real servers where a client could notice: a non-boolean `stream` or a `top_logprobs`
 * without `logprobs` is a 400 with `param` naming the field.
 */
#include "tools/sim/internal.h"
#include "common/status.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static uint32_t count_tokens(size_t bytes)
{
    size_t t = (bytes + 3) / 4;
    return t == 0 ? 1 : (t > UINT32_MAX ? UINT32_MAX : (uint32_t)t);
}

static int fail(sl_sim_error_t *err, int status, const char *message, const char *param, const char *code)
{
    err->status = status;
    err->message = message;
    err->type = "invalid_request_error";
    err->param = param;
    err->code = code;
    return SL_EINVAL;
}

static json_t *load(h2o_req_t *req, sl_sim_error_t *err)
{
    json_error_t je;
    if (req->entity.base == NULL || req->entity.len == 0) {
        fail(err, 400, "The request body is empty; a JSON object is expected.", NULL, NULL);
        return NULL;
    }
    json_t *root = json_loadb(req->entity.base, req->entity.len, 0, &je);
    if (root == NULL) {
        char *msg = h2o_mem_alloc_pool(&req->pool, 256);
        snprintf(msg, 256, "We could not parse the JSON body of your request: %s (line %d, column %d).", je.text,
                 je.line, je.column);
        fail(err, 400, msg, NULL, NULL);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fail(err, 400, "The request body must be a JSON object.", NULL, NULL);
        return NULL;
    }
    return root;
}

static int check_model(h2o_req_t *req, json_t *root, const sl_sim_params_t *p, sl_sim_error_t *err)
{
    json_t *m = json_object_get(root, "model");
    if (m == NULL)
        return SL_OK; /* lenient: the one model served answers */
    if (!json_is_string(m))
        return fail(err, 400, "'model' must be a string.", "model", NULL);
    if (strcmp(json_string_value(m), p->model) != 0) {
        char *msg = h2o_mem_alloc_pool(&req->pool, 200);
        snprintf(msg, 200, "The model `%.100s` does not exist or you do not have access to it.", json_string_value(m));
        return fail(err, 404, msg, NULL, "model_not_found"); /* OpenAI leaves param null here */
    }
    return SL_OK;
}

/* Bytes of a message content: a string, or an array of parts whose "text" strings count. *first_text receives the
 * string (or first text part) for the classification check. */
static size_t content_bytes(json_t *content, const char **first_text, size_t *first_len)
{
    size_t n = 0, i;
    json_t *part;
    if (json_is_string(content)) {
        *first_text = json_string_value(content);
        *first_len = json_string_length(content);
        return *first_len;
    }
    json_array_foreach(content, i, part) {
        json_t *text = json_object_get(part, "text");
        if (json_is_string(text)) {
            if (*first_text == NULL) {
                *first_text = json_string_value(text);
                *first_len = json_string_length(text);
            }
            n += json_string_length(text);
        }
    }
    return n;
}

static int get_uint(json_t *root, const char *key, uint32_t min, uint32_t max, uint32_t *out, sl_sim_error_t *err,
                    const char *msg)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL || json_is_null(v))
        return SL_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return fail(err, 400, msg, key, "invalid_value");
    *out = (uint32_t)json_integer_value(v);
    return SL_OK;
}

int sl_sim_parse_openai(h2o_req_t *req, int kind, const sl_sim_params_t *p, sl_sim_request_t *out, sl_sim_error_t *err)
{
    int rc = SL_EINVAL;
    json_t *root = load(req, err), *v;
    if (root == NULL)
        return SL_EINVAL;
    sl_sim_request_t r = {.kind = kind, .rows = 1};
    sl_sim_facts_t *f = h2o_mem_alloc_pool(&req->pool, sizeof(*f));
    memset(f, 0, sizeof(*f));
    r.facts = f;
    if (check_model(req, root, p, err) != SL_OK)
        goto Exit;

    const char *text = NULL;
    size_t text_len = 0, bytes = 0;
    if (kind == SL_SIM_KIND_CHAT) {
        json_t *msgs = json_object_get(root, "messages"), *m;
        size_t i;
        if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
            fail(err, 400, "'messages' must be a non-empty array of messages.", "messages", NULL);
            goto Exit;
        }
        json_array_foreach(msgs, i, m) {
            json_t *content = json_object_get(m, "content");
            const char *t = NULL;
            size_t tl = 0;
            if (!json_is_object(m)) {
                fail(err, 400, "Each message must be an object.", "messages", NULL);
                goto Exit;
            }
            bytes += content_bytes(content, &t, &tl);
            json_t *role = json_object_get(m, "role");
            if (json_is_string(role) && strcmp(json_string_value(role), "user") == 0) {
                text = t;
                text_len = tl;
            }
        }
        v = json_object_get(root, "logprobs");
        if (v != NULL && !json_is_null(v)) {
            if (!json_is_boolean(v)) {
                fail(err, 400, "'logprobs' must be a boolean.", "logprobs", "invalid_type");
                goto Exit;
            }
            r.logprobs = json_is_true(v);
        }
        if (get_uint(root, "top_logprobs", 0, SL_SIM_MAX_TOP_LOGPROBS, &r.top_logprobs, err,
                     "'top_logprobs' must be an integer from 0 to 20.") != SL_OK)
            goto Exit;
        if (json_object_get(root, "top_logprobs") != NULL && !json_is_null(json_object_get(root, "top_logprobs")) &&
            !r.logprobs) {
            fail(err, 400, "'top_logprobs' requires 'logprobs' to be true.", "top_logprobs", "invalid_value");
            goto Exit;
        }
        if (get_uint(root, "max_completion_tokens", 1, UINT32_MAX, &r.max_tokens, err,
                     "'max_completion_tokens' must be a positive integer.") != SL_OK)
            goto Exit;
    } else {
        json_t *prompt = json_object_get(root, "prompt");
        if (json_is_array(prompt) && json_array_size(prompt) == 1)
            prompt = json_array_get(prompt, 0);
        if (!json_is_string(prompt)) {
            fail(err, 400, "'prompt' must be a string (or an array of one string).", "prompt", NULL);
            goto Exit;
        }
        text = json_string_value(prompt);
        bytes = text_len = json_string_length(prompt);
        uint32_t n = 0;
        v = json_object_get(root, "logprobs");
        if (get_uint(root, "logprobs", 0, 5, &n, err, "'logprobs' must be an integer from 0 to 5.") != SL_OK)
            goto Exit;
        if (v != NULL && !json_is_null(v)) {
            r.logprobs = 1;
            r.top_logprobs = n;
        }
    }
    if (r.max_tokens == 0 &&
        get_uint(root, "max_tokens", 1, UINT32_MAX, &r.max_tokens, err, "'max_tokens' must be a positive integer.") !=
            SL_OK)
        goto Exit;
    v = json_object_get(root, "stream");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            fail(err, 400, "'stream' must be a boolean.", "stream", "invalid_type");
            goto Exit;
        }
        r.stream = json_is_true(v);
    }
    json_t *so = json_object_get(root, "stream_options");
    if (so != NULL && !json_is_null(so)) {
        if (!r.stream) {
            fail(err, 400, "'stream_options' is only allowed when 'stream' is true.", "stream_options", NULL);
            goto Exit;
        }
        r.include_usage = json_is_true(json_object_get(so, "include_usage"));
    }

    f->prompt_tokens = count_tokens(bytes);
    f->max_tokens = r.max_tokens;
    const char *body;
    size_t body_len;
    if (text != NULL && sl_sim_classify_text(text, text_len, &body, &body_len)) {
        f->is_classify = 1;
        f->truth = sl_sim_truth(body, body_len, p->num_labels);
    }
    *out = r;
    rc = SL_OK;
Exit:
    json_decref(root);
    return rc;
}

static int kfail(sl_sim_error_t *err, int status, const char *message)
{
    err->status = status;
    err->message = message;
    err->type = err->param = err->code = NULL;
    return SL_EINVAL;
}

int sl_sim_parse_kserve(h2o_req_t *req, const sl_sim_params_t *p, sl_sim_request_t *out, sl_sim_error_t *err)
{
    int rc = SL_EINVAL;
    json_t *root = load(req, err);
    if (root == NULL) {
        err->type = err->param = err->code = NULL;
        return SL_EINVAL;
    }
    sl_sim_request_t r = {.kind = SL_SIM_KIND_KSERVE};
    json_t *inputs = json_object_get(root, "inputs"), *in0, *data, *dt, *id, *row;
    if (!json_is_array(inputs) || json_array_size(inputs) == 0 || !json_is_object(in0 = json_array_get(inputs, 0))) {
        kfail(err, 400, "'inputs' must be a non-empty array of tensors");
        goto Exit;
    }
    if ((dt = json_object_get(in0, "datatype")) != NULL &&
        (!json_is_string(dt) || strcmp(json_string_value(dt), "BYTES") != 0)) {
        kfail(err, 400, "input tensor 0: datatype must be BYTES (the text to classify)");
        goto Exit;
    }
    data = json_object_get(in0, "data");
    if (!json_is_array(data) || json_array_size(data) == 0 || json_array_size(data) > SL_SIM_MAX_ROWS) {
        kfail(err, 400, "input tensor 0: 'data' must be an array of 1 to 256 strings");
        goto Exit;
    }
    if ((id = json_object_get(root, "id")) != NULL) {
        if (!json_is_string(id)) {
            kfail(err, 400, "'id' must be a string");
            goto Exit;
        }
        r.request_id.len = json_string_length(id) > 128 ? 128 : json_string_length(id);
        r.request_id.base = h2o_mem_alloc_pool(&req->pool, r.request_id.len + 1);
        memcpy(r.request_id.base, json_string_value(id), r.request_id.len);
    }
    r.rows = (uint32_t)json_array_size(data);
    r.facts = h2o_mem_alloc_pool(&req->pool, sizeof(*r.facts) * r.rows);
    size_t i;
    json_array_foreach(data, i, row) {
        if (!json_is_string(row)) {
            kfail(err, 400, "input tensor 0: every element of 'data' must be a string");
            goto Exit;
        }
        const char *text = json_string_value(row), *body = text;
        size_t len = json_string_length(row), body_len = len;
        sl_sim_classify_text(text, len, &body, &body_len); /* the prefix is optional: every row is classified */
        r.facts[i] = (sl_sim_facts_t){.prompt_tokens = count_tokens(len), .is_classify = 1,
                                      .truth = sl_sim_truth(body, body_len, p->num_labels)};
    }
    *out = r;
    rc = SL_OK;
Exit:
    json_decref(root);
    return rc;
}
