"""Scenarios: how the target rate moves over a run (sustained, ramp, spike, chaos).

The search for the highest rate that meets an SLO is `pulsarload capacity` (load/capacity).

A scenario is asked `rate_at(t, latest_snapshot)` about ten times a second by the controller
and answers the base target rate (None = leave it). A manual rate change from the dashboard
`override()`s it: from then on the person at the keyboard is in charge.
"""

from __future__ import annotations

import random

from pulsarload.config import RETIRED_SCENARIOS, ProduceSettings
from pulsarload.errors import ConfigError
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

    def size_at(self, t: float) -> int | None:
        """The message size this scenario wants at `t` (None: leave it)."""
        return None

    def threads_at(self, t: float) -> int | None:
        """The thread count this scenario wants at `t` (None: leave it)."""
        return None


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
    """A seeded random rate within bounds, changed every `change_s` seconds (reproducible);
    optionally a random message size and thread count too, each from its own seeded stream
    (turning one on leaves the others' sequences as they were)."""

    name = "chaos"

    def __init__(
        self,
        low: float,
        high: float,
        change_s: float,
        seed: int,
        *,
        sizes: tuple[int, int] | None = None,
        threads: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.low, self.high, self.change_s = low, high, change_s
        self._rng = random.Random(seed)
        self._rates: list[float] = []
        self._size_range, self._thread_range = sizes, threads
        self._size_rng = random.Random(f"{seed}-size")
        self._thread_rng = random.Random(f"{seed}-threads")
        self._sizes: list[int] = []
        self._threads: list[int] = []

    def _rate_at(self, t: float, latest: Snapshot | None) -> float | None:
        step = int(t // self.change_s)
        while len(self._rates) <= step:
            self._rates.append(round(self._rng.uniform(self.low, self.high), 1))
        return self._rates[step]

    def size_at(self, t: float) -> int | None:
        if self._size_range is None:
            return None
        step = int(t // self.change_s)
        while len(self._sizes) <= step:
            self._sizes.append(self._size_rng.randint(*self._size_range))
        return self._sizes[step]

    def threads_at(self, t: float) -> int | None:
        if self._thread_range is None:
            return None
        step = int(t // self.change_s)
        while len(self._threads) <= step:
            self._threads.append(self._thread_rng.randint(*self._thread_range))
        return self._threads[step]


def make_scenario(s: ProduceSettings) -> Scenario | None:
    match s.scenario:
        case "sustained" | "backpressure":
            return None  # constant target: the pool holds settings.rate
        case "ramp":
            return Ramp(s.ramp_start_rate, s.rate, s.ramp_seconds)
        case "spike":
            return Spike(s.rate, s.burst_multiplier, s.spike_every_s, s.burst_seconds)
        case "chaos":
            return Chaos(
                s.chaos_min_rate,
                s.chaos_max_rate,
                s.chaos_change_s,
                s.chaos_seed,
                sizes=(s.size, s.size_max) if s.chaos_sizes else None,
                threads=(1, s.max_threads) if s.chaos_threads else None,
            )
        case "max-rate":
            raise ConfigError(RETIRED_SCENARIOS["max-rate"])
    raise ValueError(f"unknown scenario {s.scenario!r}")
