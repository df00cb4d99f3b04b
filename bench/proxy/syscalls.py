#!/usr/bin/env python3
"""bench/proxy/syscalls.py: system calls per proxied request, by kind, for sluice and nginx under the same load.

Starts the backend and the proxies the way run.py does (one worker each), attaches `strace -c -f` to each proxy
while wrk runs, and divides the counts by the requests wrk completed. strace slows the proxy down a lot, so only
the counts mean something here, never the time columns; the load is the same POST of a chat request as run.py's.

Usage: bench/proxy/syscalls.py [--sluice build/sluice] [--conns 64] [--duration 3] [--targets sluice,nginx]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (run.py: the servers, their configs, wrk)


def strace_counts(pids, seconds_fn):
    """Runs seconds_fn() while strace counts the system calls of pids (threads followed); returns {name: calls}."""
    out = tempfile.mktemp(prefix="sluice-strace-")
    args = ["strace", "-c", "-f", "-o", out]
    for p in pids:
        args += ["-p", str(p)]
    st = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # strace attaches asynchronously; its report covers only what follows
    try:
        result = seconds_fn()
    finally:
        st.send_signal(signal.SIGINT)
        st.wait(30)
    counts = {}
    with open(out) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m and m.group(2) != "total":
                counts[m.group(2)] = int(m.group(1))
    os.unlink(out)
    return counts, result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", default=os.path.join(run.ROOT, "build", "sluice"))
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--targets", default="sluice,nginx")
    a = ap.parse_args()
    a.sluice = os.path.abspath(a.sluice)  # the servers run in the work directory
    workdir = tempfile.mkdtemp(prefix="sluice-syscalls-")
    big = os.path.join(workdir, "www", "big.bin")
    os.makedirs(os.path.dirname(big))
    open(big, "wb").close()
    backend = run.start_backend(workdir, big)
    servers = {}
    try:
        for t in a.targets.split(","):
            servers[t] = (run.start_sluice(workdir, a.sluice, backend.port) if t == "sluice"
                          else run.start_nginx(workdir, backend.port))
        for t, srv in servers.items():
            run.wrk(srv.port, a.conns, 1, workdir)  # warm up: keep-alive connections to the backend exist
            counts, res = strace_counts(srv.pids(), lambda: run.wrk(srv.port, a.conns, a.duration, workdir))
            n = max(res["requests"], 1)
            total = sum(counts.values())
            print(f"{t}: {res['requests']} requests, {total / n:.2f} system calls per request (c={a.conns})")
            for name, calls in sorted(counts.items(), key=lambda kv: -kv[1]):
                if calls / n >= 0.01:
                    print(f"  {name:<14} {calls / n:6.2f}")
    finally:
        for s in list(servers.values()) + [backend]:
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
