"""`eventually`: the one way a test waits for something to become true.

Tests wait for a condition, never for a fixed time: on a loaded machine any fixed sleep is
either too short (a flaky test) or too long (a slow one). The timeout only bounds a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["eventually"]


def eventually(
    condition: Callable[[], object],
    timeout: float = 10.0,
    what: str = "the condition",
    interval: float = 0.01,
) -> None:
    """Poll `condition` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
