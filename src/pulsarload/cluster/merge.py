"""The coordinator's merged snapshot stream: the shards' reports in, one `Snapshot` out.

Each collection round hands `MergedSampler.publish` what every shard measured since the last
round (counters, and interval histograms in HdrHistogram's compressed form). Counters are
summed and histograms added bucket by bucket, so the merged count is the sum of the shards'
counts and every merged percentile is the percentile of the union: nothing is averaged.
Subscribers (the dashboards, the headless status lines, the exports) get the same immutable
`Snapshot` a one-process run gives them, plus a `ShardStats` row per shard.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.recorder import LATENCY_FIELDS
from pulsarload.metrics.resources import ResourceStats
from pulsarload.metrics.shards import ShardStats
from pulsarload.metrics.snapshot import Counters, LatencyStats, Snapshot, WorkerStats
from pulsarload.metrics.subscribers import Subscriber, Subscribers
from pulsarload.metrics.totals import RunTotals


@dataclass(slots=True)
class ShardPart:
    """One shard's contribution to one round (decoded from its report)."""

    shard: int
    counters: Counters = field(default_factory=Counters)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    workers: tuple[WorkerStats, ...] = ()
    resources: ResourceStats | None = None

    @classmethod
    def from_report(cls, shard: int, report: Mapping[str, Any]) -> ShardPart:
        return cls(
            shard=shard,
            counters=Counters.from_dict(report.get("counters", {})),
            histograms={
                str(k): Histogram.decode(v) for k, v in report.get("histograms", {}).items()
            },
            workers=tuple(
                _shard_worker(shard, WorkerStats.from_dict(w)) for w in report.get("workers", ())
            ),
            resources=ResourceStats.from_dict(report["resources"])
            if report.get("resources")
            else None,
        )


def _shard_worker(shard: int, w: WorkerStats) -> WorkerStats:
    """A worker row named after its shard (s1/p0), so rows of different shards stay apart."""
    return dataclasses.replace(
        w,
        worker_id=f"s{shard}/{w.worker_id}",
        thread_name=f"s{shard}:{w.thread_name or w.worker_id}",
        native_id=None,  # a thread id means nothing outside its own process
    )


def merge_histograms(parts: Iterable[Mapping[str, Histogram]]) -> dict[str, Histogram]:
    """Every latency kind, added over the parts (empty kinds get an empty histogram)."""
    out = {k: Histogram() for k in LATENCY_FIELDS}
    for hists in parts:
        for kind, h in hists.items():
            if kind in out and h.total_count:
                out[kind].add(h)
    return out


def sum_resources(parts: Iterable[ResourceStats]) -> ResourceStats:
    """The shards' processes together: CPU, memory, threads and bytes add up; the GIL counts
    as on when it is on in any shard."""
    items = list(parts)
    if not items:
        return ResourceStats()
    return ResourceStats(
        process_cpu_percent=sum(r.process_cpu_percent for r in items),
        process_cpu_seconds=sum(r.process_cpu_seconds for r in items),
        rss_bytes=sum(r.rss_bytes for r in items),
        threads=sum(r.threads for r in items),
        python_threads=sum(r.python_threads for r in items),
        net_bytes_in=sum(r.net_bytes_in for r in items),
        net_bytes_out=sum(r.net_bytes_out for r in items),
        net_in_per_s=sum(r.net_in_per_s for r in items),
        net_out_per_s=sum(r.net_out_per_s for r in items),
        connections=sum(r.connections for r in items),
        gil_enabled=any(r.gil_enabled for r in items),
        free_threaded_build=all(r.free_threaded_build for r in items),
    )


class MergedSampler:
    """Looks like the load layer's `Sampler` to everything that reads one (`latest`,
    `subscribe`, `reset`), but its snapshots are merges of the shards' reports."""

    def __init__(self, labels: Mapping[str, str] | None = None) -> None:
        self.labels = dict(labels or {})
        self._lock = threading.Lock()
        self._subscribers = Subscribers("merged snapshot")
        self._seq = 0
        self._start_mono = time.monotonic()
        self._last_mono = self._start_mono
        self._totals = RunTotals()
        self._latest: Snapshot | None = None
        self._last_resources: dict[int, ResourceStats] = {}
        # A shard whose report came late this round keeps its last rows in the worker table
        # (an empty table for a beat would read as "no threads").
        self._last_workers: dict[int, tuple[WorkerStats, ...]] = {}

    @property
    def latest(self) -> Snapshot | None:
        return self._latest

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        return self._subscribers.add(callback)

    def start(self) -> None:
        """The run's clock starts now (elapsed counts from here)."""
        with self._lock:
            self._start_mono = self._last_mono = time.monotonic()

    def reset(self) -> None:
        """Restart the totals (the next snapshot's `total` starts from zero)."""
        with self._lock:
            self._totals.reset()
            self._start_mono = time.monotonic()

    def publish(self, parts: list[ShardPart], shards: tuple[ShardStats, ...]) -> Snapshot:
        """Merge one round and hand the snapshot to every subscriber."""
        with self._lock:
            snap = self._merge(parts, shards)
        self._subscribers.publish(snap)
        return snap

    def _merge(self, parts: list[ShardPart], shards: tuple[ShardStats, ...]) -> Snapshot:
        self._seq += 1
        now = time.monotonic()
        interval = max(now - self._last_mono, 1e-9)
        self._last_mono = now
        counters = Counters()
        for p in parts:
            counters = counters + p.counters
            if p.resources is not None:
                self._last_resources[p.shard] = p.resources
            if p.workers:
                self._last_workers[p.shard] = p.workers
        live = {s.shard for s in shards if s.state != "lost"}
        for gone in set(self._last_resources) - live:
            del self._last_resources[gone]
        for lost in {s.shard for s in shards if s.state == "lost"}:
            self._last_workers.pop(lost, None)
        hists = merge_histograms(p.histograms for p in parts)
        latency = {k: LatencyStats.from_histogram(h) for k, h in hists.items()}
        totals = self._totals
        totals.add(counters, hists)
        workers = tuple(
            w for shard in sorted(self._last_workers) for w in self._last_workers[shard]
        )
        snap = Snapshot(
            seq=self._seq,
            time=time.time(),
            elapsed=now - self._start_mono,
            interval=interval,
            counters=counters,
            rates=counters.rates(interval),
            latency=latency,
            total=totals.counters,
            total_latency=dict(totals.latency),
            workers=workers,
            resources=sum_resources(self._last_resources.values()),
            histograms=hists,
            total_histograms=dict(totals.histograms),
            labels=dict(self.labels),
            shards=shards,
        )
        self._latest = snap
        return snap
