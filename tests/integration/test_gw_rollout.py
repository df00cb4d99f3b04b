"""Canary rollouts in the running gateway (docs/ROLLOUTS.md): a healthy canary goes through its steps and is
promoted; a canary turned bad mid-rollout (POST /sim/config) is rolled back with the evidence on /admin/state and
every later request goes to stable; the admin actions; kill -9 and restart resume at the same step and weight, and
a rolled-back canary stays rolled back; a reload keeps or replaces the rollout by its canary; a sticky header keeps
a key on one version. Both simulators' own counters are checked against what sluice reports."""
import json
import os
import shutil
import subprocess
import tempfile
import threading

import harness
from gw_helpers import Gateway, chat_body, keepalive, post, raw_request, sim, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running
from sim_helpers import truth

CHAT = "/v1/chat/completions"
# the error-rate check's power requirement asks for a regression of 50 points: both versions never fail here, and the
# default (0.5 points) would hold a healthy canary for thousands of requests (test_a_healthy_canary_waits_...)
FAST_CHECKS = "{ latency: { min_samples: 5 }, error_rate: { detect_increase: 50% } }"
# both versions answer after 2 ms plus an exponential jitter of mean 3 ms: sub-millisecond differences between two
# local processes (which the latency check would rightly find) drown in it
SIM = ["--ttft-ms", "2", "--ttft-jitter-ms", "3", "--ttft-per-token-ms", "0", "--tpot-ms", "0", "--tpot-jitter-ms", "0"]


def rollout_config(stable, canary, rollout, state_dir=None, other=None, extra="", slo=None):
    text = 'server: { listen: ["127.0.0.1:0"], threads: 2 }\nadmin: { listen: 127.0.0.1:0 }\n'
    if state_dir is not None:
        text += f"state_dir: {state_dir}\n"
    text += ("backends:\n"
             f"  stable: {{ protocol: openai, endpoints: [{stable.addr}], model: sim-model{extra} }}\n"
             f"  canary: {{ protocol: openai, endpoints: [{canary.addr}], model: sim-model{extra} }}\n")
    if other is not None:
        text += f"  other: {{ protocol: openai, endpoints: [{other.addr}], model: sim-model }}\n"
    text += f"routes:\n  - name: chat\n    match: {{ path: {CHAT} }}\n"
    if slo is not None:
        text += f"    slo: {slo}\n"
    text += (
             f"    cascade:\n      - backend: stable\n        rollout: {rollout}\n")
    return text


def metric(g, name, **labels):
    """The value of the series of `name` with exactly these labels, in any order (0 when absent)."""
    want = {k: str(v) for k, v in labels.items()}
    for line in g.metrics().splitlines():
        if not line.startswith(name + "{"):
            continue
        inner, value = line[len(name) + 1:].rsplit("} ", 1)
        got = dict(kv.split("=", 1) for kv in inner.split(","))
        if {k: v.strip('"') for k, v in got.items()} == want:
            return float(value)
    return 0.0


def rollouts(g):
    status, doc = harness.get_json(g.admin, "/admin/state")
    assert status == 200
    return doc["rollouts"]


def rollout(g):
    r = rollouts(g)
    assert len(r) == 1, r
    return r[0]


def verdict(r, name):
    return next(v for v in r["verdicts"] if v["verdict"] == name)


def action(g, what, tier="0", route="chat"):
    status, _, body = harness.request(g.admin, "POST", f"/admin/rollouts/{route}/{tier}/{what}", body=b"")
    return status, body


def sim_requests(s):
    return harness.get_json(s.addr, "/sim/stats")[1]["requests"]


