"""`pulsarload doctor`: one screen that says whether this machine can run a load test.

Checks the interpreter (free-threaded build, GIL off), every runtime dependency (installed,
imports without turning the GIL back on), Java for the local broker, and broker reachability.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import socket
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlparse

#: distribution name -> module to import (runtime dependencies from pyproject.toml).
RUNTIME_DEPENDENCIES: dict[str, str] = {
    "click": "click",
    "textual": "textual",
    "rich": "rich",
    "psutil": "psutil",
    "crc32c": "crc32c",
    "httpx": "httpx",
    "prometheus_client": "prometheus_client",
    "tomli-w": "tomli_w",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "pycryptodome": "Crypto.Cipher.AES",
    "protobuf": "google.protobuf.descriptor_pool",
}
if sys.version_info < (3, 14):
    RUNTIME_DEPENDENCIES["backports.zstd"] = "backports.zstd"
    # No cp314t wheel of lz4 yet; on 3.14 it is optional (the LZ4 codec needs it).
    RUNTIME_DEPENDENCIES["lz4"] = "lz4.block"

#: The `cluster` extra (`--cluster`): Dask, and the compiled modules it brings that have no
#: free-threaded wheel and are built from source (each must leave the GIL off).
CLUSTER_DEPENDENCIES: dict[str, str] = {
    "dask": "dask",
    "distributed": "distributed",
    "msgpack": "msgpack",
    "tornado": "tornado",
    "pyyaml": "yaml",
}

NETWORK_TIMEOUT_S = 3.0


def gil_enabled() -> bool:
    """True when the GIL is on (always True on a non-free-threaded build)."""
    return getattr(sys, "_is_gil_enabled", lambda: True)()


def free_threaded_build() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def import_runtime_dependencies() -> dict[str, str]:
    """Import every runtime dependency; returns name -> version or an error text."""
    found: dict[str, str] = {}
    for dist, module in RUNTIME_DEPENDENCIES.items():
        try:
            importlib.import_module(module)
            found[dist] = importlib.metadata.version(dist)
        except Exception as err:  # report every failure, keep checking the rest
            found[dist] = f"ERROR {type(err).__name__}: {err}"
    return found


def _java_version() -> str | None:
    java = shutil.which("java")
    if java is None:
        return None
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (out.stderr or out.stdout).strip().splitlines()
    return lines[0] if lines else "unknown"


def _tcp_reachable(url: str) -> str | None:
    """None when a TCP connection to the URL's (first) host:port opens, else the reason."""
    from pulsarload.client.urls import parse_service_url

    try:
        address = parse_service_url(url, allow_http=False).addresses[0]
    except ValueError as err:  # InvalidUrl: say what is wrong with it, not "reachable"
        return f"not a broker URL ({err})"
    try:
        with socket.create_connection((address.host, address.port), NETWORK_TIMEOUT_S):
            return None
    except OSError as err:
        return str(err)


def _admin_ready(admin_url: str) -> str | None:
    parsed = urlparse(admin_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return "not an admin URL (use http://host:8080 or https://host:8443)"
    try:
        with urllib.request.urlopen(
            admin_url.rstrip("/") + "/admin/v2/brokers/ready", timeout=NETWORK_TIMEOUT_S
        ) as resp:
            return None if resp.status == 200 else f"HTTP {resp.status}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        return str(getattr(err, "reason", err))


def run_checks(service_url: str, admin_url: str, echo: Callable[[str], None] = print) -> bool:
    """Print one line per check; True when everything needed for a native run is fine."""
    ok = True

    def line(good: bool, what: str, detail: str) -> None:
        echo(f"[{'ok' if good else '!!'}] {what:<22} {detail}")

    ft = free_threaded_build()
    line(ft, "free-threaded build", f"{sys.version.split()[0]} at {sys.executable}")
    deps = import_runtime_dependencies()
    for dist, version in deps.items():
        good = not version.startswith("ERROR")
        ok &= good
        line(good, dist, version)
    if "lz4" not in deps:  # optional on 3.14: no cp314t wheel yet
        from pulsarload.wire.compression import HAVE_LZ4

        line(True, "lz4 (optional)", "installed" if HAVE_LZ4 else "not here: no LZ4 codec (-z lz4)")
    gil = gil_enabled()
    line(
        not gil,
        "GIL after imports",
        "off"
        if not gil
        else "ON (a dependency or the build turned it on; workers will not run in parallel)",
    )
    ok &= ft and not gil
    try:
        importlib.import_module("pulsar")
        line(
            True, "official client", f"pulsar-client {importlib.metadata.version('pulsar-client')}"
        )
    except Exception:
        line(True, "official client", "not here (normal on a free-threaded build; see .venv-gil)")
    java = _java_version()
    line(java is not None, "java", java or "not found: install Java 17 to run the local broker")
    tcp = _tcp_reachable(service_url)
    line(
        tcp is None,
        "broker",
        f"{service_url} " + ("reachable" if tcp is None else f"unreachable: {tcp}"),
    )
    admin = _admin_ready(admin_url)
    line(
        admin is None,
        "admin API",
        f"{admin_url} " + ("ready" if admin is None else f"not ready: {admin}"),
    )
    if tcp or admin:
        echo(
            "    start a local broker with `pulsarload broker start` or set PULSAR_BROKER_URL/PULSAR_ADMIN_URL"
        )
    return ok and tcp is None and admin is None
