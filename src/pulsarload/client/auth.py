"""Authentication providers: what goes into CONNECT (and AUTH_RESPONSE on a challenge), and the
client certificate a TLS connection presents.

Named as in the official client: `AuthenticationToken`, `AuthenticationBasic`,
`AuthenticationTLS`, and `Authentication(plugin, params)`, which takes the official plugin names
(`token`, `basic`, `tls` or their Java class names) with the C++ client's parameter strings.
A token may be a string or a callable returning one, so a refreshed token is used on the next
connect or challenge. Loading a C++ plugin library (a path to a `.so`) is not possible here.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable

from pulsarload.client.errors import ErrorGettingAuthenticationData, InvalidConfiguration

__all__ = [
    "Authentication",
    "AuthenticationBasic",
    "AuthenticationTLS",
    "AuthenticationToken",
]

#: Plugin names (short and the Java class names the C++ client also accepts) -> short name.
_PLUGINS = {
    "token": "token",
    "org.apache.pulsar.client.impl.auth.AuthenticationToken": "token",
    "basic": "basic",
    "org.apache.pulsar.client.impl.auth.AuthenticationBasic": "basic",
    "tls": "tls",
    "org.apache.pulsar.client.impl.auth.AuthenticationTls": "tls",
}


def _check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidConfiguration(f"{name}: expected a string, got {value!r}")
    return value


def _key_values(params: str) -> dict[str, str]:
    """The C++ client's default parameter format: `key1:value1,key2:value2` (or JSON)."""
    text = params.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError as err:
            raise InvalidConfiguration(f"authParamsString: not valid JSON ({err})") from None
        if not isinstance(loaded, dict):
            raise InvalidConfiguration("authParamsString: expected a JSON object")
        return {str(k): str(v) for k, v in loaded.items()}
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition(":")
        if not sep:
            raise InvalidConfiguration(
                f"authParamsString: {item!r} is not key:value (expected e.g. "
                "'tlsCertFile:/path/cert.pem,tlsKeyFile:/path/key.pem')"
            )
        out[key.strip()] = value.strip()
    return out


class Authentication:
    """An authentication provider.

    `Authentication()` is no authentication (empty method name, no data).
    `Authentication(plugin, params)` is the official constructor: `plugin` names a provider
    (`token`, `basic`, `tls` or the Java class name) and `params` is its parameter string as
    the C++ client reads it (`token:...`, `file:///path`, `env:NAME` for tokens; JSON with
    username and password for basic; `tlsCertFile:...,tlsKeyFile:...` for TLS).
    """

    method_name: str = ""
    #: A client certificate and its key (PEM files) that the TLS connection presents.
    tls_certificate_file_path: str | None = None
    tls_private_key_file_path: str | None = None

    def __init__(self, dynamicLibPath: str | None = None, authParamsString: str = "") -> None:
        self._inner: Authentication | None = None
        if dynamicLibPath is None:
            return
        _check_str("dynamicLibPath", dynamicLibPath)
        _check_str("authParamsString", authParamsString)
        kind = _PLUGINS.get(dynamicLibPath.strip())
        if kind is None:
            raise InvalidConfiguration(
                f"dynamicLibPath: {dynamicLibPath!r} is not a known plugin; loading a C++ plugin "
                "library is not supported: use 'token', 'basic' or 'tls' (or "
                "AuthenticationToken / AuthenticationBasic / AuthenticationTLS)"
            )
        inner: Authentication
        if kind == "token":
            inner = AuthenticationToken(_token_supplier(authParamsString))
        elif kind == "basic":
            inner = AuthenticationBasic(auth_params_string=authParamsString)
        else:
            params = _key_values(authParamsString)
            cert, key = params.get("tlsCertFile"), params.get("tlsKeyFile")
            if not cert or not key:
                raise InvalidConfiguration(
                    "authParamsString: the tls plugin needs tlsCertFile and tlsKeyFile"
                )
            inner = AuthenticationTLS(cert, key)
        self._inner = inner
        self.method_name = inner.method_name
        self.tls_certificate_file_path = inner.tls_certificate_file_path
        self.tls_private_key_file_path = inner.tls_private_key_file_path

    def auth_data(self) -> bytes:
        """The bytes CONNECT carries (and AUTH_RESPONSE on a challenge)."""
        return self._inner.auth_data() if self._inner is not None else b""

    def http_headers(self) -> dict[str, str]:
        """Headers for the admin HTTP API (and HTTP lookups)."""
        return self._inner.http_headers() if self._inner is not None else {}


