"""The commands a client sends and receives, and the BaseCommand envelope around them.

Each command is a slotted keyword-only dataclass named as in ``PulsarApi.proto``
(``CommandSend``, ``CommandMessage``, ...) with the proto's field names, a class attribute
``TYPE`` (its ``CommandType``), ``.encode()`` (the sub-command bytes) and ``Type.decode(buf)``.
Optional fields are ``None`` when absent (proto defaults are not filled in: an absent
``CommandProducerSuccess.last_sequence_id`` means -1, an absent ``producer_ready`` means True).

Why it is this long: it is a declarative table (one short dataclass per protocol command the
client uses), not several jobs.

Envelope:
    ``encode_base_command(cmd) -> bytes``   BaseCommand bytes: type (field 1) + the
                                            sub-command at field number == type
    ``decode_base_command(buf) -> Command`` the sub-command object; a type this layer does not
                                            know becomes ``UnknownCommand(type, body)`` so a
                                            newer broker cannot break the connection
    ``COMMAND_CLASSES``                     CommandType -> class

Whole frames (sizes, checksums, payloads) are in ``pulsarload.wire.frames``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pulsarload.wire.enums import (
    AckType,
    CommandType,
    InitialPosition,
    LookupType,
    PartitionedMetadataResponse,
    ProducerAccessMode,
    ServerError,
    SubType,
    TopicsMode,
    ValidationError,
)
from pulsarload.wire.errors import DecodeError
from pulsarload.wire.messages import (
    AuthData,
    FeatureFlags,
    KeySharedMeta,
    KeyValue,
    MessageIdData,
    Schema,
)
from pulsarload.wire.protobuf import (
    BOOL,
    BYTES,
    INT32,
    INT64,
    STRING,
    UINT,
    WIRE_LEN,
    Message,
    _read_varint_slow,
    encode_tag,
    encode_varint,
    optional,
    protobuf_message,
    repeated,
    required,
    skip_field,
)

__all__ = [
    "COMMAND_CLASSES",
    "Command",
    "CommandAck",
    "CommandAckResponse",
    "CommandActiveConsumerChange",
    "CommandAuthChallenge",
    "CommandAuthResponse",
    "CommandCloseConsumer",
    "CommandCloseProducer",
    "CommandConnect",
    "CommandConnected",
    "CommandError",
    "CommandFlow",
    "CommandGetLastMessageId",
    "CommandGetLastMessageIdResponse",
    "CommandGetOrCreateSchema",
    "CommandGetOrCreateSchemaResponse",
    "CommandGetSchema",
    "CommandGetSchemaResponse",
    "CommandGetTopicsOfNamespace",
    "CommandGetTopicsOfNamespaceResponse",
    "CommandLookupTopic",
    "CommandLookupTopicResponse",
    "CommandMessage",
    "CommandPartitionedTopicMetadata",
    "CommandPartitionedTopicMetadataResponse",
    "CommandPing",
    "CommandPong",
    "CommandProducer",
    "CommandProducerSuccess",
    "CommandReachedEndOfTopic",
    "CommandRedeliverUnacknowledgedMessages",
    "CommandSeek",
    "CommandSend",
    "CommandSendError",
    "CommandSendReceipt",
    "CommandSubscribe",
    "CommandSuccess",
    "CommandUnsubscribe",
    "UnknownCommand",
    "decode_base_command",
    "encode_base_command",
]

COMMAND_CLASSES: dict[CommandType, type[Message]] = {}
# type value -> (BaseCommand prefix up to the sub-command length, class), for the fast path
_BY_TYPE: dict[int, tuple[bytes, Any]] = {}


def _command[T: type](command_type: CommandType) -> Any:
    """Register a message class as the sub-command for ``command_type``."""

    def register(cls: T) -> T:
        c: Any = cls
        c.TYPE = command_type
        # BaseCommand prefix: field 1 (type) then the key of the sub-command field.
        c._base_prefix = b"\x08" + encode_varint(command_type) + encode_tag(command_type, WIRE_LEN)
        COMMAND_CLASSES[command_type] = c
        _BY_TYPE[int(command_type)] = (c._base_prefix, c)
        return cls

    return register


# --- connection -------------------------------------------------------------------------------


@_command(CommandType.CONNECT)
@protobuf_message
class CommandConnect(Message):
    """First frame of a connection; the broker answers CONNECTED (or AUTH_CHALLENGE / ERROR)."""

    TYPE: ClassVar[CommandType]
    client_version: str = required(1, STRING)
    auth_data: bytes | None = optional(3, BYTES)
    protocol_version: int | None = optional(4, INT32)
    auth_method_name: str | None = optional(5, STRING)
    proxy_to_broker_url: str | None = optional(6, STRING)
    original_principal: str | None = optional(7, STRING)
    original_auth_data: str | None = optional(8, STRING)
    original_auth_method: str | None = optional(9, STRING)
    feature_flags: FeatureFlags | None = optional(10, FeatureFlags)


@_command(CommandType.CONNECTED)
@protobuf_message
class CommandConnected(Message):
    """The broker's answer to CONNECT; ``max_message_size`` overrides the 5 MiB default."""

    TYPE: ClassVar[CommandType]
    server_version: str = required(1, STRING)
    protocol_version: int | None = optional(2, INT32)
    max_message_size: int | None = optional(3, INT32)
    feature_flags: FeatureFlags | None = optional(4, FeatureFlags)


