"""Produce and consume: the same program on the official client and on ours."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


def test_produce_consume(compat) -> None:
    out = compat.run("scenarios_basic:produce_consume", count=10)
    assert out["sent"] == 10 and out["distinct_ids"] == 10
    assert [m["data"] for m in out["received"]] == [f"m-{i}" for i in range(10)]
    assert [m["properties"] for m in out["received"]] == [{"i": str(i)} for i in range(10)]
    assert [m["key"] for m in out["received"]] == [f"k{i}" for i in range(10)]
    assert {m["topic"] for m in out["received"]} == {out["topic"]}
    assert {m["redelivery_count"] for m in out["received"]} == {0}
