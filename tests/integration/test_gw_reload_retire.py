"""Reloads that take away what the SLO, accuracy-scaling, rollout and monitoring families describe: a reload that
keeps a route but removes its slo / degrade / rollout / monitor block, one that renames the routes, one that
removes them. The series of what no longer exists leave /metrics (the data-plane rule: once no request of the
config that named them runs any more) and their entries leave /admin/state; what still exists keeps its state as
documented (the SLO budget of a route that stays, a rollout that comes back where it was); `promtool check
metrics` has nothing to say after each reload. A reload refused after its config was built (a monitor reference
file that is missing) leaves the running SLO budgets and degrade tiers as they were."""
import re
import subprocess
import tempfile

import harness
from gw_helpers import ZERO, Gateway, chat_body, sim, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running

CHAT = "/v1/chat/completions"
SLO = "{ availability: 99% }"
ROLLOUT = "{ canary: fast, steps: [10%, 50%], interval: 1h }"
MONITOR = ("{ features: [ { name: output_tokens } ], reference: { baseline: 1m, baseline_samples: 400 }, "
           "window: 1m, min_samples: 100 }")
# the families whose series each block brings (by their route label)
FAMILIES = {
    "slo": ("sluice_slo_requests_total", "sluice_slo_objective", "sluice_slo_alert", "sluice_degrade_fraction",
            "sluice_degrade_changes_total", "sluice_variant_requests_total", "sluice_degrade_spillovers_total"),
    "ro": ("sluice_rollout_weight", "sluice_rollout_state", "sluice_rollout_step", "sluice_rollout_rollbacks_total",
           "sluice_rollout_outcomes_dropped_total", "sluice_rollout_state_write_failures_total"),
    "mon": ("sluice_monitor_requests_total", "sluice_drift_state"),
}


def route_yaml(name, kind, blocks):
    text = f"  - name: {name}\n    match: {{ headers: {{ x-r: {kind} }} }}\n"
    if kind == "slo":
        if blocks:
            text += f"    slo: {SLO}\n"
        return text + "    cascade: [ { backend: acc" + (", degrade: { to: fast }" if blocks else "") + " } ]\n"
    if kind == "ro":
        return text + "    cascade: [ { backend: acc" + (f", rollout: {ROLLOUT}" if blocks else "") + " } ]\n"
    text += "    cascade: [ { backend: acc } ]\n"
    return text + (f"    monitor: {MONITOR}\n" if blocks else "")


def retire_config(s, state_dir, routes):
    """routes: (name, kind, with its block) for kinds slo, ro and mon; a route `keep` with an SLO always comes last."""
    text = ('server: { listen: ["127.0.0.1:0"], threads: 2 }\nadmin: { listen: 127.0.0.1:0 }\n'
            f"state_dir: {state_dir}\nstate_interval: 1s\nbackends:\n"
            f"  acc: {{ protocol: openai, endpoints: [{s.addr}], model: sim-model }}\n"
            f"  fast: {{ protocol: openai, endpoints: [{s.addr}], model: sim-model }}\nroutes:\n")
    for name, kind, blocks in routes:
        text += route_yaml(name, kind, blocks)
    return text + f"  - name: keep\n    slo: {SLO}\n    cascade: [ {{ backend: acc }} ]\n"


def send(g, kind, n):
    for _ in range(n):
        status, _, body = harness.request(g.addr, "POST", CHAT, body=chat_body(max_tokens=1), headers={"x-r": kind})
        assert status == 200, body


def series(text):
    """{(family, route)} of every sample with a route label."""
    out = set()
    for line in text.splitlines():
        m = re.match(r'([a-z_]+)\{(?:[^}]*,)?route="([^"]*)"', line)
        if m:
            out.add((m.group(1), m.group(2)))
    return out


def value(text, name, **labels):
    want = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith(name + want + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def slo_count(g, route):
    return value(g.metrics(), "sluice_slo_requests_total", route=route, objective="availability")


def state(g):
    status, doc = harness.get_json(g.admin, "/admin/state")
    assert status == 200
    return doc


def named(doc):
    """The route names each part of /admin/state shows."""
    return {
        "slo": {r["route"] for r in doc["slo"]["routes"]} if doc["slo"] is not None else set(),
        "degrade": {d["route"] for d in doc["degrade"]},
        "shed": {d["route"] for d in doc["shed"]},
        "rollouts": {r["route"] for r in doc["rollouts"]},
        "monitor": {r["route"] for r in doc["monitor"]["routes"]},
    }


def promtool_silent(text):
    check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True)
    assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check.stdout + check.stderr


