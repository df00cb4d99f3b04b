"""Accuracy scaling in the running gateway (docs/SLO.md, "Accuracy scaling"): a request spills over at once to the
faster variant while the accurate one is at max_concurrency; with every variant saturated sluice sheds with 429,
Retry-After and the route protocol's error body, and the SLO counts the shed as bad for availability; the degrade
fraction rises under sustained saturation, with every change counted by cause, and returns to 0 once the load
stops. Counts are checked against both simulators' own counters."""
import subprocess
import threading

import harness
from gw_helpers import ZERO, Gateway, chat_body, error_of, keepalive, post, sim, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running

CHAT = "/v1/chat/completions"


def degrade_config(acc, fast, acc_limit, fast_limit, degrade, slo="{ latency: { threshold: 2s, target: 99% } }"):
    return ('server: { listen: ["127.0.0.1:0"], threads: 2 }\nadmin: { listen: 127.0.0.1:0 }\nbackends:\n'
            f"  acc: {{ protocol: openai, endpoints: [{acc.addr}], model: sim-model, max_concurrency: {acc_limit} }}\n"
            f"  fast: {{ protocol: openai, endpoints: [{fast.addr}], model: sim-model, max_concurrency: {fast_limit} }}\n"
            f"routes:\n  - name: chat\n    match: {{ path: {CHAT} }}\n    slo: {slo}\n"
            f"    cascade:\n      - backend: acc\n        degrade: {degrade}\n")


def sim_requests(s):
    return harness.get_json(s.addr, "/sim/stats")[1]["requests"]


def inflight(g, backend):
    return sum(e["inflight"] for e in g.endpoints() if e["backend"] == backend)


def dtier(g):
    status, doc = harness.get_json(g.admin, "/admin/state")
    assert status == 200
    assert len(doc["degrade"]) == 1
    return doc["degrade"][0]


class Held:
    """n requests sent at once on their own connections, each in its thread; .statuses once joined."""

    def __init__(self, addr, n):
        self.statuses, self.backends = [], []
        self.threads = [threading.Thread(target=self.one, args=(addr,)) for _ in range(n)]
        for t in self.threads:
            t.start()

    def one(self, addr):
        status, headers, _ = harness.request(addr, "POST", CHAT, body=chat_body(max_tokens=1), timeout=20)
        self.statuses.append(status)
        self.backends.append(headers.get("x-sluice-backend"))

    def join(self):
        for t in self.threads:
            t.join(20)


def test_spill_over_to_the_fast_variant_when_the_accurate_one_is_full():
    acc = sim(*ZERO, "--ttft-ms", "2500")
    fast = sim(*ZERO)
    # interval 1h: after its first step up (to 25%) the fraction cannot move during the test, so most of the
    # requests below reach the accurate variant first and spill over
    g = Gateway(degrade_config(acc, fast, 2, 100, "{ to: fast, interval: 1h }"))
    try:
        held = Held(g.addr, 2)
        wait_for(lambda: inflight(g, "acc") == 2, what="the accurate variant at max_concurrency")
        c = keepalive(g.addr)
        for _ in range(12):
            status, headers, body = post(c, CHAT, chat_body(max_tokens=1))
            assert status == 200 and headers["x-sluice-backend"] == "fast", (status, headers, body)
        held.join()
        assert held.statuses == [200, 200] and held.backends == ["acc", "acc"]
        assert sim_requests(fast) == 12 and sim_requests(acc) == 2
        assert g.metric("sluice_variant_requests_total", route="chat", tier="0", variant="degraded") == 12
        assert g.metric("sluice_variant_requests_total", route="chat", tier="0", variant="accurate") == 2
        spilled = g.metric("sluice_degrade_spillovers_total", route="chat", tier="0")
        # the others went to the fast variant by the fraction (at most 25%): all 12 doing so has odds 0.25^12
        assert 1 <= spilled <= 12
        d = dtier(g)
        assert d["requests"] == {"accurate": 2, "degraded": 12} and d["spillovers"] == spilled
        assert d["variants"] == ["fast"] and d["spill_over"] is True and d["capacity"] == 2
        assert g.metric("sluice_shed_total", route="chat", reason="saturated") == 0
    finally:
        g.stop()
        acc.stop()
        fast.stop()


