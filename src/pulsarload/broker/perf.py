"""pulsar-perf, the reference load generator, run from the same jars as the local broker.

`pulsarload perf ARGS...` passes ARGS to ``org.apache.pulsar.testclient.PulsarPerfTestTool``
unchanged, so numbers from our tool and Pulsar's own can be compared on the same broker. Its
first argument is a client.conf naming the broker; we write one pointing at PULSAR_BROKER_URL /
PULSAR_ADMIN_URL (or the local standalone), and pulsar-perf's own ``-u`` still overrides it.

`tool_command` is the java command line of any of the release's client tools that start the
same way (a client.conf first): pulsar-perf, and ``pulsar-client`` (`CLIENT_TOOL`, the Java
reference client's produce/consume, which the interop tests run).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import IO

from pulsarload.broker import jvm
from pulsarload.broker.errors import BrokerError
from pulsarload.broker.maven import ensure_classpath, lib_dir
from pulsarload.broker.standalone import TEMPLATE_DIR, write_client_conf
from pulsarload.config import LocalBrokerSettings, cache_dir

MAIN_CLASS = "org.apache.pulsar.testclient.PulsarPerfTestTool"
#: What `bin/pulsar-client` runs: the Java client's produce, consume and read commands.
CLIENT_TOOL = "org.apache.pulsar.client.cli.PulsarClientTool"
#: How long pulsar-perf gets to print its final summary after Ctrl-C before it is killed.
INTERRUPT_GRACE_S = 10.0


def perf_home() -> Path:
    return cache_dir() / "perf"


def perf_command(
    args: list[str],
    settings: LocalBrokerSettings,
    java: jvm.Java,
    *,
    service_url: str,
    admin_url: str,
) -> list[str]:
    """The java command line; writes the client.conf and log4j2.xml it refers to."""
    return tool_command(
        MAIN_CLASS,
        args,
        settings,
        java,
        service_url=service_url,
        admin_url=admin_url,
        conf_dir=perf_home() / "conf",
    )


def tool_command(
    main_class: str,
    args: list[str],
    settings: LocalBrokerSettings,
    java: jvm.Java,
    *,
    service_url: str,
    admin_url: str,
    conf_dir: Path,
    log_level: str | None = None,
) -> list[str]:
    """The java command line of one of the release's client tools (`main_class` takes a
    client.conf first, then `args`); writes that client.conf and the log4j2.xml into
    `conf_dir`. `log_level` (e.g. "warn") quiets the tool's log, which goes to stdout."""
    write_client_conf(conf_dir / "client.conf", service_url, admin_url)
    log4j = conf_dir / "log4j2.xml"
    log4j.write_text((TEMPLATE_DIR / "log4j2.conf").read_text())
    return [
        java.path,
        *jvm.version_flags(java),
        *jvm.COMMON_PROPS,
        *jvm.PERF_MODULE_FLAGS,
        "-Dio.netty.allocator.maxOrder=10",
        f"-Dlog4j.configurationFile={log4j}",
        *([f"-Dpulsar.log.level={log_level}"] if log_level else []),
        "-cp",
        f"{lib_dir(settings.pulsar_version)}/*",
        main_class,
        str(conf_dir / "client.conf"),
        *args,
    ]


def run_perf(
    args: list[str],
    settings: LocalBrokerSettings | None = None,
    *,
    service_url: str | None = None,
    admin_url: str | None = None,
    stdout: int | IO[bytes] | IO[str] | None = None,
) -> int:
    """Run pulsar-perf with `args`, its output streaming to ours; returns its exit code.

    The broker is `service_url`/`admin_url` if given, else PULSAR_BROKER_URL/PULSAR_ADMIN_URL,
    else the local standalone of `settings`. Ctrl-C reaches pulsar-perf (same process group),
    which prints its summary and exits; we wait for that rather than leaving it behind.
    """
    settings = settings or LocalBrokerSettings()
    service_url = service_url or os.environ.get("PULSAR_BROKER_URL") or settings.service_url
    admin_url = admin_url or os.environ.get("PULSAR_ADMIN_URL") or settings.admin_url
    java = jvm.find_java()
    ensure_classpath(settings)
    cmd = perf_command(args, settings, java, service_url=service_url, admin_url=admin_url)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stdout)
    except OSError as exc:
        raise BrokerError(f"cannot run {cmd[0]} ({exc}); {jvm.JAVA_INSTALL_HINT}") from None
    try:
        return proc.wait()
    except KeyboardInterrupt:
        try:
            return proc.wait(timeout=INTERRUPT_GRACE_S)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            proc.kill()
            proc.wait()
            return 130
