"""The gateway's pools of idle upstream keep-alive connections (gateway/upclient.c): idle connections stay watched,
so one the upstream closes is dropped at once (not found broken by the next request), and they are capped per
endpoint and worker and expire after the idle timeout (2 s)."""
import os
import threading
import time

import harness
from gw_helpers import Gateway, Upstream, answer, backend_yaml, config, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running

NO_HEALTH = "health: { enabled: false }"
MAX_IDLE = 128  # SL_UPCLIENT_MAX_IDLE


def sockets_to(pid, port, states=("01", "08")):
    """The gateway's TCP sockets to 127.0.0.1:port in the given states (01 established, 08 close-wait). /proc/PID/net/tcp
    lists every socket of the network namespace: only those whose inode is among the process's descriptors count (a
    socket of another process to a port number used before would count otherwise)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] in states and fields[9] in inodes:
                        n += 1
        except FileNotFoundError:
            pass
    return n


def test_upstream_closing_an_idle_connection_is_noticed_and_dropped():
    def handler(c, i, req):
        answer(c, body=b'{"n":%d}' % i)
        if i == 0:
            time.sleep(0.3)  # the upstream's own keep-alive timeout, shorter than the gateway's
            return False
    up = Upstream(handler)
    port = int(up.addr.rsplit(":", 1)[1])
    g = Gateway(config(backend_yaml("b", [up.addr], extra=NO_HEALTH), [("r", "/", "b")], threads=1))
    try:
        assert harness.request(g.addr, "GET", "/a")[0] == 200
        wait_for(lambda: up.closed == 1, what="the upstream to close its idle connection")
        # the gateway closed its side at once (not when the 2 s idle timeout ends it): none left half-closed
        wait_for(lambda: sockets_to(g.p.pid, port) == 0, timeout=1, what="the gateway to drop the closed connection")
        status, _, body = harness.request(g.addr, "GET", "/b")
        assert status == 200 and body == b'{"n":0}'
        assert up.connections == 2 and len(up.requests) == 2  # a fresh connection, no failed attempt before it
        assert g.metric("sluice_upstream_retries_total", backend="b") == 0
        assert g.metric("sluice_upstream_failures_total", backend="b", kind="reset") == 0
        ep = {"backend": "b", "endpoint": up.addr}
        assert g.metric("sluice_upstream_connections_opened_total", **ep) == 2
        assert g.metric("sluice_upstream_connections_reused_total", **ep) == 0
        assert g.metric("sluice_upstream_connections_closed_total", **ep, reason="idle_upstream") == 1
        assert g.metric("sluice_upstream_connections_idle", **ep) == 1  # the second one, until it expires
    finally:
        g.stop()
        up.close()


def test_idle_connections_are_capped_per_endpoint_and_expire():
    n = MAX_IDLE + 8
    arrived = threading.Barrier(n)

    def handler(c, i, req):
        arrived.wait(30)  # every request in flight at once: n upstream connections
        answer(c)
    up = Upstream(handler)
    port = int(up.addr.rsplit(":", 1)[1])
    # the scripted upstream accepts slowly (a thread per connection, a backlog of 64): generous deadlines
    slow = NO_HEALTH + ", timeouts: { connect: 20s, first_byte: 40s, total: 60s }"
    g = Gateway(config(backend_yaml("b", [up.addr], extra=slow), [("r", "/", "b")], threads=1))
    try:
        statuses, first_answer = [], []

        def client():
            statuses.append(harness.request(g.addr, "GET", "/x", timeout=60)[0])
            first_answer.append(time.monotonic())
        threads = [threading.Thread(target=client) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(70)
        assert statuses == [200] * n
        assert up.connections == n
        # the pool keeps MAX_IDLE of them and closes the rest at once
        wait_for(lambda: up.closed >= n - MAX_IDLE, timeout=5, what="connections beyond the cap to close")
        established = sockets_to(g.p.pid, port)
        if time.monotonic() - min(first_answer) < 1.8:  # none can have reached the 2 s idle timeout yet
            assert up.closed == n - MAX_IDLE and established == MAX_IDLE, (up.closed, established)
        # then the idle ones expire
        wait_for(lambda: up.closed == n, timeout=6, what="idle connections to expire")
        wait_for(lambda: sockets_to(g.p.pid, port) == 0, timeout=2, what="no connection left")
        assert g.metric("sluice_upstream_failures_total", backend="b", kind="reset") == 0
        ep = {"backend": "b", "endpoint": up.addr}
        assert g.metric("sluice_upstream_connections_opened_total", **ep) == n
        assert g.metric("sluice_upstream_connections_closed_total", **ep, reason="idle_over_cap") == n - MAX_IDLE
        assert g.metric("sluice_upstream_connections_closed_total", **ep, reason="idle_expired") == MAX_IDLE
        assert g.metric("sluice_upstream_connections_idle", **ep) == 0
    finally:
        g.stop()
        up.close()