@_command(CommandType.AUTH_CHALLENGE)
@protobuf_message
class CommandAuthChallenge(Message):
    """The broker asks for (fresh) credentials; answer with AUTH_RESPONSE."""

    TYPE: ClassVar[CommandType]
    server_version: str | None = optional(1, STRING)
    challenge: AuthData | None = optional(2, AuthData)
    protocol_version: int | None = optional(3, INT32)


@_command(CommandType.AUTH_RESPONSE)
@protobuf_message
class CommandAuthResponse(Message):
    """Our answer to AUTH_CHALLENGE."""

    TYPE: ClassVar[CommandType]
    client_version: str | None = optional(1, STRING)
    response: AuthData | None = optional(2, AuthData)
    protocol_version: int | None = optional(3, INT32)


@_command(CommandType.PING)
@protobuf_message
class CommandPing(Message):
    """Keep-alive; always answer with PONG."""

    TYPE: ClassVar[CommandType]


@_command(CommandType.PONG)
@protobuf_message
class CommandPong(Message):
    """Answer to PING."""

    TYPE: ClassVar[CommandType]


@_command(CommandType.SUCCESS)
@protobuf_message
class CommandSuccess(Message):
    """Generic success for a request id (subscribe, unsubscribe, close, seek, ...)."""

    TYPE: ClassVar[CommandType]
    request_id: int = required(1, UINT)


@_command(CommandType.ERROR)
@protobuf_message
class CommandError(Message):
    """Generic failure for a request id."""

    TYPE: ClassVar[CommandType]
    request_id: int = required(1, UINT)
    error: ServerError = required(2, ServerError)
    message: str = required(3, STRING)


# --- lookup -----------------------------------------------------------------------------------


@_command(CommandType.PARTITIONED_METADATA)
@protobuf_message
class CommandPartitionedTopicMetadata(Message):
    """How many partitions a topic has."""

    TYPE: ClassVar[CommandType]
    topic: str = required(1, STRING)
    request_id: int = required(2, UINT)


@_command(CommandType.PARTITIONED_METADATA_RESPONSE)
@protobuf_message
class CommandPartitionedTopicMetadataResponse(Message):
    """``partitions`` 0 (or absent) means not partitioned."""

    TYPE: ClassVar[CommandType]
    partitions: int | None = optional(1, UINT)
    request_id: int = required(2, UINT)
    response: PartitionedMetadataResponse | None = optional(3, PartitionedMetadataResponse)
    error: ServerError | None = optional(4, ServerError)
    message: str | None = optional(5, STRING)


