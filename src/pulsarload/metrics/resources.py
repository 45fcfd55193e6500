"""Process and thread resources, network byte counters, and interpreter facts.

The sampler calls ``ResourceMonitor.sample()`` once per tick. Per-thread CPU comes from each
thread's POSIX CPU clock (``time.pthread_getcpuclockid``), taken by the worker itself while it is
alive (see ``RecorderSlot.bind_current_thread``); reading another thread's clock by id is plain
``clock_gettime`` and returns an error, not garbage, once that thread has exited. Where that clock
is unavailable, ``/proc/self/task/<tid>/stat`` (10 ms resolution) is the fallback.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
import time
import tracemalloc
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "InterpreterInfo",
    "NoNet",
    "NetSource",
    "ResourceMonitor",
    "ResourceStats",
    "gil_enabled",
    "interpreter_info",
]

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is a declared dependency
    psutil = None  # type: ignore[assignment]

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def gil_enabled() -> bool:
    """Is the GIL on right now? (An extension without free-threading support turns it on.)"""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


@dataclass(frozen=True, slots=True)
class InterpreterInfo:
    """Facts about the running interpreter that the dashboard shows next to the numbers."""

    implementation: str
    version: str
    free_threaded_build: bool
    gil_enabled: bool
    cpu_count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "implementation": self.implementation,
            "version": self.version,
            "free_threaded_build": self.free_threaded_build,
            "gil_enabled": self.gil_enabled,
            "cpu_count": self.cpu_count,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InterpreterInfo:
        return cls(
            str(d["implementation"]),
            str(d["version"]),
            bool(d["free_threaded_build"]),
            bool(d["gil_enabled"]),
            int(d["cpu_count"]),
        )


def interpreter_info() -> InterpreterInfo:
    return InterpreterInfo(
        implementation=sys.implementation.name,
        version=sys.version.split()[0],
        free_threaded_build=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        gil_enabled=gil_enabled(),
        cpu_count=os.cpu_count() or 1,
    )


class NetSource(Protocol):
    """Where the monitor reads socket bytes: the load layer's view of an engine's own counters
    (the metrics layer does not know engines)."""

    def net_totals(self) -> tuple[int, int, int]:
        """(bytes in, bytes out, open connections), cumulative and never going down."""
        ...


class NoNet:
    """A `NetSource` for a monitor with nothing to count (no engine, or one that cannot)."""

    def net_totals(self) -> tuple[int, int, int]:
        return 0, 0, 0


@dataclass(frozen=True, slots=True)
class ResourceStats:
    """Resources at the end of one interval (rates and percentages over that interval)."""

    process_cpu_percent: float = 0.0  # 100 = one core fully busy
    process_cpu_seconds: float = 0.0  # cumulative user + system
    rss_bytes: int = 0
    py_heap_bytes: int | None = None  # tracemalloc, when enabled
    py_allocated_blocks: int = 0
    threads: int = 0  # OS threads of the process
    python_threads: int = 0
    net_bytes_in: int = 0  # cumulative
    net_bytes_out: int = 0
    net_in_per_s: float = 0.0
    net_out_per_s: float = 0.0
    connections: int = 0
    gil_enabled: bool = False
    free_threaded_build: bool = False
    thread_cpu_percent: dict[str, float] = field(default_factory=dict)  # native id -> %

    def to_dict(self) -> dict[str, Any]:
        return {
            "process_cpu_percent": self.process_cpu_percent,
            "process_cpu_seconds": self.process_cpu_seconds,
            "rss_bytes": self.rss_bytes,
            "py_heap_bytes": self.py_heap_bytes,
            "py_allocated_blocks": self.py_allocated_blocks,
            "threads": self.threads,
            "python_threads": self.python_threads,
            "net_bytes_in": self.net_bytes_in,
            "net_bytes_out": self.net_bytes_out,
            "net_in_per_s": self.net_in_per_s,
            "net_out_per_s": self.net_out_per_s,
            "connections": self.connections,
            "gil_enabled": self.gil_enabled,
            "free_threaded_build": self.free_threaded_build,
            "thread_cpu_percent": dict(self.thread_cpu_percent),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResourceStats:
        heap = d.get("py_heap_bytes")
        return cls(
            process_cpu_percent=float(d["process_cpu_percent"]),
            process_cpu_seconds=float(d["process_cpu_seconds"]),
            rss_bytes=int(d["rss_bytes"]),
            py_heap_bytes=None if heap is None else int(heap),
            py_allocated_blocks=int(d["py_allocated_blocks"]),
            threads=int(d["threads"]),
            python_threads=int(d["python_threads"]),
            net_bytes_in=int(d["net_bytes_in"]),
            net_bytes_out=int(d["net_bytes_out"]),
            net_in_per_s=float(d["net_in_per_s"]),
            net_out_per_s=float(d["net_out_per_s"]),
            connections=int(d["connections"]),
            gil_enabled=bool(d["gil_enabled"]),
            free_threaded_build=bool(d["free_threaded_build"]),
            thread_cpu_percent={str(k): float(v) for k, v in d["thread_cpu_percent"].items()},
        )


def thread_cpu_seconds(native_id: int, clock_id: int | None = None) -> float | None:
    """CPU seconds used so far by one thread of this process, or None if it is gone."""
    if clock_id is not None:
        try:
            return time.clock_gettime(clock_id)
        except OSError:
            return None
    try:
        with open(f"/proc/self/task/{native_id}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    rest = data[data.rindex(b")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / _CLK_TCK


class ResourceMonitor:
    """Samples process resources; keeps the previous reading to turn totals into rates."""

    def __init__(self, net: NetSource | None = None, trace_python_heap: bool = False) -> None:
        self._net: NetSource = net if net is not None else NoNet()
        self._proc = psutil.Process() if psutil is not None else None
        self._free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
        self._last_time: float | None = None
        self._last_cpu = 0.0
        self._last_net = (0, 0)
        self._last_thread_cpu: dict[int, float] = {}
        self._tracing = False
        if trace_python_heap:
            self.enable_heap_tracing()

    def enable_heap_tracing(self) -> None:
        """Start tracemalloc (it slows allocation noticeably: off unless asked for)."""
        if not tracemalloc.is_tracing():
            tracemalloc.start()
        self._tracing = True

    def disable_heap_tracing(self) -> None:
        if self._tracing and tracemalloc.is_tracing():
            tracemalloc.stop()
        self._tracing = False

    def _process_cpu_seconds(self) -> float:
        t = os.times()
        return t.user + t.system

    def sample(self, threads: Iterable[tuple[int, int | None]] = ()) -> ResourceStats:
        """Read everything once. ``threads`` gives (native id, cpu clock id) pairs to time."""
        now = time.monotonic()
        cpu = self._process_cpu_seconds()
        net_in, net_out, connections = self._net.net_totals()
        dt = None if self._last_time is None else now - self._last_time
        rss = 0
        os_threads = 0
        if self._proc is not None:
            try:
                rss = self._proc.memory_info().rss
                os_threads = self._proc.num_threads()
            except Exception:  # noqa: BLE001 - a failed read must not stop sampling
                pass
        thread_pct: dict[str, float] = {}
        seen: dict[int, float] = {}
        for native_id, clock_id in threads:
            t = thread_cpu_seconds(native_id, clock_id)
            if t is None:
                continue
            seen[native_id] = t
            prev = self._last_thread_cpu.get(native_id)
            if dt and prev is not None:
                thread_pct[str(native_id)] = max(0.0, (t - prev) / dt * 100.0)
        self._last_thread_cpu = seen
        if dt:
            cpu_pct = max(0.0, (cpu - self._last_cpu) / dt * 100.0)
            in_rate = (net_in - self._last_net[0]) / dt
            out_rate = (net_out - self._last_net[1]) / dt
        else:
            cpu_pct = in_rate = out_rate = 0.0
        self._last_time, self._last_cpu, self._last_net = now, cpu, (net_in, net_out)
        heap = tracemalloc.get_traced_memory()[0] if self._tracing else None
        return ResourceStats(
            process_cpu_percent=cpu_pct,
            process_cpu_seconds=cpu,
            rss_bytes=rss,
            py_heap_bytes=heap,
            # Not on free-threaded builds: there it walks every thread's mimalloc heap, and
            # called 10x a second while other threads allocate and free large buffers it makes
            # RSS grow without bound (hundreds of MB a minute on CPython 3.13.5t; see
            # docs/reliability.md). 0 there.
            py_allocated_blocks=0 if self._free_threaded else sys.getallocatedblocks(),
            threads=os_threads,
            python_threads=threading.active_count(),
            net_bytes_in=net_in,
            net_bytes_out=net_out,
            net_in_per_s=in_rate,
            net_out_per_s=out_rate,
            connections=connections,
            gil_enabled=gil_enabled(),
            free_threaded_build=self._free_threaded,
            thread_cpu_percent=thread_pct,
        )
