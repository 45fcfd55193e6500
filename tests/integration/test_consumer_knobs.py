"""Consumer knobs against the real broker: a short negative-ack delay makes a dead-letter run
take seconds; an ack timeout redelivers what is never acked; each worker its priority level."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pulsarload.client import Client
from pulsarload.config import ConsumeSettings, resolve_settings
from pulsarload.load.controller import LoadController
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]


def cli(broker: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSAR_", "PULSARLOAD_"))}
    return subprocess.run(
        [sys.executable, "-m", "pulsarload", *args, "--headless",
         "-u", broker.service_url, "--admin-url", broker.admin_url],
        capture_output=True, text=True, timeout=150, env=env, check=False,
    )  # fmt: skip


def report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())["meta"]


def test_dead_letters_arrive_in_seconds(
    broker: Any, make_topic: Callable[[str], str], tmp_path: Path
) -> None:
    """Every message nacked, redelivered after 200 ms (not the clients' 60 s), twice, then moved
    to the dead-letter topic: 30 messages in a run of a few seconds."""
    topic, dlq = make_topic("dlq"), make_topic("dlq-dead")
    sent = cli(broker, "produce", topic, "-m", "30", "-r", "300")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    nacking = cli(
        broker, "consume", topic, "--initial-position", "earliest", "--subscription-type",
        "shared", "--nack-ratio", "1", "--nack-redelivery-delay-ms", "200",
        "--max-redeliveries", "2", "--dlq-topic", dlq, "-d", "6",
        "--report", str(tmp_path / "n.json"),
    )  # fmt: skip
    assert nacking.returncode == 0, nacking.stdout + nacking.stderr
    t = report(tmp_path / "n.json")["summary"]
    assert t["received"] == 90  # each message: first delivery and two redeliveries
    dead = cli(broker, "consume", dlq, "--initial-position", "earliest", "-m", "30",
               "-d", "30", "--report", str(tmp_path / "d.json"))  # fmt: skip
    assert dead.returncode == 0, dead.stdout + dead.stderr
    assert report(tmp_path / "d.json")["summary"]["received"] == 30


def test_an_ack_timeout_redelivers_what_is_never_acked(
    broker: Any, make_topic: Callable[[str], str], tmp_path: Path
) -> None:
    topic = make_topic("ack-timeout")
    assert cli(broker, "produce", topic, "-m", "20", "-r", "200").returncode == 0
    got = cli(broker, "consume", topic, "--initial-position", "earliest", "--ack", "none",
              "--ack-timeout-ms", "1000", "-d", "4", "--report", str(tmp_path / "c.json"))  # fmt: skip
    assert got.returncode == 0, got.stdout + got.stderr
    summary = report(tmp_path / "c.json")["summary"]
    assert summary["received"] > 20  # redelivered after the timeout, again and again
    assert "redelivered" in got.stdout


def consumer_out_counts(broker: Any, topic: str, subscription: str) -> dict[str, int]:
    path = topic.replace("persistent://", "persistent/")
    with urllib.request.urlopen(f"{broker.admin_url}/admin/v2/{path}/stats", timeout=10) as r:
        stats = json.loads(r.read())
    consumers = stats["subscriptions"][subscription]["consumers"]
    return {c["consumerName"]: c["msgOutCounter"] for c in consumers}


def test_each_worker_subscribes_at_its_own_priority_level(
    broker: Any, make_topic: Callable[[str], str]
) -> None:
    """Shared subscription, worker 0 at level 0 and worker 1 at level 1: while worker 0 has
    permits the broker dispatches everything to it."""
    topic = make_topic("priority")
    settings = resolve_settings(
        ConsumeSettings,
        {"topic": topic, "service_url": broker.service_url, "admin_url": broker.admin_url,
         "threads": 2, "subscription_type": "shared", "consumer_name": "prio",
         "worker_priorities": ("0", "1"), "subscription": "prio-sub"},
        environ={},
    )  # fmt: skip
    c = LoadController("consumer", settings)
    c.start()
    try:
        eventually(
            lambda: len(consumer_out_counts_or_empty(broker, topic)) >= 2,
            60,
            "both consumers on the subscription",
            0.2,
        )
        client = Client(broker.service_url)
        try:
            producer = client.create_producer(topic)
            for i in range(200):
                producer.send(b"m%d" % i)
            producer.close()
        finally:
            client.close()
        eventually(
            lambda: sum(consumer_out_counts(broker, topic, "prio-sub").values()) >= 200,
            60,
            "200 messages dispatched",
            0.2,
        )
        assert consumer_out_counts(broker, topic, "prio-sub") == {"prio-0": 200, "prio-1": 0}
    finally:
        c.stop()


def consumer_out_counts_or_empty(broker: Any, topic: str) -> dict[str, int]:
    try:
        return consumer_out_counts(broker, topic, "prio-sub")
    except (OSError, KeyError):
        return {}
