"""`sluice demo`: the built-in config it prints passes `sluice check`, and the running demo answers through the
gateway on all three simulated models (chat through its small -> large cascade, chat by model name, KServe v2) and
exits cleanly on SIGTERM."""
import json
import os
import subprocess
import tempfile

import harness
from gw_helpers import ENV, TrackedProc, chat_body
from gw_helpers import reap_processes  # noqa: F401 - kills what a failed test left running


def test_printed_config_passes_check():
    out = subprocess.run([harness.SLUICE, "demo", "--print-config"], capture_output=True)
    assert out.returncode == 0 and out.stderr == b""
    with tempfile.NamedTemporaryFile("wb", suffix=".yaml", delete=False) as f:
        f.write(out.stdout)
    try:
        check = subprocess.run([harness.SLUICE, "check", "-c", f.name], capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert b"ok (3 backends, 4 routes)" in check.stdout
    finally:
        os.unlink(f.name)


def test_demo_serves_every_model():
    d = TrackedProc(["demo", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"], env=ENV)
    try:
        # chat is a cascade: the small model answers when it is confident, the large one otherwise
        tiers = set()
        for _ in range(40):
            status, headers, doc, _ = harness.post_json(d.addr, "/v1/chat/completions", chat_body("classify: fine"))
            backend = headers["x-sluice-backend"]
            assert status == 200 and doc["model"] == "demo-" + backend
            assert (headers["x-sluice-tier"], headers["x-sluice-escalations"]) == \
                {"small": ("0", "0"), "large": ("1", "1")}[backend]
            assert float(headers["x-sluice-cost"]) > 0
            tiers.add(headers["x-sluice-tier"])
            if len(tiers) == 2:
                break
        assert tiers == {"0", "1"}  # the small model's confidence is spread around its accuracy (0.72)
        status, _, doc, _ = harness.post_json(d.addr, "/v1/chat/completions", chat_body(model="large"))
        assert status == 200 and doc["model"] == "demo-large"
        body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["classify: fine"]}]}
        status, _, doc, _ = harness.post_json(d.addr, "/v2/models/intent/infer", body)
        assert status == 200 and doc["model_name"] == "demo-intent"
        status, ready = harness.get_json(d.ready["admin"], "/readyz")
        assert status == 200 and ready["status"] == "ready"
        assert harness.request(d.ready["admin"], "POST", "/admin/reload")[0] == 200  # rebuilds the built-in config
    finally:
        assert d.stop() == 0
    with open(d.log_path, "rb") as f:
        err = f.read().decode(errors="replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err
