"""`--peek N` headless: a sample of the messages a consumer received from the real broker,
with their ids, keys, properties, times, redelivery counts, sizes and payload previews."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSAR_", "PULSARLOAD_"))}
    return subprocess.run(
        [sys.executable, "-m", "pulsarload", *args],
        capture_output=True, text=True, timeout=150, env=env, check=False,
    )  # fmt: skip


def test_peek_prints_a_sample_of_received_messages(
    broker: Any, make_topic: Callable[[str], str], tmp_path: Path
) -> None:
    topic = make_topic("peek")
    where = ["-u", broker.service_url, "--admin-url", broker.admin_url]
    sent = cli("produce", topic, "--headless", *where, "-m", "60", "-r", "100",
               "--key-mode", "sequential", "--property", "origin=peek-test",
               "--payload", "sequential", "-s", "20")  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    got = cli("consume", topic, "--headless", *where, "--initial-position", "earliest",
              "-m", "60", "--peek", "3", "--report", str(tmp_path / "c.json"))  # fmt: skip
    assert got.returncode == 0, got.stdout + got.stderr
    out = got.stdout.splitlines()
    head = [i for i, line in enumerate(out) if line.startswith("peek: ")]
    assert len(head) == 1, got.stdout
    count = int(out[head[0]].split()[1])
    assert 1 <= count <= 3  # sampled (one per thread per half second), not every message
    samples = out[head[0] + 1 : head[0] + 1 + count]
    for line in samples:
        assert re.match(
            # plt: the intended send time a pulsarload producer stamps
            r"  \d+:\d+:-?\d+(:\d+)? key=key-\d+ props=origin=peek-test(,plt=\d+)? publish=\d{13} "
            r"event=- redeliveries=0 size=20 text: \d+", line
        ), line  # fmt: skip
    meta = json.loads((tmp_path / "c.json").read_text())["meta"]
    assert len(meta["peek"]) == count and meta["peek"][0]["properties"]["origin"] == "peek-test"
