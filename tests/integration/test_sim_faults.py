"""Fault injection of `sluice sim`: each fault's observed rate lies within a 4.5-sigma binomial band of the
configured probability, and each fault looks the way it should to a client (500 in shape, invalid JSON with 200,
a connection cut mid-answer, no answer at all, a late first byte)."""
import http.client
import json
import socket
import time

import harness
from sim_helpers import ZERO, band, chat, start


def keepalive(addr):
    host, port = addr.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=10)


def post(conn, body):
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"content-type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read()


def test_error_rate_within_band():
    p = start(*ZERO, "--error-rate", "0.2", "--seed", "3")
    try:
        c = keepalive(p.addr)
        n, errors = 400, 0
        for _ in range(n):
            status, body = post(c, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
            assert status in (200, 500)
            if status == 500:
                errors += 1
                err = json.loads(body)["error"]
                assert set(err) == {"message", "type", "param", "code"} and err["type"] == "server_error"
        lo, hi = band(n, 0.2)
        assert lo <= errors <= hi, (errors, lo, hi)
        _, stats = harness.get_json(p.addr, "/sim/stats")
        assert stats["faults"]["error"] == errors and stats["by_status"]["500"] == errors
        assert stats["requests"] == n
    finally:
        assert p.stop() == 0


def test_malformed_rate_within_band():
    p = start(*ZERO, "--malformed-rate", "0.3", "--seed", "4")
    try:
        c = keepalive(p.addr)
        n, bad = 300, 0
        for _ in range(n):
            status, body = post(c, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
            assert status == 200
            try:
                json.loads(body)
            except ValueError:
                bad += 1
        lo, hi = band(n, 0.3)
        assert lo <= bad <= hi, (bad, lo, hi)
    finally:
        assert p.stop() == 0


def test_reset_rate_within_band():
    p = start(*ZERO, "--reset-rate", "0.25", "--seed", "5")
    try:
        n, resets = 200, 0
        for _ in range(n):
            try:
                status, _, body = harness.request(p.addr, "POST", "/v1/chat/completions",
                                                  body={"messages": [{"role": "user", "content": "hi"}]})
                assert status == 200
                json.loads(body)
            except (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionResetError):
                resets += 1
        lo, hi = band(n, 0.25)
        assert lo <= resets <= hi, (resets, lo, hi)
    finally:
        assert p.stop() == 0


def test_stream_reset_cuts_after_some_chunks():
    p = start(*ZERO, "--reset-rate", "1", "--output-tokens-mean", "400", "--output-tokens-max", "400", "--seed", "1")
    try:
        body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 8})
        host, port = p.addr.rsplit(":", 1)
        for _ in range(5):
            raw = harness.raw_exchange(p.addr, (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\n"
                                                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
                                                + body).encode())
            head, _, rest = raw.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            assert b"chat.completion.chunk" in rest and b"[DONE]" not in rest
            assert rest.count(b"\"delta\":{\"content\"") == 4  # ceil(8 / 2) of the 8 tokens (max_tokens)
            assert b"finish_reason\":\"" not in rest
    finally:
        assert p.stop() == 0


def test_hang_then_recover_at_run_time():
    p = start(*ZERO, "--hang-rate", "1")
    try:
        t0 = time.monotonic()
        try:
            chat(p.addr, "hi", timeout=0.5)
            raise AssertionError("a hung request was answered")
        except (socket.timeout, TimeoutError):
            pass
        assert time.monotonic() - t0 >= 0.45
        _, stats = harness.get_json(p.addr, "/sim/stats")
        assert stats["hung_now"] == 1 and stats["faults"]["hang"] == 1
        status, _, _, _ = harness.post_json(p.addr, "/sim/config", {"hang_rate": 0})
        assert status == 200
        assert chat(p.addr, "hi")[0] == 200
    finally:
        t0 = time.monotonic()
        assert p.stop() == 0  # the hung request is answered 503 at stop: no wait for the drain deadline
        assert time.monotonic() - t0 < 3


def test_slow_first_byte():
    p = start(*ZERO, "--slow-rate", "1", "--slow-ms", "250")
    try:
        t0 = time.monotonic()
        assert chat(p.addr, "hi")[0] == 200
        assert time.monotonic() - t0 >= 0.245
        harness.post_json(p.addr, "/sim/config", {"slow_rate": 0})
        t0 = time.monotonic()
        assert chat(p.addr, "hi")[0] == 200
        assert time.monotonic() - t0 < 0.2
        _, stats = harness.get_json(p.addr, "/sim/stats")
        assert stats["faults"]["slow"] == 1
    finally:
        assert p.stop() == 0
