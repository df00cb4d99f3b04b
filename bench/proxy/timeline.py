#!/usr/bin/env python3
"""bench/proxy/timeline.py: where the time of one proxied exchange goes at one connection, hop by hop.

Starts the backend and a proxy the way run.py does (one worker each), runs wrk with one connection, and records
every system call of wrk, the proxy and the backend for a short window (`perf record -a` on the raw_syscalls
tracepoints). Each request is then cut into the hops it takes:

  A  wrk's send -> the proxy's epoll_wait returns     (wrk's write, its work until it sleeps, the switch, the wake)
  B  the proxy's own work on the request                (from epoll_wait's return to its writev to the backend)
  C  the proxy's send -> the backend's epoll_wait returns
  D  the backend's own work
  E  the backend's send -> the proxy's epoll_wait returns
  F  the proxy's own work on the answer                 (from epoll_wait's return to its writev to the client)
  G  the proxy's send -> wrk's epoll_wait returns        (includes the proxy's work after the send, before it sleeps)
  H  wrk's own work until its next send

and the median of each hop is printed, with the CPUs the three processes ran on (at one connection the scheduler
usually runs all three on one CPU, so every hop's work is on the request's path). Tracing slows every system call
down by about the same amount for every target, so compare targets measured here, not these figures with run.py's.

Usage: bench/proxy/timeline.py [--sluice build/sluice] [--targets sluice,nginx] [--rounds 2] [--window 0.4]
Needs: perf with access to the raw_syscalls tracepoints (root), and what run.py needs.
"""
import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (run.py: the servers, their configs, wrk)

EPOLL_WAIT = (232, 281)  # epoll_wait, epoll_pwait (x86-64)
SENDS = (1, 20, 40, 44, 46)  # write, writev, sendfile, sendto, sendmsg
WRITEV = 20
HOPS = ["A wrk -> proxy", "B proxy, request", "C proxy -> backend", "D backend", "E backend -> proxy",
        "F proxy, answer", "G proxy -> wrk", "H wrk"]
# the marks one exchange leaves, in order; H runs from the last one to the next exchange's first
SEQUENCE = ["W_send", "P_wake", "P_send", "B_wake", "B_send", "P_wake", "P_send", "W_wake"]


def mark(role, kind, nr):
    if role == "wrk" and kind == "enter" and nr == 1:
        return "W_send"
    if role == "wrk" and kind == "exit" and nr in EPOLL_WAIT:
        return "W_wake"
    if role == "proxy" and kind == "exit" and nr in EPOLL_WAIT:
        return "P_wake"
    if role == "proxy" and kind == "enter" and nr == WRITEV:
        return "P_send"
    if role == "backend" and kind == "exit" and nr in EPOLL_WAIT:
        return "B_wake"
    if role == "backend" and kind == "enter" and nr in SENDS:
        return "B_send"
    return None