def reload(g, text):
    g.rewrite(text)
    status, _, body = harness.request(g.admin, "POST", "/admin/reload")
    assert status == 200, body


def has_all(text, name, kind):
    got = series(text)
    return all((f, name) in got for f in FAMILIES[kind])


def has_none(text, *names):
    got = series(text)
    return not any((f, n) in got for n in names for fams in FAMILIES.values() for f in fams)


def test_series_of_removed_slo_rollout_and_monitor_leave_metrics_and_state_after_reloads():
    s = sim(*ZERO)
    with tempfile.TemporaryDirectory() as state_dir:
        full = retire_config(s, state_dir, [("slo", "slo", True), ("ro", "ro", True), ("mon", "mon", True)])
        g = Gateway(full)
        try:
            for kind in ("slo", "ro", "mon", "keep"):
                send(g, kind, 3)
            # every block's families name its route (the SLO ones after the next SLO tick, within a second)
            wait_for(lambda: slo_count(g, "slo") == 3
                     and slo_count(g, "keep") == 3,
                     what="the SLO counts of the first requests")
            text = g.metrics()
            for name in FAMILIES:
                assert has_all(text, name, name), (name, sorted(series(text)))
            promtool_silent(text)
            doc = state(g)
            assert named(doc) == {"slo": {"slo", "keep"}, "degrade": {"slo"}, "shed": {"slo", "ro", "mon", "keep"},
                                  "rollouts": {"ro"}, "monitor": {"mon"}}
            ro_before = doc["rollouts"][0]

            # (b) the routes stay, their blocks go: so do their series and their /admin/state entries
            reload(g, retire_config(s, state_dir, [("slo", "slo", False), ("ro", "ro", False), ("mon", "mon", False)]))
            wait_for(lambda: has_none(g.metrics(), "slo", "ro", "mon"), timeout=5,
                     what="the series of the removed blocks to leave")
            text = g.metrics()
            for name in ("slo", "ro", "mon", "keep"):  # the routes themselves are still served and counted
                assert value(text, "sluice_requests_total", route=name, backend="acc", code="2xx") == 3, name
            assert value(text, "sluice_shed_total", route="slo", reason="saturated") == 0
            assert value(text, "sluice_slo_requests_total", route="keep", objective="availability") == 3
            promtool_silent(text)
            wait_for(lambda: named(state(g))["degrade"] == set(), timeout=5, what="the degrade tier to leave")
            assert named(state(g)) == {"slo": {"keep"}, "degrade": set(), "shed": {"slo", "ro", "mon", "keep"},
                                       "rollouts": set(), "monitor": set()}
            send(g, "keep", 2)

            # the blocks come back: the rollout continues where it was (kept in memory and in its state file), the
            # SLO of `keep` kept counting; a removed objective's history was dropped (docs/SLO.md, the carry rule)
            reload(g, full)
            wait_for(lambda: has_all(g.metrics(), "ro", "ro") and has_all(g.metrics(), "mon", "mon") and
                     has_all(g.metrics(), "slo", "slo"), what="the blocks' series to come back")
            doc = state(g)
            ro_after = doc["rollouts"][0]
            assert (ro_after["phase"], ro_after["step"], ro_after["weight_permille"], ro_after["started_ms"]) == \
                (ro_before["phase"], ro_before["step"], ro_before["weight_permille"], ro_before["started_ms"])
            assert len(ro_after["history"]) >= len(ro_before["history"])
            wait_for(lambda: slo_count(g, "keep") == 5,
                     what="the SLO of keep to count on")
            slo_routes = {r["route"]: r for r in state(g)["slo"]["routes"]}
            assert slo_routes["slo"]["objectives"]["availability"]["reset_reason"] == "new objective"
            assert slo_routes["keep"]["objectives"]["availability"]["requests_total"] == 5
            promtool_silent(g.metrics())

            # (c) renamed: the old names leave, the new ones are there (a new route: new SLO history, new rollout)
            reload(g, retire_config(s, state_dir, [("slo2", "slo", True), ("ro2", "ro", True), ("mon2", "mon", True)]))
            for kind in ("slo", "ro", "mon"):
                send(g, kind, 1)
            wait_for(lambda: has_none(g.metrics(), "slo", "ro", "mon") and
                     'route="slo"' not in g.metrics() and 'route="ro"' not in g.metrics() and
                     'route="mon"' not in g.metrics(), timeout=5, what="the old names' series to leave")
            wait_for(lambda: slo_count(g, "slo2") == 1,
                     what="the renamed route's SLO count")
            text = g.metrics()
            for kind in FAMILIES:
                assert has_all(text, kind + "2", kind), kind
            promtool_silent(text)
            wait_for(lambda: named(state(g))["degrade"] == {"slo2"}, timeout=5, what="the old degrade tier to leave")
            doc = state(g)
            assert named(doc) == {"slo": {"slo2", "keep"}, "degrade": {"slo2"}, "shed": {"slo2", "ro2", "mon2", "keep"},
                                  "rollouts": {"ro2"}, "monitor": {"mon2"}}
            slo_routes = {r["route"]: r for r in doc["slo"]["routes"]}
            assert slo_routes["slo2"]["objectives"]["availability"]["reset_reason"] == "new objective"
            assert doc["rollouts"][0]["history"][0]["event"] != "restored"

            # (a) removed: only `keep` is left, in /metrics and in /admin/state
            reload(g, retire_config(s, state_dir, []))
            wait_for(lambda: not re.search(r'route="(slo|ro|mon)2"', g.metrics()), timeout=5,
                     what="the removed routes' series to leave")
            text = g.metrics()
            assert value(text, "sluice_slo_requests_total", route="keep", objective="availability") == 5
            assert not any(line.startswith(("sluice_rollout_", "sluice_degrade_", "sluice_monitor_", "sluice_drift_"))
                           for line in text.splitlines())
            promtool_silent(text)
            wait_for(lambda: named(state(g))["degrade"] == set(), timeout=5, what="the degrade tier to leave")
            assert named(state(g)) == {"slo": {"keep"}, "degrade": set(), "shed": {"keep"}, "rollouts": set(),
                                       "monitor": set()}
        finally:
            g.stop()
            s.stop()


