"""The sampler thread that makes the snapshots, and the thread that feeds slow subscribers.

Every ``interval`` seconds (100 ms by default) the ``Sampler`` swaps each worker's recorder for a
spare, samples resources, harvests the retired recorders once no writer holds them (see
``recorder.py``), merges them, and hands one ``Snapshot`` (``snapshot.py``) to every subscriber.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping

from pulsarload.metrics.hdr import Sparse
from pulsarload.metrics.recorder import (
    LATENCY_FIELDS,
    Recorder,
    RecorderSlot,
    is_quiescent,
)
from pulsarload.metrics.resources import ResourceMonitor
from pulsarload.metrics.snapshot import (
    Counters,
    LatencyStats,
    Snapshot,
    WorkerStats,
)
from pulsarload.metrics.subscribers import Subscriber, Subscribers
from pulsarload.metrics.totals import RunTotals

__all__ = ["BackgroundSubscriber", "Sampler", "Subscriber"]

log = logging.getLogger(__name__)


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
        self._subscribers = Subscribers("metrics")
        # Retired recorders waiting for their writers to let go, and the slot each came from.
        self._pending: list[Recorder] = []
        self._pending_slots: list[RecorderSlot] = []
        self._pending_ticks: list[int] = []
        self._seq = 0
        self._start_mono = time.monotonic()
        self._last_mono = self._start_mono
        self._totals = RunTotals()
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
        return self._subscribers.add(callback)

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
            self._totals.reset()
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
        self._subscribers.publish(snap)
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

        totals = self._totals
        totals.add(counters, hists, mviews)

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
            total=totals.counters,
            total_latency=dict(totals.latency),
            workers=tuple(workers),
            resources=res,
            histograms=hists,
            total_histograms=dict(totals.histograms),
            labels=dict(self.labels),
        )
        self._latest = snap
        return snap
