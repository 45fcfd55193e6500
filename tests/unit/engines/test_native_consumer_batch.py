"""The native engine's consumer batch path: lazy `NativeReceivedMessage` fields and the
`receive_many` / `acknowledge_many` pass-through; `ReceivedMessage` as other engines build it."""

from __future__ import annotations

from typing import Any

from pulsarload.client.message import BatchInfo, Message
from pulsarload.engines.base import ReceivedBatch, ReceivedMessage
from pulsarload.engines.native_consumer import (
    NativeConsumer,
    NativeReceivedBatch,
    NativeReceivedMessage,
    batch_figures,
    wrap_message,
)
from pulsarload.engines.stamp import STAMP_KEY, encode_stamp
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageMetadata, SingleMessageMetadata, key_values


def message(index: int = 1) -> Message:
    md = MessageMetadata(producer_name="p", sequence_id=10, publish_time=1234)
    smd = SingleMessageMetadata(
        properties=key_values({"a": "b"}), partition_key="k", payload_size=3, event_time=55
    )
    return Message(memoryview(b"xyz"), md, smd, MessageId(1, 2, 0, index, 2), 3, "t-partition-0")


def test_native_received_message_reads_the_client_message_lazily() -> None:
    msg = message()
    got = wrap_message(msg)
    assert isinstance(got, NativeReceivedMessage) and isinstance(got, ReceivedMessage)
    assert (got.data, got.publish_time_ms, got.redelivery_count, got.handle) == (
        b"xyz",
        1234,
        3,
        msg,
    )
    assert msg._props is None  # nothing decoded the properties yet
    assert got.message_id == str(msg.message_id())
    assert (got.topic, got.event_time_ms, got.key) == ("t-partition-0", 55, "k")
    assert dict(got.properties) == {"a": "b"}
    assert "bytes" in repr(got)


def test_received_message_built_eagerly_by_other_engines() -> None:
    m = ReceivedMessage(
        data=b"d", topic="t", message_id="1:2:-1", publish_time_ms=5, event_time_ms=0,
        redelivery_count=0,
    )  # fmt: skip
    assert (m.topic, m.message_id, m.key, dict(m.properties), m.handle) == (
        "t",
        "1:2:-1",
        None,
        {},
        None,
    )


class FakeClientConsumer:
    def __init__(self, queued: list[Message]) -> None:
        self.queued = queued
        self.calls: list[tuple[str, Any]] = []
        self.acked: list[Message] = []

    def receive_many(self, max_messages: int, timeout_millis: int) -> list[Message]:
        self.calls.append(("receive_many", (max_messages, timeout_millis)))
        out, self.queued = self.queued[:max_messages], self.queued[max_messages:]
        return out

    def acknowledge_many(self, msgs: list[Message]) -> None:
        self.acked.extend(msgs)


class FakeClient:
    def close(self) -> None:
        pass


def test_native_consumer_receive_many_and_acknowledge_many() -> None:
    msgs = [message(0), message(1)]
    fake = FakeClientConsumer(list(msgs))
    nc = NativeConsumer(FakeClient(), fake)  # type: ignore[arg-type]
    batch = nc.receive_many(5, -3)
    assert isinstance(batch, NativeReceivedBatch)
    assert fake.calls == [("receive_many", (5, 0))]  # negative timeouts become 0
    assert (batch.count, batch.n_bytes, batch.redelivered) == (2, 6, 2)
    assert batch.e2e_runs == [(1_234_000_000, 2, False, 0)]  # no stamp: from the publish time
    assert batch._messages is None  # no per-message wrapper until asked
    assert [m.handle for m in batch.messages] == msgs
    assert batch.payloads() == [b"xyz", b"xyz"]
    nc.acknowledge_many(batch)
    assert fake.acked == msgs
    head = batch.head(1)
    assert isinstance(head, NativeReceivedBatch) and head.handles == msgs[:1]
    nc.acknowledge_many(ReceivedBatch([wrap_message(msgs[0])]))  # a plain batch works too
    assert fake.acked == [*msgs, msgs[0]]
    assert nc.receive_many(5, 10) is None