def test_a_reload_refused_for_its_monitor_reference_keeps_the_running_slo_budgets_and_degrade_tiers():
    s = sim(*ZERO)
    with tempfile.TemporaryDirectory() as state_dir:
        running = retire_config(s, state_dir, [("slo", "slo", True), ("mon", "mon", True)])
        g = Gateway(running)
        try:
            send(g, "keep", 4)
            send(g, "slo", 2)
            wait_for(lambda: slo_count(g, "keep") == 4
                     and slo_count(g, "slo") == 2,
                     what="the SLO counts")
            window = {r["route"]: r["objectives"]["availability"]["window"] for r in state(g)["slo"]["routes"]}
            assert window == {"keep": {"good": 4, "total": 4}, "slo": {"good": 2, "total": 2}}
            # a config whose SLO routes are built, then refused for the monitor's reference file: nothing changes
            refused = retire_config(s, state_dir, [("slo2", "slo", True), ("mon", "mon", True)])
            refused = refused.replace("reference: { baseline: 1m, baseline_samples: 400 }",
                                      f"reference: {{ file: {state_dir}/missing.json }}")
            assert "missing.json" in refused
            g.rewrite(refused)
            status, _, body = harness.request(g.admin, "POST", "/admin/reload")
            assert status == 400 and b"missing.json" in body, body
            send(g, "keep", 1)
            wait_for(lambda: slo_count(g, "keep") == 5,
                     what="the next SLO count")
            window = {r["route"]: r["objectives"]["availability"]["window"] for r in state(g)["slo"]["routes"]}
            assert window == {"keep": {"good": 5, "total": 5}, "slo": {"good": 2, "total": 2}}
            text = g.metrics()
            assert value(text, "sluice_degrade_fraction", route="slo", tier="0") == 0
            assert 'route="slo2"' not in text
            promtool_silent(text)
            assert named(state(g))["degrade"] == {"slo"}
        finally:
            g.stop()
            s.stop()
