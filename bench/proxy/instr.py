#!/usr/bin/env python3
"""bench/proxy/instr.py: user-space instructions per proxied request, sluice beside nginx, under callgrind.

Starts the backend the way run.py does (nginx answering the fixed chat completion, not instrumented) and each proxy
in turn under `valgrind --tool=callgrind` (one worker each, run.py's configs), sends a fixed number of run.py's chat
requests (POST, 220 bytes) over keep-alive connections, and divides the instructions executed during those requests
by their number. Warm-up requests run first (connections to the backend opened, pools and buffers grown), then the
counters are zeroed and the measured requests sent; a dump is taken after the last answer arrived.

The count is deterministic to within a few percent from run to run (timers and the control thread's tick add a
little noise), which makes it the measure to develop with on a shared machine where wrk's figures move by tens of
percent. Only instructions are counted: cache misses and system-call time are not (syscalls.py counts the calls).

Reports per target: instructions per request of the thread that served the requests (sluice's worker; nginx's one
process) and of the whole process, then the functions of that thread with the most instructions of their own
(self cost, callees not included), per request.

Usage: bench/proxy/instr.py [--sluice build-rel/sluice] [--requests 2000] [--conns 1] [--top 25]
                            [--targets sluice,nginx] [--keep DIR] [--model NAME]
--model gives sluice's backend an upstream model, so every request's "model" is rewritten (run.py sends bodies as
they are).
Needs valgrind (callgrind_control, callgrind_annotate) and nginx.
"""
import argparse
import glob
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (run.py: the servers, their configs, the request)

REQUEST = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: instr.py\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(run.CHAT_REQUEST)}\r\n\r\n"
           f"{run.CHAT_REQUEST}").encode()


class Conn:
    """One keep-alive client connection: sends a request, reads the answer (Content-Length framed)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.s.setblocking(False)
        self.buf = b""

    def send(self):
        self.s.setblocking(True)
        self.s.sendall(REQUEST)
        self.s.setblocking(False)
        self.buf = b""

    def read(self):
        """Reads what arrived; returns the status when a whole answer is in, else None."""
        chunk = self.s.recv(65536)
        if not chunk:
            raise ConnectionError("the proxy closed the connection")
        self.buf += chunk
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self.buf[:head_end].decode("latin-1")
        m = re.search(r"^content-length:\s*(\d+)\s*$", head, re.I | re.M)
        if m is None:
            raise ValueError("an answer without content-length: " + head.splitlines()[0])
        if len(self.buf) < head_end + 4 + int(m.group(1)):
            return None
        if len(self.buf) > head_end + 4 + int(m.group(1)):
            raise ValueError("bytes after the answer")
        return int(head.split(" ", 2)[1])


def load(port, conns, requests, timeout=600.0):
    """Sends `requests` requests over `conns` connections (each sends its next one when its answer is in); returns
    the number of answers with status 200. Raises on any other status, a closed connection or the timeout."""
    sel = selectors.DefaultSelector()
    cs = [Conn(port) for _ in range(min(conns, requests))]
    sent = done = 0
    for c in cs:
        c.send()
        sent += 1
        sel.register(c.s, selectors.EVENT_READ, c)
    deadline = time.monotonic() + timeout
    while done < requests:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {requests} answers in {timeout} s")
        for key, _ in sel.select(timeout=1.0):
            c = key.data
            status = c.read()
            if status is None:
                continue
            if status != 200:
                raise ValueError(f"status {status}")
            done += 1
            if sent < requests:
                c.send()
                sent += 1
            else:
                sel.unregister(c.s)
    for c in cs:
        c.s.close()
    return done


def callgrind(pid, *args):
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)


def totals(path):
    """Instructions in one callgrind output file."""
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    return 0


def top_functions(path, n):
    """[(instructions, function)] of one callgrind output file, self cost, most first."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", path], capture_output=True, text=True,
                         timeout=120).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([\s\d.]+%\)\s+)?(\S.*)$", line)
        if m and ":" in m.group(2) and not m.group(2).startswith("PROGRAM TOTALS"):
            # "file:function [object]" -> "function (object's file name)"
            fn = re.match(r"(?:.*?:)?([^:\s]+)\s*(?:\[(.*)\])?$", m.group(2).strip())
            name = f"{fn.group(1)} ({os.path.basename(fn.group(2))})" if fn and fn.group(2) else m.group(2).strip()
            rows.append((int(m.group(1).replace(",", "")), name))
    return rows[:n]


