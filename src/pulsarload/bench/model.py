"""What a benchmark is made of: the broker, a workload, a contender, and the figures of one run."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: The tables of the suite, each of which ``pulsarload bench run --only`` can run alone.
TABLES = ("produce", "pair", "drain", "latency", "dashboard", "micro")

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
    #: Messages per second for a latency row (0 = as fast as each contender goes).
    rate: int = 0
    #: A drain: this many messages are put on a persistent topic first, then every contender
    #: reads them all from the earliest message on a subscription of its own.
    drain_messages: int = 0
    #: The dashboard's cost: the same run with the terminal dashboard on and headless.
    dashboard: bool = False
    #: Non-persistent topics keep nothing on disk: a full suite on persistent ones writes tens
    #: of GB through the bookie (see docs/benchmarks.md).
    persistent: bool = True

    @property
    def role(self) -> str:
        """What the table measures: "produce", "pair", "drain", "latency" or "dashboard"."""
        if self.dashboard:
            return "dashboard"
        if self.drain_messages:
            return "drain"
        if self.consume:
            return "pair"
        return "latency" if self.rate else "produce"

    @property
    def title(self) -> str:
        size = f"{self.size // 1024} KiB" if self.size % 1024 == 0 else f"{self.size} B"
        topic = "" if self.persistent else ", non-persistent topic"
        if self.role == "drain":
            return f"Drain: {self.drain_messages:,} x {size} messages from a filled topic"
        if self.role == "dashboard":
            return f"Dashboard on vs headless: {size} messages, as fast as they go{topic}"
        if self.role == "latency":
            return f"Publish latency at {self.rate:,} msg/s, {size} messages{topic}"
        what = "producer + consumer" if self.consume else "producer only"
        return f"{size} messages, compression {self.compression}, batching on, {what}{topic}"


#: Interpreter builds a contender can run on. ``free-threaded-gil`` is the free-threaded binary
#: started with ``PYTHON_GIL=1``: the same interpreter with the GIL switched on, which tells what
#: the GIL costs apart from what the GIL build's specializing interpreter gains.
FREE_THREADED, FREE_THREADED_GIL, GIL_BUILD, JVM = (
    "free-threaded",
    "free-threaded-gil",
    "gil",
    "jvm",
)
BUILD_LABELS = {
    FREE_THREADED: "3.13t, GIL off",
    FREE_THREADED_GIL: "3.13t, PYTHON_GIL=1",
    GIL_BUILD: "3.13, GIL build",
    JVM: "JVM",
}


@dataclass(frozen=True)
class Contender:
    """One way of producing: which tool, which interpreter build, how many threads."""

    key: str
    kind: str  # "native", "official" or "pulsar-perf"
    build: str  # one of BUILD_LABELS
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
        build = BUILD_LABELS.get(self.build, self.build)
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
            venv = ".venv-gil" if self.build == GIL_BUILD else ".venv"
            return f"no {self.build} interpreter ({venv} missing; run `make setup`)"
        return None

    def env(self) -> dict[str, str]:
        """The child's environment: unbuffered output, the GIL forced on only for
        ``free-threaded-gil`` (an inherited PYTHON_GIL would change what is measured)."""
        from pulsarload.bench.process import child_env

        env = child_env()
        if self.build == FREE_THREADED_GIL:
            env["PYTHON_GIL"] = "1"
        return env


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
    # Publish latency from the actual send (pulsar-perf's definition), and the send delay
    # (actual minus intended send time) of a fixed-rate run.
    from_send_p50_ms: float | None = None
    from_send_p99_ms: float | None = None
    from_send_p999_ms: float | None = None
    send_delay_p99_ms: float | None = None
    #: Which round of the comparison this run was (0-based), and the 1-minute load average
    #: just before and just after it.
    round: int = 0
    load_before: float | None = None
    load_after: float | None = None
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
