"""Shutdown of a headless run: SIGINT or SIGTERM flushes, closes and prints the summary (and
writes the report); a second signal aborts at once (exit 130, what is known, no flush), even
while the first is still flushing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy

from pulsarload.client.urls import parse_service_url

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


def start_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PULSAR_", "PULSARLOAD_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "pulsarload", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**clean, **(env or {})},
    )


def read_until(
    proc: subprocess.Popen[str], lines: list[str], found: Callable[[str], bool], what: str
) -> None:
    """Read output lines until one satisfies `found` (the test's timeout bounds the wait)."""
    assert proc.stdout is not None
    while line := proc.stdout.readline():
        lines.append(line)
        if found(line):
            return
    raise AssertionError(f"never saw {what}: {''.join(lines)}")


def wait_running(proc: subprocess.Popen[str], lines: list[str]) -> None:
    """Until a status line shows traffic (the run is really under way)."""
    read_until(
        proc,
        lines,
        lambda line: ("produced" in line or "consumed" in line) and " 0 msg/s" not in line,
        "traffic",
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_one_signal_flushes_closes_and_prints_the_summary(
    broker: Any, make_topic: Callable[[str], str], tmp_path: Path, sig: signal.Signals
) -> None:
    report = tmp_path / "r.json"
    proc = start_cli(
        ["produce", make_topic("signal"), "--headless", "-u", broker.service_url,
         "--admin-url", broker.admin_url, "-r", "2000", "--report", str(report),
         "--stats-interval", "0.5"],
    )  # fmt: skip
    lines: list[str] = []
    try:
        wait_running(proc, lines)
        proc.send_signal(sig)
        # Flush (<= 10 s) + close + report; generous for a 2-core machine under heavy load
        # (one run under load ~20 took over 60 s here).
        out, err = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out = "".join(lines) + out
    assert proc.returncode == 0, out + err
    assert "Traceback" not in out + err
    assert "interrupted: stopping workers (flush, close)" in out
    assert "== producer summary" in out and "report written to" in out
    summary = json.loads(report.read_text())["meta"]["summary"]
    # Flushed: everything handed to the client was acknowledged before it closed.
    assert summary["acked"] == summary["sent"] > 0 and summary["failed"] == 0


def test_a_consumer_stops_on_sigint_with_its_summary(
    broker: Any, make_topic: Callable[[str], str], tmp_path: Path
) -> None:
    topic = make_topic("signal-consume")
    producer = start_cli(
        ["produce", topic, "--headless", "-u", broker.service_url, "-r", "500", "-d", "30"]
    )
    consumer = start_cli(
        ["consume", topic, "--headless", "-u", broker.service_url, "--stats-interval", "0.5",
         "--report", str(tmp_path / "c.json")],
    )  # fmt: skip
    lines: list[str] = []
    try:
        wait_running(consumer, lines)
        consumer.send_signal(signal.SIGINT)
        out, err = consumer.communicate(timeout=60)
    finally:
        for proc in (consumer, producer):
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert consumer.returncode == 0, out + err
    assert "== consumer summary" in out and "Traceback" not in out + err
    assert json.loads((tmp_path / "c.json").read_text())["meta"]["summary"]["received"] > 0


def test_a_second_signal_exits_at_once(
    broker: Any, make_topic: Callable[[str], str], tmp_path: Path
) -> None:
    """The broker goes silent, so the first signal's flush would wait for the send timeout;
    the second signal aborts at once: exit 130, the figures known so far, no report."""
    address = parse_service_url(broker.service_url).addresses[0]
    with FaultProxy((address.host, address.port)) as proxy:
        proc = start_cli(
            ["produce", make_topic("signal-twice"), "--headless", "-u", proxy.url, "-r", "1000",
             "--send-timeout-ms", "60000", "--stats-interval", "0.5",
             "--report", str(tmp_path / "r.json")],
        )  # fmt: skip
        lines: list[str] = []
        try:
            wait_running(proc, lines)
            proxy.stall()
            time.sleep(0.5)  # sends pile up behind the silent broker before the signal
            proc.send_signal(signal.SIGTERM)
            read_until(proc, lines, lambda line: "interrupted" in line, "the first signal taken")
            time.sleep(1)  # a chance to exit early (it must not: the flush is still waiting)
            assert proc.poll() is None, "the flush should still be waiting on the silent broker"
            proc.send_signal(signal.SIGINT)
            # at once: not after the 60 s send timeout the flush was waiting on (a hang here
            # is TimeoutExpired, a failure)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130, proc.returncode
    assert "aborted: exited without flushing" in out
    summary = out.split("aborted: exited without flushing")[1]
    assert "== producer summary" in summary and "sent " in summary, out
    assert "report written" not in out and "Traceback" not in out + err
    assert not (tmp_path / "r.json").exists()  # no report from an aborted run
    assert not list(tmp_path.iterdir())  # and no temp file either
