"""The warm-up at the start of a run (`--warmup`): measured and shown, left out of the summary.

One run's controller (a load's, or a distributed run's) holds one `Warmup`; when it ends, the
metrics are reset, so the summary and the duration count from there."""

from __future__ import annotations

from collections.abc import Callable

from pulsarload.metrics.snapshot import Snapshot

__all__ = ["Warmup"]


class Warmup:
    """Whether a run is still warming up, and which snapshots were taken during it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._active = seconds > 0
        #: The last snapshot taken during the warm-up (-1: none, or no warm-up).
        self._last_seq = -1

    @property
    def active(self) -> bool:
        """True until the warm-up has passed and the metrics were reset."""
        return self._active

    def covers(self, snap: Snapshot) -> bool:
        """Whether this snapshot's figures are from the warm-up: one taken before the reset
        and printed after it still is."""
        return self._active or snap.seq <= self._last_seq

    def end_if_due(
        self, elapsed: float, latest: Snapshot | None, reset: Callable[[], None]
    ) -> bool:
        """End the warm-up once `elapsed` seconds of the run have passed: note the last
        snapshot of it (`latest`), call `reset` (the metrics), and only then count it as
        ended, so a run's duration never counts from before the reset. True when it ended."""
        if not self._active or elapsed < self.seconds:
            return False
        self._last_seq = latest.seq if latest is not None else -1
        reset()
        self._active = False
        return True

    def event(self) -> str:
        """The line the run's event log gets when the warm-up ends."""
        return f"warm-up of {self.seconds:g}s done; measuring"
