"""Answer quality of `sluice sim`: the ground truth follows the documented rule, confidence is calibrated (answers
given with confidence c are right about a share c of the time, checked per confidence bin within sampling error),
accuracy follows its knob, drift shifts predictions and confidence, and a fixed seed makes answers reproducible."""
import http.client
import json
import math
import re

import harness
from sim_helpers import ZERO, band, start, truth


def ask_many(addr, n, prefix="classify: review number"):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    out = []
    for i in range(n):
        text = f"{prefix} {i}"
        c.request("POST", "/v1/chat/completions", headers={"content-type": "application/json"}, body=json.dumps(
            {"messages": [{"role": "user", "content": "classify: " + text[len("classify: "):]}], "logprobs": True}))
        r = c.getresponse()
        body = json.loads(r.read())
        assert r.status == 200
        out.append((text[len("classify: "):], body["choices"][0]["message"]["content"],
                    float(r.getheader("x-sim-confidence")), r.getheader("x-sim-correct") == "1",
                    r.getheader("x-sim-truth"), body["choices"][0]["logprobs"]["content"][0]["logprob"]))
    return out


def test_truth_rule_and_calibration():
    p = start(*ZERO, "--accuracy", "0.75", "--seed", "21")
    try:
        n = 1500
        rows = ask_many(p.addr, n)
        for text, answer, c, correct, t, lp in rows:
            assert t == truth(text)
            assert correct == (answer == t)
            assert abs(math.exp(lp) - c) < 1e-5
            assert 0.5 <= c < 1
        ok = sum(r[3] for r in rows)
        lo, hi = band(n, 0.75)
        assert lo <= ok <= hi, (ok, lo, hi)
        # calibration: in each confidence bin, the share correct is the bin's mean confidence within sampling error
        checked = 0
        for b in range(5, 10):
            in_bin = [r for r in rows if b / 10 <= r[2] < (b + 1) / 10]
            if len(in_bin) < 50:
                continue
            mean_c = sum(r[2] for r in in_bin) / len(in_bin)
            lo, hi = band(len(in_bin), mean_c)
            assert lo <= sum(r[3] for r in in_bin) <= hi, (b, len(in_bin), mean_c)
            checked += 1
        assert checked >= 3
        _, stats = harness.get_json(p.addr, "/sim/stats")
        assert stats["correct"] == ok and stats["incorrect"] == n - ok
    finally:
        assert p.stop() == 0


def test_drift_switched_on_at_run_time():
    p = start(*ZERO, "--accuracy", "0.9", "--seed", "22")
    try:
        before = ask_many(p.addr, 300, "classify: before")
        status, _, cfg, _ = harness.post_json(p.addr, "/sim/config", {"drift": 1, "drift_label": 1})
        assert status == 200 and cfg["drift"] == 1 and cfg["drift_label"] == 1
        after = ask_many(p.addr, 300, "classify: after")
        assert all(r[1] == "negative" for r in after)  # drift 1: every prediction is labels[1]
        assert all(r[3] == (r[4] == "negative") for r in after)
        mean_before = sum(r[2] for r in before) / len(before)
        mean_after = sum(r[2] for r in after) / len(after)
        # E[c] = 0.5 + 0.5 * m with m = 0.8 before and 0.8 * (1 - 1/2) = 0.4 after: 0.9 -> 0.7
        assert abs(mean_before - 0.9) < 0.02 and abs(mean_after - 0.7) < 0.02, (mean_before, mean_after)
        _, stats = harness.get_json(p.addr, "/sim/stats")
        assert stats["drifted"] == 300
    finally:
        assert p.stop() == 0


REQUESTS = [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "classify: a fine day"}], "logprobs": True,
                              "top_logprobs": 2}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "write a poem"}], "logprobs": True}),
    ("/v1/completions", {"prompt": "once upon a time", "logprobs": 1}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "stream it"}], "stream": True}),
] * 8


def run_sequence(seed):
    p = start(*ZERO, "--seed", str(seed), "--error-rate", "0.1", "--malformed-rate", "0.1")
    try:
        out = []
        for path, body in REQUESTS:
            status, headers, raw = harness.request(p.addr, "POST", path, body=body)
            out.append((status, headers.get("x-sim-correct"), headers.get("x-sim-confidence"),
                        re.sub(rb'"created":\d+', b"", raw)))
        return out
    finally:
        assert p.stop() == 0


def test_fixed_seed_is_deterministic():
    a, b, c = run_sequence(7), run_sequence(7), run_sequence(8)
    assert a == b
    assert a != c
    assert {s for s, *_ in a} == {200, 500}
