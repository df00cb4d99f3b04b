"""Streams and classifiers through the cascade: a tier with buffer_streams holds the small model's SSE stream,
judges it at its end, then replays it (without the usage chunk and logprobs the client did not ask for) or
escalates; without buffer_streams a stream goes straight through from the first tier; a KServe v2 cascade judged on
top_prob and on margin."""
import json
import socket
import time

import harness
from cascade_helpers import (ACCEPT, SMALL_COST, SURE, UNSURE, Gateway, cascade_config, configure, decimal, model,
                             nanos, settled, sse_events, stats)
from gw_helpers import wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running

LONG = ["--output-tokens-mean", "4096", "--output-tokens-max", "4096"]


def stream(g, max_tokens=5, usage=False, logprobs=False):
    """A streamed chat request on a raw connection: (seconds to the first event, headers dict, body bytes)."""
    body = {"model": "any", "stream": True, "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hello"}]}
    if usage:
        body["stream_options"] = {"include_usage": True}
    if logprobs:
        body["logprobs"] = True
    host, port = g.addr.rsplit(":", 1)
    data = json.dumps(body).encode()
    s = socket.create_connection((host, int(port)), timeout=10)
    t0 = time.monotonic()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nConnection: close\r\n"
              b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    buf, first = b"", None
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
        if first is None and b"data: " in buf:
            first = time.monotonic() - t0
    s.close()
    head, _, rest = buf.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    if headers.get("transfer-encoding") == "chunked":
        body, rest = b"", rest
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            body += rest[:n]
            rest = rest[n + 2:]
        rest = body
    return first, headers, rest


def chunks(raw):
    """The JSON chunks of an SSE body, checking it ends with [DONE]."""
    events = sse_events(raw)
    assert events[-1] == "[DONE]", events[-3:]
    return [json.loads(e) for e in events[:-1]]


def test_buffered_stream_is_judged_then_replayed():
    small = model("small", SURE, *LONG, "--tpot-ms", "60")
    large = model("large", "0.95", *LONG)
    g = Gateway(cascade_config(small.addr, large.addr, tier0=ACCEPT + ", buffer_streams: true"))
    try:
        first, h, raw = stream(g)
        assert h["content-type"].startswith("text/event-stream")
        assert h["x-sluice-tier"] == "0" and h["x-sluice-escalations"] == "0"
        assert int(h["content-length"]) == len(raw)  # replayed whole
        # the client's first byte waits for the small model's whole answer: 5 tokens, 4 gaps of 60 ms
        assert first >= 0.22, first
        events = chunks(raw)
        assert all(e["model"] == "small" for e in events)
        assert all("usage" not in e or e["usage"] is None for e in events)  # no usage chunk: not asked
        assert all(c.get("logprobs") is None for e in events for c in e["choices"])
        assert "".join(c["delta"].get("content") or "" for e in events for c in e["choices"]).strip() != ""
        # the cost is exact: the usage the gateway asked for (and kept from the client) gave the tokens
        assert h["x-sluice-cost"] == decimal(nanos(SMALL_COST, 2, 5))
        assert stats(large)["requests"] == 0
        # a client that asked for the usage chunk and logprobs gets both
        _, h, raw = stream(g, usage=True, logprobs=True)
        events = chunks(raw)
        assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 5
        assert events[1]["choices"][0]["logprobs"]["content"][0]["logprob"] < 0
    finally:
        g.stop()
        small.stop()
        large.stop()


