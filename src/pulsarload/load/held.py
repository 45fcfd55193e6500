"""A producer worker's own batch: messages taken from the schedule and not yet sent.

The worker is its producer's batch container: it takes each message from the rate schedule
when it falls due (that moment is the message's actual send time; intended minus actual is the
send delay), holds it up to the batch delay as a client's batcher would, and hands the whole
batch to the engine in one call. Holding is batching, not lag: it shows in publish latency
(from the intended and from the actual send time alike), never in send delay.

The messages of one held batch have consecutive places in the schedule, so message i was
intended at `first_ns + i * interval_ns`; each take adds a group (count, taken at). Completions
arrive on the client's thread and are only queued; the worker records them (`drain`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from pulsarload.load.rate import Due
from pulsarload.metrics.recorder import Recorder

__all__ = ["Completion", "HeldBatch", "drain"]


class HeldBatch:
    """Messages taken but not sent yet; owned by one worker thread."""

    __slots__ = ("count", "deadline_ns", "first_ns", "groups", "interval_ns")

    def __init__(self) -> None:
        self.count = 0
        self.first_ns = 0
        self.interval_ns = 0.0
        self.deadline_ns = 0
        self.groups: list[tuple[int, int, int]] = []  # (first index, count, taken at ns)

    def add(self, due: Due, count: int, now_ns: int, linger_ns: int) -> None:
        """Hold `count` messages of `due` (taken at `now_ns`); the first take starts the
        batch delay, as a client's batch timer starts with its first message."""
        if not self.count:
            self.first_ns = due.first_ns
            self.interval_ns = due.interval_ns
            self.deadline_ns = now_ns + linger_ns
        self.groups.append((self.count, count, now_ns))
        self.count += count

    def intended_ns(self, i: int) -> int:
        """When message i of the batch was meant to be sent (monotonic ns)."""
        return self.first_ns + int(i * self.interval_ns)

    def clear(self) -> None:
        self.count = 0
        self.groups = []


class Completion:
    """The send callback of one held batch (may run on the client's I/O thread): queues
    (itself, first index, count, error, ack time). The engine may complete a batch in parts
    (split by max bytes, or one message at a time); parts of one producer arrive in order."""

    __slots__ = ("_now_ns", "_offset", "_queue", "first_ns", "groups", "interval_ns")

    def __init__(
        self, queue: deque, held: HeldBatch, now_ns: Callable[[], int] = time.monotonic_ns
    ) -> None:
        """`now_ns`: the worker's clock in nanoseconds (the ack time is read from it)."""
        self._queue = queue
        self._now_ns = now_ns
        self.first_ns = held.first_ns
        self.interval_ns = held.interval_ns
        self.groups = held.groups
        self._offset = 0

    def __call__(self, count: int, error: str | None) -> None:
        self._queue.append((self, self._offset, count, error, self._now_ns()))
        self._offset += count


def drain(completions: deque, rec: Recorder) -> str | None:
    """Record every queued completion into `rec` (the worker's thread only); returns the last
    error seen, if any. Publish latency from the intended send time per message, and from
    the actual one per take."""
    last_error = None
    pop = completions.popleft
    while completions:
        done, offset, count, error, ack_ns = pop()
        if error is not None:
            rec.record_failure(error, count)
            last_error = error
            continue
        first, interval = done.first_ns, done.interval_ns
        if interval:
            record = rec.record_ack
            for i in range(offset, offset + count):
                record((ack_ns - first - int(i * interval)) // 1000)
        else:
            rec.record_ack_batch(count, (ack_ns - first) // 1000)
        end = offset + count
        for start, n, taken_ns in done.groups:
            lo, hi = max(start, offset), min(start + n, end)
            if hi > lo:
                rec.record_ack_from_send((ack_ns - taken_ns) // 1000, hi - lo)
    return last_error
