"""Service-info providers: where the client finds its cluster, and automatic cluster failover.

Shaped like the official client's `ServiceInfo`, `ServiceInfoProvider` and
`AutoClusterFailover`: a `Client` given a provider instead of a URL starts on the provider's
initial service and switches whenever the provider reports another. On a switch the client
looks topics up through the new service and closes its connections, so every producer and
consumer reconnects there (what the C++ client does).

`AutoClusterFailover` is a provider with one probe thread: every `check_interval_ms` it opens a
TCP connection to the service in use (and, while on a secondary, to the primary); after
`failover_threshold` failed probes it moves to the first secondary that answers, and after
`switch_back_threshold` good probes of the primary it moves back.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence

from pulsarload.client.auth import Authentication
from pulsarload.client.errors import InvalidConfiguration
from pulsarload.client.urls import parse_service_url

__all__ = ["AutoClusterFailover", "ServiceInfo", "ServiceInfoProvider"]

log = logging.getLogger(__name__)

#: How long one probe waits for a TCP connection.
_PROBE_TIMEOUT_S = 2.0


class ServiceInfo:
    """One cluster endpoint: its service URL, and the authentication and CA file for it."""

    def __init__(
        self,
        service_url: str,
        authentication: Authentication | None = None,
        tls_trust_certs_file_path: str | None = None,
    ) -> None:
        if not isinstance(service_url, str):
            raise InvalidConfiguration(f"service_url: expected a string, got {service_url!r}")
        if authentication is not None and not isinstance(authentication, Authentication):
            raise InvalidConfiguration(
                f"authentication: expected an Authentication, got {authentication!r}"
            )
        if tls_trust_certs_file_path is not None and not isinstance(tls_trust_certs_file_path, str):
            raise InvalidConfiguration(
                f"tls_trust_certs_file_path: expected a path, got {tls_trust_certs_file_path!r}"
            )
        self._parsed = parse_service_url(service_url)
        self._url = service_url
        self.authentication = authentication
        self._ca = tls_trust_certs_file_path

    @property
    def service_url(self) -> str:
        return self._url

    @property
    def use_tls(self) -> bool:
        return self._parsed.tls

    @property
    def tls_trust_certs_file_path(self) -> str | None:
        return self._ca

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServiceInfo) and (self._url, self._ca) == (other._url, other._ca)

    def __hash__(self) -> int:
        return hash((self._url, self._ca))

    def __repr__(self) -> str:
        return (
            f"ServiceInfo(service_url={self._url!r}, use_tls={self.use_tls!r}, "
            f"tls_trust_certs_file_path={self._ca!r})"
        )


class ServiceInfoProvider:
    """Base class of a service discovery: return the first service, then report changes
    through the callback `initialize` receives; `close` stops background work."""

    def initial_service_info(self) -> ServiceInfo:
        raise NotImplementedError

    def initialize(self, on_service_info_update: Callable[[ServiceInfo], None]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        return None


def probe(info: ServiceInfo, timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Whether any host of the service accepts a TCP connection within `timeout`."""
    for addr in info._parsed.addresses:
        try:
            with socket.create_connection((addr.host, addr.port), timeout=timeout):
                return True
        except OSError:
            continue
    return False


class AutoClusterFailover(ServiceInfoProvider):
    """Fail over from `primary` to the first reachable of `secondary`, and back."""

    def __init__(
        self,
        primary: ServiceInfo,
        secondary: Sequence[ServiceInfo],
        check_interval_ms: int = 5000,
        failover_threshold: int = 1,
        switch_back_threshold: int = 1,
    ) -> None:
        if not isinstance(primary, ServiceInfo):
            raise InvalidConfiguration(f"primary: expected a ServiceInfo, got {primary!r}")
        if isinstance(secondary, str | bytes) or not isinstance(secondary, Sequence):
            raise InvalidConfiguration(
                f"secondary: expected a list of ServiceInfo, got {secondary!r}"
            )
        if not secondary:
            raise InvalidConfiguration("secondary: expected at least one ServiceInfo")
        for i, info in enumerate(secondary):
            if not isinstance(info, ServiceInfo):
                raise InvalidConfiguration(f"secondary[{i}]: expected a ServiceInfo, got {info!r}")
        for name, value in (
            ("check_interval_ms", check_interval_ms),
            ("failover_threshold", failover_threshold),
            ("switch_back_threshold", switch_back_threshold),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidConfiguration(f"{name}: expected an int > 0, got {value!r}")
        self.primary = primary
        self.secondary = list(secondary)
        self.check_interval_ms = check_interval_ms
        self.failover_threshold = failover_threshold
        self.switch_back_threshold = switch_back_threshold
        self._current = primary
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def initial_service_info(self) -> ServiceInfo:
        return self.primary

    def initialize(self, on_service_info_update: Callable[[ServiceInfo], None]) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(on_service_info_update,), name="pulsar-failover", daemon=True
        )
        self._thread.start()

    def _run(self, update: Callable[[ServiceInfo], None]) -> None:
        failures = successes = 0
        interval = self.check_interval_ms / 1000.0
        while not self._stop.wait(interval):
            current = self._current
            if probe(current):
                failures = 0
            else:
                failures += 1
            if current is not self.primary:
                successes = successes + 1 if probe(self.primary) else 0
                if successes >= self.switch_back_threshold:
                    self._switch(self.primary, update)
                    failures = successes = 0
                    continue
            if failures >= self.failover_threshold:
                for info in [self.primary, *self.secondary]:
                    if info is not current and probe(info):
                        self._switch(info, update)
                        failures = successes = 0
                        break

    def _switch(self, info: ServiceInfo, update: Callable[[ServiceInfo], None]) -> None:
        if self._stop.is_set():
            return
        log.info("cluster failover: %s -> %s", self._current.service_url, info.service_url)
        self._current = info
        try:
            update(info)
        except Exception:
            log.exception("switching the client to %s failed", info.service_url)

    def close(self) -> None:
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(_PROBE_TIMEOUT_S * (2 + len(self.secondary)) + 1)

    def __repr__(self) -> str:
        return (
            f"AutoClusterFailover(primary={self.primary!r}, secondary={self.secondary!r}, "
            f"check_interval_ms={self.check_interval_ms!r}, "
            f"failover_threshold={self.failover_threshold!r}, "
            f"switch_back_threshold={self.switch_back_threshold!r})"
        )
