"""Service URL parsing: `pulsar://host:port[,host2:port2]` and `pulsar+ssl://...`; also
`http://` / `https://` (an admin port: lookups go over HTTP, as the official client does).

Checked before any socket is opened so a typo surfaces as an `InvalidUrl` (a `ValueError`)
naming the field, not as a DNS error seconds later.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass

from pulsarload.client.errors import InvalidUrl

__all__ = ["Address", "ServiceUrl", "parse_broker_url", "parse_service_url"]

PLAIN_SCHEME = "pulsar"
TLS_SCHEME = "pulsar+ssl"
DEFAULT_PORT = 6650
DEFAULT_TLS_PORT = 6651
HTTP_SCHEMES = {"http": 80, "https": 443}

_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


@dataclass(frozen=True, slots=True)
class Address:
    """One broker endpoint; `str()` is the `host:port` form used in messages and pool keys."""

    host: str
    port: int
    tls: bool = False

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{TLS_SCHEME if self.tls else PLAIN_SCHEME}://{self}"


@dataclass(frozen=True, slots=True)
class ServiceUrl:
    """A parsed service URL: scheme and one or more hosts (tried round-robin)."""

    tls: bool
    addresses: tuple[Address, ...]
    text: str
    #: An http:// or https:// URL: lookups over HTTP, brokers reached at what they name.
    http: bool = False

    def __str__(self) -> str:
        return self.text


class AddressRotation:
    """Round-robin over a service URL's hosts, safe to share between threads."""

    def __init__(self, service: ServiceUrl) -> None:
        self._addresses = service.addresses
        self._cycle = itertools.cycle(range(len(service.addresses)))
        self._lock = threading.Lock()

    def next(self) -> Address:
        with self._lock:
            return self._addresses[next(self._cycle)]


def _parse_hostport(part: str, default_port: int, tls: bool, field: str, url: str) -> Address:
    part = part.strip()
    if not part:
        raise InvalidUrl(f"{field}: empty host in {url!r}")
    if part.startswith("["):
        end = part.find("]")
        if end < 0:
            raise InvalidUrl(f"{field}: unclosed '[' in host {part!r} of {url!r}")
        host, rest = part[1:end], part[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidUrl(f"{field}: unexpected {rest!r} after ']' in {url!r}")
        port_text = rest[1:] if rest else ""
    else:
        host, sep, port_text = part.partition(":")
        if sep and not port_text:
            raise InvalidUrl(f"{field}: missing port after ':' in {url!r}")
        if not host or not (_HOSTNAME.match(host)):
            raise InvalidUrl(f"{field}: invalid host {host!r} in {url!r}")
    if port_text:
        if not port_text.isdigit():
            raise InvalidUrl(f"{field}: port {port_text!r} is not a number in {url!r}")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise InvalidUrl(f"{field}: port {port} is out of range 1..65535 in {url!r}")
    else:
        port = default_port
    return Address(host, port, tls)


def parse_service_url(url: str, field: str = "service_url", allow_http: bool = True) -> ServiceUrl:
    """Parse `pulsar://h1:p1,h2:p2` / `pulsar+ssl://...` (and `http(s)://...` unless
    `allow_http` is False); `InvalidUrl` names `field` if bad."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidUrl(f"{field}: expected a URL like pulsar://localhost:6650, got {url!r}")
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise InvalidUrl(f"{field}: {url!r} has no scheme; use pulsar://host:6650 or pulsar+ssl://")
    scheme = scheme.lower()
    http = scheme in HTTP_SCHEMES and allow_http
    if scheme not in (PLAIN_SCHEME, TLS_SCHEME) and not http:
        also = ", http:// or https://" if allow_http else ""
        raise InvalidUrl(
            f"{field}: unsupported scheme {scheme!r} in {url!r}; use pulsar://, pulsar+ssl://{also}"
        )
    tls = scheme in (TLS_SCHEME, "https")
    rest = rest.rstrip("/")
    if "/" in rest or "?" in rest or "@" in rest:
        raise InvalidUrl(f"{field}: {url!r} must be scheme://host:port[,host:port] with no path")
    default = HTTP_SCHEMES[scheme] if http else (DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
    addresses = tuple(_parse_hostport(p, default, tls, field, url) for p in rest.split(","))
    return ServiceUrl(tls, addresses, text, http)


def parse_broker_url(url: str, field: str = "broker url") -> Address:
    """Parse one broker URL from a lookup response (a single host)."""
    service = parse_service_url(url, field, allow_http=False)
    if len(service.addresses) != 1:
        raise InvalidUrl(f"{field}: expected a single host, got {url!r}")
    return service.addresses[0]
