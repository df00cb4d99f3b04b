"""`sluice rules`: the rules of conf/examples/slo.yaml on stdout and with -o (the same bytes, written atomically),
a config without SLOs, config errors with their file:line:col, an output that cannot be written, and usage errors.
promtool checks and unit-tests the rules themselves (tests/rules/)."""
import os
import subprocess
import tempfile

from harness import SLUICE

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(ROOT, "conf", "examples")


def rules(*args, cwd=None):
    p = subprocess.run([SLUICE, "rules"] + list(args), capture_output=True, text=True, timeout=30, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def test_stdout_and_output_file_hold_the_same_rules():
    rc, out, err = rules("-c", "slo.yaml", cwd=EXAMPLES)
    assert rc == 0, err
    assert err == ""
    with open(os.path.join(ROOT, "tests", "rules", "slo.rules.yml")) as f:
        assert out == f.read()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "slo.rules.yml")
        rc, out2, err = rules("-c", os.path.join(EXAMPLES, "slo.yaml"), "-o", path)
        assert (rc, out2, err) == (0, "", "")
        with open(path) as f:
            assert f.read() == out
        assert sorted(os.listdir(d)) == ["slo.rules.yml"]  # no temp file left behind
        assert os.stat(path).st_mode & 0o777 == 0o644


def test_a_config_without_slo_gives_no_groups():
    rc, out, err = rules("-c", "minimal.yaml", cwd=EXAMPLES)
    assert rc == 0
    assert out.endswith("# This config declares no SLO.\ngroups: []\n")
    assert err == "sluice rules: minimal.yaml declares no SLO; the rule file has no groups\n"


def test_config_errors_are_reported_with_their_position():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bad.yaml")
        with open(path, "w") as f:
            f.write("backends:\n"
                    "  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                    "routes:\n"
                    "  - name: chat\n"
                    "    cascade: [{backend: llm}]\n"
                    "    slo: {availability: 100%}\n")
        rc, out, err = rules("-c", path)
        assert rc == 1
        assert out == ""
        assert err == f"{path}:6:25: routes[0].slo.availability: must be above 0% and below 100%, got 100%\n"


def test_an_output_that_cannot_be_written():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "missing", "slo.rules.yml")
        rc, out, err = rules("-c", os.path.join(EXAMPLES, "slo.yaml"), "-o", path)
        assert rc == 1
        assert out == ""
        assert err == f"sluice rules: {path}: create of {path}.tmp failed: No such file or directory\n"


def test_usage_errors_exit_2():
    assert rules() == (2, "", "sluice rules: missing -c FILE; try `sluice rules --help`\n")
    assert rules("-c") == (2, "", "sluice rules: -c needs a file; try `sluice rules --help`\n")
    assert rules("--bogus", "-c", "x") == (2, "", "sluice rules: unknown option '--bogus'; try `sluice rules --help`\n")
    assert rules("-c", "x", "extra") == (2, "", "sluice rules: unexpected argument 'extra'; try `sluice rules --help`\n")
    rc, out, err = rules("--help")
    assert rc == 0 and err == ""
    assert out.startswith("usage: sluice rules -c FILE [-o OUT]\n")
