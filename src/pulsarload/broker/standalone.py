"""Start, stop and ask about a local Apache Pulsar standalone running as a detached JVM.

The JVM runs in its own session (so a Ctrl-C in the terminal that started it does not reach it
and `stop` can end its whole process group), writes stdout and stderr to one log file, and is
tracked by a pid file under ``settings.home``. A pid is only trusted when the process behind it
still runs ``PulsarStandaloneStarter`` with our config file, so a stale pid file, or a pid the
kernel has since given to another program, is never signalled.

Layout of ``settings.home`` (default ``~/.cache/pulsarload/standalone``)::

    conf/standalone.conf  conf/log4j2.xml  conf/client.conf   rendered on every start
    data/metadata  data/bookkeeper                           RocksDB metadata and the bookie
    logs/pulsar-standalone.log (.1 is the previous run)      the JVM's output
    pulsar-standalone.pid
"""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import string
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pulsarload.broker import jvm
from pulsarload.broker.errors import BrokerError
from pulsarload.broker.maven import ensure_classpath, file_lock, lib_dir
from pulsarload.broker.procs import (
    command_has,
    port_in_use,
    process_alive,
    read_pid,
    tail_file,
)
from pulsarload.broker.procs import (
    signal_group as _signal_group,
)
from pulsarload.config import LocalBrokerSettings

__all__ = [
    "BrokerError",
    "BrokerStatus",
    "StandaloneBroker",
    "admin_ready",
    "apply_config",
    "ensure_classpath",
    "port_in_use",
    "render_template",
]

MAIN_CLASS = "org.apache.pulsar.PulsarStandaloneStarter"
TEMPLATE_DIR = Path(__file__).parent
BIND_ADDRESS = "127.0.0.1"
ADVERTISED_ADDRESS = "localhost"
#: Each readiness probe gives up after this long; the wait as a whole is settings.start_timeout_s.
PROBE_TIMEOUT_S = 3.0
POLL_INTERVAL_S = 0.5

# Children this process started; kept so `stop` can reap them (a zombie still answers kill 0).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class BrokerStatus:
    """What `status` found. `running`: our JVM is alive; `ready`: the admin API says so."""

    running: bool
    ready: bool
    pid: int | None
    service_url: str
    admin_url: str
    home: Path


def render_template(name: str, **values: object) -> str:
    """A template from this package with ``$name`` placeholders filled in (all required)."""
    text = (TEMPLATE_DIR / name).read_text()
    return string.Template(text).substitute({k: str(v) for k, v in values.items()})