@_command(CommandType.LOOKUP)
@protobuf_message
class CommandLookupTopic(Message):
    """Which broker owns a topic (start with authoritative=False)."""

    TYPE: ClassVar[CommandType]
    topic: str = required(1, STRING)
    request_id: int = required(2, UINT)
    authoritative: bool | None = optional(3, BOOL)
    advertised_listener_name: str | None = optional(7, STRING)


@_command(CommandType.LOOKUP_RESPONSE)
@protobuf_message
class CommandLookupTopicResponse(Message):
    """Redirect (ask again there), Connect (use this broker) or Failed."""

    TYPE: ClassVar[CommandType]
    brokerServiceUrl: str | None = optional(1, STRING)  # noqa: N815 (proto name)
    brokerServiceUrlTls: str | None = optional(2, STRING)  # noqa: N815
    response: LookupType | None = optional(3, LookupType)
    request_id: int = required(4, UINT)
    authoritative: bool | None = optional(5, BOOL)
    error: ServerError | None = optional(6, ServerError)
    message: str | None = optional(7, STRING)
    proxy_through_service_url: bool | None = optional(8, BOOL)


@_command(CommandType.GET_TOPICS_OF_NAMESPACE)
@protobuf_message
class CommandGetTopicsOfNamespace(Message):
    """List a namespace's topics (pattern subscriptions)."""

    TYPE: ClassVar[CommandType]
    request_id: int = required(1, UINT)
    namespace: str = required(2, STRING)
    mode: TopicsMode | None = optional(3, TopicsMode)
    topics_pattern: str | None = optional(4, STRING)
    topics_hash: str | None = optional(5, STRING)


@_command(CommandType.GET_TOPICS_OF_NAMESPACE_RESPONSE)
@protobuf_message
class CommandGetTopicsOfNamespaceResponse(Message):
    """The topics (partitions listed as ``<topic>-partition-<i>``)."""

    TYPE: ClassVar[CommandType]
    request_id: int = required(1, UINT)
    topics: tuple[str, ...] = repeated(2, STRING)
    filtered: bool | None = optional(3, BOOL)
    topics_hash: str | None = optional(4, STRING)
    changed: bool | None = optional(5, BOOL)


# --- producer ---------------------------------------------------------------------------------


@_command(CommandType.PRODUCER)
@protobuf_message
class CommandProducer(Message):
    """Create a producer on a topic; answered by PRODUCER_SUCCESS or ERROR."""

    TYPE: ClassVar[CommandType]
    topic: str = required(1, STRING)
    producer_id: int = required(2, UINT)
    request_id: int = required(3, UINT)
    producer_name: str | None = optional(4, STRING)
    encrypted: bool | None = optional(5, BOOL)
    metadata: tuple[KeyValue, ...] = repeated(6, KeyValue)
    schema: Schema | None = optional(7, Schema)
    epoch: int | None = optional(8, UINT)
    user_provided_producer_name: bool | None = optional(9, BOOL)
    producer_access_mode: ProducerAccessMode | None = optional(10, ProducerAccessMode)
    topic_epoch: int | None = optional(11, UINT)


@_command(CommandType.PRODUCER_SUCCESS)
@protobuf_message
class CommandProducerSuccess(Message):
    """Producer ready (unless producer_ready is False: then wait for a second one)."""

    TYPE: ClassVar[CommandType]
    request_id: int = required(1, UINT)
    producer_name: str = required(2, STRING)
    last_sequence_id: int | None = optional(3, INT64)
    schema_version: bytes | None = optional(4, BYTES)
    topic_epoch: int | None = optional(5, UINT)
    producer_ready: bool | None = optional(6, BOOL)


@_command(CommandType.SEND)
@protobuf_message
class CommandSend(Message):
    """Header of a payload frame carrying one message or one batch of ``num_messages``."""

    TYPE: ClassVar[CommandType]
    producer_id: int = required(1, UINT)
    sequence_id: int = required(2, UINT)
    num_messages: int | None = optional(3, INT32)
    highest_sequence_id: int | None = optional(6, UINT)
    is_chunk: bool | None = optional(7, BOOL)
    marker: bool | None = optional(8, BOOL)


