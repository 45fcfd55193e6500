"""bench/capacity_rows.py prints the capacity tables from a committed capacity-check directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_capacity_rows_prints_every_search_and_steady_run() -> None:
    runs = sorted((ROOT / "bench" / "results").glob("capacity-*"))
    assert runs, "no capacity-check directory is committed under bench/results"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "capacity_rows.py"), str(runs[-1]), "50"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sum(line.startswith("| capacity ") for line in lines) == 2, out.stdout
    assert sum(line.startswith("| pulsar-perf |") for line in lines) == 2, out.stdout
    assert sum(line.startswith("| pulsarload |") for line in lines) == 2, out.stdout
