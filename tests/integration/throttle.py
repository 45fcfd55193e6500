"""A namespace whose topics the broker throttles to a known publish rate (`publishRate`
policy): a capacity the search must find that is set by the broker, not by how busy this
shared machine is."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import httpx


@contextlib.contextmanager
def throttled_namespace(admin_url: str, limit: int) -> Iterator[str]:
    """A fresh namespace throttled to `limit` msg/s per topic; deleted with its topics after."""
    ns = f"public/cap-{uuid.uuid4().hex[:8]}"
    base = f"{admin_url}/admin/v2/namespaces/{ns}"
    with httpx.Client(timeout=30) as http:
        assert http.put(base).status_code in (200, 204)
        rate = {"publishThrottlingRateInMsg": limit, "publishThrottlingRateInByte": -1}
        assert http.post(f"{base}/publishRate", json=rate).status_code in (200, 204)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # policies reach the broker through a system topic
            got = http.get(f"{base}/publishRate")
            if got.status_code == 200 and got.json().get("publishThrottlingRateInMsg") == limit:
                break
            time.sleep(0.5)
        try:
            yield ns
        finally:
            for t in http.get(f"{admin_url}/admin/v2/persistent/{ns}").json():
                http.delete(
                    f"{admin_url}/admin/v2/{t.replace('://', '/')}", params={"force": "true"}
                )
            http.delete(base, params={"force": "true"})
