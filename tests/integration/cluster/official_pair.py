"""The reference beside our client under faults: `pulsarload produce` and `consume` with
`--engine official` (Apache's C++ client), run headless under the GIL build with `--verify`.

The consumer subscribes first (from the earliest message); the producer sends a bounded count;
once the producer has exited and the subscription's backlog is empty, the consumer gets a
SIGINT (a clean end with its report). The producer's report says what it sent, the consumer's
what arrived, which is missing and which came twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from interop.official import REPO, official_python, require_official

from pulsarload.client.topics import TopicName


@dataclass(frozen=True)
class OfficialResult:
    sent: int
    failed: float
    verify: dict[str, Any]
    consumer_output: str


class OfficialPair:
    def __init__(
        self, service_url: str, admin_url: str, topic: str, workdir: Path, *, messages: int,
        rate: float,
    ) -> None:  # fmt: skip
        require_official()
        self.topic = topic
        self.admin_url = admin_url
        self.workdir = workdir
        self.messages = messages
        self.rate = rate
        self.common = ["-u", service_url, "--admin-url", admin_url, "--engine", "official",
                       "--headless", "--verify"]  # fmt: skip
        self.env = {
            k: v for k, v in os.environ.items()
            if not k.lower().endswith("_proxy") and k != "PYTHON_GIL"
        }  # fmt: skip
        self.env["PYTHONPATH"] = str(REPO / "src")
        self.producer: subprocess.Popen[str] | None = None
        self.consumer: subprocess.Popen[str] | None = None

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[str]:
        out = (self.workdir / f"{name}.out").open("w")
        return subprocess.Popen(
            [str(official_python()), "-m", "pulsarload", *args, *self.common],
            stdout=out, stderr=subprocess.STDOUT, text=True, env=self.env,
        )  # fmt: skip

    def _stats(self) -> dict[str, Any] | None:
        t = TopicName.parse(self.topic)
        try:
            resp = httpx.get(
                f"{self.admin_url}/admin/v2/persistent/{t.tenant}/{t.namespace}/"
                f"{t.local_name}/stats", follow_redirects=True, timeout=10,
            )  # fmt: skip
        except httpx.HTTPError:
            return None
        return resp.json() if resp.status_code == 200 else None

    def _subscribed(self) -> bool:
        stats = self._stats()
        sub = (stats or {}).get("subscriptions", {}).get("pulsarload-sub")
        return bool(sub and sub.get("consumers"))

    def start(self, timeout: float = 120) -> None:
        self.consumer = self._spawn(
            "consumer",
            ["consume", self.topic, "--initial-position", "earliest", "-d", "600",
             "--report", str(self.workdir / "consumer.json")],
        )  # fmt: skip
        _wait(self._subscribed, timeout, "the official consumer to subscribe", self.consumer)
        self.producer = self._spawn(
            "producer",
            ["produce", self.topic, "-m", str(self.messages), "-r", str(self.rate), "-s", "200",
             "--send-timeout-ms", "0", "--report", str(self.workdir / "producer.json")],
        )  # fmt: skip

    def finish(self, timeout: float = 240) -> OfficialResult:
        assert self.producer is not None and self.consumer is not None
        self.producer.wait(timeout=timeout)
        produced = _report(self.workdir / "producer.json", self.workdir / "producer.out")

        def drained() -> bool:
            sub = ((self._stats() or {}).get("subscriptions") or {}).get("pulsarload-sub")
            return sub is not None and sub.get("msgBacklog") == 0

        with contextlib.suppress(TimeoutError):
            _wait(drained, 120, "the official consumer to drain the topic", self.consumer)
        time.sleep(1.0)  # the last acks
        self.consumer.send_signal(signal.SIGINT)
        self.consumer.wait(timeout=60)
        consumed = _report(self.workdir / "consumer.json", self.workdir / "consumer.out")
        sent = sum(int(v) for v in produced["meta"]["verify_sent"].values())
        return OfficialResult(
            sent=sent,
            failed=produced["meta"]["summary"].get("failed", 0.0),
            verify=consumed["meta"]["verify"],
            consumer_output=(self.workdir / "consumer.out").read_text()[-3000:],
        )

    def abort(self) -> None:
        for proc in (self.producer, self.consumer):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def _wait(condition: Any, timeout: float, what: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"gave up waiting for {what}: the process exited")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.5)


def _report(path: Path, output: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise AssertionError(f"no report {path} ({err}):\n{output.read_text()[-3000:]}") from None
