"""Frames, history and per-viewer queues: a late viewer gets the history, a viewer that does
not read holds at most its queue's worth of frames, and the others are not held back."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from web_fake import FakeController

from pulsarload.web.hub import SnapshotHub, TooManyViewers, ViewerQueue
from pulsarload.web.page_frames import ROW_COLUMNS


def events(data: bytes) -> list[tuple[str, dict]]:
    out = []
    for block in data.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_a_full_queue_drops_to_the_newest() -> None:
    async def scenario() -> tuple[list[bytes | None], int]:
        q = ViewerQueue(4)
        for i in range(100):
            q.put(b"%d" % i)
        assert len(q) <= 4
        got = [await q.get() for _ in range(len(q))]
        q.close()
        got.append(await q.get())
        return got, q.dropped

    got, dropped = asyncio.run(scenario())
    assert got[-2] == b"99"  # the newest is never dropped
    assert got[-1] is None  # closed and empty
    assert dropped + len(got) - 1 == 100


def test_late_viewer_gets_the_history_and_the_latest_frame() -> None:
    controller = FakeController("producer", rate=500.0)
    hub = SnapshotHub(controller, history_s=60, queue_size=8, max_viewers=2)
    snaps = [controller.tick() for _ in range(30)]
    for snap in snaps:
        hub.publish(snap)
    queue, first = hub.open_viewer()
    (kind, history), (frame_kind, frame) = events(first)
    assert kind == "history" and frame_kind == "frame"
    assert history["columns"] == list(ROW_COLUMNS)
    assert len(history["data"]["t"]) == 30
    assert history["data"]["target"] == [500.0] * 30
    assert frame["seq"] == snaps[-1].seq and frame["target"] == 500.0
    assert frame["state"] == "running" and frame["threads"] == 2
    assert len(queue) == 0


def test_history_is_bounded_and_a_reset_starts_it_over() -> None:
    controller = FakeController()
    hub = SnapshotHub(controller, history_s=60, queue_size=8, max_viewers=2)  # 600 rows
    base = controller.tick()
    for i in range(700):
        hub.publish(dataclasses.replace(base, seq=i, elapsed=float(i)))
    assert len(hub.history) == 600
    hub.publish(dataclasses.replace(base, seq=701, elapsed=0.05))  # elapsed went back: reset
    assert len(hub.history) == 1


def test_stalled_viewer_holds_a_bounded_queue_and_others_keep_up() -> None:
    controller = FakeController()
    hub = SnapshotHub(controller, history_s=60, queue_size=5, max_viewers=3)
    stalled, _ = hub.open_viewer()
    reader, _ = hub.open_viewer()
    base = controller.tick()
    seen = []
    for i in range(200):
        hub.publish(dataclasses.replace(base, seq=i))
        while len(reader):
            seen.append(reader._items.popleft())
        assert len(stalled) <= 5
    assert stalled.dropped >= 195
    assert len(seen) == 200
    assert events(seen[-1])[0][1]["seq"] == 199


def test_viewer_slots_are_bounded() -> None:
    hub = SnapshotHub(FakeController(), history_s=60, queue_size=5, max_viewers=1)
    q, _ = hub.open_viewer()
    with pytest.raises(TooManyViewers):
        hub.open_viewer()
    hub.close_viewer(q)
    hub.open_viewer()


def test_a_cluster_snapshot_brings_its_shard_table_and_one_process_none() -> None:
    from pulsarload.metrics.shards import ShardStats

    controller = FakeController("producer", rate=500.0)
    hub = SnapshotHub(controller, history_s=60, queue_size=8, max_viewers=2)
    snap = controller.tick()
    hub.publish(snap)
    shards = (
        ShardStats(0, "tcp://127.0.0.1:4001", "h", "running", threads=1, rate=250.0, done=900),
        ShardStats(1, "tcp://127.0.0.1:4002", "h", "lost", lost_at_s=3.5, note="worker died"),
    )
    hub.publish(dataclasses.replace(snap, seq=snap.seq + 1, shards=shards))
    _, first = hub.open_viewer()
    frame = events(first)[-1][1]
    assert [(s["shard"], s["state"], s["done"]) for s in frame["shards"]] == [
        (0, "running", 900),
        (1, "lost", 0),
    ]
    assert frame["shards"][1]["note"] == "worker died"
    hub.publish(controller.tick())  # back to one process: no shard table
    assert json.loads(hub.latest_frame.split(b"data: ", 1)[1])["shards"] == []
