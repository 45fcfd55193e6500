"""Scenarios: how the target rate moves over a run (sustained, ramp, spike, chaos, max-rate).

A scenario is asked `rate_at(t, latest_snapshot)` about ten times a second by the controller
and answers the base target rate (None = leave it). A manual rate change from the dashboard
`override()`s it: from then on the person at the keyboard is in charge.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pulsarload.config import ProduceSettings
from pulsarload.metrics.snapshot import Snapshot


class Scenario:
    name = "scenario"
    finished = False

    def __init__(self) -> None:
        self.overridden = False

    def override(self) -> None:
        self.overridden = True

    def rate_at(self, t: float, latest: Snapshot | None = None) -> float | None:
        if self.overridden:
            return None
        return self._rate_at(t, latest)

    def _rate_at(self, t: float, latest: Snapshot | None) -> float | None:
        raise NotImplementedError


class Ramp(Scenario):
    """Linear from `start` to `target` over `seconds`, then hold."""

    name = "ramp"

    def __init__(self, start: float, target: float, seconds: float) -> None:
        super().__init__()
        self.start, self.target, self.seconds = start, target, seconds

    def _rate_at(self, t: float, latest: Snapshot | None) -> float | None:
        if t >= self.seconds:
            return self.target
        rate = self.start + (self.target - self.start) * t / self.seconds
        return max(1.0, round(rate, 1))  # never 0: 0 would mean "as fast as possible"


class Spike(Scenario):
    """`base` most of the time, `base * multiplier` for `length` seconds every `every` seconds."""

    name = "spike"

    def __init__(self, base: float, multiplier: float, every: float, length: float) -> None:
        super().__init__()
        self.base, self.multiplier, self.every, self.length = base, multiplier, every, length

    def _rate_at(self, t: float, latest: Snapshot | None) -> float | None:
        in_spike = t % self.every >= self.every - self.length
        return self.base * self.multiplier if in_spike else self.base


class Chaos(Scenario):
    """A seeded random rate within bounds, changed every `change_s` seconds (reproducible)."""

    name = "chaos"

    def __init__(self, low: float, high: float, change_s: float, seed: int) -> None:
        super().__init__()
        self.low, self.high, self.change_s = low, high, change_s
        self._rng = random.Random(seed)
        self._rates: list[float] = []

    def _rate_at(self, t: float, latest: Snapshot | None) -> float | None:
        step = int(t // self.change_s)
        while len(self._rates) <= step:
            self._rates.append(round(self._rng.uniform(self.low, self.high), 1))
        return self._rates[step]


@dataclass(slots=True)
class MaxRateStep:
    rate: float
    achieved: float
    p99_ms: float
    error_rate: float
    ok: bool


@dataclass(slots=True)
class MaxRateResult:
    steps: list[MaxRateStep] = field(default_factory=list)

    @property
    def highest_sustainable(self) -> float:
        good = [s.achieved for s in self.steps if s.ok]
        return max(good) if good else 0.0


class MaxRateSearch(Scenario):
    """Raise the rate step by step until p99 latency, errors or the achieved rate cross a bound.

    Each step runs `step_s` seconds; its figures come from the snapshots of its second half
    (the first half lets queues settle). A step is sustainable when the achieved rate is within
    5 % of the target, p99 is under the bound and the error rate under its bound.
    """

    name = "max-rate"

    def __init__(
        self, start: float, factor: float, step_s: float, p99_ms: float, error_rate: float
    ) -> None:
        super().__init__()
        self.rate, self.factor, self.step_s = start, factor, step_s
        self.p99_bound, self.error_bound = p99_ms, error_rate
        self.result = MaxRateResult()
        self._step_start = 0.0
        self._acc: list[Snapshot] = []

    def _rate_at(self, t: float, latest: Snapshot | None) -> float | None:
        if self.finished:
            return self.rate
        into = t - self._step_start
        if (
            latest is not None
            and into >= self.step_s / 2
            and (not self._acc or latest.seq != self._acc[-1].seq)
        ):
            self._acc.append(latest)
        if into < self.step_s:
            return self.rate
        self._finish_step()
        self._step_start = t
        self._acc = []
        if not self.result.steps[-1].ok:
            self.finished = True
            return self.rate
        self.rate = round(self.rate * self.factor, 1)
        return self.rate

    def _finish_step(self) -> None:
        seconds = sum(s.interval for s in self._acc) or 1e-9
        acked = sum(s.counters.acked for s in self._acc)
        failed = sum(s.counters.failed for s in self._acc)
        p99 = max(
            (s.latency["publish_latency"].p99 for s in self._acc if "publish_latency" in s.latency),
            default=0,
        )
        achieved = acked / seconds
        error_rate = failed / (acked + failed) if acked + failed else 0.0
        ok = (
            achieved >= 0.95 * self.rate
            and p99 / 1000 <= self.p99_bound
            and error_rate <= self.error_bound
        )
        self.result.steps.append(MaxRateStep(self.rate, achieved, p99 / 1000, error_rate, ok))


def make_scenario(s: ProduceSettings) -> Scenario | None:
    match s.scenario:
        case "sustained" | "backpressure":
            return None  # constant target: the pool holds settings.rate
        case "ramp":
            return Ramp(s.ramp_start_rate, s.rate, s.ramp_seconds)
        case "spike":
            return Spike(s.rate, s.burst_multiplier, s.spike_every_s, s.burst_seconds)
        case "chaos":
            return Chaos(s.chaos_min_rate, s.chaos_max_rate, s.chaos_change_s, s.chaos_seed)
        case "max-rate":
            return MaxRateSearch(
                s.max_rate_start,
                s.max_rate_factor,
                s.max_rate_step_s,
                s.max_rate_p99_ms,
                s.max_rate_error_rate,
            )
    raise ValueError(f"unknown scenario {s.scenario!r}")