@_command(CommandType.SEND_RECEIPT)
@protobuf_message
class CommandSendReceipt(Message):
    """The broker persisted the message(s) up to ``sequence_id`` / ``highest_sequence_id``."""

    TYPE: ClassVar[CommandType]
    producer_id: int = required(1, UINT)
    sequence_id: int = required(2, UINT)
    message_id: MessageIdData | None = optional(3, MessageIdData)
    highest_sequence_id: int | None = optional(4, UINT)


@_command(CommandType.SEND_ERROR)
@protobuf_message
class CommandSendError(Message):
    """The broker failed to persist; the connection is usually closed afterwards."""

    TYPE: ClassVar[CommandType]
    producer_id: int = required(1, UINT)
    sequence_id: int = required(2, UINT)
    error: ServerError = required(3, ServerError)
    message: str = required(4, STRING)


@_command(CommandType.CLOSE_PRODUCER)
@protobuf_message
class CommandCloseProducer(Message):
    """Either side closes a producer (the broker does it on topic unload: reconnect)."""

    TYPE: ClassVar[CommandType]
    producer_id: int = required(1, UINT)
    request_id: int = required(2, UINT)
    assignedBrokerServiceUrl: str | None = optional(3, STRING)  # noqa: N815
    assignedBrokerServiceUrlTls: str | None = optional(4, STRING)  # noqa: N815


# --- consumer ---------------------------------------------------------------------------------


@_command(CommandType.SUBSCRIBE)
@protobuf_message
class CommandSubscribe(Message):
    """Create a consumer on a subscription; answered by SUCCESS or ERROR."""

    TYPE: ClassVar[CommandType]
    topic: str = required(1, STRING)
    subscription: str = required(2, STRING)
    subType: SubType = required(3, SubType)  # noqa: N815 (proto name)
    consumer_id: int = required(4, UINT)
    request_id: int = required(5, UINT)
    consumer_name: str | None = optional(6, STRING)
    priority_level: int | None = optional(7, INT32)
    durable: bool | None = optional(8, BOOL)
    start_message_id: MessageIdData | None = optional(9, MessageIdData)
    metadata: tuple[KeyValue, ...] = repeated(10, KeyValue)
    read_compacted: bool | None = optional(11, BOOL)
    schema: Schema | None = optional(12, Schema)
    initialPosition: InitialPosition | None = optional(13, InitialPosition)  # noqa: N815
    replicate_subscription_state: bool | None = optional(14, BOOL)
    force_topic_creation: bool | None = optional(15, BOOL)
    start_message_rollback_duration_sec: int | None = optional(16, UINT)
    keySharedMeta: KeySharedMeta | None = optional(17, KeySharedMeta)  # noqa: N815
    subscription_properties: tuple[KeyValue, ...] = repeated(18, KeyValue)
    consumer_epoch: int | None = optional(19, UINT)


# --- schemas ----------------------------------------------------------------------------------


@_command(CommandType.GET_SCHEMA)
@protobuf_message
class CommandGetSchema(Message):
    """Ask for a topic's schema: the given version, or the latest without one."""

    TYPE: ClassVar[CommandType]
    request_id: int = required(1, UINT)
    topic: str = required(2, STRING)
    schema_version: bytes | None = optional(3, BYTES)


@_command(CommandType.GET_SCHEMA_RESPONSE)
@protobuf_message
class CommandGetSchemaResponse(Message):
    """The schema, or ``error_code`` (e.g. TopicNotFound when the topic has no schema)."""

    TYPE: ClassVar[CommandType]
    request_id: int = required(1, UINT)
    error_code: ServerError | None = optional(2, ServerError)
    error_message: str | None = optional(3, STRING)
    schema: Schema | None = optional(4, Schema)
    schema_version: bytes | None = optional(5, BYTES)


@_command(CommandType.GET_OR_CREATE_SCHEMA)
@protobuf_message
class CommandGetOrCreateSchema(Message):
    """Register a schema on a topic (if compatible) and learn its version."""

    TYPE: ClassVar[CommandType]
    request_id: int = required(1, UINT)
    topic: str = required(2, STRING)
    schema: Schema = required(3, Schema)


