"""The jars of one Apache Pulsar release, fetched once from Maven Central into the cache.

Two ways to get them, both with plain `mvn`:

- ``dist``: the release's binary distribution
  (``org.apache.pulsar:pulsar-server-distribution:<v>:tar.gz:bin``), whose ``lib/`` is exactly
  what ``bin/pulsar standalone`` and ``bin/pulsar-perf`` run on. One 245 MB artifact, tens of
  seconds, and no version mediation to go wrong.
- ``tree``: ``pulsar-broker`` + ``pulsar-testclient`` and their dependency tree, resolved by the
  project's ``pom.xml`` (parent POM imported in dependencyManagement).

``auto`` (the default, ``PULSARLOAD_PULSAR_SOURCE`` overrides) tries ``dist`` first and ``tree``
second, because for 4.0.8 the tree cannot be resolved from Maven Central: ``pulsar-opentelemetry``
and ``jetcd-core-shaded`` 4.0.8 are not published there, and finding that out costs minutes and
about 250 MB of jars. The result lands in ``<cache>/pulsar-<v>/lib`` with a stamp file; later
calls only read the stamp, so reruns are instant. A lock file makes concurrent first runs
(a test session and a CLI call) wait for each other instead of racing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pulsarload.broker.errors import BrokerError
from pulsarload.config import LocalBrokerSettings, cache_dir

POM_PATH = Path(__file__).with_name("pom.xml")
CENTRAL_URL = "https://repo.maven.apache.org/maven2"
SOURCES = ("auto", "dist", "tree")
#: A cold resolve downloads ~250 MB; give a slow line plenty of time, but not forever.
MAVEN_TIMEOUT_S = 1800.0
STAMP_NAME = "pulsarload-stamp.json"

# Used only when the user has no ~/.m2/settings.xml of their own: Pulsar's parent POM lists
# extra repositories (Confluent, Restlet) that are unreachable from many networks and only slow
# resolution down; everything Pulsar needs is on Maven Central.
_CENTRAL_ONLY_SETTINGS = f"""<?xml version="1.0" encoding="UTF-8"?>
<settings>
  <mirrors>
    <mirror>
      <id>central-only</id>
      <mirrorOf>*</mirrorOf>
      <url>{CENTRAL_URL}</url>
    </mirror>
  </mirrors>
</settings>
"""


def release_dir(version: str) -> Path:
    """Where one release's jars, stamp, lock and Maven log live."""
    return cache_dir() / f"pulsar-{version}"


def lib_dir(version: str) -> Path:
    return release_dir(version) / "lib"


def maven_log_path(version: str) -> Path:
    return release_dir(version) / "maven.log"


def maven_repo() -> Path:
    """A Maven local repository of our own, so wiping the cache wipes everything we fetched."""
    return cache_dir() / "m2"


def requested_source() -> str:
    source = (os.environ.get("PULSARLOAD_PULSAR_SOURCE") or "auto").strip().lower()
    if source not in SOURCES:
        raise BrokerError(f"PULSARLOAD_PULSAR_SOURCE={source!r} is not one of {', '.join(SOURCES)}")
    return source


def pom_digest() -> str:
    return hashlib.sha256(POM_PATH.read_bytes()).hexdigest()[:16]


