#!/usr/bin/env python3
"""bench/proxy/inloop.py: how long each proxy's event loop is awake per request at one connection, sluice beside
nginx in one run.

At one connection a request passes wrk -> proxy -> backend -> proxy -> wrk, and each process waits for the others,
so the added latency splits into the proxy's own work (its loop awake: its code and its system calls, including the
kernel's TCP work on its writes) and everything else (going to sleep and waking up, the backend and wrk, which also
parse what the proxy sends them). inloop.c, preloaded into both proxies, adds up the wall time between each
epoll_wait's return and the next call (awake) and counts the waits that returned events (wakes). Reported per
request, medians over the rounds, with run.py's added p50 and CPU per request (/proc) for the same runs; the
preloaded wrapper adds two clock reads per wait to both proxies alike.

Usage: bench/proxy/inloop.py [--sluice build-rel/sluice] [--rounds 6] [--duration 4]
Needs a C compiler (cc) for inloop.c, wrk and nginx (scripts/install-deps --bench).
"""
import argparse
import os
import statistics
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as R  # noqa: E402 - run.py's servers, configs and wrk driver


def counters(workdir, pids):
    """(awake ns, asleep ns, waits, woken) summed over the processes' counter files (asleep sums every thread's
    sleep, so it is not per request: sluice's control thread sleeps in 100 ms waits)."""
    total = [0, 0, 0, 0]
    for pid in pids:
        path = os.path.join(workdir, f"inloop-{pid}")
        if os.path.exists(path):
            with open(path, "rb") as f:
                for i, v in enumerate(struct.unpack("4Q", f.read(32))):
                    total[i] += v
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluice", default=os.path.join(R.ROOT, "build-rel", "sluice"))
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--duration", type=int, default=4)
    a = ap.parse_args()
    wd = tempfile.mkdtemp(prefix="sluice-inloop-")
    lib = os.path.join(wd, "inloop.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", lib, os.path.join(HERE, "inloop.c"), "-ldl"], check=True)
    big = os.path.join(wd, "www", "big.bin")
    os.makedirs(os.path.dirname(big))
    open(big, "wb").close()
    wrapper = ("env", f"LD_PRELOAD={lib}", f"INLOOP_DIR={wd}")
    be = R.start_backend(wd, big)
    targets = {"sluice": R.start_sluice(wd, os.path.abspath(a.sluice), be.port, wrapper=wrapper),
               "nginx": R.start_nginx(wd, be.port, wrapper=wrapper)}
    rows = {n: [] for n in targets}
    try:
        for r in range(a.rounds):
            names = list(targets) if r % 2 == 0 else list(reversed(targets))
            direct = R.wrk(be.port, 1, a.duration, wd)
            for n in names:
                s = targets[n]
                R.wrk(s.port, 1, 1, wd)
                pids = s.pids()
                c0, cpu0 = counters(wd, pids), R.cpu_seconds(pids)
                x = R.wrk(s.port, 1, a.duration, wd)
                c1, cpu1 = counters(wd, pids), R.cpu_seconds(pids)
                req = max(x["requests"], 1)
                row = {"awake": (c1[0] - c0[0]) / 1e3 / req, "wakes": (c1[3] - c0[3]) / req, "cpu": (cpu1 - cpu0) * 1e6 / req,
                       "add50": x["p50_us"] - direct["p50_us"], "rps": x["rps"]}
                rows[n].append(row)
                print(f"round {r + 1} {n:7} {row['rps']:8.0f} req/s  added p50 {row['add50']:4.0f} us  awake "
                      f"{row['awake']:5.2f} us/req  wakes {row['wakes']:.2f}/req  "
                      f"cpu {row['cpu']:5.1f} us/req", flush=True)
    finally:
        for s in list(targets.values()) + [be]:
            s.stop()
    print("\n| target | awake µs/req | wakes/req | CPU µs/req | added p50 µs | req/s |")
    print("|---|---|---|---|---|---|")
    for n, L in rows.items():
        m = {k: statistics.median(x[k] for x in L) for k in L[0]}
        print(f"| {n} | {m['awake']:.2f} | {m['wakes']:.2f} | {m['cpu']:.1f} | {m['add50']:.1f} "
              f"| {m['rps']:.0f} |")
    d = [x["awake"] - y["awake"] for x, y in zip(rows["sluice"], rows["nginx"])]
    print("\nawake per request, sluice minus nginx, per round: " + " ".join(f"{v:+.2f}" for v in d) +
          f" (median {statistics.median(d):+.2f} us)")


if __name__ == "__main__":
    main()
