"""The consumer against the scriptable fake broker: FLOW accounting, batch split with ack_set,
codecs, corrupt frames, ack grouping, negative acks, ack timeout, chunks, seek, reconnect,
listener threads and readers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from pulsarload.client import Client, ConsumerType, CumulativeAckNotAllowed, InvalidConfiguration
from pulsarload.client.consumer import Consumer
from pulsarload.client.errors import AlreadyClosed, Timeout
from pulsarload.wire.compression import AVAILABLE
from pulsarload.wire.enums import AckType, SubType, ValidationError
from pulsarload.wire.message_id import EARLIEST, MessageId, make_ack_set
from pulsarload.wire.messages import MessageIdData
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


def subscribe(client: Client, **kw) -> Consumer:  # type: ignore[no-untyped-def]
    kw.setdefault("receiver_queue_size", 10)
    c = client.subscribe("t", "sub", **kw)
    assert isinstance(c, Consumer)
    return c


def test_subscribe_sends_the_settings_and_initial_flow(client: Client, script: ConsumerScript):
    c = subscribe(
        client,
        consumer_type="key_shared",
        initial_position="earliest",
        consumer_name="me",
        priority_level=3,
        properties={"a": "b"},
    )
    cmd = script.sub.cmd
    assert cmd.topic == "persistent://public/default/t" and cmd.subscription == "sub"
    assert cmd.subType == SubType.Key_Shared and cmd.consumer_name == "me"
    assert cmd.priority_level == 3 and int(cmd.initialPosition) == 1
    assert cmd.keySharedMeta is not None and cmd.durable is None
    assert [(kv.key, kv.value) for kv in cmd.metadata] == [("a", "b")]
    eventually(lambda: script.permits() == [10])
    assert c.consumer_name() == "me" and c.is_connected()


def test_flow_refills_at_half_the_queue_counting_batch_messages(
    client: Client, script: ConsumerScript
):
    c = subscribe(client, receiver_queue_size=10)
    eventually(lambda: script.permits() == [10])
    script.push(1, [b"a", b"b", b"c", b"d"])  # one entry, four permits
    script.push(2, b"single")
    got = [c.receive(2000) for _ in range(4)]
    assert [m.data() for m in got] == [b"a", b"b", b"c", b"d"]
    assert script.permits() == [10]  # 4 taken: below the threshold of 5
    c.receive(2000)
    eventually(lambda: script.permits() == [10, 5])
    assert c.num_messages_in_queue() == 0


def test_batch_split_skips_indexes_the_broker_marks_acked(client: Client, script: ConsumerScript):
    c = subscribe(client)
    eventually(lambda: script.permits() == [10])
    # Redelivery of a 5-message batch where indexes 1 and 3 were acked before.
    script.push(4, [b"m0", b"m1", b"m2", b"m3", b"m4"], ack_set=make_ack_set(5, {1, 3}))
    got = [c.receive(2000) for _ in range(3)]
    assert [m.data() for m in got] == [b"m0", b"m2", b"m4"]
    assert [m.message_id().batch_index for m in got] == [0, 2, 4]
    assert got[1].properties() == {"i": "2"} and got[1].partition_key() == "k2"
    assert got[1].event_timestamp() == 1002
    with pytest.raises(Timeout):
        c.receive(100)
    for m in got[:2]:
        c.acknowledge(m)
    c._acks.flush()
    assert script.acks == []  # the entry is not finished
    c.acknowledge(got[2])
    c._acks.flush()
    eventually(lambda: script.acked() == [(0, 1, 4, (), ())])


@pytest.mark.parametrize("codec", AVAILABLE)
def test_every_codec_batched_and_not(client: Client, script: ConsumerScript, codec):
    c = subscribe(client)
    eventually(lambda: script.permits() == [10])
    body = b"compress me " * 50
    script.push(1, body, compression=codec, properties={"x": "y"}, key="kk")
    script.push(2, [body, body[::-1]], compression=codec)
    one = c.receive(2000)
    assert (one.data(), one.properties(), one.partition_key()) == (body, {"x": "y"}, "kk")
    assert [c.receive(2000).data() for _ in range(2)] == [body, body[::-1]]


def test_corrupt_frame_is_acked_with_a_validation_error_and_skipped(
    client: Client, script: ConsumerScript
):
    c = subscribe(client, receiver_queue_size=2)
    eventually(lambda: script.permits() == [2])
    script.push(1, b"broken", corrupt=True)
    script.push(2, b"fine")
    assert c.receive(2000).data() == b"fine"
    eventually(lambda: len(script.acks) == 1)
    ack = script.acks[0]
    assert ack.validation_error == ValidationError.ChecksumMismatch
    assert ack.message_id[0].entryId == 1
    assert c.corrupt_messages == 1
    eventually(lambda: sum(script.permits()) == 4)  # the corrupt one's permit came back too


def test_grouped_acks_go_out_as_one_command(client: Client, script: ConsumerScript):
    c = subscribe(client, ack_grouping_time_ms=300)
    eventually(lambda: script.permits() == [10])
    for e in range(6):
        script.push(e, f"m{e}".encode())
    msgs = [c.receive(2000) for _ in range(6)]
    for m in msgs:
        c.acknowledge(m)
    eventually(lambda: len(script.acks) == 1)
    time.sleep(0.1)  # a chance for a second ACK command to show up (there must be none)
    assert len(script.acks) == 1
    assert sorted(m.entryId for m in script.acks[0].message_id) == list(range(6))


def test_cumulative_ack_and_its_refusal_on_shared(
    client: Client, script: ConsumerScript, make_client
):
    c = subscribe(client, ack_grouping_time_ms=0)
    eventually(lambda: script.permits() == [10])
    for e in range(3):
        script.push(e, b"x")
    msgs = [c.receive(2000) for _ in range(3)]
    c.acknowledge_cumulative(msgs[2])
    eventually(lambda: script.acked() == [(int(AckType.Cumulative), 1, 2, (), ())])
    shared = subscribe(client, consumer_type=ConsumerType.Shared)
    with pytest.raises(CumulativeAckNotAllowed):
        shared.acknowledge_cumulative(msgs[0])


def test_negative_ack_redelivers_ids_after_the_delay_on_shared(
    client: Client, script: ConsumerScript
):
    c = subscribe(client, consumer_type="shared", negative_ack_redelivery_delay_ms=200)
    eventually(lambda: script.permits() == [10])
    script.push(7, [b"a", b"b"])
    m = c.receive(2000)
    t0 = time.monotonic()
    c.negative_acknowledge(m)
    eventually(lambda: len(script.redelivers) == 1)
    assert time.monotonic() - t0 >= 0.15
    ids = script.redelivers[0].message_ids
    assert [(i.ledgerId, i.entryId, i.batch_index) for i in ids] == [(1, 7, None)]


def test_negative_ack_on_exclusive_redelivers_everything_with_a_new_epoch(
    client: Client, script: ConsumerScript
):
    c = subscribe(client, negative_ack_redelivery_delay_ms=0)
    eventually(lambda: script.permits() == [10])
    script.push(1, b"first")
    script.push(2, b"second")
    m = c.receive(2000)
    eventually(lambda: c.num_messages_in_queue() == 1)
    c.negative_acknowledge(m)
    eventually(lambda: len(script.redelivers) == 1)
    r = script.redelivers[0]
    assert r.message_ids == () and r.consumer_epoch == 1
    assert c.num_messages_in_queue() == 0  # "second" was dropped: it comes again
    script.push(2, b"stale", consumer_epoch=0)  # sent before the redeliver: dropped
    script.push(1, b"first", consumer_epoch=1)
    assert c.receive(2000).data() == b"first"


def test_ack_timeout_redelivers_unacked_messages(client: Client, script: ConsumerScript):
    c = subscribe(client, consumer_type="shared", unacked_messages_timeout_ms=1000)
    eventually(lambda: script.permits() == [10])
    script.push(1, b"kept")
    script.push(2, b"forgotten")
    c.acknowledge(c.receive(2000))
    c.receive(2000)
    eventually(lambda: len(script.redelivers) == 1, timeout=4)
    assert [i.entryId for i in script.redelivers[0].message_ids] == [2]


def test_dead_letter_candidates_are_published_then_acked(
    client: Client, script: ConsumerScript, fake: FakeBroker
):
    from pulsarload.client import ConsumerDeadLetterPolicy

    c = subscribe(
        client,
        consumer_type="shared",
        negative_ack_redelivery_delay_ms=0,
        dead_letter_policy=ConsumerDeadLetterPolicy(2),
        ack_grouping_time_ms=0,
    )
    eventually(lambda: script.permits() == [10])
    script.push(5, b"poison", redelivery_count=2, properties={"p": "1"})
    c.negative_acknowledge(c.receive(2000))
    eventually(lambda: len(fake.received) == 1)
    sent = fake.received[0]
    assert sent.payload == b"poison"
    props = {kv.key: kv.value for kv in sent.metadata.properties}
    assert props["p"] == "1" and props["REAL_TOPIC"] == "persistent://public/default/t"
    assert props["ORIGIN_MESSAGE_ID"] == "(1,5,-1,-1)"  # the official client's spelling
    eventually(lambda: (0, 1, 5, (), ()) in script.acked())
    assert script.redelivers == []


def test_chunked_message_is_reassembled_and_every_chunk_acked(
    client: Client, script: ConsumerScript
):
    c = subscribe(client, ack_grouping_time_ms=0, receiver_queue_size=4)
    eventually(lambda: script.permits() == [4])
    data = bytes(range(256)) * 40
    pieces = [data[i : i + 3000] for i in range(0, len(data), 3000)]
    for i, piece in enumerate(pieces):
        script.push(
            10 + i,
            piece,
            metadata={
                "uuid": "p-1",
                "chunk_id": i,
                "num_chunks_from_msg": len(pieces),
                "total_chunk_msg_size": len(data),
            },
        )
    m = c.receive(2000)
    assert m.data() == data and m.is_chunked()
    assert m.message_id() == MessageId(1, 10 + len(pieces) - 1)
    c.acknowledge(m)
    eventually(lambda: sorted(e for _, _, e, _, _ in script.acked()) == [10, 11, 12, 13])
    # 3 non-final chunks returned their permits at once: 3 >= 2 sends a FLOW.
    eventually(lambda: sum(script.permits()) >= 4 + 3)


def test_receive_timeout_listener_conflict_and_close(client: Client, script: ConsumerScript):
    c = subscribe(client)
    with pytest.raises(Timeout):
        c.receive(50)
    with pytest.raises(InvalidConfiguration, match="timeout_millis"):
        c.receive(-1)
    c.close()
    eventually(lambda: len(script.closes) == 1)
    with pytest.raises(AlreadyClosed):
        c.receive(10)
    with pytest.raises(AlreadyClosed):
        c.acknowledge(MessageId(1, 1))
    lc = client.subscribe("t2", "sub", message_listener=lambda cons, msg: None)
    with pytest.raises(InvalidConfiguration, match="message_listener"):
        lc.receive(10)
    lc.close()


def test_listener_runs_on_one_dedicated_thread(client: Client, script: ConsumerScript):
    seen: list[tuple[bytes, str]] = []
    done = threading.Event()

    def listener(consumer, msg) -> None:  # type: ignore[no-untyped-def]
        seen.append((msg.data(), threading.current_thread().name))
        consumer.acknowledge(msg)
        if len(seen) == 5:
            done.set()

    subscribe(client, message_listener=listener)
    eventually(lambda: script.permits() == [10])
    script.push(1, [b"1", b"2", b"3"])
    script.push(2, [b"4", b"5"])
    assert done.wait(5)
    assert [d for d, _ in seen] == [b"1", b"2", b"3", b"4", b"5"]
    names = {n for _, n in seen}
    assert len(names) == 1 and names.pop().startswith("pulsar-listener-")


def test_batch_receive_policy(client: Client, script: ConsumerScript):
    from pulsarload.client import ConsumerBatchReceivePolicy

    c = subscribe(client, batch_receive_policy=ConsumerBatchReceivePolicy(3, -1, 200))
    eventually(lambda: script.permits() == [10])
    assert c.batch_receive() == []
    script.push(1, [b"a", b"b", b"c", b"d"])
    eventually(lambda: c.num_messages_in_queue() == 4)
    assert [m.data() for m in c.batch_receive()] == [b"a", b"b", b"c"]
    assert [m.data() for m in c.batch_receive()] == [b"d"]


def test_reconnect_after_connection_loss_resubscribes(
    client: Client, script: ConsumerScript, fake: FakeBroker
):
    c = subscribe(client, ack_grouping_time_ms=0)
    eventually(lambda: script.permits() == [10])
    script.push(1, b"before")
    eventually(lambda: c.num_messages_in_queue() == 1)
    first = script.sub
    fake.kill_connections()
    eventually(lambda: len(script.subs) == 2 and c.is_connected())
    second = script.sub
    assert second.cmd.consumer_id == first.cmd.consumer_id
    assert c.num_messages_in_queue() == 0  # the broker sends unacked messages again
    eventually(lambda: script.permits()[-1] == 10)
    script.push(1, b"before")
    m = c.receive(2000)
    assert m.data() == b"before"
    c.acknowledge(m)
    eventually(lambda: (0, 1, 1, (), ()) in script.acked())


def test_seek_clears_the_queue_and_resubscribes(client: Client, script: ConsumerScript):
    c = subscribe(client)
    eventually(lambda: script.permits() == [10])
    script.push(1, b"old1")
    script.push(2, b"old2")
    eventually(lambda: c.num_messages_in_queue() == 2)
    c.seek(MessageId(1, 0))
    assert script.seeks[0].message_id.entryId == 0
    eventually(lambda: len(script.subs) == 2)
    assert c.num_messages_in_queue() == 0
    script.push(0, b"new0")  # the message sought to: a consumer resumes after it
    script.push(1, b"new1")
    assert c.receive(2000).data() == b"new1"
    c.seek(1_700_000_000_000)
    assert script.seeks[1].message_publish_time == 1_700_000_000_000
    with pytest.raises(InvalidConfiguration, match="seek"):
        c.seek("tomorrow")


def test_seek_into_a_batch_skips_earlier_indexes(client: Client, script: ConsumerScript):
    c = subscribe(client, ack_grouping_time_ms=0)
    eventually(lambda: script.permits() == [10])
    c.seek(MessageId(1, 3, -1, 1, 4))  # what follows index 1 comes next
    eventually(lambda: len(script.subs) == 2)
    script.push(3, [b"a", b"b", b"c", b"d"])
    got = [c.receive(2000), c.receive(2000)]
    assert [m.data() for m in got] == [b"c", b"d"]
    for m in got:
        c.acknowledge(m)
    # Indexes 0 and 1 count as consumed: the entry is acked once c and d are.
    eventually(lambda: (0, 1, 3, (), ()) in script.acked())


def test_reader_starts_after_its_id_and_resumes_after_a_reconnect(
    client: Client, script: ConsumerScript, fake: FakeBroker
):
    r = client.create_reader("t", MessageId(1, 5, -1, 1, 3))
    sub = script.sub.cmd
    assert sub.durable is False and sub.subType == SubType.Exclusive
    assert (sub.start_message_id.ledgerId, sub.start_message_id.entryId) == (1, 5)
    script.push(5, [b"x0", b"x1", b"x2"])
    script.push(6, [b"y0", b"y1"])
    assert r.read_next(2000).data() == b"x2"  # non-inclusive: after index 1
    assert r.read_next(2000).data() == b"y0"
    fake.kill_connections()
    eventually(lambda: len(script.subs) == 2)
    resumed = script.sub.cmd.start_message_id
    assert (resumed.entryId, resumed.batch_index) == (6, 0)
    script.push(6, [b"y0", b"y1"])
    assert r.read_next(2000).data() == b"y1"
    script.last_message_id = MessageIdData(ledgerId=1, entryId=6)
    assert not r.has_message_available()
    r.close()
    inclusive = client.create_reader("t", MessageId(1, 8), start_message_id_inclusive=True)
    script.push(8, b"z")
    assert inclusive.read_next(2000).data() == b"z"
    script.last_message_id = MessageIdData(ledgerId=1, entryId=9)
    assert inclusive.has_message_available()
    inclusive.close()


def test_reader_from_earliest_and_end_of_topic(client: Client, script: ConsumerScript):
    r = client.create_reader("t", EARLIEST)
    start = script.sub.cmd.start_message_id
    assert (start.ledgerId, start.entryId) == (-1, -1)
    assert r.has_message_available()
    script.end_of_topic()
    eventually(r.has_reached_end_of_topic)
    r.close()


def test_client_close_closes_consumers(fake: FakeBroker, script: ConsumerScript):
    client = Client(fake.url, operation_timeout_seconds=5)
    c = subscribe(client)
    client.close()
    eventually(lambda: len(script.closes) == 1)
    with pytest.raises(AlreadyClosed):
        c.receive(10)


@pytest.fixture
def partitioned(fake: FakeBroker) -> Iterator[FakeBroker]:
    fake.partitions["persistent://public/default/pt"] = 3
    yield fake


def test_partitioned_topic_gets_one_consumer_per_partition(
    partitioned: FakeBroker, script: ConsumerScript, make_client
):
    client = make_client(partitioned.url)
    c = client.subscribe("pt", "sub", receiver_queue_size=10, ack_grouping_time_ms=0)
    eventually(lambda: len(script.subs) == 3)
    topics = sorted(s.cmd.topic for s in script.subs)
    assert topics == [f"persistent://public/default/pt-partition-{i}" for i in range(3)]
    for sub in list(script.subs):
        script.subs.append(sub)  # push through each partition in turn
        script.push(1, sub.cmd.topic.encode())
    got = sorted(c.receive(2000).topic_name() for _ in range(3))
    assert got == topics
    m = None
    for sub in list(script.subs[:3]):
        script.subs.append(sub)
        script.push(2, b"again")
        m = c.receive(2000)
        c.acknowledge(m)
    assert m is not None and m.message_id().partition in (0, 1, 2)
    eventually(lambda: len(script.acks) == 3)
    with pytest.raises(InvalidConfiguration, match="partition"):
        c.seek(MessageId(1, 1))
    c.close()
