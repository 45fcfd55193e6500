"""Immutable per-interval snapshots, and the sampler thread that makes them.

Every ``interval`` seconds (100 ms by default) the ``Sampler`` swaps each worker's recorder for a
spare, samples resources, harvests the retired recorders once no writer holds them (see
``recorder.py``), merges them, and hands one ``Snapshot`` to every subscriber. Snapshots are
frozen dataclasses of plain data that turn into JSON and back (``to_dict``/``from_dict``), so the
same objects can later travel between machines. Histograms inside a snapshot are never mutated
after it is published: the sampler builds new ones each tick (copy-on-write for the cumulative
ones).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pulsarload.metrics.hdr import STANDARD_PERCENTILES, Histogram, Sparse, percentile_key
from pulsarload.metrics.recorder import (
    COUNTER_FIELDS,
    LATENCY_FIELDS,
    STORED_COUNTERS,
    Recorder,
    RecorderSlot,
    is_quiescent,
)
from pulsarload.metrics.resources import ResourceMonitor, ResourceStats
from pulsarload.metrics.shards import ShardStats

__all__ = [
    "SCHEMA_VERSION",
    "BackgroundSubscriber",
    "Counters",
    "LatencyStats",
    "Sampler",
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
    redelivered: int = 0
    duplicates: int = 0
    gaps: int = 0
    out_of_order: int = 0
    e2e_from_intended: int = 0  # end-to-end latencies measured from the intended send time
    e2e_from_publish: int = 0  # ... and from the publish time (the message carried no stamp)
    errors: dict[str, int] = field(default_factory=dict)  # by category; read-only by contract

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

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


Subscriber = Callable[[Snapshot], None]


class BackgroundSubscriber:
    """Runs a slow subscriber (file export) on its own thread so the sampler never waits.

    Keeps at most ``maxsize`` snapshots queued; when the consumer falls behind the oldest queued
    snapshot is dropped (counted in ``dropped``), never the sampler blocked.
    """

    def __init__(self, callback: Subscriber, name: str = "metrics-export", maxsize: int = 64):
        self._callback = callback
        # Snapshots; an Event is a drain marker (set once everything before it is written).
        self._queue: queue.Queue[Snapshot | threading.Event | None] = queue.Queue(maxsize)
        self.dropped = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def __call__(self, snap: Snapshot) -> None:
        self._put_dropping_oldest(snap)

    def _put_dropping_oldest(self, item: Snapshot | threading.Event) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    old = self._queue.get_nowait()
                except queue.Empty:
                    continue
                if isinstance(old, threading.Event):
                    old.set()  # never leave a drainer waiting on a marker we threw away
                else:
                    self.dropped += 1

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every snapshot queued so far has been handed to the callback (so a file
        it writes is complete up to now). False if that took longer than ``timeout``."""
        if not self._thread.is_alive():
            return True
        done = threading.Event()
        self._put_dropping_oldest(done)
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self._callback(item)
            except Exception:
                self.errors += 1
                log.exception("metrics export subscriber failed")

    def close(self, timeout: float | None = 10.0) -> None:
        """Process what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)


class Sampler:
    """Swaps recorders, merges them and publishes a ``Snapshot`` every ``interval`` seconds.

    Workers never wait for it: the only shared step is rebinding ``slot.active``. Slot
    registration and subscriber lists take a lock, which is never on a per-message path.
    """

    def __init__(
        self,
        interval: float = 0.1,
        *,
        resources: ResourceMonitor | None = None,
        labels: Mapping[str, str] | None = None,
        grace: float = 0.001,
        worker_histograms: bool = True,
    ) -> None:
        self.interval = interval
        self.grace = grace
        self.labels = dict(labels or {})
        self.worker_histograms = worker_histograms
        self._resources = resources if resources is not None else ResourceMonitor()
        self._lock = threading.Lock()
        self._slots: list[RecorderSlot] = []
        self._subscribers: list[Subscriber] = []
        # Retired recorders waiting for their writers to let go, and the slot each came from.
        self._pending: list[Recorder] = []
        self._pending_slots: list[RecorderSlot] = []
        self._pending_ticks: list[int] = []
        self._seq = 0
        self._start_mono = time.monotonic()
        self._last_mono = self._start_mono
        self._total = Counters()
        self._total_hists: dict[str, Histogram] = {k: Histogram() for k in LATENCY_FIELDS}
        self._total_stats: dict[str, LatencyStats] = dict.fromkeys(LATENCY_FIELDS, LatencyStats())
        self._latest: Snapshot | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._tick_lock = threading.Lock()  # tick() from the thread and flush() from a caller
        self.late_harvests = 0  # recorders that were still referenced one grace after the swap

    # -- registration --------------------------------------------------------------------------

    def new_slot(self, worker_id: str, role: str = "") -> RecorderSlot:
        """Create and register a slot (on the controller thread, not the worker's)."""
        slot = RecorderSlot(worker_id, role)
        self.add_slot(slot)
        return slot

    def add_slot(self, slot: RecorderSlot) -> None:
        with self._lock:
            self._slots.append(slot)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(snapshot)`` on the sampler thread after each tick; returns unsubscribe.

        Callbacks must be quick (post to a queue); wrap slow ones in ``BackgroundSubscriber``.
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    @property
    def latest(self) -> Snapshot | None:
        return self._latest

    def slots(self) -> list[RecorderSlot]:
        with self._lock:
            return list(self._slots)

    # -- thread --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._start_mono = self._last_mono = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="metrics-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_tick = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_tick - time.monotonic())):
            try:
                self.tick()
            except Exception:
                log.exception("metrics sampler tick failed")
            next_tick += self.interval
            now = time.monotonic()
            if next_tick < now:  # fell behind (suspended, overloaded): skip, don't burst
                next_tick = now + self.interval

    def stop(self, flush: bool = True) -> Snapshot | None:
        """Stop the thread; with ``flush`` harvest everything left and publish a last snapshot."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        return self.flush() if flush else self._latest

    def flush(self, timeout: float = 1.0) -> Snapshot:
        """One tick that waits (up to ``timeout``) until every retired recorder is harvested."""
        snap = self.tick()
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.001)
            snap = self.tick()
        return snap

    def reset(self) -> None:
        """Restart the cumulative totals (the next snapshot's ``total`` starts from zero)."""
        with self._tick_lock:
            self._total = Counters()
            self._total_hists = {k: Histogram() for k in LATENCY_FIELDS}
            self._total_stats = dict.fromkeys(LATENCY_FIELDS, LatencyStats())
            self._start_mono = time.monotonic()

    # -- the tick ------------------------------------------------------------------------------

    def _swap_all(self) -> tuple[list[RecorderSlot], list[RecorderSlot]]:
        """Swap every slot; return (slots, slots that were closed before their swap)."""
        with self._lock:
            slots = list(self._slots)
        finished = []
        for slot in slots:
            # Read ``closed`` before the swap: a worker closes after its last record, so a slot
            # seen closed here has nothing left to write into the fresh recorder.
            if slot.closed:
                finished.append(slot)
            fresh = slot.spare if slot.spare is not None else Recorder()
            slot.spare = None
            self._pending.append(slot.active)
            slot.active = fresh
            self._pending_slots.append(slot)
            self._pending_ticks.append(self._seq)
        return slots, finished

    def _take_quiescent(self) -> tuple[list[Recorder], list[RecorderSlot]]:
        ready_flags = is_quiescent(self._pending)
        ready: list[Recorder] = []
        ready_slots: list[RecorderSlot] = []
        keep: list[Recorder] = []
        keep_slots: list[RecorderSlot] = []
        keep_ticks: list[int] = []
        for ok, rec, slot, t in zip(
            ready_flags, self._pending, self._pending_slots, self._pending_ticks, strict=True
        ):
            if ok:
                ready.append(rec)
                ready_slots.append(slot)
            else:
                keep.append(rec)
                keep_slots.append(slot)
                keep_ticks.append(t)
                if t == self._seq:
                    self.late_harvests += 1
        self._pending, self._pending_slots, self._pending_ticks = keep, keep_slots, keep_ticks
        return ready, ready_slots

    def tick(self) -> Snapshot:
        """Swap, harvest, merge, publish. Runs on the sampler thread (or a test)."""
        with self._tick_lock:
            snap = self._tick()
        with self._lock:
            subscribers = list(self._subscribers)
        for cb in subscribers:
            try:
                cb(snap)
            except Exception:
                log.exception("metrics subscriber %r failed", cb)
        return snap

    def _tick(self) -> Snapshot:
        self._seq += 1
        t0 = time.monotonic()
        slots, finished = self._swap_all()
        thread_ids = [(s.native_id, s.cpu_clock_id) for s in slots if s.native_id is not None]
        res = self._resources.sample(thread_ids)
        remaining = self.grace - (time.monotonic() - t0)
        if remaining > 0:
            time.sleep(remaining)
        ready, ready_slots = self._take_quiescent()

        now_mono = time.monotonic()
        interval = max(now_mono - self._last_mono, 1e-9)
        self._last_mono = now_mono

        # Per-slot interval recorder (a slot may have more than one when a harvest was late).
        per_slot: dict[int, Recorder] = {}
        for rec, slot in zip(ready, ready_slots, strict=True):
            have = per_slot.get(id(slot))
            if have is None:
                per_slot[id(slot)] = rec
            else:
                have.add(rec)

        # Each harvested histogram is scanned once (its sparse view) and that view serves the
        # worker's counts and percentiles and the merge.
        merged = Recorder()
        workers: list[WorkerStats] = []
        empty_stats = LatencyStats()
        views_of: dict[int, dict[str, Sparse]] = {}
        for slot in slots:
            rec = per_slot.get(id(slot))
            if rec is not None:
                views = views_of[id(rec)] = rec.sparse_views()
                c = Counters.from_recorder(rec, views)
                merged.add(rec, views)
                if self.worker_histograms:
                    pub = LatencyStats.from_histogram(rec.publish_latency, views["publish_latency"])
                    e2e = LatencyStats.from_histogram(rec.e2e_latency, views["e2e_latency"])
                else:
                    pub = e2e = empty_stats
            else:
                c = Counters()
                pub = e2e = empty_stats
            workers.append(
                WorkerStats(
                    worker_id=slot.worker_id,
                    role=slot.role,
                    state=slot.state,
                    counters=c,
                    rates=c.rates(interval),
                    publish_latency=pub,
                    e2e_latency=e2e,
                    cpu_percent=res.thread_cpu_percent.get(str(slot.native_id)),
                    pending_sends=slot.pending_sends,
                    receiver_queue=slot.receiver_queue,
                    last_error=slot.last_error,
                    thread_name=slot.thread_name,
                    native_id=slot.native_id,
                )
            )
        # Recorders of slots that are no longer registered still count toward the totals.
        listed = {id(s) for s in slots}
        for sid, rec in per_slot.items():
            if sid not in listed:
                merged.add(rec)

        mviews = {k: getattr(merged, k).sparse() for k in LATENCY_FIELDS}
        counters = Counters.from_recorder(merged, mviews)
        hists = {k: getattr(merged, k) for k in LATENCY_FIELDS}
        latency = {k: LatencyStats.from_histogram(hists[k], mviews[k]) for k in LATENCY_FIELDS}

        # Copy-on-write totals: histograms referenced by earlier snapshots stay untouched.
        self._total = self._total + counters
        total_hists = {}
        total_latency = {}
        for k in LATENCY_FIELDS:
            if mviews[k].total:
                t = self._total_hists[k].copy()
                t.add(hists[k], mviews[k])
                total_hists[k] = t
                self._total_stats[k] = LatencyStats.from_histogram(t)
            else:
                total_hists[k] = self._total_hists[k]
            total_latency[k] = self._total_stats[k]
        self._total_hists = total_hists

        # Recycle harvested recorders as spares; drop closed slots that have nothing pending.
        for rec, slot in zip(ready, ready_slots, strict=True):
            if slot.spare is None and not slot.closed:
                rec.reset(views_of.get(id(rec)))
                slot.spare = rec
        closed = [s for s in finished if s not in self._pending_slots]
        if closed:
            with self._lock:
                self._slots = [s for s in self._slots if s not in closed]

        wall = time.time()
        snap = Snapshot(
            seq=self._seq,
            time=wall,
            elapsed=now_mono - self._start_mono,
            interval=interval,
            counters=counters,
            rates=counters.rates(interval),
            latency=latency,
            total=self._total,
            total_latency=total_latency,
            workers=tuple(workers),
            resources=res,
            histograms=hists,
            total_histograms=dict(total_hists),
            labels=dict(self.labels),
        )
        self._latest = snap
        return snap
