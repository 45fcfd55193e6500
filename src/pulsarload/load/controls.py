"""Live controls: the commands that steer a running load, as plain, serializable data.

The dashboards and scenarios put these on the load controller; workers apply them at their next
loop turn. They turn into JSON and back, so one controller can steer workers on many machines.
Not to be confused with `wire/commands.py`, the Pulsar protocol's commands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Command:
    kind: ClassVar[str] = "command"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True, slots=True)
class SetRate(Command):
    """Global target rate in msg/s over all producer workers (0 = as fast as possible)."""

    kind: ClassVar[str] = "set_rate"
    rate: float


@dataclass(frozen=True, slots=True)
class AddWorker(Command):
    kind: ClassVar[str] = "add_worker"
    count: int = 1


@dataclass(frozen=True, slots=True)
class RemoveWorker(Command):
    kind: ClassVar[str] = "remove_worker"
    count: int = 1


@dataclass(frozen=True, slots=True)
class Pause(Command):
    kind: ClassVar[str] = "pause"


@dataclass(frozen=True, slots=True)
class Resume(Command):
    kind: ClassVar[str] = "resume"


@dataclass(frozen=True, slots=True)
class Burst(Command):
    """Multiply the target rate by `multiplier` for `seconds`."""

    kind: ClassVar[str] = "burst"
    multiplier: float
    seconds: float


@dataclass(frozen=True, slots=True)
class EndBurst(Command):
    """End a running burst now (the `b` key pressed again)."""

    kind: ClassVar[str] = "end_burst"


@dataclass(frozen=True, slots=True)
class ResetMetrics(Command):
    kind: ClassVar[str] = "reset_metrics"


@dataclass(frozen=True, slots=True)
class Seek(Command):
    """Consumers seek to `earliest`, `latest`, `LEDGER:ENTRY[:PARTITION]` or ms since the epoch."""

    kind: ClassVar[str] = "seek"
    target: str


@dataclass(frozen=True, slots=True)
class Stop(Command):
    kind: ClassVar[str] = "stop"


COMMANDS: dict[str, type[Command]] = {
    c.kind: c
    for c in (
        SetRate,
        AddWorker,
        RemoveWorker,
        Pause,
        Resume,
        Burst,
        EndBurst,
        ResetMetrics,
        Seek,
        Stop,
    )
}


def command_from_dict(data: dict[str, Any]) -> Command:
    fields = dict(data)
    kind = fields.pop("kind", None)
    if kind not in COMMANDS:
        raise ValueError(f"unknown command kind {kind!r}; known: {', '.join(COMMANDS)}")
    return COMMANDS[kind](**fields)


def run_state(pool: Any, producer: bool) -> str:
    """The state both dashboards show, from the pool the controls steer: `starting` (no pool
    yet), `paused`, `burst` (a producer's), else `running`."""
    if pool is None:
        return "starting"
    if pool.paused:
        return "paused"
    if producer and pool.bursting:
        return "burst"
    return "running"
