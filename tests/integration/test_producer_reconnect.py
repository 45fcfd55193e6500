"""Reconnect against the real broker: restart it while a producer sends; sending resumes on its
own and every message the producer reported as acknowledged is in the topic.

Restarting needs the local standalone this session started (the `broker` fixture's `local`);
against a broker someone else runs the test skips.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from interop import official

from pulsarload.client import Client, Result

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]


def test_restart_broker_while_sending(broker: Any, make_topic: Any) -> None:
    if not broker.started_here or broker.local is None:
        pytest.skip("the broker was not started by this session; it is not ours to restart")
    official.require_official()
    topic = make_topic("reconnect")
    client = Client(
        broker.service_url,
        operation_timeout_seconds=30,
        initial_backoff_interval_ms=100,
        max_backoff_interval_ms=2000,
    )
    try:
        # Pulsar keeps a topic's messages for its subscriptions (retention is 0 on the test
        # namespace): without one, the restart may trim the ledger that held every message sent
        # before it (it did once in CI), and the read-back below would miss them for that alone.
        client.subscribe(topic, "keep-until-read").close()
        producer = client.create_producer(
            topic,
            send_timeout_millis=0,  # wait through the restart instead of failing
            block_if_queue_full=True,
            max_pending_messages=500,
            batching_enabled=True,
            batching_max_publish_delay_ms=5,
        )
        acked: list[bytes] = []
        failed: list[Result] = []
        lock = threading.Lock()
        stop = threading.Event()

        def on_ack(payload: bytes) -> Any:
            def cb(result: Result, msg_id: Any) -> None:
                with lock:
                    (acked.append(payload) if result is Result.Ok else failed.append(result))

            return cb

        def sender() -> None:
            i = 0
            while not stop.is_set():
                payload = f"reconnect-{i:07d}".encode()
                producer.send_async(payload, on_ack(payload))
                i += 1
                time.sleep(0.002)  # the load: about 500 sends a second

        thread = threading.Thread(target=sender, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while len(acked) < 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(acked) >= 200, "no traffic before the restart"

        broker.local.stop()
        at_restart = len(acked)
        broker.local.start()
        # Sending resumes on its own: acks keep coming after the broker is back.
        deadline = time.monotonic() + 120
        while len(acked) < at_restart + 500 and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        thread.join(30)
        producer.flush(60)
        assert len(acked) >= at_restart + 500, f"sending did not resume ({len(acked)} acked)"
        assert failed == []
        producer.close()
    finally:
        stop.set()
        client.close()

    got = official.consume(broker.service_url, topic, len(acked), timeout=120, linger=3)
    stored = {m["data"] for m in got}
    missing = [p for p in acked if p not in stored]
    assert missing == [], f"{len(missing)} acknowledged messages are missing, e.g. {missing[:3]}"
