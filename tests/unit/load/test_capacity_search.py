"""The capacity search stepped through fake measurements (no broker, no sleeps)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from pulsarload.load.capacity.run import drive
from pulsarload.load.capacity.search import CapacitySearch
from pulsarload.load.capacity.step import StepResult


def fake_step(rate: int, phase: str, index: int, passed: bool) -> StepResult:
    return StepResult(
        index=index,
        phase=phase,
        target=float(rate),
        achieved=float(rate),
        sent_rate=float(rate),
        p50_ms=1.0,
        p95_ms=2.0,
        p99_ms=3.0 if passed else 80.0,
        p999_ms=4.0,
        max_ms=5.0,
        send_delay_p99_ms=0.1,
        errors=0,
        error_rate=0.0,
        client_cpu_percent=10.0,
        worker_cpu_max_percent=5.0,
        pending_fill=0.0,
        window_s=1.0,
        started_at=0.0,
        measured_from=0.0,
        ended_at=0.0,
        passed=passed,
    )


def system(capacity: float, noise: dict[int, list[bool]] | None = None):
    """A fake cluster that passes below `capacity`; `noise` scripts the first verdicts at a
    rate (then it answers truthfully). Returns (measure, the rates asked for)."""
    noise = {k: list(v) for k, v in (noise or {}).items()}
    asked: list[tuple[int, str]] = []

    def measure(rate: int, phase: str, index: int) -> StepResult:
        asked.append((rate, phase))
        scripted = noise.get(rate)
        passed = scripted.pop(0) if scripted else rate <= capacity
        return fake_step(rate, phase, index, passed)

    return measure, asked


def search(**kw: float) -> CapacitySearch:
    args = {"start": 1000, "ceiling": 1_000_000, "factor": 2.0, "resolution": 0.05}
    args.update(kw)
    return CapacitySearch(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("capacity", [1000, 1500, 11_403, 17_086, 123_456])
def test_finds_the_capacity_within_the_resolution(capacity: int) -> None:
    s = search()
    measure, asked = system(capacity)
    steps = drive(s, measure)
    o = s.outcome()
    assert o.ended == "found"
    assert o.passing is not None and o.failing is not None
    assert o.passing <= capacity < o.failing
    assert (o.failing - o.passing) / o.passing <= 0.05
    assert o.confidence == "high"
    assert o.votes == {"passing": "2/2 passed", "failing": "2/2 failed"}
    # Every deciding step was repeated; the ramp is geometric from the start rate.
    phases = [p for _, p in asked]
    assert phases.count("confirm") == 2
    assert asked[0] == (1000, "ramp") and asked[1] == (2000, "ramp")
    assert len(steps) == len(asked) and len(steps) < 25


def test_one_noisy_failure_below_the_capacity_does_not_move_the_answer() -> None:
    # The first measurement at the final failing boundary's neighbourhood lies: 8,000 fails
    # once (a GC pause), though the system takes 11,000.
    s = search()
    measure, asked = system(11_000, noise={8000: [False]})
    drive(s, measure)
    o = s.outcome()
    assert o.passing is not None and o.failing is not None
    assert o.passing <= 11_000 < o.failing
    assert (o.failing - o.passing) / o.passing <= 0.05
    assert o.confidence in ("high", "medium")
    assert (8000, "ramp") in asked  # the noisy step was taken, then outvoted or bypassed


def test_a_noisy_pass_above_the_capacity_is_caught_by_the_repeat() -> None:
    # The bisection lands on a passing fluke just above the true limit; its confirmation fails.
    s = search()
    truth = 10_000
    measure, asked = system(truth, noise={r: [True] for r in range(10_001, 10_600)})
    drive(s, measure)
    o = s.outcome()
    assert o.passing is not None and o.passing <= 10_600
    assert o.failing is not None and (o.failing - o.passing) / o.passing <= 0.05
    assert any(p == "tiebreak" for _, p in asked)
    assert o.confidence == "medium"  # a boundary needed a third run


def test_the_ceiling_ends_the_search_with_low_confidence() -> None:
    s = search(ceiling=5000)
    measure, asked = system(1e9)
    drive(s, measure)
    o = s.outcome()
    assert o.ended == "ceiling" and o.capacity == 5000 and o.failing is None
    assert o.confidence == "low"
    assert [r for r, _ in asked] == [1000, 2000, 4000, 5000, 5000]


def test_nothing_passes_comes_down_to_the_floor() -> None:
    s = search(start=8)
    measure, asked = system(0)
    drive(s, measure)
    o = s.outcome()
    assert o.ended == "floor" and o.capacity == 0 and o.passing is None
    assert [p for _, p in asked][:3] == ["ramp", "ramp-down", "ramp-down"]


def test_a_start_rate_above_the_capacity_ramps_down_then_bisects() -> None:
    s = search(start=50_000)
    measure, _ = system(7000)
    drive(s, measure)
    o = s.outcome()
    assert o.passing is not None and o.failing is not None
    assert o.passing <= 7000 < o.failing and (o.failing - o.passing) / o.passing <= 0.05


def test_without_confirmation_nothing_is_repeated() -> None:
    s = search(confirm=False)
    measure, asked = system(3000)
    drive(s, measure)
    rates = [r for r, _ in asked]
    assert len(rates) == len(set(rates))
    assert s.outcome().confidence == "low"


def test_a_stop_request_ends_the_search_between_steps() -> None:
    s = search()
    measure, asked = system(1e9)
    calls: list[int] = []

    def stop_after_three() -> bool:
        calls.append(1)
        return len(asked) >= 3

    steps = drive(s, measure, should_stop=stop_after_three)
    assert len(steps) == 2  # the third step was interrupted: no verdict recorded from it
    assert s.steps == 2


def test_the_step_limit_bounds_a_search_that_cannot_converge() -> None:
    flip: Callable[[int, str, int], StepResult]
    count = {"n": 0}

    def flip(rate: int, phase: str, index: int) -> StepResult:
        count["n"] += 1
        return fake_step(rate, phase, index, passed=count["n"] % 2 == 0)

    s = search(max_steps=5)
    drive(s, flip)
    assert s.steps == 5
    assert s.outcome().ended == "step-limit" and s.outcome().confidence == "low"


def test_bad_search_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        CapacitySearch(start=10, ceiling=5, factor=2, resolution=0.05)
    with pytest.raises(ValueError):
        CapacitySearch(start=10, ceiling=50, factor=1, resolution=0.05)


class FakeCluster:
    """A LoadTarget that takes up to `capacity` msg/s at 1 ms and piles sends up beyond it.

    Time is fake: the driver's waits (`FakeClock.wait`) make it publish the snapshots of that
    span at once, so the whole driver runs without sleeping."""

    def __init__(self, capacity: float) -> None:
        self.capacity = capacity
        self.rate = 0.0
        self.now = 1_700_000_000.0
        self.seq = 0
        self.subscribers: list = []
        self.rates: list[float] = []

    def apply(self, command) -> str:
        if hasattr(command, "rate"):  # pause and resume (between steps) change nothing here
            self.rate = command.rate
            self.rates.append(command.rate)
        return "ok"

    def subscribe(self, callback):
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def advance(self, seconds: float) -> None:
        from pulsarload.metrics.hdr import Histogram
        from pulsarload.metrics.snapshot import Counters, LatencyStats, Snapshot, WorkerStats

        over = self.rate > self.capacity
        for _ in range(round(seconds * 10)):
            self.seq += 1
            self.now += 0.1
            acked = round(min(self.rate, self.capacity) * 0.1)
            h = Histogram()
            if acked:
                h.record(200_000 if over else 1000, acked)
            c = Counters(sent=acked, acked=acked)
            w = WorkerStats("p0", "producer", "running", c, {}, LatencyStats(), LatencyStats(),
                            30.0, 900 if over else 5)  # fmt: skip
            snap = Snapshot(self.seq, self.now, 0.0, 0.1, c, {}, {}, c, {}, (w,),
                            histograms={"publish_latency": h})  # fmt: skip
            for callback in list(self.subscribers):
                callback(snap)


class FakeClock(threading.Event):
    def __init__(self, cluster: FakeCluster) -> None:
        super().__init__()
        self.cluster = cluster

    def wait(self, timeout: float | None = None) -> bool:
        self.cluster.advance(timeout or 0.0)
        return self.is_set()


def test_the_driver_runs_the_whole_search_against_a_fake_cluster() -> None:
    from pulsarload.config import CapacitySettings
    from pulsarload.load.capacity.run import SearchDriver
    from pulsarload.load.capacity.step import parse_slos

    cluster = FakeCluster(capacity=6500)
    settings = CapacitySettings(step_warmup_s=1.0, step_window_s=2.0)
    lines: list[str] = []
    driver = SearchDriver(
        settings,
        parse_slos(["p99_ms<50"], False),
        cluster,
        echo=lines.append,
        stop=FakeClock(cluster),
    )
    report = driver.run()
    o = report.outcome
    assert o.passing is not None and o.failing is not None
    assert o.passing <= 6500 < o.failing and (o.failing - o.passing) / o.passing <= 0.05
    data = report.to_dict()
    # First the unmeasured priming at the start rate, then one rate per step.
    assert cluster.rates == [settings.start_rate] + [s["target"] for s in data["steps"]]
    assert lines[0].startswith(
        f"priming: {settings.start_rate:,.0f} msg/s for {settings.prime_s:g} s"
    )
    assert data["limited_by"] == "broker" and "pending 90%" in data["limited_why"]
    assert data["confidence"]["level"] == "high"
    step_lines = [line for line in lines if " -> " in line]
    assert len(step_lines) == len(data["steps"])
    assert any("FAIL (p99_ms 200" in line and "breaks p99_ms<50" in line for line in step_lines)
    summary = "\n".join(report.lines())
    assert f"capacity {o.capacity:,.0f} msg/s meeting p99_ms<50" in summary
    assert "limited by the broker" in summary and "load average" in summary


def test_no_priming_when_it_is_set_to_zero() -> None:
    from pulsarload.config import CapacitySettings
    from pulsarload.load.capacity.run import SearchDriver
    from pulsarload.load.capacity.step import parse_slos

    cluster = FakeCluster(capacity=3000)
    settings = CapacitySettings(step_warmup_s=1.0, step_window_s=2.0, prime_s=0.0)
    lines: list[str] = []
    driver = SearchDriver(
        settings, parse_slos(["p99_ms<50"], False), cluster, echo=lines.append,
        stop=FakeClock(cluster),
    )  # fmt: skip
    data = driver.run().to_dict()
    assert cluster.rates == [s["target"] for s in data["steps"]]
    assert not any(line.startswith("priming") for line in lines)
