"""One contender, run as a subprocess on its own fresh topic, and the figures it produced.

Why subprocesses: each contender's CPU time and peak memory must be its own. ``os.wait4`` gives the
child's rusage (user+system CPU, ``ru_maxrss``) without the broker's share, and a sampler thread
reads ``/proc/PID/stat`` every 100 ms so CPU can also be taken over just the measured window:
a JVM spends seconds of CPU starting up, which says nothing about its cost per message.

Figures are taken from each tool's own report: the JSON report of ``pulsarload produce/consume``
(native and official engines) and the summary lines pulsar-perf 4.0.8 prints on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from pulsarload.config import LocalBrokerSettings

CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE_INTERVAL_S = 0.1
#: pulsar-perf 4.0.8 rejects rate 0 (Guava RateLimiter); this is "as fast as possible" for it.
PERF_UNLIMITED_RATE = 10_000_000
#: Seconds a contender may take beyond its configured run before it is stopped.
START_SLACK_S = 60.0
#: How long the consumer of a producer+consumer run gets to drain the backlog after the producer.
DRAIN_TIMEOUT_S = 5.0

#: Environment overrides for the two interpreters (defaults: .venv and .venv-gil of the checkout).
FT_PYTHON_ENV = "PULSARLOAD_FT_PYTHON"
GIL_PYTHON_ENV = "PULSARLOAD_GIL_PYTHON"

Echo = Callable[[str], None]

#: The official client driven by a plain script (no pulsarload code in its loop).
OFFICIAL_SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "official_produce.py"


# --------------------------------------------------------------------------- processes


@dataclass
class ProcessResult:
    """What one child process did: its output lines, CPU over time, and its wait4 rusage."""

    command: list[str]
    returncode: int
    lines: list[tuple[float, str]]  # (wall time.time(), line)
    cpu_series: list[tuple[float, float]]  # (wall time, CPU seconds so far)
    cpu_total_s: float  # user + system from wait4
    peak_rss_kib: int
    started: float
    ended: float
    timed_out: bool = False
    minor_faults: int = 0  # ru_minflt: memory handed back to the OS and touched again

    @property
    def wall_s(self) -> float:
        return self.ended - self.started

    def cpu_at(self, t: float) -> float | None:
        """CPU seconds the child had used at wall time ``t`` (linear between samples)."""
        s = self.cpu_series
        if not s or t < s[0][0] or t > s[-1][0] + 2 * SAMPLE_INTERVAL_S:
            return None
        prev = s[0]
        for point in s:
            if point[0] >= t:
                if point[0] == prev[0]:
                    return point[1]
                frac = (t - prev[0]) / (point[0] - prev[0])
                return prev[1] + frac * (point[1] - prev[1])
            prev = point
        return s[-1][1]

    def cpu_between(self, t0: float, t1: float) -> float | None:
        a, b = self.cpu_at(t0), self.cpu_at(t1)
        return None if a is None or b is None else max(0.0, b - a)

    def find(self, pattern: str | re.Pattern[str]) -> tuple[float, re.Match[str]] | None:
        """The first output line matching ``pattern``, with the time it was read."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        for t, line in self.lines:
            m = rx.search(line)
            if m:
                return t, m
        return None

    def find_last(self, pattern: str | re.Pattern[str]) -> tuple[float, re.Match[str]] | None:
        """The last output line matching ``pattern``, with the time it was read."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        for t, line in reversed(self.lines):
            m = rx.search(line)
            if m:
                return t, m
        return None

    def tail(self, n: int = 5) -> str:
        return " / ".join(line.strip() for _, line in self.lines[-n:] if line.strip())


def _proc_cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data.rsplit(b")", 1)[-1].split()
    try:
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (IndexError, ValueError):
        return None


class MonitoredProcess:
    """A child whose output is read live (with timestamps) and whose CPU is sampled."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        timeout: float,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.command = [str(c) for c in command]
        self.timeout = timeout
        self.env = env
        self.cwd = cwd
        self.on_line = on_line
        self.lines: list[tuple[float, str]] = []
        self.cpu_series: list[tuple[float, float]] = []
        self._proc: subprocess.Popen[str] | None = None
        self._done = threading.Event()
        self._eof = threading.Event()
        self._timed_out = False
        self._threads: list[threading.Thread] = []
        self.started = 0.0

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> MonitoredProcess:
        self.started = time.time()
        command = list(self.command)
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            # Started as a background job of a non-interactive shell, this process ignores
            # SIGINT and so would every child: a JVM then never runs its summary hook and a
            # Python child never sees KeyboardInterrupt. Restore the default in the child just
            # before it execs the contender (costs the child ~0.05 CPU s of start-up).
            command = [sys.executable, "-c", _EXEC_WITH_DEFAULT_SIGINT, *command]
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            env=self.env,
            cwd=self.cwd,
        )
        for target in (self._read, self._sample, self._watchdog):
            t = threading.Thread(target=target, name=f"bench-{target.__name__}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))
            if self.on_line is not None:
                self.on_line(line.rstrip("\n"))
        self._eof.set()

    def _sample(self) -> None:
        pid = self.pid
        while not self._done.is_set():
            cpu = _proc_cpu_seconds(pid)
            if cpu is None:
                break
            self.cpu_series.append((time.time(), cpu))
            self._done.wait(SAMPLE_INTERVAL_S)

    def _watchdog(self) -> None:
        if self._done.wait(self.timeout):
            return
        self._timed_out = True
        self.interrupt()
        if not self._done.wait(15.0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    @property
    def finished(self) -> bool:
        """Its output has ended (no poll(): that would reap the child before wait4 sees it)."""
        return self._eof.is_set()

    def interrupt(self) -> None:
        """SIGINT: every contender ends cleanly with its summary on it."""
        if self._proc is not None and self._proc.returncode is None and not self._done.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._proc.pid, signal.SIGINT)

    def wait(self) -> ProcessResult:
        assert self._proc is not None
        # wait4 (not Popen.wait) for the child's own rusage: CPU and peak RSS of this process only.
        _pid, status, usage = os.wait4(self._proc.pid, 0)
        ended = time.time()
        self._proc.returncode = os.waitstatus_to_exitcode(status)
        self._done.set()
        for t in self._threads:
            t.join(timeout=5.0)
        return ProcessResult(
            command=self.command,
            returncode=self._proc.returncode,
            lines=list(self.lines),
            cpu_series=list(self.cpu_series),
            cpu_total_s=usage.ru_utime + usage.ru_stime,
            peak_rss_kib=usage.ru_maxrss,
            started=self.started,
            ended=ended,
            timed_out=self._timed_out,
            minor_faults=usage.ru_minflt,
        )


_EXEC_WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


def run_process(command: Sequence[str], *, timeout: float, **kwargs: Any) -> ProcessResult:
    return MonitoredProcess(command, timeout=timeout, **kwargs).start().wait()


def child_env() -> dict[str, str]:
    """The environment for contenders: unbuffered output, and no forced GIL setting."""
    env = dict(os.environ)
    env.pop("PYTHON_GIL", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --------------------------------------------------------------------------- interpreters


def _checkout_roots() -> list[Path]:
    roots = [Path.cwd(), *Path.cwd().parents]
    here = Path(__file__).resolve()
    roots += list(here.parents)
    return roots


def _find_venv_python(name: str) -> Path | None:
    for root in _checkout_roots():
        candidate = root / name / "bin" / "python"
        if candidate.exists():
            return candidate
    return None


def ft_python() -> Path | None:
    """The free-threaded interpreter with pulsarload installed (this one, if it is free-threaded)."""
    if os.environ.get(FT_PYTHON_ENV):
        return Path(os.environ[FT_PYTHON_ENV])
    import sysconfig

    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return Path(sys.executable)
    return _find_venv_python(".venv")


def gil_python() -> Path | None:
    """The GIL build of the same CPython (``.venv-gil``), where the official client lives."""
    if os.environ.get(GIL_PYTHON_ENV):
        return Path(os.environ[GIL_PYTHON_ENV])
    return _find_venv_python(".venv-gil")


_PROBE = (
    "import json, sys, sysconfig, platform\n"
    "info = {'version': platform.python_version(),\n"
    "        'free_threaded_build': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),\n"
    "        'gil_enabled': getattr(sys, '_is_gil_enabled', lambda: True)(),\n"
    "        'executable': sys.executable}\n"
    "try:\n"
    "    import pulsarload\n"
    "    info['pulsarload'] = pulsarload.__version__\n"
    "    import pulsarload.load.controller  # noqa: F401\n"
    "    info['gil_after_import'] = getattr(sys, '_is_gil_enabled', lambda: True)()\n"
    "except Exception as exc:\n"
    "    info['pulsarload_error'] = f'{type(exc).__name__}: {exc}'\n"
    "try:\n"
    "    import pulsar\n"
    "    from importlib.metadata import version\n"
    "    info['pulsar_client'] = version('pulsar-client')\n"
    "except Exception:\n"
    "    info['pulsar_client'] = None\n"
    "print(json.dumps(info))\n"
)


def interpreter_facts(python: Path | None) -> dict[str, Any] | None:
    """Version, build and GIL state of ``python``, and whether pulsarload/pulsar-client import."""
    if python is None or not python.exists():
        return None
    try:
        out = subprocess.run(
            [str(python), "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env(),
            check=False,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- settings


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


# --------------------------------------------------------------------------- pulsarload contenders


def pulsarload_produce_command(
    c: Contender, w: Workload, broker: Broker, topic: str, report: Path
) -> list[str]:
    assert c.python is not None
    if c.kind == "official-direct":
        return [
            str(c.python), str(OFFICIAL_SCRIPT), topic, "--service-url", broker.service_url,
            "--size", str(w.size), "--compression", w.compression,
            "--batch-max-messages", str(w.batch_max_messages),
            "--batch-max-bytes", str(w.batch_max_bytes),
            "--batch-delay-ms", str(max(1, round(w.batch_delay_ms))),
            "--max-pending", str(w.max_pending),
            "--duration", f"{w.duration_s:g}", "--warmup", f"{w.warmup_s:g}",
            "--report", str(report),
        ]  # fmt: skip
    cmd = [
        str(c.python), "-m", "pulsarload", "produce", topic, "--headless",
        "-u", broker.service_url, "--admin-url", broker.admin_url,
        "-r", "0", "-s", str(w.size), "-t", str(c.threads), "-z", w.compression,
        "--batch-max-messages", str(w.batch_max_messages),
        "--batch-max-bytes", str(w.batch_max_bytes),
        "--batch-delay-ms", f"{w.batch_delay_ms:g}",
        "--max-pending", str(w.max_pending),
        "--duration", f"{w.duration_s:g}", "--warmup", f"{w.warmup_s:g}",
        "--report", str(report),
    ]  # fmt: skip
    if c.kind == "official":
        cmd += ["--engine", "official"]
    return cmd + list(c.extra_args)  # the last value of a repeated option wins


def _load_report(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _window(report: dict[str, Any]) -> tuple[float, float] | None:
    final = report.get("final") or {}
    t, elapsed = final.get("time"), final.get("elapsed")
    if not t or not elapsed:
        return None
    return float(t) - float(elapsed), float(t)


def _fill_from_report(fig: Figures, report: dict[str, Any], proc: ProcessResult) -> None:
    meta = report.get("meta", {})
    s = meta.get("summary", {})
    interp = meta.get("interpreter", {})
    fig.interpreter = f"CPython {interp.get('version', '?')}" + (
        "t" if interp.get("free_threaded_build") else ""
    )
    fig.gil = "on" if interp.get("gil_enabled") else "off"
    fig.messages = int(s.get("acked", 0))
    fig.msg_rate = s.get("msg_rate")
    fig.mb_rate = s.get("mb_rate")
    fig.p50_ms, fig.p99_ms, fig.p999_ms = s.get("p50_ms"), s.get("p99_ms"), s.get("p999_ms")
    window = _window(report)
    if window is not None:
        fig.raw["window"] = list(window)
        fig.window_s = window[1] - window[0]
        cpu = proc.cpu_between(*window)
        if cpu is not None and fig.messages:
            fig.cpu_s_per_m = cpu / fig.messages * 1e6
            fig.cpu_cores = cpu / fig.window_s if fig.window_s else None
    failures = meta.get("failures") or []
    if failures:
        fig.notes.append(f"worker failures: {failures[0]}")
    fig.raw["producer"] = {"summary": s, "interpreter": interp, "events": meta.get("events", [])}


def _finish(fig: Figures, proc: ProcessResult) -> None:
    fig.cpu_total_s = proc.cpu_total_s
    fig.peak_rss_mb = proc.peak_rss_kib / 1024
    fig.minor_faults = proc.minor_faults
    fig.wall_s = proc.wall_s
    fig.command = proc.command
    if proc.timed_out:
        fig.notes.append("timed out (stopped with SIGINT)")


def run_pulsarload_producer(c: Contender, w: Workload, broker: Broker, workdir: Path) -> Figures:
    """Run ``pulsarload produce --headless`` for one contender and read its JSON report."""
    fig = Figures(w.name, c.key, c.label, c.kind, c.build, c.threads, diagnostic=c.diagnostic)
    fig.topic = fresh_topic(f"bench-{w.name}-{c.key}", w.persistent)
    report = workdir / f"{w.name}-{c.key}.report.json"
    cmd = pulsarload_produce_command(c, w, broker, fig.topic, report)
    with TopicCounter(broker, fig.topic) as counter:
        run_pulsarload_command(fig, cmd, report, w.duration_s + w.warmup_s + START_SLACK_S)
    delete_topic(broker, fig.topic)
    window = fig.raw.get("window")
    if window:
        fig.broker_msg_rate = counter.rate(*window)
    return fig


def run_pulsarload_command(fig: Figures, cmd: list[str], report: Path, timeout: float) -> Figures:
    """Run a ``pulsarload produce --headless ... --report REPORT`` command into ``fig``."""
    report.unlink(missing_ok=True)
    proc = run_process(cmd, timeout=timeout, env=child_env(), cwd=report.parent)
    _finish(fig, proc)
    data = _load_report(report)
    if data is None:
        fig.error = f"exit {proc.returncode}, no report: {proc.tail(3)}"
        return fig
    _fill_from_report(fig, data, proc)
    fig.ok = proc.returncode == 0 and fig.messages > 0
    if not fig.ok and fig.error is None:
        fig.error = f"exit {proc.returncode}, {fig.messages} messages: {proc.tail(3)}"
    return fig


# --------------------------------------------------------------------------- pulsar-perf

_PERF_CREATED = re.compile(r"Created (\d+) producers")
_PERF_DONE = re.compile(r"DONE \(reached the maximum duration")
_PERF_THROUGHPUT = re.compile(
    r"Aggregated throughput stats --- (\d+) records (sent|received) --- ([\d.]+) msg/s"
)
#: pulsar-perf consume's periodic line: the running total, for a consumer that never printed its
#: aggregated summary (stopped by SIGKILL after it ignored SIGINT under load).
_PERF_RECEIVED_SO_FAR = re.compile(r"Throughput received:\s+(\d+) msg")
_PERF_LATENCY = re.compile(
    r"Aggregated (?:end-to-end )?latency stats --- Latency: mean:\s*([\d.]+) ms - med:\s*([\d.]+)"
    r" - 95pct:\s*([\d.]+) - 99pct:\s*([\d.]+) - 99\.9pct:\s*([\d.]+)"
)


def perf_java_command(args: list[str], broker: Broker) -> list[str]:
    """The java command line of pulsar-perf on the local release's classpath (no wrapper process,
    so wait4 sees the JVM itself)."""
    from pulsarload.broker import jvm
    from pulsarload.broker.maven import ensure_classpath
    from pulsarload.broker.perf import perf_command

    settings = LocalBrokerSettings()
    ensure_classpath(settings, quiet=True)
    return perf_command(
        args, settings, jvm.find_java(), service_url=broker.service_url, admin_url=broker.admin_url
    )


def perf_produce_args(w: Workload, broker: Broker, topic: str, *, warmup: bool = True) -> list[str]:
    total = max(1, round(w.duration_s + w.warmup_s))
    return [
        "produce", "-u", broker.service_url, "-au", broker.admin_url,
        "-r", str(PERF_UNLIMITED_RATE), "-s", str(w.size),
        "-time", str(total), "--warmup-time", f"{w.warmup_s if warmup else 0:g}",
        "-o", str(w.max_pending), "-bm", str(w.batch_max_messages),
        "-bb", str(w.batch_max_bytes), "-b", f"{w.batch_delay_ms:g}",
        "-z", w.compression.upper(), topic,
    ]  # fmt: skip


def _perf_latency(proc: ProcessResult) -> tuple[float, float, float] | None:
    found = proc.find(_PERF_LATENCY)
    if found is None:
        return None
    m = found[1]
    return float(m.group(2)), float(m.group(4)), float(m.group(5))


def _perf_summary_lines(proc: ProcessResult) -> list[str]:
    """pulsar-perf's own aggregated summary, kept verbatim in the raw results."""
    keep = ("Aggregated", "Created", "DONE")
    return [line.split(" - ", 1)[-1] for _, line in proc.lines if any(k in line for k in keep)]


def _interrupt_when_done(mp: MonitoredProcess, pattern: re.Pattern[str]) -> Callable[[str], None]:
    """pulsar-perf idles ~5 s after its run before it exits; SIGINT runs its summary hook now."""

    def on_line(line: str) -> None:
        if pattern.search(line):
            threading.Timer(0.5, mp.interrupt).start()

    return on_line


def run_perf_producer(c: Contender, w: Workload, broker: Broker, workdir: Path) -> Figures:
    """Run pulsar-perf produce with the workload's settings and parse its aggregated summary.

    pulsar-perf 4.0.8's aggregated msg/s divides by the time since the JVM started (set-up
    included), and a cold JVM publishes slowly for its first seconds, so msg/s here is the
    broker's count of messages in on the topic over the measured window (producers created +
    warm-up .. DONE), the window the other tools measure too. Latency percentiles are its
    aggregated ones (warm-up excluded, as `--warmup-time` does); CPU is over the same window.
    """
    fig = Figures(w.name, c.key, c.label, c.kind, c.build, c.threads, gil="n/a (JVM)")
    fig.interpreter = "Java"
    fig.topic = fresh_topic(f"bench-{w.name}-{c.key}", w.persistent)
    cmd = perf_java_command(perf_produce_args(w, broker, fig.topic), broker)
    mp = MonitoredProcess(
        cmd, timeout=w.duration_s + w.warmup_s + START_SLACK_S, env=child_env(), cwd=workdir
    )
    mp.on_line = _interrupt_when_done(mp, re.compile(r"Disconnected|Closed Producer"))
    with TopicCounter(broker, fig.topic) as counter:
        proc = mp.start().wait()
    delete_topic(broker, fig.topic)
    _finish(fig, proc)
    created, done, total = (
        proc.find(_PERF_CREATED),
        proc.find(_PERF_DONE),
        proc.find(_PERF_THROUGHPUT),
    )
    fig.raw["producer"] = _perf_summary_lines(proc)
    if created is None or total is None or done is None:
        fig.error = f"exit {proc.returncode}, no summary: {proc.tail(3)}"
        return fig
    start, end = created[0] + w.warmup_s, done[0]
    fig.raw["window"] = [start, end]
    fig.window_s = end - start
    rate = counter.rate(start, end)
    fig.broker_msg_rate = rate
    if rate is None:  # no broker counts: fall back to records over the whole production
        rate = int(total[1].group(1)) / max(1e-9, end - created[0])
        fig.notes.append("msg/s from records sent over the whole production (no broker counts)")
    fig.msg_rate = rate
    fig.mb_rate = rate * w.size / 1e6
    fig.messages = round(rate * fig.window_s)
    fig.raw["records_sent"] = int(total[1].group(1))
    cpu = proc.cpu_between(start, end)
    if cpu is not None and fig.messages:
        fig.cpu_s_per_m = cpu / fig.messages * 1e6
        fig.cpu_cores = cpu / fig.window_s if fig.window_s else None
    lat = _perf_latency(proc)
    if lat is not None:
        fig.p50_ms, fig.p99_ms, fig.p999_ms = lat
    fig.ok = fig.messages > 0
    if not fig.ok:
        fig.error = f"exit {proc.returncode}, {fig.messages} messages: {proc.tail(3)}"
    return fig


# --------------------------------------------------------------------------- admin helpers


def _admin_topic_url(admin_url: str, topic: str) -> str:
    domain, _, name = topic.partition("://")
    if not name:
        domain, name = "persistent", topic
    tenant, ns, local = name.split("/", 2)
    return f"{admin_url.rstrip('/')}/admin/v2/{domain}/{tenant}/{ns}/{quote(local, safe='')}"


def create_topic_with_subscription(broker: Broker, topic: str, subscription: str) -> None:
    """Create the topic and its subscription up front, so no message is missed whoever starts
    first (the consumer attaches to a subscription that already holds everything)."""
    base = _admin_topic_url(broker.admin_url, topic)
    with httpx.Client(timeout=30.0, follow_redirects=True) as http:
        r = http.put(base)
        if r.status_code not in (204, 409):
            raise RuntimeError(f"create topic {topic}: HTTP {r.status_code} {r.text[:200]}")
        r = http.put(f"{base}/subscription/{quote(subscription, safe='')}")
        if r.status_code not in (204, 409):
            raise RuntimeError(f"create subscription: HTTP {r.status_code} {r.text[:200]}")


def delete_topic(broker: Broker, topic: str) -> None:
    """Best effort: drop a finished run's topic so a long suite does not fill the bookie's disk
    (each run writes hundreds of MB; the bookie reclaims a deleted ledger's space at its GC)."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.delete(
            f"{_admin_topic_url(broker.admin_url, topic)}?force=true", timeout=30.0,
            follow_redirects=True,
        )  # fmt: skip


def _subscription_stats(broker: Broker, topic: str, subscription: str) -> dict[str, Any] | None:
    try:
        r = httpx.get(
            f"{_admin_topic_url(broker.admin_url, topic)}/stats", timeout=10.0,
            follow_redirects=True,
        )  # fmt: skip
        return dict(r.json()["subscriptions"][subscription])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def backlog(broker: Broker, topic: str, subscription: str) -> int | None:
    stats = _subscription_stats(broker, topic, subscription)
    try:
        return None if stats is None else int(stats["msgBacklog"])
    except (KeyError, TypeError, ValueError):
        return None


def wait_consumer_attached(
    broker: Broker, topic: str, subscription: str, proc: MonitoredProcess, timeout: float
) -> bool:
    """Wait until a consumer is connected to the subscription (a JVM takes seconds to start;
    starting the producer earlier would put that start-up into the end-to-end latency)."""
    deadline = time.time() + timeout
    while time.time() < deadline and not proc.finished:
        stats = _subscription_stats(broker, topic, subscription)
        if stats and stats.get("consumers"):
            return True
        time.sleep(0.2)
    return False


class TopicCounter:
    """Samples the broker's message counters of a topic every half second: messages published
    to it (``msgInCounter``) and, with a subscription, dispatched to that subscription's
    consumers (its ``msgOutCounter``). One measuring stick for every tool."""

    def __init__(
        self, broker: Broker, topic: str, subscription: str | None = None, interval: float = 0.5
    ) -> None:
        self.url = f"{_admin_topic_url(broker.admin_url, topic)}/stats"
        self.subscription = subscription
        self.interval = interval
        self.series: list[tuple[float, int, int]] = []  # (time, in, out)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-topic-counter", daemon=True)

    def __enter__(self) -> TopicCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15.0)

    def _run(self) -> None:
        with httpx.Client(timeout=5.0, follow_redirects=True) as http:
            while not self._stop.is_set():
                t = time.time()
                try:
                    r = http.get(self.url)
                    if r.status_code == 200:
                        stats = r.json()
                        out = 0
                        if self.subscription:
                            sub = stats.get("subscriptions", {}).get(self.subscription, {})
                            out = int(sub.get("msgOutCounter", 0))
                        self.series.append((t, int(stats.get("msgInCounter", 0)), out))
                except (httpx.HTTPError, ValueError, TypeError, AttributeError):
                    pass
                self._stop.wait(self.interval)

    def count_at(self, t: float, column: int = 1) -> float | None:
        """The counter (1 = in, 2 = out) at time ``t``, linear between samples."""
        s = self.series
        if len(s) < 2 or t < s[0][0] - self.interval or t > s[-1][0] + 2 * self.interval:
            return None
        if t <= s[0][0]:
            return float(s[0][column])
        for a, b in zip(s, s[1:], strict=False):
            if a[0] <= t <= b[0]:
                if b[0] == a[0]:
                    return float(b[column])
                return a[column] + (b[column] - a[column]) * (t - a[0]) / (b[0] - a[0])
        return float(s[-1][column])

    def rate(self, t0: float, t1: float, column: int = 1) -> float | None:
        a, b = self.count_at(t0, column), self.count_at(t1, column)
        return None if a is None or b is None or t1 <= t0 else (b - a) / (t1 - t0)


# --------------------------------------------------------------------------- producer + consumer


@dataclass(frozen=True)
class ConsumerSide:
    """Who consumes in a producer+consumer run."""

    kind: str  # "native", "official" or "pulsar-perf"
    python: Path | None = None
    label: str = ""


def pulsarload_consume_command(
    side: ConsumerSide, broker: Broker, topic: str, subscription: str, report: Path
) -> list[str]:
    assert side.python is not None
    cmd = [
        str(side.python), "-m", "pulsarload", "consume", topic, "--headless",
        "-u", broker.service_url, "--admin-url", broker.admin_url,
        "--subscription", subscription, "--initial-position", "earliest",
        "--report", str(report),
    ]  # fmt: skip
    cmd += ["--engine", "official" if side.kind == "official" else "native"]
    return cmd


def _stop_after_drain(
    consumer: MonitoredProcess, broker: Broker, topic: str, subscription: str
) -> float:
    """Wait until the subscription's backlog is empty (or a timeout), then stop the consumer;
    returns when the backlog was seen empty."""
    deadline = time.time() + DRAIN_TIMEOUT_S
    drained = time.time()
    while time.time() < deadline:
        left = backlog(broker, topic, subscription)
        drained = time.time()
        if left == 0:
            break
        time.sleep(0.2)
    consumer.interrupt()
    return drained


def run_pair(
    producer: Contender, side: ConsumerSide, w: Workload, broker: Broker, workdir: Path
) -> Figures:
    """Producer and consumer on one subscription, with the workload's warm-up and duration.

    Topic and subscription are created first and the consumer attached before the producer
    starts. Produce msg/s is the producer's own figure (pulsar-perf: the broker's count, as in
    ``run_perf_producer``); consume msg/s is the broker's count of messages dispatched to the
    subscription over the producer's measured window: the consumer only gets more as it frees
    receiver-queue permits, so that is its consumption rate. End-to-end latency is the
    consumer's own report.
    """
    fig = Figures(
        w.name, producer.key, producer.label, producer.kind, producer.build, producer.threads
    )
    fig.consumer = side.label
    fig.topic = fresh_topic(f"bench-{w.name}-{producer.key}", w.persistent)
    subscription = "bench-sub"
    if w.persistent:  # a non-persistent subscription exists only while its consumer is attached
        create_topic_with_subscription(broker, fig.topic, subscription)
    timeout = w.duration_s + w.warmup_s + START_SLACK_S
    c_report = workdir / f"{w.name}-{producer.key}.consumer.json"
    c_report.unlink(missing_ok=True)
    if side.kind == "pulsar-perf":
        c_cmd = perf_java_command(
            ["consume", "-u", broker.service_url, "-ss", subscription, "-st", "Exclusive",
             "-q", "1000", fig.topic],
            broker,
        )  # fmt: skip
    else:
        c_cmd = pulsarload_consume_command(side, broker, fig.topic, subscription, c_report)
    consumer = MonitoredProcess(
        c_cmd, timeout=timeout + DRAIN_TIMEOUT_S + 30, env=child_env(), cwd=workdir
    )
    with TopicCounter(broker, fig.topic, subscription) as counter:
        consumer.start()
        if not wait_consumer_attached(broker, fig.topic, subscription, consumer, START_SLACK_S):
            fig.notes.append("consumer not seen attached before the producer started")
        p_report = workdir / f"{w.name}-{producer.key}.report.json"
        p_report.unlink(missing_ok=True)
        if producer.kind == "pulsar-perf":
            p_cmd = perf_java_command(perf_produce_args(w, broker, fig.topic), broker)
            pm = MonitoredProcess(p_cmd, timeout=timeout, env=child_env(), cwd=workdir)
            pm.on_line = _interrupt_when_done(pm, re.compile(r"Disconnected|Closed Producer"))
        else:
            p_cmd = pulsarload_produce_command(producer, w, broker, fig.topic, p_report)
            pm = MonitoredProcess(p_cmd, timeout=timeout, env=child_env(), cwd=workdir)
        p_proc = pm.start().wait()
        _stop_after_drain(consumer, broker, fig.topic, subscription)
        c_proc = consumer.wait()
    delete_topic(broker, fig.topic)
    _finish(fig, p_proc)
    window: tuple[float, float] | None = None
    if producer.kind == "pulsar-perf":
        fig.interpreter, fig.gil = "Java", "n/a (JVM)"
        created, done = p_proc.find(_PERF_CREATED), p_proc.find(_PERF_DONE)
        fig.raw["producer"] = _perf_summary_lines(p_proc)
        if created and done:
            window = (created[0] + w.warmup_s, done[0])
            fig.msg_rate = counter.rate(*window)
            if fig.msg_rate:
                fig.messages = round(fig.msg_rate * (window[1] - window[0]))
                fig.mb_rate = fig.msg_rate * w.size / 1e6
        lat = _perf_latency(p_proc)
        if lat:
            fig.p50_ms, fig.p99_ms, fig.p999_ms = lat
    else:
        data = _load_report(p_report)
        if data is not None:
            _fill_from_report(fig, data, p_proc)
            window = _window(data)
    if window is not None:
        fig.window_s = window[1] - window[0]
        fig.broker_msg_rate = counter.rate(*window)
        fig.consume_rate = counter.rate(*window, column=2)
        cpu = p_proc.cpu_between(*window)
        if cpu is not None and fig.messages:
            fig.cpu_s_per_m = cpu / fig.messages * 1e6
            fig.cpu_cores = cpu / fig.window_s
        ccpu = c_proc.cpu_between(*window)
        if ccpu is not None and fig.consume_rate:
            fig.consumer_cpu_s_per_m = ccpu / (fig.consume_rate * fig.window_s) * 1e6
    if side.kind == "pulsar-perf":
        total = c_proc.find(_PERF_THROUGHPUT)
        if total is not None:
            fig.received = int(total[1].group(1))
        else:
            so_far = c_proc.find_last(_PERF_RECEIVED_SO_FAR)
            fig.received = int(so_far[1].group(1)) if so_far else 0
            if so_far:
                fig.notes.append(
                    "pulsar-perf's consumer printed no summary (it was killed): received is its "
                    "last periodic count, and it reported no end-to-end latency"
                )
        lat = _perf_latency(c_proc)
        if lat:
            fig.e2e_p50_ms, fig.e2e_p99_ms, fig.e2e_p999_ms = lat
        fig.raw["consumer"] = _perf_summary_lines(c_proc)
    else:
        c_data = _load_report(c_report)
        if c_data is not None:
            cs = c_data.get("meta", {}).get("summary", {})
            fig.raw["consumer"] = {"summary": cs, "interpreter": c_data["meta"].get("interpreter")}
            fig.received = int(cs.get("received", 0))
            fig.e2e_p50_ms, fig.e2e_p99_ms = cs.get("p50_ms"), cs.get("p99_ms")
            fig.e2e_p999_ms = cs.get("p999_ms")
    fig.consumer_peak_rss_mb = c_proc.peak_rss_kib / 1024
    fig.raw["sent_total"] = counter.series[-1][1] if counter.series else None
    fig.ok = fig.messages > 0 and fig.received > 0
    if not fig.ok:
        fig.error = (
            f"producer exit {p_proc.returncode} ({fig.messages} msgs; {p_proc.tail(2)}); "
            f"consumer exit {c_proc.returncode} ({fig.received} msgs; {c_proc.tail(2)})"
        )
    sent = fig.raw["sent_total"]
    if fig.received and sent and fig.received < sent:
        fig.notes.append(f"consumer received {fig.received:,} of {sent:,} before it was stopped")
    return fig


def native_consumer_status(python: Path | None, broker: Broker, workdir: Path) -> str | None:
    """None when the native consumer works here; otherwise why not (checked by running it)."""
    if python is None:
        return "no free-threaded interpreter"
    probe = subprocess.run(
        [str(python), "-c", "import pulsarload.engines.native_consumer"],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
        timeout=60,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["import failed"])[-1]
        return f"pulsarload.engines.native_consumer does not import ({last})"
    topic = fresh_topic("bench-consumer-probe")
    report = workdir / "native-consumer-probe.json"
    report.unlink(missing_ok=True)
    cmd = [
        str(python), "-m", "pulsarload", "consume", topic, "--headless", "-u", broker.service_url,
        "--admin-url", broker.admin_url, "--duration", "2", "--report", str(report),
    ]  # fmt: skip
    proc = run_process(cmd, timeout=60, env=child_env(), cwd=workdir)
    if proc.returncode != 0 or not report.exists():
        return f"`pulsarload consume --headless` failed (exit {proc.returncode}: {proc.tail(2)})"
    return None
