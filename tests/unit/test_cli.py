"""The command line answers bad input with one clear line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pulsarload.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--no-such-flag",),
        ("broker", "start", "--port", "99999"),
        ("broker", "nonsense"),
        ("k8s", "port-forward", "--bogus"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pulsarload: error:")
    assert "--help" in lines[0]
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert "pulsarload" in result.stdout


def test_bad_environment_value_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSARLOAD_BROKER_PORT", "not-a-port")
    result = run_cli("broker", "status")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "PULSARLOAD_BROKER_PORT" in result.stderr
