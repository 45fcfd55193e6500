"""``MessageId``: the client-facing, ordered, hashable message id, and batch ack-set helpers.

    ``MessageId(ledger_id, entry_id, partition=-1, batch_index=-1, batch_size=0)``
    ``EARLIEST`` (-1, -1) / ``LATEST`` (INT64_MAX, INT64_MAX), also ``MessageId.EARLIEST`` ...
    ``mid.serialize() -> bytes`` / ``MessageId.deserialize(data)``   MessageIdData bytes, the
        same bytes ``MessageId.serialize()`` gives in the official Java / C++ / Python clients
    ``mid.to_data()`` / ``MessageId.from_data(d)``   to and from the wire ``MessageIdData``
    ``make_ack_set(batch_size, acked)`` / ``is_acked(ack_set, index)``   batch-index ack bitsets

Ordering follows the Java client: ledger, then entry, then batch index, then partition as a
tiebreak. Equality and hashing use (ledger, entry, partition, batch_index), not batch_size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Self

from pulsarload.wire.errors import DecodeError
from pulsarload.wire.messages import MessageIdData

__all__ = ["EARLIEST", "INT64_MAX", "LATEST", "MessageId", "is_acked", "make_ack_set"]

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
    def deserialize(cls, data: bytes | bytearray | memoryview) -> Self:
        """Parse bytes from ``serialize()`` (ours or an official client's)."""
        if not data:
            raise DecodeError("MessageId: empty buffer is not a serialized MessageIdData")
        return cls.from_data(MessageIdData.decode(data))


#: Where a reader starts to get every message; also what the broker returns for a duplicate.
EARLIEST = MessageId(-1, -1)
#: Where a reader starts to get only new messages.
LATEST = MessageId(INT64_MAX, INT64_MAX)
# Also reachable as MessageId.EARLIEST / MessageId.LATEST (a NamedTuple cannot declare them).
MessageId.EARLIEST = EARLIEST  # type: ignore[attr-defined]
MessageId.LATEST = LATEST  # type: ignore[attr-defined]


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
