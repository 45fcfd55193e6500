"""A local multi-broker Apache Pulsar cluster: ZooKeeper, one bookie, N brokers, a proxy.

Each part is its own JVM with its own ports and folder (`cluster_parts`), run detached and
tracked by pid (`jvm_process`), and checked ready by a probe of its own (`cluster_probe`).
`start` launches ZooKeeper, writes the cluster's metadata once (a stamp file remembers it),
then launches the bookie, the brokers and the proxy together and waits for each; what is
already running is left as it is, so `start` also brings back one part that was stopped.
The layout (broker count, proxy, ports) is recorded in ``<home>/cluster.json`` so `status`,
`logs` and `stop` find every part without being told again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from pulsarload.broker import cluster_parts, jvm, jvm_process
from pulsarload.broker.cluster_parts import Part, parts_of
from pulsarload.broker.cluster_probe import part_ready
from pulsarload.broker.errors import BrokerError
from pulsarload.broker.maven import ensure_classpath, file_lock
from pulsarload.broker.procs import port_in_use, tail_file
from pulsarload.config import LocalBrokerSettings, LocalClusterSettings

LAYOUT_FILE = "cluster.json"
SETUP_TIMEOUT_S = 180.0
POLL_INTERVAL_S = 0.5


@dataclass(frozen=True)
class PartStatus:
    name: str
    pid: int | None
    ready: bool
    ports: tuple[int, ...]
    log_path: Path


@dataclass(frozen=True)
class ClusterStatus:
    """Every part's state, and the URLs to give clients."""

    parts: tuple[PartStatus, ...]
    service_url: str
    broker_service_url: str
    admin_url: str
    home: Path

    @property
    def running(self) -> bool:
        return any(p.pid is not None for p in self.parts)

    @property
    def ready(self) -> bool:
        return all(p.ready for p in self.parts)