def test_shed_with_429_when_every_variant_is_full():
    acc = sim(*ZERO, "--ttft-ms", "2000")
    fast = sim(*ZERO, "--ttft-ms", "2000")
    g = Gateway(degrade_config(acc, fast, 1, 1, "{ to: fast, interval: 1h }",
                               slo="{ availability: 99.9%, latency: { threshold: 5s, target: 99% } }"))
    try:
        held = Held(g.addr, 2)
        wait_for(lambda: inflight(g, "acc") == 1 and inflight(g, "fast") == 1, what="both variants full")
        status, headers, body = harness.request(g.addr, "POST", CHAT, body=chat_body(max_tokens=1))
        assert status == 429 and headers["retry-after"] == "1"
        assert headers["content-type"] == "application/json" and int(headers["content-length"]) == len(body)
        err = error_of(body)
        assert err["type"] == "overloaded_error" and err["code"] == "overloaded", err
        held.join()
        assert sorted(held.statuses) == [200, 200] and sorted(held.backends) == ["acc", "fast"]
        assert sim_requests(acc) == 1 and sim_requests(fast) == 1  # the shed request never left the gateway
        assert g.metric("sluice_shed_total", route="chat", reason="saturated") == 1

        def av():
            _, doc = harness.get_json(g.admin, "/admin/state")
            return doc["slo"]["routes"][0]["objectives"]

        wait_for(lambda: av()["availability"]["requests_total"] == 3, what="the SLO tick")
        o = av()
        # the shed is bad for availability though 429 is below 500, and has no latency to judge
        assert (o["availability"]["requests_total"], o["availability"]["good_total"]) == (3, 2)
        assert (o["latency"]["requests_total"], o["latency"]["good_total"]) == (2, 2)
        _, doc = harness.get_json(g.admin, "/admin/state")
        assert doc["shed"] == [{"route": "chat", "saturated": 1, "overloaded": 0}]
        body = g.metrics()
        check = subprocess.run(["promtool", "check", "metrics"], input=body.encode(), capture_output=True)
        assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check.stdout + check.stderr
    finally:
        g.stop()
        acc.stop()
        fast.stop()


class Load:
    """`threads` clients sending requests back to back until stopped."""

    def __init__(self, addr, threads):
        self.stopping = threading.Event()
        self.statuses = []
        self.threads = [threading.Thread(target=self.run, args=(addr,)) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, addr):
        c = keepalive(addr)
        while not self.stopping.is_set():
            status, _, _ = post(c, CHAT, chat_body(max_tokens=1))
            self.statuses.append(status)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(20)


def test_fraction_rises_under_saturation_and_returns_to_zero():
    acc = sim(*ZERO, "--ttft-ms", "200")
    fast = sim(*ZERO, "--ttft-ms", "5")
    g = Gateway(degrade_config(acc, fast, 2, 64,
                               "{ to: fast, hold: 1s, interval: 200ms, step_up: 25%, step_down: 50%, "
                               "latency_window: 1s }"))
    try:
        assert g.metric("sluice_degrade_fraction", route="chat", tier="0") == 0
        load = Load(g.addr, 6)
        wait_for(lambda: g.metric("sluice_degrade_fraction", route="chat", tier="0") >= 0.5, timeout=10,
                 what="the fraction to rise under saturation")
        d = dtier(g)
        assert d["changes"]["saturation"] >= 2 and d["last_change"] is not None
        first_up = d["changes"]["saturation"]
        load.stop()
        assert set(load.statuses) == {200}, set(load.statuses)  # spill-over and the fraction absorbed the load
        wait_for(lambda: g.metric("sluice_degrade_fraction", route="chat", tier="0") == 0, timeout=10,
                 what="the fraction to return to 0 after the load")
        d = dtier(g)
        assert d["changes"]["recovered"] >= 1 and d["changes"]["saturation"] >= first_up
        assert d["last_change"]["cause"] == "recovered" and d["last_change"]["to"] == 0
        assert d["last_change"]["relief"] is True and d["last_change"]["saturation"] == 0
        assert g.metric("sluice_degrade_changes_total", route="chat", tier="0", cause="recovered") == \
            d["changes"]["recovered"]
        routed = d["requests"]["accurate"] + d["requests"]["degraded"]
        assert routed == len(load.statuses) == sim_requests(acc) + sim_requests(fast)
        assert d["requests"]["degraded"] == sim_requests(fast)
        assert "degrade fraction 0.0% -> 25.0% (saturation" in g.stderr()
    finally:
        g.stop()
        acc.stop()
        fast.stop()
