"""The cascade through real processes: a small and a large `sluice sim` behind `sluice run`. Accept on the small
tier, escalate on low confidence and on failure kinds (and not on kinds escalate_on leaves out), skip_when by
prompt tokens and by header, a latency budget abandoning a slow small tier, the request's total deadline, logprobs
asked upstream and stripped for a client who did not ask (checked on what a recording upstream received), and
cost: headers, metrics and the access log, exact for known token counts."""
import json
import subprocess
import time

import harness
from cascade_helpers import (ACCEPT, LARGE_COST, SMALL_COST, SURE, UNSURE, Gateway, cascade_config, chat, configure,
                             decimal, model, nanos, prompt_tokens, settled, stats)
from gw_helpers import Upstream, answer, head_fields, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running


def escalations(g, frm, to, reason):
    settled(g)
    return g.metric("sluice_cascade_escalations_total", route="chat", **{"from": str(frm)}, to=str(to), reason=reason)


def test_accept_on_the_small_tier_and_escalate_on_low_confidence():
    small, large = model("small", SURE), model("large", "0.95")
    g = Gateway(cascade_config(small.addr, large.addr))
    try:
        status, h, doc, raw = chat(g)
        assert status == 200, raw
        assert doc["model"] == "small" and h["x-sluice-tier"] == "0" and h["x-sluice-backend"] == "small"
        assert h["x-sluice-escalations"] == "0"
        assert doc["choices"][0]["logprobs"] is None  # asked upstream for the judge, not given to this client
        assert stats(large)["requests"] == 0
        configure(small, accuracy=float(UNSURE))
        status, h, doc, raw = chat(g)
        assert status == 200, raw
        assert doc["model"] == "large" and h["x-sluice-tier"] == "1" and h["x-sluice-backend"] == "large"
        assert h["x-sluice-escalations"] == "1"
        assert stats(small)["requests"] == 2 and stats(large)["requests"] == 1
        assert escalations(g, 0, 1, "low_confidence") == 1  # waits until the requests ended
        assert g.metric("sluice_cascade_answers_total", route="chat", tier="0", backend="small") == 1
        assert g.metric("sluice_cascade_answers_total", route="chat", tier="1", backend="large") == 1
        # both judged answers are in tier 0's signal histogram: ln 0.95 ~ -0.05, ln 0.3 ~ -1.2
        assert g.metric("sluice_cascade_signal_count", route="chat", tier="0") == 2
        assert g.metric("sluice_cascade_signal_bucket", route="chat", tier="0", le="-1") == 1
        assert g.metric("sluice_cascade_signal_bucket", route="chat", tier="0", le="-0.01") == 2
        assert g.metric("sluice_cascade_signal_count", route="chat", tier="1") == 0  # the last tier is not judged
    finally:
        g.stop()
        small.stop()
        large.stop()


def test_failures_escalate_per_kind():
    small, large = model("small", SURE), model("large", "0.95")
    g = Gateway(cascade_config(small.addr, large.addr, small_extra="timeouts: { first_byte: 300ms }"))
    try:
        for params, kind in (({"error_rate": 1}, "upstream_5xx"), ({"error_rate": 0, "reset_rate": 1}, "reset"),
                             ({"reset_rate": 0, "hang_rate": 1}, "first_byte_timeout"),
                             ({"hang_rate": 0, "malformed_rate": 1}, "malformed")):
            configure(small, **params)
            t0 = time.monotonic()
            status, h, doc, raw = chat(g)
            assert status == 200 and doc["model"] == "large", (kind, raw)
            assert h["x-sluice-tier"] == "1" and h["x-sluice-escalations"] == "1", kind
            assert escalations(g, 0, 1, kind) == 1, kind
            if kind == "first_byte_timeout":
                assert 0.28 <= time.monotonic() - t0 < 2.0
        assert g.metric("sluice_upstream_failures_total", backend="small", kind="upstream_5xx") == 1
        assert g.metric("sluice_upstream_failures_total", backend="small", kind="malformed") == 1
        assert stats(large)["requests"] == 4
    finally:
        g.stop()
        small.stop()
        large.stop()


def test_kinds_left_out_of_escalate_on_answer_the_error():
    small, large = model("small", SURE, "--error-rate", "1"), model("large", "0.95")
    g = Gateway(cascade_config(small.addr, large.addr, tier0=ACCEPT + ", escalate_on: [reset]"))
    try:
        status, h, doc, raw = chat(g)
        assert status == 502 and doc["error"]["code"] == "upstream_5xx", raw
        assert h["x-sluice-tier"] == "0" and h["x-sluice-backend"] == "small" and h["x-sluice-escalations"] == "0"
        assert h["x-sluice-cost"] == "0"  # a failed attempt is not charged
        assert stats(large)["requests"] == 0
        configure(small, error_rate=0, reset_rate=1)
        status, h, doc, raw = chat(g)
        assert status == 200 and h["x-sluice-tier"] == "1", raw  # reset is in escalate_on
        assert escalations(g, 0, 1, "reset") == 1 and escalations(g, 0, 1, "upstream_5xx") == 0
    finally:
        g.stop()
        small.stop()
        large.stop()


