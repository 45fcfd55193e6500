"""Producer behaviour against the fake broker: batching, codecs, chunking, sequence ids,
SEND_ERROR mapping, timeouts, queue limits, reconnect and resend, lookups and partitions."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from pulsarload.client import (
    CompressionType,
    MessageTooBig,
    ProducerQueueIsFull,
    Result,
    TimeoutError,
    TopicTerminated,
)
from pulsarload.client.errors import (
    InvalidTopicName,
    LookupFailed,
    NotAllowedError,
    ProducerBusy,
    TopicNotFound,
)
from pulsarload.wire.batch import MessageShape, parse_batch
from pulsarload.wire.commands import (
    CommandError,
    CommandLookupTopicResponse,
)
from pulsarload.wire.compression import HAVE_LZ4, decompress
from pulsarload.wire.enums import CommandType, LookupType, ServerError
from pulsarload.wire.messages import properties_dict
from support.fake_broker import FakeBroker
from support.waiting import eventually

pytestmark = pytest.mark.timeout(60)


def _messages(fake: FakeBroker) -> list[tuple[bytes, dict, str | None]]:
    """Every message the fake got, unbatched and decompressed: (payload, props, key)."""
    out = []
    for r in fake.received:
        md = r.metadata
        data = r.payload
        if md.compression:
            data = bytes(decompress(md.compression, data, md.uncompressed_size))
        if md.num_messages_in_batch is not None:
            for smm, payload in parse_batch(data, md.num_messages_in_batch):
                out.append((bytes(payload), properties_dict(smm.properties), smm.partition_key))
        else:
            out.append((data, properties_dict(md.properties), md.partition_key))
    return out


def test_send_unbatched_metadata(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer("t", batching_enabled=False, producer_name="named")
    mid = p.send(
        b"hello",
        properties={"a": "1"},
        partition_key="k",
        ordering_key="ok",
        event_timestamp=1234,
    )
    assert (mid.ledger_id, mid.batch_index) == (7, -1)
    r = fake.received[-1]
    md = r.metadata
    assert r.payload == b"hello"
    assert md.producer_name == "named"
    assert properties_dict(md.properties) == {"a": "1"}
    assert md.partition_key == "k" and md.ordering_key == b"ok" and md.event_time == 1234
    assert md.num_messages_in_batch is None
    assert p.producer_name() == "named"
    producer_cmd = next(c for c in fake.commands if type(c).__name__ == "CommandProducer")
    assert producer_cmd.user_provided_producer_name is True


def test_batching_by_count_and_per_message_fields(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer(
        "t", batching_enabled=True, batching_max_messages=3, batching_max_publish_delay_ms=5000
    )
    results = []
    for i in range(6):
        p.send_async(
            f"m{i}".encode(),
            lambda r, m: results.append((r, m)),
            properties={"i": str(i)},
            partition_key=f"k{i}",
        )
    eventually(lambda: len(results) == 6, what="len(results) == 6")
    assert [r.num_messages for r in fake.received] == [3, 3]
    assert [r.sequence_id for r in fake.received] == [0, 3]
    assert [r.highest_sequence_id for r in fake.received] == [2, 5]
    assert _messages(fake) == [(f"m{i}".encode(), {"i": str(i)}, f"k{i}") for i in range(6)]
    ids = [m for _, m in results]
    assert [m.batch_index for m in ids] == [0, 1, 2, 0, 1, 2]
    assert all(r is Result.Ok for r, _ in results)


def test_batching_by_delay(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer(
        "t", batching_enabled=True, batching_max_publish_delay_ms=30
    )
    t0 = time.monotonic()
    p.send(b"alone")
    assert time.monotonic() - t0 < 2
    assert fake.received[-1].metadata.num_messages_in_batch == 1


def test_batching_by_bytes(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer(
        "t",
        batching_enabled=True,
        batching_max_allowed_size_in_bytes=10_000,
        batching_max_publish_delay_ms=5000,
    )
    for _ in range(6):
        p.send_async(b"x" * 4000, None)
    p.flush(5)
    assert [r.num_messages for r in fake.received][:2] == [2, 2]
    assert sum(r.num_messages for r in fake.received) == 6


@pytest.mark.parametrize(
    "codec", ["lz4", "zlib", "zstd", "snappy"] if HAVE_LZ4 else ["zlib", "zstd", "snappy"]
)
@pytest.mark.parametrize("batched", [True, False])
def test_compression(fake: FakeBroker, make_client, codec: str, batched: bool) -> None:
    p = make_client(fake.url).create_producer("t", compression_type=codec, batching_enabled=batched)
    payloads = [bytes([i]) * 500 + b"tail" for i in range(5)]
    for data in payloads:
        p.send_async(data, None, properties={"c": codec})
    p.flush(5)
    md = fake.received[0].metadata
    assert md.compression == CompressionType[codec.upper()].value
    assert [m[0] for m in _messages(fake)] == payloads


def test_bulk_send_batch_and_repeated(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer("t", compression_type="lz4" if HAVE_LZ4 else "zstd")
    acks = []
    first = p.send_batch([b"a" * 100, b"bb" * 70, b"c"], lambda r, m, n: acks.append((r, m, n)))
    second = p.send_repeated(b"z" * 10, 4, lambda r, m, n: acks.append((r, m, n)))
    shape = MessageShape(properties={"k": "v"}, partition_key="key")
    third = p.send_batch([b"s"] * 2, lambda r, m, n: acks.append((r, m, n)), shape=shape)
    p.flush(5)
    assert (first, second, third) == (0, 3, 7)
    assert [(r, n) for r, _, n in acks] == [(Result.Ok, 3), (Result.Ok, 4), (Result.Ok, 2)]
    assert [r.highest_sequence_id for r in fake.received] == [2, 6, 8]
    msgs = _messages(fake)
    assert [m[0] for m in msgs] == [b"a" * 100, b"bb" * 70, b"c"] + [b"z" * 10] * 4 + [b"s"] * 2
    assert msgs[-1][1:] == ({"k": "v"}, "key")


def test_bulk_too_big(make_fake, make_client) -> None:
    fake = make_fake(max_message_size=50_000)
    p = make_client(fake.url).create_producer("t")
    with pytest.raises(MessageTooBig, match="payloads"):
        p.send_batch([b"x" * 1000] * 60)
    assert p.pending_messages == 0
    p.send_batch([b"x" * 1000] * 10)  # the sequence id was not consumed
    p.flush(5)
    assert fake.received[-1].sequence_id == 0


def test_chunking(make_fake, make_client) -> None:
    fake = make_fake(max_message_size=20_000)
    p = make_client(fake.url).create_producer(
        "t", chunking_enabled=True, batching_enabled=False, producer_name="chunky"
    )
    big = bytes(range(256)) * 300  # 76800 bytes
    mid = p.send(big, properties={"p": "1"})
    chunks = fake.received
    assert len(chunks) == 5
    assert all(c.is_chunk for c in chunks)
    assert {c.sequence_id for c in chunks} == {0}
    md = [c.metadata for c in chunks]
    assert [m.chunk_id for m in md] == [0, 1, 2, 3, 4]
    assert {m.uuid for m in md} == {"chunky-0"}
    assert {m.num_chunks_from_msg for m in md} == {5}
    assert {m.total_chunk_msg_size for m in md} == {len(big)}
    assert b"".join(c.payload for c in chunks) == big
    assert properties_dict(md[0].properties) == {"p": "1"}
    assert mid.entry_id == 5  # the last chunk's id
    assert p.pending_messages == 0


def test_chunking_with_batching_is_refused(make_fake, make_client) -> None:
    fake = make_fake(max_message_size=20_000)
    with pytest.raises(ValueError, match="batching_enabled=False"):
        make_client(fake.url).create_producer("t", chunking_enabled=True, batching_enabled=True)
    assert not fake.received


def test_too_big_without_chunking(make_fake, make_client) -> None:
    fake = make_fake(max_message_size=20_000)
    p = make_client(fake.url).create_producer("t", batching_enabled=False)
    with pytest.raises(MessageTooBig, match="chunking_enabled"):
        p.send(b"x" * 30_000)


def test_sequence_ids_initial_and_resumed(make_fake, make_client) -> None:
    fake = make_fake(last_sequence_id=41)
    client = make_client(fake.url)
    p = client.create_producer("t", batching_enabled=False)
    p.send(b"a")
    assert fake.received[-1].sequence_id == 42
    q = client.create_producer("t2", batching_enabled=False, initial_sequence_id=10)
    q.send(b"a")
    assert fake.received[-1].sequence_id == 11
    q.send(b"b", sequence_id=100)
    q.send(b"c")
    assert [r.sequence_id for r in fake.received[-2:]] == [100, 101]
    assert q.last_sequence_id() == 101


def test_deliver_after_is_not_batched(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer("t")
    before = time.time() * 1000
    p.send(b"later", deliver_after=timedelta(seconds=10))
    md = fake.received[-1].metadata
    assert md.num_messages_in_batch is None
    assert before + 9_000 < md.deliver_at_time < before + 12_000
    p.send(b"at", deliver_at=1_900_000_000_000)
    assert fake.received[-1].metadata.deliver_at_time == 1_900_000_000_000


# --- errors ---------------------------------------------------------------------------------


def test_send_error_topic_terminated_is_fatal(fake: FakeBroker, make_client) -> None:
    fake.on(
        CommandType.SEND,
        lambda c, f: fake.send_error(c, f, ServerError.TopicTerminatedError, "terminated") or True,
    )
    p = make_client(fake.url).create_producer("t", batching_enabled=False)
    results = []
    p.send_async(b"x", lambda r, m: results.append((r, m)))
    eventually(lambda: bool(results), what="bool(results)")
    assert results == [(Result.TopicTerminated, None)]
    with pytest.raises(TopicTerminated, match="terminated"):
        p.send(b"y")


def test_send_error_not_retriable_fails_that_message_only(fake: FakeBroker, make_client) -> None:
    state = {"n": 0}

    def first_fails(c, f) -> bool:
        state["n"] += 1
        if state["n"] == 1:
            fake.send_error(c, f, ServerError.NotAllowedError, "not allowed")
            return True
        return False

    fake.on(CommandType.SEND, first_fails)
    p = make_client(fake.url).create_producer("t", batching_enabled=False)
    with pytest.raises(NotAllowedError, match="not allowed"):
        p.send(b"x")
    assert p.send(b"y").entry_id >= 1


def test_send_error_retriable_recreates_and_resends(fake: FakeBroker, make_client) -> None:
    state = {"n": 0}

    def first_fails(c, f) -> bool:
        state["n"] += 1
        if state["n"] == 1:
            fake.record(c, f)
            fake.send_error(c, f, ServerError.PersistenceError, "bookie down")
            return True
        return False

    fake.on(CommandType.SEND, first_fails)
    p = make_client(fake.url).create_producer("t", batching_enabled=False)
    mid = p.send(b"x")
    assert mid.entry_id >= 1
    assert [r.payload for r in fake.received] == [b"x", b"x"]
    producers = [c for c in fake.commands if type(c).__name__ == "CommandProducer"]
    assert len(producers) == 2
    assert producers[1].epoch == 1


def test_create_errors_are_mapped(fake: FakeBroker, make_client) -> None:
    def busy(c, f) -> bool:
        c.send(
            CommandError(
                request_id=f.command.request_id,
                error=ServerError.ProducerBusy,
                message="already connected",
            )
        )
        return True

    fake.on(CommandType.PRODUCER, busy)
    with pytest.raises(ProducerBusy, match="already connected"):
        make_client(fake.url).create_producer("t")


def test_lookup_failure_is_mapped(fake: FakeBroker, make_client) -> None:
    def fail(c, f) -> bool:
        c.send(
            CommandLookupTopicResponse(
                request_id=f.command.request_id,
                response=LookupType.Failed,
                error=ServerError.TopicNotFound,
                message="nope",
            )
        )
        return True

    fake.on(CommandType.LOOKUP, fail)
    with pytest.raises(TopicNotFound, match="nope"):
        make_client(fake.url).create_producer("t")


def test_bad_topic_fails_before_io(fake: FakeBroker, make_client) -> None:
    client = make_client(fake.url)
    with pytest.raises(InvalidTopicName, match="^topic"):
        client.create_producer("a/b")
    with pytest.raises(ValueError, match="^compression_type"):
        client.create_producer("t", compression_type="brotli")
    with pytest.raises(ValueError, match="^batching_max_messages"):
        client.create_producer("t", batching_max_messages=-1)
    assert fake.conns == []


def test_send_timeout(fake: FakeBroker, make_client) -> None:
    fake.on(CommandType.SEND, lambda c, f: True)  # swallow: never acked
    p = make_client(fake.url).create_producer("t", batching_enabled=False, send_timeout_millis=300)
    results = []
    p.send_async(b"a", lambda r, m: results.append(r))
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="timed out"):
        p.send(b"b")
    assert 0.2 < time.monotonic() - t0 < 3
    assert results == [Result.Timeout]
    assert p.pending_messages == 0


def test_queue_full_fails_or_blocks(fake: FakeBroker, make_client) -> None:
    gate = threading.Event()
    held = []

    def hold(c, f) -> bool:
        held.append((c, f))
        return True

    fake.on(CommandType.SEND, hold)
    client = make_client(fake.url, operation_timeout_seconds=0.5)
    p = client.create_producer("t", batching_enabled=False, max_pending_messages=2)
    p.send_async(b"1", None)
    p.send_async(b"2", None)
    with pytest.raises(ProducerQueueIsFull, match="max_pending_messages=2"):
        p.send_async(b"3", None)

    q = client.create_producer(
        "t2", batching_enabled=False, max_pending_messages=1, block_if_queue_full=True
    )
    q.send_async(b"1", None)
    eventually(lambda: len(held) == 3, what="len(held) == 3")
    done = []
    t = threading.Thread(target=lambda: (q.send_async(b"2", None), done.append(1)))
    t.start()
    time.sleep(0.3)  # a chance for the send to return early (it must stay blocked)
    assert not done  # blocked on the full queue
    c, f = held[2]
    fake.receipt(c, f)
    t.join(5)
    assert done == [1]
    gate.set()


def test_flush_and_close_wait_for_receipts(make_fake, make_client) -> None:
    fake = make_fake(receipt_delay=0.05)
    client = make_client(fake.url)
    p = client.create_producer("t", batching_max_publish_delay_ms=10_000)
    results = []
    for _i in range(5):
        p.send_async(b"x", lambda r, m: results.append(r))
    p.close()
    assert results == [Result.Ok] * 5
    with pytest.raises(Exception, match="closed"):
        p.send(b"y")


# --- reconnect ------------------------------------------------------------------------------


def test_reconnect_resends_in_flight_in_order(fake: FakeBroker, make_client) -> None:
    state = {"conn1_sends": 0}

    def swallow_on_first_conn(c, f) -> bool:
        if c.id == 1:
            fake.record(c, f)
            state["conn1_sends"] += 1
            if state["conn1_sends"] == 5:
                threading.Timer(0.05, c.close).start()
            return True
        return False

    fake.on(CommandType.SEND, swallow_on_first_conn)
    p = make_client(fake.url).create_producer("t", batching_enabled=False)
    results = []
    for i in range(5):
        p.send_async(str(i).encode(), lambda r, m, i=i: results.append((i, r)))
    eventually(lambda: len(results) == 5, 10, what="len(results) == 5")
    assert results == [(i, Result.Ok) for i in range(5)]
    later = [r for r in fake.received if r.conn_id != 1]
    assert [r.sequence_id for r in later] == [0, 1, 2, 3, 4]
    assert [r.payload for r in later] == [b"0", b"1", b"2", b"3", b"4"]
    p.send(b"after")
    assert fake.received[-1].sequence_id == 5


def test_reconnect_after_broker_restart(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer("t", batching_enabled=False)
    p.send(b"before")
    fake.stop()
    results = []
    p.send_async(b"during", lambda r, m: results.append(r))
    time.sleep(0.3)  # the fault: the broker stays away while the producer retries
    fake.start()  # same port
    eventually(lambda: results == [Result.Ok], 10, what="results == [Result.Ok]")
    p.send(b"after")
    assert [r.payload for r in fake.received][-2:] == [b"during", b"after"]


def test_broker_close_producer_triggers_reconnect(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer("t", batching_enabled=False)
    p.send(b"1")
    fake.close_producer(fake.conns[0], 1)
    eventually(
        lambda: sum(type(c).__name__ == "CommandProducer" for c in fake.commands) == 2,
        what="a second PRODUCER command",
    )
    p.send(b"2")
    assert fake.received[-1].payload == b"2"


def test_reconnect_gives_up(fake: FakeBroker, make_client) -> None:
    client = make_client(fake.url, reconnect_give_up_seconds=0.5, connection_timeout_ms=300)
    p = client.create_producer("t", batching_enabled=False, send_timeout_millis=0)
    fake.stop()
    results = []
    p.send_async(b"x", lambda r, m: results.append(r))
    eventually(lambda: bool(results), 10, what="bool(results)")
    assert results[0] in (Result.ConnectError, Result.NotConnected)


# --- lookup and partitions ------------------------------------------------------------------


def test_lookup_redirect_with_authoritative_flag(make_fake, make_client) -> None:
    a, b = make_fake(), make_fake()
    lookups = []

    def redirect(c, f) -> bool:
        lookups.append(f.command)
        c.send(
            CommandLookupTopicResponse(
                brokerServiceUrl=b.url,
                response=LookupType.Redirect,
                request_id=f.command.request_id,
                authoritative=True,
            )
        )
        return True

    a.on(CommandType.LOOKUP, redirect)
    b.on(CommandType.LOOKUP, lambda c, f: lookups.append(f.command) or False)
    p = make_client(a.url).create_producer("t", batching_enabled=False)
    p.send(b"x")
    assert b.received and not a.received
    assert [bool(x.authoritative) for x in lookups] == [False, True]


def test_lookup_redirect_loop_gives_up(fake: FakeBroker, make_client) -> None:
    fake.on(
        CommandType.LOOKUP,
        lambda c, f: (
            c.send(
                CommandLookupTopicResponse(
                    brokerServiceUrl=fake.url,
                    response=LookupType.Redirect,
                    request_id=f.command.request_id,
                )
            )
            or True
        ),
    )
    with pytest.raises(LookupFailed, match="redirects"):
        make_client(fake.url, max_lookup_redirects=3).create_producer("t")


def test_proxy_through_service_url(make_fake, make_client) -> None:
    proxy = make_fake()

    def via_proxy(c, f) -> bool:
        c.send(
            CommandLookupTopicResponse(
                brokerServiceUrl="pulsar://broker-7.internal:6650",
                response=LookupType.Connect,
                request_id=f.command.request_id,
                proxy_through_service_url=True,
            )
        )
        return True

    proxy.on(CommandType.LOOKUP, via_proxy)
    p = make_client(proxy.url).create_producer("t", batching_enabled=False)
    p.send(b"x")
    targets = [c.connect.proxy_to_broker_url for c in proxy.conns]
    # host:port, as the official clients send it: a real proxy refuses a whole URL.
    assert "broker-7.internal:6650" in targets
    assert proxy.received[-1].payload == b"x"


def test_partitioned_round_robin_and_keys(make_fake, make_client) -> None:
    fake = make_fake(partitions={"persistent://public/default/pt": 3})
    client = make_client(fake.url)
    assert client.get_topic_partitions("pt") == [
        f"persistent://public/default/pt-partition-{i}" for i in range(3)
    ]
    assert client.get_topic_partitions("plain") == ["persistent://public/default/plain"]
    p = client.create_producer("pt", batching_enabled=False)
    assert len(p.partitions) == 3
    for _ in range(6):
        p.send(b"rr")
    per_producer = {}
    for r in fake.received:
        per_producer[r.producer_id] = per_producer.get(r.producer_id, 0) + 1
    assert sorted(per_producer.values()) == [2, 2, 2]
    fake.received.clear()
    for _ in range(4):
        p.send(b"keyed", partition_key="hello")
    assert len({r.producer_id for r in fake.received}) == 1
    mid = p.send(b"k", partition_key="hello")
    assert mid.partition == (99162322 % 3)
    acks = []
    p.send_batch(
        [b"b"] * 3, lambda r, m, n: acks.append(m), shape=MessageShape(partition_key="hello")
    )
    p.flush(5)
    assert acks[0].partition == 99162322 % 3


def test_custom_router_and_single_partition(make_fake, make_client) -> None:
    fake = make_fake(partitions={"persistent://public/default/pt": 4})
    client = make_client(fake.url)
    p = client.create_producer(
        "pt", batching_enabled=False, message_router=lambda msg, n: int(msg.data()) % n
    )
    assert p.send(b"6").partition == 2
    s = client.create_producer("pt", batching_enabled=False, message_routing_mode="single")
    assert len({s.send(b"x").partition for _ in range(5)}) == 1


def test_connections_per_broker_spread_producers(fake: FakeBroker, make_client) -> None:
    client = make_client(fake.url, connections_per_broker=2)
    a = client.create_producer("a")
    b = client.create_producer("b")
    assert a.connection is not b.connection
    a.send_batch([b"x"] * 10)
    a.flush(5)
    assert client.bytes_out > 10 * 1 and client.bytes_in > 0
    assert sum(c.bytes_out for c in client.connections()) == client.bytes_out


def test_client_close_shares_one_deadline(fake: FakeBroker) -> None:
    from pulsarload.client import Client

    fake.on(CommandType.SEND, lambda c, f: True)  # never acked
    client = Client(fake.url, operation_timeout_seconds=0.6)
    producers = [client.create_producer(f"t{i}", batching_enabled=False) for i in range(4)]
    results = []
    for p in producers:
        p.send_async(b"x", lambda r, m: results.append(r))
    t0 = time.monotonic()
    client.close()
    assert time.monotonic() - t0 < 2.0
    assert results == [Result.AlreadyClosed] * 4


def test_replication_options_follow_the_official_signature(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer("t")
    # Positional order as the official client: ..., sequence_id, replication_clusters,
    # disable_replication, event_timestamp.
    p.send(b"local", None, None, None, None, None, True, 77)
    md = fake.received[-1].metadata
    assert md.replicate_to == ("__local__",)
    assert md.num_messages_in_batch is None and md.event_time == 77
    p.send(b"two", replication_clusters=["east", "west"])
    assert fake.received[-1].metadata.replicate_to == ("east", "west")
    with pytest.raises(ValueError, match="^replication_clusters"):
        p.send(b"x", replication_clusters="east")


def test_flush_returns_after_every_callback_ran(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer("t", batching_max_messages=20)
    results = []

    def slow(r, m) -> None:
        time.sleep(0.002)  # a slow callback: flush must wait for it
        results.append(r)

    for _ in range(3):
        for _ in range(40):
            p.send_async(b"x", slow)
        p.flush(10)
        assert len(results) % 40 == 0
    assert results == [Result.Ok] * 120


def test_a_batch_frame_stays_within_the_byte_limit(fake: FakeBroker, make_client) -> None:
    """`batching_max_allowed_size_in_bytes` bounds the whole SEND frame (FRAME_RESERVE), so the
    128 KiB default never makes a buffer past mimalloc's 128 KiB medium-block limit."""
    limit = 128 * 1024
    p = make_client(fake.url).create_producer(
        "t", batching_enabled=True, batching_max_allowed_size_in_bytes=limit,
        batching_max_messages=1000, batching_max_publish_delay_ms=5000,
    )  # fmt: skip
    # 1017 + 7 bytes of size word and metadata: 128 of them fill the 128 KiB exactly
    size = 1024 - MessageShape().per_message_overhead(1017)
    for i in range(400):
        p.send_async(bytes([i % 251]) * size, None)
    p.flush(5)
    assert sum(r.num_messages for r in fake.received) == 400
    # header words, command and checksum take < 64 bytes besides metadata and payload
    sizes = [len(r.metadata.encode()) + len(r.payload) + 64 for r in fake.received]
    assert max(sizes) <= limit, sizes
    assert max(r.num_messages for r in fake.received) >= 120  # still big batches


