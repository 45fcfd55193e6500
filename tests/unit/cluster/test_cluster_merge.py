"""The merged stream is exact: counts add up and percentiles are those of the union."""

from __future__ import annotations

import json
import random

from pulsarload.cluster.handles import ShardHandle, clock_offset
from pulsarload.cluster.merge import MergedSampler, ShardPart, sum_resources
from pulsarload.cluster.shard import merge_intervals
from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.resources import ResourceStats
from pulsarload.metrics.shards import ShardStats
from pulsarload.metrics.snapshot import Counters, LatencyStats, Snapshot, WorkerStats


def _snapshot(seq: int, values: list[int], failed: int = 0) -> Snapshot:
    h = Histogram()
    for v in values:
        h.record(v)
    counters = Counters(
        sent=len(values), acked=len(values), errors={"timeout": failed} if failed else {}
    )
    w = WorkerStats(
        worker_id="p0",
        role="producer",
        state="running",
        counters=counters,
        rates={},
        publish_latency=LatencyStats.from_histogram(h),
        e2e_latency=LatencyStats(),
        thread_name="producer-0",
    )
    return Snapshot(
        seq=seq,
        time=0.0,
        elapsed=seq * 0.1,
        interval=0.1,
        counters=counters,
        rates={},
        latency={},
        total=counters,
        total_latency={},
        workers=(w,),
        resources=ResourceStats(process_cpu_percent=50.0, rss_bytes=1000),
        histograms={"publish_latency": h},
    )


def _shard_report(rng: random.Random, n_intervals: int, scale: int) -> tuple[dict, list[int]]:
    values_all: list[int] = []
    snaps = []
    for i in range(n_intervals):
        values = [rng.randint(1, scale) for _ in range(rng.randint(0, 300))]
        values_all += values
        snaps.append(_snapshot(i + 1, values, failed=i % 2))
    report = merge_intervals(snaps)
    # what travels: JSON, as Shard.poll sends it
    return json.loads(json.dumps(report)), values_all


def test_merged_count_is_the_sum_and_p99_is_the_union_p99() -> None:
    rng = random.Random(7)
    sampler = MergedSampler()
    union = Histogram()
    parts = []
    total_values = 0
    for shard, scale in enumerate((2_000, 50_000, 900)):  # very different shards
        report, values = _shard_report(rng, 6, scale)
        for v in values:
            union.record(v)
        total_values += len(values)
        parts.append(ShardPart.from_report(shard, report))
        assert report["counters"]["acked"] == len(values)
    snap = sampler.publish(parts, ())
    merged = snap.histograms["publish_latency"]
    assert (
        merged.total_count
        == total_values
        == sum(p.histograms["publish_latency"].total_count for p in parts)
    )
    assert merged == union
    for p in (50.0, 99.0, 99.9):
        assert merged.value_at_percentile(p) == union.value_at_percentile(p)
    assert snap.latency["publish_latency"].p99 == union.value_at_percentile(99.0)
    assert snap.counters.acked == total_values
    assert snap.counters.failed == 3 * 3  # every other of 6 intervals failed one, per shard
    # worker rows keep their shard in the name, and never mix shards
    assert sorted(w.worker_id for w in snap.workers) == ["s0/p0", "s1/p0", "s2/p0"]


def test_totals_accumulate_and_reset() -> None:
    rng = random.Random(3)
    sampler = MergedSampler()
    seen = []
    sampler.subscribe(seen.append)
    r1, v1 = _shard_report(rng, 2, 1000)
    r2, v2 = _shard_report(rng, 2, 1000)
    sampler.publish([ShardPart.from_report(0, r1)], ())
    snap = sampler.publish([ShardPart.from_report(0, r2)], ())
    assert snap.total.acked == len(v1) + len(v2)
    assert snap.total_histograms["publish_latency"].total_count == len(v1) + len(v2)
    assert [s.seq for s in seen] == [1, 2]
    sampler.reset()
    snap = sampler.publish([], ())
    assert snap.total.acked == 0


def test_snapshot_with_shards_round_trips_through_json() -> None:
    row = ShardStats(shard=1, address="tcp://127.0.0.1:1", host="h", state="lost", lost_at_s=2.5)
    snap = MergedSampler().publish([], (row,))
    back = Snapshot.from_dict(json.loads(json.dumps(snap.to_dict())))
    assert back.shards == (row,)


def test_resources_add_up_and_gil_on_anywhere_counts() -> None:
    a = ResourceStats(process_cpu_percent=80.0, rss_bytes=10, free_threaded_build=True)
    b = ResourceStats(process_cpu_percent=30.0, rss_bytes=5, gil_enabled=True)
    s = sum_resources([a, b])
    assert (s.process_cpu_percent, s.rss_bytes, s.gil_enabled) == (110.0, 15, True)
    assert s.free_threaded_build is False


def test_clock_offset_is_measured_halfway_through_the_round_trip() -> None:
    sample = clock_offset(100.0, 103.5, 101.0)
    assert sample.offset_s == 3.0 and sample.rtt_s == 1.0


def test_handle_counts_only_the_current_epoch() -> None:
    h = ShardHandle(0, "tcp://a:1", "a", {})
    report = {"counters": {"acked": 10, "failed": 2}, "seconds": 0.5, "epoch": 1, "threads": 2}
    h.take_report(json.dumps(report).encode(), "producer", 1, 0.5)
    h.take_report(json.dumps({**report, "epoch": 0}).encode(), "producer", 1, 0.5)
    assert (h.done_total, h.errors_total, h.threads, h.rate) == (10, 2, 2, 20.0)
    assert h.stats("producer", 1234).metrics_bytes_per_s > 0


def test_a_shard_late_for_a_round_keeps_its_worker_rows_until_it_is_lost() -> None:
    rng = random.Random(11)
    sampler = MergedSampler()
    r0, _ = _shard_report(rng, 2, 1000)
    r1, _ = _shard_report(rng, 2, 1000)
    both = (ShardStats(0, "a", "h", "running"), ShardStats(1, "b", "h", "running"))
    sampler.publish([ShardPart.from_report(0, r0), ShardPart.from_report(1, r1)], both)
    late = sampler.publish([ShardPart.from_report(0, r0)], both)  # shard 1 had nothing new
    assert sorted(w.worker_id for w in late.workers) == ["s0/p0", "s1/p0"]
    one_lost = (both[0], ShardStats(1, "b", "h", "lost"))
    after = sampler.publish([ShardPart.from_report(0, r0)], one_lost)
    assert [w.worker_id for w in after.workers] == ["s0/p0"]
