"""Redelivery under a dead-letter policy: the official client and ours, same program.

A consumer that never acknowledges and asks for redelivery after every message (by
`redeliver_unacknowledged_messages()` or by negative acks) sees each message
max_redeliver_count + 1 times; then the message moves to the dead-letter topic with the
official properties, and nothing more is delivered: no redelivery storm on the broker.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

COUNT, MAX_REDELIVER = 10, 5


@pytest.mark.parametrize("mode", ["redeliver", "nack"])
def test_dead_letter_policy_bounds_redelivery(compat: Any, mode: str) -> None:
    out = compat.run(
        "scenarios_redelivery:dead_letter_loop",
        mode=mode,
        count=COUNT,
        max_redeliver=MAX_REDELIVER,
        seconds=12,
    )
    sent = [f"m-{i}" for i in range(COUNT)]
    # Never more than the policy allows, whatever the loop keeps asking for.
    assert out["max_redelivery_count"] <= MAX_REDELIVER
    assert out["deliveries"] <= COUNT * (MAX_REDELIVER + 1)
    assert len(out["moved"]) >= COUNT
    if compat.name == "official":
        # 3.13.0 in this tight loop now and then dead-letters a message twice, one
        # redelivery early, or hands out a garbled payload (docs/client.md): limits only.
        return
    assert sorted({m["data"] for m in out["moved"]}) == sorted(sent)
    for m in out["moved"]:
        i = m["data"].removeprefix("m-")
        assert m["properties"]["i"] == i and m["key"] == f"k{i}"
        assert m["properties"]["REAL_TOPIC"] == out["topic"]
        assert re.fullmatch(r"\(\d+,\d+,-1,-1\)", m["properties"]["ORIGIN_MESSAGE_ID"])
    # Exactly the policy: every message seen max + 1 times, moved once.
    assert out["per_message"] == {m: MAX_REDELIVER + 1 for m in sent}
    assert len(out["moved"]) == COUNT
