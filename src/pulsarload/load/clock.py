"""The clock the load layer reads: `time.monotonic`, unless a test hands it another.

The controller, the worker pool and the workers take a `clock` (monotonic seconds) so that unit
tests can step time instead of sleeping (tests/support/clock.py `FakeClock`). The rate schedule
takes its times as arguments and reads no clock at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "nanoseconds"]

#: Monotonic seconds.
Clock = Callable[[], float]


def nanoseconds(clock: Clock) -> Callable[[], int]:
    """The same clock in integer nanoseconds, for the per-message path: `time.monotonic_ns`
    itself for the real clock (so that path costs what it always did), the clock's own `ns`
    where it has one, else its seconds scaled."""
    if clock is time.monotonic:
        return time.monotonic_ns
    ns = getattr(clock, "ns", None)
    if callable(ns):
        return ns
    return lambda: round(clock() * 1e9)
