"""One regression test per libh2o 2.2.5 pitfall the proxy works around (see the data-plane section of
docs/ARCHITECTURE.md), plus the retry of a request that failed on a stale keep-alive connection:
  - socket pools need h2o_socketpool_set_timeout (else the first connect crashes) and close idle connections;
  - an IN_PROGRESS h2o_send without bytes truncates (HTTP/1) or stalls (HTTP/2) a response;
  - no protocol layer drops a body for HEAD;
  - h2o_http1client_cancel inside the client's own callbacks is a use-after-free (the ASan build catches it);
  - one io_timeout per client context: connect, first byte, idle and stream idle must be separate deadlines."""
import json
import socket
import subprocess
import threading
import time

import harness
from gw_helpers import (ZERO, Gateway, Upstream, answer, backend_yaml, chat_body, config, error_of, head_fields,
                        keepalive, post, sim, wait_for)
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running


def test_stale_keepalive_connection_is_retried_once_on_a_fresh_one():
    def handler(c, i, req):
        if i == 1:
            return False  # reads the second request of a connection, then closes it without a word
        answer(c, body=b'{"n":%d}' % i)
    up = Upstream(handler)
    g = Gateway(config(backend_yaml("b", [up.addr], model="m", extra="health: { enabled: false }"), [("r", "/", "b")],
                       threads=1))
    try:
        c = keepalive(g.addr)
        body = chat_body("x" * 3000)
        assert post(c, "/v1/chat/completions", body)[0] == 200  # connection 1, request 0
        status, _, resp = post(c, "/v1/chat/completions", body)  # reused connection 1 fails -> fresh connection 2
        assert status == 200 and resp == b'{"n":0}'
        assert up.connections == 2 and len(up.requests) == 3
        assert up.requests[1][1] == up.requests[2][1] == up.requests[0][1]  # the same body, whole, each time
        assert head_fields(up.requests[2][0])["x-request-id"] == head_fields(up.requests[1][0])["x-request-id"]
        assert g.metric("sluice_upstream_retries_total", backend="b") == 1
        assert g.metric("sluice_upstream_failures_total", backend="b", kind="reset") == 0
        assert g.endpoints()[0]["failure_streak"] == 0  # not held against the endpoint
    finally:
        g.stop()
        up.close()


def test_a_request_failing_on_a_fresh_connection_is_not_retried():
    up = Upstream(lambda c, i, req: False)  # closes every connection after reading the request
    g = Gateway(config(backend_yaml("b", [up.addr], extra="health: { enabled: false }"), [("r", "/", "b")]))
    try:
        status, _, body = harness.request(g.addr, "POST", "/v1/x", body=b"{}")
        assert status == 502 and error_of(body)["code"] == "reset"
        assert len(up.requests) == 1
    finally:
        g.stop()
        up.close()


def test_socket_pool_reuses_then_expires_idle_connections():
    up = Upstream(lambda c, i, req: answer(c))
    g = Gateway(config(backend_yaml("b", [up.addr], extra="health: { enabled: false }"), [("r", "/", "b")], threads=1))
    try:
        for _ in range(5):
            assert harness.request(g.addr, "GET", "/x")[0] == 200
        assert up.connections == 1  # one pooled keep-alive connection served all five
        # idle pooled connections are closed by the pool's timer (2 s), not kept forever
        wait_for(lambda: up.closed == 1, timeout=6, what="the pool to close its idle connection")
        assert harness.request(g.addr, "GET", "/x")[0] == 200
        assert up.connections == 2
    finally:
        g.stop()
        up.close()


def slow_pieces(size, pieces, chunked):
    """An upstream answering `size` bytes in `pieces` writes with short pauses between them (content-length or
    chunked framing): every read of the gateway is a separate, smaller send to the client."""
    piece = size // pieces
    gate = threading.Event()

    def handler(c, i, req):
        if chunked:
            c.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n")
        else:
            c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\ncontent-type: text/plain\r\n\r\n" % (piece * pieces))
        for k in range(pieces):
            data = bytes([65 + k % 26]) * piece
            c.sendall(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            gate.wait(0.02)  # a short gap: the gateway sees one read per piece
        if chunked:
            c.sendall(b"0\r\n\r\n")
    return handler, piece * pieces


def test_no_empty_in_progress_send_http1_and_http2():
    # 1.5 MiB with a content-length: above the buffered size, so it streams; 20 separate reads
    handler, total = slow_pieces(1536 * 1024, 20, chunked=False)
    up = Upstream(handler)
    g = Gateway(config(backend_yaml("b", [up.addr]), [("r", "/", "b")]))
    try:
        for http2 in (False, True):
            args = ["curl", "-sS", "--max-time", "10", "-o", "-", f"http://{g.addr}/big"]
            if http2:
                args.insert(1, "--http2-prior-knowledge")
            out = subprocess.run(args, capture_output=True)
            assert out.returncode == 0, out.stderr
            assert len(out.stdout) == total
            assert out.stdout[:10] == b"A" * 10 and out.stdout[-10:] == bytes([65 + 19 % 26]) * 10
    finally:
        g.stop()
        up.close()
    handler, total = slow_pieces(64 * 1024, 16, chunked=True)
    up = Upstream(handler)
    g = Gateway(config(backend_yaml("b", [up.addr]), [("r", "/", "b")]))
    try:
        for http2 in (False, True):
            args = ["curl", "-sS", "--max-time", "10", "-o", "-", f"http://{g.addr}/s"]
            if http2:
                args.insert(1, "--http2-prior-knowledge")
            out = subprocess.run(args, capture_output=True)
            assert out.returncode == 0 and len(out.stdout) == total, (out.returncode, len(out.stdout))
    finally:
        g.stop()
        up.close()


def test_head_never_carries_a_body_http1_streamed_and_http2():
    def handler(c, i, req):
        if req[0].startswith(b"HEAD"):
            c.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        else:
            answer(c, body=b"after")
    up = Upstream(handler)
    g = Gateway(config(backend_yaml("b", [up.addr]), [("r", "/", "b")]))
    try:
        out = harness.raw_exchange(g.addr, b"HEAD /s HTTP/1.1\r\nHost: h\r\n\r\nGET /t HTTP/1.1\r\nHost: h\r\n"
                                           b"Connection: close\r\n\r\n")
        first, second = out.split(b"HTTP/1.1 ")[1:]
        assert first.startswith(b"200") and first.endswith(b"\r\n\r\n")
        assert second.startswith(b"200") and second.endswith(b"after")
        r = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-I", "--max-time", "5", f"http://{g.addr}/s"],
                           capture_output=True)
        assert r.returncode == 0 and r.stdout.startswith(b"HTTP/2 200")
    finally:
        g.stop()
        up.close()