def record(target, sluice_bin, workdir, window):
    """Runs wrk -c1 against target and traces the window; returns (marks [(name, µs, cpu)], wrk's p50 µs)."""
    backend = run.start_backend(workdir, os.path.join(workdir, "www", "big.bin"))
    proxy = (run.start_sluice(workdir, sluice_bin, backend.port) if target == "sluice"
             else run.start_nginx(workdir, backend.port))
    data = os.path.join(workdir, f"{target}.perf")
    try:
        run.wrk(proxy.port, 1, 1, workdir)  # warm-up, and writes wrk's request script
        w = subprocess.Popen(["wrk", "-t1", "-c1", "-d3s", "--latency", "-s", os.path.join(workdir, "post.lua"),
                              f"http://127.0.0.1:{proxy.port}/v1/chat/completions"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        roles = {int(t): "wrk" for t in os.listdir(f"/proc/{w.pid}/task")}
        roles.update({int(t): "proxy" for t in os.listdir(f"/proc/{proxy.p.pid}/task")})
        roles[backend.p.pid] = "backend"
        subprocess.run(["perf", "record", "-q", "-a", "-e", "raw_syscalls:sys_enter,raw_syscalls:sys_exit", "-o", data,
                        "--", "sleep", str(window)], capture_output=True, check=True)
        out = w.communicate(timeout=30)[0]
    finally:
        proxy.stop()
        backend.stop()
    m = re.search(r"^\s+50%\s+([\d.]+)(us|ms)", out, re.M)
    p50 = float(m.group(1)) * (1000 if m.group(2) == "ms" else 1) if m else float("nan")
    script = subprocess.run(["perf", "script", "-i", data, "-F", "tid,cpu,time,event,trace", "--ns"],
                            capture_output=True, text=True, check=True).stdout
    os.unlink(data)
    marks = []
    for line in script.splitlines():
        m = re.match(r"\s*(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+raw_syscalls:sys_(enter|exit):\s+NR (\d+)", line)
        if m and int(m.group(1)) in roles:
            name = mark(roles[int(m.group(1))], m.group(4), int(m.group(5)))
            if name is not None:
                marks.append((name, float(m.group(3)) * 1e6, int(m.group(2))))
    return marks, p50


def exchanges(marks):
    """Cuts the marks into complete exchanges; returns (hop durations {hop: [µs]}, Counter of CPU placements)."""
    hops, places = collections.defaultdict(list), collections.Counter()
    i = 0
    while i < len(marks):
        if marks[i][0] != "W_send":
            i += 1
            continue
        got, j = [], i
        while j < len(marks) and len(got) < len(SEQUENCE):
            if marks[j][0] == SEQUENCE[len(got)]:
                got.append(marks[j])
            elif got and marks[j][0] == "W_send":
                break  # an exchange with a mark missing: start again from this send
            j += 1
        if len(got) < len(SEQUENCE):
            i = j if j > i else i + 1
            continue
        nxt = next((x for x in marks[j:j + 50] if x[0] == "W_send"), None)
        if nxt is not None:
            for k in range(len(SEQUENCE) - 1):
                hops[HOPS[k]].append(got[k + 1][1] - got[k][1])
            hops[HOPS[-1]].append(nxt[1] - got[-1][1])
            places["one CPU" if len({x[2] for x in got}) == 1 else "two CPUs"] += 1
        i = j
    return hops, places


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", default=os.path.join(run.ROOT, "build", "sluice"))
    ap.add_argument("--targets", default="sluice,nginx")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--window", type=float, default=0.4, help="seconds traced per run")
    a = ap.parse_args()
    a.sluice = os.path.abspath(a.sluice)
    targets = a.targets.split(",")
    workdir = tempfile.mkdtemp(prefix="sluice-timeline-")
    os.makedirs(os.path.join(workdir, "www"))
    open(os.path.join(workdir, "www", "big.bin"), "wb").close()
    rows = {t: [] for t in targets}
    for r in range(a.rounds):
        for t in (targets if r % 2 == 0 else targets[::-1]):
            marks, p50 = record(t, a.sluice, workdir, a.window)
            hops, places = exchanges(marks)
            n = len(hops[HOPS[0]])
            if n == 0:
                print(f"{t}: no complete exchange traced", file=sys.stderr)
                continue
            med = {h: statistics.median(hops[h]) for h in HOPS}
            total = statistics.median([sum(hops[h][q] for h in HOPS) for q in range(n)])
            rows[t].append((med, total, places, n, p50))
            print(f"round {r + 1} {t}: {n} exchanges, {places['one CPU'] * 100 // n} % on one CPU, median round trip "
                  f"{total:.2f} µs (traced; wrk's p50 for the whole run {p50:.0f} µs)", flush=True)
    print()
    print("| hop | " + " | ".join(f"{t} µs" for t in targets) + " |")
    print("|---|" + "---|" * len(targets))
    for h in HOPS + ["round trip"]:
        cells = []
        for t in targets:
            vals = [row[1] if h == "round trip" else row[0][h] for row in rows[t]]
            cells.append(" / ".join(f"{v:.2f}" for v in vals))
        print(f"| {h} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
