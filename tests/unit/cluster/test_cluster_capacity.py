"""The capacity search driving a cluster controller with scripted shards (no Dask, no broker):
each step's rate is split over the shards by the live-rate fan-out, the step is judged from the
merged histograms (the union's percentiles, never an average of the shards'), and the achieved
rate is each shard's count over the time it measured itself. The real thing runs in
tests/integration/test_capacity_cluster.py."""

from __future__ import annotations

import threading

import pytest
from test_cluster_controller import controller, rates

from pulsarload.cluster.capacity import SHARDED
from pulsarload.config import CapacitySettings, resolve_settings
from pulsarload.load.capacity.run import SearchDriver
from pulsarload.load.capacity.step import parse_slos, shard_rate
from pulsarload.metrics.shards import ShardStats
from pulsarload.metrics.snapshot import Counters, Snapshot


def test_a_step_over_two_shards_splits_the_rate_and_judges_the_merged_histograms() -> None:
    c, shards = controller(2, cluster_poll_s=0.05)
    c._thread = threading.Thread(target=c._collect_loop, daemon=True)
    c._thread.start()
    settings = resolve_settings(
        CapacitySettings,
        {"step_warmup_s": 0.2, "step_window_s": 1.0, "slos": ("p99_ms<50",)},
        environ={},
    )
    driver = SearchDriver(settings, parse_slos(settings.slos, False), c, cores=SHARDED.cores(c))
    try:
        step = driver.measure(60, "ramp", 1)
    finally:
        c._stop.set()
        c._thread.join(5)
    assert [rates(s) for s in shards] == [[30.0], [30.0]]  # the step's rate, half each
    # Scripted shards ack 10 and 20 per 0.5 s poll: 60 msg/s together, however the
    # coordinator's rounds fell.
    assert step.achieved == pytest.approx(60.0)
    assert step.passed, step.failed_because
    # Shard 0 records 10..100 us, shard 1 10..200 us per poll: the union's p99 is shard 1's
    # top (0.2 ms); averaging the shards' p99s would give 0.15 ms.
    assert step.p99_ms == pytest.approx(0.2, rel=0.01)
    assert driver.cores == 1  # one host ("host" in the scripted handles), 1 CPU said


def test_shard_rate_counts_each_shard_over_its_own_time() -> None:
    def snap(rows: list[ShardStats]) -> Snapshot:
        c = Counters()
        return Snapshot(1, 0.0, 0.0, 9.9, c, {}, {}, c, {}, shards=tuple(rows))

    first = snap([ShardStats(0, "a", "h", "running", done=100, measured_s=1.0)])
    late = snap(
        [
            ShardStats(0, "a", "h", "running", done=500, measured_s=3.0),  # 200 msg/s
            ShardStats(1, "b", "h", "running", done=50, measured_s=1.0),  # not in the first
        ]
    )
    assert shard_rate([first, late]) == pytest.approx(200.0)
    assert shard_rate([snap([])]) is None  # one process: no shard rows
