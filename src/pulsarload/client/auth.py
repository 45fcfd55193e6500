"""Authentication providers: what goes into CONNECT (and AUTH_RESPONSE on a challenge).

Named as in the official client (`pulsar.AuthenticationToken`). A token may be a string or a
callable returning one, so a refreshed token is used on the next connect or challenge.
"""

from __future__ import annotations

from collections.abc import Callable

from pulsarload.client.errors import InvalidConfiguration

__all__ = ["Authentication", "AuthenticationToken"]


class Authentication:
    """No authentication (the base class): empty method name, no data."""

    method_name: str = ""

    def auth_data(self) -> bytes:
        return b""


class AuthenticationToken(Authentication):
    """JWT token authentication: auth_method_name "token", auth_data the token bytes."""

    method_name = "token"

    def __init__(self, token: str | Callable[[], str]) -> None:
        if not callable(token) and (not isinstance(token, str) or not token.strip()):
            raise InvalidConfiguration("token: expected a non-empty string or a callable")
        self._token = token

    def auth_data(self) -> bytes:
        token = self._token() if callable(self._token) else self._token
        return token.strip().encode("utf-8")
