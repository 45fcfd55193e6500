"""The protobuf messages that are not commands: ids, metadata, flags, auth data.

Field names and numbers follow ``PulsarApi.proto``; each is a slotted keyword-only dataclass
with ``.encode()`` / ``Type.decode(buf)`` (rules in ``pulsarload.wire.protobuf``: optional fields
are ``None`` when absent, repeated fields are tuples, unknown fields are skipped).

- ``MessageIdData``: a message id on the wire. ``ledgerId``/``entryId`` are decoded as signed
  int64 because the earliest position is (-1, -1); use ``pulsarload.wire.message_id.MessageId``
  for the client-facing, ordered id.
- ``MessageMetadata``: the per-entry metadata of SEND / MESSAGE frames.
- ``SingleMessageMetadata``: the per-message header inside a batch payload.
- ``BrokerEntryMetadata``: what the broker prepends (magic 0x0e02) when we ask for it.
- ``KeyValue``, ``FeatureFlags``, ``AuthData``, ``IntRange``, ``KeySharedMeta``.
- ``EncryptionKeys``: one recipient's encrypted data key in an end-to-end encrypted entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pulsarload.wire.enums import CompressionType, KeySharedMode, SchemaType
from pulsarload.wire.protobuf import (
    BOOL,
    BYTES,
    INT32,
    INT64,
    STRING,
    UINT,
    Message,
    optional,
    protobuf_message,
    repeated,
    required,
)

__all__ = [
    "AuthData",
    "BrokerEntryMetadata",
    "EncryptionKeys",
    "FeatureFlags",
    "IntRange",
    "KeySharedMeta",
    "KeyValue",
    "MessageIdData",
    "MessageMetadata",
    "Schema",
    "SingleMessageMetadata",
    "key_values",
    "properties_dict",
]


@protobuf_message
class KeyValue(Message):
    """A string property (message properties, producer/consumer metadata)."""

    key: str = required(1, STRING)
    value: str = required(2, STRING)


@protobuf_message
class Schema(Message):
    """A schema as the broker's registry keeps it: sent with PRODUCER and SUBSCRIBE, answered
    by GET_SCHEMA. ``schema_data`` is the definition (Avro/JSON: the Avro schema as JSON text;
    KEY_VALUE: both halves, each behind a 4-byte length)."""

    name: str = required(1, STRING)
    schema_data: bytes = required(3, BYTES)
    type: SchemaType = required(4, SchemaType)
    properties: tuple[KeyValue, ...] = repeated(5, KeyValue)


def key_values(props: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[KeyValue, ...]:
    """Turn a dict (or pairs) into the tuple of ``KeyValue`` the decoders produce."""
    items = props.items() if isinstance(props, Mapping) else props
    return tuple(KeyValue(key=k, value=v) for k, v in items)


def properties_dict(kvs: Iterable[KeyValue]) -> dict[str, str]:
    """Turn decoded ``KeyValue``s into a dict (a later duplicate key wins, as in Java)."""
    return {kv.key: kv.value for kv in kvs}


@protobuf_message
class EncryptionKeys(Message):
    """The entry's AES data key, encrypted with one recipient's public key (`key` names it)."""

    key: str = required(1, STRING)
    value: bytes = required(2, BYTES)
    metadata: tuple[KeyValue, ...] = repeated(3, KeyValue)


@protobuf_message
class MessageIdData(Message):
    """A message id as sent on the wire (proto defaults: partition -1, batch_index -1)."""

    ledgerId: int = required(1, INT64)  # noqa: N815 (proto name)
    entryId: int = required(2, INT64)  # noqa: N815
    partition: int | None = optional(3, INT32)
    batch_index: int | None = optional(4, INT32)
    ack_set: tuple[int, ...] = repeated(5, INT64)
    batch_size: int | None = optional(6, INT32)


@protobuf_message
class FeatureFlags(Message):
    """Capabilities announced in CONNECT / CONNECTED."""

    supports_auth_refresh: bool | None = optional(1, BOOL)
    supports_broker_entry_metadata: bool | None = optional(2, BOOL)
    supports_partial_producer: bool | None = optional(3, BOOL)
    supports_topic_watchers: bool | None = optional(4, BOOL)


@protobuf_message
class AuthData(Message):
    """Credentials in AUTH_CHALLENGE / AUTH_RESPONSE."""

    auth_method_name: str | None = optional(1, STRING)
    auth_data: bytes | None = optional(2, BYTES)


@protobuf_message
class IntRange(Message):
    """An inclusive hash range of a Key_Shared STICKY consumer."""

    start: int = required(1, INT32)
    end: int = required(2, INT32)


@protobuf_message
class KeySharedMeta(Message):
    """Key_Shared subscription settings in SUBSCRIBE."""

    keySharedMode: KeySharedMode = required(1, KeySharedMode)  # noqa: N815
    hashRanges: tuple[IntRange, ...] = repeated(3, IntRange)  # noqa: N815
    allowOutOfOrderDelivery: bool | None = optional(4, BOOL)  # noqa: N815


@protobuf_message
class MessageMetadata(Message):
    """Per-entry metadata (one per SEND / MESSAGE frame; one per batch).

    ``num_messages_in_batch`` present (even 1) marks a batch payload; ``compression`` and
    ``uncompressed_size`` are set only when the payload is compressed.
    """

    producer_name: str = required(1, STRING)
    sequence_id: int = required(2, UINT)
    publish_time: int = required(3, UINT)
    properties: tuple[KeyValue, ...] = repeated(4, KeyValue)
    replicated_from: str | None = optional(5, STRING)
    partition_key: str | None = optional(6, STRING)
    replicate_to: tuple[str, ...] = repeated(7, STRING)
    compression: CompressionType | None = optional(8, CompressionType)
    uncompressed_size: int | None = optional(9, UINT)
    num_messages_in_batch: int | None = optional(11, INT32)
    event_time: int | None = optional(12, UINT)
    encryption_keys: tuple[EncryptionKeys, ...] = repeated(13, EncryptionKeys)
    encryption_algo: str | None = optional(14, STRING)
    #: The AES-GCM initialisation vector of an encrypted entry.
    encryption_param: bytes | None = optional(15, BYTES)
    schema_version: bytes | None = optional(16, BYTES)
    partition_key_b64_encoded: bool | None = optional(17, BOOL)
    ordering_key: bytes | None = optional(18, BYTES)
    deliver_at_time: int | None = optional(19, INT64)
    marker_type: int | None = optional(20, INT32)
    highest_sequence_id: int | None = optional(24, UINT)
    null_value: bool | None = optional(25, BOOL)
    uuid: str | None = optional(26, STRING)
    num_chunks_from_msg: int | None = optional(27, INT32)
    total_chunk_msg_size: int | None = optional(28, INT32)
    chunk_id: int | None = optional(29, INT32)
    null_partition_key: bool | None = optional(30, BOOL)


@protobuf_message
class SingleMessageMetadata(Message):
    """The header of one message inside a batch payload."""

    properties: tuple[KeyValue, ...] = repeated(1, KeyValue)
    partition_key: str | None = optional(2, STRING)
    payload_size: int = required(3, INT32)
    compacted_out: bool | None = optional(4, BOOL)
    event_time: int | None = optional(5, UINT)
    partition_key_b64_encoded: bool | None = optional(6, BOOL)
    ordering_key: bytes | None = optional(7, BYTES)
    sequence_id: int | None = optional(8, UINT)
    null_value: bool | None = optional(9, BOOL)
    null_partition_key: bool | None = optional(10, BOOL)


@protobuf_message
class BrokerEntryMetadata(Message):
    """Broker-added metadata (magic 0x0e02), present only when the client asked for it."""

    broker_timestamp: int | None = optional(1, UINT)
    index: int | None = optional(2, UINT)
