"""Model monitoring in the running gateway (docs/MONITORING.md): `sluice run` in front of `sluice sim` with monitored
routes. A baseline is captured from live classify: traffic, the window is "ok", then the simulator's drift
injection (POST /sim/config {"drift": 0.6}) moves the predictions and the free-text lengths and sluice reports the
drift within one window; labels posted to POST /v1/feedback for each answer's x-request-id, with the documented
ground truth, give exactly the share of correct answers the simulator reported (and the configured accuracy within
sampling error); the feedback endpoint's edge cases; reloads that keep or reset the monitor, a reload with a missing
reference file refused while the running config stays, and a start with one refused."""
import http.client
import json
import os
import socket
import subprocess
import tempfile
import time

import harness
from gw_helpers import ENV, Gateway, Upstream, ZERO, answer, keepalive, post, sim, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running
from sim_helpers import band, truth
from test_gw_h2_body_limit import DATA, END_HEADERS, END_STREAM, HEADERS, RST_STREAM, SETTINGS, frame, head_block

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
LABELS = ("positive", "negative")


def monitor_config(s, chat_monitor, gen_monitor=None, server="", extra_backend=""):
    text = (f'server: {{ listen: ["127.0.0.1:0"], threads: 2{", " + server if server else ""} }}\n'
            "admin: { listen: 127.0.0.1:0 }\n"
            "backends:\n"
            f"  b: {{ protocol: openai, endpoints: [{s.addr}], model: sim-model }}\n" + extra_backend +
            "routes:\n"
            f"  - name: chat\n    match: {{ path: {CHAT} }}\n    cascade: [ {{ backend: b }} ]\n"
            f"    monitor:\n{chat_monitor}")
    if gen_monitor is not None:
        text += (f"  - name: gen\n    match: {{ path: {COMPLETIONS} }}\n    cascade: [ {{ backend: b }} ]\n"
                 f"    monitor:\n{gen_monitor}")
    return text


CHAT_MONITOR = """      prediction: { label: /choices/0/message/content }
      features:
        - { name: prompt_tokens }
        - { name: message_count }
        - { name: output_tokens }
        - { name: lang, source: /metadata/lang, type: categorical }
        - { name: temperature, source: /temperature }
      reference: { baseline: 1m, baseline_samples: 400 }
      window: 1m
      min_samples: 100
      thresholds: { chi2_pvalue: 0.001, null_ratio_warn: 20%, null_ratio_alert: 40% }
      feedback: { task: classification, labels: [positive, negative], horizon: 1h }
"""

GEN_MONITOR = """      features: [ { name: output_tokens } ]
      reference: { baseline: 1m, baseline_samples: 400 }
      window: 1m
      min_samples: 100
      thresholds: { ks_pvalue: 0.001 }
"""


def metric(g, name, **labels):
    """The value of the series of `name` with exactly these labels, in any order (None when absent)."""
    want = {k: str(v) for k, v in labels.items()}
    for line in g.metrics().splitlines():
        if not line.startswith(name + "{" if labels else name + " "):
            continue
        if not labels:
            return float(line.rsplit(" ", 1)[1])
        inner, value = line[len(name) + 1:].rsplit("} ", 1)
        got = dict(kv.split("=", 1) for kv in inner.split(","))
        if {k: v.strip('"') for k, v in got.items()} == want:
            return float(value)
    return None


def drift_state(g, route, feature):
    for state in ("no_data", "ok", "warn", "alert"):
        if metric(g, "sluice_drift_state", route=route, feature=feature, state=state) == 1:
            return state
    return None


def state_doc(g):
    status, doc = harness.get_json(g.admin, "/admin/state")
    assert status == 200
    return doc


def route_state(g, route):
    return next(r for r in state_doc(g)["monitor"]["routes"] if r["route"] == route)


