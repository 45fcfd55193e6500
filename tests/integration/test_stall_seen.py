"""A producer whose broker goes silent (a stalling proxy) is shown as stalled in the status
line and counted in the summary and the report; when the broker answers again it recovers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy

from pulsarload.client.urls import parse_service_url

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]


def test_a_silent_broker_shows_a_stalled_producer(
    broker: Any, make_topic: Callable[[str], str], tmp_path: Path
) -> None:
    address = parse_service_url(broker.service_url).addresses[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSAR_", "PULSARLOAD_"))}
    with FaultProxy((address.host, address.port)) as proxy:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pulsarload", "produce", make_topic("stall"), "--headless",
             "-u", proxy.url, "-r", "300", "-d", "20", "--stall", "1", "--stats-interval", "0.5",
             "--report", str(tmp_path / "r.json")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        lines: list[str] = []
        try:
            assert proc.stdout is not None
            while line := proc.stdout.readline():  # the test timeout bounds this
                lines.append(line)
                if "produced" in line and " 0 msg/s" not in line:
                    break
            proxy.stall(True)
            while line := proc.stdout.readline():
                lines.append(line)
                if "STALLED 1" in line:
                    break
            assert "STALLED 1" in lines[-1], "".join(lines)
            proxy.stall(False)
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    status = [line for line in out.splitlines() if line.startswith("[")]
    assert status and "STALLED" not in status[-1], out  # recovered once acks came back
    stalls = [line for line in out.splitlines() if line.startswith("stalls: ")]
    assert stalls and "producer-0 stalled: no acks for 1s" in stalls[0], out
    meta = json.loads((tmp_path / "r.json").read_text())["meta"]
    assert meta["summary"]["stalls"] >= 1 and meta["stalls"]
    assert proc.returncode == 0, err
