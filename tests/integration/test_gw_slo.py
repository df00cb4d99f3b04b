"""SLO tracking in the running gateway (docs/SLO.md): exact counts, budgets and burn rates on /admin/state and
/metrics after known traffic (a latency threshold between two simulators' latencies, availability against an
error-injecting simulator, TTFT of streams only), the metric names `sluice rules` relies on, counters across a
reload, and the error budgets' state file: kept across a restart, at most one interval lost to kill -9, a corrupt
file set aside with a log line while the gateway serves, an unusable state_dir refused at start."""
import json
import os
import re
import signal
import subprocess
import threading

import harness
from gw_helpers import ZERO, Gateway, chat_body, keepalive, post, sim, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running

CHAT = "/v1/chat/completions"


def slo_config(routes, backends, extra=""):
    """routes: list of (name, header value of x-route, backend, slo YAML)."""
    text = 'server: { listen: ["127.0.0.1:0"], threads: 2 }\nadmin: { listen: 127.0.0.1:0 }\n' + extra
    text += "backends:\n" + "".join(f"  {n}: {{ protocol: openai, endpoints: [{a}], model: sim-model, "
                                     f"outlier: {{ consecutive_failures: 0 }} }}\n" for n, a in backends)
    text += "routes:\n"
    for name, key, backend, slo in routes:
        text += (f"  - {{ name: {name}, match: {{ path: {CHAT}, headers: {{ x-route: {key} }} }}, slo: {slo}, "
                 f"cascade: [ {{ backend: {backend} }} ] }}\n")
    return text


def state(g):
    status, doc = harness.get_json(g.admin, "/admin/state")
    assert status == 200
    return doc


def objective(g, route, name):
    for r in state(g)["slo"]["routes"]:
        if r["route"] == route:
            return r["objectives"][name]
    raise KeyError(route)