class Traffic:
    """Classify prompts on the chat route and free text on the completions route, over keep-alive connections;
    remembers every chat answer (request id, text, prediction, the simulator's verdict)."""

    def __init__(self, g):
        self.g = g
        self.chat = keepalive(g.addr)
        self.gen = keepalive(g.addr)
        self.answers = []
        self.n = 0

    def send(self, n, gen=True):
        for _ in range(n):
            i = self.n
            self.n += 1
            text = f"item {i:05d}"  # one length: the prompt sizes do not drift
            body = {"model": "sim-model", "messages": [{"role": "user", "content": f"classify: {text}"}],
                    "metadata": {"lang": ("en", "fr", "de")[i % 3]}, "temperature": (i % 10) / 10}
            status, headers, data = post(self.chat, CHAT, body)
            assert status == 200, data
            content = json.loads(data)["choices"][0]["message"]["content"]
            self.answers.append((headers["x-request-id"], text, content, headers["x-sim-correct"] == "1"))
            if gen:
                status, _, data = post(self.gen, COMPLETIONS, {"model": "sim-model", "prompt": f"tell me {i:05d}"})
                assert status == 200, data

    def close(self):
        self.chat.close()
        self.gen.close()


def feedback(addr, body, **kw):
    return harness.post_json(addr, "/v1/feedback", body, **kw)