def test_default_batch_carries_its_first_messages_keys(fake: FakeBroker, make_client) -> None:
    """As the official clients' batchers: the entry's outer metadata has the first message's
    partition and ordering keys (what the broker dispatches a Key_Shared entry on)."""
    p = make_client(fake.url).create_producer(
        "t", batching_enabled=True, batching_max_messages=3, batching_max_publish_delay_ms=5000
    )
    for i in range(3):
        p.send_async(b"m", None, partition_key=f"k{i}", ordering_key=b"o" if i == 0 else None)
    p.send(b"alone", partition_key="solo")  # a batch of one
    md = [r.metadata for r in fake.received]
    assert [(m.num_messages_in_batch, m.partition_key, m.ordering_key) for m in md] == [
        (3, "k0", b"o"),
        (1, "solo", None),
    ]
    assert [m[2] for m in _messages(fake)] == ["k0", "k1", "k2", "solo"]


def test_key_based_batching_makes_one_batch_per_key(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer(
        "t",
        batching_enabled=True,
        batching_type="KeyBased",
        batching_max_messages=6,
        batching_max_publish_delay_ms=5000,
    )
    results: list[tuple[int, object]] = []
    keys = ["a", "b", None, "a", "b", "a"]
    for i, key in enumerate(keys):
        p.send_async(f"m{i}".encode(), lambda r, m, i=i: results.append((i, m)), partition_key=key)
    eventually(lambda: len(results) == 6, what="len(results) == 6")
    # One entry per key, in the order of their first sequence ids, each carrying its key.
    got = [
        (r.sequence_id, r.num_messages, r.metadata.partition_key, r.highest_sequence_id)
        for r in fake.received
    ]
    assert got == [(0, 3, "a", 5), (1, 2, "b", 4), (2, 1, None, None)]
    by_entry = {}
    for r in fake.received:
        inner = parse_batch(r.payload, r.num_messages)
        by_entry[r.sequence_id] = [(bytes(d), smm.partition_key) for smm, d in inner]
    assert by_entry[0] == [(b"m0", "a"), (b"m3", "a"), (b"m5", "a")]
    assert by_entry[1] == [(b"m1", "b"), (b"m4", "b")]
    ids = dict(results)
    assert [ids[i].batch_index for i in (0, 3, 5)] == [0, 1, 2]
    assert ids[0].entry_id != ids[1].entry_id


def test_key_based_batching_groups_on_the_ordering_key_first(fake: FakeBroker, make_client) -> None:
    p = make_client(fake.url).create_producer(
        "t", batching_enabled=True, batching_type="key_based", batching_max_publish_delay_ms=5000
    )
    p.send_async(b"1", None, partition_key="p1", ordering_key=b"same")
    p.send_async(b"2", None, partition_key="p2", ordering_key=b"same")
    p.send_async(b"3", None, partition_key="p1")
    p.flush(5)
    got = [
        (r.num_messages, r.metadata.ordering_key, r.metadata.partition_key) for r in fake.received
    ]
    assert got == [(2, b"same", "p1"), (1, None, "p1")]


def test_batching_is_off_by_default_as_in_the_official_client(
    fake: FakeBroker, make_client
) -> None:
    p = make_client(fake.url).create_producer("t")
    p.send(b"x", partition_key="k")
    md = fake.received[-1].metadata
    assert md.num_messages_in_batch is None and md.partition_key == "k"


def test_batching_type_is_checked_before_any_io(make_client) -> None:
    client = make_client("pulsar://127.0.0.1:1")
    with pytest.raises(ValueError, match="batching_type"):
        client.create_producer("t", batching_type="by-colour")
