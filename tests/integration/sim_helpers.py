"""Helpers shared by the simulator's integration tests (test_sim_*.py): starting `sluice sim` with zero latency,
structural comparison with the recorded answers in tests/fixtures/sim, SSE parsing, the ground-truth rule and
binomial sampling bands."""
import json
import math
import re
import os

import harness

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "sim")
SUPP = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "sim", "lsan-h2o.supp")
# h2o never frees its per-thread caches when a worker exits; under ASan that must not count as a leak
ENV = {"LSAN_OPTIONS": "suppressions=" + os.path.abspath(SUPP)}
ZERO = ["--ttft-ms", "0", "--ttft-jitter-ms", "0", "--ttft-per-token-ms", "0", "--tpot-ms", "0",
        "--tpot-jitter-ms", "0"]


def start(*args, **kw):
    return harness.sim(*args, env=ENV, **kw)


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read() if name.endswith(".sse") else json.load(f)


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def conform(actual, expected, path="$"):
    """Asserts that actual has the structure of expected: same keys in every object, same JSON type everywhere,
    array element i shaped like the expected array's element i (its first element past its end)."""
    assert kind(actual) == kind(expected), f"{path}: {kind(actual)} where the real API has {kind(expected)}"
    if isinstance(expected, dict) and re.search(r"\.logprobs\.top_logprobs\[\d+\]$", path):
        # legacy completions: {token: logprob} objects, whose keys are the tokens themselves
        assert actual and all(kind(v) == "number" for v in actual.values()), f"{path}: {actual!r}"
    elif isinstance(expected, dict):
        assert set(actual) == set(expected), \
            f"{path}: keys differ: extra {sorted(set(actual) - set(expected))}, missing {sorted(set(expected) - set(actual))}"
        for k in expected:
            conform(actual[k], expected[k], f"{path}.{k}")
    elif isinstance(expected, list) and expected:
        for i, item in enumerate(actual):
            conform(item, expected[i] if i < len(expected) else expected[0], f"{path}[{i}]")


def sse_events(body):
    """Splits an SSE body into data payloads; asserts the framing (only `data: ...` lines, events end with a blank
    line, the last one is [DONE]). Returns the parsed JSON objects (without [DONE])."""
    text = body.decode() if isinstance(body, bytes) else body
    assert text.endswith("\n\n"), "an SSE body ends with a blank line"
    events = text[:-2].split("\n\n")
    assert events[-1] == "data: [DONE]", f"the last event is {events[-1]!r}"
    out = []
    for e in events[:-1]:
        assert e.startswith("data: ") and "\n" not in e, f"bad SSE event {e!r}"
        out.append(json.loads(e[6:]))
    return out


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for c in data:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def truth(text, labels=("positive", "negative")):
    """The documented ground truth of `classify: <text>`: FNV-1a 64 of the text's bytes modulo the label count."""
    return labels[fnv1a64(text.encode()) % len(labels)]


def band(n, p, sigmas=4.5):
    """The range of a Binomial(n, p) count within `sigmas` standard deviations of its mean."""
    sd = math.sqrt(n * p * (1 - p))
    return n * p - sigmas * sd, n * p + sigmas * sd


def chat(addr, content, **extra):
    body = {"model": extra.pop("model", "sim-model"), "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return harness.post_json(addr, "/v1/chat/completions", body)
