"""The consumer side of the load engine against the real broker, and end-to-end verification."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.waiting import eventually

pytest.importorskip("pulsarload.engines.native_consumer")
pytestmark = pytest.mark.broker


def cli(broker, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pulsarload",
            *args,
            "--headless",
            "-u",
            broker.service_url,
            "--admin-url",
            broker.admin_url,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_verify_finds_nothing_missing_end_to_end(broker, topic: str, tmp_path: Path) -> None:
    produced = cli(
        broker,
        "produce",
        topic,
        "--verify",
        "-m",
        "4000",
        "-r",
        "4000",
        "-t",
        "2",
        "--report",
        str(tmp_path / "p.json"),
    )
    assert produced.returncode == 0, produced.stdout + produced.stderr
    consumed = cli(
        broker,
        "consume",
        topic,
        "--verify",
        "--verify-against",
        str(tmp_path / "p.json"),
        "--initial-position",
        "earliest",
        "-m",
        "4000",
        "-t",
        "2",
        "--subscription-type",
        "shared",
        "--report",
        str(tmp_path / "c.json"),
        "--threshold",
        "missing<1",
    )
    assert consumed.returncode == 0, consumed.stdout + consumed.stderr
    verify = json.loads((tmp_path / "c.json").read_text())["meta"]["verify"]
    assert verify == {**verify, "missing": 0, "duplicates": 0, "unique": 4000, "producers": 2}


def test_verify_reports_what_the_consumer_never_saw(broker, topic: str, tmp_path: Path) -> None:
    cli(
        broker,
        "produce",
        topic,
        "--verify",
        "-m",
        "1000",
        "-r",
        "5000",
        "--report",
        str(tmp_path / "p.json"),
    )
    consumed = cli(
        broker,
        "consume",
        topic,
        "--verify",
        "--verify-against",
        str(tmp_path / "p.json"),
        "--initial-position",
        "earliest",
        "-m",
        "600",
        "--threshold",
        "missing<1",
    )
    assert consumed.returncode == 1, consumed.stdout + consumed.stderr
    assert "missing 400" in consumed.stdout


@pytest.mark.parametrize("ack", ["immediate", "cumulative", "delayed", "grouped"])
def test_ack_strategies_leave_no_backlog(broker, topic: str, ack: str, tmp_path: Path) -> None:
    cli(broker, "produce", topic, "-m", "500", "-r", "5000")
    consumed = cli(
        broker,
        "consume",
        topic,
        "--initial-position",
        "earliest",
        "-m",
        "500",
        "--ack",
        ack,
        "--ack-delay-ms",
        "50",
        "--subscription",
        "s-" + ack,
    )
    assert consumed.returncode == 0, consumed.stdout + consumed.stderr
    from pulsarload.client.admin import AdminClient

    with AdminClient(broker.admin_url) as admin:

        def backlog() -> dict[str, int]:
            return {b.subscription: b.backlog for b in admin.backlog(topic)}

        eventually(lambda: backlog().get("s-" + ack) == 0, 20, f"no backlog on s-{ack}", 0.5)
