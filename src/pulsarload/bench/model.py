"""What a benchmark is made of: the broker, a workload, a contender, and the figures of one run."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: The official client driven by a plain script (no pulsarload code in its loop).
OFFICIAL_SCRIPT = Path(__file__).resolve().parent / "official_produce.py"


@dataclass(frozen=True)
class Broker:
    """Where the contenders send: the same broker for all of them."""

    service_url: str
    admin_url: str


@dataclass(frozen=True)
class Workload:
    """The settings every contender of one table shares."""

    name: str
    size: int
    compression: str = "none"
    duration_s: float = 10.0
    warmup_s: float = 2.0
    batch_max_messages: int = 1000
    batch_max_bytes: int = 128 * 1024
    batch_delay_ms: float = 1.0
    max_pending: int = 1000
    consume: bool = False
    #: Non-persistent topics keep nothing on disk: a full suite on persistent ones writes tens
    #: of GB through the bookie (see docs/benchmarks.md).
    persistent: bool = True

    @property
    def title(self) -> str:
        size = f"{self.size // 1024} KiB" if self.size % 1024 == 0 else f"{self.size} B"
        what = "producer + consumer" if self.consume else "producer only"
        topic = "" if self.persistent else ", non-persistent topic"
        return f"{size} messages, compression {self.compression}, batching on, {what}{topic}"


@dataclass(frozen=True)
class Contender:
    """One way of producing: which tool, which interpreter build, how many threads."""

    key: str
    kind: str  # "native", "official" or "pulsar-perf"
    build: str  # "free-threaded", "gil" or "jvm"
    threads: int = 1
    python: Path | None = None
    #: Extra ``produce`` arguments of a diagnostic variant (not counted towards the goals).
    extra_args: tuple[str, ...] = ()
    note: str = ""

    @property
    def diagnostic(self) -> bool:
        return bool(self.extra_args)

    @property
    def label(self) -> str:
        if self.kind == "pulsar-perf":
            return "pulsar-perf 4.0.8 (Java)"
        if self.kind == "official-direct":
            return "official client (C++), direct script [3.13, GIL build] x1"
        build = "3.13t, GIL off" if self.build == "free-threaded" else "3.13, GIL build"
        tool = "pulsarload native" if self.kind == "native" else "official client (C++)"
        label = f"{tool} [{build}] x{self.threads}"
        return f"{label}, {self.note}" if self.note else label

    def missing(self) -> str | None:
        """Why this contender cannot run here, or None."""
        if self.kind == "pulsar-perf":
            from pulsarload.broker import jvm
            from pulsarload.broker.errors import BrokerError

            try:
                jvm.find_java()
            except BrokerError as err:
                return str(err)
            return None
        if self.kind == "official-direct" and not OFFICIAL_SCRIPT.exists():
            return f"{OFFICIAL_SCRIPT} not found (needs the source checkout)"
        if self.python is None or not self.python.exists():
            venv = ".venv" if self.build == "free-threaded" else ".venv-gil"
            return f"no {self.build} interpreter ({venv} missing; run `make setup`)"
        return None


@dataclass
class Figures:
    """What one contender achieved on one workload (None where it could not be measured)."""

    workload: str
    contender: str
    label: str
    kind: str
    build: str
    threads: int
    ok: bool = False
    error: str | None = None
    topic: str = ""
    messages: int = 0
    window_s: float = 0.0
    msg_rate: float | None = None
    broker_msg_rate: float | None = None  # the broker's msgInCounter over the same window
    mb_rate: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    cpu_s_per_m: float | None = None  # client CPU in the measured window, per million messages
    cpu_cores: float | None = None  # the same CPU as cores busy (CPU seconds per second)
    cpu_total_s: float | None = None  # whole process, start-up included (wait4)
    peak_rss_mb: float | None = None
    minor_faults: int | None = None  # whole process (wait4 ru_minflt)
    gil: str = "n/a"
    interpreter: str = ""
    consumer: str | None = None  # which consumer ran (producer+consumer workloads)
    consume_rate: float | None = None
    e2e_p50_ms: float | None = None
    e2e_p99_ms: float | None = None
    e2e_p999_ms: float | None = None
    consumer_cpu_s_per_m: float | None = None
    consumer_peak_rss_mb: float | None = None
    received: int = 0
    notes: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)  # the tool's own summary, as it gave it
    diagnostic: bool = False  # a tuning variant: shown, but not counted towards the goals

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def has_numbers(self) -> bool:
        return self.ok and bool(self.msg_rate) and self.messages > 0


def fresh_topic(prefix: str, persistent: bool = True) -> str:
    domain = "persistent" if persistent else "non-persistent"
    return f"{domain}://public/default/{prefix}-{uuid.uuid4().hex[:10]}"
