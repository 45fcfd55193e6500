"""One housekeeping thread per client: flushes due batches and expires timed-out sends.

Producers expose `_tick(now) -> next deadline`. The thread sleeps until the earliest deadline;
a producer whose new deadline is earlier than the thread's planned wake-up kicks it (an
attribute read and compare on the send path, an `Event.set` only at a batch's start).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from typing import Protocol

__all__ = ["HousekeepingThread"]

log = logging.getLogger(__name__)

#: Wake at least this often even with nothing due (cheap; catches missed kicks).
_MAX_SLEEP = 1.0


class Ticking(Protocol):
    def _tick(self, now: float) -> float:
        """Do what is due at `now`; return the next monotonic deadline (inf: none)."""


class HousekeepingThread:
    def __init__(self, name: str = "pulsar-housekeeping") -> None:
        self._members: list[Ticking] = []
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._stopped = False
        #: When the thread will next wake on its own (monotonic); read lock-free by producers.
        self.next_wakeup = math.inf
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def add(self, member: Ticking) -> None:
        with self._lock:
            self._members.append(member)
        self.kick()

    def remove(self, member: Ticking) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._members.remove(member)

    def kick(self) -> None:
        self._event.set()

    def wake_by(self, deadline: float) -> None:
        """Make sure the thread wakes no later than `deadline`."""
        if deadline < self.next_wakeup:
            self._event.set()

    def _run(self) -> None:
        while not self._stopped:
            # A deadline set during the scan sees inf and kicks, so none is missed (producers
            # store their deadline before comparing it with next_wakeup).
            self._event.clear()
            self.next_wakeup = math.inf
            with self._lock:
                members = list(self._members)
            now = time.monotonic()
            nearest = math.inf
            for m in members:
                try:
                    nearest = min(nearest, m._tick(now))
                except Exception:
                    log.exception("housekeeping of %r failed", m)
            self.next_wakeup = nearest
            self._event.wait(min(_MAX_SLEEP, max(0.0, nearest - time.monotonic())))

    def stop(self) -> None:
        self._stopped = True
        self._event.set()
        if self._thread is not threading.current_thread():
            self._thread.join(2.0)
