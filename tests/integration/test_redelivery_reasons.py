"""Redeliveries by reason against the real broker: a headless run with negative acks (short
delay) and one with an ack timeout report their counts per reason in the summary, the JSON
report and the CSV series; the native consumer counts a seek, a reconnect after an unload and
an explicit redelivery by what comes again."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from interop import official

from pulsarload.client import Client, Message, RedeliveryCounts, Timeout
from pulsarload.client.admin import AdminClient
from pulsarload.metrics.recorder import REDELIVERY_FIELDS, REDELIVERY_REASONS
from pulsarload.wire.message_id import EARLIEST
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]


def cli(broker: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSAR_", "PULSARLOAD_"))}
    return subprocess.run(
        [sys.executable, "-m", "pulsarload", *args, "--headless",
         "-u", broker.service_url, "--admin-url", broker.admin_url],
        capture_output=True, text=True, timeout=150, env=env, check=False,
    )  # fmt: skip


def consume_report(broker: Any, topic: str, tmp_path: Path, *flags: str) -> dict[str, Any]:
    """Run a headless consumer with `flags`; its report, stdout and CSV rows."""
    out = cli(
        broker, "consume", topic, "--initial-position", "earliest",
        "--report", str(tmp_path / "r.json"), "--export-dir", str(tmp_path / "x"), *flags,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    with open(tmp_path / "x" / "consumer-series.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {"meta": doc["meta"], "final": doc["final"], "stdout": out.stdout, "rows": rows}


def check_exports_agree(run: dict[str, Any]) -> dict[str, int]:
    """The report's counts by reason equal the final totals and the CSV columns' sums."""
    by_reason = run["meta"]["redeliveries"]["by_reason"]
    total = run["final"]["total"]
    for reason, field in zip(REDELIVERY_REASONS, REDELIVERY_FIELDS, strict=True):
        assert by_reason[reason] == total[field]
        assert sum(int(r[field]) for r in run["rows"]) == total[field], field
    assert run["meta"]["redeliveries"]["reasons_known"] is True
    return by_reason


def test_negative_acks_are_counted_as_such(
    broker: Any, make_topic: Callable[[str], str], tmp_path: Path
) -> None:
    """Every message nacked on a Shared subscription and sent back after 200 ms: the consumer
    counts each one it sends back, the broker's redelivery counts follow."""
    topic = make_topic("reasons-nack")
    sent = cli(broker, "produce", topic, "-m", "30", "-r", "300")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    run = consume_report(
        broker, topic, tmp_path, "--subscription-type", "shared", "--nack-ratio", "1",
        "--nack-redelivery-delay-ms", "200", "-d", "4",
    )  # fmt: skip
    by_reason = check_exports_agree(run)
    summary, again = run["meta"]["summary"], run["meta"]["redeliveries"]["received_again"]
    nacked = run["final"]["total"]["nacked"]
    assert by_reason["negative_ack"] >= 30  # at least the first round went back
    # Sent back after being nacked, and received again after being sent back.
    assert again <= by_reason["negative_ack"] <= nacked
    assert summary["received"] == 30 + again
    assert {r: n for r, n in by_reason.items() if r != "negative_ack"} == dict.fromkeys(
        ("ack_timeout", "reconnect", "seek", "requested"), 0
    )
    line = next(x for x in run["stdout"].splitlines() if x.startswith("redelivered by reason:"))
    assert f"negative ack {by_reason['negative_ack']:,}" in line


def test_an_ack_timeout_is_counted_as_such(
    broker: Any, make_topic: Callable[[str], str], tmp_path: Path
) -> None:
    """Nothing acked, a 1 s ack timeout: every message taken comes back, counted under
    ack_timeout and nothing else."""
    topic = make_topic("reasons-timeout")
    assert cli(broker, "produce", topic, "-m", "20", "-r", "200").returncode == 0
    run = consume_report(broker, topic, tmp_path, "--ack", "none", "--ack-timeout-ms", "1000",
                         "-d", "4")  # fmt: skip
    by_reason = check_exports_agree(run)
    assert by_reason["ack_timeout"] >= 20  # each message timed out at least once
    assert run["meta"]["summary"]["received"] > 20  # and came again
    assert by_reason["negative_ack"] == by_reason["reconnect"] == by_reason["seek"] == 0
    assert "ack timeout" in run["stdout"]