def test_drift_feedback_and_exposure():
    s = sim(*ZERO, "--accuracy", "0.8", "--output-tokens-mean", "8", "--seed", "7")
    g = Gateway(monitor_config(s, CHAT_MONITOR, GEN_MONITOR, server="max_body: 64KiB"))
    t = Traffic(g)
    t.send(400)
    wait_for(lambda: metric(g, "sluice_monitor_reference_capturing", route="chat") == 0 and
             metric(g, "sluice_monitor_reference_capturing", route="gen") == 0, timeout=10, what="the baselines")
    assert metric(g, "sluice_monitor_reference_samples", route="chat") >= 400
    t.send(300)
    wait_for(lambda: drift_state(g, "chat", "prediction") == "ok" and drift_state(g, "gen", "output_tokens") == "ok",
             timeout=15, what="an ok window")
    for feature in ("prompt_tokens", "message_count", "output_tokens", "lang", "temperature"):
        assert drift_state(g, "chat", feature) == "ok", feature
    assert metric(g, "sluice_monitor_requests_total", route="chat") == 700
    assert metric(g, "sluice_monitor_malformed_total", route="chat") == 0
    assert metric(g, "sluice_feature_null_ratio", route="chat", feature="lang") == 0
    assert metric(g, "sluice_drift_psi", route="chat", feature="prediction") < 0.1
    doc = route_state(g, "chat")
    assert doc["reference"]["state"] == "ready" and doc["requests"] == 700
    assert {v["name"] for v in doc["values"]} == {"prediction", "prompt_tokens", "message_count", "output_tokens",
                                                  "lang", "temperature"}
    # one backend answers every request: its answer values' series say what the route's say, the inputs have none
    assert [b["backend"] for b in doc["backends"]] == ["b"]
    bvals = doc["backends"][0]["values"]
    assert [v["name"] for v in bvals] == ["prediction", "output_tokens"]
    for v in bvals:
        route_v = next(r for r in doc["values"] if r["name"] == v["name"])
        assert v["n_cur"] == route_v["n_cur"] and v["state"] == route_v["state"] == "ok", (v, route_v)
    assert metric(g, "sluice_drift_backend_state", route="chat", feature="prediction", backend="b", state="ok") == 1
    assert metric(g, "sluice_drift_backend_psi", route="chat", feature="lang", backend="b") is None

    # ground truth for every answer so far, as one batch: sluice's accuracy is the simulator's share of correct answers
    items = [{"id": rid, "label": truth(text, LABELS)} for rid, text, _, _ in t.answers]
    status, _, doc, raw = feedback(g.addr, items)
    assert status == 200, raw
    assert doc["counts"]["joined"] == len(items), doc["counts"]
    assert all(r["result"] == "joined" and r["route"] == "chat" for r in doc["results"])
    correct = sum(1 for a in t.answers if a[3])
    acc = metric(g, "sluice_quality_accuracy", route="chat", backend="b", version="stable")
    assert acc is not None and abs(acc - correct / len(items)) < 1e-9, (acc, correct, len(items))
    lo, hi = band(len(items), 0.8)
    assert lo <= correct <= hi, (correct, lo, hi)
    assert metric(g, "sluice_quality_window_samples", route="chat", backend="b", version="stable") == len(items)
    assert metric(g, "sluice_concept_drift_state", route="chat", backend="b", version="stable", state="drift") == 0
    assert metric(g, "sluice_feedback_total", result="joined") == len(items)
    # the predictions were the answers' contents
    agree = sum(1 for _, text, content, ok in t.answers if (content == truth(text, LABELS)) == ok)
    assert agree == len(t.answers)

    # edge cases: a duplicate, an unknown id, a label of another task, a malformed body, a body too large, a GET
    rid = t.answers[0][0]
    assert feedback(g.addr, {"id": rid, "label": "positive"})[2] == {"id": rid, "result": "duplicate", "route": "chat"}
    assert feedback(g.addr, {"id": "no-such-request", "label": "positive"})[2] == {"id": "no-such-request",
                                                                                 "result": "unknown"}
    t.send(1, gen=False)
    status, _, doc, _ = feedback(g.addr, {"id": t.answers[-1][0], "label": "neutral"})
    assert status == 200 and doc["result"] == "invalid" and "labels" in doc["detail"], doc
    status, _, doc, _ = feedback(g.addr, [{"id": "a", "labl": "positive"}])
    assert status == 400 and doc["error"]["code"] == "invalid_feedback", doc
    assert doc["error"]["message"] == '[0]: unknown key "labl" (did you mean "label"?)'
    status, _, doc, _ = feedback(g.addr, b"{not json", headers={"content-type": "application/json"})
    assert status == 400 and doc["error"]["message"] == "the body is not valid JSON"
    status, _, doc, _ = feedback(g.addr, [{"id": f"x{i}", "label": "positive"} for i in range(1001)])
    assert status == 400 and doc["error"]["message"] == "the batch has more than 1000 items"
    # past the start limit and one HTTP/2 frame (16 KiB, gateway/h2_limit.h): h2o's own 413, rewritten
    status, _, body = harness.request(g.addr, "POST", "/v1/feedback", body=b"[" + b" " * (90 << 10) + b"]")
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"
    assert metric(g, "sluice_rejected_requests_total", reason="body_too_large") == 1
    status, headers, body = harness.request(g.addr, "GET", "/v1/feedback")
    assert status == 405 and headers["allow"] == "POST" and json.loads(body)["error"]["code"] == "method_not_allowed"
    assert metric(g, "sluice_feedback_rejected_total") == 3
    assert metric(g, "sluice_feedback_total", result="unknown") == 1
    assert metric(g, "sluice_feedback_total", result="duplicate") == 1
    assert metric(g, "sluice_feedback_total", result="invalid") == 1
    for code, n in (("200", 4), ("400", 3), ("405", 1), ("404", 0)):
        assert metric(g, "sluice_feedback_requests_total", code=code) == n, code

    # drift: predictions pushed to "positive", free text 1.6 times longer; reported within one window (1 minute)
    status, _, _, raw = harness.post_json(s.addr, "/sim/config", {"drift": 0.6})
    assert status == 200, raw
    start = time.monotonic()

    def drifted():
        t.send(100)
        return drift_state(g, "chat", "prediction") == "alert" and drift_state(g, "gen", "output_tokens") == "alert"

    wait_for(drifted, timeout=55, what="the drift to be reported")
    assert time.monotonic() - start < 60
    pred = next(v for v in route_state(g, "chat")["values"] if v["name"] == "prediction")
    assert pred["state"] == "alert" and "chi2_pvalue" in pred["reasons"], pred
    assert metric(g, "sluice_drift_chi2_pvalue", route="chat", feature="prediction") < 0.001
    assert metric(g, "sluice_drift_ks_pvalue", route="gen", feature="output_tokens") < 0.001
    assert metric(g, "sluice_drift_ks_statistic", route="gen", feature="output_tokens") > 0
    assert drift_state(g, "chat", "lang") == "ok"  # the inputs did not move
    assert metric(g, "sluice_drift_backend_state", route="chat", feature="prediction", backend="b", state="alert") == 1
    # every monitoring family, quality and drift measures included, passes promtool with nothing to say
    check = subprocess.run(["promtool", "check", "metrics"], input=g.metrics().encode(), capture_output=True)
    assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check.stdout + check.stderr
    t.close()
    g.stop()
    s.stop()


