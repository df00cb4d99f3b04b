"""server.max_body over HTTP/2: a body past the limit gets the same 413 JSON answer as over HTTP/1.1 (not h2o's
RST_STREAM(REFUSED_STREAM), which clients retry), in cleartext with prior knowledge and over TLS; what the client
still sends on that stream is discarded without stalling the connection, and RST_STREAM(NO_ERROR) follows the
answer. Checked with curl and nghttp, and with a small raw HTTP/2 client for the exact frames."""
import json
import os
import socket
import struct
import subprocess
import time

from gw_helpers import Gateway, Upstream, answer, backend_yaml, config, error_of, raw_request
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "examples")
CERT = os.path.abspath(os.path.join(EXAMPLES, "example-cert.pem"))
KEY = os.path.abspath(os.path.join(EXAMPLES, "example-key.pem"))
TOO_LARGE = {"message": "the request body is too large", "type": "invalid_request_error", "code": "body_too_large"}
DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 7, 8
END_STREAM, END_HEADERS = 0x1, 0x4
STATIC_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}  # RFC 7541 Appendix A


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def literal(index, value):
    """A header field literal without indexing, name from the static table, value not Huffman-coded."""
    v = value.encode()
    name = bytes([index]) if index < 15 else bytes([15, index - 15])
    return name + bytes([len(v)]) + v


def head_block(addr, path, content_length=None):
    """A POST request's header block (http scheme), with content-length when given."""
    block = b"\x83\x86" + literal(4, path) + literal(1, addr)
    return block + (literal(28, str(content_length)) if content_length is not None else b"")


