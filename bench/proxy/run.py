#!/usr/bin/env python3
"""bench/proxy: sluice, nginx and haproxy fronting the same fast backend, side by side in one run.

Every proxy gets one worker thread/process and the same keep-alive upstream settings; the backend is an nginx
instance answering a fixed OpenAI-style chat completion from memory. Runs are interleaved (every target once per
round, several rounds) and medians reported, so machine noise hits every target alike. The order changes from one
round to the next after a Williams design (a Latin square balanced for carry-over): over 6 rounds of 6 targets
each target runs in every position once and right after every other target once; each measured run also follows
an unmeasured warm-up run of the same target and concurrency. With one fixed order the target right after `direct`
was measured in a different state from the others (bench/README.md).
Figures are ratios to the direct backend and to nginx, never absolute claims.

Targets: direct (wrk against the backend itself), sluice, sluice-bp (the same sluice with server.busy_poll, which
trades CPU for latency at light load: docs/OPERATIONS.md), nginx, nginx-hdrs (nginx adding the header fields sluice
adds) and haproxy.

Measured per target and concurrency (wrk, POST of a small chat request):
  requests/s, p50 and p99 latency, CPU time per request of the proxy processes (from /proc, user+system), and that
  CPU time over the backend's in the same run (the steadiest efficiency figure on a shared host); the CPU time per
  request of the backend and of wrk, and the cores the three kept busy (requests/s x their CPU per request): with
  the same CPU per request, a proxy that leaves cores idle more often gets fewer requests/s.
Memory:
  RSS per idle keep-alive client connection (10,000 connections held open after one request each);
  RSS while streaming a large response to a slow client, for two sizes (flat = no growth with size).

With --pin, wrk runs on a CPU of its own and the backend and the proxy share the others (taskset): the proxy's
capacity, not the scheduler's placement of three processes on shared cores, then decides the throughput at 64
connections (bench/README.md).

Usage: bench/proxy/run.py [--sluice build/sluice] [--rounds 6] [--duration 5] [--warmup 1] [--quick] [--pin]
                          [--out bench/results/proxy.md]
Needs: scripts/install-deps --bench (wrk, nginx-light, haproxy). Binds 127.0.0.1 only; every load is bounded.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CHAT_REQUEST = json.dumps({
    "model": "bench-model",
    "messages": [{"role": "system", "content": "You are a helpful assistant."},
                 {"role": "user", "content": "Say hello in one short sentence, please."}],
    "max_tokens": 16,
})
CHAT_RESPONSE = json.dumps({
    "id": "chatcmpl-bench0001", "object": "chat.completion", "created": 1764158400, "model": "bench-model",
    "system_fingerprint": "fp_bench",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! Nice to meet you."},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 24, "completion_tokens": 7, "total_tokens": 31},
})

# argv prefixes for the servers and for wrk (taskset with --pin; empty otherwise)
SERVER_PREFIX = ()
WRK_PREFIX = ()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"port {port} did not open")


def proc_tree(pid):
    """pid and all its descendants."""
    out = [pid]
    try:
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    except OSError:
        kids = []
    for k in kids:
        out += proc_tree(int(k))
    return out


def children_cpu_seconds():
    """User + system CPU of the children this script waited for (wrk runs to completion in subprocess.run)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / tick


