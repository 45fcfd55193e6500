"""Key_Shared against the real broker: every key on exactly one consumer, in order.

The broker dispatches a Key_Shared entry on the key in its outer MessageMetadata, so a batched
entry must carry one (its first message's, as the official clients' batchers set it), and a
producer that sends many keys needs the key-based batcher (one batch per key). Checked with 2
and 3 consumers against native producers (batched with `send()`, key-based, unbatched, the
bulk path, the load tool's engine, KEY_VALUE SEPARATED pairs unbatched then batched) and the
official producer (batched with `send()`, and key-based). A SEPARATED key travels base64,
flagged; the broker hashes its decoded bytes, so a batch must carry the flag as well.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from interop import official

from pulsarload.client import Client, Result, Timeout
from pulsarload.client.schema import KeyValueEncodingType, KeyValueSchema, StringSchema
from pulsarload.config import ProduceSettings
from pulsarload.engines.native import NativeEngine
from pulsarload.wire.batch import MessageShape
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

COUNT = 400
KEYS = 20
WAIT_S = 120.0


def key_of(i: int) -> str:
    return f"key-{i % KEYS}"


@pytest.fixture(scope="module")
def client(broker: Any) -> Iterator[Client]:
    c = Client(broker.service_url, operation_timeout_seconds=30)
    yield c
    c.close()


class Receiver:
    """One Key_Shared consumer draining on its own thread: (key, index) in arrival order."""

    def __init__(self, client: Client, topic: str, subscription: str, name: str) -> None:
        self.consumer = client.subscribe(
            topic,
            subscription,
            consumer_type="key_shared",
            initial_position="earliest",
            consumer_name=name,
        )
        self.got: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"recv-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.consumer.receive(timeout_millis=200)
            except Timeout:
                continue
            key = msg.partition_key()
            if msg.has_base64_encoded_key():  # a KEY_VALUE SEPARATED key: its text, decoded
                key = msg.key_bytes().decode()
            self.got.append((key, int(msg.data())))
            self.consumer.acknowledge(msg)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.consumer.close()


def _send_native_batched_sync(client: Client, topic: str) -> None:
    producer = client.create_producer(topic, batching_enabled=True)
    for i in range(COUNT):
        producer.send(str(i).encode(), partition_key=key_of(i))
    producer.close()


def _send_native_key_based(client: Client, topic: str) -> None:
    producer = client.create_producer(
        topic, batching_enabled=True, batching_type="KeyBased", batching_max_messages=100
    )
    failed: list[Result] = []

    def done(result: Result, _msg_id: Any) -> None:
        if result != Result.Ok:
            failed.append(result)

    for i in range(COUNT):
        producer.send_async(str(i).encode(), done, partition_key=key_of(i))
    producer.flush(60)
    producer.close()
    assert not failed


def _send_native_unbatched(client: Client, topic: str) -> None:
    producer = client.create_producer(topic, batching_enabled=False)
    for i in range(COUNT):
        producer.send_async(str(i).encode(), None, partition_key=key_of(i))
    producer.flush(60)
    producer.close()


def _send_native_bulk(client: Client, topic: str) -> None:
    """The bulk path (the wire layer's frame builder): each key's messages in 4 batches."""
    producer = client.create_producer(topic, batching_enabled=True)
    per_batch = KEYS * 5
    for start in range(0, COUNT, per_batch):
        for k in range(KEYS):
            payloads = [str(i).encode() for i in range(start + k, start + per_batch, KEYS)]
            producer.send_batch(payloads, shape=MessageShape(partition_key=key_of(k)))
    producer.flush(60)
    producer.close()


def _send_key_value_separated(client: Client, topic: str) -> None:
    """Pairs whose key is the message key, base64: the first half unbatched, the second in
    key-based batches; each key's messages must still reach one consumer."""
    schema = KeyValueSchema(StringSchema(), StringSchema(), KeyValueEncodingType.SEPARATED)
    half = COUNT // 2
    for batching, indexes in ((False, range(half)), (True, range(half, COUNT))):
        producer = client.create_producer(
            topic,
            schema=schema,
            batching_enabled=batching,
            batching_type="KeyBased",
            batching_max_messages=100,
        )
        for i in indexes:
            producer.send_async((key_of(i), str(i)), None)
        producer.flush(60)
        producer.close()


def _send_load_engine(broker: Any, topic: str) -> None:
    """The load tool's native engine with keys and batching: the key-based batcher."""
    settings = ProduceSettings(
        topic=topic,
        service_url=broker.service_url,
        key_mode="set",
        keys=tuple(key_of(k) for k in range(KEYS)),
        batching=True,
    )
    assert settings.key_based_batching
    engine = NativeEngine(settings)
    producer = engine.create_producer(settings, None)
    failed: list[str] = []

    def done(_count: int, error: str | None) -> None:
        if error is not None:
            failed.append(error)

    try:
        for i in range(COUNT):
            producer.send_batch([str(i).encode()], done, key=key_of(i))
        producer.flush(60)
    finally:
        producer.close()
    assert not failed


SENDERS: dict[str, Callable[[Any, Client, str], None]] = {
    "native-batched-send": lambda b, c, t: _send_native_batched_sync(c, t),
    "native-key-based": lambda b, c, t: _send_native_key_based(c, t),
    "native-unbatched": lambda b, c, t: _send_native_unbatched(c, t),
    "native-bulk": lambda b, c, t: _send_native_bulk(c, t),
    "load-engine": lambda b, c, t: _send_load_engine(b, t),
    "key-value-separated": lambda b, c, t: _send_key_value_separated(c, t),
    "official-batched-send": lambda b, c, t: official.produce_keyed(
        b.service_url, t, COUNT, KEYS, "default", sync=True
    ),
    "official-key-based": lambda b, c, t: official.produce_keyed(
        b.service_url, t, COUNT, KEYS, "key_based", sync=False
    ),
}


@pytest.mark.parametrize("sender", sorted(SENDERS))
@pytest.mark.parametrize("consumers", [2, 3])
def test_key_shared_keeps_each_key_on_one_consumer_in_order(
    broker: Any, client: Client, make_topic: Any, consumers: int, sender: str
) -> None:
    if sender.startswith("official"):
        official.require_official()
    topic = make_topic(f"ks-{sender}")
    receivers = [Receiver(client, topic, "ks-sub", f"c{n}") for n in range(consumers)]
    try:
        SENDERS[sender](broker, client, topic)
        eventually(lambda: sum(len(r.got) for r in receivers) >= COUNT, WAIT_S, f"{COUNT} messages")
    finally:
        for r in receivers:
            r.close()
    everything = sorted(i for r in receivers for _key, i in r.got)
    assert everything == list(range(COUNT)), "lost or duplicated messages"
    owners: dict[str, set[int]] = {}
    for n, r in enumerate(receivers):
        for key, i in r.got:
            assert key == key_of(i), f"message {i} arrived with key {key!r}"
            owners.setdefault(key, set()).add(n)
        for k in range(KEYS):
            order = [i for key, i in r.got if key == key_of(k)]
            assert order == sorted(order), f"{key_of(k)} out of order on consumer {n}"
    shared = {key: sorted(ns) for key, ns in owners.items() if len(ns) > 1}
    assert not shared, f"keys delivered to more than one consumer: {shared}"
    assert len(owners) == KEYS
    # With 20 keys over the hash ranges, more than one consumer takes part.
    assert sum(1 for r in receivers if r.got) > 1
