"""The gateway out of file descriptors, and server.max_connections: the open-files limit is lowered under a running
gateway (prlimit) while clients wait, and a worker holding its share of max_connections stops accepting.

A listener stays readable while accept(2) fails for want of descriptors; the workers must stop reading it for a
while (gateway/server.c) rather than spin on it, leave the new connections in the listen queue and serve them once
descriptors are back. A request that needs a new upstream connection then gets 503 `gateway_resources` (with
Retry-After), which is not held against the endpoint, and an active health check that cannot open its socket gives no
verdict. At start the soft limit is raised to the hard one."""
import json
import os
import resource
import select
import time

import harness

from gw_helpers import (ZERO, Gateway, backend_yaml, chat_body, config, error_of, keepalive, post,  # noqa: F401
                        reap_processes, sim, wait_for)

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send(conn, path, body):
    conn.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})


def test_soft_open_files_limit_raised_to_the_hard_one():
    s = sim(*ZERO)
    g = Gateway(config(backend_yaml("m", [s.addr]), [("chat", "/", "m")], threads=1),
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 2048)))
    assert resource.prlimit(g.p.pid, resource.RLIMIT_NOFILE) == (2048, 2048)
    assert g.metric("process_max_fds") == 2048
    assert g.metric("sluice_max_connections") == 1024  # max_connections auto: half the limit
    g.stop()
    s.stop()


def test_out_of_descriptors_pauses_accepting_and_every_waiting_client_is_answered():
    chat_sim, gen_sim = sim(*ZERO), sim(*ZERO)
    # active checks of the completions endpoint every 100 ms, one failure ejects: none may fail for want of a socket
    backends = backend_yaml("m", [chat_sim.addr]) + backend_yaml(
        "o", [gen_sim.addr], extra="health: { interval: 100ms, timeout: 100ms, unhealthy_threshold: 1 }")
    g = Gateway(config(backends, [("gen", COMPLETIONS, "o"), ("chat", CHAT, "m")], threads=1))
    pid = g.p.pid
    a = keepalive(g.addr)
    assert post(a, CHAT, chat_body(model="sim-model"))[0] == 200  # leaves one idle upstream connection to the chat model server
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds(pid), hard))  # not one descriptor more
    waiting = []
    try:
        for i in range(4):
            c = keepalive(g.addr)
            send(c, CHAT, chat_body(f"waiting {i}", model="sim-model"))  # connected (the listen queue), not accepted
            waiting.append(c)
        wait_for(lambda: "sluice-w-0: accept failed (Too many open files)" in g.stderr(), what="the accept failure")
        cpu0 = cpu_seconds(pid)
        time.sleep(0.5)  # the window measured, not a wait: a loop spinning on its listener would use all of it
        spent = cpu_seconds(pid) - cpu0
        assert spent < 0.25, f"{spent:.2f} s of CPU in 0.5 s without descriptors"

        # a connection accepted before goes on: its pooled upstream connection needs no descriptor
        assert post(a, CHAT, chat_body("still here", model="sim-model"))[0] == 200
        # one that needs a new upstream connection: 503, more times than the ejection threshold (5)
        for _ in range(6):
            status, headers, body = post(a, COMPLETIONS, {"model": "sim-model", "prompt": "x"})
            assert status == 503, body
            assert headers.get("retry-after") == "1"
            assert error_of(body) == {"message": "the gateway is out of file descriptors or memory; retry later",
                                      "type": "overloaded_error", "code": "gateway_resources"}
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))

    # descriptors back: every client that waited in the listen queue is answered
    for i, c in enumerate(waiting):
        r = c.getresponse()
        body = r.read()
        assert r.status == 200, (i, r.status, body)
        c.close()
    # the completions endpoint was not ejected for the gateway's own shortage, by traffic or by its checks
    assert post(a, COMPLETIONS, {"model": "sim-model", "prompt": "x"})[0] == 200
    for reason in ("outlier", "health"):
        assert g.metric("sluice_endpoint_ejections_total", backend="o", endpoint=gen_sim.addr, reason=reason) == 0
    assert g.metric("sluice_endpoint_up", backend="o", endpoint=gen_sim.addr) == 1
    a.close()

    assert g.metric("sluice_upstream_failures_total", backend="o", kind="gateway_resources") == 6
    assert g.metric("sluice_upstream_failures_total", backend="o", kind="connect_refused") == 0
    pauses = g.metric("sluice_accept_pauses_total", listener="data")
    assert 1 <= pauses <= 40, pauses  # one per 100 ms at most while descriptors lacked
    lines = [x for x in g.stderr().splitlines() if "accept failed" in x]
    assert len(lines) == 1 and "new connections wait in the listen queue" in lines[0], lines  # every 10 s at most
    g.stop()
    chat_sim.stop()
    gen_sim.stop()


def test_max_connections_keeps_new_connections_in_the_listen_queue_until_one_closes():
    s = sim(*ZERO)

    def text(cap):
        return config(backend_yaml("m", [s.addr]), [("chat", CHAT, "m")], server=f"max_connections: {cap}", threads=1)

    g = Gateway(text(3))
    assert g.metric("sluice_max_connections") == 3
    held = [keepalive(g.addr, timeout=5) for _ in range(3)]
    for c in held:
        assert post(c, CHAT, chat_body(model="sim-model"))[0] == 200
    wait_for(lambda: g.metric("sluice_connection_cap_reached_total") == 1, what="the cap")
    late = keepalive(g.addr, timeout=10)
    send(late, CHAT, chat_body("late", model="sim-model"))  # connected: the listen queue
    # a bounded look for what must not happen: no answer while the worker holds its three connections
    assert select.select([late.sock], [], [], 0.3)[0] == []
    assert g.metric("sluice_open_connections") == 3
    held.pop().close()
    r = late.getresponse()
    assert r.status == 200, r.read()
    r.read()

    # reloadable: a larger cap lets more in at once
    g.rewrite(text(10))
    assert harness.post_json(g.admin, "/admin/reload", {})[0] == 200
    assert g.metric("sluice_max_connections") == 10
    more = [keepalive(g.addr, timeout=5) for _ in range(7)]  # 3 open + 7 = 10
    for c in more:
        assert post(c, CHAT, chat_body(model="sim-model"))[0] == 200
    assert g.metric("sluice_open_connections") == 10
    lines = [x for x in g.stderr().splitlines() if "its share of server.max_connections" in x]
    assert len(lines) == 1 and "sluice-w-0: 3 connections open" in lines[0], lines
    for c in held + more + [late]:
        c.close()
    g.stop()
    s.stop()
