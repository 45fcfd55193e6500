"""The suite: goals from figures, pairing, skipping, and the markdown it writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulsarload.bench import machine, suite
from pulsarload.bench.goals import evaluate_goals
from pulsarload.bench.lineup import contenders_for, pair_contenders
from pulsarload.bench.markdown import render_markdown
from pulsarload.bench.model import Broker, Contender, Figures, Workload
from pulsarload.bench.suite import BenchResult

W = "1KiB-none"


def fig(key: str, kind: str, build: str, rate: float, cpu: float, threads: int = 1) -> Figures:
    f = Figures(W, key, key, kind, build, threads, ok=True, messages=int(rate * 10))
    f.msg_rate, f.mb_rate, f.cpu_s_per_m = rate, rate / 1000, cpu
    f.p50_ms, f.p99_ms, f.p999_ms, f.peak_rss_mb, f.cpu_total_s = 1.0, 5.0, 9.0, 100.0, 3.0
    return f


def bench_result() -> BenchResult:
    machine = {
        "cpu_model": "Test CPU", "cpu_count": 2, "mem_total_gib": 8.0, "kernel": "Linux",
        "python_free_threaded": {"version": "3.13.5", "free_threaded_build": True,
                                 "gil_enabled": False, "gil_after_import": False},
        "python_gil": {"version": "3.13.5", "free_threaded_build": False,
                       "pulsar_client": "3.9.0"},
        "java": "openjdk 17", "pulsar": "4.0.8", "git_commit": "abc123",
        "git_modified_files": 0, "loadavg_start": [0.1, 0.2, 0.3],
    }  # fmt: skip
    r = BenchResult(
        plan="full",
        started="2026-01-01T00:00:00+00:00",
        machine=machine,
        broker={"service_url": "pulsar://x", "admin_url": "http://x"},
        workloads=[
            {**Workload(W, 1024).__dict__},
            {**Workload("e2e", 1024, warmup_s=0, consume=True).__dict__},
        ],
        loadavg_end=[0.1, 0.2, 0.3],
    )
    r.runs = [
        fig("native-ft-t1", "native", "free-threaded", 50_000, 4.0),
        fig("native-ft-t2", "native", "free-threaded", 90_000, 5.0, threads=2),
        fig("native-gil-t1", "native", "gil", 45_000, 4.0),
        fig("official", "official", "gil", 20_000, 30.0),
        fig("pulsar-perf", "pulsar-perf", "jvm", 100_000, 10.0),
    ]
    pair = fig("native-ft-t1", "native", "free-threaded", 40_000, 4.0)
    pair.workload, pair.consumer, pair.consume_rate, pair.received = (
        "e2e",
        "native",
        39_000,
        400_000,
    )
    pair.e2e_p50_ms, pair.e2e_p99_ms = 3.0, 12.0
    r.runs.append(pair)
    r.micro = {
        "free_threaded": {
            "rounds": 3, "seconds_per_round": 1.0,
            "benchmarks": {
                "control": {"title": "control", "speedup_2v1": 1.95,
                            "runs": {"1": {"msg_per_s": 1.0}, "2": {"msg_per_s": 1.95}}},
                "histogram_record": {"title": "histogram", "speedup_2v1": 1.9,
                                     "runs": {"1": {"msg_per_s": 1.0, "cpu_per_wall": 1.0},
                                              "2": {"msg_per_s": 1.9, "cpu_per_wall": 1.98}}},
                "batch_encode_crc32c": {"title": "batch", "speedup_2v1": 1.2,
                                        "runs": {"1": {"msg_per_s": 1.0}, "2": {"msg_per_s": 1.2}}},
            },
        },
        "gil": {"benchmarks": {"histogram_record": {"title": "histogram", "speedup_2v1": 0.95,
                                                    "runs": {"1": {"msg_per_s": 1.0},
                                                             "2": {"msg_per_s": 0.95}}}}},
    }  # fmt: skip
    return r


def test_goals_use_the_best_free_threaded_run() -> None:
    goals = {(g["goal"], g["workload"]): g for g in evaluate_goals(bench_result())}
    vs_perf = goals[("native msg/s >= pulsar-perf msg/s", W)]
    assert vs_perf["ratio"] == pytest.approx(0.9) and vs_perf["met"] is False
    assert vs_perf["verdict"] == "missed" and vs_perf["rounds"] == 1
    assert "90,000" in vs_perf["detail"]  # the 2-thread run: the best thread count
    vs_official = goals[("native msg/s >= 3 x official client", W)]
    assert vs_official["ratio"] == pytest.approx(4.5) and vs_official["met"] is True
    cpu = goals[("native CPU per message <= pulsar-perf", W)]
    assert cpu["ratio"] == pytest.approx(2.0) and cpu["met"] is True
    micro = {k[1]: g for k, g in goals.items() if k[0].startswith("micro")}
    assert set(micro) == {"histogram_record", "batch_encode_crc32c"}  # the control is no goal
    assert micro["histogram_record"]["met"] and not micro["batch_encode_crc32c"]["met"]
    assert not any(g["goal"].startswith("dashboard") for g in goals.values())  # not run


def test_goals_pair_ratios_by_round_and_can_be_undecided() -> None:
    """Three rounds whose paired ratios straddle the target: not distinguishable, although
    each single round would have said met or missed."""
    r = bench_result()
    r.runs = []
    for rnd, (native, perf) in enumerate([(77_000, 100_000), (124_000, 100_000),
                                          (178_000, 100_000)]):  # fmt: skip
        for f in (fig("native-ft-t1", "native", "free-threaded", native, 4.0),
                  fig("pulsar-perf", "pulsar-perf", "jvm", perf, 10.0)):  # fmt: skip
            f.round = rnd
            r.runs.append(f)
    goals = {(g["goal"], g["workload"]): g for g in evaluate_goals(r)}
    g = goals[("native msg/s >= pulsar-perf msg/s", W)]
    assert g["ratio"] == pytest.approx(1.24) and (g["low"], g["high"]) == pytest.approx(
        (0.77, 1.78)
    )
    assert g["verdict"] == "not distinguishable" and g["met"] is None and g["rounds"] == 3
    cpu = goals[("native CPU per message <= pulsar-perf", W)]
    assert cpu["verdict"] == "met" and cpu["ratio"] == pytest.approx(2.5)  # 10 / 4 every round


def test_dashboard_drain_and_latency_goals() -> None:
    r = bench_result()
    r.workloads += [
        {**Workload("dash", 1024, dashboard=True).__dict__},
        {**Workload("drain", 1024, drain_messages=1000).__dict__},
        {**Workload("rate-1k", 1024, rate=1000).__dict__},
    ]
    for rnd in range(3):
        headless = fig("native-ft-t1", "native", "free-threaded", 100_000, 4.0)
        dash = fig("native-ft-t1-dashboard", "native", "free-threaded", 93_000 + rnd * 1000, 4.0)
        ft = fig("native-ft-t1", "native", "free-threaded", 80_000, 12.0)
        perf = fig("pulsar-perf", "pulsar-perf", "jvm", 70_000, 40.0)
        lat_ft = fig("native-ft-t1", "native", "free-threaded", 1000, 4.0)
        lat_perf = fig("pulsar-perf", "pulsar-perf", "jvm", 1000, 4.0)
        lat_ft.from_send_p99_ms, lat_perf.from_send_p99_ms = 3.0, 6.0
        for f, w in ((headless, "dash"), (dash, "dash"), (ft, "drain"), (perf, "drain"),
                     (lat_ft, "rate-1k"), (lat_perf, "rate-1k")):  # fmt: skip
            f.workload, f.round = w, rnd
            r.runs.append(f)
    goals = {(g["goal"], g["workload"]): g for g in evaluate_goals(r)}
    d = goals[("dashboard on vs headless: <= 10 % throughput lost", "dash")]
    assert d["ratio"] == pytest.approx(0.94) and d["verdict"] == "met"
    assert goals[("drain: native msg/s >= pulsar-perf", "drain")]["verdict"] == "met"
    assert goals[("drain: native CPU per message <= pulsar-perf", "drain")]["ratio"] == (
        pytest.approx(40 / 12)
    )
    lat = goals[("publish p99 from the actual send <= pulsar-perf's", "rate-1k")]
    assert lat["ratio"] == pytest.approx(2.0) and lat["verdict"] == "met"


def test_goal_without_a_contender_says_why() -> None:
    r = bench_result()
    r.runs = [f for f in r.runs if f.kind != "official"]
    r.skipped = [{"contender": "official", "reason": "pulsar-client does not import"}]
    goals = evaluate_goals(r)
    row = next(g for g in goals if g["goal"] == "native vs the official client")
    assert row["met"] is None and "pulsar-client does not import" in row["detail"]


def test_markdown_has_machine_goals_tables_and_micro(tmp_path: Path) -> None:
    r = bench_result()
    r.goals = evaluate_goals(r)
    json_path = tmp_path / "results" / "bench-x.json"
    md = render_markdown(r, json_path, analysis="## Analysis\n\nhand-written", output_dir=tmp_path)
    assert "| CPU | Test CPU |" in md and "| Pulsar | 4.0.8" in md
    assert "(results/bench-x.json)" in md
    assert "## Goals" in md and "**missed**" in md and "| met |" in md
    assert "## 1 KiB messages, compression none, batching on, producer only" in md
    assert "| 90,000 |" in md  # the 2-thread free-threaded run
    assert "producer + consumer" in md and "| 39,000 |" in md
    assert "**1.90x**" in md and "**0.95x**" in md
    assert md.rstrip().endswith("hand-written")
    assert "Noise" not in md  # load average 0.1: no noise warning


def test_markdown_warns_about_a_busy_machine(tmp_path: Path) -> None:
    r = bench_result()
    r.machine["loadavg_start"] = [6.5, 5.0, 4.0]
    md = render_markdown(r, tmp_path / "x.json", analysis=None, output_dir=tmp_path)
    assert "**Noise.**" in md


def test_pairs_use_the_native_consumer_only_when_it_works() -> None:
    ft = Contender("native-ft-t1", "native", "free-threaded", 1, Path("/ft"))
    gil = Contender("native-gil-t1", "native", "gil", 1, Path("/gil"))
    off = Contender("official", "official", "gil", 1, Path("/gil"))
    perf = Contender("pulsar-perf", "pulsar-perf", "jvm")
    pairs = pair_contenders([ft, gil, off, perf], None)
    assert [(p.key, s.kind) for p, s in pairs] == [
        ("native-ft-t1", "native"),
        ("native-gil-t1", "native"),
        ("official", "official"),
        ("pulsar-perf", "pulsar-perf"),
    ]
    pairs = pair_contenders([ft, off, perf], "does not import")
    assert [(p.key, s.kind) for p, s in pairs][0] == ("native-ft-t1", "official")
    assert "not usable" in pairs[0][1].label


def test_missing_gil_build_is_skipped_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSARLOAD_GIL_PYTHON", "/nonexistent/python")
    runnable, skipped = contenders_for(suite.QUICK)
    keys = {s["contender"]: s["reason"] for s in skipped}
    assert "native-gil-t1" in keys and "official" in keys
    assert all(c.build != "gil" for c in runnable)


def test_plans_fit_their_time_budgets() -> None:
    """make bench (three rounds of every table) within an hour, --quick within a few minutes
    (its drain must still be long enough for the broker's counter to time)."""
    assert suite.FULL.rounds == 3 and suite.QUICK.rounds >= 2
    assert suite.estimate_seconds(suite.FULL) < 50 * 60
    assert suite.estimate_seconds(suite.QUICK) < 5 * 60


def test_results_round_trip_through_json(tmp_path: Path) -> None:
    import json

    r = bench_result()
    r.goals = evaluate_goals(r)
    path = tmp_path / "results" / "bench-x.json"
    path.parent.mkdir()
    path.write_text(json.dumps(r.to_dict()))
    (tmp_path / "analysis.md").write_text("## What bounds it\n")
    out = tmp_path / "benchmarks.md"
    suite.render_file(path, out)
    assert out.read_text() == render_markdown(
        r, path, analysis="## What bounds it\n", output_dir=tmp_path
    )


def test_a_crashing_contender_is_recorded_not_fatal() -> None:
    def boom() -> Figures:
        raise RuntimeError("HTTP 500 Not enough non-faulty bookies")

    f = suite._guarded(Figures(W, "x", "x", "native", "gil", 1), boom)
    assert not f.has_numbers and "non-faulty bookies" in (f.error or "")


def test_disk_guard_only_for_a_local_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(100, 99, 1024))
    with pytest.raises(machine.DiskFull, match="GiB free"):
        machine.check_disk(Broker("pulsar://localhost:6650", "http://localhost:8080"))
    machine.check_disk(Broker("pulsar://pulsar.example:6650", "http://pulsar.example:8080"))


def test_only_keeps_the_tables_asked_for() -> None:
    plan = suite.only(suite.FULL, ("drain", "dashboard"))
    assert plan.drain_workloads == suite.FULL.drain_workloads
    assert plan.dashboard_workload == suite.FULL.dashboard_workload
    assert not plan.workloads and not plan.pair_workloads and not plan.latency_workloads
    assert plan.micro_repeat == 0 and not plan.variants
    assert suite.estimate_seconds(plan) < suite.estimate_seconds(suite.FULL) / 3


def test_the_checked_in_benchmarks_page_ends_with_the_analysis() -> None:
    """docs/benchmarks.md is rendered from a run plus bench/analysis.md: an edit made to the
    page alone would be lost at the next `make bench`, so the two must agree."""
    root = Path(__file__).resolve().parents[3]
    page = (root / "docs" / "benchmarks.md").read_text()
    analysis = (root / "bench" / "analysis.md").read_text()
    assert page.rstrip().endswith(analysis.rstrip()), (
        "docs/benchmarks.md and bench/analysis.md differ: edit bench/analysis.md, then "
        "`pulsarload bench render` the page"
    )
