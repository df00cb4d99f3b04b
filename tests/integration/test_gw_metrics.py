"""What the gateway reports: /metrics passes `promtool check metrics` with nothing to say and its numbers agree
with the traffic sent; the access log goes to a file, one JSON line per request with every documented key, and a
destination that stops reading blocks neither requests nor the exit; TLS with ALPN serves HTTP/2 and HTTP/1.1."""
import json
import os
import signal
import subprocess

import harness
from gw_helpers import (ZERO, Gateway, Upstream, answer, backend_yaml, chat_body, config, head_fields, keepalive, post,
                        sim, wait_for)
from gw_helpers import ENV, reap_processes  # noqa: F401 - kills what a failed test left running

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "examples")
KEYS = ["time", "id", "method", "path", "route", "tiers", "backend", "endpoint", "status", "upstream_status", "failure",
        "attempts", "latency_ms", "upstream_ms", "ttft_ms", "overhead_us", "tokens_in", "tokens_out", "bytes_in",
        "bytes_out", "cost", "escalations", "cascade"]


def test_metrics_pass_promtool_and_match_the_traffic(tmp_path):
    s = sim(*ZERO, "--output-tokens-mean", "4096", "--output-tokens-max", "4096")
    log = tmp_path / "access.log"
    backends = backend_yaml("small", [s.addr], model="sim-model") + backend_yaml("dead", ["127.0.0.1:1"])
    text = config(backends, [("chat", "/v1/chat/completions", "small"), ("gone", "/gone", "dead")],
                  server=f"access_log: {log}")
    g = Gateway(text)
    try:
        c = keepalive(g.addr)
        for i in range(6):
            status, _, _ = post(c, "/v1/chat/completions",
                                chat_body(max_tokens=4, stream=i % 2 == 1, stream_options={"include_usage": True}
                                          if i % 2 == 1 else None))
            assert status == 200
        assert harness.request(g.addr, "GET", "/gone")[0] == 502
        assert harness.request(g.addr, "GET", "/nothing-here")[0] == 404
        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", f"http://{g.addr}/v1/chat/completions",
                              "-d", json.dumps(chat_body(max_tokens=4))], capture_output=True)
        assert out.returncode == 0 and json.loads(out.stdout)["usage"]["completion_tokens"] == 4
        body = g.metrics()
        check = subprocess.run(["promtool", "check", "metrics"], input=body.encode(), capture_output=True)
        assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check.stdout + check.stderr
        assert g.metric("sluice_requests_total", route="chat", backend="small", code="2xx") == 7
        assert g.metric("sluice_requests_total", route="gone", backend="dead", code="5xx") == 1
        assert g.metric("sluice_rejected_requests_total", reason="no_route") == 1
        assert g.metric("sluice_request_duration_seconds_count", route="chat") == 7
        assert g.metric("sluice_ttft_seconds_count", route="chat") == 7
        assert g.metric("sluice_upstream_duration_seconds_count", backend="small") == 7
        assert g.metric("sluice_tokens_total", route="chat", backend="small", direction="output") == 7 * 4
        assert g.metric("sluice_upstream_failures_total", backend="dead", kind="connect_refused") == 1
        assert g.metric("sluice_gateway_overhead_seconds_count") == 8  # every routed request
        assert g.metric("sluice_inflight_requests") == 0
        assert g.metric("sluice_endpoint_inflight_requests", backend="small", endpoint=s.addr) == 0
        assert g.metric("sluice_open_connections") >= 1  # c is still open
        assert g.metric("process_resident_memory_bytes") > 1 << 20
        assert g.metric("sluice_jemalloc_allocated_bytes") > 0
        # every family has HELP and TYPE once, and no series appears twice
        series = [l.rsplit(" ", 1)[0] for l in body.splitlines() if l and not l.startswith("#")]
        assert len(series) == len(set(series))
        types = [l.split()[2] for l in body.splitlines() if l.startswith("# TYPE")]
        assert len(types) == len(set(types))

        def lines():
            with open(log) as f:
                return [json.loads(l) for l in f]
        wait_for(lambda: len(lines()) == 9, what="nine access-log lines in the file")
        for line in lines():
            assert list(line) == KEYS, list(line)
        ok = [l for l in lines() if l["route"] == "chat"]
        assert all(l["status"] == 200 and l["failure"] == "none" and l["tokens_out"] == 4 for l in ok)
        assert all(l["backend"] == "small" and l["endpoint"] == s.addr and l["tiers"] == "0" for l in ok)
        assert all(l["latency_ms"] >= l["ttft_ms"] >= 0 and l["bytes_out"] > 0 for l in ok)
        assert len({l["id"] for l in lines()}) == 9
        assert all(l["escalations"] == 0 and l["cost"] == 0 and len(l["cascade"]) == 1 for l in ok)  # costs are 0
        assert all(l["cascade"][0]["verdict"] == "accept" and l["cascade"][0]["tokens_out"] == 4 for l in ok)
        missing = [l for l in lines() if l["route"] is None]
        assert len(missing) == 1 and missing[0]["status"] == 404 and missing[0]["path"] == "/nothing-here"
        assert missing[0]["cascade"] is None and missing[0]["cost"] is None
    finally:
        g.stop()
        s.stop()


