"""Redeliveries by reason over many processes: each shard's counts travel as JSON and the
merged stream's counts are their sums; a cluster consumer's report has them."""

from __future__ import annotations

import json

from pulsarload.cluster.merge import MergedSampler, ShardPart
from pulsarload.cluster.shard import merge_intervals
from pulsarload.metrics.snapshot import Counters, Snapshot


def _interval(seq: int, **reasons: int) -> Snapshot:
    counters = Counters(**{f"redelivered_{r}": n for r, n in reasons.items()})
    return Snapshot(
        seq=seq, time=0.0, elapsed=seq * 0.1, interval=0.1, counters=counters, rates={},
        latency={}, total=counters, total_latency={},
    )  # fmt: skip


def test_shards_counts_by_reason_add_up_in_the_merged_stream() -> None:
    parts = []
    for shard, intervals in enumerate(
        (
            [_interval(1, negative_ack=3), _interval(2, negative_ack=2, reconnect=1)],
            [_interval(1, ack_timeout=4, seek=2)],
        )
    ):
        report = json.loads(json.dumps(merge_intervals(intervals)))  # what travels
        parts.append(ShardPart.from_report(shard, report))
    sampler = MergedSampler({"role": "consumer", "engine": "native"})
    snap = sampler.publish(parts, ())
    assert snap.total.redeliveries_by_reason() == {
        "negative_ack": 5,
        "ack_timeout": 4,
        "reconnect": 1,
        "seek": 2,
        "requested": 0,
    }


def test_a_cluster_consumer_report_has_the_redeliveries() -> None:
    from pulsarload.cluster.controller import ClusterController
    from pulsarload.config import ConsumeSettings

    controller = ClusterController("consumer", ConsumeSettings(topic="t", cluster="local"))
    part = ShardPart.from_report(0, json.loads(json.dumps(merge_intervals([_interval(1, seek=3)]))))
    controller.sampler.publish([part], ())
    meta = controller.report_meta({}, [], None, [], {})
    assert meta["redeliveries"]["by_reason"]["seek"] == 3
    assert meta["redeliveries"]["reasons_known"] is True
