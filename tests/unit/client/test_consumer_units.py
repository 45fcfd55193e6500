"""Consumer building blocks without a network: ack grouping, batch-index acks, redelivery
trackers, chunk reassembly bounds, settings validation and seek targets."""

from __future__ import annotations

import re

import pytest

from pulsarload.client import Client, InvalidConfiguration
from pulsarload.client.acks import (
    AckGroupingTracker,
    NegativeAckTracker,
    UnackedMessageTracker,
    ack_set_of,
)
from pulsarload.client.chunks import ChunkAssembler
from pulsarload.client.consumer_config import (
    ConsumerBatchReceivePolicy,
    ConsumerConfig,
    ConsumerDeadLetterPolicy,
    ConsumerKeySharedPolicy,
    ConsumerType,
    InitialPosition,
    KeySharedMode,
    TopicPattern,
    parse_seek_target,
)
from pulsarload.client.errors import NotConnected
from pulsarload.client.message import BatchInfo, Message
from pulsarload.wire.enums import AckType
from pulsarload.wire.message_id import EARLIEST, LATEST, MessageId, is_acked, make_ack_set
from pulsarload.wire.messages import MessageMetadata, SingleMessageMetadata, key_values


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sent:
    """Records what an AckGroupingTracker sends; can be made to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[AckType, list[tuple[int, int, tuple[int, ...]]]]] = []
        self.fail = False

    def __call__(self, ids, ack_type) -> None:  # type: ignore[no-untyped-def]
        if self.fail:
            raise NotConnected("down")
        self.calls.append((ack_type, [(i.ledgerId, i.entryId, tuple(i.ack_set)) for i in ids]))


def tracker(**kw) -> tuple[AckGroupingTracker, Sent, Clock]:  # type: ignore[no-untyped-def]
    sent, clock = Sent(), Clock()
    kw.setdefault("group_time", 0.1)
    return AckGroupingTracker(sent, clock=clock, **kw), sent, clock


# --- ack sets and batch info -------------------------------------------------------------------


def test_ack_set_matches_wire_helpers() -> None:
    for size in (1, 5, 63, 64, 65, 130):
        acked = {0, size // 2, size - 1}
        info = BatchInfo(size)
        for i in acked:
            info.ack(i)
        words = ack_set_of(~info.acked & info.full, size)
        assert words == make_ack_set(size, acked)
        for i in range(size):
            assert is_acked(words, i) == (i in acked)


def test_batch_info_completes_only_when_every_index_is_acked() -> None:
    info = BatchInfo(3, acked=0b010)  # index 1 came acked from the broker
    assert not info.ack(0)
    assert info.unacked_indexes() == [2]
    assert info.ack(2)
    info2 = BatchInfo(4)
    assert not info2.ack_up_to(1)
    assert info2.ack_up_to(3)


# --- grouping ------------------------------------------------------------------------------------


def test_individual_acks_group_into_one_command_on_time() -> None:
    t, sent, clock = tracker()
    for e in range(5):
        t.add_individual(MessageId(1, e))
    assert sent.calls == []
    assert t.tick(clock.now) == pytest.approx(clock.now + 0.1)
    clock.now += 0.1
    t.tick(clock.now)
    assert len(sent.calls) == 1
    ack_type, ids = sent.calls[0]
    assert ack_type == AckType.Individual
    assert sorted(ids) == [(1, e, ()) for e in range(5)]
    assert t.pending() == 0


def test_group_flushes_at_max_size() -> None:
    t, sent, _ = tracker(max_size=3)
    for e in range(7):
        t.add_individual(MessageId(1, e))
    assert [len(ids) for _, ids in sent.calls] == [3, 3]
    assert t.pending() == 1


def test_immediate_mode_sends_each_ack() -> None:
    t, sent, _ = tracker(group_time=0)
    t.add_individual(MessageId(1, 1))
    t.add_individual(MessageId(1, 2))
    assert [ids for _, ids in sent.calls] == [[(1, 1, ())], [(1, 2, ())]]


def test_batch_entry_is_acked_once_all_indexes_are() -> None:
    t, sent, _ = tracker()
    info = BatchInfo(3)
    for i in (2, 0):
        t.add_individual(MessageId(1, 7, -1, i, 3), info)
    t.flush()
    assert sent.calls == []  # partial, and batch-index acks are off
    t.add_individual(MessageId(1, 7, -1, 1, 3), info)
    t.flush()
    assert sent.calls == [(AckType.Individual, [(1, 7, ())])]


def test_batch_index_acks_send_ack_set_then_the_entry() -> None:
    t, sent, _ = tracker(batch_index_ack=True)
    info = BatchInfo(4)
    t.add_individual(MessageId(1, 7, -1, 1, 4), info)
    t.add_individual(MessageId(1, 7, -1, 3, 4), info)
    t.flush()
    ((_, ids),) = sent.calls
    assert ids == [(1, 7, make_ack_set(4, {1, 3}))]
    t.add_individual(MessageId(1, 7, -1, 0, 4), info)
    t.add_individual(MessageId(1, 7, -1, 2, 4), info)
    t.flush()
    assert sent.calls[-1] == (AckType.Individual, [(1, 7, ())])


def test_cumulative_keeps_the_highest_and_steps_back_inside_a_batch() -> None:
    t, sent, _ = tracker()
    t.add_cumulative(MessageId(1, 5))
    t.add_cumulative(MessageId(1, 3))  # lower: ignored
    t.flush()
    assert sent.calls == [(AckType.Cumulative, [(1, 5, ())])]
    info = BatchInfo(3)
    t.add_cumulative(MessageId(1, 9, -1, 1, 3), info)
    t.flush()
    assert sent.calls[-1] == (AckType.Cumulative, [(1, 8, ())])  # batch not finished
    t.add_cumulative(MessageId(1, 9, -1, 2, 3), info)
    t.flush()
    assert sent.calls[-1] == (AckType.Cumulative, [(1, 9, ())])
    assert t.is_duplicate(1, 9, -1) and t.is_duplicate(1, 2, -1)
    assert not t.is_duplicate(1, 10, -1)
    t.reset()
    assert not t.is_duplicate(1, 2, -1)


def test_cumulative_with_batch_index_acks_uses_an_ack_set() -> None:
    t, sent, _ = tracker(batch_index_ack=True)
    t.add_cumulative(MessageId(1, 9, -1, 1, 4), BatchInfo(4))
    t.flush()
    assert sent.calls == [(AckType.Cumulative, [(1, 9, make_ack_set(4, {0, 1}))])]


def test_failed_flush_keeps_acks_for_later() -> None:
    t, sent, _ = tracker()
    t.add_individual(MessageId(1, 1))
    t.add_cumulative(MessageId(1, 0))
    sent.fail = True
    t.flush()
    assert t.pending() == 2
    sent.fail = False
    t.flush()
    assert sorted(c[0] for c in sent.calls) == [AckType.Individual, AckType.Cumulative]
    assert t.pending() == 0


def test_pending_individual_ack_marks_duplicates() -> None:
    t, _, _ = tracker()
    t.add_individual(MessageId(3, 4, 2))
    assert t.is_duplicate(3, 4, 2)
    assert not t.is_duplicate(3, 5, 2)


def test_chunk_ids_are_all_acked() -> None:
    t, sent, _ = tracker(group_time=0)
    ids = (MessageId(1, 1), MessageId(1, 2), MessageId(1, 3))
    t.add_individual(MessageId(1, 3), chunk_ids=ids)
    assert sorted(sent.calls[0][1]) == [(1, 1, ()), (1, 2, ()), (1, 3, ())]


# --- redelivery trackers -----------------------------------------------------------------------


def test_negative_ack_tracker_releases_in_deadline_order() -> None:
    clock = Clock()
    n = NegativeAckTracker(1.0, clock)
    n.add(MessageId(1, 1))
    clock.now += 0.5
    n.add(MessageId(1, 2))
    n.add(MessageId(1, 1))  # again: moves to the back with a new deadline
    due, nxt = n.take_due(clock.now + 0.6)
    assert due == [] and nxt == pytest.approx(clock.now + 1.0)
    due, nxt = n.take_due(clock.now + 1.0)
    assert due == [MessageId(1, 2), MessageId(1, 1)] and nxt == float("inf")


def test_unacked_tracker_cumulative_removal() -> None:
    clock = Clock()
    u = UnackedMessageTracker(10.0, clock)
    for e in range(5):
        u.add(MessageId(1, e))
    u.remove_up_to(MessageId(1, 2))
    u.remove(MessageId(1, 4))
    assert len(u) == 1 and MessageId(1, 3) in u


# --- chunks ------------------------------------------------------------------------------------


def chunk_md(uuid: str, chunk_id: int, num: int, total: int) -> MessageMetadata:
    return MessageMetadata(
        producer_name="p",
        sequence_id=1,
        publish_time=1,
        uuid=uuid,
        chunk_id=chunk_id,
        num_chunks_from_msg=num,
        total_chunk_msg_size=total,
    )


def test_chunks_reassemble_interleaved() -> None:
    a = ChunkAssembler()
    data_a, data_b = b"aaaaBBBBcc", b"xxyy"
    assert a.add(chunk_md("A", 0, 3, 10), MessageId(1, 1), data_a[:4]).payload is None
    assert a.add(chunk_md("B", 0, 2, 4), MessageId(1, 2), data_b[:2]).payload is None
    assert a.add(chunk_md("A", 1, 3, 10), MessageId(1, 3), data_a[4:8]).payload is None
    rb = a.add(chunk_md("B", 1, 2, 4), MessageId(1, 4), data_b[2:])
    assert bytes(rb.payload or b"") == data_b
    assert rb.chunk_ids == (MessageId(1, 2), MessageId(1, 4))
    ra = a.add(chunk_md("A", 2, 3, 10), MessageId(1, 5), data_a[8:])
    assert bytes(ra.payload or b"") == data_a
    assert len(a) == 0


def test_chunk_pending_bound_drops_the_oldest() -> None:
    a = ChunkAssembler(max_pending=2)
    a.add(chunk_md("A", 0, 2, 2), MessageId(1, 1), b"a")
    a.add(chunk_md("B", 0, 2, 2), MessageId(1, 2), b"b")
    r = a.add(chunk_md("C", 0, 2, 2), MessageId(1, 3), b"c")
    assert r.to_redeliver == [MessageId(1, 1)] and r.to_ack == []
    assert len(a) == 2 and a.dropped == 1
    # The rest of A now has no start: it is dropped, not glued to anything.
    r = a.add(chunk_md("A", 1, 2, 2), MessageId(1, 4), b"a")
    assert r.payload is None and r.to_redeliver == [MessageId(1, 4)]
    auto = ChunkAssembler(max_pending=1, auto_ack_oldest=True)
    auto.add(chunk_md("A", 0, 2, 2), MessageId(1, 1), b"a")
    assert auto.add(chunk_md("B", 0, 2, 2), MessageId(1, 2), b"b").to_ack == [MessageId(1, 1)]


def test_chunk_expiry_and_bad_sizes() -> None:
    clock = Clock()
    a = ChunkAssembler(expire_after=5.0, clock=clock, max_total_size=100)
    a.add(chunk_md("A", 0, 3, 6), MessageId(1, 1), b"ab")
    assert a.next_expiry() == pytest.approx(clock.now + 5)
    assert a.expire(clock.now + 4.9) == []
    assert a.expire(clock.now + 5.0) == [MessageId(1, 1)]
    assert a.add(chunk_md("X", 0, 2, 1000), MessageId(1, 2), b"x").to_ack == [MessageId(1, 2)]
    a.add(chunk_md("Y", 0, 2, 3), MessageId(1, 3), b"ab")
    r = a.add(chunk_md("Y", 1, 2, 3), MessageId(1, 4), b"cd")  # 4 bytes, declared 3
    assert r.payload is None and r.to_ack == [MessageId(1, 3), MessageId(1, 4)]


def test_duplicate_chunk_is_ignored() -> None:
    a = ChunkAssembler()
    a.add(chunk_md("A", 0, 3, 3), MessageId(1, 1), b"a")
    a.add(chunk_md("A", 1, 3, 3), MessageId(1, 2), b"b")
    r = a.add(chunk_md("A", 1, 3, 3), MessageId(1, 2), b"b")
    assert r.payload is None and r.to_ack == [] and r.to_redeliver == []
    assert bytes(a.add(chunk_md("A", 2, 3, 3), MessageId(1, 3), b"c").payload or b"") == b"abc"


# --- message -------------------------------------------------------------------------------------


def test_message_accessors_prefer_the_single_message_metadata() -> None:
    md = MessageMetadata(
        producer_name="p",
        sequence_id=10,
        publish_time=1234,
        properties=key_values({"outer": "1"}),
        partition_key="outer",
    )
    smd = SingleMessageMetadata(
        properties=key_values({"a": "b"}),
        partition_key="k",
        payload_size=3,
        event_time=55,
        ordering_key=b"ok",
    )
    m = Message(memoryview(b"xyz"), md, smd, MessageId(1, 2, 0, 1, 2), 3, "t-partition-0")
    assert (m.data(), m.properties(), m.partition_key(), m.ordering_key()) == (
        b"xyz",
        {"a": "b"},
        "k",
        "ok",
    )
    assert (m.publish_timestamp(), m.event_timestamp(), m.redelivery_count()) == (1234, 55, 3)
    assert m.topic_name() == "t-partition-0" and m.sequence_id() == 11 and len(m) == 3
    plain = Message(b"x", md, None, MessageId(1, 3), 0, "t")
    assert (plain.partition_key(), plain.event_timestamp(), plain.ordering_key()) == (
        "outer",
        0,
        "",
    )


# --- settings -----------------------------------------------------------------------------------


def conf(**kw) -> ConsumerConfig:  # type: ignore[no-untyped-def]
    kw.setdefault("subscription_name", "s")
    kw.setdefault("topics", ("t",))
    return ConsumerConfig(**kw)


def test_config_normalises_names_and_enums() -> None:
    c = conf(consumer_type="key_shared", initial_position="EARLIEST")
    assert c.consumer_type is ConsumerType.KeyShared
    assert c.initial_position is InitialPosition.Earliest
    assert c.topics == ("persistent://public/default/t",)
    assert conf(consumer_type=ConsumerType.Failover).consumer_type is ConsumerType.Failover


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"consumer_type": "round_robin"}, "consumer_type"),
        ({"initial_position": "middle"}, "initial_position"),
        ({"receiver_queue_size": -1}, "receiver_queue_size"),
        ({"unacked_messages_timeout_ms": 50}, "unacked_messages_timeout_ms"),
        ({"subscription_name": ""}, "subscription_name"),
        ({"priority_level": -1}, "priority_level"),
        ({"message_listener": 3}, "message_listener"),
        ({"key_shared_policy": ConsumerKeySharedPolicy()}, "key_shared_policy"),
        ({"dead_letter_policy": {"max_redeliver_count": 3}}, "dead_letter_policy"),
        ({"ack_grouping_time_ms": -1}, "ack_grouping_time_ms"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(kw: dict, field: str) -> None:
    with pytest.raises(InvalidConfiguration, match=f"^{field}"):
        conf(**kw)


def test_policies_validate() -> None:
    assert ConsumerDeadLetterPolicy(3).dead_letter_topic == ""  # unset, as the official client
    assert ConsumerDeadLetterPolicy(3).initial_subscription_name == ""
    assert ConsumerDeadLetterPolicy(3, "dlq").dead_letter_topic == "persistent://public/default/dlq"
    with pytest.raises(InvalidConfiguration, match="max_redeliver_count"):
        ConsumerDeadLetterPolicy(0)
    sticky = ConsumerKeySharedPolicy("sticky", sticky_ranges=[(100, 200), (0, 10)])
    assert sticky.key_shared_mode is KeySharedMode.Sticky
    assert sticky.sticky_ranges == [(0, 10), (100, 200)]  # a list of pairs, as the official
    assert hash(sticky) == hash(
        ConsumerKeySharedPolicy("sticky", sticky_ranges=[(0, 10), (100, 200)])
    )
    with pytest.raises(InvalidConfiguration, match="overlaps"):
        ConsumerKeySharedPolicy("sticky", sticky_ranges=[(0, 10), (5, 20)])
    with pytest.raises(InvalidConfiguration, match="sticky_ranges"):
        ConsumerKeySharedPolicy("sticky")
    with pytest.raises(InvalidConfiguration, match="end"):
        ConsumerKeySharedPolicy("sticky", sticky_ranges=[(0, 70000)])
    with pytest.raises(InvalidConfiguration, match="batch_receive_policy"):
        ConsumerBatchReceivePolicy(max_num_message=0)


def test_topic_patterns() -> None:
    p = TopicPattern.parse(re.compile("persistent://public/default/orders-.*"))
    assert p.namespace == "public/default"
    assert p.matches("persistent://public/default/orders-eu")
    assert not p.matches("persistent://public/default/other")
    assert not p.matches("persistent://public/other/orders-eu")
    bare = TopicPattern.parse("x[0-9]+")
    assert bare.matches("persistent://public/default/x12") and not bare.matches(
        "persistent://public/default/x12y"
    )
    assert TopicPattern.parse("tenant/ns/a|b").matches("persistent://tenant/ns/b")
    # The domain never filters (regex_subscription_mode does), as in the official clients.
    assert bare.matches("non-persistent://public/default/x1")
    assert p.matches("non-persistent://public/default/orders-us")
    with pytest.raises(InvalidConfiguration, match="bad regex"):
        TopicPattern.parse("persistent://public/default/(unclosed")
    with pytest.raises(InvalidConfiguration, match="pattern"):
        TopicPattern.parse("a/b")


def test_seek_targets_parse_or_fail_clearly() -> None:
    assert parse_seek_target("earliest") == EARLIEST
    assert parse_seek_target("Latest") == LATEST
    assert parse_seek_target("12:34") == MessageId(12, 34)
    assert parse_seek_target("12:34:2") == MessageId(12, 34, 2)
    assert parse_seek_target("1700000000000") == 1_700_000_000_000
    assert parse_seek_target(5) == 5
    mid = MessageId(1, 2)
    assert parse_seek_target(mid) is mid
    for bad in ("yesterday", "1:x", "", "-1:2", "1:2:3:4:5", -5, 1.5, True, None):
        with pytest.raises(InvalidConfiguration, match="^seek"):
            parse_seek_target(bad)


def test_subscribe_rejects_bad_input_before_any_network() -> None:
    # Nothing listens on port 1: reaching the network would fail with ConnectError instead.
    client = Client("pulsar://127.0.0.1:1", connection_timeout_ms=200)
    try:
        with pytest.raises(InvalidConfiguration, match="consumer_type"):
            client.subscribe("t", "s", consumer_type="fifo")
        with pytest.raises(InvalidConfiguration, match="pattern"):
            client.subscribe(re.compile("a/b"), "s")
        with pytest.raises(InvalidConfiguration, match="start_message_id"):
            client.create_reader("t", 42)
        with pytest.raises(InvalidConfiguration, match="schema"):
            client.subscribe("t", "s", schema=object())
    finally:
        client.close()


def test_engine_rejects_a_bad_regex_before_any_network() -> None:
    from pulsarload.config import ConsumeSettings
    from pulsarload.engines.native_consumer import NativeConsumer, create_native_consumer
    from pulsarload.errors import ConfigError

    client = Client("pulsar://127.0.0.1:1", connection_timeout_ms=200)
    settings = ConsumeSettings(service_url="pulsar://127.0.0.1:1", pattern="orders-[0-9")
    with pytest.raises(ConfigError, match="pattern: bad regex"):
        create_native_consumer(client, settings, None, None)
    engine = NativeConsumer(client, consumer=None)
    with pytest.raises(ConfigError, match="^seek"):
        engine.seek("half past nine")
