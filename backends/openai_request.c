/*
 * openai_request.c - the client's side of the openai adapter: reading a request body into its facts (read, inspect)
 * and writing the upstream request (encode). What the facts mean and which edits are made: openai.c.
 *
 * Reading is one pass. The body is validated by sl_json_parse_visit(), whose visitor (on_value below) collects
 * everything as the values go by: the top-level members the facts and the edits need (first occurrence wins, as in
 * every lookup of json_scan, how often each editable one occurs, and the first of them that repeats), the messages
 * and the text bytes of their "content" (or of its parts' "text"), the leaves of a completions prompt,
 * stream_options.include_usage. Values arrive after their contents, so the visitor keeps a little state per open
 * message and content part and settles it when the container itself arrives. Nothing is looked up again afterwards: encode splices its edits at the places
 * the pass found (sl_json_edit_object_at), so a request costs one walk of its bytes, not one per question.
 *
 * inspect (a root that some other pass validated: tests, `sluice reference`) runs the same visitor over the root's
 * bytes, so the two can never disagree.
 */
#include "backends/openai_internal.h"
#include "common/status.h"

#include <string.h>

/* The slots of sl_adapter_request_t.edit_at, in the order encode lists its edits. */
enum { EDIT_MODEL = SL_ADAPTER_EDIT_MODEL, EDIT_LOGPROBS, EDIT_TOP_LOGPROBS, EDIT_STREAM_OPTIONS };

/* Top-level members the read looks at (names[i] is member i + 1). */
enum en_member_t { M_OTHER = 0, M_MODEL, M_MESSAGES, M_PROMPT, M_LOGPROBS, M_TOP_LOGPROBS, M_STREAM_OPTIONS, M_STREAM };

#define NAME(s) {s, sizeof(s) - 1}
static const sl_json_piece_t member_names[] = {NAME("model"),    NAME("messages"),       NAME("prompt"), NAME("logprobs"),
                                               NAME("top_logprobs"), NAME("stream_options"), NAME("stream")};
static const sl_json_piece_t content_name[] = {NAME("content")}, text_name[] = {NAME("text")},
                             include_usage_name[] = {NAME("include_usage")};
#undef NAME

static int is_named(const sl_json_span_t *key, const sl_json_piece_t *name)
{
    return key->type == SL_JSON_STRING && sl_json_string_index(key, name, 1) == 0;
}

typedef struct st_read_state_t {
    sl_adapter_request_t *r;
    sl_json_span_t messages, prompt, stream, include_usage; /* first occurrences; p NULL until seen */
    unsigned members_seen;                                   /* bit m: member m has occurred */
    const char *member_key;                                  /* the top-level member classified last ... */
    enum en_member_t member;                                 /* ... and what it is */
    const char *msg_key;                                     /* the message member classified last ... */
    int msg_key_is_content;                                  /* ... and whether it is "content" */
    /* chat: the message being read (a child of the first "messages") */
    uint64_t chat_bytes;    /* text bytes of the messages completed so far */
    uint32_t num_messages;  /* messages completed so far */
    int content_seen;       /* the message's first "content" has arrived */
    uint64_t content_bytes; /* its text bytes */
    uint64_t parts_bytes;   /* text of the parts of the content array being read */
    int text_seen;          /* the part's first "text" has arrived */
    uint64_t text_bytes;    /* its bytes when it is a string */
    /* completions: leaves of the first "prompt" in document order, up to the first object (as sl_json_leaf_next) */
    uint64_t leaf_bytes;
    int leaf_stop;
} read_state_t;

static enum en_member_t classify(const sl_json_span_t *k)
{
    /* the names' lengths tell them apart but for two pairs: a plain key is settled by its length and one memcmp */
    if (k->plain) {
        const char *b = k->p + 1;
#define IS(lit) (memcmp(b, lit, sizeof(lit) - 1) == 0)
        switch (k->len - 2) {
        case 5:
            return IS("model") ? M_MODEL : M_OTHER;
        case 6:
            return IS("prompt") ? M_PROMPT : IS("stream") ? M_STREAM : M_OTHER;
        case 8:
            return IS("messages") ? M_MESSAGES : IS("logprobs") ? M_LOGPROBS : M_OTHER;
        case 12:
            return IS("top_logprobs") ? M_TOP_LOGPROBS : M_OTHER;
        case 14:
            return IS("stream_options") ? M_STREAM_OPTIONS : M_OTHER;
        default:
            return M_OTHER;
        }
#undef IS
    }
    return (enum en_member_t)(sl_json_string_index(k, member_names, sizeof(member_names) / sizeof(member_names[0])) + 1);
}

