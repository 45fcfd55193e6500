"""Per-thread recorders and the slot that lets the sampler swap them without a lock.

Each worker thread owns a ``RecorderSlot``. It records into ``slot.active`` (a ``Recorder``) with
plain attribute and list updates: nothing on the per-message path is shared with another thread,
so nothing needs a lock.

Every tick the sampler rebinds ``slot.active`` to a fresh recorder and harvests the old one.
Why this is safe on free-threaded CPython, and why no count is ever lost:

* Rebinding an attribute is atomic: a writer that reads ``slot.active`` gets either the old or the
  new recorder, never a torn value. Each recorder has one writer thread, so its ``+=`` updates
  are never contended; the sampler only reads a recorder after the writer is done with it.
* "Done with it" is decided by reference counts, not by time. A writer that loaded the old
  recorder just before the swap holds a strong reference to it (on the evaluation stack, then as
  ``self`` of a recording method) or, for the per-message entry points that are histogram
  closures (``record_ack`` ...), to that closure, which it obtains before it lets go of the
  recorder and keeps until its update has finished. The sampler keeps a retired recorder in a
  pending list and harvests it only when that list is its sole referrer and its closures are
  referenced only by itself (``sys.getrefcount`` equal to a baseline measured the same way on a
  private recorder). A writer descheduled mid-update merely delays the harvest to a later tick;
  its counts land in that later interval, they are not dropped.
* Recorders are created by the sampler (or the controller thread), never by a worker, so the
  worker's reference-count updates go to the object's shared, atomically updated count: its
  writes to the recorder are published before its final decrement is.

Contract for the load layer: always write through ``slot.active`` (do not keep a recorder, or
one of its ``record_*`` callables, in a variable that outlives one call), and call
``slot.close()`` only after the worker's last record.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import Final

from pulsarload.client.redeliveries import REASONS as REDELIVERY_REASONS
from pulsarload.metrics.hdr import Histogram, Sparse

__all__ = [
    "COUNTER_FIELDS",
    "REDELIVERY_FIELDS",
    "REDELIVERY_REASONS",
    "STORED_COUNTERS",
    "HISTOGRAM_FIELDS",
    "LATENCY_FIELDS",
    "Recorder",
    "RecorderSlot",
    "WRITER_ENTRY_POINTS",
    "is_quiescent",
]

#: Messages redelivered per reason, as the consumer's client counts them (`client.redeliveries`):
#: `redelivered_negative_ack`, `redelivered_ack_timeout`, ... (one counter per reason).
REDELIVERY_FIELDS: Final = tuple(f"redelivered_{r}" for r in REDELIVERY_REASONS)
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
    *REDELIVERY_FIELDS,
    "duplicates",
    "gaps",
    "out_of_order",
    "e2e_from_intended",
    "e2e_from_publish",
)
# Latency histograms, all in microseconds. `publish_latency` runs from the intended send time
# (no coordinated omission), `publish_latency_from_send` from the actual one (what clients
# that measure from their send call, such as pulsar-perf, report).
LATENCY_FIELDS: Final = (
    "publish_latency",
    "send_delay",
    "e2e_latency",
    "processing_latency",
    "publish_latency_from_send",
)
HISTOGRAM_FIELDS: Final = (*LATENCY_FIELDS, "batch_size")

BATCH_SIZE_HIGHEST: Final = 1_000_000
# Counters kept as plain attributes; ``acked`` and ``consumer_acked`` are derived from the
# latency histograms (every ack records exactly one latency), which saves an attribute update
# per message on the hot path.
STORED_COUNTERS: Final = tuple(f for f in COUNTER_FIELDS if f not in ("acked", "consumer_acked"))


def _new_batch_histogram() -> Histogram:
    # Batch sizes are small integers; two digits keep the layout to a couple of thousand slots.
    return Histogram(1, BATCH_SIZE_HIGHEST, 2)


class Recorder:
    """Counts and histograms for one interval of one worker; written by that worker only.

    The per-message calls are the histograms' own record closures, bound as attributes, so they
    cost one call and no method frame:

    * ``record_ack(latency_us, count=1)``: messages acknowledged by the broker, latency from
      their intended send time;
    * ``record_ack_from_send(latency_us, count=1)``: the same acks, latency from the time the
      worker actually took the message to send;
    * ``record_send_delay(delay_us, count=1)``: how far behind schedule a send started;
    * ``record_e2e(e2e_us, count=1)``: end-to-end latency of received messages (use with
      ``record_receive_batch`` when receiving in batches), from the producer's intended send
      time where the message carries it, else from its publish time: count which with
      ``count_e2e_origin``;
    * ``record_consumer_ack(processing_us, count=1)``: consumer acks, receive-to-ack time.
    """

    __slots__ = (
        *STORED_COUNTERS,
        *HISTOGRAM_FIELDS,
        "failed",
        "record_ack",
        "record_ack_from_send",
        "record_send_delay",
        "record_e2e",
        "record_consumer_ack",
        "_batch_record",
        "__weakref__",
    )

    def __init__(self) -> None:
        self.sent = 0
        self.bytes_sent = 0
        self.batches = 0
        self.received = 0
        self.bytes_received = 0
        self.nacked = 0
        self.redelivered = 0
        self.redelivered_negative_ack = 0
        self.redelivered_ack_timeout = 0
        self.redelivered_reconnect = 0
        self.redelivered_seek = 0
        self.redelivered_requested = 0
        self.duplicates = 0
        self.gaps = 0
        self.out_of_order = 0
        self.e2e_from_intended = 0
        self.e2e_from_publish = 0
        self.failed: dict[str, int] = {}
        self.publish_latency = Histogram()
        self.send_delay = Histogram()
        self.e2e_latency = Histogram()
        self.processing_latency = Histogram()
        self.publish_latency_from_send = Histogram()
        self.batch_size = _new_batch_histogram()
        # Histogram.reset() zeroes the same counts list, so these stay valid across reuse.
        self.record_ack = self.publish_latency.record
        self.record_ack_from_send = self.publish_latency_from_send.record
        self.record_send_delay = self.send_delay.record
        self.record_e2e = self.e2e_latency.record
        self.record_consumer_ack = self.processing_latency.record
        self._batch_record = self.batch_size.record

    @property
    def acked(self) -> int:
        """Messages acknowledged by the broker (one publish latency each)."""
        return self.publish_latency.total_count

    @property
    def consumer_acked(self) -> int:
        """Messages acknowledged by the consumer (one processing latency each)."""
        return self.processing_latency.total_count

    # -- producer side -------------------------------------------------------------------------

    def record_send_batch(self, n_msgs: int, n_bytes: int) -> None:
        """A batch (or single message, n_msgs=1) handed to the connection."""
        self.sent += n_msgs
        self.bytes_sent += n_bytes
        self.batches += 1
        self._batch_record(n_msgs)

    def record_ack_batch(self, n_msgs: int, latency_us: int) -> None:
        """``n_msgs`` messages acknowledged with the same latency (one receipt for a batch)."""
        self.record_ack(latency_us, n_msgs)

    def record_failure(self, category: str, n_msgs: int = 1) -> None:
        """Messages that failed, by error category (timeout, disconnected, broker code ...)."""
        failed = self.failed
        failed[category] = failed.get(category, 0) + n_msgs

    # -- consumer side -------------------------------------------------------------------------

    def record_receive(self, n_bytes: int, e2e_us: int, intended: bool = True) -> None:
        """One message received; end-to-end latency from the producer's intended send time
        (`intended`), or from the publish time where the message did not carry it."""
        self.received += 1
        self.bytes_received += n_bytes
        self.record_e2e(e2e_us)
        if intended:
            self.e2e_from_intended += 1
        else:
            self.e2e_from_publish += 1

    def count_e2e_origin(self, from_intended: int, from_publish: int) -> None:
        """How many end-to-end latencies recorded with ``record_e2e`` started at the intended
        send time, and how many at the publish time (the producer did not stamp it)."""
        self.e2e_from_intended += from_intended
        self.e2e_from_publish += from_publish

    def record_receive_batch(self, n_msgs: int, n_bytes: int) -> None:
        """Messages received whose latency is recorded separately (or not known)."""
        self.received += n_msgs
        self.bytes_received += n_bytes

    def record_nack(self, n_msgs: int = 1) -> None:
        self.nacked += n_msgs

    def record_redelivered(self, n_msgs: int = 1) -> None:
        self.redelivered += n_msgs

    def record_redelivery_reasons(self, counts: object) -> None:
        """Redeliveries by reason since the last call: an object with one count attribute
        per reason (a client `RedeliveryCounts` difference)."""
        for reason, name in zip(REDELIVERY_REASONS, REDELIVERY_FIELDS, strict=True):
            n = getattr(counts, reason)
            if n:
                setattr(self, name, getattr(self, name) + n)

    def record_duplicate(self, n_msgs: int = 1) -> None:
        self.duplicates += n_msgs

    def record_gap(self, n_missing: int = 1) -> None:
        self.gaps += n_missing

    def record_out_of_order(self, n_msgs: int = 1) -> None:
        self.out_of_order += n_msgs

    # -- sampler side --------------------------------------------------------------------------

    def add(self, other: Recorder, views: Mapping[str, Sparse] | None = None) -> Recorder:
        """Fold ``other`` into this recorder (sampler thread, after ``other`` is quiescent).

        ``views`` maps histogram names to ``other``'s precomputed ``sparse()`` views.
        """
        for name in STORED_COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        failed = self.failed
        for cat, n in other.failed.items():
            failed[cat] = failed.get(cat, 0) + n
        for name in HISTOGRAM_FIELDS:
            getattr(self, name).add(getattr(other, name), views.get(name) if views else None)
        return self

    def sparse_views(self) -> dict[str, Sparse]:
        """One ``sparse()`` per histogram, for a harvest that reads each histogram once."""
        return {name: getattr(self, name).sparse() for name in HISTOGRAM_FIELDS}

    def reset(self, views: Mapping[str, Sparse] | None = None) -> None:
        """Zero everything so the object can be reused as the next spare.

        ``views`` (from ``sparse_views()`` since the last write) limits the clearing to the
        slots that were used.
        """
        for name in STORED_COUNTERS:
            setattr(self, name, 0)
        self.failed = {}
        for name in HISTOGRAM_FIELDS:
            getattr(self, name).reset(views.get(name) if views else None)

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def is_empty(self) -> bool:
        """True when nothing was recorded (cheap: counters first, then histograms)."""
        if self.failed or any(getattr(self, n) for n in STORED_COUNTERS):
            return False
        return not any(getattr(self, n) for n in HISTOGRAM_FIELDS)


# The histogram closures a worker can enter directly (``slot.active.record_ack(v)`` loads the
# closure and releases the recorder before the call, so the closure is what the worker holds).
WRITER_ENTRY_POINTS: Final = (
    "record_ack",
    "record_ack_from_send",
    "record_send_delay",
    "record_e2e",
    "record_consumer_ack",
)


def _writer_refcounts(recs: list[Recorder]) -> list[tuple[int, ...]]:
    out = []
    for r in recs:
        out.append(
            (
                sys.getrefcount(r),
                sys.getrefcount(r.record_ack),
                sys.getrefcount(r.record_ack_from_send),
                sys.getrefcount(r.record_send_delay),
                sys.getrefcount(r.record_e2e),
                sys.getrefcount(r.record_consumer_ack),
            )
        )
    return out


# Reference counts of a recorder held only by the list handed to _writer_refcounts, and of its
# entry points held only by the recorder and their histogram: measured, not assumed, so the
# check stays right on interpreters that count stack references differently.
_QUIESCENT: Final = _writer_refcounts([Recorder()])[0]


def is_quiescent(holder: list[Recorder]) -> list[bool]:
    """For each recorder in ``holder``: is it certain that no writer is inside it?

    True when ``holder`` is the recorder's only referrer and nobody else holds one of its
    entry-point closures. The caller must keep no other reference (no leftover loop variables).
    """
    return [
        all(n <= q for n, q in zip(c, _QUIESCENT, strict=True)) for c in _writer_refcounts(holder)
    ]


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
