"""One capacity step: figures from snapshots, the SLO verdict, client- or broker-bound."""

from __future__ import annotations

import dataclasses

import pytest

from pulsarload.config import CapacitySettings, resolve_settings
from pulsarload.errors import ConfigError
from pulsarload.load.capacity.step import judge, measure_step, parse_slos, slope
from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.snapshot import Counters, LatencyStats, Snapshot, WorkerStats


def snap(
    t: float,
    *,
    acked: int = 0,
    received: int = 0,
    failed: int = 0,
    latency_us: int = 1000,
    kind: str = "publish_latency",
    worker_cpu: float | None = 20.0,
    pending: int = 0,
) -> Snapshot:
    h = Histogram()
    count = acked or received
    if count:
        h.record(latency_us, count)
    c = Counters(
        sent=acked, acked=acked, received=received, errors={"timeout": failed} if failed else {}
    )
    worker = WorkerStats(
        "p0", "producer", "running", c, {}, LatencyStats(), LatencyStats(), worker_cpu, pending
    )
    return Snapshot(
        seq=int(t * 10),
        time=t,
        elapsed=t,
        interval=0.1,
        counters=c,
        rates={},
        latency={},
        total=c,
        total_latency={},
        workers=(worker,),
        histograms={kind: h},
    )


def step_of(producer, consumer=None, target: float = 1000.0):
    return measure_step(
        index=1,
        phase="ramp",
        target=target,
        producer=producer,
        consumer=consumer,
        started_at=0.0,
        measured_from=0.0,
        ended_at=1.0,
        max_pending=1000,
    )


SETTINGS = CapacitySettings()


def test_figures_merge_the_window_histograms_exactly() -> None:
    # 9 intervals at 1 ms and one at 100 ms, 100 messages each (1,000 msg/s over 1 s):
    # p50 is 1 ms and p99.9 is 100 ms, which no average of per-interval percentiles gives.
    snaps = [snap(i / 10, acked=100, latency_us=1000) for i in range(9)]
    snaps.append(snap(0.9, acked=100, latency_us=100_000))
    step = step_of(snaps)
    assert step.achieved == pytest.approx(1000)
    assert step.p50_ms == pytest.approx(1.0, rel=0.01)
    assert step.p999_ms == pytest.approx(100.0, rel=0.01)
    assert step.worker_cpu_max_percent == pytest.approx(20.0)


def test_a_step_under_the_slo_passes() -> None:
    step = judge(
        step_of([snap(i / 10, acked=100) for i in range(10)]),
        parse_slos(["p99_ms<50"], False),
        SETTINGS,
        2,
    )
    assert step.passed and step.bound is None and step.failed_because == ()
    assert step.slo_observed == {"p99_ms<50": pytest.approx(1.0, rel=0.01)}


def test_a_broker_that_lets_sends_pile_up_is_the_limit() -> None:
    snaps = [snap(i / 10, acked=100, latency_us=90_000, pending=900) for i in range(10)]
    step = judge(step_of(snaps), parse_slos(["p99_ms<50"], False), SETTINGS, 2)
    assert not step.passed
    assert step.failed_because[0].startswith("p99_ms 90")
    assert step.bound == "broker"
    assert "pending 90% of max_pending" in step.bound_why


def test_a_saturated_client_thread_with_the_broker_keeping_up_is_the_client() -> None:
    # Asked 2,000, reached 1,000: the producer thread is at 99 % of a core, nothing pending.
    snaps = [snap(i / 10, acked=100, worker_cpu=99.0, pending=3) for i in range(10)]
    step = judge(step_of(snaps, target=2000), parse_slos(["p99_ms<50"], False), SETTINGS, 2)
    assert not step.passed
    assert step.failed_because == ("rate not reached: 1,000 of 2,000 msg/s",)
    assert step.bound == "client"


def test_a_growing_backlog_fails_whatever_the_latency() -> None:
    producer = [snap(i / 10, acked=100, latency_us=500) for i in range(10)]
    consumer = [snap(i / 10, received=60, latency_us=2000, kind="e2e_latency") for i in range(10)]
    slos = parse_slos(["p99_ms<50", "e2e_p99_ms<100"], True)
    step = judge(step_of(producer, consumer), slos, SETTINGS, 2)
    assert step.backlog_slope == pytest.approx(400, rel=0.01)
    assert step.e2e_p99_ms == pytest.approx(2.0, rel=0.01)
    assert not step.passed
    assert step.failed_because == ("backlog grows 400 msg/s",)
    assert step.bound == "consumer"
    keeping_up = [snap(i / 10, received=100, kind="e2e_latency") for i in range(10)]
    assert judge(step_of(producer, keeping_up), slos, SETTINGS, 2).passed
    # A consumer that takes messages in bursts (nothing, then 3 ticks' worth) wobbles, but
    # keeps up: its slope is within its error of zero.
    bursty = [snap(i / 10, received=300 if i % 3 == 2 else 0, kind="e2e_latency") for i in range(9)]
    wobbly = judge(step_of(producer[:9], bursty), slos, SETTINGS, 2)
    assert wobbly.passed, wobbly.failed_because
    assert wobbly.backlog_slope_error and wobbly.backlog_slope_error > 0


def test_errors_count_against_the_error_rate_slo() -> None:
    snaps = [snap(i / 10, acked=99, failed=1) for i in range(10)]
    step = judge(step_of(snaps, target=990), parse_slos(["error_rate<0.001"], False), SETTINGS, 2)
    assert step.errors == 10 and step.error_rate == pytest.approx(0.01)
    assert not step.passed


def test_slope_is_least_squares() -> None:
    assert slope([(0, 0), (1, 10), (2, 20)]) == pytest.approx(10)
    assert slope([(0, 5)]) is None
    assert slope([(1, 5), (1, 6)]) is None


@pytest.mark.parametrize(
    ("slos", "with_consumer", "fragment"),
    [
        (["p99<50"], False, "unknown metric 'p99'"),
        (["p99_ms 50"], False, "not of the form METRIC<OP>NUMBER"),
        (["p99_ms>50"], False, "must be an upper bound"),
        (["e2e_p99_ms<100"], False, "add --with-consumer"),
    ],
)
def test_bad_slos_are_refused_in_one_line(slos, with_consumer, fragment) -> None:
    with pytest.raises(ConfigError, match=fragment) as err:
        parse_slos(slos, with_consumer)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        ({"start_rate": 5000.0, "max_rate": 100.0}, "start_rate=5000 is above max_rate=100"),
        ({"rate": 100.0}, "the search sets the rate"),
        ({"duration_s": 60.0}, "decides its length"),
        ({"warmup_s": 5.0}, "use --step-warmup"),
        ({"scenario": "spike"}, "moves the rate itself"),
        ({"thresholds": ("p99_ms<5",)}, "use --slo"),
        ({"resolution": 0.9}, "resolution=0.9 is out of range"),
        ({"slos": ()}, "no SLO"),
    ],
)
def test_contradictory_capacity_settings_are_refused(flags, fragment) -> None:
    with pytest.raises(ConfigError, match=fragment):
        resolve_settings(CapacitySettings, flags, environ={})


def test_capacity_defaults_come_from_config() -> None:
    s = resolve_settings(CapacitySettings, environ={})
    defaults = {f.name: f.default for f in dataclasses.fields(CapacitySettings)}
    assert s.step_window_s == defaults["step_window_s"] and s.resolution == defaults["resolution"]
