"""Topic lookup (which broker owns a topic) and partitioned-topic metadata, over binary protocol.

Lookup starts at the service URL with authoritative=false, follows Redirects (carrying the
response's authoritative flag) up to `max_lookup_redirects` hops, and honours
proxy_through_service_url (keep talking to the service URL, naming the broker in CONNECT).
Retriable failures (broker not ready, throttling, connection loss) are retried with backoff
until the operation timeout. An http:// or https:// service URL does the same over the REST
API (`http_lookup`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from pulsarload.client.backoff import Backoff
from pulsarload.client.connection_pool import ConnectionPool
from pulsarload.client.errors import (
    ConnectError,
    LookupFailed,
    PulsarError,
    TimeoutError,
    error_from_server,
)
from pulsarload.client.http_lookup import HttpLookup
from pulsarload.client.settings import ClientConfig
from pulsarload.client.urls import Address, AddressRotation, parse_broker_url
from pulsarload.wire.commands import (
    CommandGetTopicsOfNamespace,
    CommandGetTopicsOfNamespaceResponse,
    CommandLookupTopic,
    CommandLookupTopicResponse,
    CommandPartitionedTopicMetadata,
    CommandPartitionedTopicMetadataResponse,
)
from pulsarload.wire.enums import LookupType, PartitionedMetadataResponse

__all__ = ["LookupResult", "LookupService"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LookupResult:
    """Where to talk to a topic: the owning broker, reached through `physical`."""

    logical: Address
    physical: Address

    @property
    def proxied(self) -> bool:
        return self.logical != self.physical


def retry_operation[T](attempt: Callable[[], T], config: ClientConfig, what: str) -> T:
    """Run `attempt()` until it succeeds or fails for good, retrying retriable errors with
    backoff. Connection failures get `connection_timeout_ms` in all and then raise as they are
    (a `ConnectError` names the address); other retriable errors get the operation timeout and
    then raise `TimeoutError` naming the last error, as the official client reports them.
    """
    start = time.monotonic()
    backoff = Backoff(
        config.initial_backoff_interval_ms / 1000, config.max_backoff_interval_ms / 1000
    )
    while True:
        try:
            return attempt()
        except PulsarError as err:
            if not err.retriable:
                raise
            budget = (
                config.connection_timeout_ms / 1000
                if isinstance(err, ConnectError)
                else config.operation_timeout_seconds
            )
            left = start + budget - time.monotonic()
            if left <= 0:
                if isinstance(err, ConnectError | TimeoutError):
                    raise
                raise TimeoutError(
                    f"{what}: not done within {budget:g} s (operation_timeout_seconds); "
                    f"last error: {err}"
                ) from err
            delay = min(backoff.next_delay(), left)
            log.debug("%s failed (%s); retrying in %.3f s", what, err, delay)
            time.sleep(delay)


class LookupService:
    """Lookups for one client (thread-safe; holds no per-topic state)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.config = pool.config
        self._service = AddressRotation(self.config.parsed_url)
        self._http = HttpLookup(self.config, pool.auth) if self.config.parsed_url.http else None

    def switch_service(self, config: ClientConfig) -> None:
        """Look up through another service URL from now on (cluster failover)."""
        self.config = config
        self._service = AddressRotation(config.parsed_url)

    def _retrying[T](self, what: str, attempt: Callable[[], T]) -> T:
        return retry_operation(attempt, self.config, what)

    def lookup(self, topic: str) -> LookupResult:
        """The broker that serves `topic` (a full name, one partition or non-partitioned)."""
        return self._retrying(f"lookup of {topic}", lambda: self._lookup_once(topic))

    def _lookup_once(self, topic: str) -> LookupResult:
        if self._http is not None:
            broker = parse_broker_url(self._http.lookup(topic), "HTTP lookup brokerUrl")
            return LookupResult(broker, broker)
        service = self._service.next()
        conn = self.pool.get(service, service, slot=0)
        authoritative = False
        tls = self.config.tls
        for _ in range(self.config.max_lookup_redirects):
            resp: CommandLookupTopicResponse = conn.request(
                lambda rid, a=authoritative: CommandLookupTopic(
                    topic=topic,
                    request_id=rid,
                    authoritative=a,
                    advertised_listener_name=self.config.listener_name or None,
                ),
                f"LOOKUP {topic}",
            )
            if resp.response == LookupType.Failed or resp.response is None:
                if resp.error is not None:
                    raise error_from_server(resp.error, resp.message)
                raise LookupFailed(f"lookup of {topic} failed: {resp.message or 'no reason given'}")
            url = resp.brokerServiceUrlTls if tls else resp.brokerServiceUrl
            if not url:
                raise LookupFailed(
                    f"lookup of {topic}: broker sent no {'TLS ' if tls else ''}service URL"
                )
            broker = parse_broker_url(url, "lookup response brokerServiceUrl")
            physical = service if resp.proxy_through_service_url else broker
            if resp.response == LookupType.Redirect:
                authoritative = bool(resp.authoritative)
                conn = self.pool.get(broker, physical, slot=0)
                continue
            return LookupResult(broker, physical)
        raise LookupFailed(
            f"lookup of {topic}: more than {self.config.max_lookup_redirects} redirects"
        )

    def partitions(self, topic: str) -> int:
        """Number of partitions of `topic` (0: not partitioned)."""
        return self._retrying(
            f"partition metadata of {topic}", lambda: self._partitions_once(topic)
        )

    def _partitions_once(self, topic: str) -> int:
        if self._http is not None:
            return self._http.partitions(topic)
        service = self._service.next()
        conn = self.pool.get(service, service, slot=0)
        resp: CommandPartitionedTopicMetadataResponse = conn.request(
            lambda rid: CommandPartitionedTopicMetadata(topic=topic, request_id=rid),
            f"PARTITIONED_METADATA {topic}",
        )
        if resp.response == PartitionedMetadataResponse.Failed:
            if resp.error is not None:
                raise error_from_server(resp.error, resp.message)
            raise LookupFailed(f"partition metadata of {topic} failed: {resp.message}")
        return resp.partitions or 0

    def topics_of_namespace(self, namespace: str, mode: int) -> list[str]:
        """Topic names of `namespace` (`mode`: a GetTopicsOfNamespace mode value)."""
        return self._retrying(
            f"listing topics of {namespace}", lambda: self._topics_once(namespace, mode)
        )

    def _topics_once(self, namespace: str, mode: int) -> list[str]:
        if self._http is not None:
            return self._http.topics(namespace, mode)
        service = self._service.next()
        conn = self.pool.get(service, service, slot=0)
        resp: CommandGetTopicsOfNamespaceResponse = conn.request(
            lambda rid: CommandGetTopicsOfNamespace(request_id=rid, namespace=namespace, mode=mode),
            f"GET_TOPICS_OF_NAMESPACE {namespace}",
        )
        return list(resp.topics)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
