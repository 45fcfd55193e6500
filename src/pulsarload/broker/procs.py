"""Processes the broker layer starts: pid files, "is it still ours", signals, logs and ports.

Shared by the standalone and the local cluster. A pid is only trusted when the process behind it
still runs with the command line we gave it, so a stale pid file, or a pid the kernel has since
given to another program, is never signalled.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from pulsarload.broker.errors import BrokerError


def port_in_use(port: int, host: str = "0.0.0.0") -> bool:
    """Whether something already listens on `port` (any address), checked by binding to it.

    SO_REUSEADDR is set, as the JVM sets it, so ports left in TIME_WAIT by an earlier run do
    not count as taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def read_pid(pid_file: Path) -> int | None:
    """The pid in the file, or None when there is no file or it holds no positive integer."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


def proc_state(pid: int) -> str | None:
    """The process state letter from /proc (R, S, D, Z, ...), or None when there is no process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def process_alive(pid: int) -> bool:
    """Whether `pid` exists and has not exited (a zombie has exited)."""
    if Path("/proc/self").exists():
        return proc_state(pid) not in (None, "Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmdline(pid: int) -> str | None:
    """The command line of a live `pid`, or None.

    Right after exec (and while a process exits) /proc shows an empty command line for a few
    milliseconds, so an empty one is read again briefly before it counts as "not ours".
    """
    if Path("/proc/self").exists():
        for _ in range(25):
            if proc_state(pid) in (None, "Z", "X"):
                return None
            try:
                raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return None
            if raw:
                return raw.replace(b"\0", b" ").decode(errors="replace")
            time.sleep(0.01)
        return None
    try:  # no /proc (macOS): ask ps
        out = subprocess.run(
            ["ps", "-o", "stat=,command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not out or out.startswith("Z"):
        return None
    return out.split(None, 1)[1] if " " in out else None


def command_has(pid: int, *markers: str) -> bool:
    """Whether `pid` is alive and its command line contains every one of `markers` (a main
    class and a config path, so a pid the kernel gave to another program is never ours)."""
    cmd = cmdline(pid)
    return cmd is not None and all(marker in cmd for marker in markers)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the JVM's process group (it leads its own session), or just the pid."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise BrokerError(f"not allowed to signal broker pid {pid} ({exc})") from None


def tail_file(path: Path, lines: int) -> str:
    """The last `lines` lines of a text file, reading only its end."""
    if lines <= 0:
        return ""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            block, data = 8192, b""
            while size > 0 and data.count(b"\n") <= lines:
                step = min(block, size)
                size -= step
                f.seek(size)
                data = f.read(step) + data
                block *= 2
    except OSError:
        return ""
    text = data.decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:]) + ("\n" if text else "")