def test_failures_inside_client_callbacks_and_aborts_never_crash():
    """Upstream failures at every phase (inside h2o's client callbacks) and clients leaving at every phase
    (cancels from outside them), many times: the gateway stays up and exits cleanly (the ASan build turns a
    cancel from inside a callback into a reported use-after-free)."""
    s = sim(*ZERO, "--tpot-ms", "2", "--output-tokens-mean", "4096", "--output-tokens-max", "4096")
    b = backend_yaml("b", [s.addr], model="sim-model", extra="timeouts: { first_byte: 150ms, stream_idle: 150ms }, outlier: { consecutive_failures: 0 }")
    g = Gateway(config(b, [("r", "/v1/", "b")]))
    try:
        kinds = ["error_rate", "reset_rate", "malformed_rate", "hang_rate", None]
        for kind in kinds:
            f = {k: 1 if k == kind else 0 for k in kinds if k is not None}
            status, _, body = harness.request(s.addr, "POST", "/sim/config", body=json.dumps(f).encode())
            assert status == 200, body
            for k in range(6):
                stream = k % 2 == 0
                data = json.dumps(chat_body(stream=stream, max_tokens=200 if stream else 20)).encode()
                c = socket.create_connection(("127.0.0.1", g.port), timeout=5)
                c.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(data)
                          + data)
                if k >= 2:
                    c.recv(64 if k < 4 else 4096)  # leave after a few bytes (or the whole error)
                c.close()  # k < 2: leave before anything came back
        wait_for(lambda: g.metric("sluice_inflight_requests") == 0, what="every request to end")
        ok = harness.request(g.addr, "POST", "/v1/chat/completions", body=json.dumps(chat_body(max_tokens=5)).encode())
        assert ok[0] == 200, ok
    finally:
        g.stop()
        s.stop()


def test_timeouts_are_separate_deadlines_not_one_io_timeout():
    # first byte after 500 ms: longer than idle (300 ms) and connect (100 ms), shorter than first_byte (1500 ms);
    # every margin is at least 500 ms so a loaded machine (CI runs two suites at once, one under ASan) cannot flip it
    s = sim(*ZERO, "--ttft-ms", "500", "--tpot-ms", "500", "--output-tokens-mean", "4096", "--output-tokens-max", "4096")
    t = "timeouts: { connect: 100ms, first_byte: 1500ms, idle: 300ms, stream_idle: 1000ms, total: 10s }"
    g = Gateway(config(backend_yaml("b", [s.addr], model="sim-model", extra=t), [("r", "/v1/", "b")]))
    try:
        status, _, body = harness.request(g.addr, "POST", "/v1/chat/completions",
                                          body=json.dumps(chat_body(max_tokens=2)).encode())
        assert status == 200, body
        # a stream with 500 ms between tokens: longer than idle, within stream_idle
        status, _, body = harness.request(g.addr, "POST", "/v1/chat/completions",
                                          body=json.dumps(chat_body(stream=True, max_tokens=4)).encode())
        assert status == 200 and body.endswith(b"data: [DONE]\n\n")
        # 2 s between tokens: longer than stream_idle -> the stream is cut, counted as idle_timeout
        status, _, body = harness.request(s.addr, "POST", "/sim/config", body=b'{"tpot_ms": 2000}')
        assert status == 200
        out = harness.raw_exchange(g.addr, b"POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n"
                                   % len(json.dumps(chat_body(stream=True, max_tokens=6)))
                                   + json.dumps(chat_body(stream=True, max_tokens=6)).encode())
        assert out.startswith(b"HTTP/1.1 200") and b"data: [DONE]" not in out
        assert g.metric("sluice_upstream_failures_total", backend="b", kind="idle_timeout") == 1
    finally:
        g.stop()
        s.stop()
