"""`pulsarload bench run --quick` against the session's broker: every contender produces numbers.

The quick suite runs once for the module (a few minutes); each contender is then its own
test, skipped only when its prerequisite is absent here (no .venv-gil, no pulsar-client, no Java),
with that reason.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pulsarload.bench import suite
from pulsarload.bench.lineup import contenders_for

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(300)]

_RUNNABLE, _SKIPPED = contenders_for(suite.QUICK)
CONTENDERS = [c.key for c in _RUNNABLE] + [s["contender"] for s in _SKIPPED]


@pytest.fixture(scope="module")
def quick_run(broker: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    lines: list[str] = []
    code = suite.run_bench(
        quick=True,
        output=out / "benchmarks.md",
        results_dir=out / "results",
        echo=lines.append,
        service_url=broker.service_url,
        admin_url=broker.admin_url,
    )
    [json_path] = (out / "results").glob("bench-*-quick.json")
    data = json.loads(json_path.read_text())
    return {
        "code": code,
        "data": data,
        "log": "\n".join(lines),
        "dir": out,
        "markdown": (out / "results" / "quick.md").read_text(),
    }


@pytest.mark.parametrize("key", CONTENDERS)
def test_contender_produced_numbers(quick_run: dict[str, Any], key: str) -> None:
    skipped = {s["contender"]: s["reason"] for s in quick_run["data"]["skipped"]}
    if key in skipped:
        pytest.skip(f"{key}: {skipped[key]}")
    runs = [r for r in quick_run["data"]["runs"]
            if r["contender"] == key and r["workload"] == "1KiB-none"]  # fmt: skip
    assert len(runs) == suite.QUICK.rounds, f"{key} did not run every round:\n{quick_run['log']}"
    assert sorted(r["round"] for r in runs) == list(range(suite.QUICK.rounds))
    for r in runs:
        assert r["ok"], f"{key}: {r['error']}"
        assert r["messages"] > 0 and r["msg_rate"] > 0
        assert r["p99_ms"] is not None and r["p99_ms"] > 0
        assert r["cpu_s_per_m"] is not None and r["cpu_s_per_m"] > 0
        assert r["peak_rss_mb"] > 10
        assert r["gil"] == {"free-threaded": "off", "free-threaded-gil": "on", "gil": "on",
                            "jvm": "n/a (JVM)"}[r["build"]]  # fmt: skip
        assert r["load_before"] is not None and r["load_after"] is not None


def test_every_consumer_drained_the_filled_topic(quick_run: dict[str, Any]) -> None:
    w = suite.QUICK.drain_workloads[0]
    runs = [r for r in quick_run["data"]["runs"] if r["workload"] == w.name]
    assert runs, quick_run["log"]
    kinds = {r["kind"] for r in runs}
    assert "native" in kinds, quick_run["log"]
    for r in runs:
        assert r["ok"], f"{r['contender']}: {r['error']}"
        assert r["received"] >= w.drain_messages and r["msg_rate"] > 0
        assert r["cpu_total_s"] > 0
    assert "## Drain:" in quick_run["markdown"]


def test_goals_say_met_missed_or_not_distinguishable(quick_run: dict[str, Any]) -> None:
    verdicts = {g["verdict"] for g in quick_run["data"]["goals"]}
    assert verdicts <= {"met", "missed", "not distinguishable", "not measured"}, verdicts
    assert verdicts - {"not measured"}, quick_run["data"]["goals"]


@pytest.mark.parametrize("build", ["free_threaded", "gil"])
def test_micro_benchmarks_produced_numbers(quick_run: dict[str, Any], build: str) -> None:
    micro = quick_run["data"]["micro"][build]
    if build == "gil" and any(
        s["contender"].startswith("native-gil") for s in quick_run["data"]["skipped"]
    ):
        pytest.skip("no GIL build here (.venv-gil)")
    assert "benchmarks" in micro, micro.get("error")
    for entry in micro["benchmarks"].values():
        assert entry["runs"]["1"]["msg_per_s"] > 0 and entry["runs"]["2"]["msg_per_s"] > 0


def test_quick_run_writes_its_tables_and_leaves_the_docs_alone(quick_run: dict[str, Any]) -> None:
    md = quick_run["markdown"]
    assert "## Goals" in md and "## Machine" in md
    assert "## 1 KiB messages, compression none" in md
    assert not (quick_run["dir"] / "benchmarks.md").exists()
    # How long it took is recorded, not asserted (shared machines are noisy); the plan's own
    # budget (< 3 minutes) is checked in tests/unit/bench.
    assert quick_run["data"]["elapsed_s"] > 0
