"""The consumer's batch path: `receive_many` (one lock hold, one FLOW check per call) and
`acknowledge_many` / `AckGroupingTracker.add_messages` (same ack semantics as one by one)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pulsarload.client import Client, InvalidConfiguration
from pulsarload.client.acks import AckGroupingTracker
from pulsarload.client.consumer import Consumer, ReceiverQueue
from pulsarload.client.errors import AlreadyClosed, NotConnected
from pulsarload.client.message import BatchInfo, Message
from pulsarload.wire.enums import AckType
from pulsarload.wire.message_id import MessageId, make_ack_set
from pulsarload.wire.messages import MessageMetadata
from support.fake_broker import FakeBroker
from support.fake_broker.consumer_script import ConsumerScript
from support.waiting import eventually

pytestmark = pytest.mark.timeout(60)

MD = MessageMetadata(producer_name="p", sequence_id=0, publish_time=1000)


class Sent:
    def __init__(self) -> None:
        self.calls: list[tuple[AckType, list[tuple[int, int, tuple[int, ...]]]]] = []
        self.fail = False

    def __call__(self, ids, ack_type) -> None:  # type: ignore[no-untyped-def]
        if self.fail:
            raise NotConnected("down")
        self.calls.append((ack_type, [(i.ledgerId, i.entryId, tuple(i.ack_set)) for i in ids]))


def batch_msgs(entry: int, size: int, indexes: list[int] | None = None) -> list[Message]:
    info = BatchInfo(size)
    return [
        Message(b"x", MD, None, MessageId(1, entry, -1, i, size), 0, "t", None, info)
        for i in (range(size) if indexes is None else indexes)
    ]


def test_add_messages_immediate_sends_complete_entries_in_one_command() -> None:
    sent = Sent()
    t = AckGroupingTracker(sent, group_time=0)
    whole = batch_msgs(1, 3) + batch_msgs(2, 2)
    partial = batch_msgs(3, 3, [0, 1])
    single = [Message(b"s", MD, None, MessageId(1, 4), 0, "t")]
    assert t.add_messages(whole + partial + single) is False
    assert sent.calls == [(AckType.Individual, [(1, 1, ()), (1, 2, ()), (1, 4, ())])]
    assert partial[0]._batch.acked == 0b011  # marked, not sent: the entry is not finished


def test_add_messages_marks_what_one_by_one_acks_marked_before() -> None:
    sent = Sent()
    t = AckGroupingTracker(sent, group_time=0)
    msgs = batch_msgs(5, 4)
    t.add_individual(msgs[0]._id, msgs[0]._batch)
    t.add_messages(msgs[1:3])
    assert sent.calls == []
    t.add_messages(msgs[3:])
    assert sent.calls == [(AckType.Individual, [(1, 5, ())])]


def test_add_messages_grouped_arms_the_deadline_and_flushes_at_max_size() -> None:
    sent = Sent()
    t = AckGroupingTracker(sent, group_time=0.1, max_size=3, clock=lambda: 50.0)
    assert t.add_messages(batch_msgs(1, 2)) is True
    assert t.deadline == pytest.approx(50.1) and sent.calls == []
    assert t.add_messages(batch_msgs(2, 1)) is False  # already armed
    assert t.is_duplicate(1, 2, -1)
    t.add_messages(batch_msgs(3, 1))  # the third entry reaches max_size
    assert len(sent.calls) == 1 and sorted(sent.calls[0][1]) == [(1, e, ()) for e in (1, 2, 3)]


def test_add_messages_with_batch_index_acks_sends_an_ack_set_for_a_partial_entry() -> None:
    sent = Sent()
    t = AckGroupingTracker(sent, group_time=0.1, batch_index_ack=True)
    msgs = batch_msgs(7, 4)
    t.add_messages([msgs[1], msgs[3]])
    t.flush()
    assert sent.calls == [(AckType.Individual, [(1, 7, make_ack_set(4, {1, 3}))])]
    t.add_messages([msgs[0], msgs[2]])
    t.flush()
    assert sent.calls[-1] == (AckType.Individual, [(1, 7, ())])


def test_add_messages_acks_every_chunk_and_keeps_acks_when_sending_fails() -> None:
    sent = Sent()
    t = AckGroupingTracker(sent, group_time=0.1)
    chunks = (MessageId(1, 1), MessageId(1, 2), MessageId(1, 3))
    big = Message(b"big", MD, None, MessageId(1, 3), 0, "t", None, None, 0, chunks)
    t.add_messages([big])
    sent.fail = True
    t.flush()
    sent.fail = False
    t.flush()
    assert sorted(sent.calls[0][1]) == [(1, 1, ()), (1, 2, ()), (1, 3, ())]


def test_queue_get_available_takes_what_is_there_without_waiting_for_more() -> None:
    q = ReceiverQueue()
    assert q.get_available(10, 0.05) == []
    msgs = batch_msgs(1, 5)
    q._items.extend(msgs)
    t0 = time.monotonic()
    assert q.get_available(3, 5.0) == msgs[:3]
    assert q.get_available(10, 5.0) == msgs[3:]
    assert time.monotonic() - t0 < 1.0  # never waited for the limit to fill
    q.close(AlreadyClosed("closed"))
    with pytest.raises(AlreadyClosed):
        q.get_available(1, 0.1)


# --- against the fake broker -------------------------------------------------------------------


@pytest.fixture
def script(fake: FakeBroker) -> ConsumerScript:
    return ConsumerScript(fake)


@pytest.fixture
def client(fake: FakeBroker, make_client: Callable[..., Client]) -> Client:
    return make_client(fake.url)


def subscribe(client: Client, **kw) -> Consumer:  # type: ignore[no-untyped-def]
    kw.setdefault("receiver_queue_size", 10)
    c = client.subscribe("t", "sub", **kw)
    assert isinstance(c, Consumer)
    return c


def receive_n(c: Consumer, n: int, max_messages: int = 100) -> list[Message]:
    out: list[Message] = []
    deadline = time.monotonic() + 5
    while len(out) < n and time.monotonic() < deadline:
        out += c.receive_many(max_messages, 200)
    return out


def test_receive_many_returns_whole_entries_and_refills_permits(
    client: Client, script: ConsumerScript
):
    c = subscribe(client, receiver_queue_size=10)
    eventually(lambda: script.permits() == [10])
    script.push(1, [b"a", b"b", b"c", b"d"])  # one entry, four permits
    got = receive_n(c, 4)
    assert [m.data() for m in got] == [b"a", b"b", b"c", b"d"]
    assert script.permits() == [10]  # 4 taken: below the threshold of 5
    script.push(2, [b"e", b"f"])
    got += receive_n(c, 2, max_messages=1)  # the limit holds: one per call
    assert [m.data() for m in got[4:]] == [b"e", b"f"]
    eventually(lambda: script.permits() == [10, 5])  # 5 taken: one FLOW, then 1 carried
    assert c.receive_many(10, 50) == []
    with pytest.raises(InvalidConfiguration):
        c.receive_many(0, 10)


def test_acknowledge_many_acks_the_entry_once_it_is_complete(
    client: Client, script: ConsumerScript
):
    c = subscribe(client, ack_grouping_time_ms=0)
    eventually(lambda: script.permits() == [10])
    script.push(4, [b"m0", b"m1", b"m2"])
    script.push(5, b"single")
    got = receive_n(c, 4)
    assert len(got) == 4
    c.acknowledge_many(got[:2])
    time.sleep(0.1)  # a chance for a wrong ACK to show up (there must be none)
    assert script.acked() == []  # index 2 of entry 4 is not acked yet
    c.acknowledge_many(got[2:])
    eventually(lambda: sorted(a[1:3] for a in script.acked()) == [(1, 4), (1, 5)])
    assert len(script.acks) == 1  # both entries in one ACK command
    c.close()
    with pytest.raises(AlreadyClosed):
        c.acknowledge_many(got)


def test_acknowledge_many_with_ack_timeout_stops_the_redelivery(
    client: Client, script: ConsumerScript
):
    c = subscribe(client, unacked_messages_timeout_ms=10_000)
    eventually(lambda: script.permits() == [10])
    script.push(1, [b"a", b"b"])
    got = receive_n(c, 2)
    assert c._unacked is not None and len(c._unacked) == 2
    c.acknowledge_many(got)
    assert len(c._unacked) == 0


def test_multi_topic_receive_many_and_acknowledge_many_route_per_partition(
    fake: FakeBroker, script: ConsumerScript, make_client: Callable[..., Client]
):
    fake.partitions["persistent://public/default/pt"] = 3
    client = make_client(fake.url)
    c = client.subscribe("pt", "sub", receiver_queue_size=10, ack_grouping_time_ms=0)
    eventually(lambda: len(script.subs) == 3)
    for sub in list(script.subs):
        script.subs.append(sub)  # push through each partition in turn
        script.push(1, [sub.cmd.topic.encode(), b"second"])
    got: list[Message] = []
    deadline = time.monotonic() + 5
    while len(got) < 6 and time.monotonic() < deadline:
        got += c.receive_many(100, 200)
    assert len(got) == 6
    assert sorted({m.message_id().partition for m in got}) == [0, 1, 2]
    c.acknowledge_many(got)
    # One complete entry per partition, acked by that partition's consumer.
    eventually(lambda: len(script.acks) == 3)
    assert sorted(a.consumer_id for a in script.acks) == sorted(k._consumer_id for k in c.consumers)
    c.close()


def test_compacted_out_messages_are_skipped_and_the_entry_still_completes(
    client: Client, script: ConsumerScript
):
    from pulsarload.wire.batch import encode_batch_payload
    from pulsarload.wire.messages import SingleMessageMetadata

    c = subscribe(client, ack_grouping_time_ms=0)
    eventually(lambda: script.permits() == [10])
    items = [(b"keep0", False), (b"gone", True), (b"keep2", False)]
    body = encode_batch_payload(
        [(SingleMessageMetadata(payload_size=len(p), compacted_out=gone), p) for p, gone in items]
    )
    script.push(3, body, batch=False, metadata={"num_messages_in_batch": 3})
    got = receive_n(c, 2)
    assert [m.data() for m in got] == [b"keep0", b"keep2"]
    assert [m.message_id().batch_index for m in got] == [0, 2]
    c.acknowledge_many(got)  # the compacted-out index counts as acked already
    eventually(lambda: [a[1:3] for a in script.acked()] == [(1, 3)])
