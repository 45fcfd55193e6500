"""Micro-benchmarks: every operation runs, results have the shape the suite reads."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pulsarload.bench import micro


@pytest.mark.parametrize("name", list(micro.BENCHMARKS))
def test_each_operation_runs(name: str) -> None:
    op, per_op = micro.BENCHMARKS[name][1](1)
    op()
    assert per_op > 0


def test_run_all_reports_both_thread_counts_and_the_speedup() -> None:
    out = micro.run_all(seconds=0.05, repeat=1, names=("control", "histogram_record"))
    assert out["interpreter"]["version"]
    for entry in out["benchmarks"].values():
        assert set(entry["runs"]) == {"1", "2"}
        assert entry["runs"]["1"]["msg_per_s"] > 0
        assert entry["speedup_2v1"] > 0
    assert micro.format_table(out)[0].startswith("CPython")


def test_runs_under_another_interpreter_as_a_subprocess() -> None:
    out = micro.run_micro(Path(sys.executable), seconds=0.02, repeat=1)
    assert "histogram_record" in out["benchmarks"]
    assert out["interpreter"]["executable"]
