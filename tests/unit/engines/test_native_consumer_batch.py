"""The native engine's consumer batch path: lazy `NativeReceivedMessage` fields and the
`receive_many` / `acknowledge_many` pass-through; `ReceivedMessage` as other engines build it."""

from __future__ import annotations

from typing import Any

from pulsarload.client.message import BatchInfo, Message, batch_stats
from pulsarload.engines.base import ReceivedBatch, ReceivedMessage
from pulsarload.engines.native_consumer import (
    NativeConsumer,
    NativeReceivedBatch,
    NativeReceivedMessage,
    wrap_message,
)
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
    assert batch.publish_runs == [(1234, 1), (1234, 1)]  # two entries (own metadata each)
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


def test_batch_stats_counts_runs_per_entry_and_redeliveries() -> None:
    md1 = MessageMetadata(producer_name="p", sequence_id=0, publish_time=100)
    md2 = MessageMetadata(producer_name="p", sequence_id=0, publish_time=100)
    info = BatchInfo(3)
    entry1 = [
        Message(b"ab", md1, None, MessageId(1, 1, -1, i, 3), 0, "t", None, info) for i in range(3)
    ]
    entry2 = Message(memoryview(b"abcd"), md2, None, MessageId(1, 2), 1, "t")
    entry2.data()  # payload already copied out: its size still counts
    assert batch_stats([*entry1, entry2]) == (10, 1, [(100, 3), (100, 1)])
    assert batch_stats([]) == (0, 0, [])


def test_plain_batch_figures_from_received_messages() -> None:
    def rm(data: bytes, pub: int, rc: int = 0) -> ReceivedMessage:
        return ReceivedMessage(
            data=data, topic="t", message_id="m", publish_time_ms=pub, event_time_ms=0,
            redelivery_count=rc,
        )  # fmt: skip

    batch = ReceivedBatch([rm(b"a", 5), rm(b"bb", 5, 1), rm(b"ccc", 7)])
    assert (len(batch), batch.n_bytes, batch.redelivered) == (3, 6, 1)
    assert batch.publish_runs == [(5, 2), (7, 1)]
    assert batch.payloads() == [b"a", b"bb", b"ccc"]
    assert batch.head(2).publish_runs == [(5, 2)]
