"""End-to-end latency against the real broker: from the producer's intended send time when a
pulsarload producer stamped it, from the publish time otherwise, and the counts of each."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from interop import official

from pulsarload.client import Client
from pulsarload.config import ProduceSettings
from pulsarload.engines.native import NativeEngine
from pulsarload.load.controller import LoadController

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


def cli(broker: Any, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pulsarload", *args, "--headless", "-u", broker.service_url,
         "--admin-url", broker.admin_url],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def consume_report(broker: Any, topic: str, count: int, tmp_path: Path, *extra: str) -> dict:
    """Consume `count` messages from the earliest position; the final snapshot of the report."""
    report = tmp_path / f"consume-{time.monotonic_ns()}.json"
    done = cli(
        broker, "consume", topic, "--initial-position", "earliest", "-m", str(count),
        "-d", "120", "--report", str(report), *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "end-to-end measured from:" in done.stdout
    return json.loads(report.read_text())["final"]


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param((), id="batched"),
        pytest.param(("--no-batching",), id="unbatched"),
        pytest.param(("--verify",), id="batched-verify"),
        pytest.param(("--key-mode", "sequential"), id="keyed"),
    ],
)
def test_a_pulsarload_producer_is_measured_from_its_intended_send_time(
    broker: Any, topic: str, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    n = 3000
    produced = cli(broker, "produce", topic, "-r", "3000", "-m", str(n), *flags)
    assert produced.returncode == 0, produced.stdout + produced.stderr
    final = consume_report(
        broker, topic, n, tmp_path, *(("--verify",) if "--verify" in flags else ())
    )
    total = final["total"]
    assert total["received"] == n
    assert (total["e2e_from_intended"], total["e2e_from_publish"]) == (n, 0)
    assert final["total_latency"]["e2e_latency"]["count"] == n


class DelayingEngine(NativeEngine):
    """The native engine whose producers stall `delay_s` before their first send: the schedule
    keeps its times, so the stalled messages leave late."""

    def __init__(self, settings: ProduceSettings, delay_s: float) -> None:
        super().__init__(settings)
        self.delay_s = delay_s

    def create_producer(self, settings: ProduceSettings, name: str | None) -> Any:
        producer = super().create_producer(settings, name)
        send = producer.send_batch
        stalled = []

        def late_send(*args: Any, **kwargs: Any) -> None:
            if not stalled:
                stalled.append(True)
                time.sleep(self.delay_s)
            send(*args, **kwargs)

        producer.send_batch = late_send  # type: ignore[method-assign]
        return producer


def test_a_sender_that_falls_behind_shows_it_in_end_to_end_latency(
    broker: Any, topic: str, tmp_path: Path
) -> None:
    delay_s, n = 0.6, 400
    settings = ProduceSettings(
        service_url=broker.service_url, topic=topic, rate=200.0, messages=n, threads=1
    )
    controller = LoadController("producer", settings, engine=DelayingEngine(settings, delay_s))
    controller.start()
    deadline = time.monotonic() + 60
    while not controller.done() and time.monotonic() < deadline:
        time.sleep(0.1)
    result = controller.stop()
    assert result.final.total.acked == n
    # The producer saw its own lag: send delay and publish latency from the intended time.
    assert result.final.total_latency["send_delay"].max >= delay_s * 1e6
    final = consume_report(broker, topic, n, tmp_path)
    assert final["total"]["e2e_from_intended"] == n
    # The first message waited `delay_s` before it left: its end-to-end latency holds that
    # wait (its publish time, written when it was finally sent, would not).
    e2e = final["total_latency"]["e2e_latency"]
    assert e2e["max"] >= delay_s * 1e6
    # ... and the messages sent on time afterwards are not charged with it.
    assert e2e["p50"] < delay_s * 1e6


def test_messages_of_a_plain_native_client_fall_back_to_publish_time(
    broker: Any, topic: str, tmp_path: Path
) -> None:
    n = 50
    client = Client(broker.service_url, operation_timeout_seconds=30)
    try:
        producer = client.create_producer(topic, batching_enabled=True)
        for i in range(n):
            producer.send_async(b"plain-%d" % i, None)
        producer.flush()
        producer.close()
    finally:
        client.close()
    total = consume_report(broker, topic, n, tmp_path)["total"]
    assert (total["e2e_from_intended"], total["e2e_from_publish"]) == (0, n)


@pytest.mark.parametrize("batching", [False, True], ids=["unbatched", "batched"])
def test_messages_of_the_official_client_fall_back_to_publish_time(
    broker: Any, topic: str, tmp_path: Path, batching: bool
) -> None:
    n = 40
    official.produce(broker.service_url, topic, n, "none", batching)
    final = consume_report(broker, topic, n, tmp_path)
    total = final["total"]
    assert (total["e2e_from_intended"], total["e2e_from_publish"]) == (0, n)
    assert final["total_latency"]["e2e_latency"]["count"] == n
