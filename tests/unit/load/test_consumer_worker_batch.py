"""The consumer worker's batch path: what `_handle_many` records and acknowledges per batch,
the message budget, and when the worker falls back to one message at a time."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pulsarload.config import ConsumeSettings
from pulsarload.engines.base import ReceivedBatch, ReceivedMessage
from pulsarload.load.consumer_worker import ConsumerWorker
from pulsarload.load.payloads import VERIFY_HEADER, VERIFY_MAGIC
from pulsarload.load.workers import MessageBudget
from pulsarload.metrics.recorder import RecorderSlot

pytestmark = pytest.mark.timeout(30)


def rm(data: bytes, publish_ms: int, rc: int = 0) -> ReceivedMessage:
    return ReceivedMessage(
        data=data, topic="t", message_id="x", publish_time_ms=publish_ms, event_time_ms=0,
        redelivery_count=rc,
    )  # fmt: skip


def stamped(seq: int, publish_ms: int) -> ReceivedMessage:
    return rm(VERIFY_HEADER.pack(VERIFY_MAGIC, 7, seq) + b"body", publish_ms)


class FakeConsumer:
    def __init__(self, batches: list[list[ReceivedMessage]], batched: bool = True) -> None:
        self.batches = batches
        self.acked_many: list[list[ReceivedMessage]] = []
        self.acked: list[ReceivedMessage] = []
        self.receive_calls = 0
        self.closed = threading.Event()
        if not batched:
            self.receive_many = None  # type: ignore[assignment]

    def receive_many(self, max_messages: int, timeout_ms: int) -> ReceivedBatch | None:
        if self.batches:
            return ReceivedBatch(self.batches.pop(0))
        time.sleep(timeout_ms / 1000)  # an empty queue: a receive waits out its timeout
        return None

    def receive(self, timeout_ms: int) -> ReceivedMessage | None:
        self.receive_calls += 1
        for batch in self.batches:
            if batch:
                return batch.pop(0)
        time.sleep(timeout_ms / 1000)  # an empty queue: a receive waits out its timeout
        return None

    def acknowledge_many(self, batch: ReceivedBatch) -> None:
        self.acked_many.append(list(batch.messages))

    def acknowledge(self, message: ReceivedMessage) -> None:
        self.acked.append(message)

    def acknowledge_cumulative(self, message: ReceivedMessage) -> None:
        self.acked.append(message)

    def negative_acknowledge(self, message: ReceivedMessage) -> None:
        pass

    def seek(self, target: str) -> None:
        pass

    def queue_fill(self) -> int:
        return 0

    def reconnect_attempt(self) -> int:
        return 0

    def close(self) -> None:
        self.closed.set()


class FakeEngine:
    name = "fake"

    def __init__(self, consumer: FakeConsumer) -> None:
        self.consumer = consumer

    def create_consumer(self, settings: Any, name: Any, listener: Any = None) -> FakeConsumer:
        return self.consumer


def worker(consumer: FakeConsumer, budget: MessageBudget | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    settings = ConsumeSettings(topic="t", **kw)
    slot = RecorderSlot("c-0", "consumer")
    w = ConsumerWorker(0, FakeEngine(consumer), slot, settings, budget=budget)  # type: ignore[arg-type]
    w.consumer = consumer  # type: ignore[assignment]
    return w, slot


def test_handle_many_records_each_message_and_acks_once() -> None:
    now_ms = time.time_ns() // 1_000_000
    msgs = [rm(b"a" * 10, now_ms - 50), rm(b"b" * 10, now_ms - 50), rm(b"c" * 5, now_ms - 20, 2)]
    fake = FakeConsumer([])
    w, slot = worker(fake)
    w._handle_many(fake, ReceivedBatch(msgs))  # type: ignore[arg-type]
    rec = slot.active
    assert (rec.received, rec.bytes_received, rec.redelivered) == (3, 25, 1)
    assert rec.e2e_latency.total_count == 3
    assert 15_000 <= rec.e2e_latency.min < 45_000 <= rec.e2e_latency.max < 5_000_000
    assert rec.e2e_latency.count_at_value(rec.e2e_latency.max) == 2  # the two older ones
    assert fake.acked_many == [msgs] and rec.consumer_acked == 3


class SpacedBatch(ReceivedBatch):
    """What the native engine makes of one rate-limited batch entry: a run of evenly spaced
    intended times (engines.native_consumer.batch_figures)."""

    def __init__(self, msgs: list[ReceivedMessage], origin_ns: int, step_ns: int) -> None:
        super().__init__(msgs)
        self.e2e_runs = [(origin_ns, len(msgs), True, step_ns)]


def test_handle_many_measures_from_intended_times_and_counts_each_origin() -> None:
    now_ns = time.time_ns()
    fake = FakeConsumer([])
    w, slot = worker(fake)
    # Three messages meant 100 ms, 90 ms and 80 ms ago (published much later: ignored) ...
    spaced = [rm(b"x", now_ns // 1_000_000) for _ in range(3)]
    w._handle_many(fake, SpacedBatch(spaced, now_ns - 100_000_000, 10_000_000))  # type: ignore[arg-type]
    rec = slot.active
    assert rec.e2e_latency.total_count == 3
    assert 100_000 <= rec.e2e_latency.max < 100_000 + 5_000_000
    assert 80_000 <= rec.e2e_latency.min < rec.e2e_latency.max - 15_000
    # ... then one stamped message and one from a foreign producer (its publish time).
    own = ReceivedMessage(
        data=b"s", topic="t", message_id="m", publish_time_ms=now_ns // 1_000_000,
        event_time_ms=0, redelivery_count=0, intended_us=now_ns // 1000 - 7_000_000,
    )  # fmt: skip
    w._handle_many(fake, ReceivedBatch([own, rm(b"f", now_ns // 1_000_000 - 3)]))  # type: ignore[arg-type]
    assert (rec.e2e_from_intended, rec.e2e_from_publish) == (4, 1)
    assert rec.e2e_latency.max >= 7_000_000


def test_handle_many_with_ack_none_does_not_ack() -> None:
    fake = FakeConsumer([])
    w, slot = worker(fake, ack="none")
    w._handle_many(fake, ReceivedBatch([rm(b"a", 1)]))  # type: ignore[arg-type]
    assert fake.acked_many == [] and slot.active.received == 1 and slot.active.consumer_acked == 0


def test_handle_many_verifies_sequences() -> None:
    fake = FakeConsumer([])
    w, slot = worker(fake, verify=True)
    w._handle_many(
        fake, ReceivedBatch([stamped(0, 1), stamped(2, 1), stamped(2, 1), stamped(1, 1)])
    )  # type: ignore[arg-type]
    assert slot.active.duplicates == 1 and slot.active.out_of_order == 1


def test_budget_trims_the_batch_and_stops_the_worker() -> None:
    fake = FakeConsumer([])
    budget = MessageBudget(3)
    w, slot = worker(fake, budget)
    msgs = [rm(b"m", 1) for _ in range(5)]
    w._handle_many(fake, ReceivedBatch(msgs))  # type: ignore[arg-type]
    assert slot.active.received == 3 and fake.acked_many == [msgs[:3]]
    assert budget.exhausted and w.stop_event.is_set()


def test_run_uses_the_batch_path_until_the_budget_is_spent() -> None:
    batches = [[rm(b"m", 1) for _ in range(4)] for _ in range(3)]
    fake = FakeConsumer(batches)
    w, slot = worker(fake, MessageBudget(10))
    w.run()
    assert slot.active.received == 10 and sum(map(len, fake.acked_many)) == 10
    assert fake.receive_calls == 0 and fake.closed.is_set()


@pytest.mark.parametrize(
    "kw", [{"ack": "cumulative"}, {"ack": "delayed"}, {"nack_ratio": 0.5}, {"processing_ms": 1.0}]
)
def test_per_message_settings_keep_the_one_by_one_path(kw: dict[str, Any]) -> None:
    fake = FakeConsumer([[rm(b"m", 1) for _ in range(3)]])
    w, slot = worker(fake, MessageBudget(3), **kw)
    assert w._batch_path(fake) is False  # type: ignore[arg-type]
    if "nack_ratio" in kw:
        return  # nacked messages never spend the budget: run() would not end
    w.run()
    assert fake.receive_calls >= 3 and fake.acked_many == [] and slot.active.received == 3


def test_engine_without_receive_many_keeps_the_one_by_one_path() -> None:
    fake = FakeConsumer([[rm(b"m", 1) for _ in range(2)]], batched=False)
    w, slot = worker(fake, MessageBudget(2))
    w.run()
    assert fake.receive_calls == 2 and len(fake.acked) == 2 and slot.active.received == 2


def test_with_a_schema_every_payload_is_decoded_and_failures_counted() -> None:
    from pulsarload.client.schema import parse_schema_spec
    from pulsarload.load.schema_payloads import SchemaPayloads

    spec = 'avro:{"type": "record", "name": "R", "fields": [{"name": "s", "type": "string"}]}'
    good = SchemaPayloads(parse_schema_spec(spec), 60, verify_producer_id=7).next_batch(3)
    now_ms = time.time_ns() // 1_000_000
    fake = FakeConsumer([])
    w, slot = worker(fake, schema=spec, verify=True)
    batch = [rm(good[0], now_ms), rm(b"\xff\xff", now_ms), rm(good[2], now_ms), rm(good[1], now_ms)]
    w._handle_many(fake, ReceivedBatch(batch))  # type: ignore[arg-type]
    rec = slot.active
    assert rec.failed == {"schema_decode": 1}
    assert rec.out_of_order == 1  # the stamps were read from the decoded records: 0, 2, 1
    assert w.stamps is not None and w.stamps.decoded == 4


def test_protobuf_native_payloads_are_decoded_and_failures_counted(tmp_path) -> None:
    from pulsarload.client.schema import parse_schema_spec
    from pulsarload.load.schema_payloads import SchemaPayloads
    from support.proto_descriptors import write_descriptor_set

    spec = f"protobuf-native:{write_descriptor_set(tmp_path / 'o.desc')}:shop.Order"
    good = SchemaPayloads(parse_schema_spec(spec), 300, verify_producer_id=7).next_batch(3)
    now_ms = time.time_ns() // 1_000_000
    fake = FakeConsumer([])
    w, slot = worker(fake, schema=spec, verify=True)
    batch = [rm(good[0], now_ms), rm(b"\xff\xff", now_ms), rm(good[2], now_ms), rm(good[1], now_ms)]
    w._handle_many(fake, ReceivedBatch(batch))  # type: ignore[arg-type]
    rec = slot.active
    assert rec.failed == {"schema_decode": 1}
    assert rec.out_of_order == 1  # the stamps were read from the decoded messages: 0, 2, 1
    assert w.stamps is not None and w.stamps.decoded == 4


@pytest.mark.parametrize("path", ["batch", "one_by_one"])
def test_a_separated_key_value_decodes_each_message_key_too(path: str) -> None:
    import base64

    from pulsarload.client.schema import parse_schema_spec
    from pulsarload.load.schema_payloads import SchemaPayloads

    key = '{"type": "record", "name": "K", "fields": [{"name": "k", "type": "string"}]}'
    value = '{"type": "record", "name": "V", "fields": [{"name": "s", "type": "string"}]}'
    spec = f"key-value:avro:{key},avro:{value},separated"
    made = SchemaPayloads(parse_schema_spec(spec), 60, verify_producer_id=7)
    good = made.next_batch(3)
    keys = [base64.b64encode(k).decode() for k in made.last_keys or []]
    now_ms = time.time_ns() // 1_000_000

    def msg(data: bytes, k: str | None) -> ReceivedMessage:
        return ReceivedMessage(data, "t", "x", now_ms, 0, 0, key=k)

    batch = [
        msg(good[0], keys[0]),
        msg(good[1], "not base64!"),
        msg(good[1], base64.b64encode(b"\xff\xff").decode()),  # base64, but not a K record
        msg(good[2], keys[2]),
    ]
    fake = FakeConsumer([])
    w, slot = worker(fake, schema=spec, verify=True)
    if path == "batch":
        w._handle_many(fake, ReceivedBatch(batch))  # type: ignore[arg-type]
    else:
        for m in batch:
            w._handle(m)
    rec = slot.active
    assert rec.failed == {"schema_decode": 2}
    assert w.stamps is not None and w.stamps.decoded == 4


class EarlyListenerEngine(FakeEngine):
    """An engine whose listener fires inside `create_consumer`, before it returns, as a real
    client's listener thread can when the broker dispatches right after the subscribe."""

    def __init__(self, consumer: FakeConsumer, early: ReceivedMessage) -> None:
        super().__init__(consumer)
        self.early = early
        self.listener_thread: threading.Thread | None = None

    def create_consumer(self, settings: Any, name: Any, listener: Any = None) -> FakeConsumer:
        self.listener_thread = threading.Thread(target=listener, args=(self.early,))
        self.listener_thread.start()
        self.listener_thread.join(0.2)  # the listener runs (or waits) while subscribing goes on
        return self.consumer


def test_a_message_the_listener_gets_before_subscribing_returns_is_handled_not_dropped() -> None:
    fake = FakeConsumer([])
    early = rm(b"early", time.time_ns() // 1_000_000)
    engine = EarlyListenerEngine(fake, early)
    slot = RecorderSlot("c-0", "consumer")
    settings = ConsumeSettings(topic="t", mode="listener")
    w = ConsumerWorker(0, engine, slot, settings, budget=MessageBudget(1))  # type: ignore[arg-type]
    runner = threading.Thread(target=w.run, daemon=True)
    runner.start()
    runner.join(10)
    w.stop_event.set()  # ends the run if the budget was never spent (the message was dropped)
    assert engine.listener_thread is not None
    engine.listener_thread.join(10)
    runner.join(10)
    assert slot.active.received == 1 and fake.acked == [early]
    assert not runner.is_alive() and not engine.listener_thread.is_alive()
    assert fake.closed.is_set()