def recorded_settings(settings: LocalClusterSettings) -> LocalClusterSettings:
    """`settings` with the layout recorded in its home, if a cluster was started there."""
    try:
        saved = json.loads((Path(settings.home).expanduser() / LAYOUT_FILE).read_text())
        return replace(
            settings,
            brokers=int(saved["brokers"]),
            proxy=bool(saved["proxy"]),
            base_port=int(saved["base_port"]),
            web_base_port=int(saved["web_base_port"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return settings


class LocalCluster:
    """The local cluster of one `LocalClusterSettings`."""

    def __init__(self, settings: LocalClusterSettings | None = None) -> None:
        self.settings = settings or LocalClusterSettings()
        self.home = Path(self.settings.home).expanduser().resolve()
        self.parts = parts_of(self.settings)

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        names = ", ".join(p.name for p in self.parts)
        raise BrokerError(f"the local cluster has no part {name!r} (it has {names})")

    # --- queries -------------------------------------------------------------------------------

    def pid(self, name: str) -> int | None:
        return jvm_process.pid_of(self.part(name))

    def status(self) -> ClusterStatus:
        states = []
        for part in self.parts:
            pid = jvm_process.pid_of(part)
            ready = pid is not None and part_ready(part)
            states.append(PartStatus(part.name, pid, ready, part.ports, part.log_path))
        s = self.settings
        return ClusterStatus(
            tuple(states), s.service_url, s.broker_service_url, s.admin_url, self.home
        )

    def logs(self, lines: int = 50, name: str | None = None) -> str:
        """The last `lines` of each part's log (or of part `name`), each under its path."""
        chosen = [self.part(name)] if name else self.parts
        return "".join(f"# {p.log_path}\n{tail_file(p.log_path, lines)}" for p in chosen)

    # --- start ---------------------------------------------------------------------------------

    def start(self, names: list[str] | None = None) -> ClusterStatus:
        """Start every part (or the parts `names`) that is not running and wait until all are
        ready. Raises BrokerError naming the part, its log and the log's tail; what this call
        launched is stopped again when the start fails."""
        self.home.mkdir(parents=True, exist_ok=True)
        with file_lock(self.home / ".start.lock"):
            self._check_layout()
            wanted = self.parts
            if names:  # ZooKeeper first, whatever else is asked for
                wanted = [self.part("zookeeper")]
                wanted += [self.part(n) for n in names if n != "zookeeper"]
            todo = [p for p in wanted if jvm_process.pid_of(p) is None]
            java = jvm.find_java()
            ensure_classpath(LocalBrokerSettings(pulsar_version=self.settings.pulsar_version))
            self._check_ports(todo)
            (self.home / LAYOUT_FILE).write_text(json.dumps(self._layout(), indent=1) + "\n")
            launched: list[Part] = []
            deadline = time.monotonic() + self.settings.start_timeout_s
            try:
                first = [p for p in todo if p.role == "zookeeper"]
                self._launch_and_wait(java, first, wanted[:1], launched, deadline)
                self._run_once(java, "metadata", deadline)
                # Brokers and the proxy start while BookKeeper's metadata is written; the
                # bookie can only start after it.
                rest = [p for p in todo if p.role not in ("zookeeper", "bookie")]
                pids = self._launch(java, rest, launched)
                if any(p.role == "bookie" for p in todo):
                    bookie = self.part("bookie")
                    cluster_parts.write_config(bookie, self.settings)
                    self._run_once(java, "bookkeeper", deadline)
                    pids |= self._launch(java, [bookie], launched)
                self._wait(wanted, pids, deadline)
            except BaseException:
                jvm_process.stop_all(launched[::-1], self.settings.stop_timeout_s)
                raise
        return self.status()

    def _layout(self) -> dict[str, object]:
        s = self.settings
        return {
            "brokers": s.brokers,
            "proxy": s.proxy,
            "base_port": s.base_port,
            "web_base_port": s.web_base_port,
            "parts": {p.name: asdict(p) | {"folder": str(p.folder)} for p in self.parts},
        }

    def _check_layout(self) -> None:
        """Refuse to add parts to a running cluster of another shape or port range."""
        recorded = recorded_settings(self.settings)
        if recorded == self.settings:
            return
        other = LocalCluster(recorded)
        if other.status().running:
            r = recorded
            raise BrokerError(
                f"a local cluster already runs in {self.home} with {r.brokers} broker(s), "
                f"proxy {'on' if r.proxy else 'off'}, ports from {r.base_port}/"
                f"{r.web_base_port}; stop it first (`pulsarload broker stop --cluster`)"
            )

    def _check_ports(self, parts: list[Part]) -> None:
        for part in parts:
            for port in part.ports:
                if port_in_use(port):
                    raise BrokerError(
                        f"port {port} ({part.name}) is already in use, perhaps by another "
                        "Pulsar; stop that process or choose another range with --port/"
                        "--web-port (PULSARLOAD_CLUSTER_PORT / PULSARLOAD_CLUSTER_WEB_PORT)"
                    )

    def _launch_and_wait(
        self, java: jvm.Java, todo: list[Part], wanted: list[Part], launched: list[Part],
        deadline: float,
    ) -> None:  # fmt: skip
        self._wait(wanted, self._launch(java, todo, launched), deadline)

    def _launch(self, java: jvm.Java, todo: list[Part], launched: list[Part]) -> dict[str, int]:
        pids = {}
        for part in todo:
            cluster_parts.write_config(part, self.settings)
            cmd = cluster_parts.command(java, part, self.settings)
            pids[part.name] = jvm_process.launch(part, cmd)
            launched.append(part)
        return pids

    def _wait(self, wanted: list[Part], pids: dict[str, int], deadline: float) -> None:
        """Until every part of `wanted` that runs is ready; a part of `pids` (launched by
        this call) that exits, or the deadline, raises with the part's log."""
        waiting = [p for p in wanted if p.name in pids or jvm_process.pid_of(p) is not None]
        while waiting:
            for part in list(waiting):
                pid = pids.get(part.name)
                if pid is not None and not jvm_process.alive(pid):
                    code = jvm_process.exit_code(pid)
                    why = "exited during start-up" + (f" (exit code {code})" if code else "")
                    raise BrokerError(jvm_process.failure(part, why))
                if part_ready(part):
                    waiting.remove(part)
            if not waiting:
                return
            if time.monotonic() >= deadline:
                limit = f"not ready within {self.settings.start_timeout_s:.0f} s"
                raise BrokerError("\n".join(jvm_process.failure(p, limit, 8) for p in waiting))
            time.sleep(POLL_INTERVAL_S)

    def _run_once(self, java: jvm.Java, what: str, deadline: float) -> None:
        """Write the cluster's metadata ("metadata") or BookKeeper's ("bookkeeper") into
        ZooKeeper, once per home: a stamp file remembers that it was done."""
        stamp = self.home / f".{what}-initialized"
        if stamp.exists():
            return
        if what == "metadata":
            cmd = cluster_parts.setup_command(java, self.settings, self.part("zookeeper"))
        else:
            cmd = cluster_parts.format_command(java, self.settings, self.part("bookie"))
        log = self.home / f"initialize-{what}.log"
        timeout = max(10.0, min(SETUP_TIMEOUT_S, deadline - time.monotonic()))
        with log.open("wb") as out:
            out.write(f"# pulsarload: {' '.join(cmd)}\n".encode())
            out.flush()
            try:
                proc = subprocess.run(
                    cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    cwd=self.home, timeout=timeout, check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise BrokerError(
                    f"writing the {what} metadata did not finish in {timeout:.0f} s; see {log}"
                ) from None
        # BookKeeper's shell refuses a second format; its metadata is then already there.
        done = proc.returncode == 0 or (what == "bookkeeper" and _says_exists(log))
        if not done:
            tail = tail_file(log, 15).rstrip()
            raise BrokerError(
                f"writing the {what} metadata failed (exit code {proc.returncode}); see {log}"
                f"\n--- last lines of {log.name} ---\n{tail}"
            )
        stamp.write_text(self.settings.cluster_name + "\n")

    # --- stop ----------------------------------------------------------------------------------

    def stop(self, names: list[str] | None = None) -> list[str]:
        """Stop every part (or the parts `names`) by its recorded pid: the proxy and brokers
        first, then the bookie, then ZooKeeper. Returns the names of the parts stopped."""
        chosen = [self.part(n) for n in names] if names else self.parts
        stopped: list[str] = []
        for roles in (("proxy", "broker"), ("bookie",), ("zookeeper",)):
            group = [p for p in chosen if p.role in roles]
            stopped += jvm_process.stop_all(group, self.settings.stop_timeout_s)
        return stopped

    def kill(self, name: str) -> int | None:
        """SIGKILL part `name` (a crash, not a shutdown) and wait until it is gone."""
        part = self.part(name)
        pid = jvm_process.signal_part(part, signal.SIGKILL)
        if pid is not None:
            jvm_process.stop_all([part], timeout=15.0)
        return pid


def _says_exists(log: Path) -> bool:
    return "already exists" in tail_file(log, 40)
