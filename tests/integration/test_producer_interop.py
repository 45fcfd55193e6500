"""Native producer against the real broker, checked byte for byte by Apache's official client.

Every compression type, batched and not, non-partitioned and partitioned; the bulk fast path;
the other direction (official producer, native raw read of each codec); broker dedup; chunking.
"""

from __future__ import annotations

import hashlib
import itertools
import queue
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from interop import official

from pulsarload.client import Client, MessageId, Result
from pulsarload.client.routing import java_string_hash
from pulsarload.wire.batch import MessageShape, parse_batch
from pulsarload.wire.commands import CommandCloseConsumer, CommandFlow, CommandSubscribe
from pulsarload.wire.compression import AVAILABLE, decompress
from pulsarload.wire.enums import InitialPosition, SubType
from pulsarload.wire.frames import Frame
from pulsarload.wire.messages import properties_dict

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

CODECS = [kind.name.lower() for kind in AVAILABLE]  # no "lz4" where lz4 is missing (3.14t)


@pytest.fixture(scope="module")
def client(broker: Any) -> Iterator[Client]:
    c = Client(broker.service_url, operation_timeout_seconds=30)
    yield c
    c.close()


def admin(broker: Any) -> httpx.Client:
    return httpx.Client(base_url=broker.admin_url, timeout=30, trust_env=False)


def create_partitioned(broker: Any, topic: str, partitions: int) -> None:
    local = topic.removeprefix("persistent://")
    with admin(broker) as http:
        resp = http.put(f"/admin/v2/persistent/{local}/partitions", json=partitions)
        assert resp.status_code in (200, 204), resp.text


def _message(i: int, codec: str) -> dict[str, Any]:
    """Message i of a run: binary and text payloads, some empty, keys and properties."""
    payload = bytes(range(256)) * (i % 3) + f"msg-{i}-".encode() + b"z" * (i * 37 % 500)
    if i == 4:
        payload = b""
    return {
        "data": payload,
        "key": None if i % 6 == 0 else f"key-{i % 5}",
        "properties": {"i": str(i), "codec": codec, "unicode": "ünïcødé ✓"},
        "event_timestamp": 1_700_000_000_000 + i if i % 2 else 0,
    }


def _view(msgs: list[dict[str, Any]]) -> list[tuple]:
    return sorted(
        (m["data"], m["key"], tuple(sorted(m["properties"].items())), m["event_timestamp"])
        for m in msgs
    )


@pytest.mark.parametrize("partitions", [0, 3], ids=["plain", "partitioned"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "single"])
@pytest.mark.parametrize("codec", CODECS)
def test_native_produce_official_consume(
    broker: Any, client: Client, make_topic: Any, codec: str, batched: bool, partitions: int
) -> None:
    official.require_official()
    topic = make_topic(f"np-{codec}")
    if partitions:
        create_partitioned(broker, topic, partitions)
    producer = client.create_producer(
        topic, compression_type=codec, batching_enabled=batched, batching_max_messages=7
    )
    sent = [_message(i, codec) for i in range(24)]
    results: list[tuple[Result, MessageId | None]] = []
    for m in sent:
        producer.send_async(
            m["data"],
            lambda r, mid: results.append((r, mid)),
            properties=m["properties"],
            partition_key=m["key"],
            event_timestamp=m["event_timestamp"] or None,
        )
    producer.flush(30)
    assert [r for r, _ in results] == [Result.Ok] * len(sent)
    got = official.consume(broker.service_url, topic, len(sent), timeout=60)
    assert _view(got) == _view(sent)
    if partitions:
        # Keyed messages are where JavaStringHash puts them; keyless ones spread out.
        for m in got:
            if m["key"]:
                index = (java_string_hash(m["key"]) & 0x7FFFFFFF) % partitions
                assert m["topic"].endswith(f"-partition-{index}"), m
        assert len({m["topic"] for m in got if not m["key"]}) > 1
    producer.close()


@pytest.mark.parametrize("codec", CODECS)
def test_bulk_fast_path_official_consume(
    broker: Any, client: Client, make_topic: Any, codec: str
) -> None:
    official.require_official()
    topic = make_topic(f"bulk-{codec}")
    producer = client.create_producer(topic, compression_type=codec)
    acks: list[tuple[Result, int]] = []
    payloads = [bytes([i % 256]) * 1024 for i in range(100)]
    producer.send_batch(payloads[:60], lambda r, mid, n: acks.append((r, n)))
    producer.send_batch(payloads[60:], lambda r, mid, n: acks.append((r, n)))
    producer.send_repeated(b"R" * 100, 5, lambda r, mid, n: acks.append((r, n)))
    shape = MessageShape(properties={"shape": "yes"}, partition_key="shaped")
    producer.send_batch([b"s1", b"s2"], lambda r, mid, n: acks.append((r, n)), shape=shape)
    producer.flush(30)
    assert acks == [(Result.Ok, 60), (Result.Ok, 40), (Result.Ok, 5), (Result.Ok, 2)]
    got = official.consume(broker.service_url, topic, 107)
    assert [m["data"] for m in got] == payloads + [b"R" * 100] * 5 + [b"s1", b"s2"]
    assert got[-1]["properties"] == {"shape": "yes"} and got[-1]["key"] == "shaped"
    producer.close()


# --- the other direction: official producer, native read ---------------------------------


