"""Endpoint health: passive outlier ejection (consecutive failed requests take an endpoint out of rotation for a
while; traffic goes to the others), its end (the time is up, or active health checks see it healthy again),
active health checks alone taking an endpoint out and bringing it back, and /readyz following it all."""
import json
import threading

import harness
from gw_helpers import ZERO, Gateway, Upstream, answer, chat_body, config, keepalive, post, sim, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running


def set_sim(s, **params):
    status, _, body = harness.request(s.addr, "POST", "/sim/config", body=json.dumps(params).encode())
    assert status == 200, body


def sim_requests(s):
    return harness.get_json(s.addr, "/sim/stats")[1]["requests"]


def by_address(g):
    return {e["address"]: e for e in g.endpoints()}


def test_ejection_moves_traffic_away_and_the_endpoint_comes_back():
    good = sim(*ZERO)
    bad = sim(*ZERO, "--error-rate", "1")
    backend = (f"  m: {{ protocol: openai, endpoints: [{good.addr}, {bad.addr}], model: sim-model,\n"
               f"       outlier: {{ consecutive_failures: 3, base_ejection: 800ms, max_ejection: 10s,"
               f" max_ejected_percent: 50% }} }}\n")
    g = Gateway(config(backend, [("chat", "/v1/", "m")]))
    try:
        c = keepalive(g.addr)
        statuses = []
        wait_for(lambda: statuses.append(post(c, "/v1/chat/completions", chat_body())[0]) or
                 by_address(g)[bad.addr]["ejected"], what="the failing endpoint to be ejected")
        assert statuses.count(502) == 3  # exactly the streak that ejected it
        assert g.metric("sluice_endpoint_ejections_total", backend="m", endpoint=bad.addr, reason="outlier") == 1
        assert g.metric("sluice_endpoint_up", backend="m", endpoint=bad.addr) == 0
        # while it is out, everything goes to the good one
        before = sim_requests(bad)
        for _ in range(30):
            assert post(c, "/v1/chat/completions", chat_body())[0] == 200
        assert sim_requests(bad) == before
        # heal it; once the ejection time is up it is back in rotation and gets traffic again
        set_sim(bad, error_rate=0)
        wait_for(lambda: not by_address(g)[bad.addr]["ejected"], timeout=5, what="the ejection to end")
        wait_for(lambda: post(c, "/v1/chat/completions", chat_body())[0] == 200 and sim_requests(bad) > before,
                 what="traffic on the recovered endpoint")
        assert g.metric("sluice_endpoint_up", backend="m", endpoint=bad.addr) == 1
    finally:
        g.stop()
        good.stop()
        bad.stop()


def test_health_checks_bring_an_ejected_endpoint_back_early():
    good = sim(*ZERO)
    bad = sim(*ZERO, "--error-rate", "1")  # its /health still answers 200
    backend = (f"  m: {{ protocol: openai, endpoints: [{good.addr}, {bad.addr}], model: sim-model,\n"
               f"       outlier: {{ consecutive_failures: 2, base_ejection: 60s, max_ejection: 60s }},\n"
               f"       health: {{ path: /health, interval: 100ms, timeout: 90ms, healthy_threshold: 2,"
               f" unhealthy_threshold: 2 }} }}\n")
    g = Gateway(config(backend, [("chat", "/v1/", "m")]))
    try:
        c = keepalive(g.addr)
        wait_for(lambda: post(c, "/v1/chat/completions", chat_body()) and by_address(g)[bad.addr]["ejected"],
                 what="the failing endpoint to be ejected")
        set_sim(bad, error_rate=0)
        # 60 s of ejection, but two passing checks after it end it (within a few hundred ms)
        wait_for(lambda: by_address(g)[bad.addr]["in_rotation"], timeout=3, what="health checks to bring it back")
        assert g.metric("sluice_endpoint_ejections_total", backend="m", endpoint=bad.addr, reason="health") == 0
    finally:
        g.stop()
        good.stop()
        bad.stop()


def test_active_checks_alone_take_an_endpoint_out_and_back():
    healthy = threading.Event()
    healthy.set()

    def handler(conn, i, req):
        if req[0].startswith(b"GET /health"):
            answer(conn, status=200 if healthy.is_set() else 503, body=b"{}")
            return False
        answer(conn, body=b'{"ok":1}')
    up = Upstream(handler)
    backend = (f"  m: {{ protocol: http, endpoints: [{up.addr}],\n"
               f"       health: {{ path: /health, interval: 100ms, timeout: 90ms, healthy_threshold: 1,"
               f" unhealthy_threshold: 2 }} }}\n")
    g = Gateway(config(backend, [("r", "/", "m")]))
    try:
        wait_for(lambda: sum(1 for h, _ in up.requests if h.startswith(b"GET /health")) >= 2, what="checks to run")
        head = [h for h, _ in up.requests if h.startswith(b"GET /health")][0]
        assert b"\r\nconnection: close\r\n" in head
        assert harness.get_json(g.admin, "/readyz")[0] == 200
        healthy.clear()
        wait_for(lambda: by_address(g)[up.addr]["unhealthy"], timeout=3, what="the endpoint to be marked unhealthy")
        status, _, body = harness.request(g.addr, "GET", "/x")
        assert status == 503 and json.loads(body)["error"]["code"] == "no_endpoint"
        status, doc = harness.get_json(g.admin, "/readyz")
        assert status == 503 and doc["status"] == "not_ready" and doc["routes_without_endpoint"] == ["r"]
        assert g.metric("sluice_endpoint_ejections_total", backend="m", endpoint=up.addr, reason="health") == 1
        healthy.set()
        wait_for(lambda: by_address(g)[up.addr]["in_rotation"], timeout=3, what="the endpoint to come back")
        assert harness.request(g.addr, "GET", "/x")[0] == 200
        assert harness.get_json(g.admin, "/readyz")[0] == 200
    finally:
        g.stop()
        up.close()