@_command(CommandType.GET_OR_CREATE_SCHEMA_RESPONSE)
@protobuf_message
class CommandGetOrCreateSchemaResponse(Message):
    """The registered version, or ``error_code`` (IncompatibleSchema)."""

    TYPE: ClassVar[CommandType]
    request_id: int = required(1, UINT)
    error_code: ServerError | None = optional(2, ServerError)
    error_message: str | None = optional(3, STRING)
    schema_version: bytes | None = optional(4, BYTES)


@_command(CommandType.FLOW)
@protobuf_message
class CommandFlow(Message):
    """Grant the broker ``messagePermits`` more messages (per message, not per entry)."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)
    messagePermits: int = required(2, UINT)  # noqa: N815


@_command(CommandType.MESSAGE)
@protobuf_message
class CommandMessage(Message):
    """Header of a delivered entry; ``ack_set`` (on redelivery) clears already-acked indexes."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)
    message_id: MessageIdData = required(2, MessageIdData)
    redelivery_count: int | None = optional(3, UINT)
    ack_set: tuple[int, ...] = repeated(4, INT64)
    consumer_epoch: int | None = optional(5, UINT)


@_command(CommandType.ACK)
@protobuf_message
class CommandAck(Message):
    """Acknowledge ids; with ``request_id`` the broker answers ACK_RESPONSE."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)
    ack_type: AckType = required(2, AckType)
    message_id: tuple[MessageIdData, ...] = repeated(3, MessageIdData)
    validation_error: ValidationError | None = optional(4, ValidationError)
    request_id: int | None = optional(8, UINT)


@_command(CommandType.ACK_RESPONSE)
@protobuf_message
class CommandAckResponse(Message):
    """Answer to an ACK that carried a request_id."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)
    txnid_least_bits: int | None = optional(2, UINT)
    txnid_most_bits: int | None = optional(3, UINT)
    error: ServerError | None = optional(4, ServerError)
    message: str | None = optional(5, STRING)
    request_id: int | None = optional(6, UINT)


@_command(CommandType.REDELIVER_UNACKNOWLEDGED_MESSAGES)
@protobuf_message
class CommandRedeliverUnacknowledgedMessages(Message):
    """Ask for redelivery of the given ids (all unacked when none are given)."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)
    message_ids: tuple[MessageIdData, ...] = repeated(2, MessageIdData)
    consumer_epoch: int | None = optional(3, UINT)


@_command(CommandType.UNSUBSCRIBE)
@protobuf_message
class CommandUnsubscribe(Message):
    """Delete the subscription (answered by SUCCESS or ERROR)."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)
    request_id: int = required(2, UINT)
    force: bool | None = optional(3, BOOL)


@_command(CommandType.CLOSE_CONSUMER)
@protobuf_message
class CommandCloseConsumer(Message):
    """Either side closes a consumer (the broker does it on unload or seek: reconnect)."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)
    request_id: int = required(2, UINT)
    assignedBrokerServiceUrl: str | None = optional(3, STRING)  # noqa: N815
    assignedBrokerServiceUrlTls: str | None = optional(4, STRING)  # noqa: N815


@_command(CommandType.REACHED_END_OF_TOPIC)
@protobuf_message
class CommandReachedEndOfTopic(Message):
    """The topic was terminated and the consumer has read everything."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)


@_command(CommandType.SEEK)
@protobuf_message
class CommandSeek(Message):
    """Reset the subscription to a message id or a publish time (ms)."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)
    request_id: int = required(2, UINT)
    message_id: MessageIdData | None = optional(3, MessageIdData)
    message_publish_time: int | None = optional(4, UINT)


@_command(CommandType.GET_LAST_MESSAGE_ID)
@protobuf_message
class CommandGetLastMessageId(Message):
    """Ask for the id of the last message in the topic."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)
    request_id: int = required(2, UINT)