def test_data_quality_and_malformed_bodies():
    s = sim(*ZERO)
    g = Gateway(monitor_config(s, CHAT_MONITOR.replace("baseline_samples: 400", "baseline_samples: 100")))
    c = keepalive(g.addr)

    def send(i, lose):
        body = {"model": "sim-model", "messages": [{"role": "user", "content": f"classify: q{i:04d}"}],
                "metadata": {"lang": "en"}, "temperature": 0.5}
        if lose and i % 2 == 0:
            del body["metadata"]  # half the requests lose a field: a null
        if lose and i % 5 == 0:
            body["temperature"] = "hot"  # a type error
        status, _, data = post(c, CHAT, body)
        assert status == 200, data

    for i in range(100):
        send(i, False)
    wait_for(lambda: metric(g, "sluice_monitor_reference_capturing", route="chat") == 0, what="the baseline")
    for i in range(200):
        send(i, True)
    status, _, data = post(c, CHAT, b"{broken", headers={"content-type": "text/plain"})
    wait_for(lambda: metric(g, "sluice_monitor_requests_total", route="chat") == 301, what="the requests counted")
    assert metric(g, "sluice_monitor_malformed_total", route="chat") == 1
    wait_for(lambda: drift_state(g, "chat", "lang") == "alert", timeout=15, what="the null ratio alert")
    lang = next(v for v in route_state(g, "chat")["values"] if v["name"] == "lang")
    assert lang["reasons"] == ["null_ratio"], lang
    assert metric(g, "sluice_feature_null_ratio", route="chat", feature="lang") > 0.4
    assert metric(g, "sluice_feature_type_error_ratio", route="chat", feature="temperature") > 0.1
    c.close()
    g.stop()
    s.stop()


def test_no_monitor_and_late_feedback():
    s = sim(*ZERO)
    plain = ('server: { listen: ["127.0.0.1:0"], threads: 1 }\nadmin: { listen: 127.0.0.1:0 }\n'
             f"backends:\n  b: {{ protocol: openai, endpoints: [{s.addr}] }}\n"
             f"routes:\n  - {{ name: chat, match: {{ path: {CHAT} }}, cascade: [ {{ backend: b }} ] }}\n")
    g = Gateway(plain)
    status, _, doc, _ = feedback(g.addr, {"id": "a", "label": "positive"})
    assert status == 404 and doc["error"]["code"] == "feedback_not_configured", doc
    assert state_doc(g)["monitor"] == {"routes": []}
    assert metric(g, "sluice_feedback_requests_total", code="404") == 1
    g.stop()

    g = Gateway(monitor_config(s, CHAT_MONITOR.replace("horizon: 1h", "horizon: 1s")))
    status, headers, data = post(keepalive(g.addr), CHAT, {"messages": [{"role": "user", "content": "classify: x"}]},
                                 headers={"x-request-id": "late-one"})
    assert status == 200 and headers["x-request-id"] == "late-one"
    # the horizon passes: the tick marks the prediction expired, and a label for it is answered so
    wait_for(lambda: metric(g, "sluice_feedback_expired_total", route="chat") == 1, timeout=5, what="the expiry")
    status, _, doc, _ = feedback(g.addr, {"id": "late-one", "label": "positive"})
    assert status == 200 and doc == {"id": "late-one", "result": "expired", "route": "chat"}, doc
    assert metric(g, "sluice_feedback_total", result="expired") == 1
    g.stop()
    s.stop()


