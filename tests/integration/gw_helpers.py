"""Helpers of the gateway's integration tests (test_gw_*.py): configs, `sluice run` and `sluice sim` processes,
tiny scripted upstreams for what a real model server never does on purpose (garbage heads, stale keep-alive
connections, accept queues that never drain), raw HTTP/1.1 exchanges and /proc readings. Every socket binds
127.0.0.1; every wait is a condition with a timeout."""
import http.client
import json
import os
import socket
import tempfile
import threading
import time

import pytest

import harness

SUPP = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "sim", "lsan-h2o.supp")
# h2o keeps per-thread caches it never frees; under ASan a worker thread's exit must not count as a leak
ENV = {"LSAN_OPTIONS": "suppressions=" + os.path.abspath(SUPP)}
ZERO = ["--ttft-ms", "0", "--ttft-jitter-ms", "0", "--ttft-per-token-ms", "0", "--tpot-ms", "0",
        "--tpot-jitter-ms", "0"]


_started = []


def track(proc):
    """Registers a process for reap_processes (returns it)."""
    _started.append(proc)
    return proc


@pytest.fixture(autouse=True)
def reap_processes():
    """Kills whatever a test started and did not stop (a failed assertion before its stop, a process that never
    became ready), so no simulator or gateway outlives its test. Test modules import this fixture."""
    yield
    while _started:
        proc = _started.pop()
        if getattr(proc, "p", None) is not None and proc.p.poll() is None:
            proc.p.kill()
            proc.p.wait()


class TrackedProc(harness.Proc):
    """harness.Proc, reaped by reap_processes if the test does not stop it."""

    def __init__(self, args, **kw):
        try:
            super().__init__(args, **kw)
        finally:
            track(self)


def sim(*args, **kw):
    return TrackedProc(["sim", "--listen", "127.0.0.1:0"] + list(args), env=ENV, **kw)


def backend_yaml(name, endpoints, model=None, protocol="openai", extra=""):
    eps = ", ".join(endpoints)
    m = f", model: {model}" if model else ""
    return f"  {name}: {{ protocol: {protocol}, endpoints: [{eps}]{m}{', ' + extra if extra else ''} }}\n"


def config(backends, routes, server="", admin="admin: { listen: 127.0.0.1:0 }\n", threads=2):
    """A config text: backends is YAML text (backend_yaml lines); routes a list of (name, path, backend)."""
    text = f"server: {{ listen: [\"127.0.0.1:0\"], threads: {threads}{', ' + server if server else ''} }}\n"
    text += admin + "backends:\n" + backends + "routes:\n"
    for name, path, backend in routes:
        text += f"  - {{ name: {name}, match: {{ path: {path} }}, cascade: [ {{ backend: {backend} }} ] }}\n"
    return text


class Gateway(harness.Proc):
    """`sluice run -c CONFIG` on a config text written to a temporary file (kept for reloads)."""

    def __init__(self, text, args=(), **kw):
        fd, self.config_path = tempfile.mkstemp(prefix="sluice-gw-", suffix=".yaml")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        env = dict(ENV)
        env.update(kw.pop("env", {}))
        try:
            super().__init__(["run", "-c", self.config_path] + list(args), env=env, **kw)
        finally:
            track(self)

    @property
    def admin(self):
        return self.ready["admin"]

    def stop(self, timeout=15.0):
        """SIGTERM; asserts a clean exit: status 0 and no sanitizer report (ASan/UBSan builds)."""
        rc = super().stop(timeout)
        with open(self.log_path, "rb") as f:
            err = f.read().decode(errors="replace")
        assert "Sanitizer" not in err and "runtime error" not in err, err[-4000:]
        assert rc == 0, f"sluice run exited with {rc}:\n{err[-4000:]}"
        return rc

    def rewrite(self, text):
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)

    def metrics(self):
        status, _, body = harness.request(self.admin, "GET", "/metrics")
        assert status == 200
        return body.decode()

    def metric(self, name, **labels):
        """The value of one series of /metrics (0 when absent)."""
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        key = f"{name}{{{want}}}" if labels else name
        for line in self.metrics().splitlines():
            if line.startswith(key + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def endpoints(self):
        status, body = harness.get_json(self.admin, "/admin/endpoints")
        assert status == 200
        return body["endpoints"]

    def rss_kb(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def chat_body(content="hello", model="client-model", **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return body


def error_of(body):
    """The JSON error object of an openai-shaped error answer."""
    doc = json.loads(body)
    assert set(doc) == {"error"}, doc
    assert set(doc["error"]) == {"message", "type", "param", "code"} and doc["error"]["param"] is None, doc
    err = dict(doc["error"])
    del err["param"]
    return err


class Upstream:
    """A scripted HTTP/1.1 upstream on 127.0.0.1. handler(conn, index, request) is called for every request read
    (request = (head bytes, body bytes), index counts requests on that connection) and writes the answer itself;
    returning False closes the connection. Records every request and counts connections."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.requests = []
        self.connections = 0
        self.closed = 0
        self.lock = threading.Lock()
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _read_request(self, c, buf):
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return None, buf
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(rest) < length:
            d = c.recv(65536)
            if not d:
                return None, b""
            rest += d
        return (head, rest[:length]), rest[length:]

    def _serve(self, c):
        buf, index = b"", 0
        try:
            while True:
                req, buf = self._read_request(c, buf)
                if req is None:
                    break
                with self.lock:
                    self.requests.append(req)
                if self.handler(c, index, req) is False:
                    break
                index += 1
        except OSError:
            pass
        finally:
            with self.lock:
                self.closed += 1
            c.close()

    def close(self):
        self.stopping = True
        self.sock.close()


def head_fields(head):
    """Header fields of a request head: lower-case name -> list of values."""
    out = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        out.setdefault(k.strip().lower().decode(), []).append(v.strip().decode())
    return out


def answer(c, status=200, body=b'{"ok":true}', headers=(), reason="OK"):
    h = "".join(f"{k}: {v}\r\n" for k, v in headers)
    c.sendall(f"HTTP/1.1 {status} {reason}\r\ncontent-length: {len(body)}\r\n{h}\r\n".encode() + body)


def raw_request(addr, data, timeout=5.0):
    """Sends raw bytes, reads one whole HTTP/1.1 response (content-length framed); returns (status line, headers
    dict lower-case -> list, body)."""
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.sendall(data)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers.setdefault(k.strip().lower().decode(), []).append(v.strip().decode())
    if "content-length" in headers:
        n = int(headers["content-length"][0])
        while len(body) < n:
            d = s.recv(65536)
            if not d:
                break
            body += d
    s.close()
    return lines[0].decode(), headers, body


def keepalive(addr, timeout=10.0):
    host, port = addr.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=timeout)


def post(conn, path, body, headers=None):
    h = {"content-type": "application/json"}
    h.update(headers or {})
    conn.request("POST", path, body=json.dumps(body) if not isinstance(body, bytes) else body, headers=h)
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def wait_for(cond, timeout=10.0, what="condition"):
    return harness.wait_for(cond, timeout=timeout, what=what)


def now():
    return time.monotonic()