def test_tls_with_alpn_serves_h2_and_http11():
    s = sim(*ZERO)
    up = Upstream(lambda c, i, req: answer(c))
    cert, key = os.path.abspath(os.path.join(EXAMPLES, "example-cert.pem")), \
        os.path.abspath(os.path.join(EXAMPLES, "example-key.pem"))
    backends = backend_yaml("small", [s.addr], model="sim-model") + backend_yaml("echo", [up.addr])
    g = Gateway(config(backends, [("chat", "/v1/", "small"), ("echo", "/echo", "echo")],
                       server=f"tls: {{ cert: {cert}, key: {key} }}"))
    try:
        url = f"https://{g.addr}/v1/chat/completions"
        for flag, version in (("--http2", "2"), ("--http1.1", "1.1")):
            out = subprocess.run(["curl", "-sS", "--cacert", cert, flag, "-o", "/dev/null", "-w",
                                  "%{http_version} %{http_code}", url, "-d", json.dumps(chat_body(max_tokens=2))],
                                 capture_output=True)
            assert out.returncode == 0, out.stderr
            assert out.stdout.decode() == f"{version} 200"
        out = subprocess.run(["curl", "-sS", "--cacert", cert, f"https://{g.addr}/echo"], capture_output=True)
        echoed = [r for r in up.requests if r[0].startswith(b"GET /echo ")]  # not an active health check
        assert out.returncode == 0 and head_fields(echoed[-1][0])["x-forwarded-proto"] == ["https"]
        # cleartext on the TLS port fails
        out = subprocess.run(["curl", "-sS", "--max-time", "3", f"http://{g.addr}/v1/models"], capture_output=True)
        assert out.returncode != 0
    finally:
        g.stop()
        s.stop()
        up.close()


def test_reload_reopens_the_access_log(tmp_path):
    s = sim(*ZERO)
    log = tmp_path / "access.log"
    g = Gateway(config(backend_yaml("small", [s.addr], model="sim-model"), [("chat", "/v1/", "small")],
                       server=f"access_log: {log}"))
    try:
        assert harness.post_json(g.addr, "/v1/chat/completions", chat_body(max_tokens=1))[0] == 200
        wait_for(lambda: log.exists() and len(log.read_text().splitlines()) == 1, what="the first line")
        os.rename(log, tmp_path / "access.log.1")
        g.signal(signal.SIGHUP)
        wait_for(lambda: g.metric("sluice_config_generation") == 2, what="the reload")
        assert harness.post_json(g.addr, "/v1/chat/completions", chat_body(max_tokens=1))[0] == 200
        wait_for(lambda: log.exists() and len(log.read_text().splitlines()) == 1, what="a line in the new file")
        assert len((tmp_path / "access.log.1").read_text().splitlines()) == 1
    finally:
        g.stop()
        s.stop()


def test_stderr_that_nobody_reads_blocks_neither_requests_nor_the_exit(tmp_path):
    """access_log "-" with stderr a pipe nobody reads (a stalled log collector): it is full after some 150 lines;
    requests are still answered, the lines that find no room are counted, SIGTERM still ends the process, and what
    the pipe holds is whole lines (the access log and the gateway's own log lines never inside one another)."""
    s = sim(*ZERO)
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text(config(backend_yaml("small", [s.addr], model="sim-model"), [("chat", "/v1/", "small")],
                          server='access_log: "-"'))
    ready = tmp_path / "ready.json"
    r, w = os.pipe()
    env = dict(os.environ)
    env.update(ENV)
    # under ASan the sanitizers' own reports would wait for the pipe too: they go to files, checked below
    reports = tmp_path / "sanitizer"
    env["LSAN_OPTIONS"] += ":print_suppressions=0"
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env[k] = env.get(k, "") + f":log_path={reports}"
    p = subprocess.Popen([harness.SLUICE, "run", "-c", str(cfg), "--ready-file", str(ready)], stdout=subprocess.DEVNULL,
                         stderr=w, env=env)
    os.close(w)
    try:
        wait_for(lambda: ready.exists(), what="the gateway")
        info = json.loads(ready.read_text())
        conn = keepalive(info["listen"][0], timeout=5)
        for _ in range(1500):  # some 700 KB of lines: the pipe (64 KiB) and the workers' buffers fill up
            assert post(conn, "/v1/chat/completions", chat_body(max_tokens=1))[0] == 200
        conn.close()

        def dropped():
            status, _, body = harness.request(info["admin"], "GET", "/metrics")
            line = next(x for x in body.decode().splitlines() if x.startswith("sluice_access_log_dropped_lines_total "))
            return float(line.split()[1])
        wait_for(lambda: dropped() > 0, what="lines counted as dropped")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0
        assert not list(tmp_path.glob("sanitizer*")), [f.read_text() for f in tmp_path.glob("sanitizer*")]
        os.set_blocking(r, False)
        data = b""
        while True:
            try:
                chunk = os.read(r, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        lines = data.split(b"\n")
        assert lines[-1] == b"" and len(lines) > 100, len(lines)
        for line in lines[:-1]:
            if line.startswith(b"{"):
                assert list(json.loads(line)) == KEYS, line
            else:
                assert line[:4].isdigit() and b" [" in line, line  # the gateway's own log
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(r)
        s.stop()
