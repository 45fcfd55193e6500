"""`pulsarload bench`: the suite and every measurement are subcommands that reach their code."""

from __future__ import annotations

import importlib

import pytest
from click.testing import CliRunner

from pulsarload.bench.subcommands import TOOLS, bench
from pulsarload.cli import cli


def test_bench_lists_the_suite_and_every_tool() -> None:
    result = CliRunner().invoke(cli, ["bench", "--help"])
    assert result.exit_code == 0, result.output
    for name in ("run", "render", *TOOLS):
        assert name in result.output


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_each_tool_is_an_importable_module_with_a_main(name: str) -> None:
    module = importlib.import_module(TOOLS[name][0])
    assert callable(module.main)


@pytest.mark.parametrize("name", ["rate-model", "wire-paths", "fuzz", "micro"])
def test_a_tool_gets_its_own_arguments(name: str) -> None:
    """Arguments pass through unchanged: the tool's own argparse answers --help."""
    result = CliRunner().invoke(bench, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"pulsarload bench {name}" in result.output


def test_run_refuses_zero_rounds() -> None:
    result = CliRunner().invoke(bench, ["run", "--rounds", "0"])
    assert result.exit_code == 2 and "--rounds" in result.output


def test_run_passes_rounds_and_tables_to_the_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulsarload.bench import suite

    seen: dict[str, object] = {}

    def fake_run_bench(**kwargs: object) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(suite, "run_bench", fake_run_bench)
    result = CliRunner().invoke(
        bench, ["run", "--rounds", "5", "--only", "drain", "--only", "micro"]
    )
    assert result.exit_code == 0, result.output
    assert seen["rounds"] == 5 and seen["tables"] == ("drain", "micro") and seen["quick"] is False
