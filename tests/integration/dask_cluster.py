"""A Dask cluster started the way a user starts one: `dask scheduler` and `dask worker` command
lines on loopback, each a process of its own (workers without a nanny, so that a test can
kill -9 exactly one worker process). Stopped by pid, never by name."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
DASK = str(Path(sys.executable).with_name("dask"))
START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(extra_path: str | None = None) -> dict[str, str]:
    """Our source first on the path (also in CI's fresh clone), the test's extra before it;
    this folder too, so that the helpers below can run on a worker by reference."""
    env = dict(os.environ)
    paths = [p for p in (extra_path, str(SRC), str(HERE), env.get("PYTHONPATH")) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    # The test machine is shared and can be very busy: bounds, not paces.
    env.setdefault("PULSARLOAD_CLUSTER_TIMEOUT", "60")
    env.setdefault("DASK_DISTRIBUTED__WORKER__DAEMON", "False")
    # As docs/distributed.md tells users: Dask's profiler crashes free-threaded processes.
    env.setdefault("DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED", "False")
    # A crash in a child (a coordinator or a Dask worker) prints every thread's stack.
    env.setdefault("PYTHONFAULTHANDLER", "1")
    return env


@dataclass
class CliCluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)
    log_dir: Path | None = None

    def add_worker(
        self, name: str, extra_path: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb") if self.log_dir else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(
            [
                DASK,
                "worker",
                self.address,
                "--name",
                name,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
            ],
            env={**child_env(extra_path), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, count: int, timeout: float = START_TIMEOUT_S) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(count, timeout=timeout)

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def start_cli_cluster(workers: int, log_dir: Path | None = None) -> CliCluster:
    port = free_port()
    log = open(log_dir / "scheduler.log", "wb") if log_dir else subprocess.DEVNULL  # noqa: SIM115
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env=child_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    cluster = CliCluster(f"tcp://127.0.0.1:{port}", scheduler, log_dir=log_dir)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited with {scheduler.returncode}")
            with socket.socket() as s:
                s.settimeout(1)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not listen in time")
            time.sleep(0.3)
        for i in range(workers):
            cluster.add_worker(f"w{i}")
        if workers:
            cluster.wait_for_workers(workers)
    except BaseException:
        cluster.stop()
        raise
    return cluster


LEFTOVER_THREADS = ("producer-", "consumer-", "metrics-sampler", "load-control", "pulsar-reader")


def leftovers(dask_worker) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Run on a worker after a run: actors and threads of ours that are still there."""
    import threading

    return {
        "actors": len(dask_worker.state.actors),
        "threads": sorted(
            t.name for t in threading.enumerate() if t.name.startswith(LEFTOVER_THREADS)
        ),
    }


def worker_gil(dask_worker) -> bool:  # type: ignore[no-untyped-def]
    return bool(sys._is_gil_enabled())