def send(g, key, n, **extra):
    """n requests on one keep-alive connection with x-route: key; returns their statuses."""
    c = keepalive(g.addr)
    out = []
    for _ in range(n):
        status, _, _ = post(c, CHAT, chat_body(max_tokens=2, **extra), headers={"x-route": key})
        out.append(status)
    c.close()
    return out


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def test_counts_budgets_and_burn_rates_are_exact():
    fast = sim(*ZERO)
    slow = sim(*ZERO, "--ttft-ms", "300")
    flaky = sim(*ZERO, "--error-rate", "0.5", "--seed", "11")
    lat = "{ availability: 99%, latency: { threshold: 100ms, target: 99% }, ttft: { threshold: 100ms, target: 95% }, window: 7d }"
    g = Gateway(slo_config([("fast", "fast", "f", lat), ("slow", "slow", "s", lat),
                            ("flaky", "flaky", "e", "{ availability: 90%, window: 30d }")],
                           [("f", fast.addr), ("s", slow.addr), ("e", flaky.addr)]))
    try:
        assert send(g, "fast", 10) == [200] * 10
        assert send(g, "fast", 3, stream=True) == [200] * 3
        assert send(g, "slow", 4) == [200] * 4
        flaky_statuses = send(g, "flaky", 20)
        bad = sum(1 for s in flaky_statuses if s >= 500)
        assert 0 < bad < 20 and all(s in (200, 502) for s in flaky_statuses), flaky_statuses

        wait_for(lambda: objective(g, "flaky", "availability")["requests_total"] == 20, what="the SLO tick")
        wait_for(lambda: objective(g, "fast", "availability")["requests_total"] == 13, what="the SLO tick")
        f_av, f_lat, f_ttft = (objective(g, "fast", o) for o in ("availability", "latency", "ttft"))
        assert (f_av["requests_total"], f_av["good_total"]) == (13, 13)
        assert (f_lat["requests_total"], f_lat["good_total"]) == (13, 13)
        assert (f_ttft["requests_total"], f_ttft["good_total"]) == (3, 3)  # streams only
        assert f_av["window"] == {"good": 13, "total": 13} and f_av["budget_remaining"] == 1
        assert f_av["burn_rates"]["5m"] == 0 and not f_av["page"]
        assert f_av["restored"] is False and f_av["reset_reason"] == "no state file"

        s_av, s_lat = objective(g, "slow", "availability"), objective(g, "slow", "latency")
        assert (s_av["requests_total"], s_av["good_total"]) == (4, 4)
        assert (s_lat["requests_total"], s_lat["good_total"]) == (4, 0)  # 300 ms > 100 ms, every one
        assert s_lat["threshold_us"] == 100000 and s_lat["window"] == {"good": 0, "total": 4}
        assert close(s_lat["allowed_bad"], 0.04)
        assert close(s_lat["budget_remaining"], 1 - 4 / 0.04)  # -99
        assert all(close(v, 100.0) for v in s_lat["burn_rates"].values())  # (4/4) / 1%
        assert s_lat["page"] and s_lat["ticket"] and s_lat["rules"]["page_1h"]["firing"]
        assert close(s_lat["rules"]["page_1h"]["threshold"], 0.02 * 7 * 24)  # share x period / long window

        e_av = objective(g, "flaky", "availability")
        assert (e_av["requests_total"], e_av["good_total"]) == (20, 20 - bad)
        assert close(e_av["budget_remaining"], 1 - bad / (0.1 * 20))
        assert close(e_av["burn_rates"]["1h"], (bad / 20) / 0.1)

        body = g.metrics()
        check = subprocess.run(["promtool", "check", "metrics"], input=body.encode(), capture_output=True)
        assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check.stdout + check.stderr
        assert g.metric("sluice_slo_requests_total", route="fast", objective="ttft") == 3
        assert g.metric("sluice_slo_good_total", route="slow", objective="latency") == 0
        assert g.metric("sluice_slo_requests_total", route="flaky", objective="availability") == 20
        assert g.metric("sluice_slo_good_total", route="flaky", objective="availability") == 20 - bad
        assert close(g.metric("sluice_slo_budget_remaining", route="slow", objective="latency"), -99.0)
        assert close(g.metric("sluice_slo_burn_rate", route="slow", objective="latency", window="5m"), 100.0)
        assert g.metric("sluice_slo_alert", route="slow", objective="latency", severity="page") == 1
        assert g.metric("sluice_slo_alert", route="fast", objective="latency", severity="page") == 0
        assert g.metric("sluice_slo_objective", route="flaky", objective="availability") == 0.9
        assert g.metric("sluice_shed_total", route="flaky", reason="overloaded") == 0

        # every series `sluice rules` reads from this config is one the gateway exports
        rules = subprocess.run([harness.SLUICE, "rules", "-c", g.config_path], capture_output=True, text=True)
        assert rules.returncode == 0, rules.stderr
        read = set(re.findall(r"\b(sluice_[a-z_]+)\{", rules.stdout))
        assert read == {"sluice_slo_good_total", "sluice_slo_requests_total"}, read
        exported = {line.split("{")[0] for line in body.splitlines() if line and not line.startswith("#")}
        assert read <= exported
    finally:
        g.stop()
        for s in (fast, slow, flaky):
            s.stop()


def test_counters_and_budgets_survive_a_reload_with_requests_in_flight():
    fast = sim(*ZERO)
    slow = sim(*ZERO, "--ttft-ms", "1500")
    slo = "{ availability: 99%, window: 1d }"
    g = Gateway(slo_config([("a", "a", "f", slo), ("b", "b", "s", slo)], [("f", fast.addr), ("s", slow.addr)]))
    try:
        assert send(g, "a", 5) == [200] * 5
        # a request of the old generation still in flight across the reload
        late = []
        t = threading.Thread(target=lambda: late.extend(send(g, "b", 1)))
        t.start()
        wait_for(lambda: harness.get_json(slow.addr, "/sim/stats")[1]["in_flight"] == 1, what="the slow request")
        g.rewrite(slo_config([("a", "a", "f", "{ availability: 99.5%, window: 1d }"), ("b", "b", "s", slo),
                              ("c", "c", "f", slo)], [("f", fast.addr), ("s", slow.addr)]))
        g.signal(signal.SIGHUP)
        wait_for(lambda: g.metric("sluice_config_generation") == 2, what="the reload")
        assert send(g, "a", 2) == [200] * 2
        t.join(10)
        assert late == [200]
        wait_for(lambda: objective(g, "b", "availability")["requests_total"] == 1, what="the late request")
        wait_for(lambda: objective(g, "a", "availability")["requests_total"] == 7, what="the counts after the reload")
        a = objective(g, "a", "availability")
        assert a["window"] == {"good": 7, "total": 7} and a["target"] == 0.995
        assert a["restore_note"] == "target changed from 99% to 99.5%: counts kept"
        assert objective(g, "b", "availability")["window"] == {"good": 1, "total": 1}
        assert objective(g, "c", "availability")["reset_reason"] == "new objective"
        assert g.metric("sluice_slo_requests_total", route="a", objective="availability") == 7
    finally:
        g.stop()
        fast.stop()
        slow.stop()


