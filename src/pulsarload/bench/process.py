"""A contender's child process: its output read live, its CPU sampled, its own rusage at exit.

Why subprocesses: each contender's CPU time and peak memory must be its own. ``os.wait4`` gives the
child's rusage (user+system CPU) without the broker's share, and a sampler thread reads
``/proc/PID/stat`` every 100 ms so CPU can also be taken over just the measured window: a JVM
spends seconds of CPU starting up, which says nothing about its cost per message.

Peak memory is the child's own high-water mark (``VmHWM`` in ``/proc/PID/status``, sampled with the
CPU), not ``wait4``'s ``ru_maxrss``: Linux carries the parent's resident size at fork over the
exec into the child's ``ru_maxrss``, so a small contender started by a large runner would report
the runner's memory.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE_INTERVAL_S = 0.1


@dataclass
class ProcessResult:
    """What one child process did: its output lines, CPU over time, and its wait4 rusage."""

    command: list[str]
    returncode: int
    lines: list[tuple[float, str]]  # (wall time.time(), line)
    cpu_series: list[tuple[float, float]]  # (wall time, CPU seconds so far)
    cpu_total_s: float  # user + system from wait4
    peak_rss_kib: int  # VmHWM sampled while it ran; 0 when never sampled
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


def _proc_peak_rss_kib(pid: int) -> int | None:
    """The process's resident high-water mark since its exec (``VmHWM``), in KiB."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


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
        self.peak_rss_kib = 0  # the largest VmHWM sampled
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
            self.peak_rss_kib = max(self.peak_rss_kib, _proc_peak_rss_kib(pid) or 0)
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
            peak_rss_kib=self.peak_rss_kib,
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