def http_ok(
    url: str,
    timeout: float = PROBE_TIMEOUT_S,
    *,
    token: str | None = None,
    ca_file: str | os.PathLike[str] | None = None,
) -> bytes | None:
    """The body of a 200 answer from `url`, or None; never through an HTTP proxy. `token` is
    sent as a bearer token; `ca_file` is the CA that an https URL's certificate must chain to."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if ca_file is not None:
        try:
            context = ssl.create_default_context(cafile=os.fspath(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise BrokerError(
                f"readiness probe: cannot load the CA file {ca_file} ({exc})"
            ) from None
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with opener.open(request, timeout=timeout) as resp:
            return resp.read() if resp.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def admin_ready(
    admin_url: str,
    timeout: float = PROBE_TIMEOUT_S,
    *,
    token: str | None = None,
    ca_file: str | os.PathLike[str] | None = None,
) -> bool:
    """Ready = the broker says so AND namespace public/default exists (created last at start).

    A broker with authentication refuses an anonymous probe: give it a superuser's `token`;
    for an https `admin_url` signed by a private CA, give that CA as `ca_file`.
    """
    base = admin_url.rstrip("/")

    def get(path: str) -> bytes | None:
        return http_ok(base + path, timeout, token=token, ca_file=ca_file)

    if get("/admin/v2/brokers/ready") is None:
        return False
    # Ask for the tenant first: listing the namespaces of a missing tenant logs an ERROR.
    if "public" not in _json_list(get("/admin/v2/tenants")):
        return False
    return "public/default" in _json_list(get("/admin/v2/namespaces/public"))


#: A standalone.conf key: what Pulsar's config keys look like (camelCase, dots in a few).
_CONFIG_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
#: Keys that come from `LocalBrokerSettings` (ports) or the launcher (addresses, folders).
_OWN_KEYS = {
    "brokerServicePort": "broker_port",
    "webServicePort": "web_port",
}
#: Ports an extra config may open; checked free before the JVM starts, like the settings' own.
_EXTRA_PORT_KEYS = ("brokerServicePortTls", "webServicePortTls")


def _config_value(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def validate_extra_config(extra: Mapping[str, object]) -> dict[str, str]:
    """The extra lines as ``key -> text``; a malformed key or value raises one clear line."""
    out: dict[str, str] = {}
    for key, value in extra.items():
        if not isinstance(key, str) or not _CONFIG_KEY.fullmatch(key):
            raise BrokerError(
                f"broker config key {key!r} is malformed: a key is a letter followed by "
                "letters, digits, '.', '_' or '-' (e.g. authenticationEnabled)"
            )
        if key in _OWN_KEYS:
            raise BrokerError(
                f"broker config key {key} comes from the settings: set {_OWN_KEYS[key]} instead"
            )
        text = _config_value(value)
        if "\n" in text or "\r" in text:
            raise BrokerError(f"broker config value of {key} spans lines; give it on one line")
        if key in _EXTRA_PORT_KEYS and not (text.isdigit() and 0 < int(text) < 65536):
            raise BrokerError(f"broker config {key}={text}: not a port number (1-65535)")
        out[key] = text
    return out


def apply_config(text: str, extra: Mapping[str, str]) -> str:
    """`text` (a rendered standalone.conf) with `extra` applied: a key the template has gets
    its value replaced where it stands; the others are added at the end."""
    left = dict(extra)
    lines = []
    for line in text.splitlines():
        key, sep, _value = line.partition("=")
        key = key.strip()
        if sep and not key.startswith("#") and key in left:
            line = f"{key}={left.pop(key)}"
        lines.append(line)
    if left:
        lines.append("")
        lines.append("### added by pulsarload (extra_config)")
        lines += [f"{k}={v}" for k, v in left.items()]
    return "\n".join(lines) + "\n"


def _json_list(body: bytes | None) -> list[object]:
    if body is None:
        return []
    try:
        value = json.loads(body)
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def process_matches(pid: int, marker: str) -> bool:
    """Whether `pid` is alive and runs the standalone's main class with `marker` (its config)."""
    return command_has(pid, MAIN_CLASS, marker)


