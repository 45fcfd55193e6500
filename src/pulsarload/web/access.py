"""Who may watch and who may steer: the bind address, the token, and how a request shows it.

Loopback needs no token (unless one is given); any other address needs one for the controls
and, unless viewing without it was allowed explicitly, for watching too. The token travels in
the `Authorization: Bearer` header only (never in a URL, so never in a log) and is compared in
constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field

from pulsarload.config import DEFAULT_WEB_HOST
from pulsarload.errors import ConfigError

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def parse_address(text: str) -> tuple[str, int]:
    """`PORT`, `HOST:PORT` or `[IPV6]:PORT` -> (host, port); host defaults to loopback."""
    t = text.strip()
    host, sep, port_text = t.rpartition(":")
    if not sep:
        host, port_text = DEFAULT_WEB_HOST, t
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(f"--web {text!r}: write an IPv6 address in brackets, e.g. [::1]:8088")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(
            f"--web {text!r}: expected [HOST:]PORT with PORT 0..65535, e.g. 8088 or 0.0.0.0:8088"
        )
    if not host:
        raise ConfigError(f"--web {text!r}: the host before ':' is empty; e.g. 127.0.0.1:8088")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """What a request must carry. `token` None means no token is asked for anywhere."""

    token: str | None = field(default=None, repr=False)
    view_needs_token: bool = False
    #: Host header values a loopback server answers (a DNS-rebinding page sends its own name).
    allowed_hosts: frozenset[str] | None = None

    @property
    def control_needs_token(self) -> bool:
        return self.token is not None

    def check_token(self, header: str | None) -> str | None:
        """None when the header carries the token; else why not (for a 401/403 body)."""
        if self.token is None:
            return None
        if not header:
            return "missing token: send 'Authorization: Bearer <token>'"
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return "missing token: send 'Authorization: Bearer <token>'"
        if not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return "wrong token"
        return None

    def host_allowed(self, host_header: str | None) -> bool:
        if self.allowed_hosts is None:
            return True
        if not host_header:
            return False
        name = host_header.strip().lower()
        if name.startswith("["):
            name = name[1 : name.find("]")] if "]" in name else name
        else:
            name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
        return name in self.allowed_hosts


def policy_for(host: str, token: str | None, view_without_token: bool) -> tuple[AccessPolicy, bool]:
    """The policy for a bind address; also whether the token was generated here (to print it
    once). Loopback without a given token: no token. Otherwise a token, generated if none."""
    generated = False
    if token is not None and not token.strip():
        raise ConfigError("--web-token is empty; give a token, or leave it out")
    if token is None and not is_loopback(host):
        token, generated = new_token(), True
    allowed = None
    if is_loopback(host):
        allowed = frozenset({"127.0.0.1", "localhost", "::1", host.lower()})
    policy = AccessPolicy(
        token=token,
        view_needs_token=token is not None and not view_without_token,
        allowed_hosts=allowed,
    )
    return policy, generated
