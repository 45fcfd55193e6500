"""Where a benchmark runs: the machine's facts, the broker it measures against, the disk guard.

The facts (CPU, cores, memory, interpreters, Java, Pulsar, the code's commit, the load average)
go at the top of every results file; the broker is the one given, else the local standalone
(or cluster), started for the run when it is not up and stopped again afterwards.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulsarload.bench.interpreters import ft_python, gil_python, interpreter_facts
from pulsarload.bench.model import Broker
from pulsarload.broker.disk import disk_problem
from pulsarload.config import (
    DEFAULT_DISK_MIN_FREE_GIB,
    PULSAR_VERSION,
    LocalBrokerSettings,
    LocalClusterSettings,
)

Echo = Callable[[str], None]


def _first(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except (OSError, ValueError):
        pass
    return None


def machine_facts() -> dict[str, Any]:
    """CPU, cores, memory, interpreters, Java, Pulsar, the code under test, and current load."""
    from pulsarload.broker import jvm
    from pulsarload.broker.errors import BrokerError

    try:
        java = jvm.find_java()
        java_version = _first([java.path, "-version"])
    except BrokerError:
        java_version = "not found"
    repo = Path(__file__).resolve().parents[3]
    commit = _first(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_total_gib": _mem_total_gib(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python_free_threaded": interpreter_facts(ft_python()),
        "python_gil": interpreter_facts(gil_python()),
        "java": java_version,
        "pulsar": PULSAR_VERSION,
        "git_commit": commit,
        "git_modified_files": len(dirty.splitlines()) if dirty else 0,
        "loadavg_start": list(os.getloadavg()),
    }


# --------------------------------------------------------------------------- broker


class BrokerHandle:
    """The broker to measure against: PULSAR_BROKER_URL/PULSAR_ADMIN_URL, else the local
    standalone, or with ``cluster_brokers`` the local cluster (through its proxy unless
    ``cluster_proxy`` is off: then a service URL with every broker). What this handle started
    it stops again at the end."""

    def __init__(
        self, service_url: str | None, admin_url: str | None, echo: Echo, *,
        cluster_brokers: int = 0, cluster_proxy: bool = True,
    ) -> None:  # fmt: skip
        self.echo = echo
        self.started: Any = None
        if cluster_brokers:
            self._cluster(cluster_brokers, cluster_proxy)
            return
        service_url = service_url or os.environ.get("PULSAR_BROKER_URL")
        admin_url = admin_url or os.environ.get("PULSAR_ADMIN_URL")
        if service_url or admin_url:
            local = LocalBrokerSettings()
            self.broker = Broker(service_url or local.service_url, admin_url or local.admin_url)
            return
        from pulsarload.broker.standalone import StandaloneBroker

        sb = StandaloneBroker(LocalBrokerSettings())
        status = sb.status()
        if not (status.running and status.ready):
            echo("starting the local Pulsar standalone (pulsarload broker start) ...")
            status = sb.start()
            self.started = sb
        self.broker = Broker(status.service_url, status.admin_url)

    def _cluster(self, brokers: int, proxy: bool) -> None:
        from pulsarload.broker.cluster import LocalCluster

        lc = LocalCluster(LocalClusterSettings(brokers=brokers, proxy=True))
        status = lc.status()
        if not status.ready:
            self.echo(f"starting the local cluster ({brokers} brokers and a proxy) ...")
            status = lc.start()
            self.started = lc
        s = lc.settings
        self.broker = Broker(s.proxy_service_url if proxy else s.broker_service_url, s.admin_url)

    def close(self) -> None:
        if self.started is not None:
            self.echo("stopping the local Pulsar this run started")
            self.started.stop()


class DiskFull(Exception):
    """The local bookie's disk is about to fill: the suite stops before it does."""


#: A local bookie refuses writes at 99 % disk use, and a full run writes tens of GB (each topic
#: is deleted after its run; the bookie frees the space at its next GC): stop before that.
MIN_FREE_BYTES = int(DEFAULT_DISK_MIN_FREE_GIB * 1024**3)


def check_disk(broker: Broker) -> None:
    """Raise DiskFull when a broker on this machine is about to run out of disk (the guard
    that load runs use too)."""
    problem = disk_problem(broker.service_url, MIN_FREE_BYTES)
    if problem:
        raise DiskFull(problem)
