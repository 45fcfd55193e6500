"""`FakeClock`: time that moves only when a test moves it.

The load controller, the worker pool and the workers read time through a `clock` they are given
(`time.monotonic` by default). A test hands them a `FakeClock` and steps it: a burst ends, a
ramp rises, a stall is seen, a schedule comes due exactly when the test says, however loaded
the machine is. Threads still run on real time (they look at the clock at their next turn), so
a test that steps the clock then waits with `eventually` for the threads to see it.
"""

from __future__ import annotations

import threading

__all__ = ["FakeClock"]

NS_PER_S = 1_000_000_000


class FakeClock:
    """A monotonic clock in whole nanoseconds; `clock()` reads seconds, `clock.ns()` nanoseconds
    (the workers' per-message path reads nanoseconds, as it does `time.monotonic_ns`)."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self._ns = round(start_s * NS_PER_S)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._ns / NS_PER_S

    def ns(self) -> int:
        return self._ns

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (never back: the clock is monotonic)."""
        if seconds < 0:
            raise ValueError(f"a monotonic clock cannot go back ({seconds} s)")
        with self._lock:
            self._ns += round(seconds * NS_PER_S)
