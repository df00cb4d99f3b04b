"""Control of `sluice sim`: flags and --help generated from one parameter table, GET/POST /sim/config (validated,
all or nothing, errors listed per key), /sim/stats, several models in one process, and the graceful stop."""
import json
import os
import signal
import subprocess
import threading
import time

import harness
from sim_helpers import ENV, ZERO, chat, sse_events, start

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "SIM.md")


def markdown_table():
    return subprocess.run([harness.SLUICE, "sim", "--help-markdown"], capture_output=True, text=True, check=True,
                          env=dict(os.environ, **ENV)).stdout


def test_help_lists_every_parameter_and_docs_are_in_sync():
    table = markdown_table()
    names = [line.split("`")[1] for line in table.splitlines()[2:]]
    assert len(names) >= 25 and "error_rate" in names and "slots" in names
    out = subprocess.run([harness.SLUICE, "sim", "--help"], capture_output=True, text=True, env=dict(os.environ, **ENV))
    assert out.returncode == 0
    for n in names:
        assert "--" + n.replace("_", "-") in out.stdout
    with open(DOCS) as f:
        assert table in f.read(), "docs/SIM.md must contain the output of `sluice sim --help-markdown`"


def test_bad_flags_exit_2():
    out = subprocess.run([harness.SLUICE, "sim", "--slot", "3"], capture_output=True, text=True,
                         env=dict(os.environ, **ENV))
    assert out.returncode == 2 and "did you mean 'slots'" in out.stderr
    out = subprocess.run([harness.SLUICE, "sim", "--error-rate", "0.7", "--hang-rate", "0.5"], capture_output=True,
                         text=True, env=dict(os.environ, **ENV))
    assert out.returncode == 2 and "above 1" in out.stderr


def test_config_get_post_and_errors():
    p = start(*ZERO, "--slots", "7", "--model", "small")
    try:
        keys = [line.split("`")[1] for line in markdown_table().splitlines()[2:]]
        status, cfg = harness.get_json(p.addr, "/sim/config")
        assert status == 200 and list(cfg) == keys
        assert cfg["slots"] == 7 and cfg["model"] == "small" and cfg["labels"] == "positive,negative"

        status, _, body, _ = harness.post_json(p.addr, "/sim/config", {
            "slots": 3, "accuracy": 1.5, "threads": 4, "bogus": 1, "labels": ["a"]})
        assert status == 400
        assert body["error"] == "invalid configuration: 4 problems, nothing changed"
        assert {e["key"]: e["message"] for e in body["errors"]} == {
            "accuracy": "accuracy: 1.5 is outside [0, 1]",
            "threads": "threads: can only be set at start-up",
            "bogus": "unknown parameter 'bogus'",
            "labels": "labels: at least 2 labels are needed"}
        assert harness.get_json(p.addr, "/sim/config")[1] == cfg  # all or nothing

        status, _, body, _ = harness.post_json(p.addr, "/sim/config", {"drift_label": 2})
        assert status == 400 and body["errors"][0]["key"] is None and "drift_label" in body["errors"][0]["message"]

        status, _, body, _ = harness.post_json(p.addr, "/sim/config", {"model": "large", "labels": ["a", "b", "c"],
                                                                        "drift_label": 2, "error_rate": 0.5})
        assert status == 200 and body["model"] == "large" and body["labels"] == "a,b,c" and body["error_rate"] == 0.5
        assert chat(p.addr, "hi", model="small")[0] == 404
        harness.post_json(p.addr, "/sim/config", {"error_rate": 0})
        status, headers, _, _ = chat(p.addr, "classify: x", model="large")
        assert status == 200 and headers["x-sim-truth"] in ("a", "b", "c")

        assert harness.request(p.addr, "POST", "/sim/config", body=b"[]")[0] == 400
        assert harness.request(p.addr, "DELETE", "/sim/config")[0] == 405
    finally:
        assert p.stop() == 0


def test_stats_count_by_status():
    p = start(*ZERO)
    try:
        for _ in range(3):
            assert chat(p.addr, "hi", max_tokens=2)[0] == 200
        assert chat(p.addr, "hi", model="nope")[0] == 404
        assert harness.request(p.addr, "POST", "/v1/completions", body=b"{")[0] == 400
        _, s = harness.get_json(p.addr, "/sim/stats")
        assert s["requests"] == 5 and s["answers"] == 3 and s["workers"] == 1
        assert s["by_status"] == {"200": 3, "400": 1, "404": 1, "405": 0, "413": 0, "429": 0, "500": 0, "503": 0,
                                  "other": 0}
        assert s["prompt_tokens"] == 3 and 3 <= s["completion_tokens"] <= 6
    finally:
        assert p.stop() == 0


def test_several_models_in_one_process():
    p = start(*ZERO, "--model", "small", "--accuracy", "0.6", "--threads", "2",
              "--listen", "127.0.0.1:0", "--model", "large", "--protocol", "kserve_v2")
    try:
        assert len(p.ready["listen"]) == 2 and p.ready["models"] == ["small", "large"]
        assert p.ready["protocols"] == ["openai", "kserve_v2"]
        small, large = p.ready["listen"]
        assert chat(small, "hi", model="small")[0] == 200
        assert harness.get_json(small, "/sim/config")[1]["threads"] == 2
        status, _, body, _ = harness.post_json(large, "/v2/models/large/infer",
                                               {"inputs": [{"name": "t", "datatype": "BYTES", "shape": [1], "data": ["x"]}]})
        assert status == 200 and body["model_name"] == "large"
        cfg = harness.get_json(large, "/sim/config")[1]
        assert cfg["threads"] == 1 and cfg["accuracy"] == 0.8  # flags after a --listen apply to that group only
    finally:
        assert p.stop() == 0


def test_graceful_stop_finishes_streams_in_flight():
    p = start("--ttft-ms", "0", "--ttft-jitter-ms", "0", "--tpot-ms", "60", "--tpot-jitter-ms", "0",
              "--output-tokens-mean", "400", "--output-tokens-max", "400", "--seed", "1")
    result = {}

    def stream():
        result["r"] = harness.request(p.addr, "POST", "/v1/chat/completions", body={
            "messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 10})

    t = threading.Thread(target=stream)
    t.start()
    harness.wait_for(lambda: harness.get_json(p.addr, "/sim/stats")[1]["in_flight"] == 1, 5, what="stream started")
    t0 = time.monotonic()
    p.signal(signal.SIGTERM)
    t.join(10)
    status, _, raw = result["r"]
    assert status == 200
    events = sse_events(raw)
    assert sum(1 for e in events if e["choices"] and "content" in e["choices"][0]["delta"]) == 11  # role + 10 tokens
    assert p.stop() == 0
    assert time.monotonic() - t0 < 3