# --- the client alone ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(broker: Any) -> Iterator[Client]:
    c = Client(broker.service_url, operation_timeout_seconds=30, initial_backoff_interval_ms=50)
    yield c
    c.close()


def produce(client: Client, topic: str, n: int) -> None:
    producer = client.create_producer(topic, batching_enabled=False)
    for i in range(n):
        producer.send(f"m{i}".encode())
    producer.close()


def take(consumer: Any, n: int) -> list[Message]:
    out: list[Message] = []
    deadline = time.monotonic() + 20
    while len(out) < n and time.monotonic() < deadline:
        with contextlib.suppress(Timeout):
            out.append(consumer.receive(timeout_millis=1000))
    return out


def only(counts: RedeliveryCounts, **expected: int) -> dict[str, int]:
    assert counts.as_dict() == {r: expected.get(r, 0) for r in REDELIVERY_REASONS}
    return counts.as_dict()


def test_a_seek_back_counts_what_comes_again(client: Client, make_topic: Any) -> None:
    topic = make_topic("reasons-seek")
    produce(client, topic, 10)
    c = client.subscribe(topic, "s", initial_position="earliest")
    assert len(take(c, 10)) == 10
    c.seek(EARLIEST)
    again = take(c, 10)
    assert [m.data() for m in again] == [f"m{i}".encode() for i in range(10)]
    for m in again:
        c.acknowledge(m)
    only(c.redelivery_counts(), seek=10)
    c.close()


def test_a_reconnect_after_an_unload_counts_the_unacked_that_come_again(
    client: Client, make_topic: Any, broker: Any
) -> None:
    topic = make_topic("reasons-unload")
    produce(client, topic, 10)
    c = client.subscribe(topic, "s", initial_position="earliest", ack_grouping_time_ms=0)
    got = take(c, 10)
    for m in got[:6]:
        c.acknowledge(m)
    with AdminClient(broker.admin_url) as admin:
        http = httpx.Client(base_url=admin.base, timeout=30, trust_env=False)
        resp = http.put(f"{admin.topic_path(topic)}/unload")
        http.close()
    assert resp.status_code in (200, 204), resp.text
    again = take(c, 4)
    assert [m.data() for m in again] == [f"m{i}".encode() for i in range(6, 10)]
    only(c.redelivery_counts(), reconnect=4)
    c.close()


def test_an_explicit_redelivery_counts_as_requested(client: Client, make_topic: Any) -> None:
    topic = make_topic("reasons-requested")
    produce(client, topic, 5)
    c = client.subscribe(topic, "s", initial_position="earliest")
    assert len(take(c, 5)) == 5
    c.redeliver_unacknowledged_messages()
    assert len(take(c, 5)) == 5
    eventually(lambda: c.redelivery_counts().requested == 5, what="5 counted as requested")
    only(c.redelivery_counts(), requested=5)
    c.close()


def test_the_official_engine_says_the_reasons_are_not_known(
    broker: Any, make_topic: Callable[[str], str], tmp_path: Path
) -> None:
    """Its client redelivers the nacked messages, but does not say why: the report has no
    counts by reason (null, not zeros) and the summary says so."""
    official.require_official()
    topic = make_topic("reasons-official")
    assert cli(broker, "produce", topic, "-m", "20", "-r", "200").returncode == 0
    report = tmp_path / "official.json"
    consumed = subprocess.run(
        [str(official.official_python()), "-m", "pulsarload", "consume", topic, "--engine",
         "official", "--initial-position", "earliest", "--subscription-type", "shared",
         "--nack-ratio", "1", "--nack-redelivery-delay-ms", "200", "-d", "4", "--headless",
         "-u", broker.service_url, "--admin-url", broker.admin_url, "--report", str(report)],
        capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert consumed.returncode == 0, consumed.stdout + consumed.stderr
    meta = json.loads(report.read_text())["meta"]
    assert meta["redeliveries"]["reasons_known"] is False
    assert meta["redeliveries"]["by_reason"] is None
    assert meta["redeliveries"]["received_again"] > 0  # it did redeliver
    assert "redelivered by reason: not known (the official client" in consumed.stdout
