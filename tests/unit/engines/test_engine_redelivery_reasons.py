"""The engines' redelivery counts by reason: the native engine passes its consumer's on (here
over the fake broker), the official engine says it does not know (None)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pulsarload.client import Client, RedeliveryCounts
from pulsarload.config import ConsumeSettings
from pulsarload.engines.base import engine_redelivery_counts
from pulsarload.engines.native_consumer import create_native_consumer
from pulsarload.engines.official import OfficialConsumer
from support.fake_broker import FakeBroker
from support.fake_broker.consumer_script import ConsumerScript
from support.waiting import eventually

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def client(fake: FakeBroker) -> Iterator[Client]:
    c = Client(fake.url, operation_timeout_seconds=5, initial_backoff_interval_ms=20)
    yield c
    c.close()


def test_the_native_engine_passes_its_consumers_counts_on(fake: FakeBroker, client: Client):
    script = ConsumerScript(fake)
    settings = ConsumeSettings(
        topic="t", subscription_type="shared", nack_redelivery_delay_ms=100, receiver_queue_size=10
    )
    consumer = create_native_consumer(client, settings, "w0")
    eventually(lambda: script.permits(), what="the first FLOW")
    script.push(1, [b"a", b"b"])
    batch = consumer.receive_many(10, 2000)
    assert batch is not None and batch.count == 2
    for m in batch.messages:
        consumer.negative_acknowledge(m)
    eventually(lambda: len(script.redelivers) == 1, what="the redeliver command")
    assert engine_redelivery_counts(consumer) == RedeliveryCounts(negative_ack=2)
    consumer.close()


def test_the_official_engine_does_not_say_why():
    assert OfficialConsumer(object()).redelivery_counts() is None
    assert engine_redelivery_counts(object()) is None  # a fake without the capability