class Traffic:
    """Requests sent one after another on a keep-alive connection until stopped; counts answers by backend."""

    def __init__(self, addr, headers=None):
        self.addr, self.headers = addr, headers
        self.by_backend, self.statuses = {}, {}
        self.done = threading.Event()
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        c = keepalive(self.addr)
        while not self.done.is_set():
            status, headers, _ = post(c, CHAT, chat_body(max_tokens=1), headers=self.headers)
            b = headers.get("x-sluice-backend")
            self.by_backend[b] = self.by_backend.get(b, 0) + 1
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def stop(self):
        self.done.set()
        self.t.join(20)
        assert not self.t.is_alive()


def test_a_healthy_canary_is_promoted_step_by_step():
    stable, canary = sim(*SIM), sim(*SIM)
    g = Gateway(rollout_config(stable, canary,
                               f"{{ canary: canary, steps: [20%, 50%, 100%], interval: 1s, min_samples: 20, "
                               f"checks: {FAST_CHECKS} }}"))
    try:
        t = Traffic(g.addr)
        seen = set()

        def promoted():
            r = rollout(g)
            seen.add((r["phase"], r["step"], r["weight_permille"]))
            return r["phase"] == "promoted"
        wait_for(promoted, timeout=30, what="the rollout promoted")
        t.stop()
        assert ("progressing", 0, 200) in seen or ("progressing", 1, 500) in seen, seen
        r = rollout(g)
        assert r["weight_permille"] == 1000 and r["canary"] == "canary" and r["backend"] == "stable"
        events = [e["event"] for e in r["history"]]
        assert events[0] == "start" and "advance" in events and events[-1] == "promote", events
        assert all(e["cause"] == "analysis" for e in r["history"])
        assert t.statuses == {200: sum(t.statuses.values())}
        assert t.by_backend.get("canary", 0) > 0 and t.by_backend.get("stable", 0) > 0
        # the simulators saw what sluice says it sent
        assert sim_requests(canary) == t.by_backend["canary"] and sim_requests(stable) == t.by_backend["stable"]
        # promoted: every request goes to the canary
        c = keepalive(g.addr)
        for _ in range(20):
            status, headers, _ = post(c, CHAT, chat_body(max_tokens=1))
            assert status == 200 and headers["x-sluice-backend"] == "canary"
        assert metric(g, "sluice_rollout_weight", route="chat", backend="stable", canary="canary") == 1
        assert metric(g, "sluice_rollout_state", route="chat", backend="stable", canary="canary", state="promoted") == 1
        assert metric(g, "sluice_rollout_rollbacks_total", route="chat", backend="stable", canary="canary") == 0
        assert metric(g, "sluice_rollout_outcomes_dropped_total", route="chat", backend="stable", canary="canary") == 0
        assert metric(g, "sluice_rollout_state_write_failures_total", route="chat", backend="stable", canary="canary") == 0
        assert "sluice_rollout_outcomes_dropped_total{" in g.metrics()
        check = subprocess.run(["promtool", "check", "metrics"], input=g.metrics().encode(), capture_output=True)
        assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check.stdout + check.stderr
    finally:
        g.stop()
        stable.stop()
        canary.stop()