def test_skip_when_by_prompt_tokens_and_by_header():
    small, large = model("small", SURE), model("large", "0.95")
    skip = 'skip_when: [ { prompt_tokens: { gt: 10 } }, { "header:x-quality": { eq: high } } ]'
    g = Gateway(cascade_config(small.addr, large.addr, tier0=ACCEPT + ", " + skip))
    try:
        status, h, doc, _ = chat(g, "x" * 44)  # 11 estimated tokens: straight to the large model
        assert status == 200 and doc["model"] == "large" and h["x-sluice-tier"] == "1"
        assert h["x-sluice-escalations"] == "0"  # a skip is not an escalation
        status, h, doc, _ = chat(g, "x" * 40)  # 10 tokens: not above 10
        assert doc["model"] == "small" and h["x-sluice-tier"] == "0"
        status, h, doc, _ = chat(g, headers={"x-quality": "high"})
        assert doc["model"] == "large" and h["x-sluice-tier"] == "1"
        status, h, doc, _ = chat(g, headers={"x-quality": "low"})
        assert doc["model"] == "small"
        assert stats(small)["requests"] == 2 and stats(large)["requests"] == 2
    finally:
        g.stop()
        small.stop()
        large.stop()


def test_latency_budget_abandons_a_slow_small_tier():
    small, large = model("small", SURE, "--ttft-ms", "3000"), model("large", "0.95")
    g = Gateway(cascade_config(small.addr, large.addr, tier0=ACCEPT + ", latency_budget: 250ms"))
    try:
        t0 = time.monotonic()
        status, h, doc, raw = chat(g)
        took = time.monotonic() - t0
        assert status == 200 and doc["model"] == "large", raw
        assert 0.24 <= took < 1.5, took
        assert h["x-sluice-tier"] == "1" and h["x-sluice-escalations"] == "1"
        assert escalations(g, 0, 1, "latency_budget") == 1
        # the abandoned exchange was cancelled, and is not held against the small model's endpoint
        wait_for(lambda: stats(small)["in_flight"] == 0, what="the small model to see its request cancelled")
        assert g.metric("sluice_endpoint_inflight_requests", backend="small", endpoint=small.addr) == 0
        assert g.metric("sluice_upstream_failures_total", backend="small", kind="first_byte_timeout") == 0
    finally:
        g.stop()
        small.stop()
        large.stop()


def test_the_request_deadline_holds_across_tiers():
    # the small tier hangs until its own first_byte timeout (400 ms), the large one is slow: the request's total
    # deadline is the large backend's timeouts.total (900 ms) counted from arrival, not 400 ms + 900 ms
    small = model("small", SURE, "--hang-rate", "1")
    large = model("large", "0.95", "--ttft-ms", "700")
    g = Gateway(cascade_config(small.addr, large.addr, small_extra="timeouts: { first_byte: 400ms }",
                               large_extra="timeouts: { first_byte: 5s, total: 900ms }"))
    try:
        t0 = time.monotonic()
        status, h, doc, raw = chat(g)
        took = time.monotonic() - t0
        assert status == 504 and doc["error"]["code"] == "total_timeout", raw
        assert 0.85 <= took < 1.25, took
        assert h["x-sluice-tier"] == "1" and h["x-sluice-escalations"] == "1"
        assert stats(large)["requests"] == 1
    finally:
        g.stop()
        small.stop()
        large.stop()


CONFIDENT = {"id": "c1", "object": "chat.completion", "model": "rec",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "yes"},
                          "logprobs": {"content": [{"token": "yes", "logprob": -0.05, "top_logprobs": []}]},
                          "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}}


def test_logprobs_asked_upstream_and_stripped_for_a_client_that_did_not_ask():
    body = json.dumps(CONFIDENT).encode()
    up = Upstream(lambda c, i, req: answer(c, body=body, headers=[("content-type", "application/json")]))
    large = model("large", "0.95")
    g = Gateway(cascade_config(up.addr, large.addr))

    def posts():  # the proxied requests only: active health checks (GET /health) may arrive in between
        return [r for r in up.requests if r[0].startswith(b"POST ")]

    try:
        status, h, doc, raw = chat(g, headers={"accept-encoding": "gzip, deflate"})
        assert status == 200 and h["x-sluice-tier"] == "0", raw
        sent = json.loads(posts()[0][1])
        assert sent["logprobs"] is True and sent["model"] == "small"  # asked for the judge
        assert "top_logprobs" not in sent  # logprob_mean needs no alternatives
        assert "accept-encoding" not in head_fields(posts()[0][0])  # an answer sluice reads comes uncompressed
        assert doc["choices"][0]["logprobs"] is None  # ... and taken out again
        assert doc["choices"][0]["message"]["content"] == "yes" and doc["usage"]["completion_tokens"] == 1
        # a client that asked for logprobs gets them as the model server sent them, and its request is not edited
        status, h, doc, raw = chat(g, logprobs=True)
        assert json.loads(posts()[1][1])["logprobs"] is True
        assert raw == body
        # skipped to the last tier (not judged, nothing stripped): the client's accept-encoding goes upstream
        g2 = Gateway(cascade_config(large.addr, up.addr, tier0=ACCEPT + ', skip_when: { "header:x-big": { exists: true } }'))
        try:
            status, h, doc, raw = chat(g2, headers={"accept-encoding": "gzip", "x-big": "1"})
            assert status == 200 and h["x-sluice-tier"] == "1"
            assert head_fields(posts()[2][0])["accept-encoding"] == ["gzip"]
            assert json.loads(posts()[2][1]) == {"model": "large", "messages": [{"role": "user", "content": "hello"}]}
        finally:
            g2.stop()
    finally:
        g.stop()
        up.close()
        large.stop()


