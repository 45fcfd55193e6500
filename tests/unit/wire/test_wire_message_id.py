"""MessageId ordering, equality, serialization (official-client bytes) and ack sets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulsarload.wire.errors import DecodeError
from pulsarload.wire.message_id import (
    EARLIEST,
    INT64_MAX,
    LATEST,
    MessageId,
    is_acked,
    make_ack_set,
)
from pulsarload.wire.messages import MessageIdData

MINUS_ONE = "ffffffffffffffffff01"


@pytest.mark.parametrize(
    ("mid", "hex_bytes"),
    [
        # as the Java client writes them: partition only if >= 0, batch_index only if != -1,
        # batch_size only if > 0
        (MessageId(5, 6), "08051006"),
        (MessageId(5, 6, 2), "080510061802"),
        (MessageId(5, 6, -1, 3, 10), "080510062003300a"),
        (MessageId(5, 6, 0, 0), "0805100618002000"),
        (EARLIEST, f"08{MINUS_ONE}10{MINUS_ONE}"),
        (LATEST, "08ffffffffffffffff7f10ffffffffffffffff7f"),
    ],
)
def test_serialize_vectors(mid: MessageId, hex_bytes: str) -> None:
    data = bytes.fromhex(hex_bytes)
    assert mid.serialize() == data
    back = MessageId.deserialize(data)
    assert back == mid
    assert back.batch_size == mid.batch_size


def test_deserialize_ignores_unknown_fields_and_ack_sets() -> None:
    # ack_set (5) and an unknown field 7 (first_chunk_message_id) are skipped
    data = bytes.fromhex("0805100628073a0408011002")
    assert MessageId.deserialize(data) == MessageId(5, 6)


@pytest.mark.parametrize("hex_bytes", ["", "08", "0805", "1006", "080510", "0805100612"])
def test_deserialize_garbage(hex_bytes: str) -> None:
    with pytest.raises(DecodeError):
        MessageId.deserialize(bytes.fromhex(hex_bytes))


def test_constants() -> None:
    assert EARLIEST == MessageId(-1, -1) == MessageId.EARLIEST  # type: ignore[attr-defined]
    assert LATEST == MessageId(INT64_MAX, INT64_MAX) == MessageId.LATEST  # type: ignore[attr-defined]
    assert EARLIEST < MessageId(0, 0) < LATEST


def test_ordering_follows_java() -> None:
    ids = [
        MessageId(2, 0),
        MessageId(1, 5, batch_index=2),
        MessageId(1, 5, batch_index=1, partition=3),
        MessageId(1, 5, batch_index=1, partition=0),
        MessageId(1, 5),
        MessageId(1, 4, batch_index=9),
    ]
    assert sorted(ids) == [
        MessageId(1, 4, batch_index=9),
        MessageId(1, 5),  # batch_index -1 sorts before 0
        MessageId(1, 5, batch_index=1, partition=0),
        MessageId(1, 5, batch_index=1, partition=3),
        MessageId(1, 5, batch_index=2),
        MessageId(2, 0),
    ]
    assert MessageId(1, 5, 0, 1) > MessageId(1, 5, 9, 0)  # batch index before partition
    assert MessageId(1, 5) <= MessageId(1, 5)
    assert MessageId(1, 5) >= MessageId(1, 5)


def test_equality_and_hash_ignore_batch_size() -> None:
    a = MessageId(1, 2, 0, 3, batch_size=10)
    b = MessageId(1, 2, 0, 3, batch_size=0)
    assert a == b and hash(a) == hash(b)
    assert a != MessageId(1, 2, 1, 3)
    assert len({a, b, MessageId(1, 2, 0, 4)}) == 2
    assert (a == (1, 2, 0, 3, 10)) is False  # not equal to a plain tuple


def test_comparing_with_other_types_is_not_implemented() -> None:
    with pytest.raises(TypeError):
        _ = MessageId(1, 2) < (1, 3)  # type: ignore[operator]


def test_entry_and_str() -> None:
    mid = MessageId(7, 8, 1, 4, 5)
    assert mid.entry == MessageId(7, 8, 1)
    assert str(mid) == "7:8:1:4"


def test_from_data_applies_proto_defaults_and_partition_override() -> None:
    data = MessageIdData(ledgerId=1, entryId=2)
    assert MessageId.from_data(data) == MessageId(1, 2, -1, -1, 0)
    assert MessageId.from_data(data, partition=4).partition == 4
    assert MessageId(1, 2, 3, 4, 5).to_data(ack_set=(1,)) == MessageIdData(
        ledgerId=1, entryId=2, partition=3, batch_index=4, ack_set=(1,), batch_size=5
    )


@given(
    st.integers(-1, 2**63 - 1),
    st.integers(-1, 2**63 - 1),
    st.integers(-1, 2**31 - 1),
    st.integers(-1, 2**31 - 1),
    st.integers(0, 2**31 - 1),
)
def test_serialize_round_trip(ledger: int, entry: int, part: int, index: int, size: int) -> None:
    mid = MessageId(ledger, entry, part, index, size)
    back = MessageId.deserialize(mid.serialize())
    assert tuple(back) == tuple(mid)


def test_ack_sets() -> None:
    # batch of 3 with index 0 acked: bits 1 and 2 still set
    assert make_ack_set(3, [0]) == (6,)
    assert make_ack_set(3, []) == (7,)
    # 64 messages, none acked: all 64 bits set = -1 as a Java long
    assert make_ack_set(64, []) == (-1,)
    assert make_ack_set(70, [0, 65]) == (-2, 0b111101)
    words = make_ack_set(70, [0, 65])
    assert [i for i in range(70) if is_acked(words, i)] == [0, 65]
    assert is_acked(words, 200)  # beyond the words: acked
    assert not is_acked((), 0)  # no ack_set at all: nothing acked
