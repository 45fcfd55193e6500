"""Lookup over HTTP: an `http://` or `https://` service URL (a broker's or a proxy's admin
port), as the official client accepts one.

Three REST calls stand in for the binary protocol's lookup commands: the owning broker
(`/lookup/v2/topic/...`), partition metadata (`/admin/v2/.../partitions`) and the topics of a
namespace (`/admin/v2/namespaces/.../topics`). Producers and consumers still talk to the
broker over the binary protocol at the URL the lookup names.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from pulsarload.client.auth import Authentication
from pulsarload.client.errors import (
    AuthenticationError,
    AuthorizationError,
    ConnectError,
    InvalidConfiguration,
    LookupFailed,
    ServiceUnitNotReady,
    TimeoutError,
    TopicNotFound,
)
from pulsarload.client.settings import ClientConfig
from pulsarload.client.topics import TopicName
from pulsarload.client.urls import AddressRotation

__all__ = ["HttpLookup"]

#: GetTopicsOfNamespace modes (wire values) -> the REST API's `mode` parameter.
_MODES = {0: "PERSISTENT", 1: "NON_PERSISTENT", 2: "ALL"}


class HttpLookup:
    """The lookup calls of one client over its HTTP service URL (thread-safe)."""

    def __init__(self, config: ClientConfig, auth: Authentication | None) -> None:
        self._config = config
        self._rotation = AddressRotation(config.parsed_url)
        self._auth = auth if auth is not None and auth.method_name == "token" else None
        verify: ssl.SSLContext | bool = True
        if config.parsed_url.tls:
            if config.tls_allow_insecure_connection:
                verify = False
            else:
                try:
                    verify = ssl.create_default_context(cafile=config.tls_trust_certs_file_path)
                except (OSError, ssl.SSLError) as err:
                    raise InvalidConfiguration(
                        f"tls_trust_certs_file_path: cannot load "
                        f"{config.tls_trust_certs_file_path!r}: {err}"
                    ) from None
                verify.check_hostname = config.tls_validate_hostname
        self._http = httpx.Client(
            timeout=config.operation_timeout_seconds,
            verify=verify,
            trust_env=False,
        )

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        where = self._rotation.next()
        url = f"{'https' if where.tls else 'http'}://{where}{path}"
        headers = {}
        if self._auth is not None:
            headers["Authorization"] = "Bearer " + self._auth.auth_data().decode()
        try:
            resp = self._http.get(url, params=params, headers=headers)
        except httpx.TimeoutException as err:
            raise TimeoutError(f"HTTP lookup at {where}: no answer ({err})") from None
        except httpx.HTTPError as err:
            raise ConnectError(f"HTTP lookup at {where}: {err}") from None
        if resp.status_code == 404:
            raise TopicNotFound(f"{path}: not found ({resp.text.strip()[:200]})")
        if resp.status_code == 401:
            raise AuthenticationError(f"{path}: HTTP 401, authentication failed")
        if resp.status_code == 403:
            raise AuthorizationError(f"{path}: HTTP 403, not authorized")
        if resp.status_code >= 500 or resp.status_code == 429:
            raise ServiceUnitNotReady(f"{path}: HTTP {resp.status_code} {resp.text.strip()[:200]}")
        if resp.status_code != 200:
            raise LookupFailed(f"{path}: HTTP {resp.status_code} {resp.text.strip()[:200]}")
        try:
            return resp.json()
        except ValueError:
            raise LookupFailed(f"{path}: the answer is not JSON") from None

    @staticmethod
    def _rest(topic: str) -> str:
        t = TopicName.parse(topic, "topic")
        return f"{t.domain}/{t.tenant}/{t.namespace}/{t.local_name}"

    def lookup(self, topic: str) -> str:
        """The owning broker's binary-protocol URL (TLS or plain, as the client uses)."""
        data = self._get(f"/lookup/v2/topic/{self._rest(topic)}")
        url = data.get("brokerUrlTls") if self._config.tls else data.get("brokerUrl")
        if not url:
            raise LookupFailed(f"HTTP lookup of {topic}: no {'TLS ' if self._config.tls else ''}"
                               "broker URL in the answer")  # fmt: skip
        return str(url)

    def partitions(self, topic: str) -> int:
        data = self._get(
            f"/admin/v2/{self._rest(topic)}/partitions", {"checkAllowAutoCreation": "true"}
        )
        return int(data.get("partitions") or 0)

    def topics(self, namespace: str, mode: int) -> list[str]:
        data = self._get(f"/admin/v2/namespaces/{namespace}/topics", {"mode": _MODES[mode]})
        return [str(t) for t in data]

    def close(self) -> None:
        self._http.close()