def rss_bytes(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
                total += int(m.group(1)) * 1024 if m else 0
        except OSError:
            pass
    return total


class Server:
    def __init__(self, name, argv, port, workdir, env=None, wrapper=()):
        """wrapper: argv prefix the server runs under (valgrind for instr.py); it then gets longer to start."""
        self.name, self.port, self.workdir = name, port, workdir
        self.log = open(os.path.join(workdir, name + ".log"), "wb")
        self.p = subprocess.Popen(list(SERVER_PREFIX) + list(wrapper) + argv, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
        wait_port(port, 60.0 if wrapper else 10.0)

    def pids(self):
        return proc_tree(self.p.pid)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def start_backend(workdir, big_file):
    port = free_port()
    conf = os.path.join(workdir, "backend.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off; master_process off; worker_processes 1; error_log stderr error; pid {workdir}/backend.pid;
events {{ worker_connections 20000; }}
http {{
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  client_body_buffer_size 64k;
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    location /v1/chat/completions {{ default_type application/json; return 200 '{CHAT_RESPONSE}'; }}
    location /health {{ return 200 'ok'; }}
    location /big/ {{ alias {os.path.dirname(big_file)}/; }}
  }}
}}
""")
    return Server("backend", ["nginx", "-e", "stderr", "-c", conf, "-p", workdir], port, workdir)


# The sluice-bp target: sluice with server.busy_poll (docs/OPERATIONS.md), the same binary as the sluice target.
BUSY_POLL = "50us"

# What sluice adds to every proxied exchange (docs/ARCHITECTURE.md): x-forwarded-for, x-forwarded-proto and an
# x-request-id upstream, the x-request-id and four x-sluice-* fields to the client. The nginx-hdrs target does the same.
SAME_HEADERS = """
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-Id $request_id; add_header X-Request-Id $request_id;
      add_header X-Sluice-Backend fast; add_header X-Sluice-Tier 0; add_header X-Sluice-Escalations 0;
      add_header X-Sluice-Cost 0;"""


def start_nginx(workdir, backend_port, wrapper=(), same_headers=False):
    """same_headers: nginx also adds the header fields sluice adds (the nginx-hdrs target)."""
    port = free_port()
    name = "nginx-hdrs" if same_headers else "nginx"
    conf = os.path.join(workdir, f"{name}.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off; master_process off; worker_processes 1; worker_rlimit_nofile 20000; error_log stderr error;
pid {workdir}/{name}.pid;
events {{ worker_connections 19000; }}
http {{
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  upstream be {{ server 127.0.0.1:{backend_port}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    client_max_body_size 8m;
    location / {{
      proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection "";{SAME_HEADERS if same_headers else ""}
      proxy_buffering on;
    }}
  }}
}}
""")
    return Server(name, ["nginx", "-e", "stderr", "-c", conf, "-p", workdir], port, workdir, wrapper=wrapper)


def start_haproxy(workdir, backend_port):
    port = free_port()
    conf = os.path.join(workdir, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write(f"""global
  nbthread 1
  maxconn 9950
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:{port}
  default_backend be
backend be
  server s1 127.0.0.1:{backend_port}
""")
    return Server("haproxy", ["haproxy", "-db", "-f", conf], port, workdir)


def start_sluice(workdir, sluice_bin, backend_port, wrapper=(), model=None, busy_poll=None):
    """model: the backend's upstream model (every request's "model" is then rewritten); None sends bodies as they are.
    busy_poll: server.busy_poll (the sluice-bp target), None leaves it at its default (off)."""
    port, admin = free_port(), free_port()
    name = "sluice-bp" if busy_poll else "sluice"
    conf = os.path.join(workdir, f"{name}.yaml")
    with open(conf, "w") as f:
        f.write(f"""server:
  listen: ["127.0.0.1:{port}"]
  threads: 1{f"{chr(10)}  busy_poll: {busy_poll}" if busy_poll else ""}
admin:
  listen: 127.0.0.1:{admin}
backends:
  fast:
    protocol: openai
    endpoints: ["127.0.0.1:{backend_port}"]{f"{chr(10)}    model: {model}" if model else ""}
routes:
  - name: all
    match: {{ path: / }}
    cascade:
      - backend: fast
""")
    return Server(name, [sluice_bin, "run", "-c", conf, "--log-level", "error"], port, workdir, wrapper=wrapper)


def wrk(port, conns, duration, workdir):
    script = os.path.join(workdir, "post.lua")
    if not os.path.exists(script):
        with open(script, "w") as f:
            body = CHAT_REQUEST.replace("\\", "\\\\").replace('"', '\\"')
            f.write(f'wrk.method = "POST"\nwrk.body = "{body}"\n'
                    'wrk.headers["Content-Type"] = "application/json"\n')
    out = subprocess.run(list(WRK_PREFIX) + ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", script,
                          f"http://127.0.0.1:{port}/v1/chat/completions"],
                         capture_output=True, text=True, timeout=duration + 30).stdout

    def lat(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v * {"us": 1, "ms": 1e3, "s": 1e6}[unit]

    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50_us": lat("50"),
            "p99_us": lat("99"), "requests": reqs, "errors": errors + (int(non2xx.group(1)) if non2xx else 0)}


