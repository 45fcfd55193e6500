"""Public enums and the settings dataclasses of the client and producers.

Names and defaults follow the official Python client (`pulsar.Client`, `create_producer`) so code
written for it moves over; every enum argument also takes its lowercase name (`"lz4"`). All checks
happen here, before any socket is opened: a bad value raises `InvalidConfiguration` (a
`ValueError`) whose message starts with the field's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum, IntEnum
from typing import Any

from pulsarload.client.errors import InvalidConfiguration
from pulsarload.client.schema.schemas import Schema
from pulsarload.client.topics import topic_name
from pulsarload.client.urls import ServiceUrl, parse_service_url
from pulsarload.wire import enums as wire

__all__ = [
    "BatchingType",
    "ClientConfig",
    "CompressionType",
    "HashingScheme",
    "PartitionsRoutingMode",
    "ProducerAccessMode",
    "ProducerConfig",
    "Defaults",
    "coerce_enum",
]


class CompressionType(IntEnum):
    """Payload compression: the official names, the wire's values (MessageMetadata.compression)."""

    NONE = wire.CompressionType.NONE
    LZ4 = wire.CompressionType.LZ4
    ZLib = wire.CompressionType.ZLIB
    ZSTD = wire.CompressionType.ZSTD
    SNAPPY = wire.CompressionType.SNAPPY
    ZLIB = wire.CompressionType.ZLIB  # alias: the proto's spelling


class PartitionsRoutingMode(IntEnum):
    """How a producer on a partitioned topic picks a partition for a message without a key
    (never on the wire: the values are the official client's)."""

    UseSinglePartition = 0
    RoundRobinDistribution = 1
    CustomPartition = 2
    # The Java client's spellings.
    SinglePartition = 0
    RoundRobinPartition = 1


class HashingScheme(IntEnum):
    """Hash of a message key -> partition (`hash & 0x7fffffff) % partitions`); never on the
    wire."""

    JavaStringHash = 0
    Murmur3_32Hash = 1


class BatchingType(IntEnum):
    """How a producer groups messages into batches (`pulsarload.client.batcher`)."""

    Default = 0
    KeyBased = 1


class ProducerAccessMode(IntEnum):
    """The official names, the wire's values (CommandProducer.producer_access_mode)."""

    Shared = wire.ProducerAccessMode.Shared
    Exclusive = wire.ProducerAccessMode.Exclusive
    WaitForExclusive = wire.ProducerAccessMode.WaitForExclusive
    ExclusiveWithFencing = wire.ProducerAccessMode.ExclusiveWithFencing


_ALIASES: dict[type[Enum], dict[str, str]] = {
    BatchingType: {"key": "KeyBased", "keys": "KeyBased"},
    PartitionsRoutingMode: {
        "single": "UseSinglePartition",
        "singlepartition": "UseSinglePartition",
        "roundrobin": "RoundRobinDistribution",
        "roundrobinpartition": "RoundRobinDistribution",
        "custom": "CustomPartition",
    },
    HashingScheme: {
        "java": "JavaStringHash",
        "javastring": "JavaStringHash",
        "murmur3": "Murmur3_32Hash",
        "murmur332": "Murmur3_32Hash",
        "murmur": "Murmur3_32Hash",
    },
}


def _squash(text: str) -> str:
    return text.replace("_", "").replace("-", "").replace(" ", "").lower()


def coerce_enum[E: Enum](enum_cls: type[E], value: object, field_name: str) -> E:
    """An enum member from a member, its (case-insensitive) name, or an official-client enum."""
    if isinstance(value, enum_cls):
        return value
    name: object = value
    if not isinstance(value, str) and hasattr(value, "name"):
        name = value.name  # e.g. the official client's pulsar.CompressionType.LZ4
    if isinstance(name, str):
        key = _squash(name)
        for member_name, member in enum_cls.__members__.items():
            if _squash(member_name) == key:
                return member
        alias = _ALIASES.get(enum_cls, {}).get(key)
        if alias is not None:
            return enum_cls[alias]
    choices = ", ".join(sorted({m.name.lower() for m in enum_cls}))
    raise InvalidConfiguration(f"{field_name}: unknown value {value!r}; choose one of {choices}")


