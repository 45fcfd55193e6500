"""The native Pulsar client: connections, lookup, producers and consumers over the wire layer.

It owns all socket I/O: one socket and one reader thread per broker connection, request-id
futures with timeouts, keep-alive, reconnect with backoff. Its public names follow the
official Python client (Client, create_producer, subscribe) so code moves over with few changes.

    client = Client("pulsar://localhost:6650")
    consumer = client.subscribe("my-topic", "my-sub", consumer_type="shared")
    msg = consumer.receive(timeout_millis=1000); consumer.acknowledge(msg)
    producer = client.create_producer("my-topic", compression_type="lz4")
    producer.send(b"hello", properties={"k": "v"}, partition_key="key")
    producer.send_async(b"hi", lambda result, msg_id: ...)
    producer.send_batch([b"a", b"b"], lambda result, msg_id, count: ...)   # the fast path
    client.close()

Errors: every error is a `PulsarError`; broker `ServerError` codes map to one class each
(`SERVER_ERRORS`) with a `retriable` flag; bad arguments raise a `ValueError` subclass naming
the field before any I/O. Byte counters: `client.bytes_in` / `bytes_out` and per connection.
"""

from pulsarload.client import exceptions
from pulsarload.client.acknowledging import CumulativeAckNotAllowed
from pulsarload.client.auth import (
    Authentication,
    AuthenticationBasic,
    AuthenticationTLS,
    AuthenticationToken,
)
from pulsarload.client.client import Client
from pulsarload.client.connection import Connection
from pulsarload.client.consumer import Consumer
from pulsarload.client.consumer_config import (
    ConsumerBatchReceivePolicy,
    ConsumerCryptoFailureAction,
    ConsumerDeadLetterPolicy,
    ConsumerKeySharedPolicy,
    ConsumerType,
    InitialPosition,
    KeySharedMode,
    RegexSubscriptionMode,
    SubscriptionMode,
)
from pulsarload.client.crypto import CryptoKeyReader, EncryptionContext, EncryptionKey
from pulsarload.client.errors import (
    SERVER_ERRORS,
    AlreadyClosed,
    BrokerReportedError,
    ConnectError,
    InvalidConfiguration,
    InvalidTopicName,
    InvalidUrl,
    MessageTooBig,
    NotConnected,
    ProducerQueueIsFull,
    PulsarError,
    Result,
    Timeout,
    TimeoutError,
    TopicNotFound,
    TopicTerminated,
    error_from_server,
)
from pulsarload.client.exceptions import (
    AuthenticationError,
    AuthorizationError,
    BrokerMetadataError,
    BrokerPersistenceError,
    ChecksumError,
    ConsumerAssignError,
    ConsumerBusy,
    ConsumerNotFound,
    ConsumerNotInitialized,
    CryptoError,
    CumulativeAcknowledgementNotAllowedError,
    ErrorGettingAuthenticationData,
    IncompatibleSchema,
    Interrupted,
    InvalidMessage,
    InvalidTxnStatusError,
    LookupError,  # noqa: A004 - the official name
    MemoryBufferIsFull,
    NotAllowedError,
    OperationNotSupported,
    ProducerBlockedQuotaExceededError,
    ProducerBlockedQuotaExceededException,
    ProducerBusy,
    ProducerFenced,
    ProducerNotInitialized,
    PulsarException,
    ReadError,
    ServiceUnitNotReady,
    SubscriptionNotFound,
    TooManyLookupRequestException,
    TransactionConflict,
    TransactionCoordinatorNotFoundError,
    TransactionNotFound,
    UnknownError,
    UnsupportedVersionError,
)
from pulsarload.client.failover import AutoClusterFailover, ServiceInfo, ServiceInfoProvider
from pulsarload.client.message import Message
from pulsarload.client.multi import MultiTopicsConsumer, PatternConsumer
from pulsarload.client.partitioned import PartitionedProducer
from pulsarload.client.pending import BatchCallback, SendCallback
from pulsarload.client.producer import Producer
from pulsarload.client.reader import Reader
from pulsarload.client.redeliveries import REASONS as REDELIVERY_REASONS
from pulsarload.client.redeliveries import RedeliveryCounts
from pulsarload.client.settings import (
    BatchingType,
    ClientConfig,
    CompressionType,
    HashingScheme,
    PartitionsRoutingMode,
    ProducerAccessMode,
    ProducerConfig,
)
from pulsarload.wire.message_id import MessageId

__all__ = [
    "AlreadyClosed",
    "Authentication",
    "AuthenticationBasic",
    "AuthenticationError",
    "AuthenticationTLS",
    "AuthenticationToken",
    "AuthorizationError",
    "AutoClusterFailover",
    "BatchCallback",
    "BatchingType",
    "BrokerReportedError",
    "BrokerMetadataError",
    "BrokerPersistenceError",
    "ChecksumError",
    "Client",
    "ClientConfig",
    "CompressionType",
    "ConnectError",
    "Connection",
    "Consumer",
    "ConsumerAssignError",
    "ConsumerBatchReceivePolicy",
    "ConsumerBusy",
    "ConsumerCryptoFailureAction",
    "ConsumerDeadLetterPolicy",
    "ConsumerKeySharedPolicy",
    "ConsumerNotFound",
    "ConsumerNotInitialized",
    "ConsumerType",
    "CryptoError",
    "CryptoKeyReader",
    "CumulativeAckNotAllowed",
    "CumulativeAcknowledgementNotAllowedError",
    "EncryptionContext",
    "EncryptionKey",
    "ErrorGettingAuthenticationData",
    "HashingScheme",
    "IncompatibleSchema",
    "InitialPosition",
    "Interrupted",
    "InvalidConfiguration",
    "InvalidMessage",
    "InvalidTopicName",
    "InvalidTxnStatusError",
    "InvalidUrl",
    "KeySharedMode",
    "LookupError",
    "MemoryBufferIsFull",
    "Message",
    "MessageId",
    "MessageTooBig",
    "MultiTopicsConsumer",
    "NotAllowedError",
    "NotConnected",
    "OperationNotSupported",
    "PartitionedProducer",
    "PartitionsRoutingMode",
    "PatternConsumer",
    "Producer",
    "REDELIVERY_REASONS",
    "RedeliveryCounts",
    "ProducerAccessMode",
    "ProducerBlockedQuotaExceededError",
    "ProducerBlockedQuotaExceededException",
    "ProducerBusy",
    "ProducerConfig",
    "ProducerFenced",
    "ProducerNotInitialized",
    "ProducerQueueIsFull",
    "PulsarError",
    "PulsarException",
    "ReadError",
    "Reader",
    "RegexSubscriptionMode",
    "Result",
    "SERVER_ERRORS",
    "SendCallback",
    "ServiceInfo",
    "ServiceInfoProvider",
    "ServiceUnitNotReady",
    "SubscriptionMode",
    "SubscriptionNotFound",
    "Timeout",
    "TimeoutError",
    "TooManyLookupRequestException",
    "TopicNotFound",
    "TopicTerminated",
    "TransactionConflict",
    "TransactionCoordinatorNotFoundError",
    "TransactionNotFound",
    "UnknownError",
    "UnsupportedVersionError",
    "error_from_server",
    "exceptions",
]
