"""The common API: the official client and ours run the same programs."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


def test_send_async_callbacks(compat: Any) -> None:
    out = compat.run("scenarios_common:send_async_callbacks")
    assert out["ok"] == [True] * 20 and out["distinct_ids"] == 20


def test_keys_properties_event_time_replication(compat: Any) -> None:
    msgs = compat.run("scenarios_common:message_fields")["messages"]
    assert [m["data"] for m in msgs] == ["a", "b", "c"]
    assert msgs[0]["properties"] == {"x": "1", "y": "2"} and msgs[0]["key"] == "key-a"
    assert msgs[0]["event_timestamp"] == 1_700_000_000_123
    assert [m["event_timestamp"] for m in msgs[1:]] == [0, 0]
    assert all(m["publish_recent"] and m["topic"] for m in msgs)


def test_acks_of_every_kind(compat: Any) -> None:
    out = compat.run("scenarios_common:acks_of_every_kind")
    # Exclusive: the broker keeps no redelivery count there (Shared ones do).
    assert out["nacked_again"] == ["m-6", 0]
    assert out["left_for_next_consumer"] == ["m-7", "m-8", "m-9"]


def test_batch_receive(compat: Any) -> None:
    out = compat.run("scenarios_common:batch_receive_default")
    assert out["received"] == [f"m-{i}" for i in range(12)]
    assert 1 <= out["max_batch"] <= 5


def test_consumer_seek_by_time(compat: Any) -> None:
    assert compat.run("scenarios_common:consumer_seek_by_time")["after_seek"] == "m-3"


def test_partitioned_topic_and_topic_list(compat: Any, make_partitioned: Any) -> None:
    topic = make_partitioned(3)
    out = compat.run("scenarios_common:partitioned_topic", topic=topic)
    assert out["partitions"] == [f"{topic}-partition-{i}" for i in range(3)]
    assert out["received"] == sorted(f"m-{i}" for i in range(30))
    assert out["partitions_per_key"] == [1] * 5  # one key, one partition
    assert set(out["topics_seen"]) <= set(out["partitions"])


def test_subscribe_to_a_list_of_topics(compat: Any) -> None:
    out = compat.run("scenarios_common:multi_topic_list")
    assert out["received"] == out["expected"]
