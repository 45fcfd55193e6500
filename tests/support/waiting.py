"""`eventually`: the one way a test waits for something to become true.

Tests wait for a condition, never for a fixed time: on a loaded machine any fixed sleep is
either too short (a flaky test) or too long (a slow one). The timeout only bounds a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.pilot import Pilot

__all__ = ["eventually", "eventually_in_app"]


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


async def eventually_in_app(
    pilot: Pilot,
    condition: Callable[[], object],
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> None:
    """`eventually` inside a running Textual app: the pilot's pause lets the app run (and
    draw) between looks."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(interval)