def persisted_config(s, state_dir, interval="1s"):
    return slo_config([("chat", "x", "f", "{ availability: 99%, window: 1d }")], [("f", s.addr)],
                      extra=f"state_dir: {state_dir}\nstate_interval: {interval}\n")


def test_budgets_survive_a_restart(tmp_path):
    s = sim(*ZERO, "--error-rate", "0.3", "--seed", "5")
    text = persisted_config(s, tmp_path / "state", interval="1h")  # only the shutdown writes
    g = Gateway(text)
    try:
        statuses = send(g, "x", 12)
        bad = sum(1 for x in statuses if x >= 500)
        wait_for(lambda: objective(g, "chat", "availability")["requests_total"] == 12, what="the SLO tick")
    finally:
        g.stop()
    with open(g.log_path) as f:
        assert "error budgets written to" in f.read()
    g = Gateway(text)
    try:
        av = objective(g, "chat", "availability")
        assert av["window"] == {"good": 12 - bad, "total": 12}
        assert av["restored"] is True and av["reset_reason"] is None
        assert av["requests_total"] == 0  # Prometheus counters are the process's own
        assert "restored 1 objectives, dropped 0" in g.stderr()
        more = send(g, "x", 4)
        wait_for(lambda: objective(g, "chat", "availability")["window"]["total"] == 16, what="the new requests")
        assert objective(g, "chat", "availability")["window"]["good"] == 12 - bad + more.count(200)
    finally:
        g.stop()
        s.stop()


def test_kill_9_loses_at_most_one_interval(tmp_path):
    s = sim(*ZERO)
    text = persisted_config(s, tmp_path / "state")
    g = Gateway(text)
    try:
        assert send(g, "x", 5) == [200] * 5
        wait_for(lambda: objective(g, "chat", "availability")["requests_total"] == 5, what="the SLO tick")
        writes = state(g)["state_file"]["writes"]
        # the next write after the tick that counted them holds them (writes happen one interval apart)
        wait_for(lambda: state(g)["state_file"]["writes"] >= writes + 1, timeout=5, what="a write")
        assert send(g, "x", 3) == [200] * 3
        g.kill9()
    except BaseException:
        g.stop()
        raise
    g = Gateway(text)
    try:
        total = objective(g, "chat", "availability")["window"]["total"]
        assert 5 <= total <= 8, total  # at most the requests of the last interval are lost
    finally:
        g.stop()
        s.stop()


def test_a_corrupt_state_file_is_set_aside_and_the_gateway_serves(tmp_path):
    s = sim(*ZERO)
    d = tmp_path / "state"
    d.mkdir()
    (d / "slo.state").write_bytes(b"SLST" + os.urandom(60))
    g = Gateway(persisted_config(s, d))
    try:
        log = g.stderr()
        assert re.search(r"error \[persist\] .*slo\.state: .*set aside as .*slo\.state\.corrupt-\d+", log), log
        aside = [f for f in os.listdir(d) if f.startswith("slo.state.corrupt-")]
        assert len(aside) == 1 and (d / aside[0]).read_bytes()[:4] == b"SLST"
        assert send(g, "x", 3) == [200] * 3
        av = objective(g, "chat", "availability")
        assert av["restored"] is False and av["reset_reason"].startswith("state file set aside: ")
        assert aside[0] in av["reset_reason"]
        wait_for(lambda: objective(g, "chat", "availability")["window"]["total"] == 3, what="the SLO tick")
        wait_for(lambda: (d / "slo.state").exists(), timeout=5, what="a new state file")
    finally:
        g.stop()
        s.stop()


def test_an_unusable_state_dir_is_refused_at_start(tmp_path):
    s = sim(*ZERO)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cfg = tmp_path / "g.yaml"
    cfg.write_text(persisted_config(s, blocker / "state"))
    try:
        out = subprocess.run([harness.SLUICE, "run", "-c", str(cfg)], capture_output=True, text=True, timeout=20)
        assert out.returncode == 1
        assert f"state_dir {blocker / 'state'}" in out.stderr, out.stderr
    finally:
        s.stop()
