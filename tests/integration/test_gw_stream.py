"""Streamed answers through the gateway: events pass as they arrive, a slow client does not make the gateway buffer
the upstream's answer (upstream reads pause past a high-water mark: RSS stays flat), and a client that leaves in
the middle of a stream cancels the upstream exchange (the model server stops producing), over HTTP/1.1 and HTTP/2."""
import json
import os
import socket
import subprocess
import threading
import time

import harness
from gw_helpers import ZERO, Gateway, Upstream, backend_yaml, chat_body, config, sim, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running


def sim_gateway(*sim_args, extra=""):
    s = sim(*sim_args)
    b = backend_yaml("small", [s.addr], model="sim-model", extra=extra)
    g = Gateway(config(b, [("chat", "/v1/chat/completions", "small")], server='access_log: "-"'))
    return s, g


def open_stream(addr, body, version="HTTP/1.1"):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    data = json.dumps(body).encode()
    s.sendall(b"POST /v1/chat/completions " + version.encode() + b"\r\nHost: h\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    return s


def test_events_arrive_as_they_are_produced():
    s, g = sim_gateway(*ZERO, "--tpot-ms", "80", "--output-tokens-mean", "4096", "--output-tokens-max", "4096")
    try:
        c = open_stream(g.addr, chat_body(stream=True, max_tokens=10))
        t0 = time.monotonic()
        buf, first_event_at = b"", None
        while not buf.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n"):
            d = c.recv(65536)
            assert d, "connection closed before the end of the stream"
            buf += d
            if first_event_at is None and b"data: {" in buf:
                first_event_at = time.monotonic() - t0
        total = time.monotonic() - t0
        c.close()
        assert b"transfer-encoding: chunked" in buf.lower()
        assert buf.count(b"data: {") >= 10
        assert first_event_at < 0.4 and total >= 0.7, (first_event_at, total)  # 9 gaps of 80 ms after the first
        h = g.metric("sluice_tpot_seconds_count", route="chat")
        assert h >= 9
    finally:
        g.stop()
        s.stop()


def test_slow_client_keeps_gateway_memory_flat():
    size = 96 << 20
    chunk = bytes(range(256)) * 256  # 64 KiB

    def handler(c, i, req):
        c.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: %d\r\n\r\n" % size)
        for _ in range(size // len(chunk)):
            c.sendall(chunk)
        return False
    up = Upstream(handler)
    # under ASan, freed memory sits in a 256 MiB quarantine: measure what the gateway keeps, not what ASan keeps
    asan = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    g = Gateway(config(backend_yaml("b", [up.addr], extra="timeouts: { idle: 10s }"), [("r", "/", "b")]),
                env={"ASAN_OPTIONS": asan})
    try:
        base = g.rss_kb()
        c = socket.create_connection(tuple(g.addr.rsplit(":", 1)[:1]) + (int(g.port),), timeout=20)
        c.sendall(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
        got, peak, live, deadline, next_scrape = 0, base, 0, time.monotonic() + 60, 0
        head = b""
        while b"\r\n\r\n" not in head:
            head += c.recv(4096)
        got = len(head.split(b"\r\n\r\n", 1)[1])
        while got < size and time.monotonic() < deadline:
            d = c.recv(256 << 10)
            assert d
            got += len(d)
            peak = max(peak, g.rss_kb())
            if got >= next_scrape:  # the allocator's live bytes, every 8 MiB read (0 when not jemalloc: ASan)
                live = max(live, g.metric("sluice_jemalloc_allocated_bytes"))
                next_scrape += 8 << 20
            time.sleep(0.004)  # the slow client: about 60 MB/s at most, the upstream writes as fast as it can
        c.close()
        assert got == size
        # without backpressure the gateway holds most of the 96 MiB; with it, a few hundred KiB per stream are in
        # flight (live allocation) and RSS grows only by the allocator's recently freed pages (+11 to +27 MiB
        # measured, depending on load), whatever the answer's size
        assert live < 8 << 20, live
        assert peak - base < 48 << 10, (base, peak)
    finally:
        g.stop()
        up.close()


def sim_in_flight(s):
    _, stats = harness.get_json(s.addr, "/sim/stats")
    return stats["in_flight"]


def access_lines(g):
    return [json.loads(l) for l in g.stderr().splitlines() if l.startswith("{")]


def test_client_abort_mid_stream_cancels_upstream_http1():
    s, g = sim_gateway(*ZERO, "--tpot-ms", "50", "--output-tokens-mean", "400", "--output-tokens-max", "400")
    try:
        c = open_stream(g.addr, chat_body(stream=True, max_tokens=400))
        buf = b""
        while buf.count(b"data: {") < 3:
            buf += c.recv(65536)
        assert sim_in_flight(s) == 1
        t0 = time.monotonic()
        c.close()  # 20 s of stream left
        wait_for(lambda: sim_in_flight(s) == 0, timeout=5, what="the simulator to see the cancellation")
        assert time.monotonic() - t0 < 3
        wait_for(lambda: g.endpoints()[0]["inflight"] == 0, what="the slot to be released")
        wait_for(lambda: len(access_lines(g)) == 1, what="the access-log line")
        line = access_lines(g)[0]
        assert line["status"] == 499 and line["failure"] == "client_abort" and line["upstream_status"] == 200
        assert g.metric("sluice_upstream_failures_total", backend="small", kind="client_abort") == 1
        assert g.metric("sluice_inflight_requests") == 0
    finally:
        g.stop()
        s.stop()


def test_client_abort_mid_stream_cancels_upstream_http2():
    s, g = sim_gateway(*ZERO, "--tpot-ms", "50", "--output-tokens-mean", "400", "--output-tokens-max", "400")
    try:
        p = subprocess.Popen(["curl", "-sS", "-N", "--http2-prior-knowledge", f"http://{g.addr}/v1/chat/completions",
                              "-d", json.dumps(chat_body(stream=True, max_tokens=400))], stdout=subprocess.PIPE)
        seen = b""
        while seen.count(b"data: {") < 3:
            seen += p.stdout.read1(65536)
        p.kill()  # the HTTP/2 connection goes away mid-stream
        p.wait()
        wait_for(lambda: sim_in_flight(s) == 0, timeout=5, what="the simulator to see the cancellation")
        wait_for(lambda: g.endpoints()[0]["inflight"] == 0, what="the slot to be released")
        wait_for(lambda: len(access_lines(g)) == 1, what="the access-log line")
        assert access_lines(g)[0]["failure"] == "client_abort"
    finally:
        g.stop()
        s.stop()


def test_upstream_breaking_mid_stream_breaks_the_client_stream():
    def handler(c, i, req):
        c.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                  b"10\r\ndata: {\"a\":1}\n\n\r\n20\r\ndata: {\"b\"")
        return False  # closes in the middle of a chunk: the answer is broken
    up = Upstream(handler)
    g = Gateway(config(backend_yaml("b", [up.addr]), [("r", "/", "b")]))
    try:
        out = harness.raw_exchange(g.addr, b"GET /s HTTP/1.1\r\nHost: h\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200 OK")
        assert b'data: {"a":1}' in out
        assert not out.endswith(b"0\r\n\r\n")  # no clean end: the client can tell the stream broke
        assert g.metric("sluice_upstream_failures_total", backend="b", kind="reset") == 1
    finally:
        g.stop()
        up.close()
