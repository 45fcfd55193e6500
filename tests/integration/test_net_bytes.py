"""The native engine's socket byte counters grow with real traffic (loopback broker)."""

from __future__ import annotations

import pytest

from pulsarload.config import ConsumeSettings, ProduceSettings, resolve_settings
from pulsarload.load.controller import LoadController
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

MESSAGES, SIZE = 2000, 1024


def _run(controller: LoadController, seconds: float) -> list:
    """Run until done (or `seconds`), keeping every snapshot."""
    seen: list = []
    controller.sampler.subscribe(seen.append)
    controller.start()
    eventually(controller.done, seconds, "the run to end by itself")
    return seen


def test_bytes_out_and_in_follow_the_payload(broker, topic: str) -> None:
    base = {"topic": topic, "service_url": broker.service_url, "admin_url": broker.admin_url}
    producer = LoadController(
        "producer",
        resolve_settings(
            ProduceSettings,
            {**base, "rate": 2000.0, "threads": 1, "messages": MESSAGES, "size": SIZE},
            environ={},
        ),
    )
    seen = _run(producer, 60)
    result = producer.stop()
    assert result.final.total.acked == MESSAGES
    res = result.final.resources
    payload = MESSAGES * SIZE
    # Every payload byte went out once, plus framing; receipts came back.
    assert payload <= res.net_bytes_out < payload * 1.5
    assert 0 < res.net_bytes_in < res.net_bytes_out
    assert max(s.resources.net_out_per_s for s in seen) > 0
    outs = [s.resources.net_bytes_out for s in seen]
    assert outs == sorted(outs)  # cumulative: never goes down

    consumer = LoadController(
        "consumer",
        resolve_settings(
            ConsumeSettings,
            {**base, "initial_position": "earliest", "messages": MESSAGES},
            environ={},
        ),
    )
    _run(consumer, 60)
    result = consumer.stop()
    assert result.final.total.received == MESSAGES
    res = result.final.resources
    assert payload <= res.net_bytes_in < payload * 1.5
    assert 0 < res.net_bytes_out < res.net_bytes_in  # flow permits and acks only