def test_a_canary_turned_bad_mid_rollout_is_rolled_back():
    stable, canary = sim(*SIM), sim(*SIM)
    # min_samples out of reach: the rollout stays at its first step until the canary goes bad
    g = Gateway(rollout_config(stable, canary,
                               f"{{ canary: canary, steps: [30%, 60%], interval: 1s, min_samples: 1000000, "
                               f"checks: {FAST_CHECKS} }}"))
    try:
        t = Traffic(g.addr)
        wait_for(lambda: rollout(g)["step_canary_requests"] >= 50, timeout=20, what="canary traffic at step 0")
        assert rollout(g)["phase"] == "progressing"
        status = harness.post_json(canary.addr, "/sim/config", {"error_rate": 1.0})[0]
        assert status == 200
        wait_for(lambda: rollout(g)["phase"] == "rolled_back", timeout=20, what="the rollback")
        before = dict(t.by_backend)
        wait_for(lambda: sum(t.by_backend.values()) >= sum(before.values()) + 50, what="traffic after the rollback")
        t.stop()
        r = rollout(g)
        assert r["weight_permille"] == 0
        ev = r["history"][-1]
        assert ev["event"] == "rollback" and ev["cause"] == "analysis"
        assert ev["from"]["weight_permille"] == 300 and ev["to"]["weight_permille"] == 0
        failing = [v for v in ev["evidence"] if v["outcome"] == "fail"]
        assert failing and failing[0]["verdict"] == "error_rate", ev["evidence"]
        assert failing[0]["canary"] > failing[0]["stable"] and failing[0]["n_canary"] > 0
        # the bad canary's answers (502; 503 once its endpoint was ejected) reached clients until the rollback
        assert sum(n for status, n in t.statuses.items() if status >= 500) > 0, t.statuses
        # afterwards all traffic is on stable
        c = keepalive(g.addr)
        n_canary = sim_requests(canary)
        for _ in range(30):
            status, headers, _ = post(c, CHAT, chat_body(max_tokens=1))
            assert status == 200 and headers["x-sluice-backend"] == "stable"
        assert sim_requests(canary) == n_canary
        labels = {"route": "chat", "backend": "stable", "canary": "canary"}
        assert metric(g, "sluice_rollout_rollbacks_total", **labels) == 1
        assert metric(g, "sluice_rollout_state", state="rolled_back", **labels) == 1
        assert metric(g, "sluice_rollout_weight", **labels) == 0
        assert metric(g, "sluice_rollout_verdicts_total", check="error_rate", outcome="fail", **labels) >= 1
    finally:
        g.stop()
        stable.stop()
        canary.stop()


def test_admin_actions():
    stable, canary = sim(*SIM), sim(*SIM)
    g = Gateway(rollout_config(stable, canary, "{ canary: canary, steps: [10%, 50%], interval: 1h, min_samples: 10 }"))
    try:
        wait_for(lambda: rollout(g)["phase"] == "progressing", what="the rollout started")
        assert action(g, "resume")[0] == 409
        assert action(g, "restart")[0] == 409
        assert action(g, "frobnicate")[0] == 404
        assert action(g, "pause", route="nope")[0] == 404
        assert action(g, "pause", tier="3")[0] == 404
        status, body = action(g, "pause", tier="stable")  # a tier by its backend's name
        assert status == 200, body
        r = rollout(g)
        assert r["phase"] == "paused" and r["weight_permille"] == 100
        assert action(g, "resume")[0] == 200
        assert rollout(g)["phase"] == "progressing"
        assert action(g, "rollback")[0] == 200
        r = rollout(g)
        assert r["phase"] == "rolled_back" and r["weight_permille"] == 0 and r["history"][-1]["cause"] == "operator"
        assert action(g, "promote")[0] == 409
        assert action(g, "restart")[0] == 200
        wait_for(lambda: rollout(g)["phase"] == "progressing", what="the restarted rollout")
        assert rollout(g)["generation"] == 2
        assert action(g, "promote")[0] == 200
        r = rollout(g)
        assert r["phase"] == "promoted" and r["weight_permille"] == 1000
        c = keepalive(g.addr)
        status, headers, _ = post(c, CHAT, chat_body(max_tokens=1))
        assert status == 200 and headers["x-sluice-backend"] == "canary"
    finally:
        g.stop()
        stable.stop()
        canary.stop()


def test_admin_actions_need_the_token():
    stable, canary = sim(*SIM), sim(*SIM)
    d = tempfile.mkdtemp(prefix="sluice-rollout-")
    token = os.path.join(d, "token")
    with open(token, "w") as f:
        f.write("s3cret\n")
    text = rollout_config(stable, canary, "{ canary: canary, steps: [10%, 50%], interval: 1h }")
    text = text.replace("admin: { listen: 127.0.0.1:0 }", f"admin: {{ listen: 127.0.0.1:0, token_file: {token} }}")
    g = Gateway(text)
    try:
        status, _, _ = harness.request(g.admin, "POST", "/admin/rollouts/chat/0/pause", body=b"")
        assert status == 401
        status, _, _ = harness.request(g.admin, "POST", "/admin/rollouts/chat/0/pause", body=b"",
                                       headers={"Authorization": "Bearer s3cret"})
        assert status == 200
    finally:
        g.stop()
        stable.stop()
        canary.stop()
        shutil.rmtree(d)


