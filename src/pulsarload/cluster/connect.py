"""Reaching a Dask cluster, checking it, and choosing the workers that get a shard.

Everything here happens before any load starts, and every way it can fail is one line
(`ClusterError`): the scheduler does not answer, too few workers turn up within the wait,
a worker has no pulsarload or another version of it, or runs Dask's sampling profiler on a
free-threaded interpreter (see `PROFILER_OFF`). Placement spreads shards across hosts
first (round robin over hosts, each host's workers in address order), so 4 shards on 2 hosts
of 4 workers each land 2 and 2, not 4 on the first host.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulsarload import __version__
from pulsarload.config import RunSettings
from pulsarload.errors import UserError

__all__ = [
    "PROFILER_OFF",
    "ClusterError",
    "DaskCluster",
    "WorkerInfo",
    "check_profiler",
    "check_versions",
    "place_shards",
]

#: Dask's sampling profiler (on by default in every scheduler, nanny and worker) reads the
#: frames of other running threads from a thread of its own. Without a GIL nothing stops those
#: frames changing under it: on free-threaded CPython it crashes the process (SIGSEGV in
#: `distributed/profile.py`), seen on busy machines within a few minutes. Our local clusters
#: start with it off; workers started by hand need this in their environment.
PROFILER_OFF = {"distributed.worker.profile.enabled": False}
PROFILER_ENV = "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False"


class ClusterError(UserError):
    """A cluster that cannot carry the run: said in one line before any load starts."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    address: str
    host: str
    facts: dict[str, Any]  # from the probe: versions, GIL, pid, clock


# The probe runs on every worker before anything of pulsarload is sent there. It is compiled
# here under a module name no worker can import, so that Dask's pickling ships it by value:
# a worker without pulsarload answers "missing" instead of failing to unpickle the call.
_PROBE_SOURCE = """
def probe():
    import os, socket, sys, sysconfig, time
    try:
        import pulsarload
        version = getattr(pulsarload, "__version__", "unknown")
    except Exception as err:
        version = None
        why = f"{type(err).__name__}: {err}"
    else:
        why = None
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    try:
        import dask
        profiler = bool(dask.config.get("distributed.worker.profile.enabled", default=False))
    except Exception:
        profiler = False
    return {
        "dask_profiler": profiler,
        "pulsarload": version,
        "import_error": why,
        "python": sys.version.split()[0],
        "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": bool(gil),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "time": time.time(),
    }
"""


def _make_probe() -> Any:
    namespace: dict[str, Any] = {"__name__": "pulsarload_remote_probe"}
    exec(compile(_PROBE_SOURCE, "<pulsarload probe>", "exec"), namespace)
    return namespace["probe"]


def check_versions(facts: Mapping[str, Mapping[str, Any]], want: str = __version__) -> None:
    """Refuse a worker without pulsarload, or with another version of it (one line)."""
    for address, f in sorted(facts.items()):
        if f.get("pulsarload") is None:
            raise ClusterError(
                f"Dask worker {address} cannot import pulsarload ({f.get('import_error')}); "
                f"install pulsarload {want} in the workers' environment (see docs/distributed.md)"
            )
        if f["pulsarload"] != want:
            raise ClusterError(
                f"Dask worker {address} has pulsarload {f['pulsarload']}, this is {want}; "
                "run the same version everywhere (one container image for both)"
            )


