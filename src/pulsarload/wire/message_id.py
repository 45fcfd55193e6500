"""``MessageId``: the client-facing, ordered, hashable message id, and batch ack-set helpers.

    ``MessageId(ledger_id, entry_id, partition=-1, batch_index=-1, batch_size=0)``
    ``EARLIEST`` (-1, -1) / ``LATEST`` (INT64_MAX, INT64_MAX), also ``MessageId.earliest`` /
        ``MessageId.latest`` (the official spelling) and ``MessageId.EARLIEST`` ...
    ``mid.serialize() -> bytes`` / ``MessageId.deserialize(data, topic=None)``   MessageIdData
        bytes, the same bytes ``serialize()`` gives in the official Java / C++ / Python clients;
        with ``topic`` the id remembers its topic (a ``TopicMessageId``), so that a multi-topic
        consumer can route an ack of a bare id
    ``mid.to_data()`` / ``MessageId.from_data(d)``   to and from the wire ``MessageIdData``
    ``make_ack_set(batch_size, acked)`` / ``is_acked(ack_set, index)``   batch-index ack bitsets

Ordering follows the Java client: ledger, then entry, then batch index, then partition as a
tiebreak. Equality and hashing use (ledger, entry, partition, batch_index), not batch_size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Self

from pulsarload.wire.errors import DecodeError
from pulsarload.wire.messages import MessageIdData

__all__ = [
    "EARLIEST",
    "INT64_MAX",
    "LATEST",
    "MessageId",
    "TopicMessageId",
    "is_acked",
    "make_ack_set",
]

INT64_MAX = (1 << 63) - 1


class MessageId(NamedTuple):
    """An immutable message id; batch_index -1 means "not in a batch"."""

    ledger_id: int
    entry_id: int
    partition: int = -1
    batch_index: int = -1
    batch_size: int = 0

    # Ordering and equality: tuple's own would compare fields in declaration order.

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, MessageId):
            raise TypeError(f"cannot compare MessageId with {type(other).__name__}")
        return (self[0], self[1], self[3], self[2]) < (other[0], other[1], other[3], other[2])

    def __le__(self, other: object) -> bool:
        if not isinstance(other, MessageId):
            raise TypeError(f"cannot compare MessageId with {type(other).__name__}")
        return (self[0], self[1], self[3], self[2]) <= (other[0], other[1], other[3], other[2])

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, MessageId):
            raise TypeError(f"cannot compare MessageId with {type(other).__name__}")
        return (self[0], self[1], self[3], self[2]) > (other[0], other[1], other[3], other[2])

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, MessageId):
            raise TypeError(f"cannot compare MessageId with {type(other).__name__}")
        return (self[0], self[1], self[3], self[2]) >= (other[0], other[1], other[3], other[2])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MessageId):
            return False  # not NotImplemented: tuple's reflected == would compare fields
        return self[:4] == other[:4]

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, MessageId):
            return True
        return self[:4] != other[:4]

    def __hash__(self) -> int:
        return hash(self[:4])

    def __str__(self) -> str:
        return f"{self[0]}:{self[1]}:{self[2]}:{self[3]}"

    @property
    def entry(self) -> MessageId:
        """The id of the whole entry (batch index dropped): what a whole-batch ack names."""
        return MessageId(self[0], self[1], self[2])

    def to_data(self, ack_set: Sequence[int] = ()) -> MessageIdData:
        """The wire ``MessageIdData``, with optional fields set as the Java client sets them."""
        return MessageIdData(
            ledgerId=self[0],
            entryId=self[1],
            partition=self[2] if self[2] >= 0 else None,
            batch_index=self[3] if self[3] != -1 else None,
            ack_set=tuple(ack_set),
            batch_size=self[4] if self[4] > 0 else None,
        )

    @classmethod
    def from_data(cls, data: MessageIdData, partition: int | None = None) -> Self:
        """From a decoded ``MessageIdData`` (proto defaults applied); ``partition`` overrides
        the one on the wire (the broker leaves it unset: the client knows its partition)."""
        if partition is None:
            partition = -1 if data.partition is None else data.partition
        return cls(
            data.ledgerId,
            data.entryId,
            partition,
            -1 if data.batch_index is None else data.batch_index,
            0 if data.batch_size is None else data.batch_size,
        )

    def serialize(self) -> bytes:
        """MessageIdData bytes, compatible with the official clients' ``serialize()``."""
        return self.to_data().encode()

    @classmethod
    def deserialize(
        cls, data: bytes | bytearray | memoryview, topic: str | None = None
    ) -> MessageId:
        """Parse bytes from ``serialize()`` (ours or an official client's). With ``topic`` (as
        the official client) the id carries its topic, which a multi-topic consumer needs to
        acknowledge or seek by a bare id."""
        if not data:
            raise DecodeError("MessageId: empty buffer is not a serialized MessageIdData")
        mid = MessageId.from_data(MessageIdData.decode(data))
        if topic is None:
            return mid
        if not isinstance(topic, str) or not topic:
            raise DecodeError(f"MessageId: topic must be a non-empty string, got {topic!r}")
        return TopicMessageId.of(mid, topic)

    @classmethod
    def wrap(cls, msg_id: MessageId) -> MessageId:
        """The official client wraps its C++ id in a Python one; ours is one type, so this
        returns ``msg_id`` itself (checked)."""
        if not isinstance(msg_id, MessageId):
            raise TypeError(f"MessageId.wrap: expected a MessageId, got {type(msg_id).__name__}")
        return msg_id

    def topic_name(self) -> str | None:
        """The topic this id was given with ``deserialize(..., topic=)``, else None."""
        return None


