"""The native consumer against Apache's official client (.venv-gil), on the real broker.

One official process writes every codec batched and not, a partitioned topic and a 20 MiB
chunked message; the native consumer reads them all. The other way: what the native consumer
acknowledges on a shared subscription, an official consumer on the same subscription never
sees again (acks are real on the broker), and the rest it does see.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from interop import official

from pulsarload.client import Client, Message, Timeout
from pulsarload.client.admin import AdminClient
from pulsarload.wire.compression import AVAILABLE

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]

CODECS = [kind.name.lower() for kind in AVAILABLE]  # no "lz4" where lz4 is missing (3.14t)
CHUNKED_SIZE = 20 * 1024 * 1024
#: A bookie refuses frames above nettyMaxFrameSizeBytes (5 MiB by default); the official
#: producer's chunks are a full max-size message plus metadata, so the broker needs the
#: 5 MiB + 10 KiB that Pulsar's own standalone.conf sets, or it retries the write forever.
FRAME_SETTING = "nettyMaxFrameSizeBytes"


def official_payload(topic: str, i: int) -> bytes:
    """Kept in step with official_consumer_tasks.payload."""
    return f"{topic[-12:]}-{i}-".encode() + b"interop " * (3 + i % 11) + bytes([i % 256, 0, 255])


def run_official(service_url: str, tasks: list[dict[str, Any]], timeout: float = 120) -> Any:
    return official._run(
        "official_consumer_tasks.py", service_url, json.dumps(tasks), timeout=timeout
    )


@pytest.fixture(scope="module")
def client(broker: Any) -> Iterator[Client]:
    c = Client(broker.service_url, operation_timeout_seconds=30)
    yield c
    c.close()


def drain(consumer: Any, n: int, timeout: float = 30.0) -> list[Message]:
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
        consumer.acknowledge(m)
    return out


def test_official_producer_every_codec_batched_and_partitioned(
    broker: Any, client: Client, make_topic: Any
) -> None:
    official.require_official()
    count = 20
    topics = {
        f"{codec}-{'b' if batched else 's'}": (make_topic(f"oc-{codec}"), codec, batched)
        for codec in CODECS
        for batched in (True, False)
    }
    partitioned = make_topic("oc-part")
    with AdminClient(broker.admin_url) as admin:
        admin.create_partitioned_topic(partitioned, 3)
    topics["partitioned"] = (partitioned, "lz4", True)
    tasks = [
        {"op": "produce", "topic": t, "count": count, "compression": codec, "batching": batched}
        for t, codec, batched in topics.values()
    ]
    run_official(broker.service_url, tasks)
    names = [t for t, _, _ in topics.values()]
    consumer = client.subscribe(names, "native", initial_position="earliest")
    got = drain(consumer, count * len(names), timeout=60)
    assert len(got) == count * len(names)
    for label, (topic, _codec, batched) in topics.items():
        mine = [m for m in got if m.topic_name().startswith(topic)]
        mine.sort(key=lambda m: int(m.properties()["i"]))
        assert [m.data() for m in mine] == [official_payload(topic, i) for i in range(count)], label
        assert [m.partition_key() for m in mine] == [f"k{i % 7}" for i in range(count)]
        assert [m.event_timestamp() for m in mine] == [1000 + i for i in range(count)]
        if label != "partitioned":
            assert any(m.message_id().batch_index >= 0 for m in mine) == batched, label
    parts = {m.topic_name() for m in got if m.topic_name().startswith(partitioned)}
    assert parts == {f"{partitioned}-partition-{i}" for i in range(3)}
    consumer.close()


def test_official_chunked_20_mib_message_is_reassembled(
    broker: Any, client: Client, make_topic: Any
) -> None:
    official.require_official()
    local = broker.local
    if broker.service_url.startswith("pulsar://localhost") and local is not None:
        conf = local.conf_file.read_text() if local.conf_file.exists() else ""
        if FRAME_SETTING not in conf:
            pytest.skip(
                f"the local standalone's bookie keeps the 5 MiB default {FRAME_SETTING}: the "
                "official producer's chunks would be retried forever (add "
                f"{FRAME_SETTING}=5253120 to broker/standalone.conf)"
            )
    topic = make_topic("oc-chunk")
    consumer = client.subscribe(topic, "native", initial_position="earliest")
    (result,) = run_official(
        broker.service_url,
        [{"op": "produce_chunked", "topic": topic, "size": CHUNKED_SIZE}],
        timeout=150,
    )
    m = consumer.receive(timeout_millis=60000)
    data = m.data()
    assert m.is_chunked() and len(data) == result["size"] == CHUNKED_SIZE
    assert hashlib.sha256(data).hexdigest() == result["sha256"]
    assert m.properties() == {"big": "yes"}
    consumer.acknowledge(m)
    consumer.close()


@pytest.mark.parametrize("batched", [False, True], ids=["single", "batched"])
def test_native_acks_hold_for_an_official_consumer_on_the_same_subscription(
    broker: Any, client: Client, make_topic: Any, batched: bool
) -> None:
    official.require_official()
    topic = make_topic("oc-shared")
    native = client.subscribe(
        topic, "together", consumer_type="shared", initial_position="earliest"
    )
    producer = client.create_producer(
        topic, batching_enabled=batched, batching_max_messages=10, batching_max_publish_delay_ms=50
    )
    for i in range(60):
        producer.send_async(f"n{i}".encode(), None, properties={"i": str(i)})
    producer.flush(30)
    producer.close()
    # Take the first 30 and ack them all (with batches of 10, whole entries).
    mine = drain(native, 30)
    assert len(mine) == 30
    native.close()  # flushes the grouped acks; unacked queued messages go back
    (result,) = run_official(
        broker.service_url,
        [
            {
                "op": "consume",
                "topic": topic,
                "subscription": "together",
                "type": "shared",
                "count": 30,
                "timeout": 60,
                "linger": 1.0,
            }
        ],
    )
    theirs = sorted(base64.b64decode(m["data"]) for m in result["messages"])
    assert sorted({m.data() for m in mine} | set(theirs)) == sorted(
        f"n{i}".encode() for i in range(60)
    )
    assert not {m.data() for m in mine} & set(theirs), "an acked message came back"
    assert len(theirs) == 30