def _token_supplier(params: str) -> Callable[[], str]:
    """The C++ token plugin's parameter forms: `token:T`, `file:///path`, `env:NAME` or T."""
    if params.startswith("token:"):
        token = params[len("token:") :]
        return lambda: token
    if params.startswith("file:"):
        path = params[len("file://") :] if params.startswith("file://") else params[5:]

        def from_file() -> str:
            try:
                with open(path, encoding="utf-8") as f:
                    return f.read()
            except OSError as err:
                raise ErrorGettingAuthenticationData(
                    f"token file {path}: {err.strerror or err}"
                ) from None

        return from_file
    if params.startswith("env:"):
        name = params[len("env:") :]

        def from_env() -> str:
            value = os.environ.get(name)
            if value is None:
                raise ErrorGettingAuthenticationData(f"token: environment variable {name} is unset")
            return value

        return from_env
    token = params
    return lambda: token


class AuthenticationToken(Authentication):
    """JWT token authentication: auth_method_name "token", auth_data the token bytes."""

    method_name = "token"

    def __init__(self, token: str | Callable[[], str]) -> None:
        if not callable(token) and (not isinstance(token, str) or not token.strip()):
            raise InvalidConfiguration("token: expected a non-empty string or a callable")
        self._inner = None
        self._token = token

    def _current(self) -> str:
        token = self._token() if callable(self._token) else self._token
        if not isinstance(token, str):
            raise ErrorGettingAuthenticationData(
                f"token: the token supplier returned {type(token).__name__}, not a string"
            )
        return token.strip()

    def auth_data(self) -> bytes:
        return self._current().encode("utf-8")

    def http_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._current()}"}


class AuthenticationBasic(Authentication):
    """Basic authentication (the broker's AuthenticationProviderBasic): CONNECT carries
    `username:password` under the method name (default "basic"); HTTP gets a Basic header."""

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        method: str = "basic",
        auth_params_string: str | None = None,
    ) -> None:
        self._inner = None
        if auth_params_string is not None:
            params = _key_values(_check_str("auth_params_string", auth_params_string))
            username, password = params.get("username"), params.get("password")
            method = params.get("method", "basic")
            if username is None or password is None:
                raise InvalidConfiguration(
                    "auth_params_string: expected JSON with username and password, e.g. "
                    '\'{"username": "u", "password": "p"}\''
                )
        self._user = _check_str("username", username)
        self._password = _check_str("password", password)
        self.method_name = _check_str("method", method)
        if not self.method_name:
            raise InvalidConfiguration("method: expected a non-empty method name")

    def auth_data(self) -> bytes:
        return f"{self._user}:{self._password}".encode()

    def http_headers(self) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(self.auth_data()).decode("ascii")}


class AuthenticationTLS(Authentication):
    """TLS client-certificate authentication: the connection presents the certificate (the
    broker's AuthenticationProviderTls takes the role from it); CONNECT names method "tls"."""

    method_name = "tls"

    def __init__(self, certificate_path: str, private_key_path: str) -> None:
        self._inner = None
        self.tls_certificate_file_path = _check_str("certificate_path", certificate_path)
        self.tls_private_key_file_path = _check_str("private_key_path", private_key_path)

    def auth_data(self) -> bytes:
        return b""
