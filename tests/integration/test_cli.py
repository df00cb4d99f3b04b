"""The command line: help, version, and usage errors (exit 2 with a one-line hint naming --help)."""
import subprocess

import pytest

from harness import SLUICE

COMMANDS = ["run", "check", "sim", "demo", "rules"]


def sluice(*args):
    return subprocess.run([SLUICE] + list(args), capture_output=True, text=True, timeout=30)


def test_top_level_help_lists_every_command():
    r = sluice("--help")
    assert r.returncode == 0
    assert r.stdout.startswith("sluice ")
    for c in COMMANDS:
        assert f"\n  {c} " in r.stdout, c


def test_version():
    r = sluice("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("sluice ") and r.stdout.count("\n") == 1


def test_no_command_and_unknown_command_are_usage_errors():
    r = sluice()
    assert r.returncode == 2
    assert r.stderr == "sluice: missing command; try `sluice --help`\n"
    r = sluice("frobnicate")
    assert r.returncode == 2
    assert r.stderr == "sluice: unknown command 'frobnicate'; try `sluice --help`\n"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_each_command_has_help(cmd):
    r = sluice(cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout.lower() or "sluice " + cmd in r.stdout


@pytest.mark.parametrize("cmd", COMMANDS)
def test_unknown_option_is_a_one_line_usage_error(cmd):
    r = sluice(cmd, "--no-such-option")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1, r.stderr
    assert f"`sluice {cmd} --help`" in r.stderr, r.stderr


@pytest.mark.parametrize("cmd", ["run", "check", "rules"])
def test_missing_config_is_a_usage_error(cmd):
    r = sluice(cmd)
    assert r.returncode == 2
    assert r.stderr == f"sluice {cmd}: missing -c FILE; try `sluice {cmd} --help`\n"
