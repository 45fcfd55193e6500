"""Client errors: one root, a class per broker `ServerError` code, and a code-to-class map.

Every class carries `retriable` as a class attribute (reconnect and lookup loops read it rather than
matching names) and `result`, the official client's `Result` value, which send callbacks receive.
Input-validation errors are also `ValueError`s (via `ConfigError`) so callers that guard with
`except ValueError` keep working, and the CLI prints them as one line without a traceback.

The official client's class names are all here (one per `Result`, under its root
`PulsarException`); where ours had another name first, both names are the same class.
"""

from __future__ import annotations

import builtins
import re
from enum import IntEnum
from typing import Any

from pulsarload.errors import ConfigError
from pulsarload.wire.enums import ServerError

__all__ = [
    "SERVER_ERRORS",
    "AlreadyClosed",
    "AuthenticationError",
    "AuthorizationError",
    "BrokerReportedError",
    "BrokerMetadataError",
    "BrokerPersistenceError",
    "ChecksumError",
    "ConnectError",
    "ConsumerAssignError",
    "ConsumerBusy",
    "ConsumerNotFound",
    "ConsumerNotInitialized",
    "CryptoError",
    "ErrorGettingAuthenticationData",
    "Interrupted",
    "LookupError",
    "MemoryBufferIsFull",
    "OperationNotSupported",
    "ProducerNotInitialized",
    "PulsarException",
    "ReadError",
    "TooManyLookupRequestException",
    "IncompatibleSchema",
    "InvalidConfiguration",
    "InvalidMessage",
    "InvalidTopicName",
    "InvalidTxnStatusError",
    "InvalidUrl",
    "LookupFailed",
    "MessageTooBig",
    "NotAllowedError",
    "NotConnected",
    "ProducerBlockedQuotaExceededError",
    "ProducerBlockedQuotaExceededException",
    "ProducerBusy",
    "ProducerFenced",
    "ProducerQueueIsFull",
    "PulsarError",
    "Result",
    "ServiceUnitNotReady",
    "SubscriptionNotFound",
    "Timeout",
    "TimeoutError",
    "TooManyRequests",
    "TopicNotFound",
    "TopicTerminated",
    "TransactionConflict",
    "TransactionCoordinatorNotFoundError",
    "TransactionNotFound",
    "UnknownError",
    "UnsupportedVersionError",
    "error_from_server",
    "refused_schema",
    "result_of",
]


class Result(IntEnum):
    """Outcome codes, named and numbered as the official client's `pulsar.Result`."""

    Ok = 0
    UnknownError = 1
    InvalidConfiguration = 2
    Timeout = 3
    LookupError = 4
    ConnectError = 5
    ReadError = 6
    AuthenticationError = 7
    AuthorizationError = 8
    ErrorGettingAuthenticationData = 9
    BrokerMetadataError = 10
    BrokerPersistenceError = 11
    ChecksumError = 12
    ConsumerBusy = 13
    NotConnected = 14
    AlreadyClosed = 15
    InvalidMessage = 16
    ConsumerNotInitialized = 17
    ProducerNotInitialized = 18
    ProducerBusy = 19
    TooManyLookupRequestException = 20
    InvalidTopicName = 21
    InvalidUrl = 22
    ServiceUnitNotReady = 23
    OperationNotSupported = 24
    ProducerBlockedQuotaExceededError = 25
    ProducerBlockedQuotaExceededException = 26
    ProducerQueueIsFull = 27
    MessageTooBig = 28
    TopicNotFound = 29
    SubscriptionNotFound = 30
    ConsumerNotFound = 31
    UnsupportedVersionError = 32
    TopicTerminated = 33
    CryptoError = 34
    IncompatibleSchema = 35
    ConsumerAssignError = 36
    CumulativeAcknowledgementNotAllowedError = 37
    TransactionCoordinatorNotFoundError = 38
    InvalidTxnStatusError = 39
    NotAllowedError = 40
    TransactionConflict = 41
    TransactionNotFound = 42
    ProducerFenced = 43
    MemoryBufferIsFull = 44
    Interrupted = 45


class PulsarError(Exception):
    """Root of every error the client raises or passes to a callback."""

    #: True when the same operation may succeed if tried again later (after a backoff).
    retriable: bool = False
    #: The official client's code for this error, handed to send callbacks.
    result: Result = Result.UnknownError

    def error(self) -> Result:
        """The `Result` code (as the official asyncio client's `PulsarException.error()`)."""
        return self.result


#: The official client's name for the root.
PulsarException = PulsarError


# --- client-side conditions -------------------------------------------------------------------


class ConnectError(PulsarError, builtins.ConnectionError):
    """A TCP/TLS connection or the CONNECT handshake failed; the message names the address."""

    retriable = True
    result = Result.ConnectError

    def __init__(self, message: str, address: str | None = None) -> None:
        super().__init__(message)
        self.address = address


class TimeoutError(PulsarError, builtins.TimeoutError):  # noqa: A001 - the official name
    """An operation did not complete in its time limit (a request, a send, a connect)."""

    retriable = True
    result = Result.Timeout


#: The official client's spelling.
Timeout = TimeoutError


