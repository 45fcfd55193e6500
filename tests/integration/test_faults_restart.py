"""Broker restarts under verified load: stop and start the broker twice while a producer and a
consumer run at a high-ish rate; both reconnect on their own and nothing is lost.

The broker is this module's own standalone (free ports, a fresh home under pytest's tmp dir),
so restarting it disturbs no other test. Namespace deduplication is on and the producer has a
stable name, so what the producer resends after a reconnect is stored once: a fresh
subscription reading the topic from the start finds every sent message exactly once. The live
consumer may see a message twice (an ack lost with the connection means a redelivery); those
at-least-once duplicates are reported, not failed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultproxy import LoadPair
from secure_broker import free_port

from pulsarload.broker.standalone import StandaloneBroker
from pulsarload.client import Client
from pulsarload.client.admin import AdminClient
from pulsarload.client.errors import Timeout
from pulsarload.config import LocalBrokerSettings
from pulsarload.load.payloads import parse_verify_header

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(900)]

RATE = 2000.0


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneBroker]:
    """A standalone only this module uses (restarting it is this module's whole point)."""
    home = tmp_path_factory.mktemp("restart-broker")
    local = StandaloneBroker(
        LocalBrokerSettings(
            broker_port=free_port(), web_port=free_port(), home=home, start_timeout_s=300
        )
    )
    local.start()
    try:
        with AdminClient(local.settings.admin_url) as admin:
            admin.set_deduplication("public/default", True)
        yield local
    finally:
        local.stop()


AUDIT = "audit"


def open_audit_subscription(service_url: str, topic: str) -> None:
    """A durable subscription made before the first message and left unread until the end:
    it keeps every stored message (consumed ledgers are otherwise trimmed after a restart)."""
    client = Client(service_url)
    try:
        client.subscribe(topic, AUDIT, initial_position="earliest").close()
    finally:
        client.close()


def read_back(service_url: str, topic: str, quiet_s: float = 5.0) -> dict[tuple[int, int], int]:
    """Every verification stamp stored in the topic (via the audit subscription), with how
    often it is stored."""
    seen: dict[tuple[int, int], int] = {}
    client = Client(service_url)
    try:
        consumer = client.subscribe(topic, AUDIT, initial_position="earliest")
        while True:
            try:
                msg = consumer.receive(timeout_millis=int(quiet_s * 1000))
            except Timeout:
                return seen
            stamp = parse_verify_header(msg.data())
            if stamp is not None:
                seen[stamp] = seen.get(stamp, 0) + 1
            consumer.acknowledge(msg)
    finally:
        client.close()


def test_two_broker_restarts_under_load_lose_and_duplicate_nothing(
    own_broker: StandaloneBroker, tmp_path: Path
) -> None:
    s = own_broker.settings
    topic = f"persistent://public/default/restart-{uuid.uuid4().hex[:8]}"
    pair = LoadPair(
        s.service_url,
        s.admin_url,
        topic,
        producer={
            "rate": RATE,
            "producer_name": "restart-test",  # stable: the broker dedups what is resent
            "send_timeout_ms": 0,  # wait through the restart instead of failing
            "max_pending": 2000,
        },
    )
    restarts = []
    open_audit_subscription(s.service_url, topic)
    try:
        pair.start(timeout=120)
        for n in (1, 2):
            time.sleep(3)  # the load runs a while before each restart (the fault's pace)
            before = pair.acked()
            began = time.monotonic()
            own_broker.stop()
            own_broker.start()
            restarts.append(time.monotonic() - began)
            pair.progress_after(0.5, what=f"restart {n}", timeout=180)
            assert pair.acked() > before
        time.sleep(2)  # load after the last restart, before the finish
        result = pair.finish(drain_timeout=180)
    except BaseException:
        pair.abort()
        raise
    sent = sum(result.sent.values())
    print(
        f"restarts took {', '.join(f'{r:.0f} s' for r in restarts)}; sent {sent}, "
        f"live consumer: {result.verify.to_dict()}"
    )
    assert sent > 10_000
    assert result.failed_by_category == {}  # every send was acknowledged in the end
    assert result.verify.missing == 0, result.verify.missing_examples
    # With deduplication and a stable producer name, every message is stored exactly once.
    stored = read_back(s.service_url, topic)
    assert len(stored) == sent
    assert max(stored.values()) == 1, sum(c - 1 for c in stored.values())