class _RawConsumer:
    """The smallest consumer: SUBSCRIBE + FLOW on a native Connection, MESSAGE frames queued."""

    def __init__(self) -> None:
        self.frames: queue.Queue[Frame] = queue.Queue()

    def handle_frame(self, frame: Frame) -> None:
        self.frames.put(frame)

    def connection_closed(self, connection: Any) -> None:
        pass


_CONSUMER_IDS = itertools.count(1 << 40)


def raw_read(client: Client, topic: str, count: int, timeout: float = 30) -> list[dict]:
    where = client._lookup.lookup(topic)
    conn = client._pool.get(where.logical, where.physical)
    consumer = _RawConsumer()
    consumer_id = next(_CONSUMER_IDS)
    conn.register_consumer(consumer_id, consumer)
    try:
        conn.request(
            lambda rid: CommandSubscribe(
                topic=topic,
                subscription=f"raw-{uuid.uuid4().hex[:8]}",
                subType=SubType.Exclusive,
                consumer_id=consumer_id,
                request_id=rid,
                initialPosition=InitialPosition.Earliest,
            ),
            f"SUBSCRIBE {topic}",
        )
        conn.send_command(CommandFlow(consumer_id=consumer_id, messagePermits=1000))
        out: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            frame = consumer.frames.get(timeout=max(0.01, deadline - time.monotonic()))
            assert frame.error is None, frame.error
            md = frame.metadata
            data = bytes(frame.payload)
            if md.compression:
                data = bytes(decompress(md.compression, data, md.uncompressed_size))
            if md.num_messages_in_batch is not None:
                for smm, payload in parse_batch(data, md.num_messages_in_batch):
                    out.append(
                        {
                            "data": bytes(payload),
                            "key": smm.partition_key,
                            "properties": properties_dict(smm.properties),
                            "compression": md.compression,
                        }
                    )
            else:
                out.append(
                    {
                        "data": data,
                        "key": md.partition_key,
                        "properties": properties_dict(md.properties),
                        "compression": md.compression,
                    }
                )
        return out
    finally:
        conn.unregister_consumer(consumer_id, consumer)
        conn.request(
            lambda rid: CommandCloseConsumer(consumer_id=consumer_id, request_id=rid),
            f"CLOSE_CONSUMER {topic}",
        )


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "single"])
@pytest.mark.parametrize("codec", CODECS)
def test_official_produce_native_read(
    broker: Any, client: Client, make_topic: Any, codec: str, batched: bool
) -> None:
    topic = make_topic(f"op-{codec}")
    n = 12
    ids = official.produce(broker.service_url, topic, n, codec, batched)
    assert len(ids) == n
    got = raw_read(client, topic, n)
    assert [m["data"] for m in got] == [official.expected_official_payload(i) for i in range(n)]
    assert [m["key"] for m in got] == [f"k{i}" for i in range(n)]
    assert [m["properties"] for m in got] == [{"i": str(i)} for i in range(n)]
    wanted = CODECS.index(codec)
    assert {int(m["compression"] or 0) for m in got} == {wanted}


# --- dedup ----------------------------------------------------------------------------------


def test_dedup_resent_sequence_id_is_stored_once(broker: Any, client: Client) -> None:
    official.require_official()
    ns = f"public/dedup-{uuid.uuid4().hex[:8]}"
    with admin(broker) as http:
        resp = http.put(f"/admin/v2/namespaces/{ns}")
        assert resp.status_code in (200, 204), resp.text
        resp = http.post(f"/admin/v2/namespaces/{ns}/deduplication", json=True)
        assert resp.status_code in (200, 204), resp.text
    topic = f"persistent://{ns}/dedup"
    name = f"dedup-producer-{uuid.uuid4().hex[:6]}"
    # Dedup applies once the namespace policy reaches the topic: retry until a duplicate is
    # refused (the broker answers a duplicate with message id -1:-1).
    p = client.create_producer(topic, producer_name=name, batching_enabled=False)
    for i in range(5):
        p.send(f"m{i}".encode())
    dup = p.send(b"m3-again", sequence_id=3)
    assert (dup.ledger_id, dup.entry_id) == (-1, -1)
    p.close()
    # A new session with the same name resumes after the broker's last sequence id.
    q = client.create_producer(topic, producer_name=name, batching_enabled=False)
    assert q.last_sequence_id() == 4
    q.send(b"m5")
    dup = q.send(b"m1-again", sequence_id=1)
    assert (dup.ledger_id, dup.entry_id) == (-1, -1)
    q.close()
    got = official.consume(broker.service_url, topic, 6, linger=2.0)
    assert [m["data"] for m in got] == [f"m{i}".encode() for i in range(6)]


# --- chunking -------------------------------------------------------------------------------


def test_chunked_message_arrives_whole(broker: Any, client: Client, make_topic: Any) -> None:
    official.require_official()
    topic = make_topic("chunk")
    producer = client.create_producer(topic, chunking_enabled=True, batching_enabled=False)
    conn_max = producer.connection.max_message_size
    big = hashlib.sha256(b"seed").digest() * ((conn_max + 2 * 1024 * 1024) // 32)
    assert len(big) > conn_max
    small = b"after the big one"
    producer.send(big, properties={"kind": "big"})
    producer.send(small)
    producer.close()
    got = official.consume(broker.service_url, topic, 2, timeout=90)
    assert len(got) == 2
    assert got[0]["size"] == len(big)
    assert got[0]["sha256"] == hashlib.sha256(big).hexdigest()
    assert got[0]["properties"] == {"kind": "big"}
    assert got[1]["data"] == small