def measure(name, start, workdir, a):
    """Runs one target under callgrind; returns (worker instructions/request, process instructions/request, top)."""
    out = os.path.join(workdir, f"cg-{name}")
    wrapper = ["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}.%p"]
    srv = start(wrapper)
    pid = srv.p.pid
    try:
        load(srv.port, a.conns, a.warmup)
        callgrind(pid, "--zero")
        t0 = time.monotonic()
        n = load(srv.port, a.conns, a.requests)
        elapsed = time.monotonic() - t0
        for f in glob.glob(f"{out}.{pid}*"):
            os.unlink(f)
        callgrind(pid, "--dump=measured")
    finally:
        srv.stop()
    # the dump is the numbered file(s): <out>.<pid>.1[-<thread>]; the final dump at exit is not numbered
    dumps = [f for f in glob.glob(f"{out}.{pid}.1*")]
    if not dumps:
        raise RuntimeError(f"no callgrind dump for {name} in {workdir}")
    per_thread = sorted(((totals(f), f) for f in dumps), reverse=True)
    worker_ir, worker_file = per_thread[0]
    process_ir = sum(t for t, _ in per_thread)
    # the frames below the event loop (thread start, main) come out with the whole thread's cost: leave them out
    top = [(ir / n, fn) for ir, fn in top_functions(worker_file, a.top + 8) if ir < 0.9 * worker_ir][:a.top]
    return {"requests": n, "seconds": elapsed, "worker": worker_ir / n, "process": process_ir / n, "top": top,
            "threads": len(per_thread)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", default=os.path.join(run.ROOT, "build-rel", "sluice"))
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--targets", default="sluice,nginx")
    ap.add_argument("--keep", help="keep the callgrind files in this directory")
    ap.add_argument("--model", help="give sluice's backend this upstream model: every request's model is rewritten")
    a = ap.parse_args()
    a.sluice = os.path.abspath(a.sluice)  # the servers run in the work directory
    workdir = a.keep or tempfile.mkdtemp(prefix="sluice-instr-")
    os.makedirs(workdir, exist_ok=True)
    big = os.path.join(workdir, "www", "big.bin")
    os.makedirs(os.path.dirname(big), exist_ok=True)
    open(big, "wb").close()
    backend = run.start_backend(workdir, big)
    results = {}
    try:
        for t in a.targets.split(","):
            if t == "sluice":
                start = lambda w: run.start_sluice(workdir, a.sluice, backend.port, wrapper=w, model=a.model)  # noqa: E731
            elif t == "nginx":
                start = lambda w: run.start_nginx(workdir, backend.port, wrapper=w)  # noqa: E731
            else:
                raise SystemExit(f"unknown target {t}")
            results[t] = measure(t, start, workdir, a)
    finally:
        backend.stop()
    for t, r in results.items():
        print(f"{t}: {r['worker']:,.0f} instructions per request in the serving thread, {r['process']:,.0f} in the "
              f"process ({r['threads']} threads); {r['requests']} requests, c={a.conns}")
    if "sluice" in results and "nginx" in results:
        print(f"sluice / nginx: {results['sluice']['worker'] / results['nginx']['worker']:.2f} (serving thread)")
    for t, r in results.items():
        print(f"\n{t}: top functions, instructions per request (self)")
        for ir, fn in r["top"]:
            print(f"  {ir:8,.0f}  {fn}")
    if not a.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
