"""Immutable per-interval snapshots: what the sampler (``sampler.py``) publishes each tick.

Snapshots are frozen dataclasses of plain data that turn into JSON and back
(``to_dict``/``from_dict``), so the same objects can travel between machines. Histograms inside
a snapshot are never mutated after it is published: the sampler builds new ones each tick
(copy-on-write for the cumulative ones).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pulsarload.metrics.hdr import STANDARD_PERCENTILES, Histogram, Sparse, percentile_key
from pulsarload.metrics.recorder import (
    COUNTER_FIELDS,
    REDELIVERY_FIELDS,
    REDELIVERY_REASONS,
    STORED_COUNTERS,
    Recorder,
)
from pulsarload.metrics.resources import ResourceStats
from pulsarload.metrics.shards import ShardStats

__all__ = [
    "SCHEMA_VERSION",
    "Counters",
    "LatencyStats",
    "Snapshot",
    "WorkerStats",
]

SCHEMA_VERSION: Final = 1
RATE_FIELDS: Final = (
    "sent",
    "acked",
    "failed",
    "bytes_sent",
    "received",
    "bytes_received",
    "consumer_acked",
)
PERCENTILE_KEYS: Final = tuple(percentile_key(p) for p in STANDARD_PERCENTILES)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Counters:
    """Message counts over some span (an interval, or since start)."""

    sent: int = 0
    acked: int = 0
    bytes_sent: int = 0
    batches: int = 0
    received: int = 0
    bytes_received: int = 0
    consumer_acked: int = 0
    nacked: int = 0
    redelivered: int = 0  # received with a redelivery count above 0
    redelivered_negative_ack: int = 0  # by reason, as the consumer's client counts them
    redelivered_ack_timeout: int = 0
    redelivered_reconnect: int = 0
    redelivered_seek: int = 0
    redelivered_requested: int = 0
    duplicates: int = 0
    gaps: int = 0
    out_of_order: int = 0
    e2e_from_intended: int = 0  # end-to-end latencies measured from the intended send time
    e2e_from_publish: int = 0  # ... and from the publish time (the message carried no stamp)
    errors: dict[str, int] = field(default_factory=dict)  # by category; read-only by contract

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def redeliveries_by_reason(self) -> dict[str, int]:
        """Messages redelivered per reason (`REDELIVERY_REASONS` order), as the consumer's
        client counted them (all 0 where the engine does not say why)."""
        return {
            r: getattr(self, f) for r, f in zip(REDELIVERY_REASONS, REDELIVERY_FIELDS, strict=True)
        }

    @classmethod
    def from_recorder(cls, r: Recorder, views: Mapping[str, Sparse] | None = None) -> Counters:
        """Counts of a harvested recorder (``views``: its sparse views, to skip re-scanning)."""
        fields = {n: getattr(r, n) for n in STORED_COUNTERS}
        if views is not None:
            fields["acked"] = views["publish_latency"].total
            fields["consumer_acked"] = views["processing_latency"].total
        else:
            fields["acked"] = r.acked
            fields["consumer_acked"] = r.consumer_acked
        return cls(**fields, errors=dict(r.failed))

    def __add__(self, other: Counters) -> Counters:
        errors = dict(self.errors)
        for k, v in other.errors.items():
            errors[k] = errors.get(k, 0) + v
        return Counters(
            **{n: getattr(self, n) + getattr(other, n) for n in COUNTER_FIELDS}, errors=errors
        )

    def rates(self, seconds: float) -> dict[str, float]:
        """Per-second rates of the main counters (``failed`` included)."""
        if seconds <= 0:
            return dict.fromkeys(RATE_FIELDS, 0.0)
        return {n: getattr(self, n) / seconds for n in RATE_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {n: getattr(self, n) for n in COUNTER_FIELDS}
        d["failed"] = self.failed
        d["errors"] = dict(self.errors)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Counters:
        return cls(
            **{n: int(d.get(n, 0)) for n in COUNTER_FIELDS},
            errors={str(k): int(v) for k, v in d.get("errors", {}).items()},
        )


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Summary of one latency histogram, in microseconds."""

    count: int = 0
    min: int = 0
    max: int = 0
    mean: float = 0.0
    stddev: float = 0.0
    p50: int = 0
    p75: int = 0
    p90: int = 0
    p95: int = 0
    p99: int = 0
    p99_9: int = 0
    p99_99: int = 0

    @classmethod
    def from_histogram(cls, h: Histogram, sparse: Sparse | None = None) -> LatencyStats:
        sp = h.sparse() if sparse is None else sparse
        if not sp.total:
            return cls()
        s = h.summary(sparse=sp)
        return cls(
            count=int(s["count"]),
            min=int(s["min"]),
            max=int(s["max"]),
            mean=float(s["mean"]),
            stddev=float(s["stddev"]),
            **{k: int(s[k]) for k in PERCENTILE_KEYS},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "stddev": self.stddev,
            **{k: getattr(self, k) for k in PERCENTILE_KEYS},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LatencyStats:
        return cls(
            count=int(d["count"]),
            min=int(d["min"]),
            max=int(d["max"]),
            mean=float(d["mean"]),
            stddev=float(d["stddev"]),
            **{k: int(d[k]) for k in PERCENTILE_KEYS},
        )


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """One worker over one interval."""

    worker_id: str
    role: str
    state: str
    counters: Counters
    rates: dict[str, float]
    publish_latency: LatencyStats
    e2e_latency: LatencyStats
    cpu_percent: float | None = None
    pending_sends: int = 0
    receiver_queue: int = 0
    last_error: str | None = None
    thread_name: str | None = None
    native_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "role": self.role,
            "state": self.state,
            "counters": self.counters.to_dict(),
            "rates": dict(self.rates),
            "publish_latency": self.publish_latency.to_dict(),
            "e2e_latency": self.e2e_latency.to_dict(),
            "cpu_percent": self.cpu_percent,
            "pending_sends": self.pending_sends,
            "receiver_queue": self.receiver_queue,
            "last_error": self.last_error,
            "thread_name": self.thread_name,
            "native_id": self.native_id,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WorkerStats:
        cpu = d.get("cpu_percent")
        return cls(
            worker_id=str(d["worker_id"]),
            role=str(d.get("role", "")),
            state=str(d["state"]),
            counters=Counters.from_dict(d["counters"]),
            rates={str(k): float(v) for k, v in d["rates"].items()},
            publish_latency=LatencyStats.from_dict(d["publish_latency"]),
            e2e_latency=LatencyStats.from_dict(d["e2e_latency"]),
            cpu_percent=None if cpu is None else float(cpu),
            pending_sends=int(d.get("pending_sends", 0)),
            receiver_queue=int(d.get("receiver_queue", 0)),
            last_error=d.get("last_error"),
            thread_name=d.get("thread_name"),
            native_id=d.get("native_id"),
        )


def _hists_to_dict(hists: Mapping[str, Histogram]) -> dict[str, str]:
    return {k: h.encode_base64() for k, h in hists.items()}


def _hists_from_dict(d: Mapping[str, str]) -> dict[str, Histogram]:
    return {str(k): Histogram.decode(v) for k, v in d.items()}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything measured in one interval, plus running totals since start (or reset).

    Times: ``time`` is wall-clock seconds since the epoch at the end of the interval; ``elapsed``
    is seconds since start/reset; ``interval`` is the span this snapshot's counts cover.
    Latency histograms are in microseconds and must not be mutated.
    """

    seq: int
    time: float
    elapsed: float
    interval: float
    counters: Counters
    rates: dict[str, float]
    latency: dict[str, LatencyStats]
    total: Counters
    total_latency: dict[str, LatencyStats]
    workers: tuple[WorkerStats, ...] = ()
    resources: ResourceStats = field(default_factory=ResourceStats)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    total_histograms: dict[str, Histogram] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    #: A run spread over many processes (cluster/): one row per shard; empty otherwise.
    shards: tuple[ShardStats, ...] = ()

    @property
    def total_rates(self) -> dict[str, float]:
        """Average rates since start/reset."""
        return self.total.rates(self.elapsed)

    def to_dict(self, histograms: bool = True) -> dict[str, Any]:
        """JSON-ready dict (see docs/metrics-schema.md); histograms as base64 V2 compressed."""
        d: dict[str, Any] = {
            "schema": "pulsarload.snapshot",
            "schema_version": self.schema_version,
            "seq": self.seq,
            "time": self.time,
            "elapsed": self.elapsed,
            "interval": self.interval,
            "labels": dict(self.labels),
            "counters": self.counters.to_dict(),
            "rates": dict(self.rates),
            "latency": {k: v.to_dict() for k, v in self.latency.items()},
            "total": self.total.to_dict(),
            "total_latency": {k: v.to_dict() for k, v in self.total_latency.items()},
            "workers": [w.to_dict() for w in self.workers],
            "resources": self.resources.to_dict(),
        }
        if self.shards:
            d["shards"] = [s.to_dict() for s in self.shards]
        if histograms:
            d["histograms"] = _hists_to_dict(self.histograms)
            d["total_histograms"] = _hists_to_dict(self.total_histograms)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Snapshot:
        version = int(d.get("schema_version", 0))
        if version > SCHEMA_VERSION or version < 1:
            raise ValueError(
                f"snapshot schema_version {version} is not supported (this build reads 1.."
                f"{SCHEMA_VERSION})"
            )
        return cls(
            seq=int(d["seq"]),
            time=float(d["time"]),
            elapsed=float(d["elapsed"]),
            interval=float(d["interval"]),
            counters=Counters.from_dict(d["counters"]),
            rates={str(k): float(v) for k, v in d["rates"].items()},
            latency={str(k): LatencyStats.from_dict(v) for k, v in d["latency"].items()},
            total=Counters.from_dict(d["total"]),
            total_latency={
                str(k): LatencyStats.from_dict(v) for k, v in d["total_latency"].items()
            },
            workers=tuple(WorkerStats.from_dict(w) for w in d.get("workers", ())),
            resources=ResourceStats.from_dict(d["resources"])
            if d.get("resources")
            else ResourceStats(),
            histograms=_hists_from_dict(d.get("histograms", {})),
            total_histograms=_hists_from_dict(d.get("total_histograms", {})),
            labels={str(k): str(v) for k, v in d.get("labels", {}).items()},
            schema_version=version,
            shards=tuple(ShardStats.from_dict(s) for s in d.get("shards", ())),
        )
