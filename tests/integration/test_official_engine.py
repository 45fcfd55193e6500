"""`--engine official` end to end from the GIL build's CLI: a bounded run that exits 0 with its
summary, and without the C++ client's INFO chatter burying the status lines."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import httpx
import pytest
from interop.official import official_python, require_official

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


def test_a_headless_official_run_is_quiet_and_complete(broker: Any, make_topic: Any) -> None:
    require_official()
    topic = make_topic("official-cli")
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    try:
        proc = subprocess.run(
            [str(official_python()), "-m", "pulsarload", "produce", topic, "--engine", "official",
             "--headless", "-u", broker.service_url, "--admin-url", broker.admin_url,
             "-r", "1000", "-m", "500", "-s", "100"],
            capture_output=True, text=True, timeout=90, env=env,
        )  # fmt: skip
    finally:
        name = topic.split("://", 1)[1]
        httpx.delete(f"{broker.admin_url}/admin/v2/persistent/{name}", params={"force": "true"},
                     timeout=30)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "acked 500" in proc.stdout
    # The C++ client writes its log to stdout, between our status lines.
    chatter = [line for line in (proc.stdout + proc.stderr).splitlines() if " INFO " in line]
    assert not chatter, chatter[:3]
