"""The native consumer against the real broker, fed by the native producer.

Codecs and batching through one multi-topic consumer, partitions, every subscription type,
acks (individual, batch, cumulative, grouped), negative acks, ack timeout, dead letters, seek,
readers, pattern discovery, reconnect after a topic unload, end of topic, chunking, the engine.
Topics are fresh per test; each test stays within a few seconds.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pulsarload.client import (
    Client,
    ConsumerDeadLetterPolicy,
    ConsumerKeySharedPolicy,
    InitialPosition,
    Message,
    MessageId,
    Timeout,
)
from pulsarload.client.admin import AdminClient
from pulsarload.wire.compression import AVAILABLE
from pulsarload.wire.hashing import key_shared_slot
from pulsarload.wire.message_id import EARLIEST, LATEST
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

CODECS = [kind.name.lower() for kind in AVAILABLE]  # no "lz4" where lz4 is missing (3.14t)


@pytest.fixture(scope="module")
def client(broker: Any) -> Iterator[Client]:
    c = Client(
        broker.service_url,
        operation_timeout_seconds=30,
        initial_backoff_interval_ms=50,
        max_backoff_interval_ms=1000,
    )
    yield c
    c.close()


@pytest.fixture(scope="module")
def admin(broker: Any) -> Iterator[AdminClient]:
    with AdminClient(broker.admin_url) as a:
        yield a


def produce(
    client: Client, topic: str, n: int, *, keys: bool = True, start: int = 0, **kw: Any
) -> list[MessageId]:
    """n messages `m<i>` (key `k<i % 5>`, property i) through the native producer."""
    kw.setdefault("batching_enabled", True)
    kw.setdefault("batching_max_publish_delay_ms", 20)
    producer = client.create_producer(topic, **kw)
    ids: list[Any] = [None] * n
    for j in range(n):
        i = start + j

        def done(res: Any, mid: Any, j: int = j) -> None:
            ids[j] = mid

        producer.send_async(
            f"m{i}".encode(),
            done,
            properties={"i": str(i)},
            partition_key=f"k{i % 5}" if keys else None,
            event_timestamp=1000 + i,
        )
    producer.flush(30)
    producer.close()
    assert all(ids), "every send acked"
    return ids


def drain(consumer: Any, n: int, timeout: float = 15.0, ack: bool = True) -> list[Message]:
    """Receive n messages (fewer if the timeout passes), acking them unless told not to."""
    out: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            m = consumer.receive(timeout_millis=int(left * 1000) + 1)
        except Timeout:
            break
        out.append(m)
        if ack:
            consumer.acknowledge(m)
    return out


def quiet(consumer: Any, wait_ms: int = 700) -> list[Message]:
    """Whatever else arrives within `wait_ms` (expected: nothing)."""
    extra = []
    try:
        while True:
            extra.append(consumer.receive(timeout_millis=wait_ms))
    except Timeout:
        return extra


def datas(msgs: list[Message]) -> list[bytes]:
    return [m.data() for m in msgs]


def expected(n: int, start: int = 0) -> list[bytes]:
    return [f"m{i}".encode() for i in range(start, start + n)]


# --- payloads: codecs, batching, many topics -----------------------------------------------------


def test_every_codec_batched_and_not_through_one_multi_topic_consumer(
    client: Client, make_topic: Any
) -> None:
    topics = {
        (codec, batched): make_topic(f"c-{codec}-{'b' if batched else 's'}")
        for codec in CODECS
        for batched in (True, False)
    }
    consumer = client.subscribe(
        list(topics.values()), "all", initial_position="earliest", receiver_queue_size=100
    )
    for (codec, batched), topic in topics.items():
        produce(client, topic, 12, compression_type=codec, batching_enabled=batched)
    got = drain(consumer, 12 * len(topics), timeout=30)
    assert len(got) == 12 * len(topics)
    for (_codec, batched), topic in topics.items():
        mine = sorted(
            (m for m in got if m.topic_name() == topic), key=lambda m: int(m.properties()["i"])
        )
        assert datas(mine) == expected(12)
        assert [m.partition_key() for m in mine] == [f"k{i % 5}" for i in range(12)]
        assert [m.event_timestamp() for m in mine] == [1000 + i for i in range(12)]
        assert all(m.publish_timestamp() > 1_600_000_000_000 for m in mine)
        assert any(m.message_id().batch_index >= 0 for m in mine) == batched
    assert quiet(consumer, 300) == []
    consumer.close()


def test_partitioned_topic_one_consumer_per_partition(
    client: Client, admin: AdminClient, make_topic: Any
) -> None:
    topic = make_topic("part")
    admin.create_partitioned_topic(topic, 3)
    consumer = client.subscribe(topic, "s", initial_position="earliest")
    assert len(consumer.consumers) == 3
    produce(client, topic, 30)
    got = drain(consumer, 30)
    assert sorted(datas(got)) == sorted(expected(30))
    parts = {m.topic_name() for m in got}
    assert parts == {f"{topic}-partition-{i}" for i in range(3)}
    for m in got:
        assert m.topic_name().endswith(f"-partition-{m.message_id().partition}")
    # Same key, same partition.
    by_key: dict[str, set[str]] = {}
    for m in got:
        by_key.setdefault(m.partition_key(), set()).add(m.topic_name())
    assert all(len(v) == 1 for v in by_key.values())
    # Seek one partition back to a message it delivered: the one after it comes next.
    in_one = sorted((m for m in got if m.message_id().partition == 1), key=Message.message_id)
    assert len(in_one) >= 2
    consumer.seek(in_one[0].message_id())
    again = drain(consumer, 1, timeout=10)
    assert again and again[0].message_id().entry == in_one[1].message_id().entry
    consumer.close()


# --- subscription types -------------------------------------------------------------------------


def test_shared_two_consumers_split_the_work(client: Client, make_topic: Any) -> None:
    topic = make_topic("shared")
    pair = [
        client.subscribe(topic, "s", consumer_type="shared", receiver_queue_size=5)
        for _ in range(2)
    ]
    produce(client, topic, 60, batching_enabled=False)
    got: list[list[bytes]] = [[], []]
    deadline = time.monotonic() + 15
    while sum(map(len, got)) < 60 and time.monotonic() < deadline:
        for idx, c in enumerate(pair):
            for m in c.batch_receive(timeout_millis=20):
                got[idx].append(m.data())
                c.acknowledge(m)
    assert sorted(got[0] + got[1]) == sorted(expected(60))  # each exactly once
    assert got[0] and got[1]
    assert all(quiet(c, 200) == [] for c in pair)
    for c in pair:
        c.close()


@pytest.mark.parametrize("mode", ["auto_split", "sticky"])
def test_key_shared_a_key_never_reaches_two_consumers(
    client: Client, make_topic: Any, mode: str
) -> None:
    topic = make_topic(f"ks-{mode}")
    policies: list[Any] = [None, None]
    if mode == "sticky":
        policies = [
            ConsumerKeySharedPolicy("sticky", sticky_ranges=[(0, 32767)]),
            ConsumerKeySharedPolicy("sticky", sticky_ranges=[(32768, 65535)]),
        ]
    consumers = [
        client.subscribe(
            topic, "s", consumer_type="key_shared", key_shared_policy=p, receiver_queue_size=20
        )
        for p in policies
    ]
    producer = client.create_producer(topic, batching_enabled=False)
    keys = [f"key-{i}" for i in range(12)]
    for i in range(96):
        producer.send_async(f"{i}".encode(), None, partition_key=keys[i % 12])
    producer.flush(30)
    producer.close()
    seen: list[set[str]] = [set(), set()]
    total = 0
    deadline = time.monotonic() + 15
    while total < 96 and time.monotonic() < deadline:
        for idx, c in enumerate(consumers):
            for m in c.batch_receive(timeout_millis=50):
                seen[idx].add(m.partition_key())
                c.acknowledge(m)
                total += 1
    assert total == 96
    assert not seen[0] & seen[1], "a key reached both consumers"
    if mode == "sticky":
        assert all(key_shared_slot(k) <= 32767 for k in seen[0])
        assert all(key_shared_slot(k) >= 32768 for k in seen[1])
    for c in consumers:
        c.close()


def test_failover_one_active_then_the_other_takes_over(client: Client, make_topic: Any) -> None:
    topic = make_topic("failover")
    pair = [
        client.subscribe(topic, "s", consumer_type="failover", consumer_name=name)
        for name in ("fo-a", "fo-b")
    ]
    eventually(
        lambda: sorted(map(bool, (c.active for c in pair))) == [False, True],
        10,
        "one active consumer and one standby",
    )
    active, standby = sorted(pair, key=lambda c: not c.active)
    assert active.active is True and standby.active is False
    produce(client, topic, 20)
    assert datas(drain(active, 20, timeout=10)) == expected(20)
    assert quiet(standby, 500) == []
    active.close()
    produce(client, topic, 10, start=20)
    assert datas(drain(standby, 10, timeout=15)) == expected(10, 20)
    assert standby.active is True
    standby.close()


def test_exclusive_refuses_a_second_consumer(client: Client, make_topic: Any) -> None:
    from pulsarload.client.errors import ConsumerBusy

    topic = make_topic("excl")
    c = client.subscribe(topic, "s")
    with pytest.raises(ConsumerBusy):
        client.subscribe(topic, "s")
    c.close()


# --- acknowledgements ---------------------------------------------------------------------------


def test_cumulative_ack_batched_and_not(client: Client, make_topic: Any) -> None:
    for batched in (True, False):
        topic = make_topic(f"cum-{batched}")
        produce(client, topic, 10, batching_enabled=batched, batching_max_messages=4)
        c = client.subscribe(topic, "s", initial_position="earliest")
        got = drain(c, 10, ack=False)
        assert datas(got) == expected(10)
        c.acknowledge_cumulative(got[5])
        c.close()
        c = client.subscribe(topic, "s", initial_position="earliest")
        # Batched, m5 sits mid-batch (m4..m7): the entry before it is what got acked.
        want = expected(6, 4) if batched else expected(4, 6)
        assert datas(drain(c, len(want))) == want
        assert quiet(c, 300) == []
        c.close()


def test_batch_messages_are_acked_per_entry(client: Client, make_topic: Any) -> None:
    topic = make_topic("batch-ack")
    produce(client, topic, 5, batching_max_messages=5)
    for batch_index_ack in (True, False):
        c = client.subscribe(
            topic, "s", initial_position="earliest", batch_index_ack_enabled=batch_index_ack
        )
        got = drain(c, 5, ack=False)
        assert len({m.message_id().entry for m in got}) == 1
        c.acknowledge(got[0])
        c.acknowledge(got[3])
        c.close()
    # A partly acked entry comes back whole (this broker keeps no batch-index acks).
    c = client.subscribe(topic, "s", initial_position="earliest")
    got = drain(c, 5, ack=False)
    assert datas(got) == expected(5)
    for m in got:
        c.acknowledge(m)
    c.close()
    c = client.subscribe(topic, "s", initial_position="earliest")
    assert quiet(c, 500) == []
    c.close()


def test_grouped_acks_survive_close_and_nothing_acked_returns(
    client: Client, make_topic: Any
) -> None:
    topic = make_topic("grouped")
    produce(client, topic, 50)
    c = client.subscribe(topic, "s", initial_position="earliest", ack_grouping_time_ms=500)
    got = drain(c, 50)
    assert len(got) == 50
    c.close()  # flushes the pending group
    c = client.subscribe(topic, "s", initial_position="earliest")
    assert quiet(c, 500) == []
    c.close()


def test_negative_ack_redelivers_after_the_delay(client: Client, make_topic: Any) -> None:
    topic = make_topic("nack")
    c = client.subscribe(topic, "s", consumer_type="shared", negative_ack_redelivery_delay_ms=300)
    produce(client, topic, 3, batching_enabled=False)
    got = drain(c, 3, ack=False)
    c.acknowledge(got[0])
    c.acknowledge(got[2])
    t0 = time.monotonic()
    c.negative_acknowledge(got[1])
    again = drain(c, 1, timeout=10)
    assert time.monotonic() - t0 >= 0.25
    assert datas(again) == [b"m1"] and again[0].redelivery_count() == 1
    assert quiet(c, 400) == []
    c.close()


def test_ack_timeout_brings_unacked_messages_back(client: Client, make_topic: Any) -> None:
    topic = make_topic("acktimeout")
    c = client.subscribe(
        topic,
        "s",
        consumer_type="shared",
        unacked_messages_timeout_ms=1000,
        initial_position="earliest",
    )
    produce(client, topic, 2, batching_enabled=False)
    got = drain(c, 2, ack=False)
    c.acknowledge(got[0])
    again = drain(c, 1, timeout=8)
    assert datas(again) == [b"m1"] and again[0].redelivery_count() >= 1
    c.close()


def test_dead_letter_after_max_redeliveries(client: Client, make_topic: Any) -> None:
    topic = make_topic("dlq")
    c = client.subscribe(
        topic,
        "s",
        consumer_type="shared",
        negative_ack_redelivery_delay_ms=100,
        dead_letter_policy=ConsumerDeadLetterPolicy(2, initial_subscription_name="keep"),
    )
    produce(client, topic, 2, batching_enabled=False)
    counts: list[int] = []
    deadline = time.monotonic() + 20
    ok_seen = False
    while time.monotonic() < deadline:
        try:
            m = c.receive(timeout_millis=1500)
        except Timeout:
            break
        if m.data() == b"m0":
            c.acknowledge(m)
            ok_seen = True
            continue
        counts.append(m.redelivery_count())
        c.negative_acknowledge(m)
    assert ok_seen
    assert counts == [0, 1, 2]  # delivered max+1 times, then dead-lettered
    dlq = client.create_reader(f"{topic}-s-DLQ", EARLIEST)
    letters = [dlq.read_next(10000)]
    assert quiet(dlq.consumer, 500) == []
    assert letters[0].data() == b"m1"
    assert letters[0].properties()["REAL_TOPIC"] == topic
    assert letters[0].partition_key() == "k1"
    dlq.close()
    c.close()


# --- seek and readers ---------------------------------------------------------------------------


def test_seek_by_id_time_earliest_latest(client: Client, make_topic: Any) -> None:
    topic = make_topic("seek")
    ids = produce(client, topic, 5, batching_enabled=False)
    time.sleep(0.05)  # distinct publish times, for the seek by time
    later = produce(client, topic, 5, start=5, batching_enabled=False)
    c = client.subscribe(topic, "s", initial_position="earliest")
    got = drain(c, 10)
    assert datas(got) == expected(10)
    c.seek(ids[2])  # the message after it comes next, as with the official client
    assert datas(drain(c, 7)) == expected(7, 3)
    # The first message at or after a publish time.
    t6 = got[6].publish_timestamp()
    c.seek(t6)
    want = [m.data() for m in got if m.publish_timestamp() >= t6]
    assert datas(drain(c, len(want))) == want
    c.seek("earliest")
    assert datas(drain(c, 10)) == expected(10)
    c.seek("latest")
    assert quiet(c, 400) == []
    produce(client, topic, 1, start=10)
    assert datas(drain(c, 1)) == [b"m10"]
    assert c.get_last_message_id().entry_id == later[-1].entry_id + 1
    c.close()


def test_seek_by_time_lands_on_the_first_message_at_or_after(
    client: Client, make_topic: Any
) -> None:
    topic = make_topic("seektime")
    produce(client, topic, 3, batching_enabled=False)
    time.sleep(0.1)  # the stamp falls strictly between the two groups' publish times
    stamp = int(time.time() * 1000)
    time.sleep(0.1)
    produce(client, topic, 3, start=3, batching_enabled=False)
    c = client.subscribe(topic, "s", initial_position="earliest")
    drain(c, 6)
    c.seek(stamp)
    assert datas(drain(c, 3)) == expected(3, 3)
    assert quiet(c, 300) == []
    c.close()


def test_readers_from_earliest_from_an_id_and_inclusive(client: Client, make_topic: Any) -> None:
    topic = make_topic("reader")
    ids = produce(client, topic, 8, batching_enabled=False)
    batch_ids = produce(client, topic, 4, start=8, batching_max_messages=4)
    r = client.create_reader(topic, EARLIEST)
    got = []
    while r.has_message_available():
        got.append(r.read_next(5000))
    assert datas(got) == expected(12)
    r.close()
    r = client.create_reader(topic, ids[3])
    assert datas(drain(r.consumer, 8, ack=False)) == expected(8, 4)
    r.close()
    r = client.create_reader(topic, ids[3], start_message_id_inclusive=True)
    assert r.read_next(5000).data() == b"m3"
    r.close()
    # Inside a batch: after index 1 (non-inclusive) / from index 1 (inclusive).
    mid = batch_ids[1]
    assert mid.batch_index == 1
    r = client.create_reader(topic, mid)
    assert datas(drain(r.consumer, 2, ack=False)) == [b"m10", b"m11"]
    r.close()
    r = client.create_reader(topic, mid, start_message_id_inclusive=True)
    assert r.read_next(5000).data() == b"m9"
    r.close()
    r = client.create_reader(topic, LATEST)
    assert not r.has_message_available()
    r.close()
    r = client.create_reader(topic, LATEST, start_message_id_inclusive=True)
    assert r.read_next(5000).data() == b"m11"
    r.close()


def test_reader_seek_and_end_of_topic(client: Client, admin: AdminClient, make_topic: Any) -> None:
    topic = make_topic("reader-end")
    ids = produce(client, topic, 6, batching_enabled=False)
    r = client.create_reader(topic, EARLIEST)
    assert datas(drain(r.consumer, 6, ack=False)) == expected(6)
    r.seek(ids[3])  # a reader without start_message_id_inclusive resumes after the id
    assert r.read_next(5000).data() == b"m4"
    http = httpx.Client(base_url=admin.base, timeout=30, trust_env=False)
    resp = http.post(f"{admin.topic_path(topic)}/terminate")
    assert resp.status_code in (200, 204), resp.text
    http.close()
    assert r.read_next(5000).data() == b"m5"
    eventually(r.has_reached_end_of_topic, 10, "the end of the terminated topic")
    assert not r.has_message_available()
    r.close()


# --- discovery, reconnect, listener, chunks ----------------------------------------------------


def test_pattern_subscription_picks_up_new_topics(client: Client, make_topic: Any) -> None:
    base = make_topic("pat")
    first = f"{base}-one"
    produce(client, first, 2)
    c = client.subscribe(
        re.compile(f"{base}-.*"),
        "s",
        initial_position="earliest",
        pattern_auto_discovery_period=0.5,
    )
    assert datas(sorted(drain(c, 2), key=lambda m: m.data())) == expected(2)
    second = f"{base}-two"
    produce(client, second, 3, start=2)
    got = drain(c, 3, timeout=15)
    assert sorted(datas(got)) == expected(3, 2)
    assert {m.topic_name() for m in got} == {second}
    assert c.topics() == [first, second] or sorted(c.topics()) == sorted([first, second])
    c.close()


def test_reconnect_after_unload_redelivers_only_unacked(
    client: Client, admin: AdminClient, make_topic: Any
) -> None:
    topic = make_topic("unload")
    produce(client, topic, 10, batching_enabled=False)
    c = client.subscribe(topic, "s", initial_position="earliest", ack_grouping_time_ms=0)
    got = drain(c, 10, ack=False)
    for m in got[:6]:
        c.acknowledge(m)
    http = httpx.Client(base_url=admin.base, timeout=30, trust_env=False)
    resp = http.put(f"{admin.topic_path(topic)}/unload")
    assert resp.status_code in (200, 204), resp.text
    http.close()
    again = drain(c, 4, timeout=20)
    assert datas(again) == expected(4, 6)
    produce(client, topic, 2, start=10)
    assert datas(drain(c, 2, timeout=20)) == expected(2, 10)
    assert c.is_connected()
    c.close()


def test_listener_mode_on_its_own_thread(client: Client, make_topic: Any) -> None:
    topic = make_topic("listener")
    seen: list[tuple[bytes, str]] = []
    done = threading.Event()

    def on_message(consumer: Any, msg: Message) -> None:
        seen.append((msg.data(), threading.current_thread().name))
        consumer.acknowledge(msg)
        if len(seen) == 20:
            done.set()

    c = client.subscribe(topic, "s", message_listener=on_message)
    produce(client, topic, 20)
    assert done.wait(15)
    assert [d for d, _ in seen] == expected(20)
    assert len({n for _, n in seen}) == 1
    c.close()


def test_native_chunked_message_reassembles(client: Client, make_topic: Any) -> None:
    topic = make_topic("chunk")
    c = client.subscribe(topic, "s")
    producer = client.create_producer(topic, chunking_enabled=True, batching_enabled=False)
    big = hashlib.sha256(b"x").digest() * (12 * 1024 * 1024 // 32)
    producer.send(big, properties={"big": "1"})
    producer.send(b"small")
    producer.close()
    m = c.receive(timeout_millis=30000)
    assert m.is_chunked() and len(m.data()) == len(big) and m.data() == big
    assert m.properties() == {"big": "1"}
    c.acknowledge(m)
    assert c.receive(timeout_millis=10000).data() == b"small"
    c.close()


def test_engine_consumer_maps_settings(broker: Any, make_topic: Any) -> None:
    from pulsarload.config import ConsumeSettings
    from pulsarload.engines.native import client_for
    from pulsarload.engines.native_consumer import create_native_consumer

    topic = make_topic("engine")
    settings = ConsumeSettings(
        topic=topic,
        service_url=broker.service_url,
        subscription="eng",
        subscription_type="shared",
        initial_position="earliest",
        receiver_queue_size=50,
        ack="grouped",
        max_redeliveries=3,
    )
    ec = create_native_consumer(client_for(settings), settings, "w0", None)
    producer_client = Client(broker.service_url)
    produce(producer_client, topic, 5)
    producer_client.close()
    first = ec.receive(10000)
    assert first is not None and first.data == b"m0" and first.key == "k0"
    assert first.properties == {"i": "0"} and first.topic == topic
    assert first.message_id.count(":") == 3 and first.event_time_ms == 1000
    ec.acknowledge(first)
    eventually(lambda: ec.queue_fill() >= 4, 10, "4 messages queued")
    assert ec.queue_fill() == 4
    ec.seek("earliest")
    again = [ec.receive(5000) for _ in range(5)]
    assert [m.data for m in again if m] == expected(5)
    assert ec.receive(200) is None
    ec.close()
    with pytest.raises(ValueError, match="seek"):
        ec.seek("noon")
    with pytest.raises(ValueError, match="pattern"):
        create_native_consumer(
            client_for(settings),
            ConsumeSettings(topic=topic, service_url=broker.service_url, pattern="[unclosed"),
            None,
            None,
        )


def test_initial_position_latest_skips_the_past(client: Client, make_topic: Any) -> None:
    topic = make_topic("latest")
    produce(client, topic, 3)
    c = client.subscribe(topic, "s", initial_position=InitialPosition.Latest)
    assert quiet(c, 300) == []
    produce(client, topic, 2, start=3)
    assert datas(drain(c, 2)) == expected(2, 3)
    c.close()
