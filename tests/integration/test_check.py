"""`sluice check`: every shipped example passes (exit 0, summary on stdout), a bad file prints exactly its errors on
stderr (exit 1), and usage errors exit 2 with a one-line hint."""
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
    assert "  small        openai    127.0.0.1:8001" in lines
    assert "  large        openai    127.0.0.1:8011, 127.0.0.1:8012" in lines
    assert "  chat (openai)  match path /v1/chat/completions" in lines
    assert "    tier 0  small; accept -0.35 <= logprob_mean" in lines
    assert "            skip when prompt_tokens > 4000" in lines
    assert "    tier 1  large" in lines
    assert "    slo     window 28d; availability 99.9%; latency 99% <= 2s; ttft 95% <= 300ms" in lines
    assert len(lines) <= 40  # one screen


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
