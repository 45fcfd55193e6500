"""Protocol enums, with values and member names as spelled in `PulsarApi.proto`.

Names follow the proto verbatim (``SubType.Key_Shared``, ``ServerError.TopicNotFound``) so that
logs, broker messages and the proto can be grepped for the same word. Decoders turn a known value
into its member and keep an unknown value (from a newer broker) as a plain ``int``.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "PROTOCOL_VERSION",
    "AckType",
    "CommandType",
    "CompressionType",
    "InitialPosition",
    "KeySharedMode",
    "LookupType",
    "PartitionedMetadataResponse",
    "ProducerAccessMode",
    "SchemaType",
    "ServerError",
    "SubType",
    "TopicsMode",
    "ValidationError",
]

#: The protocol version this layer speaks (what the C++ client announces). The broker answers
#: min(ours, its own); batch-index acks need >= 12, broker entry metadata >= 18.
PROTOCOL_VERSION = 21


class CommandType(IntEnum):
    """BaseCommand.type; the sub-command sits at the field number equal to its type."""

    CONNECT = 2
    CONNECTED = 3
    SUBSCRIBE = 4
    PRODUCER = 5
    SEND = 6
    SEND_RECEIPT = 7
    SEND_ERROR = 8
    MESSAGE = 9
    ACK = 10
    FLOW = 11
    UNSUBSCRIBE = 12
    SUCCESS = 13
    ERROR = 14
    CLOSE_PRODUCER = 15
    CLOSE_CONSUMER = 16
    PRODUCER_SUCCESS = 17
    PING = 18
    PONG = 19
    REDELIVER_UNACKNOWLEDGED_MESSAGES = 20
    PARTITIONED_METADATA = 21
    PARTITIONED_METADATA_RESPONSE = 22
    LOOKUP = 23
    LOOKUP_RESPONSE = 24
    CONSUMER_STATS = 25
    CONSUMER_STATS_RESPONSE = 26
    REACHED_END_OF_TOPIC = 27
    SEEK = 28
    GET_LAST_MESSAGE_ID = 29
    GET_LAST_MESSAGE_ID_RESPONSE = 30
    ACTIVE_CONSUMER_CHANGE = 31
    GET_TOPICS_OF_NAMESPACE = 32
    GET_TOPICS_OF_NAMESPACE_RESPONSE = 33
    GET_SCHEMA = 34
    GET_SCHEMA_RESPONSE = 35
    AUTH_CHALLENGE = 36
    AUTH_RESPONSE = 37
    ACK_RESPONSE = 38
    GET_OR_CREATE_SCHEMA = 39
    GET_OR_CREATE_SCHEMA_RESPONSE = 40


class SchemaType(IntEnum):
    """Schema.type: how a topic's payloads are encoded (the broker's registry keeps one per
    version). ``AutoConsume`` is only ever sent by a consumer that decodes whatever it gets."""

    None_ = 0  # "None" in the proto: no schema (bytes)
    String = 1
    Json = 2
    Protobuf = 3
    Avro = 4
    Bool = 5
    Int8 = 6
    Int16 = 7
    Int32 = 8
    Int64 = 9
    Float = 10
    Double = 11
    Date = 12
    Time = 13
    Timestamp = 14
    KeyValue = 15
    Instant = 16
    LocalDate = 17
    LocalTime = 18
    LocalDateTime = 19
    ProtobufNative = 20
    AutoConsume = 21


class CompressionType(IntEnum):
    """MessageMetadata.compression."""

    NONE = 0
    LZ4 = 1
    ZLIB = 2
    ZSTD = 3
    SNAPPY = 4


class ServerError(IntEnum):
    """Error codes the broker sends in SEND_ERROR, ERROR, lookup and metadata responses.

    The client layer maps each code to an exception class with a ``retriable`` flag.
    """

    UnknownError = 0
    MetadataError = 1
    PersistenceError = 2
    AuthenticationError = 3
    AuthorizationError = 4
    ConsumerBusy = 5
    ServiceNotReady = 6
    ProducerBlockedQuotaExceededError = 7
    ProducerBlockedQuotaExceededException = 8
    ChecksumError = 9
    UnsupportedVersionError = 10
    TopicNotFound = 11
    SubscriptionNotFound = 12
    ConsumerNotFound = 13
    TooManyRequests = 14
    TopicTerminatedError = 15
    ProducerBusy = 16
    InvalidTopicName = 17
    IncompatibleSchema = 18
    ConsumerAssignError = 19
    TransactionCoordinatorNotFound = 20
    InvalidTxnStatus = 21
    NotAllowedError = 22
    TransactionConflict = 23
    TransactionNotFound = 24
    ProducerFenced = 25


class SubType(IntEnum):
    """CommandSubscribe.subType."""

    Exclusive = 0
    Shared = 1
    Failover = 2
    Key_Shared = 3


class InitialPosition(IntEnum):
    """CommandSubscribe.initialPosition (where a new subscription starts)."""

    Latest = 0
    Earliest = 1


class KeySharedMode(IntEnum):
    """KeySharedMeta.keySharedMode."""

    AUTO_SPLIT = 0
    STICKY = 1


class ProducerAccessMode(IntEnum):
    """CommandProducer.producer_access_mode."""

    Shared = 0
    Exclusive = 1
    WaitForExclusive = 2
    ExclusiveWithFencing = 3


class AckType(IntEnum):
    """CommandAck.ack_type."""

    Individual = 0
    Cumulative = 1


class ValidationError(IntEnum):
    """CommandAck.validation_error: why a client discards (and acks) a message it cannot read."""

    UncompressedSizeCorruption = 0
    DecompressionError = 1
    ChecksumMismatch = 2
    BatchDeSerializeError = 3
    DecryptionError = 4


class LookupType(IntEnum):
    """CommandLookupTopicResponse.response."""

    Redirect = 0
    Connect = 1
    Failed = 2


class PartitionedMetadataResponse(IntEnum):
    """CommandPartitionedTopicMetadataResponse.response."""

    Success = 0
    Failed = 1


class TopicsMode(IntEnum):
    """CommandGetTopicsOfNamespace.mode."""

    PERSISTENT = 0
    NON_PERSISTENT = 1
    ALL = 2
