"""Shared helpers for integration tests: start the real `sluice` binaries on 127.0.0.1, wait on conditions with
timeouts (never fixed sleeps), and talk HTTP with exact control over what is sent.

Convention: every server subcommand accepts `--ready-file PATH`; once all its listeners accept connections it writes
(atomically) a JSON object such as {"pid": 123, "listen": ["127.0.0.1:40123"], "admin": "127.0.0.1:40124"}.
Listeners may be given port 0, so tests never guess free ports.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

SLUICE = os.environ.get("SLUICE_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "sluice"))


def wait_for(cond, timeout=10.0, interval=0.01, what="condition"):
    """Polls cond() until it returns a truthy value, which is returned; raises TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A sluice subprocess started with --ready-file; .ready holds the parsed ready file."""

    def __init__(self, args, timeout=10.0, env=None, cwd=None, preexec_fn=None):
        self.dir = tempfile.mkdtemp(prefix="sluice-it-")
        self.ready_path = os.path.join(self.dir, "ready.json")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.args = [SLUICE] + list(args) + ["--ready-file", self.ready_path]
        self.p = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.log, env=full_env, cwd=cwd,
                                  preexec_fn=preexec_fn)

        def ready():
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.args} exited with {self.p.returncode}:\n{self.stderr()}")
            try:
                with open(self.ready_path) as f:
                    return json.load(f)
            except (FileNotFoundError, json.JSONDecodeError):
                return None

        self.ready = wait_for(ready, timeout, what=f"{args[0]} to become ready")

    @property
    def addr(self):
        return self.ready["listen"][0]

    @property
    def port(self):
        return int(self.addr.rsplit(":", 1)[1])

    def stderr(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def signal(self, sig):
        self.p.send_signal(sig)

    def stop(self, timeout=15.0):
        """SIGTERM, wait; returns the exit code (kills and raises if it does not exit in time)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise
        self.log.close()
        return self.p.returncode

    def kill9(self):
        self.p.kill()
        self.p.wait()
        self.log.close()


def sim(*args, **kw):
    """Starts `sluice sim --listen 127.0.0.1:0 ARGS`."""
    return Proc(["sim", "--listen", "127.0.0.1:0"] + list(args), **kw)


def request(addr, method, path, body=None, headers=None, timeout=10.0):
    """One HTTP/1.1 request on a fresh connection; returns (status, headers dict lower-cased, body bytes)."""
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("content-type", "application/json")
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, data


def get_json(addr, path, **kw):
    status, _, body = request(addr, "GET", path, **kw)
    return status, json.loads(body) if body else None


def post_json(addr, path, obj, **kw):
    status, headers, body = request(addr, "POST", path, body=obj, **kw)
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    return status, headers, parsed, body


def raw_exchange(addr, data, timeout=5.0):
    """Sends raw bytes, returns everything read until the peer closes or timeout passes without data."""
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out