def idle_connections_rss(server, n, timeout=60.0):
    """Opens n keep-alive connections, one request each, holds them; returns bytes of RSS per connection.
    haproxy needs two descriptors per connection and the file limit here is 20,000, so it holds at most its
    maxconn (9,950); the report shows how many each target held."""
    base = rss_bytes(server.pids())
    socks = []
    req = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(CHAT_REQUEST)}\r\n\r\n{CHAT_REQUEST}").encode()
    deadline = time.monotonic() + timeout
    try:
        for _ in range(n):
            if time.monotonic() > deadline:
                break
            s = socket.socket()
            try:
                s.settimeout(10)
                s.connect(("127.0.0.1", server.port))
                s.sendall(req)
                got = b""
                while b"\r\n\r\n" not in got or len(got) < got.find(b"\r\n\r\n") + 4 + len(CHAT_RESPONSE):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except OSError:  # no answer: the target holds no more connections (haproxy past its maxconn)
                s.close()
                break
            socks.append(s)
        time.sleep(0.5)  # let the servers settle before sampling RSS (not a synchronisation)
        held = rss_bytes(server.pids())
        return len(socks), (held - base) / max(len(socks), 1)
    finally:
        for s in socks:
            s.close()


def stream_rss(server, path, size, rate_bps, timeout=120.0):
    """Reads `size` bytes through the proxy at about rate_bps; returns the peak RSS growth of the proxy."""
    pids = server.pids()
    base = rss_bytes(pids)
    peak = base
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    got, start, last_sample = 0, time.monotonic(), 0.0
    deadline = start + timeout
    while time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += len(chunk)
        now = time.monotonic()
        ahead = got / rate_bps - (now - start)
        if ahead > 0:
            time.sleep(min(ahead, 0.05))  # the slow client: throttle reading to rate_bps
        if now - last_sample > 0.05:
            peak = max(peak, rss_bytes(pids))
            last_sample = now
    s.close()
    return got, peak - base


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", default=os.path.join(ROOT, "build", "sluice"))
    ap.add_argument("--rounds", type=int, default=None,
                    help="default: the targets' count when even, twice it when odd (the smallest balanced order)")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each measured run")
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--quick", action="store_true", help="1 round of 2 s, 2000 idle connections, small streams")
    ap.add_argument("--targets", default="direct,sluice,sluice-bp,nginx,nginx-hdrs,haproxy")
    ap.add_argument("--pin", action="store_true",
                    help="wrk on the last CPU, the backend and the proxies on the others (needs 2 CPUs)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "proxy.md"))
    a = ap.parse_args()
    a.pinned = None
    if a.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2 or shutil.which("taskset") is None:
            ap.error("--pin needs two CPUs and taskset (util-linux)")
        global SERVER_PREFIX, WRK_PREFIX
        servers_cpus = ",".join(map(str, cpus[:-1]))
        SERVER_PREFIX, WRK_PREFIX = ("taskset", "-c", servers_cpus), ("taskset", "-c", str(cpus[-1]))
        a.pinned = (servers_cpus, cpus[-1])
    a.sluice = os.path.abspath(a.sluice)  # the servers run in the work directory
    targets = a.targets.split(",")
    if a.rounds is None:
        a.rounds = len(williams_orders(len(targets)))
    if a.quick:
        a.rounds, a.duration, a.warmup, a.idle = 1, 2, 0, 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the proxies inherit it

    workdir = tempfile.mkdtemp(prefix="sluice-bench-")
    a.load_before = os.getloadavg()  # what else the machine ran shows here (the report prints both)
    big = os.path.join(workdir, "www", "big.bin")
    os.makedirs(os.path.dirname(big))
    big_size = 20 << 20 if a.quick else 100 << 20
    with open(big, "wb") as f:
        f.truncate(big_size)
    small = os.path.join(workdir, "www", "small.bin")
    with open(small, "wb") as f:
        f.truncate(big_size // 10)

    backend = start_backend(workdir, big)
    servers = {"direct": backend}
    try:
        if "nginx" in targets:
            servers["nginx"] = start_nginx(workdir, backend.port)
        if "nginx-hdrs" in targets:
            servers["nginx-hdrs"] = start_nginx(workdir, backend.port, same_headers=True)
        if "haproxy" in targets:
            servers["haproxy"] = start_haproxy(workdir, backend.port)
        if "sluice" in targets:
            servers["sluice"] = start_sluice(workdir, a.sluice, backend.port)
        if "sluice-bp" in targets:
            servers["sluice-bp"] = start_sluice(workdir, a.sluice, backend.port, busy_poll=BUSY_POLL)
        results = {t: {c: [] for c in (1, 64)} for t in targets}
        orders = williams_orders(len(targets))
        for r in range(a.rounds):
            order = [targets[i] for i in orders[r % len(orders)]]
            for conns in (1, 64):
                for t in order:
                    srv = servers[t]
                    if a.warmup > 0:
                        wrk(srv.port, conns, a.warmup, workdir)
                    pids = [] if t == "direct" else srv.pids()
                    c0, b0, w0 = cpu_seconds(pids), cpu_seconds(backend.pids()), children_cpu_seconds()
                    res = wrk(srv.port, conns, a.duration, workdir)
                    res["wrk_us_per_req"] = (children_cpu_seconds() - w0) * 1e6 / max(res["requests"], 1)
                    res["cpu_us_per_req"] = (cpu_seconds(pids) - c0) * 1e6 / max(res["requests"], 1)
                    # the backend does the same work per request behind every target, so the proxy's CPU over the
                    # backend's in the same run cancels out how fast the shared host happened to be meanwhile
                    backend_us = (cpu_seconds(backend.pids()) - b0) * 1e6 / max(res["requests"], 1)
                    res["cpu_vs_backend"] = (res["cpu_us_per_req"] / backend_us if backend_us > 0 and t != "direct"
                                             else float("nan"))
                    res["backend_us_per_req"] = backend_us
                    # cores busy with this exchange (the rest of the machine's cores were idle or ran other work)
                    res["cores_busy"] = res["rps"] * (res["cpu_us_per_req"] + backend_us + res["wrk_us_per_req"]) / 1e6
                    results[t][conns].append(res)
                    print(f"round {r + 1} c={conns:<3} {t:<8} {res['rps']:>10.0f} req/s  p50 {res['p50_us']:>8.0f} us"
                          f"  p99 {res['p99_us']:>8.0f} us  cpu/req {res['cpu_us_per_req']:6.1f} us"
                          f"  errors {res['errors']}", flush=True)
        med = {t: {c: {k: statistics.median(x[k] for x in results[t][c]) for k in results[t][c][0]}
                   for c in (1, 64)} for t in targets}
        mem = {}
        for t in targets:
            if t in ("direct", "sluice-bp"):  # sluice-bp: the same binary and memory as sluice
                continue
            n, per_conn = idle_connections_rss(servers[t], a.idle)
            got_small, grow_small = stream_rss(servers[t], "/big/small.bin", big_size // 10, 20e6)
            got_big, grow_big = stream_rss(servers[t], "/big/big.bin", big_size, 50e6)
            mem[t] = {"idle_conns": n, "rss_per_idle_conn": per_conn, "stream_small": (got_small, grow_small),
                      "stream_big": (got_big, grow_big)}
            print(f"{t}: {per_conn / 1024:.1f} KiB/idle conn over {n}; stream {got_small >> 20} MiB -> "
                  f"+{grow_small / 2**20:.1f} MiB RSS, {got_big >> 20} MiB -> +{grow_big / 2**20:.1f} MiB RSS",
                  flush=True)
    finally:
        for s in servers.values():
            s.stop()
    a.load_after = os.getloadavg()
    report(a, targets, med, mem, results)
    shutil.rmtree(workdir, ignore_errors=True)


def williams_orders(n):
    """Orders of range(n), one per round, such that over the returned rounds every item takes every position
    equally often and directly follows every other item equally often (Williams 1949; 2n rows for odd n)."""
    first, lo, hi = [0], 1, n - 1
    while len(first) < n:
        first.append(lo)
        lo += 1
        if len(first) < n:
            first.append(hi)
            hi -= 1
    rows = [[(x + i) % n for x in first] for i in range(n)]
    if n % 2 == 1:
        rows += [row[::-1] for row in rows]
    return rows


def round_by_round(results, t="sluice"):
    """Target t (sluice or sluice-bp) beside nginx in each round (the same round ran both, in positions that change
    from round to round): how often and by how much one was ahead, so a difference can be read against the
    round-to-round spread."""
    n = len(results[t][1])
    lines = [f"## {t} beside nginx, round by round", "",
             f"| round | c=1 added p50 {t} / nginx µs | c=1 difference µs | c=64 req/s {t} / nginx | "
             f"c=64 CPU µs/req {t} / nginx | c=64 cores busy {t} / nginx |", "|---|---|---|---|---|---|"]
    diffs, ratios = [], []
    for r in range(n):
        d = results["direct"][1][r]["p50_us"]
        s1, n1 = results[t][1][r]["p50_us"] - d, results["nginx"][1][r]["p50_us"] - d
        ratio = results[t][64][r]["rps"] / results["nginx"][64][r]["rps"]
        diffs.append(s1 - n1)
        ratios.append(ratio)
        s64, n64 = results[t][64][r], results["nginx"][64][r]
        lines.append(f"| {r + 1} | {s1:.0f} / {n1:.0f} | {s1 - n1:+.0f} | {ratio:.3f} | "
                     f"{s64['cpu_us_per_req']:.2f} / {n64['cpu_us_per_req']:.2f} | "
                     f"{s64['cores_busy']:.2f} / {n64['cores_busy']:.2f} |")
    lines += ["", f"c=1: {t}'s added p50 at or below nginx's in {sum(x <= 0 for x in diffs)} of {n} rounds, median "
              f"difference {statistics.median(diffs):+.1f} µs (spread {min(diffs):+.0f} to {max(diffs):+.0f}). "
              f"c=64: {t}'s throughput at or above nginx's in {sum(x >= 1 for x in ratios)} of {n} rounds, median "
              f"ratio {statistics.median(ratios):.3f} ({min(ratios):.3f} to {max(ratios):.3f}).", ""]
    return lines


def report(a, targets, med, mem, results=None):
    d = med["direct"]
    lines = [f"# bench/proxy — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             f"{a.rounds} interleaved rounds of {a.duration} s per target and concurrency (medians; the order changes "
             f"each round, balanced for position and predecessor; each run after {a.warmup} s of unmeasured load); wrk -t1, "
             "POST of a 220-byte chat request, 480-byte answer; each proxy with one worker; "
             + (f"{os.cpu_count()} cores shared by client, proxy and backend. " if a.pinned is None else
                f"wrk pinned to CPU {a.pinned[1]}, the backend and the proxy to CPU {a.pinned[0]} (`--pin`). ")
             + f"Load average (1, 5, 15 min) at the start "
             f"{' '.join(f'{x:.2f}' for x in a.load_before)} (other work on the machine: the higher, the noisier the "
             f"figures), at the end {' '.join(f'{x:.2f}' for x in a.load_after)} (this run's own load included).", ""]
    for c in (1, 64):
        lines += [f"## c={c}", "", "| target | req/s | vs direct | vs nginx | p50 µs | added p50 µs | p99 µs | "
                  "CPU µs/req | CPU vs nginx | CPU / backend's | backend, wrk CPU µs/req | cores busy | errors |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for t in targets:
            m = med[t][c]
            vs_ng = m["rps"] / med["nginx"][c]["rps"] if "nginx" in med else float("nan")
            cpu_ng = (m["cpu_us_per_req"] / med["nginx"][c]["cpu_us_per_req"]
                      if "nginx" in med and t != "direct" else float("nan"))
            lines.append(f"| {t} | {m['rps']:.0f} | {m['rps'] / d[c]['rps']:.2f} | {vs_ng:.2f} | {m['p50_us']:.0f} | "
                         f"{m['p50_us'] - d[c]['p50_us']:.0f} | {m['p99_us']:.0f} | "
                         f"{m['cpu_us_per_req']:.1f} | {cpu_ng:.2f} | {m['cpu_vs_backend']:.3f} | "
                         f"{m['backend_us_per_req']:.1f}, {m['wrk_us_per_req']:.1f} | {m['cores_busy']:.2f} | "
                         f"{m['errors']:.0f} |")
        lines.append("")
    for t in ("sluice", "sluice-bp"):
        if results is not None and t in targets and "nginx" in targets:
            lines += round_by_round(results, t)
    lines += ["## memory", "", "| target | idle conns | RSS per idle conn | stream small: MiB read / RSS growth | "
              "stream big: MiB read / RSS growth |", "|---|---|---|---|---|"]
    for t, m in mem.items():
        lines.append(f"| {t} | {m['idle_conns']} | {m['rss_per_idle_conn'] / 1024:.1f} KiB | "
                     f"{m['stream_small'][0] >> 20} / {m['stream_small'][1] / 2**20:.1f} MiB | "
                     f"{m['stream_big'][0] >> 20} / {m['stream_big'][1] / 2**20:.1f} MiB |")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
