"""Producer access modes and naming against the real broker."""

from __future__ import annotations

from typing import Any

import pytest

from pulsarload.client import Client
from pulsarload.client.errors import ProducerBusy, ProducerFenced
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


def test_exclusive_and_fencing(broker: Any, make_topic: Any) -> None:
    topic = make_topic("excl")
    with Client(broker.service_url, operation_timeout_seconds=10) as client:
        first = client.create_producer(topic, access_mode="exclusive", batching_enabled=False)
        first.send(b"one")
        with pytest.raises(ProducerFenced):
            client.create_producer(topic, access_mode="Exclusive")
        with pytest.raises(ProducerBusy):
            client.create_producer(topic)  # Shared
        fencer = client.create_producer(
            topic, access_mode="ExclusiveWithFencing", batching_enabled=False
        )
        fencer.send(b"two")

        def fenced() -> bool:
            try:
                first.send(b"three")
            except ProducerFenced:
                return True
            return False

        eventually(fenced, 10, "the fenced producer to be refused", 0.1)


def test_named_producer_keeps_its_name(broker: Any, make_topic: Any) -> None:
    with Client(broker.service_url) as client:
        p = client.create_producer(make_topic("named"), producer_name="my-name")
        assert p.producer_name() == "my-name"
        q = client.create_producer(make_topic("anon"))
        assert q.producer_name()  # the broker's choice
        with pytest.raises(ProducerBusy):
            client.create_producer(p.topic(), producer_name="my-name")
