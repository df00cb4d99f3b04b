#!/usr/bin/env python3
"""bench/cascade: accuracy, cost and latency of a two-model cascade on a labelled workload, beside each model alone.

Two simulated models (`sluice sim`, docs/SIM.md) behind one `sluice run`:
  small  fast, less accurate, its confidence calibrated and spread out (some requests are easy for it, some not)
  large  slow, accurate, ten times the small model's price (per request and per token)
Routes, chosen by a request header: the small model alone, the large one alone, and the cascade small -> large
with `accept: {signal: logprob_mean, min: ln t}` for several thresholds t. Every configuration gets the same
`classify:` prompts; each answer is scored against the simulator's documented ground truth,
labels[FNV-1a-64(text) mod len(labels)], computed here independently of the simulator.

Reported per configuration: accuracy (with a 95 % interval), cost (the sum of the x-sluice-cost headers, and
relative to the large model alone), the share of requests the small model kept, latency percentiles as the client
saw them, and the cost saving read back from /metrics (1 - sluice_cost_total / sluice_cost_last_tier_total). The
goal of the cascade: the large model's accuracy within 1 point at no more than 40 % of its cost.

Usage: bench/cascade/run.py [--sluice build/sluice] [--requests 10000] [--concurrency 16] [--quick]
                            [--out bench/results/cascade.md] [--png bench/results/cascade.png]
Needs python3; the plot needs python3-matplotlib and the expected values python3-scipy (scripts/install-deps
--bench). Binds 127.0.0.1 only; about 5 minutes on 2 vCPUs (--quick: 30 s).
"""
import argparse
import http.client
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LABELS = ["billing", "technical", "account", "other"]
SMALL = {"accuracy": "0.85", "concentration": "1.5", "ttft_ms": "15", "tpot_ms": "4"}
LARGE = {"accuracy": "0.95", "concentration": "20", "ttft_ms": "120", "tpot_ms": "20"}
SMALL_COST = (0.0001, 0.0001, 0.0002)  # per request, per 1k input tokens, per 1k output tokens
LARGE_COST = tuple(10 * c for c in SMALL_COST)
THRESHOLDS = [0.6, 0.7, 0.75, 0.8, 0.85, 0.9]
WORDS = ("refund invoice charged twice card declined password reset login locked email changed crash error "
         "timeout upload failed slow api key quota plan upgrade cancel address shipping order missing delivery "
         "screen blank update broken sync account deleted hello thanks question other").split()


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def truth(text):
    return LABELS[fnv1a64(text.encode()) % len(LABELS)]


def workload(n, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = f"ticket {i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16)))
        out.append(text)
    return out


def wait_file(path, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:2]} exited with {proc.returncode}")
        try:
            with open(path) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.02)
    raise TimeoutError(f"{path} was not written")


