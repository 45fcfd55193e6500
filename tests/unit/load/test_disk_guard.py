"""The local broker's disk guard (one implementation for load runs and the bench suite), and
the demo's modest defaults."""

from __future__ import annotations

import re
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
from test_pool import FakeEngine

from pulsarload.bench import machine
from pulsarload.broker import disk
from pulsarload.config import PRESETS, ProduceSettings, resolve_settings
from pulsarload.load.controller import LoadController
from pulsarload.load.headless import summary_lines
from support.waiting import eventually

ROOT = Path(__file__).resolve().parents[3]
Usage = namedtuple("Usage", "total used free")


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("pulsar://localhost:6650", True),
        ("pulsar://127.0.0.1:6650,localhost:6651", True),
        ("pulsar+ssl://[::1]:6651", True),
        ("http://localhost:8080", True),
        ("pulsar://pulsar.example:6650", False),
        ("pulsar://localhost:6650,pulsar.example:6650", False),
    ],
)
def test_which_brokers_are_local(url: str, local: bool) -> None:
    assert disk.is_local(url) is local


def test_problem_only_for_a_local_broker_below_the_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    free = [5 * disk.GIB]
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: Usage(100, 0, free[0]))
    floor = 4 * disk.GIB
    assert disk.disk_problem("pulsar://localhost:6650", floor) is None
    free[0] = 3 * disk.GIB
    problem = disk.disk_problem("pulsar://localhost:6650", floor)
    assert problem is not None and problem.startswith("only 3.0 GiB free")
    assert "free some space and run again" in problem
    assert disk.disk_problem("pulsar://pulsar.example:6650", floor) is None
    assert disk.disk_problem("pulsar://localhost:6650", 0) is None  # 0 = never


def test_the_guard_looks_once_per_interval_and_remembers(monkeypatch: pytest.MonkeyPatch) -> None:
    looks: list[int] = []
    free = [10 * disk.GIB]

    def usage(_p: object) -> Usage:
        looks.append(1)
        return Usage(100, 0, free[0])

    monkeypatch.setattr(shutil, "disk_usage", usage)
    now = [100.0]
    guard = disk.DiskGuard("pulsar://localhost:6650", 4 * disk.GIB, clock=lambda: now[0])
    assert guard.check() is None and len(looks) == 1
    now[0] += 0.5
    free[0] = 1 * disk.GIB
    assert guard.check() is None and len(looks) == 1  # not yet: once a second
    now[0] += 0.6
    assert guard.check() is not None and len(looks) == 2
    free[0] = 10 * disk.GIB
    now[0] += 5
    assert guard.check() is not None and len(looks) == 2  # a stop reason stays


def test_the_bench_suite_uses_the_same_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []

    def problem(url: str, floor: int, path: object = None) -> str:
        calls.append((url, floor))
        return "only 1.0 GiB free on the disk of X"

    monkeypatch.setattr(machine, "disk_problem", problem)
    with pytest.raises(machine.DiskFull, match="only 1.0 GiB"):
        machine.check_disk(machine.Broker("pulsar://localhost:6650", "http://localhost:8080"))
    assert calls == [("pulsar://localhost:6650", machine.MIN_FREE_BYTES)]
    assert int(ProduceSettings().disk_min_free_gib * disk.GIB) == machine.MIN_FREE_BYTES


def test_a_run_stops_cleanly_with_one_line_when_the_disk_runs_low(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    free = [50 * disk.GIB]
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: Usage(100, 0, free[0]))
    settings = ProduceSettings(rate=500.0, threads=1, disk_min_free_gib=4.0)
    c = LoadController("producer", settings, engine=FakeEngine(), sample_interval=0.05)
    c.start()
    try:
        eventually(lambda: c.sampler.latest is not None, what="the first snapshot")
        assert not c.done()
        free[0] = 2 * disk.GIB
        eventually(c.done, what="the disk guard to stop the run")
    finally:
        result = c.stop()
    reasons = [line for line in summary_lines(result) if line.startswith("stopped: only 2.0 GiB")]
    assert len(reasons) == 1
    assert result.final.total.acked == result.final.total.sent  # flushed: a clean stop


def test_a_consumer_and_a_remote_broker_have_no_guard() -> None:
    from pulsarload.config import ConsumeSettings

    assert LoadController("consumer", ConsumeSettings(), engine=FakeEngine()).disk_guard is None
    remote = ProduceSettings(service_url="pulsar://pulsar.example:6650")
    guard = LoadController("producer", remote, engine=FakeEngine()).disk_guard
    assert guard is not None and not guard.active


def test_make_demo_runs_at_the_demo_preset() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and "--preset demo" in recipe.group(1)
    settings = resolve_settings(ProduceSettings, {}, environ={}, preset="demo")
    assert 0 < settings.rate <= 1000  # moves the charts; not as fast as possible
    assert PRESETS["demo"]["rate"] == settings.rate
