"""Helpers of the cascade's integration tests (test_gw_cascade*.py): two `sluice sim` models - a small one and a
large one whose confidence is pinned (concentration 10000: c stays within about 0.01 of its mean `accuracy`, and
free-text answers of one token carry exactly ln c as their logprob) - behind a two-tier cascade, and the exact
cost arithmetic of docs/CASCADE.md to compare headers and metrics with."""
import json

import harness
from gw_helpers import ZERO, Gateway, backend_yaml, sim, wait_for

SURE, UNSURE = "0.95", "0.3"  # small model confidence: accepted / escalated by logprob_mean >= -0.35 (c >= 0.705)
ACCEPT = "accept: { signal: logprob_mean, min: -0.35 }"
SMALL_COST = (0.001, 0.01, 0.02)  # per request, per 1k input tokens, per 1k output tokens
LARGE_COST = (0.01, 0.1, 0.2)     # ten times the small model's
PINNED = ["--concentration", "10000", "--output-tokens-mean", "1"]


def model(name, accuracy, *extra, protocol="openai"):
    """A simulated model answering instantly, with confidence pinned near `accuracy`, one output token."""
    args = list(ZERO) + ["--model", name, "--accuracy", accuracy] + PINNED + list(extra)
    if protocol != "openai":
        args += ["--protocol", protocol]
    return sim(*args)


def cost_yaml(c):
    return f"cost: {{ per_request: {c[0]}, per_1k_input_tokens: {c[1]}, per_1k_output_tokens: {c[2]} }}"


def cascade_config(small, large, tier0=ACCEPT, tier1="", small_extra="", large_extra="", server="", protocol="openai",
                   path="/v1/chat/completions", threads=2):
    """Backends small and large (sims at the given addresses) and one route `chat` cascading small -> large."""
    b = backend_yaml("small", [small], model="small", protocol=protocol,
                     extra=cost_yaml(SMALL_COST) + (", " + small_extra if small_extra else ""))
    b += backend_yaml("large", [large], model="large", protocol=protocol,
                      extra=cost_yaml(LARGE_COST) + (", " + large_extra if large_extra else ""))
    text = f"server: {{ listen: [\"127.0.0.1:0\"], threads: {threads}{', ' + server if server else ''} }}\n"
    text += "admin: { listen: 127.0.0.1:0 }\nbackends:\n" + b + "routes:\n"
    text += f"  - name: chat\n    match: {{ path: {path} }}\n    cascade:\n"
    text += f"      - {{ backend: small{', ' + tier0 if tier0 else ''} }}\n"
    text += f"      - {{ backend: large{', ' + tier1 if tier1 else ''} }}\n"
    return text


def nanos(c, tokens_in, tokens_out):
    """An attempt's cost in 10^-9 units, as the gateway computes it (double arithmetic, rounded once)."""
    return round((c[0] + (c[1] * tokens_in + c[2] * tokens_out) / 1000.0) * 1e9)


def decimal(n):
    """The gateway's decimal text of a cost in 10^-9 units."""
    whole, frac = divmod(n, 10 ** 9)
    return f"{whole}.{frac:09d}".rstrip("0").rstrip(".") if frac else str(whole)


def prompt_tokens(text):
    return max(1, -(-len(text.encode()) // 4))


def configure(s, **params):
    status, _, body = harness.request(s.addr, "POST", "/sim/config", body=json.dumps(params).encode())
    assert status == 200, body


def stats(s):
    return harness.get_json(s.addr, "/sim/stats")[1]


def chat(g, content="hello", headers=None, **extra):
    body = {"model": "any", "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    h = {"content-type": "application/json"}
    h.update(headers or {})
    status, hdrs, raw = harness.request(g.addr, "POST", "/v1/chat/completions", body=json.dumps(body).encode(),
                                        headers=h)
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    return status, hdrs, doc, raw


def settled(g):
    """Waits until every request the gateway took has ended: the client may read an answer before the worker has
    disposed of its request, where the cascade's metrics are recorded."""
    wait_for(lambda: g.metric("sluice_inflight_requests") == 0, what="every request to have ended")


def sse_events(raw):
    """The data of each event of an SSE body (text)."""
    text = raw.decode()
    assert text.endswith("\n\n"), text[-200:]
    out = []
    for event in text[:-2].split("\n\n"):
        assert event.startswith("data: "), event
        out.append(event[6:])
    return out


__all__ = ["Gateway", "model", "cascade_config", "nanos", "decimal", "prompt_tokens", "configure", "stats", "chat",
           "settled", "sse_events", "SURE", "UNSURE", "ACCEPT", "SMALL_COST", "LARGE_COST"]