class StandaloneBroker:
    """The local standalone of one `LocalBrokerSettings` (ports, home folder, timeouts).

    `extra_config` is applied over the config template (e.g. authentication and TLS keys; a
    malformed key raises `BrokerError` at once). The readiness probe asks `probe_url` (default:
    the settings' admin URL) with `probe_token` as a bearer token and, for an https URL,
    `probe_ca_file` as the CA: a secured broker refuses an anonymous probe.
    """

    def __init__(
        self,
        settings: LocalBrokerSettings | None = None,
        *,
        extra_config: Mapping[str, object] | None = None,
        probe_token: str | None = None,
        probe_ca_file: str | os.PathLike[str] | None = None,
        probe_url: str | None = None,
    ) -> None:
        self.settings = settings or LocalBrokerSettings()
        self.extra_config = validate_extra_config(extra_config or {})
        self.probe_token = probe_token
        if probe_ca_file is not None and not os.access(probe_ca_file, os.R_OK):
            raise BrokerError(f"readiness probe: the CA file {probe_ca_file} cannot be read")
        self.probe_ca_file = probe_ca_file
        self.probe_url = probe_url or self.settings.admin_url
        self.home = Path(self.settings.home).expanduser().resolve()
        self.conf_dir = self.home / "conf"
        self.data_dir = self.home / "data"
        self.pid_file = self.home / "pulsar-standalone.pid"
        self.conf_file = self.conf_dir / "standalone.conf"

    # --- queries -----------------------------------------------------------------------------

    def log_path(self) -> Path:
        return self.home / "logs" / "pulsar-standalone.log"

    def tail_log(self, lines: int = 50) -> str:
        """The last `lines` lines of the broker log ('' when there is none yet)."""
        return tail_file(self.log_path(), lines)

    def pid(self) -> int | None:
        """Our broker's pid, or None (a stale pid file is removed)."""
        pid = read_pid(self.pid_file)
        if pid is None:
            return None
        if process_matches(pid, str(self.conf_file)):
            return pid
        self._reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return None

    def ready(self) -> bool:
        """Whether the admin API says the broker is ready (see `admin_ready`), asked with the
        probe's token and CA."""
        return admin_ready(self.probe_url, token=self.probe_token, ca_file=self.probe_ca_file)

    def status(self) -> BrokerStatus:
        pid = self.pid()
        ready = pid is not None and self.ready()
        return self._status(pid, ready)

    def _status(self, pid: int | None, ready: bool) -> BrokerStatus:
        return BrokerStatus(
            running=pid is not None,
            ready=ready,
            pid=pid,
            service_url=self.settings.service_url,
            admin_url=self.settings.admin_url,
            home=self.home,
        )

    # --- start ---------------------------------------------------------------------------------

    def start(self) -> BrokerStatus:
        """Start the broker and return once it is ready; at once if it already is.

        Fetches the jars first when they are not cached yet (that time is not counted in
        settings.start_timeout_s). Raises BrokerError, with the log's last lines when the JVM
        got that far; a JVM this call launched is stopped again when it fails to become ready.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with file_lock(self.home / ".start.lock"):
            pid = self.pid()
            if pid is not None:
                if self.ready():
                    return self._status(pid, True)
                self._check_running_ports(pid)
                # Started by someone else and still coming up: wait for it, do not launch twice.
                return self._wait_ready(pid, None, launched=False)
            java = jvm.find_java()
            ensure_classpath(self.settings)
            self._check_ports()
            cmd = self.command(java)
            proc = self._launch(cmd)
            try:
                return self._wait_ready(proc.pid, proc, launched=True)
            except KeyboardInterrupt:
                self.stop()  # the user gave up on this start: leave nothing half-started
                raise

    def _check_running_ports(self, pid: int) -> None:
        """Refuse to wait for a broker of this home that listens on other ports than asked."""
        running = conf_ports(self.conf_file)
        wanted = (self.settings.broker_port, self.settings.web_port)
        if running is not None and running != wanted:
            raise BrokerError(
                f"the local broker (pid {pid}, {self.home}) already runs on ports "
                f"{running[0]}/{running[1]}, not {wanted[0]}/{wanted[1]}; "
                "stop it first (`pulsarload broker stop` with its ports)"
            )

    def _check_ports(self) -> None:
        # The embedded bookie needs no fixed port: with the RocksDB metadata store Pulsar 4.0's
        # standalone gives it a free one at every start (and ignores --bookkeeper-port).
        s = self.settings
        for what, port, env in (
            ("broker", s.broker_port, "PULSARLOAD_BROKER_PORT"),
            ("web/admin", s.web_port, "PULSARLOAD_WEB_PORT"),
        ):
            if port_in_use(port):
                raise BrokerError(
                    f"port {port} ({what}) is already in use, perhaps by another Pulsar; "
                    f"stop that process or choose another port with {env}=<port>"
                )
        for key in _EXTRA_PORT_KEYS:
            value = self.extra_config.get(key)
            if value is not None and port_in_use(int(value)):
                raise BrokerError(
                    f"port {value} ({key}) is already in use, perhaps by another Pulsar; "
                    f"stop that process or choose another {key}"
                )

    def command(self, java: jvm.Java) -> list[str]:
        """The java command line of the standalone (also writes its config files)."""
        self._write_configs()
        logs = self.log_path().parent
        return [
            java.path,
            *jvm.version_flags(java),
            *jvm.broker_mem_flags(),
            *jvm.COMMON_PROPS,
            *jvm.BROKER_MODULE_FLAGS,
            "-Djute.maxbuffer=10485760",
            "-Dzookeeper.clientTcpKeepAlive=true",
            "-Dlog4j.shutdownHookEnabled=false",
            f"-Dlog4j.configurationFile={self.conf_dir / 'log4j2.xml'}",
            f"-Dpulsar.log.dir={logs}",
            "-Dbookkeeper.metadata.bookie.drivers="
            "org.apache.pulsar.metadata.bookkeeper.PulsarMetadataBookieDriver",
            "-Dbookkeeper.metadata.client.drivers="
            "org.apache.pulsar.metadata.bookkeeper.PulsarMetadataClientDriver",
            "-cp",
            f"{lib_dir(self.settings.pulsar_version)}/*",
            MAIN_CLASS,
            "--config",
            str(self.conf_file),
            "-nfw",
            "-nss",
            "--metadata-dir",
            str(self.data_dir / "metadata"),
            "--bookkeeper-dir",
            str(self.data_dir / "bookkeeper"),
        ]

    def _write_configs(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "metadata").parent.mkdir(parents=True, exist_ok=True)
        self.conf_file.write_text(
            apply_config(
                render_template(
                    "standalone.conf",
                    home=self.home,
                    broker_port=self.settings.broker_port,
                    web_port=self.settings.web_port,
                    bind_address=BIND_ADDRESS,
                    advertised_address=ADVERTISED_ADDRESS,
                ),
                self.extra_config,
            )
        )
        (self.conf_dir / "log4j2.xml").write_text((TEMPLATE_DIR / "log4j2.conf").read_text())
        write_client_conf(
            self.conf_dir / "client.conf", self.settings.service_url, self.settings.admin_url
        )

    def _launch(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        proc = jvm.launch_detached(cmd, log=self.log_path(), cwd=self.home, pid_file=self.pid_file)
        _children[proc.pid] = proc
        return proc

    def _wait_ready(
        self, pid: int, proc: subprocess.Popen[bytes] | None, *, launched: bool
    ) -> BrokerStatus:
        deadline = time.monotonic() + self.settings.start_timeout_s
        marker = str(self.conf_file)
        while True:
            # Our own child is watched through its Popen; one launched by another process
            # through its command line.
            if proc is not None:
                exited = proc.poll() is not None
            else:
                exited = not process_matches(pid, marker)
            if exited:
                self.pid_file.unlink(missing_ok=True)
                code = f" (exit code {proc.returncode})" if proc is not None else ""
                raise BrokerError(self._failure(f"the broker JVM exited during start-up{code}"))
            if self.ready():
                return self._status(pid, True)
            if time.monotonic() >= deadline:
                if launched:
                    self.stop()
                raise BrokerError(
                    self._failure(
                        f"the broker was not ready within {self.settings.start_timeout_s:.0f} s"
                    )
                )
            time.sleep(POLL_INTERVAL_S)

    def _failure(self, what: str) -> str:
        tail = self.tail_log(20).rstrip()
        msg = f"{what}; see {self.log_path()}"
        return f"{msg}\n--- last lines of the log ---\n{tail}" if tail else msg

    # --- stop ----------------------------------------------------------------------------------

    def stop(self) -> bool:
        """Stop our broker: TERM, then KILL after stop_timeout_s. False if none was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        if not self._wait_gone(pid, self.settings.stop_timeout_s):
            _signal_group(pid, signal.SIGKILL)
            if not self._wait_gone(pid, 15.0):
                raise BrokerError(
                    f"broker pid {pid} did not exit even after SIGKILL; check it with `ps {pid}`"
                )
        self.pid_file.unlink(missing_ok=True)
        return True

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        """Wait until `pid` has really exited (an exiting JVM loses its command line first)."""
        deadline = time.monotonic() + timeout
        while True:
            self._reap(pid)
            if not process_alive(pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    @staticmethod
    def _reap(pid: int) -> None:
        proc = _children.get(pid)
        if proc is not None and proc.poll() is not None:
            _children.pop(pid, None)


def conf_ports(conf_file: Path) -> tuple[int, int] | None:
    """(brokerServicePort, webServicePort) of a rendered standalone.conf, or None."""
    values: dict[str, str] = {}
    try:
        for line in conf_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
        return int(values["brokerServicePort"]), int(values["webServicePort"])
    except (OSError, KeyError, ValueError):
        return None


def write_client_conf(path: Path, service_url: str, admin_url: str) -> None:
    """The client.conf that pulsar-perf and pulsar-client read first (their own service-URL
    flags still override it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# written by pulsarload for the Java client tools\n"
        f"webServiceUrl={admin_url}\n"
        f"brokerServiceUrl={service_url}\n"
    )
