"""Finding Java and the JVM flags Pulsar needs, taken from the release's own launch scripts.

`bin/pulsar` and `bin/pulsar-perf` of Pulsar 4.0.x open a few JDK internals to Netty, BookKeeper
and the metrics code; without them the broker still starts but falls back to slow paths or logs
stack traces. The lists below mirror those scripts for Java 17+.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pulsarload.broker.errors import BrokerError

#: Pulsar 4.0 runs its broker on Java 17 or newer.
MIN_JAVA = 17

JAVA_INSTALL_HINT = (
    "install a JDK 17+ (e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME"
)

#: Heap and direct memory of the local standalone, sized for a 2-core, 24 GiB machine
#: (override with PULSARLOAD_BROKER_MEM, e.g. "-Xms1g -Xmx4g -XX:MaxDirectMemorySize=2g").
DEFAULT_BROKER_MEM = "-Xms512m -Xmx2g -XX:MaxDirectMemorySize=1g"

# bin/pulsar (4.0.8): BookKeeper fadvise/CRC32 digest, JVM metrics, Netty direct buffers,
# LinuxInfoUtils, RocksDB's native library.
BROKER_MODULE_FLAGS = (
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.util.zip=ALL-UNNAMED",
    "--add-opens", "java.management/sun.management=ALL-UNNAMED",
    "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.platform=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
)  # fmt: skip

# bin/pulsar-perf: DNS resolver, CRC32C by reflection, Netty direct buffers.
PERF_MODULE_FLAGS = (
    "--add-opens", "java.base/sun.net=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/java.util.zip=ALL-UNNAMED",
    "--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
)  # fmt: skip

COMMON_PROPS = (
    "-Djava.net.preferIPv4Stack=true",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dorg.apache.pulsar.shade.io.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.recycler.maxCapacityPerThread=4096",
    "-Dpulsar.allocator.exit_on_oom=true",
    "-XX:+ExitOnOutOfMemoryError",
    "-Dlog4j2.is.webapp=false",
)


@dataclass(frozen=True, slots=True)
class Java:
    path: str
    major: int


def _java_candidates() -> list[str]:
    found = []
    home = os.environ.get("JAVA_HOME")
    if home:
        found.append(str(Path(home) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        found.append(on_path)
    return found


def parse_java_major(version_output: str) -> int | None:
    """The major version from `java -version` output: '"17.0.15"' -> 17, '"1.8.0_392"' -> 8."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?[^"]*"', version_output)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


@cache
def find_java() -> Java:
    """The java to run Pulsar with (JAVA_HOME first, then PATH), checked to be 17 or newer."""
    candidates = _java_candidates()
    if not candidates:
        raise BrokerError(
            f"Java not found (no JAVA_HOME and no `java` on PATH); {JAVA_INSTALL_HINT}"
        )
    path = candidates[0]
    try:
        out = subprocess.run(
            [path, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrokerError(f"cannot run {path} -version ({exc}); {JAVA_INSTALL_HINT}") from None
    major = parse_java_major(out.stderr + out.stdout)
    if major is None:
        raise BrokerError(f"cannot tell the version of {path}; {JAVA_INSTALL_HINT}")
    if major < MIN_JAVA:
        raise BrokerError(f"{path} is Java {major}, Pulsar needs {MIN_JAVA}+; {JAVA_INSTALL_HINT}")
    return Java(path=path, major=major)


def version_flags(java: Java) -> list[str]:
    """Flags that only some Java versions accept or need."""
    return ["--sun-misc-unsafe-memory-access=allow"] if java.major >= 23 else []


def broker_mem_flags() -> list[str]:
    return (os.environ.get("PULSARLOAD_BROKER_MEM") or DEFAULT_BROKER_MEM).split()


def launch_detached(
    cmd: list[str], *, log: Path, cwd: Path, pid_file: Path
) -> subprocess.Popen[bytes]:
    """Start a JVM in its own session (a Ctrl-C in the starting terminal does not reach it; a
    stop ends its whole group), output appended to `log` (the previous one kept as `.1`), its
    pid written atomically to `pid_file`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists() and log.stat().st_size:
        log.replace(log.with_name(log.name + ".1"))
    env = dict(os.environ, OTEL_SEMCONV_STABILITY_OPT_IN="jvm")
    with log.open("ab") as out:
        out.write(f"# pulsarload: {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise BrokerError(f"cannot run {cmd[0]} ({exc}); {JAVA_INSTALL_HINT}") from None
    tmp = pid_file.with_suffix(".pid.tmp")
    tmp.write_text(f"{proc.pid}\n")
    tmp.replace(pid_file)
    return proc
