"""Rounds: contenders run interleaved, figures summed up as median and spread, goals judged fairly.

One run of each contender on a shared machine can be off by tens of percent, so every
comparison here runs N rounds. Within a round every contender runs once, and the order rotates
from round to round (A B C, B C A, C A B): a slow patch of the host falls on each of them, and
no contender always runs right after the same neighbour. A figure is then the median over the
rounds with its min-max spread. A goal compares two contenders by the ratio of their figures
*within each round* (both ran minutes apart under the same load) and takes the median of those
paired ratios; when the ratios spread wider than the distance between that median and the
target (both as factors: 0.5x and 2x are equally far from 1x), the run cannot tell met from
missed and says "not distinguishable".

Pure functions on plain numbers: no clock, no processes (the unit tests step through them).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

MET = "met"
MISSED = "missed"
NOT_DISTINGUISHABLE = "not distinguishable"
#: With one round there is no spread: the verdict is the median's alone, and says so.
ONE_ROUND = "one round"


def interleave[T](items: Sequence[T], rounds: int) -> list[tuple[int, T]]:
    """(round, item) in running order: every item once per round, the order rotated by one
    each round, so drift in the machine's load spreads over all items."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    n = len(items)
    out: list[tuple[int, T]] = []
    for r in range(rounds):
        shift = r % n if n else 0
        out += [(r, item) for item in (*items[shift:], *items[:shift])]
    return out


@dataclass(frozen=True)
class Spread:
    """A figure over rounds: its median, and the lowest and highest round."""

    median: float
    low: float
    high: float
    n: int

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def relative_width(self) -> float | None:
        """(high - low) / median: how far apart the rounds were, as a fraction."""
        return self.width / abs(self.median) if self.median else None

    def format(self, spec: str = ",.0f") -> str:
        """``median (low-high)``, or the median alone when there was one round."""
        if self.n < 2:
            return format(self.median, spec)
        return f"{self.median:{spec}} ({self.low:{spec}}-{self.high:{spec}})"


def spread(values: Iterable[float | None]) -> Spread | None:
    """Median and min-max of the values that were measured (None where none was)."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None
    return Spread(statistics.median(xs), min(xs), max(xs), len(xs))


def paired_ratios(a: dict[int, float | None], b: dict[int, float | None]) -> list[float]:
    """a[r] / b[r] for every round r where both were measured (and b is not zero)."""
    out = []
    for r in sorted(set(a) & set(b)):
        x, y = a[r], b[r]
        if x is not None and y:
            out.append(x / y)
    return out


@dataclass(frozen=True)
class Verdict:
    """A goal's ratio over the rounds and what it says against the target."""

    ratio: Spread
    target: float
    verdict: str  # MET, MISSED or NOT_DISTINGUISHABLE

    @property
    def met(self) -> bool | None:
        """True/False when the rounds agree; None when they cannot tell."""
        if self.verdict == NOT_DISTINGUISHABLE:
            return None
        return self.verdict == MET

    def describe(self) -> str:
        text = self.verdict
        if self.ratio.n < 2:
            text += f" ({ONE_ROUND})"
        return text


def judge(ratios: Sequence[float], target: float) -> Verdict | None:
    """The verdict of paired ratios against ``target`` (a ratio >= target meets the goal).

    Met or missed by the median; "not distinguishable" when the ratios' spread (max / min) is
    wider than the distance from their median to the target (median / target, either way):
    the rounds disagree by more than the difference being judged. None when no round has both
    figures.
    """
    s = spread(ratios)
    return None if s is None else judge_spread(s, target)


def judge_spread(s: Spread, target: float) -> Verdict:
    """As ``judge``, for ratios already summed up as a median and a range.

    Ratios are factors, so spread and distance are compared as factors too (their logarithms):
    0.5x and 2x are equally far from 1x, and rounds of 19x-89x against a target of 1x agree
    although their range is wider than 34x, the median's distance from it.
    """
    if s.n >= 2 and _log_width(s) > abs(_log(s.median) - _log(target)):
        return Verdict(s, target, NOT_DISTINGUISHABLE)
    return Verdict(s, target, MET if s.median >= target else MISSED)


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def _log_width(s: Spread) -> float:
    if s.low <= 0:
        return math.inf  # a zero or negative ratio: no factor to compare with
    return math.log(s.high / s.low)


def by_round[T](
    rows: Iterable[T], value: Callable[[T], float | None], round_of: Callable[[T], int]
) -> dict[int, float | None]:
    """One figure per round; when a round has several rows (e.g. thread counts), the best."""
    out: dict[int, float | None] = {}
    for row in rows:
        r, v = round_of(row), value(row)
        if v is None:
            out.setdefault(r, None)
            continue
        best = out.get(r)
        out[r] = v if best is None else max(best, v)
    return out


@dataclass(frozen=True)
class LoadSample:
    """The machine's load average (1, 5, 15 min) before and after one round."""

    label: str
    before: tuple[float, float, float]
    after: tuple[float, float, float]

    def format(self) -> str:
        return f"{self.label}: {self.before[0]:.2f} -> {self.after[0]:.2f}"
