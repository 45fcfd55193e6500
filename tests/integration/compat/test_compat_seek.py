"""Seeks and readers: the official client and ours, same program."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


@pytest.mark.parametrize("batched", [False, True], ids=["single", "batched"])
def test_consumer_seek_by_id_resumes_after_the_id(compat: Any, batched: bool) -> None:
    out = compat.run("scenarios_seek:consumer_seek_by_id", count=10, at=4, batched=batched)
    assert out["after_seek"] == ["m-5", "m-6"]


def test_partitioned_seek_by_id(compat: Any, make_partitioned: Any) -> None:
    topic = make_partitioned(3)
    out = compat.run("scenarios_seek:partitioned_seek_by_id", topic=topic, count=10)
    assert out["seek"] == "ok"
    assert out["after_seek"] == "m-4"


@pytest.mark.parametrize("inclusive", [False, True], ids=["exclusive", "inclusive"])
def test_reader_after_seek(compat: Any, inclusive: bool) -> None:
    out = compat.run("scenarios_seek:reader_seek", count=10, inclusive=inclusive)
    assert out["first"] == "m-0"
    assert out["at_end_has_message"] is False
    # Right after a seek the reader answers (it waits for its re-subscription).
    assert out["has_message_after_seek_id"] == {"ok": True}
    assert out["has_message_after_seek_time"] == {"ok": True}
    # A reader keeps its start_message_id_inclusive rule for seeks by id.
    assert out["next_after_seek_id"] == ("m-4" if inclusive else "m-5")
    # By time: the first message published at or after it.
    assert out["next_after_seek_time"] == "m-7"
