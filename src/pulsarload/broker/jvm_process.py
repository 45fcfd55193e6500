"""One part of the local cluster as a detached JVM: launch it, know its pid, stop it.

The JVM runs in its own session (a Ctrl-C in the terminal that started it does not reach it,
and `stop` ends its whole process group), writes stdout and stderr to its log, and is tracked
by its pid file. A pid counts only while the process behind it runs the part's main class with
the part's config file (`procs.command_has`).
"""

from __future__ import annotations

import signal
import subprocess
import time

from pulsarload.broker import jvm
from pulsarload.broker.cluster_parts import Part
from pulsarload.broker.errors import BrokerError
from pulsarload.broker.procs import (
    command_has,
    process_alive,
    read_pid,
    signal_group,
    tail_file,
)

# Children this process started, so `stop` can reap them (a zombie still answers kill 0).
_children: dict[int, subprocess.Popen[bytes]] = {}


def pid_of(part: Part) -> int | None:
    """The part's live pid, or None (a stale pid file is removed)."""
    pid = read_pid(part.pid_file)
    if pid is None:
        return None
    _reap(pid)
    if command_has(pid, part.main_class, str(part.conf_file)):
        return pid
    part.pid_file.unlink(missing_ok=True)
    return None


def exit_code(pid: int) -> int | None:
    """The exit code of a child of this process that has exited, else None."""
    proc = _children.get(pid)
    return proc.poll() if proc is not None else None


def launch(part: Part, cmd: list[str]) -> int:
    """Start `cmd` detached with its output in the part's log; record and return its pid."""
    proc = jvm.launch_detached(cmd, log=part.log_path, cwd=part.folder, pid_file=part.pid_file)
    _children[proc.pid] = proc
    return proc.pid


def alive(pid: int) -> bool:
    _reap(pid)
    return process_alive(pid)


def signal_part(part: Part, sig: signal.Signals) -> int | None:
    """Send `sig` to the part's JVM (its recorded, verified pid); the pid, or None if none."""
    pid = pid_of(part)
    if pid is not None:
        signal_group(pid, sig)
    return pid


def stop_all(parts: list[Part], timeout: float) -> list[str]:
    """TERM every running part at once, KILL what is left after `timeout`; the names stopped."""
    running = {p.name: (p, pid) for p in parts if (pid := pid_of(p)) is not None}
    for _part, pid in running.values():
        signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    left = dict(running)
    while left:
        left = {n: (p, pid) for n, (p, pid) in left.items() if alive(pid)}
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    for _part, pid in left.values():
        signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15.0
    while any(alive(pid) for _p, pid in left.values()):
        if time.monotonic() >= deadline:
            stuck = ", ".join(f"{n} (pid {pid})" for n, (_p, pid) in left.items() if alive(pid))
            raise BrokerError(f"{stuck} did not exit even after SIGKILL; check with `ps`")
        time.sleep(0.2)
    for part, _pid in running.values():
        part.pid_file.unlink(missing_ok=True)
    return list(running)


def failure(part: Part, what: str, lines: int = 20) -> str:
    """One line saying what went wrong with `part` and where its log is, then the log's tail."""
    tail = tail_file(part.log_path, lines).rstrip()
    msg = f"{part.name}: {what}; see {part.log_path}"
    return f"{msg}\n--- last lines of {part.log_path.name} ---\n{tail}" if tail else msg


def _reap(pid: int) -> None:
    """Collect the exit status of our own child, so an exited JVM is not a live zombie."""
    proc = _children.get(pid)
    if proc is not None:
        proc.poll()
