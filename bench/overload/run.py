#!/usr/bin/env python3
"""bench/overload: accuracy scaling under a load step, with the controller off and on (issue 6, docs/SLO.md).

A route's accurate variant is a simulator with SLOTS slots and a mean service time of SERVICE_MS, so it serves
N = SLOTS / SERVICE requests per second; a faster, less accurate variant is a simulator with many short slots. An
open-loop client (fixed arrival rate, latency measured from each request's scheduled send time, so a slow server
cannot slow the offered load down) offers 0.5 x N, then 3 x N, then 0.5 x N requests per second, twice:

  off  the route without a degrade block: a plain proxy in front of the accurate variant (it queues)
  on   the same route with `degrade: { to: fast }` (every controller default) and max_concurrency = SLOTS on the
       accurate backend: spill-over, the degrade fraction, shedding when every variant is full

Reported per phase and per second: offered and answered requests, shed (429) and failed ones, p50/p99 latency of
the answered ones, SLO attainment (answered within the latency threshold / answered), goodput (answered within the
threshold per second), accuracy (share of answers the simulator marks correct, x-sim-correct), the share answered by
the accurate variant, and the gateway's degrade fraction (sampled from /metrics every second). The goals of issue 6
are checked and printed: with scaling on, at 3x at least 99% of the answered requests meet the latency SLO and at
least 90% of the offered ones are answered; with scaling off the same phase violates the SLO; after the load falls,
traffic is back on the accurate variant within 30 s.

Usage: bench/overload/run.py [--sluice build/sluice] [--quick] [--out bench/results]
Writes OUT/overload.md (tables), OUT/overload.json (per-second series) and, when matplotlib is installed
(scripts/install-deps --bench), OUT/overload.png. A full run takes about 4 minutes; --quick about 1 minute.
Binds 127.0.0.1 only.
"""
import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SLOTS = 8                    # accurate variant: slots ...
TTFT_MS, JITTER_MS = 225, 25  # ... and service time: 225 ms + Exp(mean 25 ms) = 250 ms on average
N = SLOTS * 1000 // (TTFT_MS + JITTER_MS)  # 32 requests per second
THRESHOLD_MS = 600           # the route's latency SLO: 99% within 600 ms (the accurate p99 is about 350 ms)
CLIENT_TIMEOUT = 10.0        # a request not answered in 10 s counts as not answered
PHASES = [("0.5x", 0.5, 20), ("3x", 3.0, 40), ("0.5x after", 0.5, 40)]
QUICK_PHASES = [("0.5x", 0.5, 6), ("3x", 3.0, 15), ("0.5x after", 0.5, 30)]
BODY = json.dumps({"model": "any", "messages": [{"role": "user", "content": "summarize the ticket"}],
                   "max_tokens": 1}).encode()


def start(argv, workdir, name):
    ready = os.path.join(workdir, name + ".ready")
    if os.path.exists(ready):
        os.unlink(ready)  # a previous run's
    log = open(os.path.join(workdir, name + ".log"), "wb")
    p = subprocess.Popen(argv + ["--ready-file", ready], stdout=subprocess.DEVNULL, stderr=log, cwd=workdir)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"{name} exited: see {log.name}")
        try:
            with open(ready) as f:
                return p, json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.02)
    p.kill()
    raise TimeoutError(f"{name} did not start")


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def gateway_config(acc, fast, scaling):
    acc_limit = f", max_concurrency: {SLOTS}" if scaling else ""
    degrade = "\n        degrade: { to: fast }" if scaling else ""
    return f"""server: {{ listen: ["127.0.0.1:0"], threads: 2, shutdown_timeout: 2s }}
admin: {{ listen: 127.0.0.1:0 }}
backends:
  accurate: {{ protocol: openai, endpoints: [{acc}], model: accurate{acc_limit},
              timeouts: {{ first_byte: 60s, total: 60s }} }}
  fast: {{ protocol: openai, endpoints: [{fast}], model: fast, max_concurrency: 64 }}
routes:
  - name: chat
    match: {{ path: /v1/chat/completions }}
    slo: {{ availability: 99.5%, latency: {{ threshold: {THRESHOLD_MS}ms, target: 99% }}, window: 1d }}
    cascade:
      - backend: accurate{degrade}
"""


