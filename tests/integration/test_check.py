"""`sluice check`: every shipped example passes (exit 0, summary on stdout), a bad file prints exactly its errors on
stderr (exit 1), and usage errors exit 2 with a one-line hint."""
import json
import os
import subprocess

from harness import SLUICE

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(ROOT, "conf", "examples")


def check(*args, cwd=None):
    p = subprocess.run([SLUICE, "check"] + list(args), capture_output=True, text=True, timeout=30, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def test_every_example_passes():
    names = sorted(n for n in os.listdir(EXAMPLES) if n.endswith(".yaml"))
    assert {"minimal.yaml", "cascade.yaml", "full.yaml"} <= set(names)
    for name in names:
        rc, out, err = check("-c", name, cwd=EXAMPLES)
        assert rc == 0, f"{name}: {err}"
        assert err == ""
        assert out.splitlines()[0].startswith(f"{name}: ok (")


def test_summary_of_the_cascade_example():
    rc, out, err = check("-c", "cascade.yaml", cwd=EXAMPLES)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "cascade.yaml: ok (2 backends, 1 route)"
    assert lines[1] == ("server    listen 127.0.0.1:8080; threads auto; max_body 8MiB; header_timeout 10s; "
                        "shutdown_timeout 30s")
    assert lines[2] == "          tls off; access_log off; busy_poll off"
    assert "  small        openai    127.0.0.1:8001" in lines
    assert "  large        openai    127.0.0.1:8011, 127.0.0.1:8012" in lines
    assert "  chat (openai)  match path /v1/chat/completions" in lines
    assert "    tier 0  small; accept -0.35 <= logprob_mean" in lines
    assert "            skip when prompt_tokens > 4000" in lines
    assert "    tier 1  large" in lines
    assert "    slo     window 28d; availability 99.9%; latency 99% <= 2s; ttft 95% <= 300ms" in lines
    assert len(lines) <= 40  # one screen


def test_summary_of_the_full_example():
    rc, out, err = check("-c", "full.yaml", cwd=EXAMPLES)
    assert rc == 0, err
    assert out.splitlines()[2] == "          tls example-cert.pem; access_log -; busy_poll 50us"


BAD = """\
server:
  thraeds: 4
  max_body: 8
backends:
  small: {protocol: openai, endpoints: 127.0.0.1:8001, max_concurrency: -1}
routes:
  - name: chat
    cascade:
      - backend: small
        accept: {signal: logprob_mean, min: -0.35}
      - backend: larg
"""


def test_bad_file_prints_every_error(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD)
    rc, out, err = check("-c", "bad.yaml", cwd=tmp_path)
    assert rc == 1
    assert out == ""
    assert err.splitlines() == [
        'bad.yaml:2:3: server.thraeds: unknown key (did you mean "threads"?)',
        'bad.yaml:3:13: server.max_body: invalid size "8": a bare number has no unit; write e.g. "8MiB" or "512KiB"',
        "bad.yaml:5:73: backends.small.max_concurrency: must be between 0 and 1000000, got -1",
        'bad.yaml:11:18: routes[0].cascade[1].backend: undefined backend "larg"',
        "bad.yaml: 4 errors",
    ]


def test_syntax_error_and_missing_file(tmp_path):
    (tmp_path / "broken.yaml").write_text("backends: [a, b\n")
    rc, out, err = check("--config", "broken.yaml", cwd=tmp_path)
    assert rc == 1
    assert err.splitlines() == [
        "broken.yaml:2:1: YAML syntax error: did not find expected ',' or ']' "
        "(while parsing a flow sequence that started at 1:11)",
        "broken.yaml: 1 error",
    ]
    rc, out, err = check("-c", "missing.yaml", cwd=tmp_path)
    assert rc == 1
    assert err.splitlines() == ["missing.yaml: cannot open: No such file or directory", "missing.yaml: 1 error"]


def test_help_and_usage_errors():
    rc, out, err = check("--help")
    assert rc == 0 and err == ""
    assert out.splitlines()[0] == "usage: sluice check -c FILE"
    cases = [
        ([], "sluice check: missing -c FILE; try `sluice check --help`"),
        (["-c"], "sluice check: -c needs a file; try `sluice check --help`"),
        (["--frobnicate"], "sluice check: unknown option '--frobnicate'; try `sluice check --help`"),
        (["-x"], "sluice check: unknown option '-x'; try `sluice check --help`"),
        (["-c", "a.yaml", "b.yaml"], "sluice check: unexpected argument 'b.yaml'; try `sluice check --help`"),
    ]
    for args, hint in cases:
        rc, out, err = check(*args)
        assert rc == 2, args
        assert out == ""
        assert err.splitlines() == [hint], args


MONITORED = """\
backends:
  small: {protocol: openai, endpoints: ["127.0.0.1:8001"]}
  fast: {protocol: openai, endpoints: ["127.0.0.1:8002"]}
routes:
  - name: chat
    match: {path: /v1/chat/completions}
    slo: {availability: 99.9%, latency: {threshold: 2s, target: 99%}, window: 28d}
    cascade:
      - backend: small
        degrade: {to: [fast], hold: 30s, spill_over: false}
    monitor:
      prediction: {label: /choices/0/message/content, max_categories: 4}
      features:
        - {name: prompt_tokens, source: prompt_tokens}
        - {name: lang, source: /metadata/lang, type: categorical}
      thresholds: {ks_pvalue: 0.01, null_ratio_alert: 5%}
      feedback: {task: classification, labels: [yes, "no"], horizon: 2h}
"""


def test_summary_shows_degrade_and_monitor_blocks(tmp_path):
    (tmp_path / "mon.yaml").write_text(MONITORED)
    rc, out, err = check("-c", "mon.yaml", cwd=tmp_path)
    assert rc == 0, err
    lines = out.splitlines()
    tier = lines.index("    tier 0  small")
    assert lines[tier + 2:tier + 5] == [
        "            degrade to fast; spill_over off",
        "              up at saturation 90% or p99 100% of the SLO threshold, down at 60% / 70%; steps +25% / -10%",
        "              hold 30s, interval 1s, p99 over 30s, fast burn scales the high marks by 80%"]
    monitor = [l for l in lines if l.startswith("    monitor")]
    assert monitor == ["    monitor window 1h in 60 slots; min_samples 100; reference baseline of 1h or 100000 requests"]
    m = lines.index(monitor[0])
    assert lines[m + 1:] == [
        "            prediction (label:/choices/0/message/content, categorical, at most 4)",
        "            features   prompt_tokens (prompt_tokens, numeric, 10 bins)",
        "                       lang (/metadata/lang, categorical, at most 64)",
        "            drift psi warn 0.1, psi alert 0.25, ks p < 0.01, nulls alert % 5",
        "            feedback classification [yes, no]; horizon 2h, window 1d, at most 100000 pending"]
    assert len(lines) <= 40


def write_reference(tmp_path):
    """A reference of the MONITORED route built by `sluice reference` from 50 sample requests."""
    sample = "".join(json.dumps({"messages": [{"role": "user", "content": "x" * i}], "metadata": {"lang": "en" if i % 2
                                 else "fr"}, "label": "yes" if i % 3 else "no"}) + "\n" for i in range(50))
    (tmp_path / "sample.jsonl").write_text(sample)
    p = subprocess.run([SLUICE, "reference", "-c", "mon.yaml", "--route", "chat", "--input", "sample.jsonl", "-o",
                        "ref.json", "--created", "2026-01-01T00:00:00Z"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads((tmp_path / "ref.json").read_text())


def test_monitor_reference_files_are_read_and_checked(tmp_path):
    (tmp_path / "mon.yaml").write_text(MONITORED)
    ref = write_reference(tmp_path)
    with_ref = MONITORED.replace("      thresholds:", "      reference: {file: REF}\n      thresholds:")
    (tmp_path / "ok.yaml").write_text(with_ref.replace("REF", "ref.json"))
    rc, out, err = check("-c", "ok.yaml", cwd=tmp_path)
    assert rc == 0, err
    assert "    monitor window 1h in 60 slots; min_samples 100; reference ref.json (50 samples, " \
           "2026-01-01T00:00:00Z)" in out.splitlines()
    # a defect of the file, a file that does not match the monitor block, a missing file: each named, exit 1
    ref["features"][1]["type"] = "numeric"
    (tmp_path / "bad.json").write_text(json.dumps(ref))
    (tmp_path / "bad.yaml").write_text(with_ref.replace("REF", "bad.json"))
    rc, out, err = check("-c", "bad.yaml", cwd=tmp_path)
    assert (rc, out) == (1, "")
    assert err.splitlines() == [
        'bad.yaml: routes[0].monitor.reference: bad.json: features[1]: missing "edges" (a numeric value is binned)',
        "bad.yaml: 1 error"]
    (tmp_path / "other.yaml").write_text(with_ref.replace("REF", "ref.json").replace("name: lang", "name: language"))
    rc, out, err = check("-c", "other.yaml", cwd=tmp_path)
    assert (rc, out) == (1, "")
    assert err.splitlines() == ['other.yaml: routes[0].monitor.reference: ref.json: no reference for feature "language"',
                                "other.yaml: 1 error"]
    (tmp_path / "gone.yaml").write_text(with_ref.replace("REF", "gone.json"))
    rc, out, err = check("-c", "gone.yaml", cwd=tmp_path)
    assert (rc, out) == (1, "")
    assert err.splitlines() == ["gone.yaml: routes[0].monitor.reference: gone.json: cannot read: No such file or directory",
                                "gone.yaml: 1 error"]


def test_slo_target_rounding_to_100_percent_is_an_error(tmp_path):
    (tmp_path / "slo.yaml").write_text(MONITORED.replace("availability: 99.9%", "availability: 99.99999999%"))
    rc, out, err = check("-c", "slo.yaml", cwd=tmp_path)
    assert (rc, out) == (1, "")
    assert err.splitlines() == [
        "slo.yaml:7:25: routes[0].slo.availability: 99.99999999% rounds to 100% in parts per billion, which leaves no "
        "error budget; use at most 99.9999999% and at least 0.0000001%",
        "slo.yaml: 1 error"]
