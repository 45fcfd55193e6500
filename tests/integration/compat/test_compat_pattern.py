"""Regex subscriptions: the official client and ours, same program."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


def test_regex_subscription_mode_decides_the_domain(compat: Any) -> None:
    out = compat.run("scenarios_pattern:pattern_modes")
    both = ["non-persistent", "persistent"]
    expected = {"persistent_only": ["persistent"], "non_persistent_only": ["non-persistent"],
                "all_topics": both}  # fmt: skip
    for mode, kinds in expected.items():
        # With or without a domain in the pattern: the mode decides, not the domain.
        assert out[f"{mode}/bare"] == kinds, (mode, out)
        assert out[f"{mode}/with_domain"] == kinds, (mode, out)
