"""`Client`: the entry point, shaped like the official `pulsar.Client`.

It owns the connection pool, the lookup service and one housekeeping thread; producers and
consumers get their connections from the pool (spread over `connections_per_broker` sockets
per broker). Its parts use only the narrow `handler.ClientServices` face it offers them.
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
from pulsarload.client.connection_pool import ConnectionPool
from pulsarload.client.consumer import Consumer
from pulsarload.client.consumer_config import (
    ConsumerBatchReceivePolicy,
    ConsumerConfig,
    ConsumerCryptoFailureAction,
    ConsumerDeadLetterPolicy,
    ConsumerKeySharedPolicy,
    ConsumerType,
    InitialPosition,
    MessageListener,
    RegexSubscriptionMode,
    SubscriptionMode,
    split_topic_argument,
)
from pulsarload.client.errors import AlreadyClosed, InvalidConfiguration
from pulsarload.client.failover import ServiceInfo, ServiceInfoProvider
from pulsarload.client.lookup import LookupService
from pulsarload.client.multi import MultiTopicsConsumer
from pulsarload.client.partitioned import PartitionedProducer
from pulsarload.client.producer import Producer
from pulsarload.client.reader import Reader, ReaderListener, open_reader
from pulsarload.client.schema.schemas import Schema, SchemaInfo
from pulsarload.client.schema_registry import get_schema
from pulsarload.client.settings import (
    BatchingType,
    ClientConfig,
    CompressionType,
    Defaults,
    HashingScheme,
    PartitionsRoutingMode,
    ProducerAccessMode,
    ProducerConfig,
    check_int,
)
from pulsarload.client.subscribe import subscribe_with_config
from pulsarload.client.timer import HousekeepingThread
from pulsarload.client.topics import partition_name, topic_name
from pulsarload.wire.message_id import MessageId

__all__ = ["Client"]

log = logging.getLogger(__name__)

# Each default is stated once, on its settings dataclass's field.
_CLIENT = Defaults(ClientConfig)
_PRODUCER = Defaults(ProducerConfig)
_CONSUMER = Defaults(ConsumerConfig)


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
        operation_timeout_seconds: float = _CLIENT.operation_timeout_seconds,
        io_threads: int = 1,
        message_listener_threads: int = 1,
        concurrent_lookup_requests: int = 50000,
        log_conf_file_path: str | None = None,
        stats_interval_in_seconds: int = 600,
        use_tls: bool = _CLIENT.use_tls,
        tls_trust_certs_file_path: str | None = _CLIENT.tls_trust_certs_file_path,
        tls_allow_insecure_connection: bool = _CLIENT.tls_allow_insecure_connection,
        tls_validate_hostname: bool = _CLIENT.tls_validate_hostname,
        logger: Any = None,
        connection_timeout_ms: int = _CLIENT.connection_timeout_ms,
        listener_name: str | None = _CLIENT.listener_name,
        tls_private_key_file_path: str | None = _CLIENT.tls_private_key_file_path,
        tls_certificate_file_path: str | None = _CLIENT.tls_certificate_file_path,
        *,
        connections_per_broker: int = _CLIENT.connections_per_broker,
        keep_alive_interval_seconds: float = _CLIENT.keep_alive_interval_seconds,
        initial_backoff_interval_ms: int = _CLIENT.initial_backoff_interval_ms,
        max_backoff_interval_ms: int = _CLIENT.max_backoff_interval_ms,
        reconnect_give_up_seconds: float | None = _CLIENT.reconnect_give_up_seconds,
        max_lookup_redirects: int = _CLIENT.max_lookup_redirects,
        partitions_update_interval_seconds: float = _CLIENT.partitions_update_interval_seconds,
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
        self._consumers: list[Consumer | MultiTopicsConsumer] = []
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
        producer_name: str | None = _PRODUCER.producer_name,
        schema: Schema | None = _PRODUCER.schema,
        initial_sequence_id: int | None = _PRODUCER.initial_sequence_id,
        send_timeout_millis: int = _PRODUCER.send_timeout_millis,
        compression_type: CompressionType | str = _PRODUCER.compression_type,
        max_pending_messages: int = _PRODUCER.max_pending_messages,
        max_pending_messages_across_partitions: int = 50000,
        block_if_queue_full: bool = _PRODUCER.block_if_queue_full,
        batching_enabled: bool = _PRODUCER.batching_enabled,
        batching_max_messages: int = _PRODUCER.batching_max_messages,
        batching_max_allowed_size_in_bytes: int = _PRODUCER.batching_max_allowed_size_in_bytes,
        batching_max_publish_delay_ms: float = _PRODUCER.batching_max_publish_delay_ms,
        chunking_enabled: bool = _PRODUCER.chunking_enabled,
        message_routing_mode: PartitionsRoutingMode | str = _PRODUCER.message_routing_mode,
        lazy_start_partitioned_producers: bool = False,
        properties: Mapping[str, str] | None = _PRODUCER.properties,
        batching_type: BatchingType | str = _PRODUCER.batching_type,
        encryption_key: Any = None,
        crypto_key_reader: Any = _PRODUCER.crypto_key_reader,
        access_mode: ProducerAccessMode | str = _PRODUCER.access_mode,
        message_router: Callable[[Any, int], int] | None = _PRODUCER.message_router,
        hashing_scheme: HashingScheme | str = _PRODUCER.hashing_scheme,
    ) -> Producer | PartitionedProducer:
        """Create a producer (validated before any I/O); a partitioned topic gets one
        producer per partition behind a router. Raises the mapped broker error, or
        `ConnectError` naming the address when the broker cannot be reached in time."""
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
            schema=schema,
        )
        return self.create_producer_from_config(conf)

    def create_producer_from_config(self, conf: ProducerConfig) -> Producer | PartitionedProducer:
        """Create a producer from a ready `ProducerConfig` (what the load layer uses)."""
        self.check_open()
        partitions = self._lookup.partitions(conf.topic)
        if partitions > 0:
            producer: Producer | PartitionedProducer = PartitionedProducer(self, conf, partitions)
            self.register(producer)
        else:
            single = Producer(self, conf)
            single._start()
            producer = single
        return producer

    # --- what producers and consumers use (`handler.ClientServices`) ---------------------------

    @property
    def housekeeping(self) -> HousekeepingThread:
        """The thread that flushes batches and acks and expires timeouts for every part."""
        return self._housekeeping

    @property
    def closed(self) -> bool:
        return self._closed

    def check_open(self) -> None:
        """Raise `AlreadyClosed` once the client is closed."""
        if self._closed:
            raise AlreadyClosed("client is closed")

    def connect(self, topic: str) -> Connection:
        """A connection to the broker that serves `topic`, looked up now."""
        where = self._lookup.lookup(topic)
        return self._pool.get(where.logical, where.physical)

    def partition_count(self, topic: str) -> int:
        """How many partitions `topic` has (0: not partitioned)."""
        return self._lookup.partitions(topic)

    def topics_of_namespace(self, namespace: str, mode: int) -> list[str]:
        """Topic names of `namespace` (`mode`: a GetTopicsOfNamespace mode value)."""
        return self._lookup.topics_of_namespace(namespace, mode)

    def spawn(self, target: Callable[..., Any], name: str, *args: Any) -> threading.Thread:
        """Start a daemon helper thread that `close()` waits for."""
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def new_producer_id(self) -> int:
        with self._lock:
            self._producer_ids += 1
            return self._producer_ids

    def register(
        self, part: Producer | PartitionedProducer | Consumer | MultiTopicsConsumer
    ) -> None:
        """Have `close()` close `part`: consumers first, then partitioned producers, then
        single ones (a partition's producer is in both; closing twice is a no-op)."""
        with self._lock:
            self._group_of(part).append(part)

    def forget(self, part: Producer | PartitionedProducer | Consumer | MultiTopicsConsumer) -> None:
        """`part` closed itself: `close()` need not."""
        with self._lock, contextlib.suppress(ValueError):
            self._group_of(part).remove(part)

    def _group_of(self, part: object) -> list[Any]:
        if isinstance(part, Producer):
            return self._producers
        if isinstance(part, PartitionedProducer):
            return self._partitioned
        return self._consumers

    # --- consumers and readers -------------------------------------------------------------------

    def subscribe(
        self,
        topic: str | list[str] | Any,
        subscription_name: str,
        consumer_type: ConsumerType | str = _CONSUMER.consumer_type,
        schema: Schema | None = _CONSUMER.schema,
        message_listener: MessageListener | None = _CONSUMER.message_listener,
        receiver_queue_size: int = _CONSUMER.receiver_queue_size,
        max_total_receiver_queue_size_across_partitions: int = _CONSUMER.max_total_receiver_queue_size_across_partitions,
        consumer_name: str | None = _CONSUMER.consumer_name,
        unacked_messages_timeout_ms: int | None = _CONSUMER.unacked_messages_timeout_ms,
        broker_consumer_stats_cache_time_ms: int = 30000,
        negative_ack_redelivery_delay_ms: int = _CONSUMER.negative_ack_redelivery_delay_ms,
        is_read_compacted: bool = _CONSUMER.is_read_compacted,
        properties: Mapping[str, str] | None = _CONSUMER.properties,
        pattern_auto_discovery_period: float = _CONSUMER.pattern_auto_discovery_period,
        initial_position: InitialPosition | str = _CONSUMER.initial_position,
        crypto_key_reader: Any = _CONSUMER.crypto_key_reader,
        replicate_subscription_state_enabled: bool = _CONSUMER.replicate_subscription_state_enabled,
        max_pending_chunked_message: int = _CONSUMER.max_pending_chunked_message,
        auto_ack_oldest_chunked_message_on_queue_full: bool = _CONSUMER.auto_ack_oldest_chunked_message_on_queue_full,
        start_message_id_inclusive: bool = _CONSUMER.start_message_id_inclusive,
        batch_receive_policy: ConsumerBatchReceivePolicy | None = None,
        key_shared_policy: ConsumerKeySharedPolicy | None = _CONSUMER.key_shared_policy,
        batch_index_ack_enabled: bool = _CONSUMER.batch_index_ack_enabled,
        regex_subscription_mode: RegexSubscriptionMode | str = _CONSUMER.regex_subscription_mode,
        dead_letter_policy: ConsumerDeadLetterPolicy | None = _CONSUMER.dead_letter_policy,
        crypto_failure_action: ConsumerCryptoFailureAction | str = _CONSUMER.crypto_failure_action,
        *,
        priority_level: int | None = _CONSUMER.priority_level,
        subscription_mode: SubscriptionMode | str = _CONSUMER.subscription_mode,
        subscription_properties: Mapping[str, str] | None = _CONSUMER.subscription_properties,
        expire_time_of_incomplete_chunked_message_ms: int = _CONSUMER.expire_time_of_incomplete_chunked_message_ms,
        ack_grouping_time_ms: float = _CONSUMER.ack_grouping_time_ms,
        ack_grouping_max_size: int = _CONSUMER.ack_grouping_max_size,
        start_message_id: MessageId | None = _CONSUMER.start_message_id,
    ) -> Consumer | MultiTopicsConsumer:
        """Subscribe to a topic, a list of topics or a compiled regex (arguments as the official
        client's `Client.subscribe`, plus the keyword-only extras). Everything is validated before
        any network traffic; a partitioned topic gets one consumer per partition."""
        del broker_consumer_stats_cache_time_ms  # accepted, not used
        topics, pattern = split_topic_argument(topic)
        conf = ConsumerConfig(
            subscription_name=subscription_name,
            topics=topics,
            pattern=pattern,
            consumer_type=consumer_type,  # type: ignore[arg-type]
            initial_position=initial_position,  # type: ignore[arg-type]
            subscription_mode=subscription_mode,  # type: ignore[arg-type]
            receiver_queue_size=receiver_queue_size,
            max_total_receiver_queue_size_across_partitions=(
                max_total_receiver_queue_size_across_partitions
            ),
            consumer_name=consumer_name,
            message_listener=message_listener,
            unacked_messages_timeout_ms=unacked_messages_timeout_ms,
            negative_ack_redelivery_delay_ms=negative_ack_redelivery_delay_ms,
            dead_letter_policy=dead_letter_policy,
            priority_level=priority_level,
            is_read_compacted=is_read_compacted,
            properties=properties,
            subscription_properties=subscription_properties,
            pattern_auto_discovery_period=pattern_auto_discovery_period,
            regex_subscription_mode=regex_subscription_mode,  # type: ignore[arg-type]
            replicate_subscription_state_enabled=replicate_subscription_state_enabled,
            max_pending_chunked_message=max_pending_chunked_message,
            auto_ack_oldest_chunked_message_on_queue_full=auto_ack_oldest_chunked_message_on_queue_full,
            expire_time_of_incomplete_chunked_message_ms=expire_time_of_incomplete_chunked_message_ms,
            start_message_id_inclusive=start_message_id_inclusive,
            batch_receive_policy=batch_receive_policy,  # type: ignore[arg-type]
            key_shared_policy=key_shared_policy,
            batch_index_ack_enabled=batch_index_ack_enabled,
            ack_grouping_time_ms=ack_grouping_time_ms,
            ack_grouping_max_size=ack_grouping_max_size,
            start_message_id=start_message_id,
            crypto_key_reader=crypto_key_reader,
            crypto_failure_action=crypto_failure_action,  # type: ignore[arg-type]
            schema=schema,
        )
        return subscribe_with_config(self, conf)

    def create_reader(
        self,
        topic: str,
        start_message_id: MessageId | str | bytes,
        schema: Schema | None = _CONSUMER.schema,
        reader_listener: ReaderListener | None = None,
        receiver_queue_size: int = _CONSUMER.receiver_queue_size,
        reader_name: str | None = None,
        subscription_role_prefix: str | None = None,
        is_read_compacted: bool = _CONSUMER.is_read_compacted,
        crypto_key_reader: Any = _CONSUMER.crypto_key_reader,
        start_message_id_inclusive: bool = _CONSUMER.start_message_id_inclusive,
        crypto_failure_action: ConsumerCryptoFailureAction | str = _CONSUMER.crypto_failure_action,
    ) -> Reader:
        """A reader from `start_message_id` (arguments as the official client's); on a
        partitioned topic only `earliest` / `latest` starts are accepted."""
        return open_reader(
            self,
            topic,
            start_message_id,
            reader_listener,
            receiver_queue_size,
            reader_name,
            subscription_role_prefix,
            is_read_compacted,
            crypto_key_reader,
            start_message_id_inclusive,
            crypto_failure_action,
            schema,
        )

    # --- schemas ---------------------------------------------------------------------------------

    def get_schema_info(self, topic: str, version: int | bytes | None = None) -> SchemaInfo | None:
        """The registry's schema of `topic` at `version` (None or -1: the latest); None when
        the topic has no schema. (The official client raises instead of returning None.)"""
        self.check_open()
        full = topic_name(topic, "topic")
        if isinstance(version, int) and version < 0:
            version = None
        return get_schema(self.connect(full), full, version)

    # --- topics ----------------------------------------------------------------------------------

    def get_topic_partitions(self, topic: str) -> list[str]:
        """The partition topic names of `topic`, or `[topic]` if it is not partitioned."""
        self.check_open()
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