class H2:
    """Just enough of an HTTP/2 client: requests with HPACK literals (no dynamic table), DATA within the peer's
    flow-control windows, and every frame received kept per stream."""

    def __init__(self, addr, first_flight=b""):
        """Connects and sends the preface, an empty SETTINGS and first_flight in one write."""
        host, port = addr.rsplit(":", 1)
        self.addr = addr
        self.s = socket.create_connection((host, int(port)), timeout=10)
        self.buf = b""
        self.conn_window, self.initial_window, self.windows = 65535, 65535, {}
        self.frames = {}  # stream id -> [(type, flags, payload)]
        self.s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0) + first_flight)

    def _read(self, deadline):
        self.s.settimeout(max(0.01, deadline - time.monotonic()))
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("the gateway closed the connection")
        self.buf += d
        while len(self.buf) >= 9 and len(self.buf) >= 9 + int.from_bytes(self.buf[:3], "big"):
            n = int.from_bytes(self.buf[:3], "big")
            t, fl, sid, p = self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7fffffff, self.buf[9:9 + n]
            self.buf = self.buf[9 + n:]
            if t == SETTINGS and not fl & 1:
                for i in range(0, len(p), 6):
                    if int.from_bytes(p[i:i + 2], "big") == 4:  # SETTINGS_INITIAL_WINDOW_SIZE
                        delta = int.from_bytes(p[i + 2:i + 6], "big") - self.initial_window
                        self.initial_window += delta
                        for k in self.windows:
                            self.windows[k] += delta
                self.s.sendall(frame(SETTINGS, 1, 0))
            elif t == WINDOW_UPDATE:
                inc = int.from_bytes(p, "big") & 0x7fffffff
                if sid == 0:
                    self.conn_window += inc
                elif sid in self.windows:
                    self.windows[sid] += inc
            elif t == GOAWAY:
                raise EOFError(f"GOAWAY {p.hex()}")
            self.frames.setdefault(sid, []).append((t, fl, p))

    def request(self, sid, path, body, content_length=True):
        block = head_block(self.addr, path, len(body) if content_length else None)
        self.windows[sid] = self.initial_window
        self.s.sendall(frame(HEADERS, END_HEADERS | (0 if body else END_STREAM), sid, block))
        deadline = time.monotonic() + 30
        sent = 0
        while sent < len(body):
            n = min(16384, len(body) - sent, self.conn_window, self.windows[sid])
            if n <= 0:
                self._read(deadline)  # wait for WINDOW_UPDATE
                continue
            last = sent + n == len(body)
            self.s.sendall(frame(DATA, END_STREAM if last else 0, sid, body[sent:sent + n]))
            self.conn_window -= n
            self.windows[sid] -= n
            sent += n

    def response(self, sid, timeout=10.0):
        """(status, body, frame types) once the stream ended (END_STREAM or RST_STREAM from the gateway)."""
        deadline = time.monotonic() + timeout
        while not any(t == RST_STREAM or (t in (HEADERS, DATA) and fl & END_STREAM)
                      for t, fl, _ in self.frames.get(sid, [])):
            self._read(deadline)
        fs = self.frames[sid]
        status = None
        for t, fl, p in fs:
            if t == HEADERS and status is None:
                if p[0] & 0x80:
                    status = STATIC_STATUS[p[0] & 0x7f]
                else:
                    assert p[0] & 0x0f == 8 and not p[1] & 0x80, p.hex()  # literal :status, raw value
                    status = int(p[2:2 + p[1]])
        return status, b"".join(p for t, _, p in fs if t == DATA), [t for t, _, _ in fs]

    def wait_rst(self, sid, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not any(t == RST_STREAM for t, _, _ in self.frames.get(sid, [])):
            self._read(deadline)
        return [p for t, _, p in self.frames[sid] if t == RST_STREAM]

    def close(self):
        self.s.close()


def upstream():
    return Upstream(lambda c, i, req: answer(c, body=b'{"got":%d}' % len(req[1])))


def gateway(up, max_body, tls=False):
    server = f"max_body: {max_body}" + (f", tls: {{ cert: {CERT}, key: {KEY} }}" if tls else "")
    return Gateway(config(backend_yaml("b", [up.addr], extra="health: { enabled: false }"), [("r", "/v1/", "b")],
                          server=server))


def run(args):
    r = subprocess.run(args, capture_output=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def test_h2_body_past_max_body_is_answered_413_in_cleartext_and_over_tls(tmp_path):
    up = upstream()
    for tls in (False, True):
        g = gateway(up, "16KiB", tls=tls)
        try:
            scheme = "https" if tls else "http"
            url = f"{scheme}://{g.addr}/v1/chat/completions"
            curl = ["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code} %{http_version}"]
            curl += ["--http2", "--cacert", CERT] if tls else ["--http2-prior-knowledge"]
            exact, over = tmp_path / "exact", tmp_path / "over"
            exact.write_bytes(b"x" * 16384)
            over.write_bytes(b"x" * 16385)
            before = len(up.requests)
            rc, out, err = run(curl + [url, "--data-binary", f"@{exact}"])
            assert rc == 0, err
            assert out == b'{"got":16384}\n200 2'
            assert len(up.requests) == before + 1 and up.requests[-1][1] == b"x" * 16384
            rc, out, err = run(curl + [url, "--data-binary", f"@{over}"])
            assert rc == 0, err
            body, _, tail = out.rpartition(b"\n")
            assert tail == b"413 2" and error_of(body) == TOO_LARGE
            # 1 MiB: cut at the frame that passes the limit and answered
            big = tmp_path / "big"
            big.write_bytes(b"y" * (1 << 20))
            rc, out, err = run(["nghttp", "-v", "-d", str(big), url])
            text = out.decode()
            assert ":status: 413" in text, text[-2000:]
            assert '"code":"body_too_large"' in text
            # an RST_STREAM after the answer carries NO_ERROR (nghttp may be gone before it arrives)
            assert all("error_code=NO_ERROR(0x00)" in line for line in text.splitlines() if "error_code=" in line)
            assert len(up.requests) == before + 1  # none of the refused bodies reached the upstream
            assert g.metric("sluice_rejected_requests_total", reason="body_too_large") == 2
        finally:
            g.stop()
    up.close()


def test_h2_discarded_uploads_do_not_stall_the_connection():
    """Two 10 MiB uploads are cut at 64 KiB and discarded: 20 MiB is more than the connection's flow-control window
    ever was, so a stream after them gets through only if the discarded bytes were counted and granted again."""
    up = upstream()
    g = gateway(up, "64KiB")
    try:
        h = H2(g.addr)
        for sid in (1, 3):
            h.request(sid, "/v1/chat/completions", b"z" * (10 << 20))
            status, body, types = h.response(sid)
            assert status == 413 and error_of(body) == TOO_LARGE
            assert h.wait_rst(sid) == [b"\x00\x00\x00\x00"]  # NO_ERROR, after the answer
            assert types.index(HEADERS) < types.index(DATA)
        h.request(5, "/v1/chat/completions", b'{"small":1}')
        assert h.response(5) == (200, b'{"got":11}', [HEADERS, DATA])
        assert [r[1] for r in up.requests] == [b'{"small":1}']
        # a body sent without content-length is cut the same way
        h.request(7, "/v1/chat/completions", b"w" * (200 << 10), content_length=False)
        status, body, _ = h.response(7)
        assert status == 413 and error_of(body) == TOO_LARGE
        h.close()
        assert g.metric("sluice_rejected_requests_total", reason="body_too_large") == 3
    finally:
        g.stop()
        up.close()


def test_h2_body_cut_in_the_read_that_opened_its_stream():
    """HEADERS and an oversized body in one write: the stream does not exist in h2o yet when its DATA is seen."""
    up = upstream()
    g = gateway(up, "1KiB")
    try:
        block = head_block(g.addr, "/v1/x", 40000)
        data = b"".join(frame(DATA, 0, 1, b"q" * 16384) for _ in range(2))
        h = H2(g.addr, first_flight=frame(HEADERS, END_HEADERS, 1, block) + data)
        status, body, _ = h.response(1)
        assert status == 413 and error_of(body) == TOO_LARGE
        assert h.wait_rst(1) == [b"\x00\x00\x00\x00"]
        h.close()
        assert up.requests == []
    finally:
        g.stop()
        up.close()


def test_http1_limits_unchanged_and_h2c_upgrade_stays_http1():
    up = upstream()
    g = gateway(up, "1KiB")
    try:
        # a chunked body past the limit plus a frame: h2o stops reading and answers, the filter makes it JSON
        status, _, body = raw_request(g.addr, b"POST /v1/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      b"5000\r\n" + b"x" * 0x5000 + b"\r\n0\r\n\r\n")
        assert status == "HTTP/1.1 413 Request Entity Too Large" and error_of(body) == TOO_LARGE
        # one byte past the limit: read, and answered by the handler
        status, _, body = raw_request(g.addr, b"POST /v1/x HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n"
                                      + b"x" * 1025)
        assert status == "HTTP/1.1 413 Request Entity Too Large" and error_of(body) == TOO_LARGE
        # h2c upgrade requests (deprecated by RFC 9113) are served as HTTP/1.1
        status, headers, body = raw_request(g.addr, b"POST /v1/x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, "
                                            b"HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
                                            b"Content-Length: 2\r\n\r\n{}")
        assert status == "HTTP/1.1 200 OK" and body == b'{"got":2}'
        assert up.requests[-1][1] == b"{}" and len(up.requests) == 1
    finally:
        g.stop()
        up.close()


def test_413_has_the_shape_of_the_route_the_head_matches(tmp_path):
    """Routing needs no body here: a kserve_v2 route's 413 is kserve-shaped ({"error": message}) over HTTP/1.1 (the
    handler's and h2o's own) and HTTP/2; a request no route matches gets openai's shape."""
    up = upstream()
    g = Gateway(config(backend_yaml("k", [up.addr], protocol="kserve_v2", extra="health: { enabled: false }"),
                       [("infer", "/v2/", "k")], server="max_body: 1KiB"))
    try:
        kserve = {"error": "the request body is too large"}
        status, headers, body = raw_request(g.addr, b"POST /v2/models/m/infer HTTP/1.1\r\nHost: h\r\n"
                                            b"Content-Length: 2000\r\n\r\n" + b"x" * 2000)
        assert status == "HTTP/1.1 413 Request Entity Too Large" and json.loads(body) == kserve
        assert headers["content-type"] == ["application/json"]
        status, _, body = raw_request(g.addr, b"POST /v2/models/m/infer HTTP/1.1\r\nHost: h\r\n"
                                      b"Transfer-Encoding: chunked\r\n\r\n5000\r\n" + b"x" * 0x5000 + b"\r\n0\r\n\r\n")
        assert status == "HTTP/1.1 413 Request Entity Too Large" and json.loads(body) == kserve
        big = tmp_path / "big"
        big.write_bytes(b"y" * 5000)
        rc, out, err = run(["curl", "-sS", "--http2-prior-knowledge", "-w", "\n%{http_code}",
                            f"http://{g.addr}/v2/models/m/infer", "--data-binary", f"@{big}"])
        assert rc == 0, err
        body, _, code = out.rpartition(b"\n")
        assert code == b"413" and json.loads(body) == kserve
        status, _, body = raw_request(g.addr, b"POST /elsewhere HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n"
                                      + b"x" * 2000)
        assert status == "HTTP/1.1 413 Request Entity Too Large" and error_of(body) == TOO_LARGE
        assert up.requests == []
        assert g.metric("sluice_rejected_requests_total", reason="body_too_large") == 4
    finally:
        g.stop()
        up.close()
