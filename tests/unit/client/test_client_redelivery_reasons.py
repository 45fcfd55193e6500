"""Redeliveries counted by reason in the consumer: negative acks and the ack timeout when the
consumer sends messages back, reconnects, seeks and explicit redelivery by what comes again."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pulsarload.client import Client, ConsumerDeadLetterPolicy, RedeliveryCounts
from pulsarload.client.acks import NegativeAckTracker
from pulsarload.client.consumer import Consumer
from pulsarload.client.redeliveries import REASONS, Redeliveries
from pulsarload.wire.message_id import EARLIEST, MessageId
from support.fake_broker import FakeBroker
from support.fake_broker.consumer_script import ConsumerScript
from support.waiting import eventually

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def script(fake: FakeBroker) -> ConsumerScript:
    return ConsumerScript(fake)


@pytest.fixture
def client(fake: FakeBroker, make_client: Callable[..., Client]) -> Client:
    return make_client(fake.url)


def subscribe(client: Client, script: ConsumerScript, **kw) -> Consumer:  # type: ignore[no-untyped-def]
    kw.setdefault("receiver_queue_size", 10)
    c = client.subscribe("t", "sub", **kw)
    assert isinstance(c, Consumer)
    eventually(lambda: script.permits(), what="the first FLOW")
    return c


def only(counts: RedeliveryCounts, **expected: int) -> bool:
    return counts.as_dict() == {r: expected.get(r, 0) for r in REASONS}


# --- the parts, alone ---------------------------------------------------------------------------


def test_counts_add_subtract_and_total():
    a = RedeliveryCounts(negative_ack=3, seek=1)
    b = RedeliveryCounts(negative_ack=1, ack_timeout=2, requested=4)
    assert (a + b).as_dict() == {
        "negative_ack": 4,
        "ack_timeout": 2,
        "reconnect": 0,
        "seek": 1,
        "requested": 4,
    }
    assert (a + b) - b == a
    assert (a + b).total == 11


def test_negative_ack_tracker_counts_messages_per_entry():
    now = [0.0]
    t = NegativeAckTracker(1.0, clock=lambda: now[0])
    e = MessageId(1, 7, -1)
    t.add(e)
    t.add(e)  # a second message of the same batch entry
    t.add(MessageId(1, 8, -1), 0)  # a further chunk of a message counted already
    now[0] = 0.5
    assert t.take_due_counted(0.5)[0] == {}
    due, nxt = t.take_due_counted(2.0)
    assert due == {e: 2, MessageId(1, 8, -1): 0}
    assert nxt == float("inf")
    t.add(e)
    t.remove(e)
    t.add(e)
    assert t.take_due_counted(5.0)[0] == {e: 1}  # the removed one is forgotten


def test_a_replay_counts_up_to_the_last_message_taken_then_stops():
    r = Redeliveries()

    class M:
        def __init__(self, entry: int, index: int = -1) -> None:
            self._id = MessageId(1, entry, -1, index, 3 if index >= 0 else 0)

    r.rewound("reconnect", None)  # nothing taken yet: nothing to count
    assert r.mark is None
    r.rewound("reconnect", MessageId(1, 5, -1, 1, 3))
    r.replayed(1, 4, [M(4)])
    r.replayed(1, 5, [M(5, 0), M(5, 1), M(5, 2)])  # index 2 was never taken
    assert r.mark is None
    r.replayed(1, 2, [M(2)])  # after the replay: not counted
    assert only(r.counts(), reconnect=3)
    r.rewound("seek", MessageId(2, 0, -1))
    r.rewound("requested", None)  # a second rewind before the replay: its reason wins
    r.replayed(1, 9, [M(9)])
    r.replayed(3, 0, [M(0)])
    assert only(r.counts(), reconnect=3, requested=1)


# --- against the fake broker --------------------------------------------------------------------


def test_negative_acks_count_each_message_when_sent_back(client: Client, script: ConsumerScript):
    c = subscribe(client, script, consumer_type="shared", negative_ack_redelivery_delay_ms=100)
    script.push(7, [b"a", b"b", b"c"])
    script.push(8, b"d")
    msgs = [c.receive(2000) for _ in range(4)]
    c.negative_acknowledge(msgs[0])
    c.negative_acknowledge(msgs[1])  # same entry: one id sent back, two messages counted
    c.negative_acknowledge(msgs[3])
    eventually(lambda: len(script.redelivers) == 1, what="the redeliver command")
    assert sorted(i.entryId for i in script.redelivers[0].message_ids) == [7, 8]
    assert only(c.redelivery_counts(), negative_ack=3)


def test_negative_ack_on_exclusive_counts_what_it_named(client: Client, script: ConsumerScript):
    c = subscribe(client, script, negative_ack_redelivery_delay_ms=0)
    script.push(1, b"first")
    c.negative_acknowledge(c.receive(2000))
    eventually(lambda: len(script.redelivers) == 1, what="the redeliver-all command")
    assert script.redelivers[0].message_ids == ()
    assert only(c.redelivery_counts(), negative_ack=1)


def test_ack_timeout_counts_the_messages_not_acked(client: Client, script: ConsumerScript):
    c = subscribe(client, script, consumer_type="shared", unacked_messages_timeout_ms=1000)
    script.push(1, b"kept")
    script.push(2, [b"x", b"y"])
    c.acknowledge(c.receive(2000))
    c.receive(2000)
    c.receive(2000)
    eventually(lambda: len(script.redelivers) == 1, timeout=5, what="the ack timeout")
    assert [i.entryId for i in script.redelivers[0].message_ids] == [2]
    assert only(c.redelivery_counts(), ack_timeout=2)


def test_dead_lettered_messages_are_not_counted(
    client: Client, script: ConsumerScript, fake: FakeBroker
):
    c = subscribe(
        client,
        script,
        consumer_type="shared",
        negative_ack_redelivery_delay_ms=0,
        dead_letter_policy=ConsumerDeadLetterPolicy(2),
        ack_grouping_time_ms=0,
    )
    script.push(5, b"poison", redelivery_count=2)
    c.negative_acknowledge(c.receive(2000))
    eventually(lambda: len(fake.received) == 1, what="the dead letter")
    assert script.redelivers == []
    assert only(c.redelivery_counts())


def test_reconnect_counts_what_comes_again_up_to_the_last_taken(
    client: Client, script: ConsumerScript, fake: FakeBroker
):
    c = subscribe(client, script)
    for entry in (1, 2, 3):
        script.push(entry, f"m{entry}".encode())
    c.receive(2000)
    c.receive(2000)  # 3 stays queued, never taken
    fake.kill_connections()
    eventually(lambda: len(script.subs) == 2 and c.is_connected(), what="the re-subscription")
    for entry in (1, 2, 3, 4):
        script.push(entry, f"m{entry}".encode())
    assert [c.receive(2000).data() for _ in range(4)] == [b"m1", b"m2", b"m3", b"m4"]
    assert only(c.redelivery_counts(), reconnect=2)


def test_seek_back_counts_the_rewound_messages_not_as_a_reconnect(
    client: Client, script: ConsumerScript
):
    c = subscribe(client, script)
    script.push(1, [b"a", b"b"])
    script.push(2, b"c")
    for _ in range(3):
        c.receive(2000)
    c.seek(EARLIEST)
    eventually(lambda: len(script.subs) == 2, what="the re-subscription after the seek")
    script.push(1, [b"a", b"b"])
    script.push(2, b"c")
    script.push(3, b"new")
    assert [c.receive(2000).data() for _ in range(4)] == [b"a", b"b", b"c", b"new"]
    assert only(c.redelivery_counts(), seek=3)


def test_seek_forward_counts_nothing(client: Client, script: ConsumerScript):
    c = subscribe(client, script)
    script.push(1, b"a")
    c.receive(2000)
    c.seek(MessageId(1, 5))
    eventually(lambda: len(script.subs) == 2, what="the re-subscription after the seek")
    script.push(6, b"later")
    assert c.receive(2000).data() == b"later"
    assert only(c.redelivery_counts())


def test_explicit_redelivery_counts_as_requested(client: Client, script: ConsumerScript):
    c = subscribe(client, script)
    script.push(1, b"a")
    script.push(2, b"b")
    c.receive(2000)
    c.receive(2000)
    c.redeliver_unacknowledged_messages()
    eventually(lambda: len(script.redelivers) == 1, what="the redeliver-all command")
    epoch = script.redelivers[0].consumer_epoch
    script.push(1, b"a", consumer_epoch=epoch)
    script.push(2, b"b", consumer_epoch=epoch)
    script.push(3, b"c", consumer_epoch=epoch)
    assert [c.receive(2000).data() for _ in range(3)] == [b"a", b"b", b"c"]
    assert only(c.redelivery_counts(), requested=2)


def test_a_multi_topic_consumer_sums_its_topics():
    import threading

    from pulsarload.client.multi import MultiTopicsConsumer

    class Part:
        def __init__(self, counts: RedeliveryCounts) -> None:
            self.counts = counts

        def redelivery_counts(self) -> RedeliveryCounts:
            return self.counts

    multi = MultiTopicsConsumer.__new__(MultiTopicsConsumer)  # its parts only, no broker
    multi._lock = threading.Lock()
    multi._consumers = {
        "t-0": Part(RedeliveryCounts(negative_ack=2, seek=1)),
        "t-1": Part(RedeliveryCounts(negative_ack=1, reconnect=4)),
    }
    assert only(multi.redelivery_counts(), negative_ack=3, seek=1, reconnect=4)