def start_sims(sluice, tmp, seed):
    args = [sluice, "sim", "--threads", "2", "--seed", str(seed), "--labels", ",".join(LABELS), "--slots", "512"]
    for name, params in (("small", SMALL), ("large", LARGE)):
        args += ["--listen", "127.0.0.1:0", "--model", name]
        for k, v in params.items():
            args += ["--" + k.replace("_", "-"), v]
    ready = os.path.join(tmp, "sims.json")
    proc = subprocess.Popen(args + ["--ready-file", ready], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, wait_file(ready, proc)["listen"]


def cost_yaml(c):
    return f"{{ per_request: {c[0]}, per_1k_input_tokens: {c[1]}, per_1k_output_tokens: {c[2]:.6g} }}"


def configs():
    """(name, header value, cascade YAML) of every configuration measured."""
    out = [("small only", "small", "[ { backend: small } ]"), ("large only", "large", "[ { backend: large } ]")]
    for t in THRESHOLDS:
        accept = f"{{ signal: logprob_mean, min: {math.log(t):.6f} }}"
        out.append((f"cascade t={t:g}", f"c{int(round(t * 100))}",
                    f"[ {{ backend: small, accept: {accept} }}, {{ backend: large }} ]"))
    return out


def gateway_config(small, large):
    text = 'server: { listen: ["127.0.0.1:0"], threads: 2 }\nadmin: { listen: 127.0.0.1:0 }\nbackends:\n'
    text += f"  small: {{ protocol: openai, endpoints: [{small}], model: small, cost: {cost_yaml(SMALL_COST)} }}\n"
    text += f"  large: {{ protocol: openai, endpoints: [{large}], model: large, cost: {cost_yaml(LARGE_COST)} }}\n"
    text += "routes:\n"
    for i, (_, header, cascade) in enumerate(configs()):
        text += (f"  - {{ name: r{i}, match: {{ path: /v1/chat/completions, headers: {{ x-bench: {header} }} }},"
                 f" cascade: {cascade} }}\n")
    return text


def run_config(addr, header, prompts, concurrency):
    """Sends every prompt once; returns per-request (correct, cost, seconds, tier)."""
    host, port = addr.rsplit(":", 1)
    results = [None] * len(prompts)
    nxt = [0]
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(prompts):
                break
            body = json.dumps({"model": "any", "messages": [{"role": "user", "content": "classify: " + prompts[i]}]})
            t0 = time.monotonic()
            conn.request("POST", "/v1/chat/completions", body=body,
                         headers={"content-type": "application/json", "x-bench": header})
            r = conn.getresponse()
            data = r.read()
            took = time.monotonic() - t0
            if r.status != 200:
                raise RuntimeError(f"{header}: status {r.status}: {data[:200]!r}")
            answer = json.loads(data)["choices"][0]["message"]["content"]
            results[i] = (answer == truth(prompts[i]), float(r.getheader("x-sluice-cost")), took,
                          int(r.getheader("x-sluice-tier")))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if any(r is None for r in results):
        raise RuntimeError(f"{header}: some requests failed")
    return results


def metrics(admin):
    host, port = admin.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    values = {}
    for line in text.splitlines():
        if line.startswith("sluice_cost_") and not line.startswith("#"):
            key, v = line.rsplit(" ", 1)
            values[key] = float(v)
    return values


def expected(name):
    """(accuracy, cost relative to large) the simulator's documented model predicts (docs/SIM.md, "Quality"):
    c = f + (1 - f) B, B ~ Beta(m k, (1 - m) k), f = 1/labels, m = (accuracy - f) / (1 - f); an answer is right with
    probability c; the cascade keeps it when c >= t. None without scipy."""
    try:
        from scipy import integrate, stats
    except ImportError:
        return None
    a_s, k, a_l = float(SMALL["accuracy"]), float(SMALL["concentration"]), float(LARGE["accuracy"])
    if name == "small only":
        return a_s, 0.1
    if name == "large only":
        return a_l, 1.0
    t = float(name.split("=")[1])
    f = 1 / len(LABELS)
    m = (a_s - f) / (1 - f)
    b = stats.beta(m * k, (1 - m) * k)
    bt = (t - f) / (1 - f)
    kept = b.sf(bt)
    right_kept = f * kept + (1 - f) * integrate.quad(lambda x: x * b.pdf(x), bt, 1)[0]
    return right_kept + (1 - kept) * a_l, 0.1 + (1 - kept)


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(p / 100 * len(xs))) - 1)]


def summarize(name, res, large_cost, m, route):
    n = len(res)
    acc = sum(r[0] for r in res) / n
    half = 1.96 * math.sqrt(acc * (1 - acc) / n)
    cost = sum(r[1] for r in res)
    lat = [r[2] * 1000 for r in res]
    kept = sum(1 for r in res if r[3] == 0) / n
    spent = sum(v for k, v in m.items() if k.startswith(f'sluice_cost_total{{route="{route}"'))
    ideal = m.get(f'sluice_cost_last_tier_total{{route="{route}"}}', 0)
    return {"name": name, "n": n, "accuracy": acc, "half": half, "cost": cost, "relative": cost / large_cost,
            "expected": expected(name),
            "kept": kept, "p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
            "saving": 1 - spent / ideal if ideal else 0.0}


