"""Every upstream failure kind, provoked for real (`sluice sim` faults, a closed port, an accept queue that never
drains, a scripted upstream), with the status and the JSON body the client gets, the failure counter, and the
access-log line. Deadlines are short (hundreds of ms) so the whole file stays fast."""
import json
import socket
import threading
import time

import harness
from gw_helpers import (ZERO, Gateway, Upstream, answer, backend_yaml, chat_body, config, error_of, keepalive, post,
                        sim, wait_for)
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running

TIMEOUTS = "timeouts: { connect: 300ms, first_byte: 400ms, idle: 300ms, stream_idle: 700ms, total: 1500ms }"


def gateway(endpoint, extra="", **kw):
    b = backend_yaml("b", [endpoint], model="sim-model", extra=(TIMEOUTS + (", " + extra if extra else "")))
    return Gateway(config(b, [("r", "/v1/", "b")], **kw))


def expect(g, kind, status, type_, body=None, path="/v1/chat/completions"):
    st, headers, raw = harness.request(g.addr, "POST", path, body=json.dumps(body or chat_body()).encode(),
                                       headers={"content-type": "application/json"})
    assert st == status, raw
    assert headers["content-type"] == "application/json"
    assert headers["x-sluice-backend"] == "b"
    err = error_of(raw)
    assert err["code"] == kind and err["type"] == type_, err
    assert int(headers["content-length"]) == len(raw)
    return headers, err


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


def test_connect_refused():
    g = gateway(closed_port())
    try:
        _, err = expect(g, "connect_refused", 502, "upstream_error")
        assert err["message"] == "the model server refused the connection"
        assert g.metric("sluice_upstream_failures_total", backend="b", kind="connect_refused") == 1
        assert g.metric("sluice_requests_total", route="r", backend="b", code="5xx") == 1
    finally:
        g.stop()


def test_connect_timeout():
    # a listener whose accept queue is full and never drained: the kernel drops further SYNs
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    addr = "127.0.0.1:%d" % ls.getsockname()[1]
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", ls.getsockname()[1]))
        fillers.append(f)
    g = gateway(addr)
    try:
        t0 = time.monotonic()
        expect(g, "connect_timeout", 504, "timeout_error")
        assert 0.25 <= time.monotonic() - t0 < 2.0
    finally:
        g.stop()
        for f in fillers:
            f.close()
        ls.close()


def test_first_byte_timeout():
    s = sim(*ZERO, "--hang-rate", "1")
    g = gateway(s.addr)
    try:
        t0 = time.monotonic()
        expect(g, "first_byte_timeout", 504, "timeout_error")
        assert 0.35 <= time.monotonic() - t0 < 2.0
        # the upstream exchange was cancelled: the simulator's hung request is gone from its connection
        assert g.metric("sluice_upstream_failures_total", backend="b", kind="first_byte_timeout") == 1
    finally:
        g.stop()
        s.stop()


def test_idle_timeout_of_a_whole_answer_is_a_clean_504():
    done = threading.Event()

    def handler(c, i, req):
        c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ncontent-type: application/json\r\n\r\n{\"partial\":")
        done.wait(5)  # stalls past timeouts.idle (the gateway cancels after 300 ms)
        return False
    up = Upstream(handler)
    g = gateway(up.addr)
    try:
        t0 = time.monotonic()
        expect(g, "idle_timeout", 504, "timeout_error")
        assert 0.25 <= time.monotonic() - t0 < 2.0
    finally:
        done.set()
        g.stop()
        up.close()


def test_total_timeout():
    s = sim(*ZERO, "--ttft-ms", "1200")
    b = backend_yaml("b", [s.addr], model="sim-model", extra="timeouts: { first_byte: 5s, total: 500ms }")
    g = Gateway(config(b, [("r", "/v1/", "b")]))
    try:
        t0 = time.monotonic()
        expect(g, "total_timeout", 504, "timeout_error")
        assert 0.45 <= time.monotonic() - t0 < 2.0
    finally:
        g.stop()
        s.stop()


def test_reset():
    s = sim(*ZERO, "--reset-rate", "1")
    g = gateway(s.addr)
    try:
        expect(g, "reset", 502, "upstream_error")
        assert g.metric("sluice_upstream_failures_total", backend="b", kind="reset") == 1
    finally:
        g.stop()
        s.stop()


def test_upstream_5xx():
    s = sim(*ZERO, "--error-rate", "1")
    g = gateway(s.addr)
    try:
        _, err = expect(g, "upstream_5xx", 502, "upstream_error")
        assert err["message"] == "the model server failed to answer"
        _, stats = harness.get_json(s.addr, "/sim/stats")
        assert stats["by_status"]["500"] == 1
    finally:
        g.stop()
        s.stop()


