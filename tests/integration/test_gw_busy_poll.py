"""server.busy_poll: a worker that has just handled events keeps polling instead of sleeping in epoll_wait, so a
run of requests closer together than the window goes through without the worker sleeping; an idle worker goes back
to sleep; a reload turns it on and off. What the worker thread did is read from /proc (its voluntary context
switches count the times it slept; its state says whether it is running), the worker found by its name."""
import os

import harness
from gw_helpers import Gateway, Upstream, answer, backend_yaml, config, keepalive, post, wait_for
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running

REQUESTS = 200


def gateway_text(up, busy_poll):
    return config(backend_yaml("b", [up.addr], extra="health: { enabled: false }"), [("r", "/", "b")],
                  server=f"busy_poll: {busy_poll}", threads=1)


def worker_task(pid):
    """The /proc task directory of the gateway's one worker thread (named sluice-w-0)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == "sluice-w-0":
                return f"/proc/{pid}/task/{tid}"
    raise AssertionError("no thread named sluice-w-0")


def sleeps(task):
    """The times the thread went to sleep so far (voluntary context switches)."""
    with open(task + "/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches in " + task)


def state(task):
    with open(task + "/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def run_requests(g, up, n):
    """n requests one after the other on one keep-alive connection; each answered 200 with the upstream's body."""
    conn = keepalive(g.ready["listen"][0])
    before = len(up.requests)
    for i in range(n):
        status, _, body = post(conn, "/v1/chat/completions", {"n": i})
        assert status == 200 and body == b'{"ok":true}', (i, status, body)
    conn.close()
    assert len(up.requests) - before == n


def test_busy_poll_keeps_the_worker_awake_between_close_requests_and_lets_it_sleep_when_idle():
    up = Upstream(lambda c, i, req: answer(c))
    g = Gateway(gateway_text(up, "10ms"))
    try:
        task = worker_task(g.ready["pid"])
        run_requests(g, up, 5)  # the upstream connection is open and pooled from here on
        s0 = sleeps(task)
        run_requests(g, up, REQUESTS)
        spun = sleeps(task) - s0
        # without busy polling the worker sleeps at least once per request (waiting for the upstream's answer, then
        # for the client's next request); with a window of 10 ms it sleeps only when a gap was longer than that
        assert spun < REQUESTS // 2, f"the worker slept {spun} times over {REQUESTS} requests with busy_poll 10ms"
        # idle: the window closes and the worker sleeps again (a worker spinning for ever stays R)
        wait_for(lambda: state(task) == "S", timeout=10.0, what="the idle worker to sleep")
        # the polls that found nothing are counted: at least the window that ended the run (10 ms)
        assert g.metric("sluice_busy_poll_idle_seconds_total") >= 0.009

        # a reload to busy_poll 0 turns it off
        g.rewrite(gateway_text(up, "0"))
        status, _, body = harness.request(g.admin, "POST", "/admin/reload")
        assert status == 200, body
        s0 = sleeps(task)
        run_requests(g, up, REQUESTS)
        slept = sleeps(task) - s0
        assert slept >= REQUESTS, f"the worker slept {slept} times over {REQUESTS} requests with busy_poll 0"

        # and back on
        g.rewrite(gateway_text(up, "10ms"))
        status, _, body = harness.request(g.admin, "POST", "/admin/reload")
        assert status == 200, body
        run_requests(g, up, 1)  # the worker adopts the new value at its next loop iteration
        s0 = sleeps(task)
        run_requests(g, up, REQUESTS)
        assert sleeps(task) - s0 < REQUESTS // 2
    finally:
        g.stop()
        up.close()


def test_busy_poll_off_by_default():
    up = Upstream(lambda c, i, req: answer(c))
    g = Gateway(config(backend_yaml("b", [up.addr], extra="health: { enabled: false }"), [("r", "/", "b")],
                       threads=1))
    try:
        task = worker_task(g.ready["pid"])
        run_requests(g, up, 5)
        s0 = sleeps(task)
        run_requests(g, up, REQUESTS)
        assert sleeps(task) - s0 >= REQUESTS
        assert "\nsluice_busy_poll_idle_seconds_total 0.000000\n" in g.metrics()
    finally:
        g.stop()
        up.close()
