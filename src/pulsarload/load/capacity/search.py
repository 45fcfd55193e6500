"""The capacity search as a pure state machine: which rate to try next, and what was found.

A geometric ramp from the start rate until a step fails (or the ceiling passes), then a
bisection between the highest passing and the lowest failing rate until they are within the
resolution of each other. The two steps that decide the answer (that highest pass and that
lowest fail) are repeated; when a repeat disagrees, a third run decides by majority, and the
search goes on from the corrected boundaries. So one noisy sample can cost time but not move
the answer.

No clocks and no I/O here: the driver asks `next_rate()`, measures a step however it likes
(one process, a cluster, or a fake in the unit tests) and reports the verdict with `record()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Phase = Literal["ramp", "ramp-down", "bisect", "confirm", "tiebreak"]

#: A search never runs more steps than this (a safety bound: ~20 are typical).
MAX_STEPS = 60


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the search found: the capacity is at least `passing` and below `failing`."""

    capacity: float  # the highest rate that met the SLO (0: none did)
    passing: float | None
    failing: float | None  # None: the ceiling passed, the capacity is at least `passing`
    ended: Literal["found", "ceiling", "floor", "step-limit"]
    confidence: Literal["high", "medium", "low"]
    votes: dict[str, str] = field(default_factory=dict)  # "passing"/"failing" -> "2/2 passed"
    inversions: tuple[float, ...] = ()  # rates above `failing` that passed (non-monotone)
    notes: tuple[str, ...] = ()

    @property
    def gap(self) -> float | None:
        """(failing - passing) / passing: how close the answer is (the resolution reached)."""
        if self.passing is None or self.failing is None or self.passing <= 0:
            return None
        return (self.failing - self.passing) / self.passing


class CapacitySearch:
    """Ramp, bisect, confirm. Rates are whole msg/s."""

    def __init__(
        self,
        *,
        start: float,
        ceiling: float,
        factor: float,
        resolution: float,
        confirm: bool = True,
        max_steps: int = MAX_STEPS,
    ) -> None:
        if not 0 < start <= ceiling:
            raise ValueError(f"need 0 < start ({start}) <= ceiling ({ceiling})")
        if factor <= 1 or resolution <= 0:
            raise ValueError("need factor > 1 and resolution > 0")
        self.start, self.ceiling = round(start), round(ceiling)
        self.factor, self.resolution = factor, resolution
        self.confirm = confirm
        self.max_steps = max_steps
        self.votes: dict[int, list[bool]] = {}
        self.history: list[tuple[int, bool, Phase]] = []
        self._planned: tuple[int, Phase] | None = None

    # -- state --------------------------------------------------------------------------------

    def verdict(self, rate: int) -> bool | None:
        """Majority of the votes at `rate`; None when untried or tied."""
        votes = self.votes.get(rate, [])
        passes = sum(votes)
        fails = len(votes) - passes
        if passes == fails:
            return None
        return passes > fails

    def bounds(self) -> tuple[int | None, int | None]:
        """(highest pass below the lowest fail, lowest fail): the bracket so far."""
        fails = [r for r in self.votes if self.verdict(r) is False]
        hi = min(fails) if fails else None
        passes = [r for r in self.votes if self.verdict(r) is True and (hi is None or r < hi)]
        return (max(passes) if passes else None), hi

    @property
    def steps(self) -> int:
        return len(self.history)

    # -- driving ------------------------------------------------------------------------------

    def next_rate(self) -> int | None:
        """The rate of the next step, or None when the search is over."""
        planned = self._plan()
        self._planned = planned
        return None if planned is None else planned[0]

    def phase(self) -> Phase | None:
        """What the rate from the last `next_rate()` is for."""
        return None if self._planned is None else self._planned[1]

    def record(self, rate: int, passed: bool) -> None:
        phase = self._planned[1] if self._planned and self._planned[0] == rate else "bisect"
        self.votes.setdefault(rate, []).append(passed)
        self.history.append((rate, passed, phase))
        self._planned = None

    def _plan(self) -> tuple[int, Phase] | None:
        if self.steps >= self.max_steps:
            return None
        tied = [r for r, v in self.votes.items() if v and self.verdict(r) is None]
        if tied:
            return min(tied), "tiebreak"
        lo, hi = self.bounds()
        if hi is None:  # nothing failed yet: climb
            if lo is None:
                return self.start, "ramp"
            if lo >= self.ceiling:
                return self._confirming(lo, None)
            return min(self.ceiling, max(lo + 1, round(lo * self.factor))), "ramp"
        if lo is None:  # even the lowest rate tried failed: come down
            down = round(hi / self.factor)
            if down < 1 or down >= hi:
                return self._confirming(None, hi)
            return down, "ramp-down"
        mid = round((lo + hi) / 2)
        if (hi - lo) / lo > self.resolution and lo < mid < hi:
            return mid, "bisect"
        return self._confirming(lo, hi)

    def _confirming(self, lo: int | None, hi: int | None) -> tuple[int, Phase] | None:
        if not self.confirm:
            return None
        for rate in (lo, hi):
            if rate is not None and len(self.votes.get(rate, ())) < 2:
                return rate, "confirm"
        return None

    # -- the answer ---------------------------------------------------------------------------

    def outcome(self) -> Outcome:
        lo, hi = self.bounds()
        ended: Literal["found", "ceiling", "floor", "step-limit"]
        if self.steps >= self.max_steps and self._plan_ignoring_limit() is not None:
            ended = "step-limit"
        elif hi is None:
            ended = "ceiling"
        elif lo is None:
            ended = "floor"
        else:
            ended = "found"
        votes: dict[str, str] = {}
        for name, rate, word in (("passing", lo, "passed"), ("failing", hi, "failed")):
            if rate is not None:
                v = self.votes[rate]
                agree = sum(v) if word == "passed" else len(v) - sum(v)
                votes[name] = f"{agree}/{len(v)} {word}"
        inversions = tuple(
            sorted(r for r in self.votes if hi is not None and r > hi and self.verdict(r))
        )
        notes: list[str] = []
        unanimous = all(
            len(self.votes[r]) >= 2 and len(set(self.votes[r])) == 1
            for r in (lo, hi)
            if r is not None
        )
        if ended == "found" and unanimous and not inversions:
            confidence: Literal["high", "medium", "low"] = "high"
        elif ended == "found" and self.confirm:
            confidence = "medium"
            if not unanimous:
                notes.append("a boundary step needed a third run to decide")
            if inversions:
                notes.append(
                    "rates above the first failing one passed ("
                    + ", ".join(f"{r:,}" for r in inversions)
                    + "): the system is noisy near its limit"
                )
        else:
            confidence = "low"
            notes.append(
                {
                    "found": "boundary steps were not repeated (confirmation off)",
                    "ceiling": f"the ceiling {self.ceiling:,} msg/s passed: the capacity is higher",
                    "floor": "no rate tried met the SLO",
                    "step-limit": f"stopped after {self.max_steps} steps without converging",
                }[ended]
            )
        return Outcome(
            capacity=float(lo or 0),
            passing=None if lo is None else float(lo),
            failing=None if hi is None else float(hi),
            ended=ended,
            confidence=confidence,
            votes=votes,
            inversions=tuple(float(r) for r in inversions),
            notes=tuple(notes),
        )

    def _plan_ignoring_limit(self) -> tuple[int, Phase] | None:
        limit, self.max_steps = self.max_steps, self.steps + 1
        try:
            return self._plan()
        finally:
            self.max_steps = limit