def test_kill_9_resumes_at_the_same_step_and_a_rollback_survives():
    stable, canary = sim(*SIM), sim(*SIM)
    d = tempfile.mkdtemp(prefix="sluice-rollout-")
    text = rollout_config(stable, canary,
                          f"{{ canary: canary, steps: [20%, 40%, 60%], interval: 1s, min_samples: 20, "
                          f"checks: {FAST_CHECKS} }}", state_dir=d)
    g = Gateway(text)
    try:
        t = Traffic(g.addr)
        wait_for(lambda: rollout(g)["step"] >= 1, timeout=20, what="the second step")
        t.stop()  # without traffic the rollout cannot move on
        r = rollout(g)
        assert r["phase"] == "progressing"
        step, weight = r["step"], r["weight_permille"]
        g.kill9()
        g2 = Gateway(text)
        r2 = rollout(g2)
        assert (r2["phase"], r2["step"], r2["weight_permille"]) == ("progressing", step, weight)
        assert r2["history"][-1]["event"] == "restored"
        assert action(g2, "rollback")[0] == 200
        g2.kill9()
        g3 = Gateway(text)
        r3 = rollout(g3)
        assert r3["phase"] == "rolled_back" and r3["weight_permille"] == 0
        c = keepalive(g3.addr)
        for _ in range(20):
            status, headers, _ = post(c, CHAT, chat_body(max_tokens=1))
            assert status == 200 and headers["x-sluice-backend"] == "stable"
        g3.stop()
    finally:
        stable.stop()
        canary.stop()
        shutil.rmtree(d)


def test_reload_keeps_the_rollout_unless_the_canary_changes():
    stable, canary, other = sim(*SIM), sim(*SIM), sim(*SIM)
    text = rollout_config(stable, canary, "{ canary: canary, steps: [10%, 50%], interval: 1h }", other=other)
    g = Gateway(text)
    try:
        wait_for(lambda: rollout(g)["phase"] == "progressing", what="the rollout started")
        assert action(g, "pause")[0] == 200
        g.rewrite(text.replace("interval: 1h", "interval: 30m"))
        assert harness.request(g.admin, "POST", "/admin/reload", body=b"")[0] == 200
        r = rollout(g)
        assert r["phase"] == "paused" and r["canary"] == "canary"
        g.rewrite(text.replace("canary: canary,", "canary: other,"))
        assert harness.request(g.admin, "POST", "/admin/reload", body=b"")[0] == 200
        r = rollout(g)
        assert r["canary"] == "other" and r["history"][-1]["event"] == "new_canary"
        wait_for(lambda: rollout(g)["phase"] == "progressing", what="the new rollout started")
    finally:
        g.stop()
        stable.stop()
        canary.stop()
        other.stop()


def test_a_sticky_header_keeps_each_key_on_one_version():
    stable, canary = sim(*SIM), sim(*SIM)
    g = Gateway(rollout_config(stable, canary,
                               "{ canary: canary, steps: [50%, 90%], interval: 1h, sticky: 'header:x-user' }"))
    try:
        wait_for(lambda: rollout(g)["weight_permille"] == 500, what="the rollout at 50%")
        c = keepalive(g.addr)
        versions = {}
        for rep in range(4):
            for u in range(24):
                status, headers, _ = post(c, CHAT, chat_body(max_tokens=1), headers={"x-user": f"user-{u}"})
                assert status == 200
                versions.setdefault(u, set()).add(headers["x-sluice-backend"])
        assert all(len(v) == 1 for v in versions.values()), versions
        picked = {next(iter(v)) for v in versions.values()}
        assert picked == {"stable", "canary"}  # 24 keys all on one side at 50%: odds 2^-23
    finally:
        g.stop()
        stable.stop()
        canary.stop()


