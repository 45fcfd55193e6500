"""Per-thread recorders and the slot that lets the sampler swap them without a lock.

Each worker thread owns a ``RecorderSlot``. It records into ``slot.active`` (a ``Recorder``) with
plain attribute and list updates: nothing on the per-message path is shared with another thread,
so nothing needs a lock.

Every tick the sampler rebinds ``slot.active`` to a fresh recorder and harvests the old one.
Why this is safe on free-threaded CPython, and why no count is ever lost:

* Rebinding an attribute is atomic: a writer that reads ``slot.active`` gets either the old or the
  new recorder, never a torn value. Each recorder has one writer thread, so its ``+=`` updates
  are never contended; the sampler only reads a recorder after the writer is done with it.
* "Done with it" is decided by the recorder's reference count, not by time. A writer that loaded
  the old recorder just before the swap holds a strong reference to it (on the evaluation stack,
  then as ``self`` of the recording method) until its update has finished. The sampler keeps a
  retired recorder in a pending list and harvests it only when that list is its sole referrer
  (``sys.getrefcount`` equals a baseline measured the same way on a private object). A writer
  that is descheduled mid-update merely delays the harvest to a later tick; its counts then land
  in that later interval, they are not dropped.
* Recorders are created by the sampler (or the controller thread), never by a worker, so the
  worker's reference-count updates go to the object's shared, atomically updated count: its
  writes to the recorder are published before its final decrement is.

Contract for the load layer: always write through ``slot.active`` (do not keep a recorder in an
attribute of your own), and call ``slot.close()`` only after the worker's last record.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Final

from pulsarload.metrics.hdr import Histogram

__all__ = [
    "COUNTER_FIELDS",
    "HISTOGRAM_FIELDS",
    "LATENCY_FIELDS",
    "Recorder",
    "RecorderSlot",
    "is_quiescent",
]

COUNTER_FIELDS: Final = (
    "sent",
    "acked",
    "bytes_sent",
    "batches",
    "received",
    "bytes_received",
    "consumer_acked",
    "nacked",
    "redelivered",
    "duplicates",
    "gaps",
    "out_of_order",
)
# Latency histograms, all in microseconds.
LATENCY_FIELDS: Final = ("publish_latency", "send_delay", "e2e_latency", "processing_latency")
HISTOGRAM_FIELDS: Final = (*LATENCY_FIELDS, "batch_size")

BATCH_SIZE_HIGHEST: Final = 1_000_000


def _new_batch_histogram() -> Histogram:
    # Batch sizes are small integers; two digits keep the layout to a couple of thousand slots.
    return Histogram(1, BATCH_SIZE_HIGHEST, 2)


class Recorder:
    """Counts and histograms for one interval of one worker; written by that worker only."""

    __slots__ = (*COUNTER_FIELDS, *HISTOGRAM_FIELDS, "failed", "__weakref__")

    def __init__(self) -> None:
        self.sent = 0
        self.acked = 0
        self.bytes_sent = 0
        self.batches = 0
        self.received = 0
        self.bytes_received = 0
        self.consumer_acked = 0
        self.nacked = 0
        self.redelivered = 0
        self.duplicates = 0
        self.gaps = 0
        self.out_of_order = 0
        self.failed: dict[str, int] = {}
        self.publish_latency = Histogram()
        self.send_delay = Histogram()
        self.e2e_latency = Histogram()
        self.processing_latency = Histogram()
        self.batch_size = _new_batch_histogram()

    # -- producer side -------------------------------------------------------------------------

    def record_send_batch(self, n_msgs: int, n_bytes: int) -> None:
        """A batch (or single message, n_msgs=1) handed to the connection."""
        self.sent += n_msgs
        self.bytes_sent += n_bytes
        self.batches += 1
        self.batch_size.record(n_msgs)

    def record_send_delay(self, delay_us: int, count: int = 1) -> None:
        """How far behind its intended start a send was (coordinated-omission evidence)."""
        self.send_delay.record(delay_us, count)

    def record_ack(self, latency_us: int) -> None:
        """One message acknowledged; latency measured from its intended send time."""
        self.acked += 1
        self.publish_latency.record(latency_us)

    def record_ack_batch(self, n_msgs: int, latency_us: int) -> None:
        """``n_msgs`` messages acknowledged with the same latency (one receipt for a batch)."""
        self.acked += n_msgs
        self.publish_latency.record(latency_us, n_msgs)

    def record_failure(self, category: str, n_msgs: int = 1) -> None:
        """Messages that failed, by error category (timeout, disconnected, broker code ...)."""
        failed = self.failed
        failed[category] = failed.get(category, 0) + n_msgs

    # -- consumer side -------------------------------------------------------------------------

    def record_receive(self, n_bytes: int, e2e_us: int) -> None:
        """One message received; end-to-end latency from the producer's intended send time."""
        self.received += 1
        self.bytes_received += n_bytes
        self.e2e_latency.record(e2e_us)

    def record_receive_batch(self, n_msgs: int, n_bytes: int) -> None:
        """Messages received whose latency is recorded separately (or not known)."""
        self.received += n_msgs
        self.bytes_received += n_bytes

    def record_e2e(self, e2e_us: int, count: int = 1) -> None:
        self.e2e_latency.record(e2e_us, count)

    def record_consumer_ack(self, processing_us: int, n_msgs: int = 1) -> None:
        """Acks sent by the consumer; processing latency is receive-to-ack."""
        self.consumer_acked += n_msgs
        self.processing_latency.record(processing_us, n_msgs)

    def record_nack(self, n_msgs: int = 1) -> None:
        self.nacked += n_msgs

    def record_redelivered(self, n_msgs: int = 1) -> None:
        self.redelivered += n_msgs

    def record_duplicate(self, n_msgs: int = 1) -> None:
        self.duplicates += n_msgs

    def record_gap(self, n_missing: int = 1) -> None:
        self.gaps += n_missing

    def record_out_of_order(self, n_msgs: int = 1) -> None:
        self.out_of_order += n_msgs

    # -- sampler side --------------------------------------------------------------------------

    def add(self, other: Recorder) -> Recorder:
        """Fold ``other`` into this recorder (sampler thread, after ``other`` is quiescent)."""
        for name in COUNTER_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        failed = self.failed
        for cat, n in other.failed.items():
            failed[cat] = failed.get(cat, 0) + n
        for name in HISTOGRAM_FIELDS:
            getattr(self, name).add(getattr(other, name))
        return self

    def reset(self) -> None:
        """Zero everything so the object can be reused as the next spare."""
        for name in COUNTER_FIELDS:
            setattr(self, name, 0)
        self.failed = {}
        for name in HISTOGRAM_FIELDS:
            getattr(self, name).reset()

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def is_empty(self) -> bool:
        """True when nothing was recorded (cheap: counters first, then histograms)."""
        if self.failed or any(getattr(self, n) for n in COUNTER_FIELDS):
            return False
        return not any(getattr(self, n) for n in HISTOGRAM_FIELDS)