def check_profiler(facts: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse a free-threaded worker that runs Dask's profiler (it would crash mid-run)."""
    for address, f in sorted(facts.items()):
        if f.get("dask_profiler") and f.get("free_threaded_build"):
            raise ClusterError(
                f"Dask worker {address} runs Dask's profiler, which crashes free-threaded "
                f"Python; start its workers and scheduler with {PROFILER_ENV} "
                "(see docs/distributed.md)"
            )


def place_shards(workers: Mapping[str, str], count: int) -> list[str]:
    """Worker addresses for `count` shards (one per worker), spread over hosts first.

    `workers` maps address -> host. Raises ClusterError when there are too few workers."""
    if count > len(workers):
        raise ClusterError(
            f"{count} shards need {count} Dask workers (one each); the cluster has "
            f"{len(workers)}: start more workers or use --workers {len(workers)}"
        )
    by_host: dict[str, list[str]] = {}
    for address, host in sorted(workers.items()):
        by_host.setdefault(host, []).append(address)
    chosen: list[str] = []
    queues = [by_host[h] for h in sorted(by_host)]
    while len(chosen) < count:
        for q in queues:
            if q and len(chosen) < count:
                chosen.append(q.pop(0))
    return chosen


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Worker processes of a local cluster are in our process group: a Ctrl-C at the terminal
    reaches them too, and they would die before the coordinator stops them cleanly. They are
    started with SIGINT ignored (inherited across exec); ours is put back right after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class DaskCluster:
    """A connected Dask client (and the LocalCluster behind it, for `--cluster local`)."""

    def __init__(
        self, client: Any, local: Any | None, address: str, timeout_s: float = 10.0
    ) -> None:
        self.client = client
        self.local = local
        self.address = address
        self.timeout_s = timeout_s  # every call to the scheduler is bounded by this

    @classmethod
    def open(cls, settings: RunSettings, shards: int | None) -> DaskCluster:
        """Connect (or start a local cluster); the scheduler must answer within
        `cluster_timeout_s`, and enough workers turn up within `cluster_wait_s`."""
        import dask
        import distributed

        dask.config.set(PROFILER_OFF)  # this process's scheduler and the workers it starts
        for name in ("distributed", "distributed.worker", "distributed.nanny", "tornado"):
            logging.getLogger(name).setLevel(logging.ERROR)
        if settings.cluster == "local":
            n = shards or os.cpu_count() or 1
            with _children_ignore_sigint():
                local = distributed.LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                    silence_logs=logging.CRITICAL,
                )
            try:
                client = distributed.Client(local, timeout=settings.cluster_timeout_s)
            except BaseException:
                local.close()
                raise
            return cls(client, local, local.scheduler_address, settings.cluster_timeout_s)
        address = str(settings.cluster)
        try:
            client = distributed.Client(address, timeout=settings.cluster_timeout_s)
        except (OSError, TimeoutError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} within "
                f"{settings.cluster_timeout_s:g}s ({reason}); start it with `dask scheduler` "
                "or check --cluster"
            ) from None
        return cls(client, None, address, settings.cluster_timeout_s)

    def wait_for(self, count: int, wait_s: float) -> dict[str, str]:
        """Address -> host of the workers, once at least `count` are there (bounded wait)."""
        try:
            self.client.wait_for_workers(count, timeout=wait_s)
        except (TimeoutError, OSError):
            have = len(self.workers())
            raise ClusterError(
                f"the Dask cluster at {self.address} has {have} worker(s) after waiting "
                f"{wait_s:g}s (--cluster-wait); {count} shards need {count}: start more "
                f"workers or use --workers {max(1, have)}"
            ) from None
        return self.workers()

    def workers(self) -> dict[str, str]:
        """Address -> host of every worker the scheduler knows now (asked, not cached: the
        client's cached identity is refreshed in the background without its workers)."""
        info = self.client.sync(
            self.client.scheduler.identity, n_workers=-1, callback_timeout=self.timeout_s
        )
        return {addr: str(w.get("host", addr)) for addr, w in info.get("workers", {}).items()}

    def probe(self, addresses: list[str]) -> dict[str, WorkerInfo]:
        """Versions, GIL and clock of each worker (runs outside Dask's task queue)."""
        facts = self.client.run(_make_probe(), workers=addresses)
        check_versions(facts)
        check_profiler(facts)
        return {a: WorkerInfo(a, str(facts[a]["host"]), dict(facts[a])) for a in addresses}

    def close(self) -> None:
        """Disconnect; a local cluster's worker processes are shut down."""
        with contextlib.suppress(Exception):
            self.client.close(timeout=10)
        if self.local is not None:
            with contextlib.suppress(Exception):
                self.local.close(timeout=20)
