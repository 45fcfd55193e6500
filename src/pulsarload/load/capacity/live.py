"""The search as it stands, for anyone watching: the step under way, its stage, the bracket
so far; and the headless status lines that show it beside the load's own figures.

Read from other threads than the search's: `LiveSearch` is an immutable copy."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pulsarload.load.capacity.step import StepResult
from pulsarload.load.headless import status_line
from pulsarload.metrics.subscribers import SnapshotInbox


@dataclass(frozen=True, slots=True)
class LiveSearch:
    """The search as it stands: the step under way and the bracket so far."""

    index: int | None
    phase: str | None
    target: int | None
    stage: str  # starting, priming, settling, warm-up, measuring, done
    stage_elapsed_s: float
    stage_length_s: float
    passing: int | None  # highest passing rate below the lowest failing one
    failing: int | None
    passed: int
    failed: int
    last: StepResult | None
    resolution: float

    def between_steps(self) -> str:
        """What the search is doing when no step is under way."""
        if self.stage == "done":
            return "search done"
        if self.stage == "priming":
            shown = min(self.stage_elapsed_s, self.stage_length_s)
            return f"priming (not measured) {shown:.0f}/{self.stage_length_s:.0f} s"
        return "search starting"

    def line(self) -> str:
        """One line: 'step 4 bisect 1,500 msg/s measuring 3/10 s | passes 1,000 | fails 2,000'."""
        if self.target is None:
            head = self.between_steps()
        else:
            shown = min(self.stage_elapsed_s, self.stage_length_s or self.stage_elapsed_s)
            head = (
                f"step {self.index} {self.phase} {self.target:,} msg/s {self.stage} "
                f"{shown:.0f}/{self.stage_length_s:.0f} s"
            )
        lo = f"passes {self.passing:,}" if self.passing is not None else "no pass yet"
        hi = f"fails {self.failing:,}" if self.failing is not None else "no fail yet"
        gap = ""
        if self.passing and self.failing:
            gap = f" ({(self.failing - self.passing) / self.passing:.1%} apart, "
            gap += f"to {self.resolution:.1%})"
        return f"{head} | {lo} | {hi}{gap} | {self.passed} passed, {self.failed} failed"


class StatusTicker:
    """Every `every` seconds, one status line: the load's figures over that interval (as a
    headless produce run prints them) followed by where the search is."""

    def __init__(
        self,
        producer: Any,
        live: Callable[[], LiveSearch],
        echo: Callable[[str], None],
        every: float,
    ) -> None:
        self.producer, self.live, self.echo, self.every = producer, live, echo, every
        self._acc = SnapshotInbox()
        self._stop = threading.Event()
        self._unsubscribe = producer.subscribe(self._acc)
        self._thread = threading.Thread(target=self._loop, name="capacity-status", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            snaps = self._acc.take()
            if snaps:
                self.echo(f"{status_line('producer', snaps, self.producer)} | {self.live().line()}")

    def close(self) -> None:
        self._stop.set()
        self._unsubscribe()
        self._thread.join(5)
