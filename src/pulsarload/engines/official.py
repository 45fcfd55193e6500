"""The `official` engine: Apache's `pulsar-client` (C++ core), for side-by-side comparison.

It has wheels for GIL builds only, so it is imported here and nowhere else; asked for on a
free-threaded build (where it cannot be installed) it says so in one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulsarload.client import choices
from pulsarload.client.choices import official_member
from pulsarload.client.schema import SchemaType, parse_schema_spec
from pulsarload.config import ConsumeSettings, ProduceSettings, RunSettings
from pulsarload.engines.base import ReceivedBatch, ReceivedMessage, SendDone, result_category
from pulsarload.engines.stamp import STAMP_KEY, encode_stamp, parse_stamp
from pulsarload.errors import ConfigError, UserError

try:
    import pulsar
except ImportError:  # the normal case on a free-threaded build
    pulsar = None


def _require() -> Any:
    if pulsar is None:
        raise UserError(
            "the official engine needs Apache's pulsar-client, which has no free-threaded build; "
            "run with .venv-gil/bin/pulsarload, or use --engine native"
        )
    return pulsar


def _official_schema(spec: str) -> Any:
    """The official client's schema for a `--schema` spec (None for none): the registry is told
    the same definition as by the native engine, and payloads, which the load layer encodes
    with our codec in both engines (so the two compare on the same bytes), pass as they are."""
    schema = parse_schema_spec(spec)
    if schema is None or schema.schema_type == SchemaType.None_:
        return None
    import _pulsar  # noqa: PLC0415 - comes with pulsar-client, which only this engine imports

    kinds = {
        SchemaType.Avro: _pulsar.SchemaType.AVRO,
        SchemaType.Json: _pulsar.SchemaType.JSON,
        SchemaType.String: _pulsar.SchemaType.STRING,
    }
    info = schema.schema_info()
    official_info = _pulsar.SchemaInfo(kinds[info.schema_type()], info.name(), info.schema())

    class EncodedPayloads(pulsar.schema.Schema):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:  # not super(): that would JSON-dump a definition again
            self._record_cls = bytes
            self._schema_info = official_info
            self._client = None

        def encode(self, obj: Any) -> Any:
            return obj

        def decode(self, data: Any) -> Any:
            return data

    return EncodedPayloads()


def _with_schema(spec: str) -> dict[str, Any]:
    schema = _official_schema(spec) if spec else None
    return {"schema": schema} if schema is not None else {}


def _client_for(settings: RunSettings) -> Any:
    p = _require()
    kwargs: dict[str, Any] = {
        "operation_timeout_seconds": max(1, int(settings.operation_timeout_s)),
        "connection_timeout_ms": int(settings.connect_timeout_s * 1000),
        "tls_validate_hostname": settings.tls_validate_hostname,
        # The C++ client logs every producer and connection event at INFO on stdout, which
        # buries a headless run's status lines; warnings and errors still show.
        "logger": p.ConsoleLogger(p.LoggerLevel.Warn),
    }
    if settings.auth_token:
        kwargs["authentication"] = p.AuthenticationToken(settings.auth_token)
    if settings.tls_ca_file:
        kwargs["tls_trust_certs_file_path"] = settings.tls_ca_file
    try:
        return p.Client(settings.service_url, **kwargs)
    except Exception as err:
        raise UserError(f"official client cannot use {settings.service_url}: {err}") from None


def _intended_us(properties: Mapping[str, str]) -> int:
    """A message's own intended-send-time stamp (0: none). The official client shows a batched
    message only its own properties, so a stamp on a native producer's batch entry is not
    visible here: those messages fall back to their publish time (and are counted so)."""
    value = properties.get(STAMP_KEY)
    stamp = parse_stamp(value) if value else None
    return stamp[0] if stamp else 0


def _category(result: Any) -> str | None:
    return result_category(str(result))


class OfficialProducer:
    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self._sent = 0  # written by the worker thread only
        self._done = 0  # written by the client's one I/O thread only (io_threads=1)

    def send_batch(
        self,
        payloads: Sequence[bytes],
        on_done: SendDone,
        *,
        key: str | None = None,
        properties: Mapping[str, str] | None = None,
        intended_ns: int | None = None,
        interval_ns: float = 0.0,
        key_bytes: bytes | None = None,
    ) -> None:
        if key_bytes is not None:  # settings refuse key-value schemas with this engine
            raise UserError("the official client has no KeyValueSchema; use --engine native")

        def callback(result: Any, _msg_id: Any) -> None:
            self._done += 1
            on_done(1, _category(result))

        kwargs: dict[str, Any] = {}
        if key is not None:
            kwargs["partition_key"] = key
        if properties:
            kwargs["properties"] = dict(properties)
        send = self._producer.send_async
        for i, payload in enumerate(payloads):
            if intended_ns is not None:  # per message: the client's batches are its own
                stamp = encode_stamp((intended_ns + int(i * interval_ns)) // 1000)
                kwargs["properties"] = {**(properties or {}), STAMP_KEY: stamp}
            self._sent += 1
            try:
                send(payload, callback, **kwargs)
            except Exception as err:  # e.g. queue full when not blocking
                self._sent -= 1
                on_done(1, type(err).__name__)

    def pending(self) -> int:
        return max(0, self._sent - self._done)

    def reconnect_attempt(self) -> int:
        return 0  # the C++ client does not expose its reconnect state

    def flush(self, timeout_s: float) -> None:
        self._producer.flush()

    def close(self) -> None:
        self._producer.close()


class OfficialConsumer:
    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer

    @staticmethod
    def wrap(msg: Any) -> ReceivedMessage:
        props = msg.properties()
        return ReceivedMessage(
            data=msg.data(),
            topic=msg.topic_name(),
            message_id=str(msg.message_id()),
            publish_time_ms=msg.publish_timestamp(),
            event_time_ms=msg.event_timestamp(),
            redelivery_count=msg.redelivery_count(),
            key=msg.partition_key() or None,
            properties=props,
            handle=msg,
            intended_us=_intended_us(props),
        )

    def receive(self, timeout_ms: int) -> ReceivedMessage | None:
        try:
            return self.wrap(self._consumer.receive(timeout_millis=timeout_ms))
        except pulsar.Timeout:
            return None

    def acknowledge(self, message: ReceivedMessage) -> None:
        self._consumer.acknowledge(message.handle)

    def receive_many(self, max_messages: int, timeout_ms: int) -> ReceivedBatch | None:
        """One message per call: the C++ client queues and acks per message internally."""
        msg = self.receive(timeout_ms)
        return None if msg is None else ReceivedBatch([msg])

    def acknowledge_many(self, batch: ReceivedBatch) -> None:
        ack = self._consumer.acknowledge
        for m in batch.messages:
            ack(m.handle)

    def acknowledge_cumulative(self, message: ReceivedMessage) -> None:
        self._consumer.acknowledge_cumulative(message.handle)

    def negative_acknowledge(self, message: ReceivedMessage) -> None:
        self._consumer.negative_acknowledge(message.handle)

    def seek(self, target: str) -> None:
        if target == "earliest":
            self._consumer.seek(pulsar.MessageId.earliest)
        elif target == "latest":
            self._consumer.seek(pulsar.MessageId.latest)
        elif target.isdigit():
            self._consumer.seek(int(target))
        else:
            parts = [int(p) for p in target.split(":")]
            if len(parts) not in (2, 3):
                raise ConfigError(
                    f"seek target {target!r}: use earliest, latest, LEDGER:ENTRY or ms"
                )
            partition = parts[2] if len(parts) == 3 else -1
            self._consumer.seek(pulsar.MessageId(partition, parts[0], parts[1], -1))

    def queue_fill(self) -> int:
        return 0  # the C++ client does not expose its receiver queue depth

    def reconnect_attempt(self) -> int:
        return 0  # the C++ client does not expose its reconnect state

    def redelivery_counts(self) -> None:
        return None  # the C++ client does not say why it redelivers

    def close(self) -> None:
        self._consumer.close()


class OfficialEngine:
    name = "official"
    #: Whether its consumers count redeliveries by reason (`redelivery_counts`).
    redelivery_reasons = False

    def __init__(self, settings: RunSettings) -> None:
        self._client = _client_for(settings)

    def create_producer(self, settings: ProduceSettings, name: str | None) -> OfficialProducer:
        p = pulsar
        compression = official_member(p.CompressionType, choices.COMPRESSION[settings.compression])
        routing = official_member(p.PartitionsRoutingMode, choices.ROUTING[settings.routing])
        # The official Python client has no hashing-scheme option (its C++ default applies),
        # so `--hashing` only changes the native engine.
        producer = self._client.create_producer(
            settings.topic,
            producer_name=name,
            send_timeout_millis=settings.send_timeout_ms,
            compression_type=compression,
            max_pending_messages=settings.max_pending,
            block_if_queue_full=settings.block_if_queue_full,
            batching_enabled=settings.batching,
            batching_type=p.BatchingType.KeyBased
            if settings.key_based_batching
            else p.BatchingType.Default,
            batching_max_messages=settings.batch_max_messages,
            batching_max_allowed_size_in_bytes=settings.batch_max_bytes,
            batching_max_publish_delay_ms=max(1, int(settings.batch_delay_ms)),
            message_routing_mode=routing,
            **_with_schema(settings.schema),
        )
        return OfficialProducer(producer)

    def create_consumer(
        self,
        settings: ConsumeSettings,
        name: str | None,
        listener: Callable[[ReceivedMessage], None] | None = None,
    ) -> OfficialConsumer:
        p = pulsar
        kwargs: dict[str, Any] = {
            "consumer_type": official_member(
                p.ConsumerType, choices.SUBSCRIPTION_TYPE[settings.subscription_type]
            ),
            "receiver_queue_size": settings.receiver_queue_size,
            "initial_position": official_member(
                p.InitialPosition, choices.INITIAL_POSITION[settings.initial_position]
            ),
            "negative_ack_redelivery_delay_ms": settings.nack_redelivery_delay_ms,
            "unacked_messages_timeout_ms": settings.ack_timeout_ms or None,
            **_with_schema(settings.schema),
        }
        # pulsar-client's subscribe() (3.13.0) has no priority level: --priority is native-only.
        if name:
            kwargs["consumer_name"] = name
        if listener is not None:
            kwargs["message_listener"] = lambda _c, msg: listener(OfficialConsumer.wrap(msg))
        if settings.max_redeliveries:
            kwargs["dead_letter_policy"] = p.ConsumerDeadLetterPolicy(
                max_redeliver_count=settings.max_redeliveries,
                dead_letter_topic=settings.dlq_topic,
            )
        topic: Any = re.compile(settings.pattern) if settings.pattern else settings.topic
        return OfficialConsumer(self._client.subscribe(topic, settings.subscription, **kwargs))

    def net_bytes(self) -> None:
        """The C++ client does not expose its socket byte counts."""
        return None

    def close(self) -> None:
        self._client.close()