static void first(sl_json_span_t *slot, const sl_json_span_t *v)
{
    if (slot->p == NULL)
        *slot = *v;
}

/* A member of the root. */
static void on_member(read_state_t *s, const sl_json_span_t *v)
{
    sl_adapter_request_t *r = s->r;
    if (s->member != M_OTHER) {
        if ((s->members_seen & (1u << s->member)) != 0 && r->repeated == NULL)
            r->repeated = member_names[s->member - 1].base;
        s->members_seen |= 1u << s->member;
    }
    int edit = -1;
    switch (s->member) {
    case M_MODEL:
        edit = EDIT_MODEL;
        break;
    case M_LOGPROBS:
        edit = EDIT_LOGPROBS;
        break;
    case M_TOP_LOGPROBS:
        edit = EDIT_TOP_LOGPROBS;
        break;
    case M_STREAM_OPTIONS:
        edit = EDIT_STREAM_OPTIONS;
        break;
    case M_MESSAGES:
        first(&s->messages, v);
        break;
    case M_PROMPT:
        first(&s->prompt, v);
        break;
    case M_STREAM:
        first(&s->stream, v);
        break;
    default:
        break;
    }
    if (edit >= 0) {
        first(&r->edit_at[edit], v);
        if (r->edit_count[edit] < 2)
            r->edit_count[edit]++;
    }
}

/* A value inside the first "messages" (depth >= 2): messages, their first "content", its parts' first "text". */
static void on_chat(read_state_t *s, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    if (path[1].key.type != SL_JSON_INVALID)
        return; /* "messages" is an object: no chat */
    if (depth == 2) { /* a message */
        s->num_messages++;
        s->chat_bytes += s->content_bytes;
        s->content_seen = 0;
        s->content_bytes = 0;
        s->parts_bytes = 0;
        return;
    }
    /* inside a message: only its first "content" matters, and when that is an array its parts' first "text" */
    if (s->content_seen || path[2].key.type == SL_JSON_INVALID)
        return;
    if (path[2].key.p != s->msg_key) {
        s->msg_key = path[2].key.p;
        s->msg_key_is_content = is_named(&path[2].key, content_name);
    }
    if (!s->msg_key_is_content)
        return;
    if (depth == 3) { /* the content */
        s->content_seen = 1;
        s->content_bytes = v->type == SL_JSON_STRING ? sl_json_string_len(v) : v->type == SL_JSON_ARRAY ? s->parts_bytes : 0;
    } else if (path[3].key.type != SL_JSON_INVALID) {
        return; /* the content is an object */
    } else if (depth == 4) { /* a part */
        if (v->type == SL_JSON_OBJECT)
            s->parts_bytes += s->text_bytes;
        s->text_seen = 0;
        s->text_bytes = 0;
    } else if (depth == 5 && !s->text_seen && is_named(&path[4].key, text_name)) {
        s->text_seen = 1;
        s->text_bytes = v->type == SL_JSON_STRING ? sl_json_string_len(v) : 0;
    }
}

/* A value inside the first "prompt" (depth >= 2): leaves of nested arrays until the first object. */
static void on_prompt(read_state_t *s, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    if (s->leaf_stop)
        return;
    for (size_t d = 1; d != depth; ++d)
        if (path[d].key.type != SL_JSON_INVALID) { /* inside an object: the leaves end at its opening brace */
            s->leaf_stop = 1;
            return;
        }
    if (v->type == SL_JSON_OBJECT)
        s->leaf_stop = 1; /* an empty object (one with members stopped at its first) */
    else if (v->type == SL_JSON_STRING)
        s->leaf_bytes += sl_json_string_len(v);
    else if (v->type == SL_JSON_NUMBER)
        s->leaf_bytes += 4;
}