class NotConnected(PulsarError):
    """The connection went away while a request was outstanding."""

    retriable = True
    result = Result.NotConnected


class AlreadyClosed(PulsarError):
    """The producer or client was closed; no further operations are accepted."""

    result = Result.AlreadyClosed


class ProducerQueueIsFull(PulsarError):
    """The pending-message queue is full and the producer does not block (block_if_queue_full)."""

    retriable = True
    result = Result.ProducerQueueIsFull


class MessageTooBig(PulsarError):
    """A message exceeds the broker's max message size and chunking is off."""

    result = Result.MessageTooBig


class InvalidMessage(PulsarError, ValueError):
    """A message cannot be sent as given (e.g. a key on a chunked message with bad options)."""

    result = Result.InvalidMessage


class MessageArgumentType(InvalidMessage, TypeError):
    """A send argument has the wrong type (content not bytes, a property not str): a
    `TypeError`, as the official client raises, and still an `InvalidMessage`."""


class LookupFailed(PulsarError):
    """Topic lookup gave up (too many redirects, no usable broker URL, or a failed response
    without a known code): retrying the same lookup at once would loop the same way."""

    result = Result.LookupError


#: The official client's name (it shadows the builtin only inside this namespace).
LookupError = LookupFailed  # noqa: A001


class ReadError(PulsarError):
    """Reading from a connection failed (the official client's code for a broken read)."""

    retriable = True
    result = Result.ReadError


class ErrorGettingAuthenticationData(PulsarError):
    """The authentication provider could not produce its data (a token supplier raised,
    a certificate file is unreadable)."""

    result = Result.ErrorGettingAuthenticationData


class ConsumerNotInitialized(PulsarError):
    result = Result.ConsumerNotInitialized


class ProducerNotInitialized(PulsarError):
    result = Result.ProducerNotInitialized


class OperationNotSupported(PulsarError):
    """The operation is not supported here (by this consumer type or by the broker)."""

    result = Result.OperationNotSupported


class CryptoError(PulsarError):
    """End-to-end encryption or decryption failed (no key, wrong key, a tampered payload)."""

    result = Result.CryptoError


class MemoryBufferIsFull(PulsarError):
    result = Result.MemoryBufferIsFull


class Interrupted(PulsarError):
    result = Result.Interrupted


class InvalidConfiguration(PulsarError, ConfigError):
    """A setting has a wrong value; the message names the field (raised before any I/O)."""

    result = Result.InvalidConfiguration


class InvalidUrl(InvalidConfiguration):
    """A service URL cannot be parsed; the message names the field and the URL."""

    result = Result.InvalidUrl


# --- broker-reported errors (ServerError codes) ------------------------------------------------


class BrokerReportedError(PulsarError):
    """An error the broker reported with a `ServerError` code (SEND_ERROR, ERROR, lookup)."""

    code: ServerError | int = ServerError.UnknownError

    def __init__(self, message: str = "", code: ServerError | int | None = None) -> None:
        super().__init__(message or type(self).__name__)
        if code is not None:
            self.code = code


class UnknownError(BrokerReportedError):
    code = ServerError.UnknownError
    retriable = True
    result = Result.UnknownError


class BrokerMetadataError(BrokerReportedError):
    code = ServerError.MetadataError
    retriable = True
    result = Result.BrokerMetadataError


class BrokerPersistenceError(BrokerReportedError):
    code = ServerError.PersistenceError
    retriable = True
    result = Result.BrokerPersistenceError


class AuthenticationError(BrokerReportedError):
    code = ServerError.AuthenticationError
    result = Result.AuthenticationError


class AuthorizationError(BrokerReportedError):
    code = ServerError.AuthorizationError
    result = Result.AuthorizationError


class ConsumerBusy(BrokerReportedError):
    code = ServerError.ConsumerBusy
    result = Result.ConsumerBusy


class ServiceUnitNotReady(BrokerReportedError):
    """The topic's bundle is not served here yet (loading or moving): try again shortly."""

    code = ServerError.ServiceNotReady
    retriable = True
    result = Result.ServiceUnitNotReady


class ProducerBlockedQuotaExceededError(BrokerReportedError):
    """Backlog quota exceeded with the producer_request_hold policy: creation may succeed later."""

    code = ServerError.ProducerBlockedQuotaExceededError
    retriable = True
    result = Result.ProducerBlockedQuotaExceededError


class ProducerBlockedQuotaExceededException(BrokerReportedError):
    """Backlog quota exceeded with the producer_exception policy: sends fail."""

    code = ServerError.ProducerBlockedQuotaExceededException
    result = Result.ProducerBlockedQuotaExceededException


class ChecksumError(BrokerReportedError):
    code = ServerError.ChecksumError
    result = Result.ChecksumError


class UnsupportedVersionError(BrokerReportedError):
    code = ServerError.UnsupportedVersionError
    result = Result.UnsupportedVersionError


class TopicNotFound(BrokerReportedError):
    code = ServerError.TopicNotFound
    result = Result.TopicNotFound


class SubscriptionNotFound(BrokerReportedError):
    code = ServerError.SubscriptionNotFound
    result = Result.SubscriptionNotFound