def test_a_sticky_cookie_is_found_across_several_cookie_fields():
    stable, canary = sim(*SIM), sim(*SIM)
    g = Gateway(rollout_config(stable, canary, "{ canary: canary, steps: [50%, 90%], interval: 1h, sticky: 'cookie:uid' }"))
    try:
        wait_for(lambda: rollout(g)["weight_permille"] == 500, what="the rollout at 50%")
        c = keepalive(g.addr)
        body = json.dumps(chat_body(max_tokens=1)).encode()
        picked = set()
        for u in range(24):
            status, headers, _ = post(c, CHAT, chat_body(max_tokens=1), headers={"cookie": f"a=1; uid=user-{u}; b=2"})
            assert status == 200
            want = headers["x-sluice-backend"]
            picked.add(want)
            for rep in range(2):
                # the cookie split over two fields, the key in the second: found only when the fields are joined
                line, h, _ = raw_request(g.addr, (f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                                  f"Cookie: a=1\r\nCookie: uid=user-{u}; b=2\r\n"
                                                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
                                         + body)
                assert " 200 " in line and h["x-sluice-backend"] == [want], (u, line, h)
        assert picked == {"stable", "canary"}  # 24 keys all on one side at 50%: odds 2^-23
    finally:
        g.stop()
        stable.stop()
        canary.stop()


def test_an_exhausted_error_budget_holds_promotion():
    # both versions fail 30% of their answers: no regression of the canary, but the route's 99% availability budget
    # is spent, so the rollout may not move past its first step
    stable, canary = sim(*SIM, "--error-rate", "0.3"), sim(*SIM, "--error-rate", "0.3")
    g = Gateway(rollout_config(stable, canary,
                               f"{{ canary: canary, steps: [20%, 50%], interval: 1s, min_samples: 20, "
                               f"checks: {FAST_CHECKS} }}",
                               extra=", outlier: { consecutive_failures: 0 }", slo="{ availability: 99% }"))
    try:
        t = Traffic(g.addr)
        wait_for(lambda: rollout(g)["hold"] == "budget", timeout=20, what="the rollout held by the error budget")
        first = rollout(g)["next_analysis_ms"]
        wait_for(lambda: rollout(g)["next_analysis_ms"] >= first + 2000, timeout=20, what="two more analyses")
        t.stop()
        r = rollout(g)
        assert (r["phase"], r["step"], r["weight_permille"], r["hold"]) == ("progressing", 0, 200, "budget"), r
        assert r["step_canary_requests"] >= 20
        assert any(e["event"] == "hold" and e["hold"] == "budget" for e in r["history"])
    finally:
        g.stop()
        stable.stop()
        canary.stop()


def test_a_failing_canary_rolls_back_even_when_the_cascade_hides_its_failures():
    # tier 0 rolls out a canary that fails every answer; each failure escalates to tier 1, so clients only ever get
    # 200, and the rollout must still see the canary's failed attempts
    stable, canary, big = sim(*SIM), sim(*SIM, "--error-rate", "1"), sim(*SIM)
    text = rollout_config(stable, canary, f"{{ canary: canary, steps: [30%, 60%], interval: 1s, min_samples: 1000000, "
                                          f"checks: {FAST_CHECKS} }}", other=big)
    text = text.replace("  other:", "  big:") + "      - backend: big\n"
    g = Gateway(text)
    try:
        t = Traffic(g.addr)
        wait_for(lambda: rollout(g)["phase"] == "rolled_back", timeout=20, what="the rollback")
        t.stop()
        assert list(t.statuses) == [200], t.statuses
        ev = rollout(g)["history"][-1]
        assert ev["event"] == "rollback" and ev["from"]["weight_permille"] == 300
        failing = [v for v in ev["evidence"] if v["outcome"] == "fail"]
        assert failing and failing[0]["verdict"] == "error_rate" and failing[0]["canary"] == 1.0, ev["evidence"]
        assert sim_requests(big) > 0
    finally:
        g.stop()
        stable.stop()
        canary.stop()
        big.stop()


def test_a_healthy_canary_waits_until_a_regression_could_have_shown():
    # the error-rate check has no data until its test could have caught a canary failing 10 points more often than
    # stable: the first step holds ("no_data") past min_samples, then advances with the check passing
    stable, canary = sim(*SIM), sim(*SIM)
    g = Gateway(rollout_config(stable, canary,
                               "{ canary: canary, steps: [20%, 50%], interval: 1s, min_samples: 5, "
                               "checks: { latency: { min_samples: 5 }, error_rate: { detect_increase: 10% } } }"))
    try:
        t = Traffic(g.addr)
        wait_for(lambda: rollout(g)["phase"] == "promoted", timeout=30, what="the rollout promoted")
        t.stop()
        history = rollout(g)["history"]
        holds = [e for e in history if e["event"] == "hold" and e["hold"] == "no_data"]
        assert holds and holds[0]["from"]["step"] == 0, history
        held = {v["verdict"]: v for v in holds[0]["evidence"]}
        assert held["error_rate"]["outcome"] == "no_data" and held["latency"]["outcome"] == "pass", held
        advance = next(e for e in history if e["event"] == "advance")
        passed = {v["verdict"]: v for v in advance["evidence"]}
        # with no failure anywhere, about 58 canary requests at 20 % carry the evidence (docs/ROLLOUTS.md §3)
        assert passed["error_rate"]["outcome"] == "pass" and passed["error_rate"]["n_canary"] >= 30, passed
        assert held["error_rate"]["n_canary"] >= 5 and held["error_rate"]["n_canary"] < passed["error_rate"]["n_canary"]
        assert t.statuses == {200: sum(t.statuses.values())}
    finally:
        g.stop()
        stable.stop()
        canary.stop()


def test_a_cascade_through_two_rollout_tiers_reports_to_both():
    # tier 0's canary fails every answer, which escalates to tier 1, itself rolling out a canary: tier 0's rollout
    # must see the failures, and tier 1's every request that reached it
    s0, c0, s1, c1 = sim(*SIM), sim(*SIM, "--error-rate", "1"), sim(*SIM), sim(*SIM)
    text = ('server: { listen: ["127.0.0.1:0"], threads: 2 }\nadmin: { listen: 127.0.0.1:0 }\nbackends:\n' +
            "".join(f"  {n}: {{ protocol: openai, endpoints: [{b.addr}], model: sim-model, "
                    f"outlier: {{ consecutive_failures: 0 }} }}\n"
                    for n, b in (("s0", s0), ("c0", c0), ("s1", s1), ("c1", c1))) +
            f"routes:\n  - name: chat\n    match: {{ path: {CHAT} }}\n    cascade:\n"
            f"      - backend: s0\n        rollout: {{ canary: c0, steps: [30%, 60%], interval: 1s, "
            f"min_samples: 1000000, checks: {FAST_CHECKS} }}\n"
            f"      - backend: s1\n        rollout: {{ canary: c1, steps: [50%], interval: 1s, "
            f"min_samples: 1000000, checks: {FAST_CHECKS} }}\n")
    g = Gateway(text)
    try:
        t = Traffic(g.addr)

        def tier(name):
            return next(r for r in rollouts(g) if r["backend"] == name)
        wait_for(lambda: tier("s0")["phase"] == "rolled_back", timeout=20, what="tier 0's rollback")
        t.stop()
        assert list(t.statuses) == [200], t.statuses
        failing = [v for v in tier("s0")["history"][-1]["evidence"] if v["outcome"] == "fail"]
        assert failing and failing[0]["verdict"] == "error_rate" and failing[0]["canary"] == 1.0, failing
        reached = sim_requests(s1) + sim_requests(c1)
        assert reached > 0 and sim_requests(c1) > 0

        def tier1_saw_all():
            v = verdict(tier("s1"), "error_rate")
            return v["n_canary"] + v["n_stable"] == reached and v["n_canary"] == sim_requests(c1)
        wait_for(tier1_saw_all, timeout=10, what="tier 1's rollout counting every request that reached it")
        assert tier("s1")["phase"] == "progressing"
        # tier 0 counted the canary's failed attempts up to its rollback (one in flight may land after it)
        v0 = verdict(tier("s0"), "error_rate")
        assert 0 < v0["n_canary"] <= sim_requests(c0) <= v0["n_canary"] + 2 and v0["canary"] == 1.0, v0
    finally:
        g.stop()
        for b in (s0, c0, s1, c1):
            b.stop()


def test_a_less_accurate_canary_is_rolled_back_from_labelled_answers():
    # both versions classify; the canary is right half the time, stable 95 %: once the labels arrive through
    # POST /v1/feedback, the feedback_accuracy check (critical here) rolls the canary back with the exact counts
    stable = sim(*SIM, "--accuracy", "0.95", "--seed", "3")
    canary = sim(*SIM, "--accuracy", "0.5", "--seed", "4")
    text = rollout_config(stable, canary,
                          "{ canary: canary, steps: [50%], interval: 1s, min_samples: 1000000, "
                          "critical: [error_rate, feedback_accuracy], checks: { latency: { min_samples: 5 }, "
                          "error_rate: { detect_increase: 50% }, feedback_accuracy: { min_samples: 40 } } }")
    text += ("    monitor:\n      prediction: { label: /choices/0/message/content }\n"
             "      feedback: { task: classification, labels: [positive, negative], horizon: 1h }\n")
    g = Gateway(text)
    try:
        wait_for(lambda: rollout(g)["phase"] == "progressing", timeout=10, what="the start")
        c = keepalive(g.addr)
        answers = []
        for i in range(240):
            body = {"model": "sim-model", "messages": [{"role": "user", "content": f"classify: item {i:05d}"}]}
            status, headers, _ = post(c, CHAT, body)
            assert status == 200
            answers.append((headers["x-request-id"], f"item {i:05d}", headers["x-sluice-backend"],
                            headers["x-sim-correct"] == "1"))
        r = rollout(g)
        assert r["phase"] == "progressing" and verdict(r, "feedback_accuracy")["outcome"] == "no_data", r["verdicts"]
        status, _, doc, raw = harness.post_json(g.addr, "/v1/feedback",
                                                [{"id": rid, "label": truth(t)} for rid, t, _, _ in answers])
        assert status == 200 and doc["counts"]["joined"] == len(answers), raw
        wait_for(lambda: rollout(g)["phase"] == "rolled_back", timeout=10, what="the rollback")
        ev = rollout(g)["history"][-1]
        failing = [v for v in ev["evidence"] if v["outcome"] == "fail"]
        assert failing and failing[0]["verdict"] == "feedback_accuracy", ev["evidence"]
        v = failing[0]
        by = {b: [a for a in answers if a[2] == b] for b in ("stable", "canary")}
        assert v["n_canary"] == len(by["canary"]) and v["n_stable"] == len(by["stable"]), v
        assert abs(v["canary"] - sum(a[3] for a in by["canary"]) / len(by["canary"])) < 1e-12, v
        assert abs(v["stable"] - sum(a[3] for a in by["stable"]) / len(by["stable"])) < 1e-12, v
        assert v["effect"] >= 0.02 and v["p_value"] <= v["threshold"], v
    finally:
        g.stop()
        stable.stop()
        canary.stop()
