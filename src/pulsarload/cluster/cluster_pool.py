"""The cluster run's controls, shaped like the load layer's `WorkerPool` for its readers.

The dashboards and the status line read `size`, `target_rate`, `paused` ... from a pool. Here
those are the whole run's: threads summed over the live shards, the global target rate (each
live shard runs an even share of it), and pause and burst as last commanded.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pulsarload.errors import ConfigError
from pulsarload.load import controls as cmd

if TYPE_CHECKING:
    from pulsarload.cluster.controller import ClusterController


class ClusterPool:
    def __init__(self, controller: ClusterController, rate: float) -> None:
        self._controller = controller
        self.base_rate = float(rate)
        self.burst_multiplier = 1.0
        self._burst_until = 0.0
        self.paused = False

    @property
    def size(self) -> int:
        return sum(h.threads for h in self._controller.live_shards())

    @property
    def max_threads(self) -> int:
        return self._controller.settings.max_threads * max(1, len(self._controller.live_shards()))

    @property
    def bursting(self) -> bool:
        return self.burst_multiplier != 1.0 and time.monotonic() < self._burst_until

    @property
    def target_rate(self) -> float:
        return self.base_rate * self.burst_multiplier if self.bursting else self.base_rate

    def set_rate(self, rate: float) -> None:
        """A new global target, split evenly over the live shards."""
        if rate < 0:
            raise ConfigError(f"rate must be >= 0 msg/s, got {rate}")
        self.base_rate = float(rate)
        self.spread()

    def spread(self) -> None:
        """Send each live shard its share of the global target (after a change or a loss)."""
        live = self._controller.live_shards()
        if not live or self._controller.role != "producer":
            return
        share = cmd.SetRate(self.base_rate / len(live)).to_dict()
        epoch = self._controller._epoch
        self._controller.fan_out("apply", {h.index: (share, epoch) for h in live})

    def note(self, command: cmd.Command) -> None:
        """Remember pause and burst (every shard runs them itself)."""
        match command:
            case cmd.Pause():
                self.paused = True
            case cmd.Resume():
                self.paused = False
            case cmd.Burst(multiplier=m, seconds=secs):
                if m < 1 or secs <= 0:
                    raise ConfigError("burst needs a multiplier >= 1 and a positive duration")
                self.burst_multiplier = m
                self._burst_until = time.monotonic() + secs
            case cmd.EndBurst():
                self.burst_multiplier = 1.0
                self._burst_until = 0.0

    def tick(self) -> None:
        if self.burst_multiplier != 1.0 and time.monotonic() >= self._burst_until:
            self.burst_multiplier = 1.0
