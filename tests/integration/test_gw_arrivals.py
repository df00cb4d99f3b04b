"""Bytes that arrive together with something else, the cases an event loop gets wrong when it forgets a readiness
it was told about: an upstream answer whose end of file comes with its last bytes, a client's next request arriving
just as the previous answer completes (read_ahead.c stops and restarts reading the client's socket in that loop
iteration), pipelined requests, a client that closes right after its request."""
import socket
import threading

import harness
from gw_helpers import Gateway, Upstream, answer, backend_yaml, config, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running


def gateway(up):
    return Gateway(config(backend_yaml("b", [up.addr], extra="health: { enabled: false }"), [("r", "/", "b")],
                          threads=1))


def read_answers(s, count, timeout=10.0):
    """Reads count content-length framed answers from s; returns (status line, body) of each."""
    s.settimeout(timeout)
    buf, out = b"", []
    while len(out) != count:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            assert d, f"connection closed after {len(out)} of {count} answers"
            buf += d
        head, _, buf = buf.partition(b"\r\n\r\n")
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        while len(buf) < n:
            d = s.recv(65536)
            assert d, "connection closed inside an answer"
            buf += d
        out.append((head.split(b"\r\n")[0], buf[:n]))
        buf = buf[n:]
    return out


def request_bytes(i):
    body = b'{"n":%d}' % i
    return (b"POST /v1/x/%d HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (i, len(body)) + body)


def echo_path(c, i, req):
    answer(c, body=req[0].split(b" ")[1])


def test_close_delimited_answer_ends_with_its_last_bytes():
    """The upstream's last bytes and its end of file arrive together: the answer must complete (a short read that
    stopped before the end of file, never reported again, would leave the client waiting)."""
    def close_delimited(c, i, req):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                  b'{"whole":"answer"}')
        c.shutdown(socket.SHUT_WR)
        return False
    up = Upstream(close_delimited)
    g = gateway(up)
    try:
        for _ in range(20):
            status, _, body = harness.request(g.addr, "POST", "/v1/x/1", body=b'{"n":1}')
            assert status == 200
            assert body == b'{"whole":"answer"}'  # re-framed (chunked) to the client, every byte there
    finally:
        g.stop()
        up.close()


def test_pipelined_requests_are_all_answered_in_order():
    up = Upstream(echo_path)
    g = gateway(up)
    try:
        host, port = g.addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
        s.sendall(b"".join(request_bytes(i) for i in range(5)))
        got = read_answers(s, 5)
        assert [b for _, b in got] == [b"/v1/x/%d" % i for i in range(5)]
        s.close()
    finally:
        g.stop()
        up.close()


def test_next_request_arriving_with_the_answer():
    """The client's next request is sent while the upstream writes the previous answer, so that both often reach
    the gateway's loop in one wait: the answer's completion stops and restarts reading the client's socket in that
    iteration, and the request must still be read. 300 exchanges on one connection."""
    release = threading.Semaphore(0)
    got_request = threading.Semaphore(0)

    def answer_when_told(c, i, req):
        got_request.release()
        assert release.acquire(timeout=10)
        echo_path(c, i, req)
    up = Upstream(answer_when_told)
    g = gateway(up)
    try:
        host, port = g.addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
        s.sendall(request_bytes(0))
        n = 300
        for i in range(n):
            assert got_request.acquire(timeout=10), f"request {i} never reached the upstream"
            if i + 1 != n:
                release.release()  # the upstream answers request i ...
                s.sendall(request_bytes(i + 1))  # ... as request i+1 goes out
            else:
                release.release()
        got = read_answers(s, n)
        assert [b for _, b in got] == [b"/v1/x/%d" % i for i in range(n)]
        s.close()
    finally:
        g.stop()
        up.close()


def test_client_closing_right_after_its_request():
    """Request and end of file in one go: the gateway reads both, the connection goes away, nothing hangs, and the
    gateway keeps serving."""
    up = Upstream(echo_path)
    g = gateway(up)
    try:
        host, port = g.addr.rsplit(":", 1)
        for i in range(20):
            s = socket.create_connection((host, int(port)))
            s.sendall(request_bytes(i))
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)
            out = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
            s.close()
            # whether the answer went out before the close is the gateway's choice; the connection must end
            assert out == b"" or out.startswith(b"HTTP/1.1 200")
        wait_for(lambda: harness.request(g.addr, "POST", "/v1/x/ok", body=b"{}")[0] == 200, what="still serving")
    finally:
        g.stop()
        up.close()