def test_batch_figures_count_runs_per_entry_and_redeliveries() -> None:
    md1 = MessageMetadata(producer_name="p", sequence_id=0, publish_time=100)
    md2 = MessageMetadata(producer_name="p", sequence_id=0, publish_time=101)
    info = BatchInfo(3)
    entry1 = [
        Message(b"ab", md1, None, MessageId(1, 1, -1, i, 3), 0, "t", None, info) for i in range(3)
    ]
    entry2 = Message(memoryview(b"abcd"), md2, None, MessageId(1, 2), 1, "t")
    entry2.data()  # payload already copied out: its size still counts
    assert batch_figures([*entry1, entry2]) == (
        10,
        1,
        [(100_000_000, 3, False, 0), (101_000_000, 1, False, 0)],
    )
    assert batch_figures([]) == (0, 0, [])


def entry(
    publish_ms: int, stamp: str | None, n: int, own: list[str] | None = None
) -> list[Message]:
    """The messages of one received batch entry: a stamp on the entry, or one per message."""
    props = key_values({STAMP_KEY: stamp}) if stamp is not None else ()
    md = MessageMetadata(
        producer_name="p", sequence_id=0, publish_time=publish_ms, properties=props
    )
    info = BatchInfo(n)
    out = []
    for i in range(n):
        smd = SingleMessageMetadata(
            properties=key_values({STAMP_KEY: own[i]}) if own else (), payload_size=1
        )
        out.append(Message(b"x", md, smd, MessageId(1, publish_ms, -1, i, n), 0, "t", None, info))
    return out


def test_end_to_end_runs_start_at_the_intended_send_time_of_each_message() -> None:
    # An entry whose 3 messages were meant 333,333 ns apart, from 5,000,000 µs on: one run
    # whose message k starts at its own intended time, not at the entry's publish time (ms).
    spaced = entry(9_999, encode_stamp(5_000_000, 333_333), 3)
    _, _, runs = batch_figures(spaced)
    assert runs == [(5_000_000_000, 3, True, 333_333)]
    # A burst (unlimited rate): one intended time for the whole entry.
    assert batch_figures(entry(9_999, encode_stamp(7_000_000), 4))[2] == [
        (7_000_000_000, 4, True, 0)
    ]
    # Messages stamped one by one (the official client's batches), then a foreign entry.
    own = entry(9_999, None, 2, own=[encode_stamp(1_000_001), encode_stamp(1_000_002)])
    foreign = entry(8_000, None, 2)
    assert batch_figures([*own, *foreign])[2] == [
        (1_000_001_000, 1, True, 0),
        (1_000_002_000, 1, True, 0),
        (8_000_000_000, 2, False, 0),
    ]
    # A receive that starts mid-entry, or skips a message, still gives each message its own
    # time (from its batch index).
    assert batch_figures(spaced[1:])[2] == [(5_000_333_333, 2, True, 333_333)]
    assert batch_figures([spaced[0], spaced[2]])[2] == [
        (5_000_000_000, 1, True, 333_333),
        (5_000_666_666, 1, True, 333_333),
    ]
    # The per-message path agrees (to the microsecond).
    assert [wrap_message(m).intended_us for m in [*spaced, *own]] == [
        5_000_000, 5_000_333, 5_000_666, 1_000_001, 1_000_002,
    ]  # fmt: skip
    assert wrap_message(foreign[0]).intended_us == 0
    assert wrap_message(foreign[0]).e2e_origin_us == 8_000_000


def test_a_property_that_only_looks_like_a_stamp_counts_as_none() -> None:
    assert batch_figures(entry(3, "not-a-time", 2))[2] == [(3_000_000, 2, False, 0)]


def test_plain_batch_figures_from_received_messages() -> None:
    def rm(data: bytes, pub: int, rc: int = 0) -> ReceivedMessage:
        return ReceivedMessage(
            data=data, topic="t", message_id="m", publish_time_ms=pub, event_time_ms=0,
            redelivery_count=rc,
        )  # fmt: skip

    batch = ReceivedBatch([rm(b"a", 5), rm(b"bb", 5, 1), rm(b"ccc", 7)])
    assert (len(batch), batch.n_bytes, batch.redelivered) == (3, 6, 1)
    assert batch.e2e_runs == [(5_000_000, 2, False, 0), (7_000_000, 1, False, 0)]
    assert batch.payloads() == [b"a", b"bb", b"ccc"]
    assert batch.head(2).e2e_runs == [(5_000_000, 2, False, 0)]
    stamped = ReceivedMessage(
        data=b"d", topic="t", message_id="m", publish_time_ms=9, event_time_ms=0,
        redelivery_count=0, intended_us=8_500,
    )  # fmt: skip
    assert ReceivedBatch([stamped, rm(b"e", 9)]).e2e_runs == [
        (8_500_000, 1, True, 0),
        (9_000_000, 1, False, 0),
    ]