@_command(CommandType.GET_LAST_MESSAGE_ID_RESPONSE)
@protobuf_message
class CommandGetLastMessageIdResponse(Message):
    """The last message id (and the subscription's mark-delete position, when known)."""

    TYPE: ClassVar[CommandType]
    last_message_id: MessageIdData = required(1, MessageIdData)
    request_id: int = required(2, UINT)
    consumer_mark_delete_position: MessageIdData | None = optional(3, MessageIdData)


@_command(CommandType.ACTIVE_CONSUMER_CHANGE)
@protobuf_message
class CommandActiveConsumerChange(Message):
    """Failover: this consumer became active (or not)."""

    TYPE: ClassVar[CommandType]
    consumer_id: int = required(1, UINT)
    is_active: bool | None = optional(2, BOOL)


# --- envelope ---------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class UnknownCommand:
    """A command type this layer does not know (from a newer broker): log it, don't die."""

    type: int
    body: bytes


type Command = Message | UnknownCommand


def encode_base_command(cmd: Message) -> bytes:
    """The BaseCommand bytes wrapping ``cmd`` (no frame sizes; see frames.encode_command)."""
    body = cmd.encode()
    prefix: bytes = cmd._base_prefix  # type: ignore[attr-defined]
    return prefix + encode_varint(len(body)) + body


def decode_base_command(buf: bytes | bytearray | memoryview) -> Command:
    """Decode BaseCommand bytes into its sub-command object (or ``UnknownCommand``)."""
    # Fast path for the layout every client and broker writes: the type, then the sub-command
    # running to the end. Anything else (other field order, extra fields) takes the full path.
    end = len(buf)
    if end > 3 and buf[0] == 0x08:
        entry = _BY_TYPE.get(buf[1])
        if entry is not None:
            prefix, cls = entry
            pos = len(prefix)
            if buf[:pos] == prefix and pos < end:
                size = buf[pos]
                if size < 0x80 and pos + 1 + size == end:
                    return cls.decode(buf[pos + 1 :])  # type: ignore[no-any-return]
    return _decode_base_command_full(buf)


def _decode_base_command_full(buf: bytes | bytearray | memoryview) -> Command:
    pos = 0
    end = len(buf)
    ctype = None
    spans: dict[int, tuple[int, int]] = {}
    try:
        while pos < end:
            key = buf[pos]
            if key < 0x80:
                pos += 1
            else:
                key, pos = _read_varint_slow(buf, pos)
            if key == 0x08:  # field 1, varint: type
                ctype = buf[pos]
                if ctype < 0x80:
                    pos += 1
                else:
                    ctype, pos = _read_varint_slow(buf, pos)
            elif key & 7 == WIRE_LEN:
                size = buf[pos]
                if size < 0x80:
                    pos += 1
                else:
                    size, pos = _read_varint_slow(buf, pos)
                if pos + size > end:
                    raise DecodeError(
                        f"BaseCommand: field {key >> 3} of {size} bytes at offset {pos} runs "
                        f"past the end of the {end}-byte command"
                    )
                spans[key >> 3] = (pos, pos + size)
                pos += size
            else:
                pos = skip_field(buf, pos, key & 7, key >> 3, end)
    except IndexError:
        raise DecodeError(f"BaseCommand: truncated at offset {pos} of {end} bytes") from None
    if ctype is None:
        raise DecodeError(f"BaseCommand: required field type (1) is missing ({end} bytes)")
    span = spans.get(ctype)
    try:
        cls: Any = COMMAND_CLASSES[ctype]  # type: ignore[index]
    except KeyError:
        body = bytes(buf[span[0] : span[1]]) if span else b""
        return UnknownCommand(type=ctype, body=body)
    if span is None:
        if cls._pb_required:
            raise DecodeError(
                f"BaseCommand: type {CommandType(ctype).name} but its sub-command "
                f"(field {ctype}) is missing"
            )
        return cls()  # type: ignore[no-any-return]
    return cls.decode(buf[span[0] : span[1]])  # type: ignore[no-any-return]