def report(rows, args, large):
    out = ["# bench/cascade results", "",
           f"{args.requests} labelled `classify:` requests per configuration, {args.concurrency} concurrent clients, "
           f"one `sluice run` (2 workers) in front of one `sluice sim` process with two models (2 threads each).", "",
           f"- small: accuracy {SMALL['accuracy']}, concentration {SMALL['concentration']}, ttft {SMALL['ttft_ms']} ms, "
           f"cost {SMALL_COST[0]:g} per request + {SMALL_COST[1]:g} / {SMALL_COST[2]:g} per 1k input / output tokens",
           f"- large: accuracy {LARGE['accuracy']}, concentration {LARGE['concentration']}, ttft {LARGE['ttft_ms']} ms, "
           f"ten times the small model's prices",
           f"- {len(LABELS)} labels ({', '.join(LABELS)}); the cascade keeps the small answer when "
           f"`logprob_mean >= ln t` (the simulator's confidence c is exp(mean logprob))", "",
           "| configuration | accuracy | expected | cost per 1k requests | cost vs large only | expected | "
           "kept by small | p50 ms | p95 ms | p99 ms | saving from /metrics | goal |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        goal = []
        if r["name"].startswith("cascade"):
            if r["accuracy"] < large["accuracy"] - 0.01:
                goal.append(f"accuracy {100 * (r['accuracy'] - large['accuracy']):+.1f} pt")
            if r["relative"] > 0.40:
                goal.append("cost above 40 %")
            goal = ["met"] if not goal else goal
        goal = ", ".join(goal)
        e = r["expected"]
        ea, ec = (f"{100 * e[0]:.1f} %", f"{100 * e[1]:.1f} %") if e else ("-", "-")
        out.append(f"| {r['name']} | {100 * r['accuracy']:.1f} % ± {100 * r['half']:.1f} | {ea} | "
                   f"{1000 * r['cost'] / r['n']:.4f} | {100 * r['relative']:.1f} % | {ec} | {100 * r['kept']:.1f} % | "
                   f"{r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {100 * r['saving']:.1f} % | {goal} |")
    out += ["", "Goal: the large model's accuracy within 1 point at no more than 40 % of its cost. "
            "Accuracy intervals are 95 % (normal approximation); each configuration draws its own answers, so two "
            "accuracies closer than their intervals are not different. The saving column is "
            "`1 - sluice_cost_total / sluice_cost_last_tier_total` of the route, as the PromQL ratio would show it "
            "(0 for a single-tier route: its last tier is itself). The expected columns are what the simulator's "
            "documented model predicts for that configuration (computed with scipy): the cost ratio is exact (both "
            "models see the same tokens), so the measured cost only differs from it by the share of requests the "
            "small model happened to keep.", ""]
    return "\n".join(out)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (apt install python3-matplotlib): no plot", file=sys.stderr)
        return False
    large = next(r for r in rows if r["name"] == "large only")
    cas = [r for r in rows if r["name"].startswith("cascade")]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.axhspan(100 * (large["accuracy"] - 0.01), 100 * large["accuracy"], color="tab:green", alpha=0.12,
               label="within 1 point of large")
    ax.axvline(40, color="tab:green", linestyle=":", label="40 % of large's cost")
    ax.plot([100 * r["relative"] for r in cas], [100 * r["accuracy"] for r in cas], "o-", color="tab:blue",
            label="cascade (threshold t)")
    for r in cas:
        ax.annotate(r["name"].split("=")[1], (100 * r["relative"], 100 * r["accuracy"]), textcoords="offset points",
                    xytext=(5, -12), fontsize=8)
    for r, color in ((next(x for x in rows if x["name"] == "small only"), "tab:orange"), (large, "tab:red")):
        ax.errorbar([100 * r["relative"]], [100 * r["accuracy"]], yerr=[100 * r["half"]], fmt="s", color=color,
                    label=r["name"])
    ax.set_xlabel("cost, % of the large model alone")
    ax.set_ylabel("accuracy, %")
    ax.set_title("sluice cascade: cost / accuracy frontier (simulated models)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="500 requests per configuration")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "cascade.md"))
    ap.add_argument("--png", default=os.path.join(ROOT, "bench", "results", "cascade.png"))
    args = ap.parse_args()
    if args.quick:
        args.requests = 500
    tmp = tempfile.mkdtemp(prefix="sluice-bench-cascade-")
    sims, (small, large) = start_sims(args.sluice, tmp, args.seed)
    conf = os.path.join(tmp, "sluice.yaml")
    with open(conf, "w") as f:
        f.write(gateway_config(small, large))
    ready = os.path.join(tmp, "gw.json")
    gw = subprocess.Popen([args.sluice, "run", "-c", conf, "--ready-file", ready], stdout=subprocess.DEVNULL,
                          stderr=open(os.path.join(tmp, "gw.log"), "wb"))
    try:
        info = wait_file(ready, gw)
        prompts = workload(args.requests, args.seed)
        results = []
        for i, (name, header, _) in enumerate(configs()):
            t0 = time.monotonic()
            results.append((name, f"r{i}", run_config(info["listen"][0], header, prompts, args.concurrency)))
            print(f"{name}: {time.monotonic() - t0:.1f} s", file=sys.stderr)
        m = metrics(info["admin"])
        large_cost = sum(r[1] for r in results[1][2])
        rows = [summarize(name, res, large_cost, m, route) for name, route, res in results]
    finally:
        gw.send_signal(signal.SIGTERM)
        sims.send_signal(signal.SIGTERM)
        gw.wait(30)
        sims.wait(30)
    text = report(rows, args, rows[1])
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    if plot(rows, args.png):
        text += f"\n![cost / accuracy frontier]({os.path.relpath(args.png, os.path.dirname(args.out))})\n"
        with open(args.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
