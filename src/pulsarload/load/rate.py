"""The intended-start schedule: when each message *should* be sent.

Latency is measured from the time the schedule gave a message, not from when the worker got
round to sending it, so a stalled broker shows up as latency instead of silently lowering the
send rate (no coordinated omission). The lag between intended and actual send is measured too.

One `RateSchedule` per worker, owned by that worker's thread: nothing here is shared or locked.
Times are `time.monotonic_ns()` values.
"""

from __future__ import annotations

from dataclasses import dataclass

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Due:
    """`count` messages are due; message i was intended at `first_ns + i * interval_ns`."""

    count: int
    first_ns: int
    interval_ns: float

    @property
    def last_ns(self) -> int:
        return (
            int(self.first_ns + (self.count - 1) * self.interval_ns)
            if self.count
            else self.first_ns
        )


class RateSchedule:
    """Message k after the anchor is due at `anchor_ns + k / rate`; rate 0 means as fast as possible.

    A rate change re-anchors at the next due time (or one new interval from now, if that is
    sooner), so the schedule never jumps backwards and never forgives messages already owed.
    """

    __slots__ = ("_rate", "_anchor_ns", "_sent_since_anchor", "_interval_ns")

    def __init__(self, rate_per_s: float, now_ns: int) -> None:
        if rate_per_s < 0:
            raise ValueError(f"rate must be >= 0 msg/s, got {rate_per_s}")
        self._rate = float(rate_per_s)
        self._interval_ns = NS_PER_S / self._rate if self._rate else 0.0
        self._anchor_ns = now_ns
        self._sent_since_anchor = 0

    @property
    def rate(self) -> float:
        return self._rate

    def next_due_ns(self) -> int:
        """When the next message is due (for sleeping until then)."""
        return int(self._anchor_ns + self._sent_since_anchor * self._interval_ns)

    def set_rate(self, rate_per_s: float, now_ns: int) -> None:
        """Change the rate from the next message on (messages already owed stay owed)."""
        if rate_per_s < 0:
            raise ValueError(f"rate must be >= 0 msg/s, got {rate_per_s}")
        if rate_per_s == self._rate:
            return
        # Unlimited -> limited starts from now; otherwise continue from the next due time, but
        # no later than one new interval from now: going from 1 msg/s to 1000 must not wait
        # out the rest of the old second (a ramp starting at 1 msg/s sent nothing for a second).
        new_interval = NS_PER_S / rate_per_s if rate_per_s else 0.0
        anchor = now_ns if not self._rate else min(self.next_due_ns(), now_ns + int(new_interval))
        self._rate = float(rate_per_s)
        self._interval_ns = new_interval
        self._anchor_ns = anchor
        self._sent_since_anchor = 0

    def restart(self, now_ns: int) -> None:
        """Forget what is owed (after a pause): the schedule continues from now."""
        self._anchor_ns = now_ns
        self._sent_since_anchor = 0

    def owed(self, now_ns: int) -> int:
        """How many messages are due at `now_ns` and not yet taken (unlimited rate: 0)."""
        if not self._rate:
            return 0
        elapsed = now_ns - self._anchor_ns
        return max(0, int(elapsed / self._interval_ns) + 1 - self._sent_since_anchor)

    def take_due(self, now_ns: int, max_count: int) -> Due:
        """Claim up to `max_count` messages that are due at `now_ns`; they count as scheduled."""
        if max_count <= 0:
            return Due(0, now_ns, 0.0)
        if not self._rate:
            # As fast as possible: the intended time of every message is now.
            return Due(max_count, now_ns, 0.0)
        elapsed = now_ns - self._anchor_ns
        owed = int(elapsed / self._interval_ns) + 1 - self._sent_since_anchor
        if owed <= 0:
            return Due(0, self.next_due_ns(), self._interval_ns)
        count = min(owed, max_count)
        first = self.next_due_ns()
        self._sent_since_anchor += count
        return Due(count, first, self._interval_ns)


def split_rate(total_rate: float, workers: int) -> list[float]:
    """Split a global target rate across workers (equal shares; 0 stays unlimited)."""
    if workers <= 0:
        return []
    return [total_rate / workers] * workers
