"""A scriptable stand-in for `LoadController`, for the browser dashboard's unit tests.

It records the commands it is given (so a test can show that a refused request never reached
the run) and publishes real `Snapshot`s from a real `Sampler` when the test asks.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from pulsarload.config import ConsumeSettings, ProduceSettings
from pulsarload.load import controls as cmd
from pulsarload.metrics.sampler import Sampler
from pulsarload.metrics.snapshot import Snapshot


class FakePool:
    def __init__(self, rate: float = 1000.0) -> None:
        self.size = 2
        self.max_threads = 32
        self.paused = False
        self.bursting = False
        self.base_rate = rate
        self.target_rate = rate


class FakeController:
    def __init__(self, role: str = "producer", **settings: Any) -> None:
        self.role = role
        cls = ProduceSettings if role == "producer" else ConsumeSettings
        self.settings = cls(**settings)
        self.sampler = Sampler(0.1)
        self.pool: FakePool | None = FakePool(getattr(self.settings, "rate", 0.0))
        self.applied: list[cmd.Command] = []
        self.reconfigured: list[dict[str, Any]] = []

    def apply(self, command: cmd.Command) -> str:
        self.applied.append(command)
        if isinstance(command, cmd.SetRate) and self.pool is not None:
            self.pool.base_rate = self.pool.target_rate = command.rate
        return f"applied {command.kind}"

    def reconfigure(self, **changes: Any) -> str:
        self.reconfigured.append(changes)
        self.settings = dataclasses.replace(self.settings, **changes)
        return "reconfigured " + ", ".join(f"{k}={v}" for k, v in changes.items())

    def export_now(self, directory: Any = None) -> list[Path]:
        snap = self.sampler.latest
        if snap is None:
            return []
        folder = Path(directory)
        js = folder / f"{self.role}-snapshot-{snap.seq:06d}.json"
        js.write_text(json.dumps(snap.to_dict()))
        csv = folder / f"{self.role}-series-{snap.seq:06d}.csv"
        csv.write_text(f"seq,time\n{snap.seq},{snap.time!r}\n")
        return [js, csv]

    def tick(self) -> Snapshot:
        """One sampler tick: a real snapshot handed to every subscriber."""
        return self.sampler.tick()
