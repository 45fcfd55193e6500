"""`Client`: the entry point, shaped like the official `pulsar.Client`.

It owns the connection pool, the lookup service and one housekeeping thread; producers get
their connections from the pool (spread over `connections_per_broker` sockets per broker).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from pulsarload.client.auth import Authentication
from pulsarload.client.connection import Connection
from pulsarload.client.errors import AlreadyClosed, InvalidConfiguration
from pulsarload.client.failover import ServiceInfo, ServiceInfoProvider
from pulsarload.client.lookup import LookupService
from pulsarload.client.pool import ConnectionPool
from pulsarload.client.producer import PartitionedProducer, Producer
from pulsarload.client.settings import (
    BatchingType,
    ClientConfig,
    CompressionType,
    HashingScheme,
    PartitionsRoutingMode,
    ProducerAccessMode,
    ProducerConfig,
    check_int,
)
from pulsarload.client.timer import HousekeepingThread
from pulsarload.client.topics import partition_name, topic_name

__all__ = ["Client"]

log = logging.getLogger(__name__)


class Client:
    """A Pulsar client over the native protocol implementation.

    Arguments follow the official client, in its order; `io_threads`, `message_listener_threads`,
    `concurrent_lookup_requests`, `log_conf_file_path`, `stats_interval_in_seconds` and
    `logger` are accepted for compatibility and ignored (each connection has its own reader
    thread). Extra: `connections_per_broker`, `keep_alive_interval_seconds`, the reconnect
    backoff (`initial_backoff_interval_ms`, `max_backoff_interval_ms`,
    `reconnect_give_up_seconds`) and `max_lookup_redirects`.
    """

    def __init__(
        self,
        service_url: str | ServiceInfoProvider,
        authentication: Authentication | None = None,
        operation_timeout_seconds: float = 30,
        io_threads: int = 1,
        message_listener_threads: int = 1,
        concurrent_lookup_requests: int = 50000,
        log_conf_file_path: str | None = None,
        stats_interval_in_seconds: int = 600,
        use_tls: bool = False,
        tls_trust_certs_file_path: str | None = None,
        tls_allow_insecure_connection: bool = False,
        tls_validate_hostname: bool = False,
        logger: Any = None,
        connection_timeout_ms: int = 10000,
        listener_name: str | None = None,
        tls_private_key_file_path: str | None = None,
        tls_certificate_file_path: str | None = None,
        *,
        connections_per_broker: int = 1,
        keep_alive_interval_seconds: float = 30,
        initial_backoff_interval_ms: int = 100,
        max_backoff_interval_ms: int = 60000,
        reconnect_give_up_seconds: float | None = None,
        max_lookup_redirects: int = 20,
        partitions_update_interval_seconds: float = 60.0,
    ) -> None:
        provider: ServiceInfoProvider | None = None
        if isinstance(service_url, ServiceInfoProvider):
            if authentication is not None or tls_trust_certs_file_path is not None:
                raise InvalidConfiguration(
                    "authentication / tls_trust_certs_file_path: with a service-info provider "
                    "(AutoClusterFailover) set them on each ServiceInfo instead"
                )
            provider = service_url
            first = provider.initial_service_info()
            if not isinstance(first, ServiceInfo):
                raise InvalidConfiguration(
                    f"service_url: the provider's initial_service_info() gave {first!r}, "
                    "not a ServiceInfo"
                )
            service_url = first.service_url
            authentication = first.authentication
            tls_trust_certs_file_path = first.tls_trust_certs_file_path
        # Accepted for compatibility and unused, but type-checked as the official client does.
        for name, value in (
            ("io_threads", io_threads),
            ("message_listener_threads", message_listener_threads),
            ("concurrent_lookup_requests", concurrent_lookup_requests),
            ("stats_interval_in_seconds", stats_interval_in_seconds),
        ):
            check_int(name, value)
        if log_conf_file_path is not None and not isinstance(log_conf_file_path, str):
            raise InvalidConfiguration(
                f"log_conf_file_path: expected a path string, got {log_conf_file_path!r}"
            )
        if authentication is not None and not isinstance(authentication, Authentication):
            raise InvalidConfiguration(
                f"authentication: expected an Authentication (AuthenticationToken, "
                f"AuthenticationBasic, AuthenticationTLS), got {authentication!r}"
            )
        self._config = ClientConfig(
            service_url=service_url,
            operation_timeout_seconds=operation_timeout_seconds,
            connection_timeout_ms=connection_timeout_ms,
            use_tls=use_tls,
            tls_trust_certs_file_path=tls_trust_certs_file_path,
            tls_allow_insecure_connection=tls_allow_insecure_connection,
            tls_validate_hostname=tls_validate_hostname,
            tls_certificate_file_path=tls_certificate_file_path,
            tls_private_key_file_path=tls_private_key_file_path,
            listener_name=listener_name,
            connections_per_broker=connections_per_broker,
            keep_alive_interval_seconds=keep_alive_interval_seconds,
            initial_backoff_interval_ms=initial_backoff_interval_ms,
            max_backoff_interval_ms=max_backoff_interval_ms,
            reconnect_give_up_seconds=reconnect_give_up_seconds,
            max_lookup_redirects=max_lookup_redirects,
            partitions_update_interval_seconds=partitions_update_interval_seconds,
        )
        self._pool = ConnectionPool(self._config, authentication)
        self._lookup = LookupService(self._pool)
        self._housekeeping = HousekeepingThread()
        self._lock = threading.Lock()
        self._producer_ids = 0
        self._producers: list[Producer] = []
        self._consumers: list[Any] = []  # Consumer / MultiTopicsConsumer (client.consumer)
        self._partitioned: list[PartitionedProducer] = []
        # Helper threads (listeners, watchers, reconnects, dead-letter movers): close() waits
        # for them, so no thread this client started outlives it.
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._service_info = ServiceInfo(
            self._config.service_url, authentication, tls_trust_certs_file_path
        )
        self._provider = provider
        if provider is not None:
            provider.initialize(self._switch_service)

    @property
    def config(self) -> ClientConfig:
        return self._config

    # --- the service in use (a ServiceInfoProvider may change it) ----------------------------

    def get_service_info(self) -> ServiceInfo:
        """The service this client looks topics up on now."""
        return self._service_info

    def _switch_service(self, info: ServiceInfo) -> None:
        """Move to another cluster (called by the provider): look up through `info` from now
        on and close every connection, so producers and consumers reconnect there."""
        if not isinstance(info, ServiceInfo):
            log.error("service-info provider gave %r, not a ServiceInfo; ignored", info)
            return
        with self._lock:
            if self._closed:
                return
            cfg = dataclasses.replace(
                self._config,
                service_url=info.service_url,
                tls_trust_certs_file_path=info.tls_trust_certs_file_path,
            )
            self._config = cfg
            self._service_info = info
        self._pool.config = cfg
        self._pool.auth = info.authentication
        self._lookup.switch_service(cfg)
        self._pool.close_connections()

    # --- producers -------------------------------------------------------------------------------

    def create_producer(
        self,
        topic: str,
        producer_name: str | None = None,
        schema: Any = None,
        initial_sequence_id: int | None = None,
        send_timeout_millis: int = 30000,
        compression_type: CompressionType | str = CompressionType.NONE,
        max_pending_messages: int = 1000,
        max_pending_messages_across_partitions: int = 50000,
        block_if_queue_full: bool = False,
        batching_enabled: bool = False,
        batching_max_messages: int = 1000,
        batching_max_allowed_size_in_bytes: int = 128 * 1024,
        batching_max_publish_delay_ms: float = 10,
        chunking_enabled: bool = False,
        message_routing_mode: PartitionsRoutingMode | str = (
            PartitionsRoutingMode.RoundRobinDistribution
        ),
        lazy_start_partitioned_producers: bool = False,
        properties: Mapping[str, str] | None = None,
        batching_type: BatchingType | str = BatchingType.Default,
        encryption_key: Any = None,
        crypto_key_reader: Any = None,
        access_mode: ProducerAccessMode | str = ProducerAccessMode.Shared,
        message_router: Callable[[Any, int], int] | None = None,
        hashing_scheme: HashingScheme | str = HashingScheme.JavaStringHash,
    ) -> Producer | PartitionedProducer:
        """Create a producer (validated before any I/O); a partitioned topic gets one
        producer per partition behind a router. Raises the mapped broker error, or
        `ConnectError` naming the address when the broker cannot be reached in time."""
        if schema is not None:
            raise InvalidConfiguration("schema: schemas are not supported; send bytes")
        conf = ProducerConfig(
            topic=topic,
            producer_name=producer_name,
            send_timeout_millis=send_timeout_millis,
            compression_type=compression_type,  # type: ignore[arg-type]
            max_pending_messages=max_pending_messages,
            block_if_queue_full=block_if_queue_full,
            batching_enabled=batching_enabled,
            batching_type=batching_type,  # type: ignore[arg-type]
            batching_max_messages=batching_max_messages,
            batching_max_allowed_size_in_bytes=batching_max_allowed_size_in_bytes,
            batching_max_publish_delay_ms=batching_max_publish_delay_ms,
            message_routing_mode=message_routing_mode,  # type: ignore[arg-type]
            hashing_scheme=hashing_scheme,  # type: ignore[arg-type]
            message_router=message_router,
            chunking_enabled=chunking_enabled,
            initial_sequence_id=initial_sequence_id,
            access_mode=access_mode,  # type: ignore[arg-type]
            properties=properties,
            encryption_keys=() if encryption_key is None else encryption_key,
            crypto_key_reader=crypto_key_reader,
        )
        return self.create_producer_from_config(conf)

    def create_producer_from_config(self, conf: ProducerConfig) -> Producer | PartitionedProducer:
        """Create a producer from a ready `ProducerConfig` (what the load layer uses)."""
        self._check_open()
        partitions = self._lookup.partitions(conf.topic)
        if partitions > 0:
            producer: Producer | PartitionedProducer = PartitionedProducer(self, conf, partitions)
            with self._lock:
                self._partitioned.append(producer)
        else:
            single = Producer(self, conf)
            single._start()
            producer = single
        return producer

    def _spawn(self, target: Callable[..., Any], name: str, *args: Any) -> threading.Thread:
        """Start a daemon helper thread that `close()` waits for."""
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def _new_producer_id(self) -> int:
        with self._lock:
            self._producer_ids += 1
            return self._producer_ids

    def _register_producer(self, producer: Producer) -> None:
        with self._lock:
            self._producers.append(producer)

    def _forget_producer(self, producer: Producer) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._producers.remove(producer)

    # --- consumers and readers (pulsarload.client.consumer / .reader) ----------------------------

    def subscribe(self, topic: Any, subscription_name: str, *args: Any, **kwargs: Any) -> Any:
        """Subscribe to a topic, a list of topics or a compiled regex; the arguments are the
        official client's (see `pulsarload.client.consumer.subscribe`)."""
        from pulsarload.client.consumer import subscribe

        return subscribe(self, topic, subscription_name, *args, **kwargs)

    def create_reader(self, topic: str, start_message_id: Any, *args: Any, **kwargs: Any) -> Any:
        """A reader from `start_message_id` (see `pulsarload.client.reader.create_reader`)."""
        from pulsarload.client.reader import create_reader

        return create_reader(self, topic, start_message_id, *args, **kwargs)

    def _register_consumer(self, consumer: Any) -> None:
        with self._lock:
            self._consumers.append(consumer)

    def _forget_consumer(self, consumer: Any) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._consumers.remove(consumer)

    # --- topics ----------------------------------------------------------------------------------

    def get_topic_partitions(self, topic: str) -> list[str]:
        """The partition topic names of `topic`, or `[topic]` if it is not partitioned."""
        self._check_open()
        full = topic_name(topic)
        n = self._lookup.partitions(full)
        return [partition_name(full, i) for i in range(n)] if n else [full]

    # --- state -----------------------------------------------------------------------------------

    def connections(self) -> list[Connection]:
        """Live connections (each has `bytes_in` / `bytes_out` counters)."""
        return self._pool.connections()

    def byte_counts(self) -> tuple[int, int]:
        """(bytes in, bytes out) over the client's lifetime, read together."""
        return self._pool.byte_counts()

    @property
    def io_done(self) -> bool:
        """Closed and every connection's reader ended: `byte_counts()` is final."""
        return self._pool.io_done

    @property
    def bytes_in(self) -> int:
        """Bytes received over the client's lifetime."""
        return self._pool.bytes_in

    @property
    def bytes_out(self) -> int:
        """Bytes written over the client's lifetime."""
        return self._pool.bytes_out

    def _check_open(self) -> None:
        if self._closed:
            raise AlreadyClosed("client is closed")

    def close(self) -> None:
        """Close every consumer and producer (flushing what they hold), then every connection;
        returns once every thread the client started has ended (bounded by the operation
        timeout)."""
        self._close(flush=True)

    def shutdown(self) -> None:
        """Close at once (the official `shutdown`): pending sends fail with `AlreadyClosed`
        instead of being flushed; no close waits on the broker; every thread the client
        started has ended on return (bounded)."""
        self._close(flush=False)

    def _close(self, flush: bool) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            producers: list[Any] = [*self._partitioned, *self._producers]
            consumers = list(self._consumers)
        if not flush:
            self._pool.close()  # first: nothing below waits for the broker's answers
        for c in consumers:
            try:
                c.close()
            except Exception:
                log.exception("closing %r", c)
        # One deadline for all: a dead broker must not cost the operation timeout per producer.
        deadline = time.monotonic() + self._config.operation_timeout_seconds
        for p in producers:
            try:
                p.close(max(0.0, deadline - time.monotonic()) if flush else 0.0)
            except Exception:
                log.exception("closing %r", p)
        self._housekeeping.stop()
        self._lookup.close()
        self._pool.close()
        if self._provider is not None:
            try:
                self._provider.close()
            except Exception:
                log.exception("closing %r", self._provider)
        with self._lock:
            threads = list(self._threads)
        me = threading.current_thread()
        for t in threads:
            if t is not me:
                t.join(max(0.1, deadline - time.monotonic()))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