class ConsumerNotFound(BrokerReportedError):
    code = ServerError.ConsumerNotFound
    result = Result.ConsumerNotFound


class TooManyRequests(BrokerReportedError):
    """The broker throttles lookups or creations: back off and retry."""

    code = ServerError.TooManyRequests
    retriable = True
    result = Result.TooManyLookupRequestException


#: The official client's name.
TooManyLookupRequestException = TooManyRequests


class TopicTerminated(BrokerReportedError):
    code = ServerError.TopicTerminatedError
    result = Result.TopicTerminated


class ProducerBusy(BrokerReportedError):
    """Another producer with this name (or an exclusive one) is connected."""

    code = ServerError.ProducerBusy
    result = Result.ProducerBusy


class InvalidTopicName(BrokerReportedError, ConfigError):
    """A topic name is malformed (checked locally before I/O, or reported by the broker)."""

    code = ServerError.InvalidTopicName
    result = Result.InvalidTopicName


class IncompatibleSchema(BrokerReportedError):
    code = ServerError.IncompatibleSchema
    result = Result.IncompatibleSchema


class ConsumerAssignError(BrokerReportedError):
    code = ServerError.ConsumerAssignError
    result = Result.ConsumerAssignError


class TransactionCoordinatorNotFoundError(BrokerReportedError):
    code = ServerError.TransactionCoordinatorNotFound
    result = Result.TransactionCoordinatorNotFoundError


class InvalidTxnStatusError(BrokerReportedError):
    code = ServerError.InvalidTxnStatus
    result = Result.InvalidTxnStatusError


class NotAllowedError(BrokerReportedError):
    code = ServerError.NotAllowedError
    result = Result.NotAllowedError


class TransactionConflict(BrokerReportedError):
    code = ServerError.TransactionConflict
    result = Result.TransactionConflict


class TransactionNotFound(BrokerReportedError):
    code = ServerError.TransactionNotFound
    result = Result.TransactionNotFound


class ProducerFenced(BrokerReportedError):
    """A newer exclusive producer took over the topic."""

    code = ServerError.ProducerFenced
    result = Result.ProducerFenced


#: ServerError code -> exception class (every code in the proto has one).
SERVER_ERRORS: dict[int, type[BrokerReportedError]] = {
    int(cls.code): cls
    for cls in (
        UnknownError,
        BrokerMetadataError,
        BrokerPersistenceError,
        AuthenticationError,
        AuthorizationError,
        ConsumerBusy,
        ServiceUnitNotReady,
        ProducerBlockedQuotaExceededError,
        ProducerBlockedQuotaExceededException,
        ChecksumError,
        UnsupportedVersionError,
        TopicNotFound,
        SubscriptionNotFound,
        ConsumerNotFound,
        TooManyRequests,
        TopicTerminated,
        ProducerBusy,
        InvalidTopicName,
        IncompatibleSchema,
        ConsumerAssignError,
        TransactionCoordinatorNotFoundError,
        InvalidTxnStatusError,
        NotAllowedError,
        TransactionConflict,
        TransactionNotFound,
        ProducerFenced,
    )
}


def error_from_server(code: int | None, message: str | None = None) -> BrokerReportedError:
    """The exception for a broker error code; an unknown (newer) code becomes `UnknownError`."""
    c = 0 if code is None else int(code)
    cls = SERVER_ERRORS.get(c, UnknownError)
    try:
        name = ServerError(c).name
    except ValueError:
        name = f"ServerError({c})"
    text = f"{name}: {message}" if message else name
    return cls(text, code=c)


def refused_schema(err: BaseException, topic: str, schema: Any) -> IncompatibleSchema:
    """The broker refused our schema: one line naming the topic, the schema and why."""
    info = schema.schema_info()
    lines = str(err).removeprefix("IncompatibleSchema: ").strip().splitlines()
    # The broker's text is a chain of Java exception names; keep what they say.
    reason = re.sub(r"(?:[\w$]+\.)+[\w$]*(?:Exception|Error): ", "", lines[0] if lines else "")
    reason = reason.strip().rstrip(":") or "incompatible with the topic's schema"
    inner = getattr(schema, "schema", schema)  # an AutoProduceBytesSchema names its schema
    avro = getattr(inner, "avro_type", None)
    record = avro.record_name() if avro is not None else None
    if record is None and callable(getattr(inner, "record_name", None)):  # protobuf-native
        record = inner.record_name()
    # The registry's spelling: ProtobufNative -> PROTOBUF_NATIVE, KeyValue -> KEY_VALUE.
    kind = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", info.schema_type().name).upper()
    what = kind + " schema" + (f" of record {record}" if record else "")
    return IncompatibleSchema(
        f"IncompatibleSchema: topic {topic} refused the {what}: {reason}",
        code=int(ServerError.IncompatibleSchema),
    )


def result_of(exc: BaseException | None) -> Result:
    """The `Result` a callback receives for an exception (Ok for None)."""
    if exc is None:
        return Result.Ok
    if isinstance(exc, PulsarError):
        return exc.result
    return Result.UnknownError