def write_reference(g_config_text, sample_lines):
    """`sluice reference` for route chat over sample_lines; returns the file's path."""
    d = tempfile.mkdtemp(prefix="sluice-ref-")
    cfg, sample, out = (os.path.join(d, n) for n in ("sluice.yaml", "sample.jsonl", "chat.json"))
    with open(cfg, "w") as f:
        f.write(g_config_text)
    with open(sample, "w") as f:
        f.write("\n".join(json.dumps(line) for line in sample_lines) + "\n")
    r = subprocess.run([harness.SLUICE, "reference", "-c", cfg, "--route", "chat", "--input", sample, "-o", out],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return out


def test_reload_and_reference_files():
    s = sim(*ZERO)
    g = Gateway(monitor_config(s, CHAT_MONITOR.replace("baseline_samples: 400", "baseline_samples: 100")))
    t = Traffic(g)
    t.send(100, gen=False)
    wait_for(lambda: route_state(g, "chat")["reference"]["state"] == "ready", what="the baseline")
    t.send(50, gen=False)
    wait_for(lambda: metric(g, "sluice_drift_window_samples", route="chat", feature="prediction") == 50,
             what="the window")
    before = route_state(g, "chat")

    # unchanged monitor block (a new backend, a lower max_body): reference, window and waiting predictions carry over
    g.rewrite(monitor_config(s, CHAT_MONITOR.replace("baseline_samples: 400", "baseline_samples: 100"),
                             extra_backend=f"  spare: {{ protocol: openai, endpoints: [{s.addr}] }}\n",
                             server="max_body: 4KiB"))
    status, _, doc, raw = harness.post_json(g.admin, "/admin/reload", {})
    assert status == 200, raw
    after = route_state(g, "chat")
    assert after["reference"] == before["reference"]
    wait_for(lambda: metric(g, "sluice_drift_window_samples", route="chat", feature="prediction") == 50,
             what="the carried window")
    assert metric(g, "sluice_monitor_requests_total", route="chat") == 150  # counters continue
    rid, text, _, _ = t.answers[-1]
    assert feedback(g.addr, {"id": rid, "label": truth(text, LABELS)})[2]["result"] == "joined"
    status, _, body = harness.request(g.addr, "POST", "/v1/feedback", body=b"[" + b" " * 5000 + b"]")
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"  # the reloaded limit: sluice's
    assert metric(g, "sluice_feedback_requests_total", code="413") == 1

    # a changed monitor block (one more feature): a new baseline is captured
    changed = CHAT_MONITOR.replace("baseline_samples: 400", "baseline_samples: 100").replace(
        "        - { name: message_count }\n", "        - { name: message_count }\n        - { name: role, source: "
        "/messages/0/role, type: categorical }\n")
    g.rewrite(monitor_config(s, changed))
    status, _, doc, raw = harness.post_json(g.admin, "/admin/reload", {})
    assert status == 200, raw
    assert route_state(g, "chat")["reference"]["state"] == "capturing"
    assert metric(g, "sluice_monitor_reference_capturing", route="chat") == 1
    generation = doc["generation"]

    # a reference file that does not exist: the reload is refused, the running monitor goes on
    missing = os.path.join(tempfile.mkdtemp(prefix="sluice-ref-"), "missing.json")
    g.rewrite(monitor_config(s, changed.replace("reference: { baseline: 1m, baseline_samples: 100 }",
                                                f"reference: {missing}")))
    status, _, doc, raw = harness.post_json(g.admin, "/admin/reload", {})
    assert status == 400, raw
    assert doc["generation"] == generation
    assert any("routes[0].monitor.reference" in e and "missing.json" in e for e in doc["errors"]), doc
    t.send(5, gen=False)
    try:
        wait_for(lambda: metric(g, "sluice_monitor_requests_total", route="chat") == 155, what="the old monitor to count")
    except TimeoutError:
        raise AssertionError(f'sluice_monitor_requests_total {metric(g, "sluice_monitor_requests_total", route="chat")}, '
                             f'not 155; route state {route_state(g, "chat")}')
    assert route_state(g, "chat")["reference"]["state"] == "capturing"

    # a reference file made by `sluice reference`: in use at once
    lines = [{"messages": [{"role": "user", "content": f"classify: r{i}"}], "metadata": {"lang": "en"},
              "temperature": 0.1 * (i % 10), "prediction": LABELS[i % 2], "output_tokens": 1} for i in range(200)]
    ref = write_reference(monitor_config(s, changed), lines)
    g.rewrite(monitor_config(s, changed.replace("reference: { baseline: 1m, baseline_samples: 100 }",
                                                f"reference: {ref}")))
    status, _, doc, raw = harness.post_json(g.admin, "/admin/reload", {})
    assert status == 200, raw
    ref_doc = route_state(g, "chat")["reference"]
    assert ref_doc["kind"] == "file" and ref_doc["state"] == "ready" and ref_doc["samples"] == 200, ref_doc
    t.close()
    g.stop()

    # the same missing file at start: `sluice run` refuses to start and says why
    d = tempfile.mkdtemp(prefix="sluice-run-")
    cfg = os.path.join(d, "sluice.yaml")
    with open(cfg, "w") as f:
        f.write(monitor_config(s, CHAT_MONITOR.replace("reference: { baseline: 1m, baseline_samples: 400 }",
                                                       f"reference: {missing}")))
    env = dict(os.environ)
    env.update(ENV)
    r = subprocess.run([harness.SLUICE, "run", "-c", cfg], capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode != 0
    assert "routes[0].monitor.reference" in r.stderr and "missing.json" in r.stderr, r.stderr
    s.stop()


def test_signal_prediction_asks_logprobs_and_strips_them():
    s = sim(*ZERO, "--accuracy", "0.8")
    monitor = """      prediction: { signal: logprob_mean }
      reference: { baseline: 1m, baseline_samples: 50 }
      min_samples: 20
"""
    g = Gateway(monitor_config(s, monitor))
    c = keepalive(g.addr)

    def send(n):
        for i in range(n):
            status, _, data = post(c, CHAT, {"model": "sim-model", "messages": [{"role": "user", "content": "hi"}]})
            assert status == 200, data
            choice = json.loads(data)["choices"][0]
            assert choice.get("logprobs") is None, choice  # asked upstream for the monitor, stripped for the client

    send(50)
    wait_for(lambda: route_state(g, "chat")["reference"]["state"] == "ready", what="the baseline")
    send(30)
    # a client that asks for logprobs keeps them
    status, _, data = post(c, CHAT, {"model": "sim-model", "messages": [{"role": "user", "content": "hi"}],
                                     "logprobs": True})
    assert status == 200 and json.loads(data)["choices"][0]["logprobs"]["content"], data
    # streams pass through (no accept rule holds them): the relay decodes their events for the prediction
    hi = {"model": "sim-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}

    def stream(body):
        status, _, data = post(c, CHAT, body)
        assert status == 200, data
        events = [e[len(b"data: "):] for e in data.split(b"\n\n") if e.startswith(b"data: ")]
        assert events[-1] == b"[DONE]", data
        return [json.loads(e) for e in events[:-1]]

    chunks = stream(hi)  # asked upstream for the monitor, stripped for the client, no usage chunk
    assert chunks and all(ch["choices"] for ch in chunks), chunks
    assert all(ch["choices"][0].get("logprobs") is None for ch in chunks), chunks
    chunks = stream(dict(hi, logprobs=True))  # a client that asks keeps them
    assert any((ch["choices"][0].get("logprobs") or {}).get("content") for ch in chunks), chunks
    chunks = stream(dict(hi, stream_options={"include_usage": True}))  # its usage chunk, as before
    assert not chunks[-1]["choices"] and chunks[-1]["usage"]["completion_tokens"] > 0, chunks
    assert all(ch["choices"][0].get("logprobs") is None for ch in chunks[:-1]), chunks

    def window(n):
        pred = route_state(g, "chat")["values"][0]
        return pred if pred["n_cur"] + pred["nulls"] + pred["type_errors"] == n else None

    pred = wait_for(lambda: window(34), timeout=10, what="the window")
    assert pred["name"] == "prediction" and pred["type"] == "numeric", pred
    assert (pred["n_cur"], pred["nulls"], pred["type_errors"]) == (34, 0, 0), pred  # the streams are predicted
    # a stream with an event that is not JSON: an invalid prediction; a stream cut before [DONE]: none (a null)
    for params in ({"malformed_rate": 1}, {"malformed_rate": 0, "reset_rate": 1}):
        status, _, _, raw = harness.post_json(s.addr, "/sim/config", params)
        assert status == 200, raw
        try:
            post(c, CHAT, hi)
        except (http.client.HTTPException, OSError):
            c.close()  # the cut stream ends the connection
            c = keepalive(g.addr)
    harness.post_json(s.addr, "/sim/config", {"reset_rate": 0})
    pred = wait_for(lambda: window(36), timeout=10, what="the window")
    assert (pred["n_cur"], pred["nulls"], pred["type_errors"]) == (34, 1, 1), pred
    assert pred["ks_statistic"] is not None and pred["ks_pvalue"] > 1e-4, pred  # the same model: no real shift
    c.close()
    g.stop()
    s.stop()


def test_regression_route_over_http_protocol():
    """A JSON service predicting a number (protocol http): the value is read from the answer at its pointer, a value
    posted back gives the exact MAE and RMSE, and the feature pointer reads the request."""

    def handler(c, index, req):
        x = json.loads(req[1])["x"]
        answer(c, body=json.dumps({"score": 2 * x}).encode(), headers=[("content-type", "application/json")])

    up = Upstream(handler)
    text = ('server: { listen: ["127.0.0.1:0"], threads: 2 }\nadmin: { listen: 127.0.0.1:0 }\n'
            f"backends:\n  scorer: {{ protocol: http, endpoints: [{up.addr}] }}\n"
            "routes:\n  - name: score\n    match: { path: /score }\n    cascade: [ { backend: scorer } ]\n"
            "    monitor:\n      prediction: { value: /score }\n      features: [ { name: x, source: /x } ]\n"
            "      feedback: { task: regression, tolerance: 1, max_mae: 2.5 }\n")
    g = Gateway(text)
    c = keepalive(g.addr)
    items = []
    for i in range(10):
        status, headers, data = post(c, "/score", {"x": i})
        assert status == 200 and json.loads(data) == {"score": 2 * i}, data
        items.append({"id": headers["x-request-id"], "value": 2 * i + (1 if i % 2 else -3)})  # errors 1 and 3
    status, _, doc, raw = feedback(g.addr, items)
    assert status == 200 and doc["counts"]["joined"] == 10, raw
    assert metric(g, "sluice_quality_mae", route="score", backend="scorer", version="stable") == 2.0
    rmse = metric(g, "sluice_quality_rmse", route="score", backend="scorer", version="stable")
    assert abs(rmse - 5 ** 0.5) < 1e-12, rmse  # sqrt((5 x 1 + 5 x 9) / 10)
    assert metric(g, "sluice_quality_accuracy", route="score", backend="scorer", version="stable") is None
    status, _, doc, _ = feedback(g.addr, {"id": items[0]["id"], "label": "x"})
    assert doc["result"] == "duplicate", doc  # already joined
    c.close()
    g.stop()
    up.close()


def test_feedback_streams_reset_before_the_answer():
    """HTTP/2 streams reset right after their feedback body: the request goes away while its body is with the control
    thread, and the job comes back to no request and is released (the ASan build checks the memory). Every body is
    still joined, nothing stays in flight, the connection goes on, and the gateway stops cleanly."""
    s = sim(*ZERO)
    g = Gateway(monitor_config(s, CHAT_MONITOR))
    body = json.dumps([{"id": f"gone-{i}", "label": "positive"} for i in range(100)]).encode()
    host, port = g.addr.rsplit(":", 1)
    c = socket.create_connection((host, int(port)), timeout=10)
    flight = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0)
    for sid in range(1, 41, 2):
        flight += (frame(HEADERS, END_HEADERS, sid, head_block(g.addr, "/v1/feedback", len(body))) +
                   frame(DATA, END_STREAM, sid, body) + frame(RST_STREAM, 0, sid, b"\x00\x00\x00\x08"))  # CANCEL
    c.sendall(flight)
    wait_for(lambda: metric(g, "sluice_feedback_total", result="unknown") == 20 * 100, what="the bodies joined")
    wait_for(lambda: metric(g, "sluice_inflight_requests") == 0, what="nothing in flight")
    status, _, doc, _ = feedback(g.addr, {"id": "gone-0", "label": "positive"})
    assert status == 200 and doc["result"] == "unknown", doc
    c.close()
    g.stop()
    s.stop()
