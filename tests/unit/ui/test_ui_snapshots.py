"""The layout, pinned: both dashboards at 80x24 and 160x48 from the fixed-data entry point.

`fixed_app` feeds deterministic snapshots (no broker, no clock) and turns cursor blinking off,
so a screenshot differs only when the drawing does. After an intended change, review the new
pictures and accept them with `pytest tests/unit/ui --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pulsarload.ui.fixed import fixed_app

Compare = Callable[..., bool]
NARROW = (80, 24)
WIDE = (160, 48)


@pytest.mark.parametrize("role", ["producer", "consumer"])
@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x48"])
def test_dashboard(snap_compare: Compare, role: str, size: tuple[int, int]) -> None:
    assert snap_compare(fixed_app(role), terminal_size=size)


def test_producer_help_overlay(snap_compare: Compare) -> None:
    assert snap_compare(fixed_app("producer"), press=["question_mark"], terminal_size=NARROW)


def test_producer_config_open_narrow(snap_compare: Compare) -> None:
    assert snap_compare(fixed_app("producer"), press=["c"], terminal_size=NARROW)


def test_producer_config_refused_in_place(snap_compare: Compare) -> None:
    press = ["c", "tab", "tab", "minus", "5", "enter", "_"]  # size = -5
    assert snap_compare(fixed_app("producer"), press=press, terminal_size=WIDE)


def test_consumer_seek_dialog(snap_compare: Compare) -> None:
    assert snap_compare(fixed_app("consumer"), press=["s"], terminal_size=NARROW)
