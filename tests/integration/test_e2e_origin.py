"""End-to-end latency against the real broker: from the producer's intended send time when a
pulsarload producer stamped it, from the publish time otherwise, and the counts of each."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from interop import official

from pulsarload.client import Client
from pulsarload.config import ProduceSettings
from pulsarload.engines.native import NativeEngine
from pulsarload.load.controller import LoadController
from support.waiting import eventually

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
                time.sleep(self.delay_s)  # the fault: a sender that falls behind
            send(*args, **kwargs)

        producer.send_batch = late_send  # type: ignore[method-assign]
        return producer


def start_consumer(broker: Any, topic: str, count: int, report: Path) -> subprocess.Popen:
    """A consumer running while the producer sends (so end-to-end latency holds no backlog
    wait); returns once its subscription exists on the broker."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pulsarload", "consume", topic, "--subscription", "e2e", "-m",
         str(count), "-d", "120", "--report", str(report), "--headless", "-u",
         broker.service_url, "--admin-url", broker.admin_url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    local = topic.removeprefix("persistent://")
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=broker.admin_url, timeout=10, trust_env=False) as http:
        while time.monotonic() < deadline and proc.poll() is None:
            resp = http.get(f"/admin/v2/persistent/{local}/subscriptions")
            if resp.status_code == 200 and "e2e" in resp.json():
                return proc
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the consumer did not subscribe: {proc.communicate()[0][-2000:]}")


def test_a_sender_that_falls_behind_shows_it_in_end_to_end_latency(
    broker: Any, topic: str, tmp_path: Path
) -> None:
    delay_s, n = 0.6, 600
    report = tmp_path / "consume.json"
    consumer = start_consumer(broker, topic, n, report)
    settings = ProduceSettings(
        service_url=broker.service_url, topic=topic, rate=200.0, messages=n, threads=1
    )
    controller = LoadController("producer", settings, engine=DelayingEngine(settings, delay_s))
    controller.start()
    eventually(controller.done, 60, "the producer's budget to be sent")
    result = controller.stop()
    assert result.final.total.acked == n
    out, _ = consumer.communicate(timeout=150)
    assert consumer.returncode == 0, out
    # The producer saw its own lag: the messages that fell due during the stall were taken up
    # to `delay_s` late (the first one due after the stalled send, one interval less).
    assert result.final.total_latency["send_delay"].max >= (delay_s - 2 / 200.0) * 1e6
    final = json.loads(report.read_text())["final"]
    assert final["total"]["e2e_from_intended"] == n
    # End-to-end latency holds that wait (a publish time, written when the message was
    # finally sent, would not) ...
    # The stamp is wall-clock time mapped from the producer's monotonic schedule, read against the
    # consumer's wall clock: allow a few milliseconds of mapping difference, not the wait.
    e2e = final["total_latency"]["e2e_latency"]
    assert e2e["max"] >= 0.95 * delay_s * 1e6
    # ... and the messages sent on time once the sender caught up are not charged with it.
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


@pytest.mark.parametrize(
    ("flags", "visible"),
    [pytest.param(("--no-batching",), True, id="unbatched"), pytest.param((), False, id="batched")],
)
def test_an_official_client_consumer_sees_the_stamps_of_unbatched_messages_only(
    broker: Any, topic: str, tmp_path: Path, flags: tuple[str, ...], visible: bool
) -> None:
    # The official client shows a batched message only its own properties, not its entry's:
    # what docs/metrics-schema.md says about `--engine official`.
    official.require_official()
    n = 300
    produced = cli(broker, "produce", topic, "-r", "1000", "-m", str(n), *flags)
    assert produced.returncode == 0, produced.stdout + produced.stderr
    report = tmp_path / "official.json"
    consumed = subprocess.run(
        [str(official.official_python()), "-m", "pulsarload", "consume", topic, "--engine",
         "official", "--initial-position", "earliest", "-m", str(n), "-d", "120", "--headless",
         "-u", broker.service_url, "--admin-url", broker.admin_url, "--report", str(report)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert consumed.returncode == 0, consumed.stdout + consumed.stderr
    total = json.loads(report.read_text())["final"]["total"]
    assert (total["e2e_from_intended"], total["e2e_from_publish"]) == (
        (n, 0) if visible else (0, n)
    )
