"""The list of callbacks a snapshot stream hands each snapshot to (the sampler, the merged
sampler of a distributed run). Subscribing and publishing may happen on different threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pulsarload.metrics.snapshot import Snapshot

__all__ = ["SnapshotInbox", "Subscriber", "Subscribers"]

log = logging.getLogger(__name__)

Subscriber = Callable[[Snapshot], None]


class Subscribers:
    """Callbacks called in order with each snapshot; one that raises is logged and skipped,
    so a broken exporter cannot stop the others or the stream."""

    def __init__(self, name: str) -> None:
        self._name = name  # named in the log line of a failing callback
        self._lock = threading.Lock()
        self._callbacks: list[Subscriber] = []

    def add(self, callback: Subscriber) -> Callable[[], None]:
        """Add `callback`; returns the function that removes it again."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def publish(self, snapshot: Snapshot) -> None:
        """Hand `snapshot` to every callback (outside the lock: a callback may unsubscribe)."""
        with self._lock:
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb(snapshot)
            except Exception:
                log.exception("%s subscriber %r failed", self._name, cb)


class SnapshotInbox:
    """A subscriber that keeps the snapshots since the last `take()` (the sampler thread
    appends, a reader takes them all: a status line, a shard's report, a capacity step).
    A lock, because an append that read the old list just before a take would land in a
    list that is already being read, and be lost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snaps: list[Snapshot] = []

    def __call__(self, snap: Snapshot) -> None:
        with self._lock:
            self._snaps.append(snap)

    def take(self) -> list[Snapshot]:
        with self._lock:
            snaps, self._snaps = self._snaps, []
        return snaps
