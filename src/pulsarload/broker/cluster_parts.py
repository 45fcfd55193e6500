"""The parts of the local cluster: what each JVM runs, on which ports, with which files.

A part is one JVM (ZooKeeper, the bookie, broker i, the proxy) with a folder of its own under
the cluster's home::

    <home>/<part>/conf/<part>.conf   rendered from cluster-<role>.conf at every start
    <home>/<part>/data/               ZooKeeper's snapshots, the bookie's journal and ledgers
    <home>/<part>/<part>.log          the JVM's output (.1 is the previous run's)
    <home>/<part>/<part>.pid

This module only describes the parts and writes their configuration; `jvm_process` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pulsarload.broker import jvm
from pulsarload.broker.maven import lib_dir
from pulsarload.broker.standalone import TEMPLATE_DIR, render_template
from pulsarload.config import LocalClusterSettings

ZOOKEEPER_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"
BOOKIE_MAIN = "org.apache.bookkeeper.server.Main"
BROKER_MAIN = "org.apache.pulsar.PulsarBrokerStarter"
PROXY_MAIN = "org.apache.pulsar.proxy.server.ProxyServiceStarter"
SETUP_MAIN = "org.apache.pulsar.PulsarClusterMetadataSetup"
BOOKIE_SHELL_MAIN = "org.apache.bookkeeper.bookie.BookieShell"

#: BookKeeper clients and servers find their metadata through Pulsar's metadata store driver.
BK_DRIVER_PROPS = (
    "-Dbookkeeper.metadata.bookie.drivers="
    "org.apache.pulsar.metadata.bookkeeper.PulsarMetadataBookieDriver",
    "-Dbookkeeper.metadata.client.drivers="
    "org.apache.pulsar.metadata.bookkeeper.PulsarMetadataClientDriver",
)


@dataclass(frozen=True)
class Part:
    """One JVM of the cluster. `port` is its binary (or client) port, `web_port` its HTTP one."""

    name: str
    role: str  # zookeeper, bookie, broker, proxy
    main_class: str
    port: int
    web_port: int | None
    folder: Path

    @property
    def conf_file(self) -> Path:
        return self.folder / "conf" / f"{self.name}.conf"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.folder / f"{self.name}.pid"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port,) if self.web_port is None else (self.port, self.web_port)


def parts_of(settings: LocalClusterSettings) -> list[Part]:
    """Every part of the cluster, in start order (ZooKeeper first, the proxy last)."""
    home = Path(settings.home).expanduser().resolve()
    s = settings
    parts = [
        Part("zookeeper", "zookeeper", ZOOKEEPER_MAIN, s.zookeeper_port, None, home / "zookeeper"),
        Part("bookie", "bookie", BOOKIE_MAIN, s.bookie_port, None, home / "bookie"),
    ]
    for i in range(1, s.brokers + 1):
        name = f"broker-{i}"
        parts.append(
            Part(name, "broker", BROKER_MAIN, s.broker_port(i), s.broker_web_port(i), home / name)
        )
    if s.proxy:
        parts.append(
            Part("proxy", "proxy", PROXY_MAIN, s.base_port, s.web_base_port, home / "proxy")
        )
    return parts


def write_config(part: Part, settings: LocalClusterSettings) -> None:
    """Render the part's configuration file (and log4j2.xml beside it)."""
    part.conf_file.parent.mkdir(parents=True, exist_ok=True)
    part.data_dir.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {
        "port": part.port,
        "data_dir": part.data_dir,
        "zookeeper_port": settings.zookeeper_port,
        "cluster_name": settings.cluster_name,
    }
    if part.role == "broker":
        values.update(
            index=part.name.rsplit("-", 1)[1],
            web_port=part.web_port,
            session_timeout_ms=settings.session_timeout_ms,
        )
    elif part.role == "proxy":
        ports = [settings.broker_port(i) for i in range(1, settings.brokers + 1)]
        values.update(web_port=part.web_port, broker_ports=",".join(map(str, ports)))
    text = render_template(f"cluster-{part.role}.conf", **values)
    part.conf_file.write_text(text)
    (part.conf_file.parent / "log4j2.xml").write_text((TEMPLATE_DIR / "log4j2.conf").read_text())


def _jvm_base(java: jvm.Java, part: Part, settings: LocalClusterSettings) -> list[str]:
    return [
        java.path,
        *jvm.version_flags(java),
        *settings.mem[part.role].split(),
        *jvm.COMMON_PROPS,
        *jvm.BROKER_MODULE_FLAGS,
        "-Djute.maxbuffer=10485760",
        "-Dzookeeper.clientTcpKeepAlive=true",
        "-Dlog4j.shutdownHookEnabled=false",
        f"-Dlog4j.configurationFile={part.conf_file.parent / 'log4j2.xml'}",
        f"-Dpulsar.log.dir={part.folder}",
        *BK_DRIVER_PROPS,
        "-cp",
        f"{lib_dir(settings.pulsar_version)}/*",
    ]


def command(java: jvm.Java, part: Part, settings: LocalClusterSettings) -> list[str]:
    """The java command line of `part` (its config file must be written)."""
    base = _jvm_base(java, part, settings)
    args = {
        "zookeeper": [str(part.conf_file)],
        "bookie": ["--conf", str(part.conf_file)],
        "broker": ["--broker-conf", str(part.conf_file)],
        "proxy": ["--config", str(part.conf_file)],
    }[part.role]
    return [*base, part.main_class, *args]


def setup_command(java: jvm.Java, settings: LocalClusterSettings, zookeeper: Part) -> list[str]:
    """The one-off JVM that writes the cluster's metadata (cluster, tenants, public/default)
    into a running ZooKeeper; safe to run again."""
    store = f"zk:127.0.0.1:{settings.zookeeper_port}"
    brokers = range(1, settings.brokers + 1)
    web = ",".join(f"127.0.0.1:{settings.broker_web_port(i)}" for i in brokers)
    return [
        *_jvm_base(java, zookeeper, settings),
        SETUP_MAIN,
        "--cluster",
        settings.cluster_name,
        "--metadata-store",
        store,
        "--configuration-metadata-store",
        store,
        "--web-service-url",
        f"http://{web}",
        "--broker-service-url",
        settings.broker_service_url,
    ]


def format_command(java: jvm.Java, settings: LocalClusterSettings, bookie: Part) -> list[str]:
    """The one-off JVM that creates BookKeeper's cluster metadata (a bookie refuses to start
    without it: "BookKeeper cluster not initialized"); the bookie's config must be written."""
    return [
        *_jvm_base(java, bookie, settings),
        BOOKIE_SHELL_MAIN,
        "--conf",
        str(bookie.conf_file),
        "initnewcluster",
    ]