def test_buffered_stream_escalates_on_low_confidence_and_failure():
    small = model("small", UNSURE, *LONG)
    large = model("large", "0.95", *LONG, "--tpot-ms", "40")
    g = Gateway(cascade_config(small.addr, large.addr, tier0=ACCEPT + ", buffer_streams: true"))
    try:
        first, h, raw = stream(g)
        assert h["x-sluice-tier"] == "1" and h["x-sluice-escalations"] == "1"
        assert h.get("transfer-encoding") == "chunked"  # the last tier streams through
        events = chunks(raw)
        assert all(e["model"] == "large" for e in events)
        assert all("usage" not in e or e["usage"] is None for e in events)  # its usage chunk is taken out too
        settled(g)
        assert g.metric("sluice_cascade_escalations_total", route="chat", **{"from": "0"}, to="1",
                        reason="low_confidence") == 1
        assert g.metric("sluice_tokens_total", route="chat", backend="large", direction="output") == 5
        # a stream the small model breaks off is escalated too: nothing of it reached the client
        configure(small, accuracy=0.95, reset_rate=1)
        _, h, raw = stream(g, usage=True)
        events = chunks(raw)
        assert h["x-sluice-tier"] == "1" and events[-1]["usage"]["completion_tokens"] == 5
        settled(g)
        assert g.metric("sluice_cascade_escalations_total", route="chat", **{"from": "0"}, to="1", reason="reset") == 1
    finally:
        g.stop()
        small.stop()
        large.stop()


def test_stream_without_buffer_streams_goes_straight_through():
    small = model("small", UNSURE, *LONG, "--tpot-ms", "80")
    large = model("large", "0.95")
    g = Gateway(cascade_config(small.addr, large.addr))
    try:
        first, h, raw = stream(g, max_tokens=6)
        assert h["x-sluice-tier"] == "0" and h["x-sluice-escalations"] == "0"  # low confidence, yet not escalated
        assert h.get("transfer-encoding") == "chunked"
        assert first < 0.3, first  # events pass as they are produced (6 tokens take 400 ms)
        events = chunks(raw)
        assert all(e["model"] == "small" for e in events)
        assert all("usage" not in e or e["usage"] is None for e in events)
        assert all(c.get("logprobs") is None for e in events for c in e["choices"])
        assert stats(large)["requests"] == 0
        settled(g)
        assert g.metric("sluice_cascade_answers_total", route="chat", tier="0", backend="small") == 1
        # the usage chunk was asked for and dropped: the tokens are known all the same
        assert g.metric("sluice_tokens_total", route="chat", backend="small", direction="output") == 6
        assert g.metric("sluice_cost_total", route="chat", backend="small") == float(decimal(nanos(SMALL_COST, 2, 6)))
    finally:
        g.stop()
        small.stop()
        large.stop()


def infer(g, text="classify: hi"):
    body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}]}
    return harness.post_json(g.addr, "/v2/models/any/infer", body)


def test_kserve_cascade_on_top_prob_and_margin():
    # two labels: the top-1 probability is c, the margin c - (1 - c)
    small = model("small", "0.6", "--labels", "a,b", protocol="kserve_v2")
    large = model("large", "0.95", "--labels", "a,b", protocol="kserve_v2")
    for accept in ("accept: { signal: top_prob, min: 0.8 }", "accept: { signal: margin, min: 0.6 }"):
        g = Gateway(cascade_config(small.addr, large.addr, tier0=accept, protocol="kserve_v2", path="/v2/models"))
        try:
            configure(small, accuracy=0.6)
            status, h, doc, raw = infer(g)
            assert status == 200 and doc["model_name"] == "large", raw
            assert h["x-sluice-tier"] == "1" and h["x-sluice-escalations"] == "1"
            configure(small, accuracy=0.95)
            status, h, doc, raw = infer(g)
            assert status == 200 and doc["model_name"] == "small", raw
            assert h["x-sluice-tier"] == "0"
            assert h["x-sluice-cost"] == decimal(nanos(SMALL_COST, 0, 0))  # no usage in kserve: per request only
            settled(g)
            assert g.metric("sluice_cascade_signal_count", route="chat", tier="0") == 2
            # top_prob 0.6 then 0.95; margin 0.2 then 0.9
            below = g.metric("sluice_cascade_signal_bucket", route="chat", tier="0", le="0.3")
            assert below == (0 if "top_prob" in accept else 1)
        finally:
            g.stop()
    small.stop()
    large.stop()
