"""Against the real local broker: a run stops cleanly with one line when the disk is below the
floor, and the namespace bound that `broker start` sets is what the broker then reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from pulsarload.broker.disk import GIB, bound_local_namespace
from pulsarload.config import LOCAL_BACKLOG_QUOTA_MB, LOCAL_MESSAGE_TTL_S, cache_dir

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]


def admin(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def test_a_run_stops_before_the_local_disk_is_full(
    broker: Any, make_topic: Callable[[str], str]
) -> None:
    free_gib = shutil.disk_usage(cache_dir() if cache_dir().exists() else "/").free / GIB
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSAR_", "PULSARLOAD_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pulsarload", "produce", make_topic("disk-floor"), "--headless",
         "-u", broker.service_url, "--admin-url", broker.admin_url, "-r", "200", "-d", "120",
         "--disk-min-free-gib", f"{free_gib + 50:.0f}"],
        capture_output=True, text=True, timeout=150, env=env, check=False,
    )  # fmt: skip
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reasons = [line for line in out.splitlines() if line.startswith("stopped: only ")]
    assert len(reasons) == 1, out
    assert "bookie would stop accepting writes" in reasons[0]
    assert "== producer summary" in out
    elapsed = float(out.split("== producer summary (")[1].split("s measured")[0])
    assert elapsed < 120  # stopped by the guard, long before its duration


def test_the_local_namespace_bound_is_what_the_broker_reports(broker: Any) -> None:
    namespace = f"public/pulsarload-bound-{uuid.uuid4().hex[:8]}"
    base = f"{broker.admin_url.rstrip('/')}/admin/v2/namespaces/{namespace}"
    admin("PUT", base)
    try:
        lines = bound_local_namespace(broker.admin_url, namespace)
        assert len(lines) == 1 and namespace in lines[0]
        assert admin("GET", base + "/retention") == {
            "retentionTimeInMinutes": 0,
            "retentionSizeInMB": 0,
        }
        assert admin("GET", base + "/messageTTL") == LOCAL_MESSAGE_TTL_S
        quota = admin("GET", base + "/backlogQuotaMap")["destination_storage"]
        assert quota["limitSize"] == LOCAL_BACKLOG_QUOTA_MB * 1024 * 1024
        assert quota["policy"] == "consumer_backlog_eviction"
    finally:
        admin("DELETE", base)


def test_a_refused_policy_is_named(broker: Any) -> None:
    with pytest.raises(OSError, match="public/no-such-namespace-x: setting the retention"):
        bound_local_namespace(broker.admin_url, "public/no-such-namespace-x")