static void on_value(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    read_state_t *s = ctx;
    if (path[0].key.type == SL_JSON_INVALID)
        return; /* the root is an array: read fails with SL_EINVAL */
    if (path[0].key.p != s->member_key) {
        s->member_key = path[0].key.p;
        s->member = classify(&path[0].key);
    }
    if (depth == 1) {
        s->r->num_members = (uint32_t)path[0].index + 1;
        on_member(s, v);
        return;
    }
    switch (s->member) {
    case M_MESSAGES:
        if (s->messages.p == NULL)
            on_chat(s, path, depth, v);
        break;
    case M_PROMPT:
        if (s->prompt.p == NULL)
            on_prompt(s, path, depth, v);
        break;
    case M_STREAM_OPTIONS:
        if (depth == 2 && s->r->edit_at[EDIT_STREAM_OPTIONS].p == NULL && s->include_usage.p == NULL &&
            is_named(&path[1].key, include_usage_name))
            s->include_usage = *v;
        break;
    default:
        break;
    }
}

static uint32_t clamp_u32(const sl_json_span_t *v, int *ok)
{
    uint64_t n;
    *ok = sl_json_get_uint64(v, &n) == SL_OK;
    return !*ok ? 0 : n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int sl_openai__read(const char *body, size_t len, sl_json_span_t *root, sl_adapter_request_t *out)
{
    static const sl_json_span_t none = {NULL, 0, SL_JSON_INVALID};
    sl_adapter_request_t r;
    memset(&r, 0, sizeof(r));
    read_state_t s;
    memset(&s, 0, sizeof(s));
    s.r = &r;
    s.messages = s.prompt = s.stream = s.include_usage = none;
    for (size_t i = 0; i != SL_ADAPTER_EDIT_KEYS; ++i)
        r.edit_at[i] = none;
    int ret = sl_adapter_read_object(body, len, on_value, &s, root);
    if (ret != SL_OK)
        return ret;

    r.root = *root;
    r.located_by = &sl_adapter_openai;
    r.model = r.edit_at[EDIT_MODEL].type == SL_JSON_STRING ? r.edit_at[EDIT_MODEL] : none;
    r.stream = s.stream.type == SL_JSON_TRUE;
    const sl_json_span_t *logprobs = &r.edit_at[EDIT_LOGPROBS], *top = &r.edit_at[EDIT_TOP_LOGPROBS];
    int ok;
    if (s.messages.type == SL_JSON_ARRAY) {
        r.kind = SL_ADAPTER_KIND_CHAT;
        r.num_messages = s.num_messages;
        r.prompt_bytes = s.chat_bytes;
        r.logprobs = logprobs->type == SL_JSON_TRUE;
        if (r.logprobs) {
            uint32_t n = clamp_u32(top, &ok);
            if (ok)
                r.top_logprobs = n;
        }
    } else if (s.prompt.p != NULL) {
        r.kind = SL_ADAPTER_KIND_COMPLETIONS;
        r.prompt_bytes = s.prompt.type == SL_JSON_STRING  ? sl_json_string_len(&s.prompt)
                         : s.prompt.type == SL_JSON_ARRAY ? s.leaf_bytes
                                                          : 0;
        uint32_t n = clamp_u32(logprobs, &ok);
        if (ok) {
            r.logprobs = 1;
            r.top_logprobs = n;
        }
    }
    r.usage = r.stream && r.edit_at[EDIT_STREAM_OPTIONS].type == SL_JSON_OBJECT && s.include_usage.type == SL_JSON_TRUE;
    r.prompt_tokens = sl_adapter_tokens_estimate(r.prompt_bytes);
    *out = r;
    return SL_OK;
}

int sl_openai__inspect(const sl_json_span_t *root, sl_adapter_request_t *out)
{
    if (root->type != SL_JSON_OBJECT)
        return SL_EINVAL;
    sl_json_span_t again;
    return sl_openai__read(root->p, root->len, &again, out);
}

/* Adds edit e for member slot `slot` of req (encode's list); SL_EEXIST when the client's body repeats the member. */
static int add_edit(const sl_adapter_request_t *req, int slot, sl_json_edit_t e, sl_json_edit_t *edits,
                    sl_json_span_t *at, size_t *n)
{
    if (req->located_by == &sl_adapter_openai) { /* members located by this read (another protocol's are not ours) */
        if (req->edit_count[slot] > 1)
            return SL_EEXIST;
        at[*n] = req->edit_at[slot];
    }
    edits[(*n)++] = e;
    return SL_OK;
}

int sl_openai__encode(const char *body, size_t len, const sl_adapter_request_t *req, const sl_adapter_want_t *want,
                      const sl_adapter_alloc_t *alloc, sl_adapter_body_t *out)
{
    static const char *const digits[] = {"0", "1", "2"};
    sl_json_edit_t edits[SL_ADAPTER_EDIT_KEYS];
    sl_json_span_t at[SL_ADAPTER_EDIT_KEYS];
    size_t n = 0;
    uint32_t need = sl_adapter_signal_logprobs(want->signal);
    int located = req->located_by == &sl_adapter_openai, ret = SL_OK;
    if (req->root.type != SL_JSON_OBJECT)
        return SL_EINVAL;
    if (want->model != NULL) {
        size_t qlen;
        const char *q = sl_adapter_want_model(want, alloc, &qlen);
        ret = add_edit(req, EDIT_MODEL, (sl_json_edit_t){"model", 5, q, qlen, 0}, edits, at, &n);
    }
    /* A member the client already set as sluice needs it is kept (keep_existing), but still listed: sluice decided
     * from its first occurrence, so a repeat is refused as for a member edited. */
    if (req->kind == SL_ADAPTER_KIND_CHAT && need != 0) {
        int keep = req->logprobs;
        if (ret == SL_OK)
            ret = add_edit(req, EDIT_LOGPROBS, (sl_json_edit_t){"logprobs", 8, "true", 4, keep}, edits, at, &n);
        keep = req->logprobs && req->top_logprobs >= 2;
        if (need == 2 && ret == SL_OK)
            ret = add_edit(req, EDIT_TOP_LOGPROBS, (sl_json_edit_t){"top_logprobs", 12, "2", 1, keep}, edits, at, &n);
    } else if (req->kind == SL_ADAPTER_KIND_COMPLETIONS && need != 0 && ret == SL_OK) {
        int keep = req->logprobs && req->top_logprobs >= need;
        ret = add_edit(req, EDIT_LOGPROBS, (sl_json_edit_t){"logprobs", 8, digits[need], 1, keep}, edits, at, &n);
    }
    if (req->stream && ret == SL_OK) {
        sl_json_span_t so;
        int has_so = located ? (so = req->edit_at[EDIT_STREAM_OPTIONS]).type == SL_JSON_OBJECT
                                  : sl_json_find_key(&req->root, "stream_options", 14, &so) == SL_OK &&
                                        so.type == SL_JSON_OBJECT;
        /* with usage asked, the client's object is kept, but only when include_usage occurs in it once */
        sl_json_edit_t e = {"stream_options", 14, "{\"include_usage\":true}", 22, req->usage};
        if (has_so) {
            /* merge into the client's object: copy it (it is small) with include_usage set */
            sl_json_edit_t inc = {"include_usage", 13, "true", 4, req->usage};
            sl_json_piece_t pieces[SL_JSON_EDIT_PIECES(1)];
            size_t np;
            if ((ret = sl_json_edit_object(so.p, so.len, &so, &inc, 1, pieces, SL_JSON_EDIT_PIECES(1), &np)) != SL_OK)
                return ret;
            if (!req->usage) {
                char *merged = sl_adapter_alloc(alloc, sl_json_pieces_len(pieces, np));
                e.value = merged;
                e.value_len = sl_json_pieces_copy(pieces, np, merged);
            }
        }
        ret = add_edit(req, EDIT_STREAM_OPTIONS, e, edits, at, &n);
    }
    if (ret != SL_OK)
        return ret;
    size_t changes = 0;
    for (size_t i = 0; i != n; ++i)
        changes += !edits[i].keep_existing;
    if (n == 0 || (located && changes == 0)) {
        sl_adapter_body_borrow(alloc, body, len, out);
        return SL_OK;
    }
    sl_json_piece_t pieces[SL_JSON_EDIT_PIECES(SL_ADAPTER_EDIT_KEYS)];
    size_t np;
    ret = located ? sl_json_edit_object_at(body, len, &req->root, edits, n, at, req->num_members, pieces,
                                                SL_JSON_EDIT_PIECES(SL_ADAPTER_EDIT_KEYS), &np)
                       : sl_json_edit_object(body, len, &req->root, edits, n, pieces,
                                             SL_JSON_EDIT_PIECES(SL_ADAPTER_EDIT_KEYS), &np);
    if (ret != SL_OK)
        return ret;
    if (changes == 0) /* the walk found no repeat and nothing changes */
        sl_adapter_body_borrow(alloc, body, len, out);
    else
        sl_adapter_body_pieces(alloc, pieces, np, out);
    return SL_OK;
}