def check_int(name: str, value: object, minimum: int = 0, maximum: int | None = None) -> int:
    """`value` as an int within [minimum, maximum], or `InvalidConfiguration` naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidConfiguration(f"{name}: expected an integer, got {value!r}")
    if value < minimum:
        raise InvalidConfiguration(f"{name}: must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidConfiguration(f"{name}: must be <= {maximum}, got {value}")
    return value


def _check_number(name: str, value: object, minimum: float = 0.0, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidConfiguration(f"{name}: expected a number, got {value!r}")
    if value < minimum:
        raise InvalidConfiguration(f"{name}: must be >= {minimum}, got {value}")
    return value


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidConfiguration(f"{name}: expected True or False, got {value!r}")
    return value


def _check_properties(name: str, props: object) -> dict[str, str]:
    if props is None:
        return {}
    if not isinstance(props, Mapping):
        raise InvalidConfiguration(f"{name}: expected a dict of str -> str, got {props!r}")
    for k, v in props.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise InvalidConfiguration(f"{name}: keys and values must be str, got {k!r}: {v!r}")
    return dict(props)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Client-wide settings (connections, timeouts, TLS, reconnect backoff)."""

    service_url: str
    operation_timeout_seconds: float = 30.0
    connection_timeout_ms: int = 10_000
    use_tls: bool = False
    tls_trust_certs_file_path: str | None = None
    tls_allow_insecure_connection: bool = False
    tls_validate_hostname: bool = False
    #: A client certificate and key (PEM) presented on TLS connections (mutual TLS).
    tls_certificate_file_path: str | None = None
    tls_private_key_file_path: str | None = None
    #: The broker's advertised listener to look topics up on (advertisedListeners): lookups
    #: answer with that listener's address.
    listener_name: str | None = None
    #: Sockets per broker; producers spread over them so threads do not share a write lock.
    connections_per_broker: int = 1
    keep_alive_interval_seconds: float = 30.0
    initial_backoff_interval_ms: int = 100
    max_backoff_interval_ms: int = 60_000
    #: Stop reconnecting a producer after this long (None: keep trying, as the official clients).
    reconnect_give_up_seconds: float | None = None
    #: Ceiling for lookup redirects before a lookup fails.
    max_lookup_redirects: int = 20
    #: How often a partitioned producer asks whether its topic gained partitions (the C++
    #: client's default; 0 turns the check off).
    partitions_update_interval_seconds: float = 60.0
    parsed_url: ServiceUrl = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parsed_url", parse_service_url(self.service_url))
        _check_number("operation_timeout_seconds", self.operation_timeout_seconds, 0.001)
        for flag in ("use_tls", "tls_allow_insecure_connection", "tls_validate_hostname"):
            _check_bool(flag, getattr(self, flag))
        check_int("connection_timeout_ms", self.connection_timeout_ms, 1)
        check_int("connections_per_broker", self.connections_per_broker, 1, 1024)
        _check_number("keep_alive_interval_seconds", self.keep_alive_interval_seconds, 0.001)
        check_int("initial_backoff_interval_ms", self.initial_backoff_interval_ms, 1)
        check_int(
            "max_backoff_interval_ms",
            self.max_backoff_interval_ms,
            self.initial_backoff_interval_ms,
        )
        _check_number("reconnect_give_up_seconds", self.reconnect_give_up_seconds, 0, True)
        check_int("max_lookup_redirects", self.max_lookup_redirects, 1, 1000)
        _check_number(
            "partitions_update_interval_seconds", self.partitions_update_interval_seconds, 0
        )
        for name in (
            "tls_trust_certs_file_path",
            "tls_certificate_file_path",
            "tls_private_key_file_path",
            "listener_name",
        ):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidConfiguration(f"{name}: expected a string, got {value!r}")
        if (self.tls_certificate_file_path is None) != (self.tls_private_key_file_path is None):
            raise InvalidConfiguration(
                "tls_certificate_file_path: a client certificate needs its key too "
                "(set both tls_certificate_file_path and tls_private_key_file_path)"
            )

    @property
    def tls(self) -> bool:
        return self.use_tls or self.parsed_url.tls


def check_schema(schema: object) -> None:
    """`schema=` takes a schema object of `pulsarload.client.schema` (or None for bytes)."""
    if schema is not None and not isinstance(schema, Schema):
        raise InvalidConfiguration(
            f"schema: expected a schema such as AvroSchema(MyRecord) from "
            f"pulsarload.client.schema, got {schema!r}"
        )


#: `message_router(message, num_partitions) -> partition index`, as the official client.
MessageRouter = Callable[[Any, int], int]


