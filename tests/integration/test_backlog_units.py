"""The consumer panel's backlog against the real broker: entries, per partition.

The broker's `msgBacklog` counts entries: a batch of many messages is one. The panel shows
that figure per partition and says entries; these tests pin down what the broker reports for
batched and unbatched producers, so that the panel's label stays true.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pulsarload.client import Client, MessageId, Result
from pulsarload.client.admin import AdminClient
from pulsarload.config import ConsumeSettings
from pulsarload.ui.app import admin_backlog
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]

PARTITIONS = 2
SUBSCRIPTION = "backlog-sub"


def _produce(client: Client, topic: str, count: int, **producer_args: Any) -> list[MessageId]:
    producer = client.create_producer(topic, **producer_args)
    ids: list[MessageId] = []
    failed: list[Result] = []

    def done(result: Result, msg_id: MessageId | None) -> None:
        if result == Result.Ok and msg_id is not None:
            ids.append(msg_id)
        else:
            failed.append(result)

    for i in range(count):
        producer.send_async(f"m{i}".encode(), done)
    producer.flush(60)
    producer.close()
    assert not failed and len(ids) == count
    return ids


def _entries_per_partition(ids: list[MessageId]) -> dict[int, int]:
    entries: dict[int, set[tuple[int, int]]] = {}
    for m in ids:
        entries.setdefault(m.partition, set()).add((m.ledger_id, m.entry_id))
    return {p: len(e) for p, e in entries.items()}


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_backlog_is_entries_per_partition(broker: Any, make_topic: Any, batched: bool) -> None:
    topic = make_topic("backlog")
    settings = ConsumeSettings(
        topic=topic,
        service_url=broker.service_url,
        admin_url=broker.admin_url,
        subscription=SUBSCRIPTION,
    )
    with AdminClient.for_settings(settings) as admin:
        admin.create_partitioned_topic(topic, PARTITIONS)
    with Client(broker.service_url, operation_timeout_seconds=30) as client:
        # The subscription exists (at the end of the topic) before anything is produced.
        client.subscribe(topic, SUBSCRIPTION).close()
        args: dict[str, Any] = {"batching_enabled": batched}
        if batched:
            args.update(batching_max_messages=25, batching_max_publish_delay_ms=200)
        ids = _produce(client, topic, 200, **args)
    expected = _entries_per_partition(ids)
    assert set(expected) == set(range(PARTITIONS)), "both partitions got messages"
    if batched:
        assert sum(expected.values()) < len(ids)  # batches: fewer entries than messages
    else:
        assert sum(expected.values()) == len(ids)

    fetch = admin_backlog(SimpleNamespace(settings=settings), timeout_s=10.0)
    last: list[Any] = []

    def backlog_as_expected() -> bool:
        view = fetch()
        assert view.state == "ok", view.error
        last[:] = [view, {int(r.partition.rsplit("-", 1)[1]): r.backlog for r in view.rows}]
        return last[1] == expected

    # The broker's stats lag the writes a little.
    eventually(backlog_as_expected, 60, f"the backlog per partition to be {expected}", 0.5)
    view = last[0]
    assert {r.subscription for r in view.rows} == {SUBSCRIPTION}