def _refcounts(objs: list[object]) -> list[int]:
    return [sys.getrefcount(o) for o in objs]


# Reference count of an object referenced only by the list handed to _refcounts.
_QUIESCENT_REFS: Final = _refcounts([object()])[0]


def is_quiescent(holder: list[object]) -> list[bool]:
    """For each object in ``holder``: is that list its only referrer (so no writer holds it)?

    The caller must hold no other reference to the objects (no loop variables left over).
    """
    return [n <= _QUIESCENT_REFS for n in _refcounts(holder)]


class RecorderSlot:
    """A worker's place in the sampler: the active recorder, gauges, and its thread's identity.

    The worker writes ``slot.active.record_...()``; the sampler rebinds ``active``. Gauges
    (``state``, ``pending_sends``, ``receiver_queue``, ``last_error``) are plain attributes the
    worker overwrites; the sampler reads whatever value is current.
    """

    __slots__ = (
        "worker_id",
        "role",
        "active",
        "spare",
        "state",
        "last_error",
        "pending_sends",
        "receiver_queue",
        "thread_name",
        "native_id",
        "cpu_clock_id",
        "created",
        "closed",
        "__weakref__",
    )

    def __init__(self, worker_id: str, role: str = "") -> None:
        self.worker_id = worker_id
        self.role = role
        self.active = Recorder()
        self.spare: Recorder | None = None  # sampler-owned, reset, ready for the next swap
        self.state = "starting"
        self.last_error: str | None = None
        self.pending_sends = 0
        self.receiver_queue = 0
        self.thread_name: str | None = None
        self.native_id: int | None = None
        self.cpu_clock_id: int | None = None
        self.created = time.monotonic()
        self.closed = False

    def bind_current_thread(self) -> None:
        """Called once by the worker thread so the sampler can read that thread's CPU time.

        The CPU clock id is taken here, while the thread is certainly alive: asking for a
        finished thread's clock later would touch freed pthread memory.
        """
        t = threading.current_thread()
        self.thread_name = t.name
        self.native_id = threading.get_native_id()
        getclock = getattr(time, "pthread_getcpuclockid", None)
        if getclock is not None:
            try:
                self.cpu_clock_id = getclock(threading.get_ident())
            except OSError:
                self.cpu_clock_id = None

    def close(self) -> None:
        """The worker has made its last record; the sampler harvests what is left and drops us."""
        self.state = "stopped"
        self.closed = True

    def __repr__(self) -> str:
        return f"RecorderSlot({self.worker_id!r}, state={self.state!r})"
