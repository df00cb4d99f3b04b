"""The gateway's lifecycle: reload (SIGHUP and POST /admin/reload) under load with zero failed requests, a bad
file that keeps the running config and reports file:line:col, the admin token, and graceful shutdown with streams
in flight (every stream completes, new connections are refused, the process exits 0); the metric series of a
removed route and backend, kept while requests of their config run, gone once it is retired."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import harness
from gw_helpers import (ZERO, Gateway, Upstream, answer, backend_yaml, chat_body, config, keepalive, post, sim,
                        wait_for)
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running


def sim_requests(s):
    _, stats = harness.get_json(s.addr, "/sim/stats")
    return stats["requests"]


class Load:
    """Client threads sending keep-alive requests until stopped (bounded: at most `limit` requests each)."""

    def __init__(self, addr, threads=4, limit=3000):
        self.addr, self.limit = addr, limit
        self.results, self.errors = [], []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        c = keepalive(self.addr)
        for _ in range(self.limit):
            if self.stopping.is_set():
                break
            try:
                status, headers, body = post(c, "/v1/chat/completions", chat_body(max_tokens=2))
                self.results.append((status, json.loads(body).get("model")))
            except Exception as e:  # noqa: BLE001 - a failed request is what the test counts
                self.errors.append(repr(e))
                c = keepalive(self.addr)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)


def two_models():
    a = sim(*ZERO, "--model", "model-a")
    b = sim(*ZERO, "--model", "model-b")
    return a, b


def conf_for(s, model, extra_server=""):
    return config(backend_yaml("m", [s.addr], model=model), [("chat", "/v1/chat/completions", "m")],
                  server=extra_server)


def test_reload_under_load_good_then_bad_with_zero_failures():
    a, b = two_models()
    g = Gateway(conf_for(a, "model-a"))
    try:
        load = Load(g.addr)
        wait_for(lambda: len(load.results) >= 50, what="traffic on model-a")
        g.rewrite(conf_for(b, "model-b"))
        g.signal(signal.SIGHUP)
        wait_for(lambda: sim_requests(b) >= 50, what="traffic moved to model-b after SIGHUP")
        assert g.metric("sluice_config_generation") == 2
        # a bad file: the reload is refused with every error, the running config stays
        g.rewrite(conf_for(a, "model-a") + "routes: [ { name: x } ]\nunknown_key: 1\n")
        status, _, body = harness.request(g.admin, "POST", "/admin/reload")
        doc = json.loads(body)
        assert status == 400 and doc["status"] == "error" and doc["generation"] == 2
        assert len(doc["errors"]) >= 1
        assert all(e.startswith(g.config_path + ":") for e in doc["errors"]), doc["errors"]
        assert any("unknown_key" in e for e in doc["errors"]), doc["errors"]
        before = sim_requests(b)
        wait_for(lambda: sim_requests(b) >= before + 50, what="traffic still on model-b")
        # and a good one through the admin API
        g.rewrite(conf_for(a, "model-a"))
        status, _, body = harness.request(g.admin, "POST", "/admin/reload")
        assert status == 200 and json.loads(body) == {"status": "ok", "generation": 3}
        before = sim_requests(a)
        wait_for(lambda: sim_requests(a) >= before + 50, what="traffic back on model-a")
        load.stop()
        assert load.errors == []
        assert all(st == 200 for st, _ in load.results), [r for r in load.results if r[0] != 200][:5]
        models = [m for _, m in load.results]
        assert "model-a" in models and "model-b" in models
        assert g.metric("sluice_config_reloads_total", result="ok") == 2
        assert g.metric("sluice_config_reloads_total", result="error") == 1
        assert "error [reload]" in g.stderr()
    finally:
        g.stop()
        a.stop()
        b.stop()


def test_admin_token_guards_admin_paths_only(tmp_path):
    token = tmp_path / "admin.token"
    token.write_text("s3cret-token\n")
    s = sim(*ZERO)
    admin = f"admin: {{ listen: 127.0.0.1:0, token_file: {token} }}\n"
    g = Gateway(config(backend_yaml("m", [s.addr], model="sim-model"), [("chat", "/v1/", "m")], admin=admin))
    try:
        status, headers, _ = harness.request(g.admin, "POST", "/admin/reload")
        assert status == 401 and headers["www-authenticate"] == "Bearer"
        status, _, _ = harness.request(g.admin, "POST", "/admin/reload", headers={"authorization": "Bearer wrong"})
        assert status == 401
        status, _, _ = harness.request(g.admin, "GET", "/admin/endpoints", headers={"authorization": "Bearer s3cret"})
        assert status == 401
        status, _, body = harness.request(g.admin, "POST", "/admin/reload",
                                          headers={"authorization": "Bearer s3cret-token"})
        assert status == 200, body
        for path in ("/metrics", "/healthz", "/readyz"):
            assert harness.request(g.admin, "GET", path)[0] == 200, path
        status, doc = harness.get_json(g.admin, "/readyz")
        assert doc == {"status": "ready", "generation": 2, "routes_without_endpoint": []}
    finally:
        g.stop()
        s.stop()


def read_stream(sock):
    buf = b""
    while not buf.endswith(b"0\r\n\r\n"):
        d = sock.recv(65536)
        if not d:
            break
        buf += d
    return buf


def test_graceful_shutdown_completes_streams_in_flight():
    s = sim(*ZERO, "--tpot-ms", "40", "--output-tokens-mean", "4096", "--output-tokens-max", "4096")
    g = Gateway(conf_for(s, "sim-model", extra_server="shutdown_timeout: 10s"))
    try:
        body = json.dumps(chat_body(stream=True, max_tokens=25)).encode()
        socks = []
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", g.port), timeout=10)
            c.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            socks.append(c)
        h2 = subprocess.Popen(["curl", "-sS", "-N", "--http2-prior-knowledge", "--max-time", "20",
                               f"http://{g.addr}/v1/chat/completions", "-d", body.decode()], stdout=subprocess.PIPE)
        first = [c.recv(65536) for c in socks]
        assert all(f.startswith(b"HTTP/1.1 200") for f in first)
        wait_for(lambda: g.metric("sluice_inflight_requests") == 4, what="four streams in flight")
        t0 = time.monotonic()
        g.signal(signal.SIGTERM)
        # the listener closes at once
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", g.port)) != 0, what="the listener to close")
        for c, f in zip(socks, first):
            out = f + read_stream(c)
            assert out.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n"), out[-200:]
            assert out.count(b"data: {") >= 25
            c.close()
        out, _ = h2.communicate(timeout=20)
        assert h2.returncode == 0 and out.endswith(b"data: [DONE]\n\n")
        assert g.p.wait(15) == 0
        assert time.monotonic() - t0 < 5
        assert "draining" in g.stderr() and "stopped" in g.stderr()
    finally:
        g.stop()
        s.stop()


def test_shutdown_deadline_cuts_what_does_not_finish():
    s = sim(*ZERO, "--hang-rate", "1")
    g = Gateway(conf_for(s, "sim-model", extra_server="shutdown_timeout: 600ms"))
    try:
        c = keepalive(g.addr)
        c.request("POST", "/v1/chat/completions", body=json.dumps(chat_body()))
        wait_for(lambda: g.metric("sluice_inflight_requests") == 1, what="the hung request")
        t0 = time.monotonic()
        g.signal(signal.SIGTERM)
        assert g.p.wait(10) == 0
        assert 0.5 <= time.monotonic() - t0 < 3
        assert "drain deadline passed" in g.stderr()
    finally:
        g.stop()
        s.stop()


def test_series_of_a_removed_route_and_backend_leave_metrics_once_their_config_is_retired():
    release = threading.Event()

    def handler(c, i, req):
        if req[0].startswith(b"POST /gone/slow"):
            release.wait(20)  # holds a request of the old config in flight across the reload
        answer(c)
    up_keep, up_gone = Upstream(lambda c, i, req: answer(c)), Upstream(handler)
    both = backend_yaml("keep", [up_keep.addr], extra="health: { enabled: false }") + \
        backend_yaml("gone", [up_gone.addr], extra="health: { enabled: false }")
    g = Gateway(config(both, [("keep", "/keep", "keep"), ("gone", "/gone", "gone")]))
    try:
        assert harness.request(g.addr, "POST", "/keep/x", body=b"{}")[0] == 200
        assert harness.request(g.addr, "POST", "/gone/x", body=b"{}")[0] == 200
        gone = {"route": "gone", "backend": "gone", "code": "2xx"}
        assert g.metric("sluice_requests_total", **gone) == 1
        slow = []
        t = threading.Thread(target=lambda: slow.append(harness.request(g.addr, "POST", "/gone/slow", body=b"{}")[0]))
        t.start()
        wait_for(lambda: len(up_gone.requests) == 2, what="the slow request at the upstream")
        g.rewrite(config(backend_yaml("keep", [up_keep.addr], extra="health: { enabled: false }"),
                         [("keep", "/keep", "keep")]))
        status, _, body = harness.request(g.admin, "POST", "/admin/reload")
        assert status == 200, body
        # the old config is still held by the slow request: its series stay, and keep counting
        text = g.metrics()
        assert 'sluice_requests_total{route="gone",backend="gone",code="2xx"} 1\n' in text
        assert f'sluice_endpoint_up{{backend="gone",endpoint="{up_gone.addr}"}} 1\n' in text
        release.set()
        t.join(10)
        assert slow == [200]
        # retired once nothing holds it (checked every second): its route, backend and endpoint leave
        wait_for(lambda: 'route="gone"' not in g.metrics(), timeout=5, what="the removed route's series to leave")
        text = g.metrics()
        assert 'backend="gone"' not in text and up_gone.addr not in text
        assert 'sluice_requests_total{route="keep",backend="keep",code="2xx"} 1\n' in text
        # a name that comes back keeps its counters (ids are stable): the series returns where it was
        g.rewrite(config(both, [("keep", "/keep", "keep"), ("gone", "/gone", "gone")]))
        assert harness.request(g.admin, "POST", "/admin/reload")[0] == 200
        assert harness.request(g.addr, "POST", "/gone/x", body=b"{}")[0] == 200
        assert g.metric("sluice_requests_total", **gone) == 3
    finally:
        release.set()
        g.stop()
        up_keep.close()
        up_gone.close()
