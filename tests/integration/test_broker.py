"""The broker is a real Apache Pulsar: pulsar-perf writes to it and its admin API counts it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from pulsarload.broker.perf import run_perf
from pulsarload.broker.standalone import admin_ready

pytestmark = pytest.mark.broker

AGGREGATED = re.compile(r"Aggregated throughput stats --- (\d+) records sent --- ([\d.]+) msg/s")


def topic_stats(admin_url: str, topic: str) -> dict:
    path = topic.removeprefix("persistent://")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{admin_url}/admin/v2/persistent/{path}/stats", timeout=10) as resp:
        return json.load(resp)


def test_status_says_ready(broker) -> None:
    assert admin_ready(broker.admin_url)
    if broker.local is not None:
        status = broker.local.status()
        assert status.running and status.ready and status.pid
        assert status.service_url == broker.service_url


def test_pulsar_perf_messages_are_counted_by_admin_api(broker, topic, tmp_path: Path) -> None:
    """pulsar-perf produces >= N messages; the broker's topic stats count exactly as many."""
    wanted = 2000
    out = tmp_path / "perf.log"
    with out.open("wb") as sink:
        code = run_perf(
            ["produce", "-r", "1000", "-m", str(wanted), topic],
            service_url=broker.service_url,
            admin_url=broker.admin_url,
            stdout=sink,
        )
    text = out.read_text(errors="replace")
    assert code == 0, text[-3000:]
    match = AGGREGATED.search(text)
    assert match, text[-3000:]
    sent = int(match.group(1))
    # pulsar-perf 4.0 counts acknowledged sends against -m, so a few more may be in flight
    # when it stops; the broker must have every one of them.
    assert sent >= wanted
    stats = topic_stats(broker.admin_url, topic)
    assert stats["msgInCounter"] == sent
    assert stats["bytesInCounter"] >= sent * 1024  # pulsar-perf's default payload is 1 KiB
    assert len(stats["publishers"]) == 0  # it closed its producer


def test_cli_perf_prints_pulsar_perf_stats(broker, make_topic) -> None:
    """`pulsarload perf produce -r 1000 -time 5 TOPIC` streams pulsar-perf's own stats."""
    pytest.importorskip("pulsarload.cli")
    topic = make_topic("cli-perf")
    env = {"PULSAR_BROKER_URL": broker.service_url, "PULSAR_ADMIN_URL": broker.admin_url}
    proc = subprocess.run(
        [sys.executable, "-c", "from pulsarload.cli import main; main()",
         "perf", "produce", "-r", "1000", "-time", "5", topic],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, **env},
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Aggregated latency stats" in out
    match = AGGREGATED.search(out)
    assert match, out[-3000:]
    assert int(match.group(1)) > 0
    assert topic_stats(broker.admin_url, topic)["msgInCounter"] == int(match.group(1))
