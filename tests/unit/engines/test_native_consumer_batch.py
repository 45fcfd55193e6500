"""The native engine's consumer batch path: lazy `NativeReceivedMessage` fields and the
`receive_many` / `acknowledge_many` pass-through; `ReceivedMessage` as other engines build it."""

from __future__ import annotations

from typing import Any

from pulsarload.client.message import Message
from pulsarload.engines.base import ReceivedMessage
from pulsarload.engines.native_consumer import NativeConsumer, NativeReceivedMessage, wrap_message
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
    got = nc.receive_many(5, -3)
    assert [g.handle for g in got] == msgs
    assert fake.calls == [("receive_many", (5, 0))]  # negative timeouts become 0
    nc.acknowledge_many(got)
    assert fake.acked == msgs
    assert nc.receive_many(5, 10) == []