@dataclass(frozen=True, slots=True)
class ProducerConfig:
    """One producer's settings, validated and normalised (enums, full topic name)."""

    topic: str
    producer_name: str | None = None
    send_timeout_millis: int = 30_000
    compression_type: CompressionType = CompressionType.NONE
    max_pending_messages: int = 1000
    block_if_queue_full: bool = False
    batching_enabled: bool = False
    batching_type: BatchingType = BatchingType.Default
    batching_max_messages: int = 1000
    batching_max_allowed_size_in_bytes: int = 128 * 1024
    batching_max_publish_delay_ms: float = 10
    message_routing_mode: PartitionsRoutingMode = PartitionsRoutingMode.RoundRobinDistribution
    hashing_scheme: HashingScheme = HashingScheme.JavaStringHash
    message_router: MessageRouter | None = None
    #: Messages over the broker's max size are split into chunks (sent alone, never batched).
    chunking_enabled: bool = False
    initial_sequence_id: int | None = None
    access_mode: ProducerAccessMode = ProducerAccessMode.Shared
    properties: Mapping[str, str] | None = None
    #: End-to-end encryption: the recipients' key names and the reader of their public keys.
    encryption_keys: tuple[str, ...] = ()
    crypto_key_reader: Any = None
    #: How `send` encodes values and what the broker's registry is told (None: bytes).
    schema: Schema | None = None

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "topic", topic_name(self.topic, "topic"))
        check_schema(self.schema)
        keys = self.encryption_keys
        if isinstance(keys, str):
            keys = (keys,)
        if not isinstance(keys, tuple | list) or not all(isinstance(k, str) and k for k in keys):
            raise InvalidConfiguration(
                f"encryption_key: expected a key name (or a list of them), got {keys!r}"
            )
        s(self, "encryption_keys", tuple(keys))
        if keys and self.crypto_key_reader is None:
            raise InvalidConfiguration(
                "encryption_key: needs a crypto_key_reader to read the public key"
            )
        if self.producer_name is not None and (
            not isinstance(self.producer_name, str) or not self.producer_name
        ):
            raise InvalidConfiguration(
                f"producer_name: expected a non-empty string or None, got {self.producer_name!r}"
            )
        check_int("send_timeout_millis", self.send_timeout_millis)
        s(
            self,
            "compression_type",
            coerce_enum(CompressionType, self.compression_type, "compression_type"),
        )
        check_int("max_pending_messages", self.max_pending_messages)
        for flag in ("block_if_queue_full", "batching_enabled", "chunking_enabled"):
            _check_bool(flag, getattr(self, flag))
        if self.chunking_enabled and self.batching_enabled:
            raise InvalidConfiguration(
                "chunking_enabled: chunking needs batching_enabled=False (as the official client)"
            )
        s(self, "batching_type", coerce_enum(BatchingType, self.batching_type, "batching_type"))
        check_int("batching_max_messages", self.batching_max_messages, 1)
        check_int("batching_max_allowed_size_in_bytes", self.batching_max_allowed_size_in_bytes, 1)
        _check_number("batching_max_publish_delay_ms", self.batching_max_publish_delay_ms)
        s(
            self,
            "message_routing_mode",
            coerce_enum(PartitionsRoutingMode, self.message_routing_mode, "message_routing_mode"),
        )
        s(self, "hashing_scheme", coerce_enum(HashingScheme, self.hashing_scheme, "hashing_scheme"))
        s(self, "access_mode", coerce_enum(ProducerAccessMode, self.access_mode, "access_mode"))
        if self.message_router is not None:
            if not callable(self.message_router):
                raise InvalidConfiguration(
                    f"message_router: expected a callable(message, num_partitions), "
                    f"got {self.message_router!r}"
                )
            s(self, "message_routing_mode", PartitionsRoutingMode.CustomPartition)
        elif self.message_routing_mode is PartitionsRoutingMode.CustomPartition:
            raise InvalidConfiguration(
                "message_router: CustomPartition routing needs a message_router callable"
            )
        if self.initial_sequence_id is not None:
            check_int("initial_sequence_id", self.initial_sequence_id, -1, 2**63 - 1)
        s(self, "properties", _check_properties("properties", self.properties))


class Defaults:
    """The field defaults of a settings dataclass, as attributes: the official-shaped
    signatures (`Client.__init__`, `create_producer`, `subscribe`, `create_reader`) take their
    defaults from here, so each default is stated once, on its dataclass field."""

    def __init__(self, cls: type) -> None:
        for f in fields(cls):
            if f.default is not MISSING:
                setattr(self, f.name, f.default)

    def __getattr__(self, name: str) -> Any:  # only for names without a plain default
        raise AttributeError(f"{name} has no plain default")