class TopicMessageId(MessageId):
    """A message id that also names its topic (equal to and hashed like the plain id)."""

    topic: str

    @staticmethod
    def of(mid: MessageId, topic: str) -> TopicMessageId:
        out = tuple.__new__(TopicMessageId, tuple(mid))
        out.topic = topic
        return out

    def topic_name(self) -> str | None:
        return self.topic

    def __reduce__(self) -> Any:
        return (TopicMessageId.of, (MessageId(*self), self.topic))


class _IdPart(int):
    """An int that can also be called: ``mid.ledger_id`` (our field) and ``mid.ledger_id()``
    (the official client's accessor) both give the number."""

    __slots__ = ()

    def __call__(self) -> int:
        return int(self)


def _part(index: int, doc: str) -> property:
    return property(lambda self: _IdPart(self[index]), doc=doc)


# The official accessors are methods; a NamedTuple field cannot also be one, so each field
# reads as a callable int (the hot paths index the tuple and never build one).
MessageId.ledger_id = _part(0, "The ledger id.")  # type: ignore[assignment]
MessageId.entry_id = _part(1, "The entry id within the ledger.")  # type: ignore[assignment]
MessageId.partition = _part(2, "The partition index, -1 if none.")  # type: ignore[assignment]
MessageId.batch_index = _part(3, "The index in the batch, -1 if none.")  # type: ignore[assignment]

#: Where a reader starts to get every message; also what the broker returns for a duplicate.
EARLIEST = MessageId(-1, -1)
#: Where a reader starts to get only new messages.
LATEST = MessageId(INT64_MAX, INT64_MAX)
# Also reachable as MessageId.earliest / .latest (the official spelling) and MessageId.EARLIEST /
# .LATEST (a NamedTuple cannot declare them in its body).
MessageId.earliest = MessageId.EARLIEST = EARLIEST  # type: ignore[attr-defined]
MessageId.latest = MessageId.LATEST = LATEST  # type: ignore[attr-defined]


def make_ack_set(batch_size: int, acked: Iterable[int]) -> tuple[int, ...]:
    """The ack_set of a partly-acked batch: bit i SET means index i is still unacked.

    Little-endian int64 words (bit i in word i // 64), signed like Java's ``long[]``.
    """
    bits = (1 << batch_size) - 1
    for index in acked:
        bits &= ~(1 << index)
    words = []
    for _ in range((batch_size + 63) // 64):
        word = bits & 0xFFFFFFFFFFFFFFFF
        words.append(word - (1 << 64) if word >= 1 << 63 else word)
        bits >>= 64
    return tuple(words)


def is_acked(ack_set: Sequence[int], index: int) -> bool:
    """Whether ``index`` is already acked per a received CommandMessage.ack_set.

    An empty ack_set (field absent) means nothing is acked; otherwise a clear bit, or an index
    beyond the words, means acked (skip it), as the Java consumer does.
    """
    if not ack_set:
        return False
    word = index >> 6
    if word >= len(ack_set):
        return True
    return not (ack_set[word] >> (index & 63)) & 1