class Client:
    """Keep-alive HTTP/1.1 connections to the gateway, opened on demand (open loop: never waits for one)."""

    def __init__(self, addr):
        self.host, port = addr.rsplit(":", 1)
        self.port = int(port)
        self.idle = []
        self.request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
                        b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

    async def send(self):
        """Returns (status, headers) or raises. A reused connection that the gateway closed while it was idle
        (keep-alive timeout) is replaced by a new one once, as HTTP clients do."""
        while self.idle:
            conn = self.idle.pop()
            try:
                return await self.exchange(conn)
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                if isinstance(e, asyncio.IncompleteReadError) and e.partial:
                    raise  # the answer had started: not a stale connection
        return await self.exchange(await asyncio.open_connection(self.host, self.port))

    async def exchange(self, conn):
        reader, writer = conn
        try:
            writer.write(self.request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k:
                    headers[k.strip().lower()] = v.strip()
            await reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append(conn)
        return status, headers


async def offer(addr, phases, samples):
    """Runs the load schedule; returns one record per request: (scheduled s, latency s or None, status, backend,
    correct)."""
    client = Client(addr)
    records = []
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.2

    async def one(at):
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            status, headers = await asyncio.wait_for(client.send(), CLIENT_TIMEOUT)
            done = loop.time()
            records.append((at - t0, done - at, status, headers.get("x-sluice-backend"),
                            headers.get("x-sim-correct")))
        except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            records.append((at - t0, None, 0, None, None))

    tasks, start = [], 0.0
    for _, mult, seconds in phases:
        rate = mult * N
        for k in range(int(rate * seconds)):
            tasks.append(asyncio.ensure_future(one(t0 + start + k / rate)))
        start += seconds
    sampler = asyncio.ensure_future(samples(t0, start))
    await asyncio.gather(*tasks)
    await sampler
    for _, writer in client.idle:
        writer.close()
    return records


def metric(text, name, **labels):
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def scrape(admin):
    import urllib.request
    with urllib.request.urlopen(f"http://{admin}/metrics", timeout=5) as r:
        return r.read().decode()


def run(sluice, scaling, phases, workdir):
    seed = ["--seed", "7", "--threads", "1", "--ttft-per-token-ms", "0", "--tpot-ms", "0", "--tpot-jitter-ms", "0"]
    acc, acc_ready = start([sluice, "sim", "--listen", "127.0.0.1:0", "--model", "accurate", "--slots", str(SLOTS),
                            "--queue", "100000", "--ttft-ms", str(TTFT_MS), "--ttft-jitter-ms", str(JITTER_MS),
                            "--accuracy", "0.95", "--concentration", "40"] + seed, workdir, "accurate")
    fast, fast_ready = start([sluice, "sim", "--listen", "127.0.0.1:0", "--model", "fast", "--slots", "64",
                              "--ttft-ms", "30", "--ttft-jitter-ms", "10", "--accuracy", "0.80",
                              "--concentration", "40"] + seed, workdir, "fast")
    cfg = os.path.join(workdir, f"gateway-{'on' if scaling else 'off'}.yaml")
    with open(cfg, "w") as f:
        f.write(gateway_config(acc_ready["listen"][0], fast_ready["listen"][0], scaling))
    gw, gw_ready = start([sluice, "run", "-c", cfg, "--log-level", "warn"], workdir, "gateway")
    fractions = []

    async def samples(t0, end):
        loop = asyncio.get_running_loop()
        while loop.time() < t0 + end + 1:
            try:
                text = await loop.run_in_executor(None, scrape, gw_ready["admin"])
                fractions.append((loop.time() - t0, metric(text, "sluice_degrade_fraction", route="chat", tier="0")))
            except OSError:
                pass
            await asyncio.sleep(1.0)

    try:
        records = asyncio.run(offer(gw_ready["listen"][0], phases, samples))
    finally:
        for p in (gw, acc, fast):
            stop(p)
    return records, fractions


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, int(-(-q * len(xs) // 1)) - 1))]


def summarize(records, lo, hi):
    """Figures of the requests scheduled in [lo, hi) seconds."""
    rs = [r for r in records if lo <= r[0] < hi]
    ok = [r for r in rs if r[2] == 200]
    lat = [r[1] for r in ok]
    good = [x for x in lat if x <= THRESHOLD_MS / 1000]
    return {
        "offered": len(rs),
        "offered_rps": len(rs) / (hi - lo),
        "answered": len(ok) / len(rs) if rs else None,
        "shed": sum(1 for r in rs if r[2] == 429) / len(rs) if rs else None,
        "failed": sum(1 for r in rs if r[2] not in (200, 429)) / len(rs) if rs else None,
        "p50_ms": pct(lat, 0.50) * 1000 if lat else None,
        "p99_ms": pct(lat, 0.99) * 1000 if lat else None,
        "attainment": len(good) / len(ok) if ok else None,
        "goodput_rps": len(good) / (hi - lo),
        "accuracy": sum(1 for r in ok if r[4] == "1") / len(ok) if ok else None,
        "accurate_share": sum(1 for r in ok if r[3] == "accurate") / len(ok) if ok else None,
    }


def fmt(v, kind):
    if v is None:
        return "-"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "ms":
        return f"{v:.0f}"
    return f"{v:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    ap.add_argument("--quick", action="store_true", help="shorter phases (a smoke run)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()
    phases = QUICK_PHASES if args.quick else PHASES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.makedirs(args.out, exist_ok=True)

    results = {}
    with tempfile.TemporaryDirectory(prefix="sluice-overload-") as workdir:
        for name, scaling in (("off", False), ("on", True)):
            print(f"overload: scaling {name} ...", file=sys.stderr, flush=True)
            results[name] = run(os.path.abspath(args.sluice), scaling, phases, workdir)

    bounds, t = [], 0.0
    for label, mult, seconds in phases:
        bounds.append((label, mult, t, t + seconds))
        t += seconds
    total = t
    rows = ["| scaling | phase | offered req/s | answered | shed (429) | failed | p50 ms | p99 ms | SLO attainment | "
            "goodput req/s | accuracy | on accurate |", "|" + "---|" * 12]
    table = {}
    for name in ("off", "on"):
        records, _ = results[name]
        for label, mult, lo, hi in bounds:
            s = summarize(records, lo, hi)
            table[(name, label)] = s
            rows.append(f"| {name} | {label} | {s['offered_rps']:.1f} | {fmt(s['answered'], 'pct')} | "
                        f"{fmt(s['shed'], 'pct')} | {fmt(s['failed'], 'pct')} | {fmt(s['p50_ms'], 'ms')} | "
                        f"{fmt(s['p99_ms'], 'ms')} | {fmt(s['attainment'], 'pct')} | {s['goodput_rps']:.1f} | "
                        f"{fmt(s['accuracy'], 'pct')} | {fmt(s['accurate_share'], 'pct')} |")

    # back on the accurate variant: the first second after the load falls from which the fraction stays 0
    fall = bounds[1][3]
    fr = [(ts, f) for ts, f in results["on"][1] if f is not None]
    back = None
    for i, (ts, f) in enumerate(fr):
        if ts >= fall and all(g == 0 for _, g in fr[i:]):
            back = ts - fall
            break
    peak = max((f for _, f in fr), default=None)

    on3, off3 = table[("on", "3x")], table[("off", "3x")]
    goals = [
        ("scaling on, 3x: answered requests within the latency SLO >= 99%", on3["attainment"] is not None and
         on3["attainment"] >= 0.99, fmt(on3["attainment"], "pct")),
        ("scaling on, 3x: offered requests answered >= 90%", on3["answered"] is not None and on3["answered"] >= 0.90,
         fmt(on3["answered"], "pct")),
        ("scaling off, 3x: the latency SLO is violated (attainment < 99% or answered < 90%)",
         off3["attainment"] is None or off3["attainment"] < 0.99 or off3["answered"] < 0.90,
         f"{fmt(off3['attainment'], 'pct')} within SLO, {fmt(off3['answered'], 'pct')} answered"),
        ("scaling on: the degrade fraction is back to 0 within 30 s after the load falls",
         back is not None and back <= 30, "never" if back is None else f"{back:.0f} s (peak fraction "
         f"{100 * peak:.0f}%)"),
    ]

    series = {}
    for name in ("off", "on"):
        records, fractions = results[name]
        series[name] = {"seconds": [], "fraction": [[round(ts, 1), f] for ts, f in fractions]}
        for sec in range(int(total)):
            s = summarize(records, sec, sec + 1)
            s["t"] = sec
            series[name]["seconds"].append(s)
    with open(os.path.join(args.out, "overload.json"), "w") as f:
        json.dump({"n_rps": N, "slots": SLOTS, "service_ms": TTFT_MS + JITTER_MS, "threshold_ms": THRESHOLD_MS,
                   "phases": [[label, mult, seconds] for label, mult, seconds in phases], "series": series}, f)

    md = [f"# bench/overload results{' (--quick)' if args.quick else ''}", "",
          f"Accurate variant: {SLOTS} slots x {TTFT_MS + JITTER_MS} ms mean service = N = {N} req/s; fast variant: "
          f"64 slots x 40 ms. Latency SLO: {THRESHOLD_MS} ms for 99% of requests. Phases: " +
          ", ".join(f"{label} = {mult * N:g} req/s for {seconds} s" for label, mult, seconds in phases) + ".", "",
          *rows, "", "Goals:", ""]
    for text, ok, value in goals:
        md.append(f"- [{'x' if ok else ' '}] {text}: {value}")
    png = plot(series, bounds, args.out)
    if png:
        md += ["", f"![overload]({os.path.basename(png)})"]
    with open(os.path.join(args.out, "overload.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if all(ok for _, ok, _ in goals) else 1


def rolling(secs, key, width=5):
    """A share over the answered requests of the last `width` seconds (per-second shares at 16 req/s are noise)."""
    out = []
    for i in range(len(secs)):
        window = secs[max(0, i - width + 1):i + 1]
        n = sum(s["answered"] * s["offered"] for s in window if s["answered"] is not None)
        v = sum(s[key] * s["answered"] * s["offered"] for s in window if s[key] is not None and s["answered"])
        out.append(v / n if n else None)
    return out


def plot(series, bounds, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("overload: matplotlib not installed (scripts/install-deps --bench): no plot", file=sys.stderr)
        return None
    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    for name, style in (("off", "tab:red"), ("on", "tab:blue")):
        secs = series[name]["seconds"]
        t = [s["t"] for s in secs]
        axes[0].plot(t, [s["p99_ms"] if s["p99_ms"] is not None else float("nan") for s in secs], color=style,
                     label=f"scaling {name}")
        axes[1].plot(t, [s["goodput_rps"] for s in secs], color=style, label=f"goodput, scaling {name}")
        axes[1].plot(t, [s["offered_rps"] for s in secs], color="gray", linestyle=":", label="offered" if name == "on"
                     else None)
        axes[2].plot(t, [100 * a if a is not None else float("nan") for a in rolling(secs, "accuracy")], color=style,
                     label=f"accuracy (5 s), scaling {name}")
        axes[2].plot(t, [100 * s["shed"] if s["shed"] is not None else float("nan") for s in secs], color=style,
                     linestyle="--", label=f"shed %, scaling {name}")
    fr = series["on"]["fraction"]
    axes[3].plot([x for x, _ in fr], [100 * (f or 0) for _, f in fr], color="tab:blue", label="degrade fraction")
    on = series["on"]["seconds"]
    axes[3].plot([s["t"] for s in on], [100 * a if a is not None else float("nan") for a in rolling(on, "accurate_share")],
                 color="tab:green", label="answered by the accurate variant (5 s)")
    axes[0].axhline(THRESHOLD_MS, color="black", linestyle="--", linewidth=0.8, label="SLO threshold")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("p99 latency (ms)")
    axes[1].set_ylabel("req/s")
    axes[2].set_ylabel("%")
    axes[2].set_title("accuracy of the answers (solid, 5 s window) and shed requests (dashed)", fontsize=9)
    axes[3].set_ylabel("%")
    axes[3].set_xlabel("seconds")
    for ax in axes:
        for _, _, lo, _ in bounds[1:]:
            ax.axvline(lo, color="gray", linewidth=0.6)
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"bench/overload: N = {N} req/s, load 0.5x -> 3x -> 0.5x")
    fig.tight_layout()
    path = os.path.join(out, "overload.png")
    fig.savefig(path, dpi=90)
    return path


if __name__ == "__main__":
    sys.exit(main())
