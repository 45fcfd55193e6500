"""Run the official-client scripts of this folder from the test process (.venv).

The scripts need Apache's `pulsar-client`, which has no free-threaded build: they run under
`.venv-gil/bin/python` (or $PULSARLOAD_OFFICIAL_PYTHON). Tests skip, with the reason, when that
interpreter is missing or cannot import `pulsar`.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
RESULT_MARKER = "@@RESULT@@ "
REPO = HERE.parents[2]


def official_python() -> Path:
    return Path(
        os.environ.get("PULSARLOAD_OFFICIAL_PYTHON") or REPO / ".venv-gil" / "bin" / "python"
    )


@functools.cache
def _unavailable() -> str | None:
    py = official_python()
    if not py.exists():
        return f"{py} does not exist (make setup builds .venv-gil with pulsar-client)"
    try:
        proc = subprocess.run(
            [str(py), "-c", "import pulsar"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{py} cannot run: {err}"
    if proc.returncode != 0:
        return f"{py} cannot import pulsar: {proc.stderr.strip().splitlines()[-1:]}"
    return None


def official_unavailable() -> str | None:
    """Why the official client cannot run here, or None when it can."""
    return _unavailable()


def require_official() -> None:
    reason = _unavailable()
    if reason:
        pytest.skip(f"official client unavailable: {reason}")


def _run(script: str, *args: str, timeout: float) -> Any:
    require_official()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.run(
        [str(official_python()), str(HERE / script), *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        env=env,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    raise AssertionError(f"{script} printed no result line:\n{proc.stdout[-2000:]}")


def consume(
    service_url: str, topic: str, count: int, *, timeout: float = 60, linger: float = 1.0
) -> list[dict[str, Any]]:
    """What the official consumer receives from the earliest position (payloads decoded)."""
    got = _run(
        "official_consume.py",
        service_url,
        topic,
        str(count),
        "--timeout",
        str(timeout),
        "--linger",
        str(linger),
        timeout=timeout + linger + 60,
    )
    for item in got:
        if "data" in item:
            item["data"] = base64.b64decode(item["data"])
    return got


def produce(
    service_url: str, topic: str, count: int, compression: str, batching: bool
) -> list[str]:
    args = [service_url, topic, str(count), "--compression", compression]
    if batching:
        args.append("--batching")
    return _run("official_produce.py", *args, timeout=120)


def expected_official_payload(i: int) -> bytes:
    """What official_produce.py sends as message i (kept in step with that script)."""
    return (f"official-{i}-" + "pulsar interop text " * (5 + i % 7)).encode()


def produce_keyed(
    service_url: str, topic: str, count: int, keys: int, batching_type: str, *, sync: bool
) -> int:
    """Send `count` keyed messages with the official client, batching on (see the script)."""
    args = [service_url, topic, str(count), str(keys), "--batching-type", batching_type]
    if sync:
        args.append("--sync")
    return int(_run("official_produce_keyed.py", *args, timeout=180))