def read_stamp(version: str) -> dict | None:
    """The stamp of a completed fetch, or None when there is none or it is unreadable."""
    try:
        stamp = json.loads((release_dir(version) / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def stamp_is_valid(stamp: dict | None, version: str, source: str) -> bool:
    """Whether a stamp still describes a usable lib/ for this version and requested source."""
    if not stamp or stamp.get("version") != version:
        return False
    if source != "auto" and stamp.get("source") != source:
        return False
    if stamp.get("source") == "tree" and stamp.get("pom") != pom_digest():
        return False
    jars = list(lib_dir(version).glob("*.jar"))
    return len(jars) > 0 and len(jars) == stamp.get("jars")


def list_jars(version: str) -> list[Path]:
    return sorted(lib_dir(version).glob("*.jar"))


def ensure_classpath(
    settings: LocalBrokerSettings | None = None, *, quiet: bool = False
) -> list[Path]:
    """The jars of the configured Pulsar release, fetching them the first time.

    Raises BrokerError when Maven is missing or fails (with the path of its log).
    """
    settings = settings or LocalBrokerSettings()
    version = settings.pulsar_version
    source = requested_source()
    if stamp_is_valid(read_stamp(version), version, source):
        return list_jars(version)
    release_dir(version).mkdir(parents=True, exist_ok=True)
    with file_lock(release_dir(version) / ".lock"):
        # Another process may have finished the fetch while we waited for the lock.
        if stamp_is_valid(read_stamp(version), version, source):
            return list_jars(version)
        mvn = shutil.which("mvn")
        if not mvn:
            raise BrokerError(
                f"Maven (`mvn`) not found on PATH; it is needed once to fetch Apache Pulsar "
                f"{version} from Maven Central: install it (e.g. `apt-get install maven`)"
            )
        _fetch(mvn, version, source, quiet=quiet)
    return list_jars(version)


def _fetch(mvn: str, version: str, source: str, *, quiet: bool) -> None:
    log_path = maven_log_path(version)
    log_path.write_text("")
    order = ["dist", "tree"] if source == "auto" else [source]
    failures: list[str] = []
    for way in order:
        if not quiet:
            print(
                f"pulsarload: fetching Apache Pulsar {version} ({way}) from Maven Central "
                f"into {release_dir(version)} (first run only; log: {log_path})",
                file=sys.stderr,
                flush=True,
            )
        started = time.monotonic()
        staging = release_dir(version) / f"lib.{way}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            if way == "dist":
                _fetch_distribution(mvn, version, staging, log_path)
            else:
                _fetch_tree(mvn, version, staging, log_path)
        except BrokerError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            failures.append(f"{way}: {exc}")
            continue
        _install(version, way, staging, time.monotonic() - started)
        return
    raise BrokerError(
        f"could not fetch Apache Pulsar {version} with Maven ({'; '.join(failures)}); "
        f"see {log_path}"
    )


def _install(version: str, source: str, staging: Path, seconds: float) -> None:
    """Swap the staged jars in as lib/ and write the stamp last, so a crash leaves no stamp."""
    (release_dir(version) / STAMP_NAME).unlink(missing_ok=True)
    target = lib_dir(version)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    jars = list(target.glob("*.jar"))
    stamp = {
        "version": version,
        "source": source,
        "pom": pom_digest(),
        "jars": len(jars),
        "bytes": sum(j.stat().st_size for j in jars),
        "seconds": round(seconds, 1),
        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (release_dir(version) / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n")


def maven_base_command(mvn: str) -> list[str]:
    """mvn in batch mode, without progress bars, on our own local repository."""
    cmd = [mvn, "-B", "-ntp", f"-Dmaven.repo.local={maven_repo()}"]
    if not (Path.home() / ".m2" / "settings.xml").exists():
        settings = cache_dir() / "maven-settings.xml"
        settings.parent.mkdir(parents=True, exist_ok=True)
        if not settings.exists() or settings.read_text() != _CENTRAL_ONLY_SETTINGS:
            settings.write_text(_CENTRAL_ONLY_SETTINGS)
        cmd += ["-s", str(settings)]
    return cmd


def _run_maven(cmd: list[str], log_path: Path, cwd: Path) -> None:
    with log_path.open("a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        try:
            proc = subprocess.run(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                timeout=MAVEN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BrokerError(f"Maven did not finish in {MAVEN_TIMEOUT_S:.0f} s") from None
        except OSError as exc:
            raise BrokerError(f"cannot run Maven ({exc})") from None
    if proc.returncode != 0:
        raise BrokerError(_maven_failure_reason(log_path) or f"mvn exited {proc.returncode}")


def _maven_failure_reason(log_path: Path) -> str | None:
    """The first '[ERROR] Failed to execute goal' line of the log, shortened to its cause."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if "[ERROR] Failed to execute goal" in line:
            reason = line.split(": ", 2)[-1].replace(" -> [Help 1]", "")
            return reason if len(reason) <= 300 else reason[:297] + "..."
    return None


def _fetch_tree(mvn: str, version: str, out: Path, log_path: Path) -> None:
    cmd = maven_base_command(mvn) + [
        "-f",
        str(POM_PATH),
        f"-Dpulsar.version={version}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={out}",
    ]
    _run_maven(cmd, log_path, out)


def _fetch_distribution(mvn: str, version: str, out: Path, log_path: Path) -> None:
    download = out.parent / "dist.partial"
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir()
    try:
        artifact = f"org.apache.pulsar:pulsar-server-distribution:{version}:tar.gz:bin"
        cmd = maven_base_command(mvn) + [
            "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
            f"-Dartifact={artifact}",
            f"-DoutputDirectory={download}",
        ]
        _run_maven(cmd, log_path, download)
        tarballs = list(download.glob("*.tar.gz"))
        if not tarballs:
            raise BrokerError(f"Maven finished but left no {artifact} in {download}")
        extract_lib(tarballs[0], out)
    finally:
        shutil.rmtree(download, ignore_errors=True)


def extract_lib(tarball: Path, out: Path) -> int:
    """Copy the jars of a distribution's ``<top>/lib/`` into ``out``; returns how many."""
    count = 0
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if len(parts) == 3 and parts[1] == "lib" and member.isfile():
                    if not parts[2].endswith(".jar"):
                        continue
                    src = tar.extractfile(member)
                    if src is None:
                        continue
                    with src, (out / parts[2]).open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    count += 1
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BrokerError(f"cannot unpack {tarball.name}: {exc}") from None
    if count == 0:
        raise BrokerError(f"{tarball.name} has no lib/*.jar")
    return count


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the `with` block (released if the process dies)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