def test_malformed_response():
    up = Upstream(lambda c, i, req: c.sendall(b"HTTP/1.1 2x0 What\r\nbroken header line\r\n\r\n") and False)
    g = gateway(up.addr)
    try:
        expect(g, "malformed", 502, "upstream_error")
    finally:
        g.stop()
        up.close()


def test_overloaded_without_queue_answers_503_with_retry_after():
    s = sim(*ZERO, "--hang-rate", "1")
    g = gateway(s.addr, extra="max_concurrency: 1, max_queue: 0")
    try:
        hung = keepalive(g.addr)
        hung.request("POST", "/v1/chat/completions", body=json.dumps(chat_body()))  # holds the only slot
        wait_for(lambda: g.endpoints()[0]["inflight"] == 1, what="the first request to hold the slot")
        headers, err = expect(g, "overloaded", 503, "overloaded_error")
        assert headers["retry-after"] == "1"
        assert err["message"] == "every model server is busy; retry later"
        r = hung.getresponse()  # the hung one ends with its own first-byte timeout
        assert r.status == 504
    finally:
        g.stop()
        s.stop()


def test_bounded_queue_waits_then_times_out_or_runs():
    s = sim(*ZERO, "--ttft-ms", "300")
    g = gateway(s.addr, extra="max_concurrency: 1, max_queue: 1, queue_timeout: 2s", threads=1)
    try:
        a, b = keepalive(g.addr), keepalive(g.addr)
        a.request("POST", "/v1/chat/completions", body=json.dumps(chat_body()))
        wait_for(lambda: g.endpoints()[0]["inflight"] == 1, what="a holds the slot")
        t0 = time.monotonic()
        b.request("POST", "/v1/chat/completions", body=json.dumps(chat_body()))  # queued behind a
        wait_for(lambda: g.metric("sluice_inflight_requests") == 2, what="b queued")
        headers, err = expect(g, "overloaded", 503, "overloaded_error")  # the queue (1 place) is full
        assert a.getresponse().status == 200
        assert b.getresponse().status == 200  # ran when a released its slot
        assert time.monotonic() - t0 >= 0.25
    finally:
        g.stop()
        s.stop()
    s = sim(*ZERO, "--hang-rate", "1")
    g = gateway(s.addr, extra="max_concurrency: 1, max_queue: 4, queue_timeout: 200ms", threads=1)
    try:
        a = keepalive(g.addr)
        a.request("POST", "/v1/chat/completions", body=json.dumps(chat_body()))
        wait_for(lambda: g.endpoints()[0]["inflight"] == 1, what="a holds the slot")
        t0 = time.monotonic()
        expect(g, "overloaded", 503, "overloaded_error")  # waited its queue_timeout, then gave up
        assert 0.15 <= time.monotonic() - t0 < 0.39  # well before a's first-byte timeout (400 ms) freed the slot
    finally:
        g.stop()
        s.stop()


def test_no_endpoint_after_ejection_and_the_access_log():
    g = gateway(closed_port(), extra="outlier: { consecutive_failures: 1, base_ejection: 30s, max_ejection: 60s }",
                server='access_log: "-"')
    try:
        expect(g, "connect_refused", 502, "upstream_error")
        wait_for(lambda: g.endpoints()[0]["ejected"], what="the endpoint to be ejected")
        _, err = expect(g, "no_endpoint", 503, "overloaded_error")
        assert err["message"] == "no model server is available"
        assert g.metric("sluice_endpoint_up", backend="b", endpoint=g.endpoints()[0]["address"]) == 0
        assert g.metric("sluice_endpoint_ejections_total", backend="b", endpoint=g.endpoints()[0]["address"],
                        reason="outlier") == 1

        def lines():
            return [json.loads(l) for l in g.stderr().splitlines() if l.startswith("{")]
        wait_for(lambda: len(lines()) == 2, what="two access-log lines (flushed within a second)")
        first, second = sorted(lines(), key=lambda l: l["status"])  # two workers may flush in either order
        assert first["status"] == 502 and first["failure"] == "connect_refused" and first["route"] == "r"
        assert first["backend"] == "b" and first["endpoint"] == g.endpoints()[0]["address"]
        assert first["attempts"] == 1 and first["upstream_status"] is None and first["ttft_ms"] is None
        assert second["status"] == 503 and second["failure"] == "no_endpoint" and second["endpoint"] is None
        assert second["attempts"] == 0
    finally:
        g.stop()