def test_cost_headers_metrics_and_access_log_exact(tmp_path):
    small, large = model("small", SURE), model("large", "0.95")
    log = tmp_path / "access.log"
    g = Gateway(cascade_config(small.addr, large.addr, server=f"access_log: {log}"))
    try:
        text = "hello there"
        tin, tout = prompt_tokens(text), 1
        small_n, large_n = nanos(SMALL_COST, tin, tout), nanos(LARGE_COST, tin, tout)
        for _ in range(3):
            status, h, doc, _ = chat(g, text)
            assert status == 200 and doc["usage"] == {**doc["usage"], "prompt_tokens": tin, "completion_tokens": tout}
            assert h["x-sluice-cost"] == decimal(small_n)
        configure(small, accuracy=float(UNSURE))
        for _ in range(2):
            status, h, doc, _ = chat(g, text)
            assert status == 200 and h["x-sluice-tier"] == "1"
            assert h["x-sluice-cost"] == decimal(small_n + large_n)
        settled(g)
        body = g.metrics()
        assert g.metric("sluice_cost_total", route="chat", backend="small") == float(decimal(5 * small_n))
        assert f'sluice_cost_total{{route="chat",backend="small"}} {decimal(5 * small_n)}\n' in body
        assert f'sluice_cost_total{{route="chat",backend="large"}} {decimal(2 * large_n)}\n' in body
        assert f'sluice_cost_last_tier_total{{route="chat"}} {decimal(5 * large_n)}\n' in body
        # tokens of escalated attempts count for the backend that spent them
        assert g.metric("sluice_tokens_total", route="chat", backend="small", direction="input") == 5 * tin
        assert g.metric("sluice_tokens_total", route="chat", backend="large", direction="output") == 2 * tout
        assert g.metric("sluice_requests_total", route="chat", backend="small", code="2xx") == 3
        check = subprocess.run(["promtool", "check", "metrics"], input=body.encode(), capture_output=True)
        assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check.stdout + check.stderr

        def lines():
            with open(log) as f:
                return [json.loads(line) for line in f]
        wait_for(lambda: len(lines()) == 5, what="five access-log lines")
        # two workers write their own lines: order them by what they hold, not by position
        escalated = [line for line in lines() if line["escalations"] == 1]
        accepted = [line for line in lines() if line["escalations"] == 0]
        assert len(escalated) == 2 and len(accepted) == 3
        last = escalated[0]
        assert last["tiers"] == "0,1"
        assert last["cost"] == float(decimal(small_n + large_n))
        s, l = last["cascade"]
        assert (s["tier"], s["backend"], s["verdict"], s["reason"]) == (0, "small", "escalate", "low_confidence")
        assert -1.35 < s["signal"] < -1.05 and (s["tokens_in"], s["tokens_out"]) == (tin, tout)
        assert s["cost"] == float(decimal(small_n))
        assert (l["tier"], l["backend"], l["verdict"], l["reason"], l["signal"]) == (1, "large", "accept", "last_tier",
                                                                                    None)
        first = accepted[0]["cascade"]
        assert len(first) == 1 and first[0]["reason"] == "confident" and -0.1 < first[0]["signal"] < 0
    finally:
        g.stop()
        small.stop()
        large.stop()


def test_header_signal_and_the_reasons_for_missing_and_unparsable_signals():
    scores = []

    def handler(c, i, req):
        score = scores.pop(0)
        answer(c, body=b'{"result":"ok"}', headers=[("content-type", "application/json")] +
               ([("x-score", score)] if score is not None else []))
    up = Upstream(handler)
    large = model("large", "0.95")
    g = Gateway(cascade_config(up.addr, large.addr, tier0='accept: { signal: "header:x-score", min: 0.5 }'))
    try:
        for score, tier, reason in (("0.9", "0", None), ("0.3", "1", "low_confidence"), (None, "1", "missing_signal"),
                                    ("high", "1", "unparsable_signal"), (" 0.5 ", "0", None)):
            scores.append(score)
            status, h, doc, raw = chat(g)
            assert status == 200 and h["x-sluice-tier"] == tier, (score, raw)
            if reason is not None:
                assert escalations(g, 0, 1, reason) == 1, reason
        settled(g)
        assert g.metric("sluice_cascade_signal_count", route="chat", tier="0") == 3  # values only
    finally:
        g.stop()
        up.close()
        large.stop()
