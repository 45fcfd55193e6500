"""The single home of every default, and how settings are read from the environment.

Precedence, highest first: command-line flags > environment variables > profile > preset >
the defaults below. Later issues extend the settings model; defaults stay here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pulsarload.errors import ConfigError

#: Pulsar release the local standalone broker and pulsar-perf are assembled from (4.0.x LTS).
PULSAR_VERSION = "4.0.8"

DEFAULT_BROKER_URL = "pulsar://localhost:6650"
DEFAULT_ADMIN_URL = "http://localhost:8080"
DEFAULT_BROKER_PORT = 6650
DEFAULT_WEB_PORT = 8080
#: How long `broker start` waits for readiness before it gives up (seconds).
DEFAULT_BROKER_START_TIMEOUT_S = 180.0
DEFAULT_BROKER_STOP_TIMEOUT_S = 30.0
#: Kubernetes defaults for `pulsarload k8s port-forward` (the Helm chart's proxy service).
DEFAULT_K8S_NAMESPACE = "pulsar"
DEFAULT_K8S_SERVICE = "pulsar-proxy"
DEFAULT_TOPIC = "persistent://public/default/pulsarload"


def cache_dir() -> Path:
    """Where downloads and builds are kept, outside the work tree (`PULSARLOAD_CACHE`)."""
    return Path(os.environ.get("PULSARLOAD_CACHE") or Path.home() / ".cache" / "pulsarload")


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
    """Read an integer environment variable, refusing bad values with a clear message."""
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"environment variable {name}={raw!r} is not an integer; "
            f"set a whole number between {minimum} and {maximum}"
        ) from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"environment variable {name}={value} is out of range {minimum}..{maximum}")
    return value


def broker_url_from_env() -> str:
    return env_str("PULSAR_BROKER_URL", DEFAULT_BROKER_URL)


def admin_url_from_env() -> str:
    return env_str("PULSAR_ADMIN_URL", DEFAULT_ADMIN_URL)


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Where the cluster is: binary protocol URL and admin REST URL."""

    service_url: str = field(default_factory=broker_url_from_env)
    admin_url: str = field(default_factory=admin_url_from_env)


@dataclass(frozen=True, slots=True)
class LocalBrokerSettings:
    """The local Apache Pulsar standalone that tests, the demo and users without a cluster run."""

    pulsar_version: str = PULSAR_VERSION
    broker_port: int = field(
        default_factory=lambda: env_int(
            "PULSARLOAD_BROKER_PORT", DEFAULT_BROKER_PORT, minimum=1, maximum=65535
        )
    )
    web_port: int = field(
        default_factory=lambda: env_int(
            "PULSARLOAD_WEB_PORT", DEFAULT_WEB_PORT, minimum=1, maximum=65535
        )
    )
    #: Data, logs and the pid file live here (outside the work tree by default).
    home: Path = field(default_factory=lambda: cache_dir() / "standalone")
    start_timeout_s: float = DEFAULT_BROKER_START_TIMEOUT_S
    stop_timeout_s: float = DEFAULT_BROKER_STOP_TIMEOUT_S

    @property
    def service_url(self) -> str:
        return f"pulsar://localhost:{self.broker_port}"

    @property
    def admin_url(self) -> str:
        return f"http://localhost:{self.web_port}"
