"""Snapshots: contents of a tick, JSON round-trip, totals, reset, subscribers, the thread."""

from __future__ import annotations

import json
import threading
import time

import pytest

from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.resources import ResourceMonitor, ResourceStats
from pulsarload.metrics.sampler import BackgroundSubscriber, Sampler
from pulsarload.metrics.snapshot import SCHEMA_VERSION, Counters, LatencyStats, Snapshot


class NullResources:
    def sample(self, threads: object = ()) -> ResourceStats:
        return ResourceStats(rss_bytes=1234, thread_cpu_percent={"77": 12.5})


def make_sampler(**kw: object) -> Sampler:
    return Sampler(resources=NullResources(), grace=0, **kw)  # type: ignore[arg-type]


def busy_snapshot() -> Snapshot:
    s = make_sampler(labels={"role": "producer"})
    a, b = s.new_slot("w0", "producer"), s.new_slot("w1", "producer")
    for v in range(1, 101):
        a.active.record_send_batch(1, 100)
        a.active.record_ack(v * 10)
        b.active.record_ack(v * 1000)
        b.active.record_e2e(v * 7)
    a.active.record_failure("timeout", 3)
    a.state = "running"
    a.pending_sends = 17
    a.native_id = 77
    return s.tick()


def test_tick_merges_workers_and_computes_rates() -> None:
    snap = busy_snapshot()
    assert snap.seq == 1
    assert snap.counters.acked == 200
    assert snap.counters.sent == 100
    assert snap.counters.errors == {"timeout": 3}
    assert snap.counters.failed == 3
    assert snap.rates["acked"] == pytest.approx(200 / snap.interval)
    assert snap.latency["publish_latency"].count == 200
    assert snap.latency["publish_latency"].max == Histogram().highest_equivalent(100_000)
    assert snap.latency["e2e_latency"].count == 100
    assert snap.latency["send_delay"] == LatencyStats()
    w0, w1 = snap.workers
    assert (w0.worker_id, w0.state, w0.pending_sends, w0.cpu_percent) == ("w0", "running", 17, 12.5)
    assert w0.publish_latency.p50 == 500
    assert w1.publish_latency.count == 100
    assert w1.cpu_percent is None
    assert snap.resources.rss_bytes == 1234
    assert snap.labels == {"role": "producer"}
    assert snap.total == snap.counters


def test_json_round_trip() -> None:
    snap = busy_snapshot()
    text = json.dumps(snap.to_dict())
    back = Snapshot.from_dict(json.loads(text))
    assert back == snap
    assert back.histograms["publish_latency"] == snap.histograms["publish_latency"]
    slim = snap.to_dict(histograms=False)
    assert "histograms" not in slim
    assert Snapshot.from_dict(slim).histograms == {}
    assert snap.to_dict()["schema_version"] == SCHEMA_VERSION


def test_from_dict_rejects_future_schema() -> None:
    d = busy_snapshot().to_dict()
    d["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="schema_version"):
        Snapshot.from_dict(d)


def test_totals_accumulate_and_reset() -> None:
    s = make_sampler()
    slot = s.new_slot("w")
    slot.active.record_ack(5)
    first = s.tick()
    slot.active.record_ack(6)
    slot.active.record_ack(7)
    second = s.tick()
    assert (first.total.acked, second.total.acked, second.counters.acked) == (1, 3, 2)
    assert second.total_latency["publish_latency"].count == 3
    # Copy-on-write: the first snapshot's cumulative histogram was not touched.
    assert first.total_histograms["publish_latency"].total_count == 1
    s.reset()
    slot.active.record_ack(8)
    third = s.tick()
    assert third.total.acked == 1
    assert third.total_latency["publish_latency"].count == 1


def test_counters_add_and_rates() -> None:
    a = Counters(sent=2, errors={"x": 1})
    b = Counters(sent=3, errors={"x": 2, "y": 1})
    c = a + b
    assert c.sent == 5 and c.errors == {"x": 3, "y": 1} and c.failed == 4
    assert c.rates(0.5)["sent"] == 10.0
    assert c.rates(0)["sent"] == 0.0
    assert Counters.from_dict(c.to_dict()) == c


def test_closed_slot_is_harvested_then_dropped() -> None:
    s = make_sampler()
    slot = s.new_slot("w")
    slot.active.record_ack(1)
    slot.close()
    snap = s.tick()
    assert snap.counters.acked == 1
    assert s.slots() == []
    assert s.tick().workers == ()


def test_subscribers_and_unsubscribe() -> None:
    s = make_sampler()
    got: list[int] = []
    unsub = s.subscribe(lambda snap: got.append(snap.seq))
    s.subscribe(lambda snap: 1 / 0)  # a failing subscriber does not stop the others
    s.tick()
    unsub()
    s.tick()
    assert got == [1]
    assert s.latest is not None and s.latest.seq == 2


def test_background_subscriber_runs_off_thread_and_drains_on_close() -> None:
    seen: list[tuple[int, str]] = []
    bg = BackgroundSubscriber(lambda snap: seen.append((snap.seq, threading.current_thread().name)))
    s = make_sampler()
    s.subscribe(bg)
    for _ in range(5):
        s.tick()
    bg.close()
    assert [q for q, _ in seen] == [1, 2, 3, 4, 5]
    assert all(name == "metrics-export" for _, name in seen)


def test_background_subscriber_drops_oldest_when_full() -> None:
    gate = threading.Event()
    seen: list[int] = []

    def slow(snap: Snapshot) -> None:
        gate.wait()
        seen.append(snap.seq)

    bg = BackgroundSubscriber(slow, maxsize=2)
    s = make_sampler()
    s.subscribe(bg)
    for _ in range(10):
        s.tick()
    gate.set()
    bg.close()
    assert bg.dropped > 0
    assert seen[-1] == 10


def test_background_subscriber_drain_waits_for_what_was_queued() -> None:
    seen: list[int] = []

    def slow(snap: Snapshot) -> None:
        time.sleep(0.02)  # a slow writer: drain must wait for it
        seen.append(snap.seq)

    bg = BackgroundSubscriber(slow)
    s = make_sampler()
    s.subscribe(bg)
    for _ in range(5):
        s.tick()
    assert bg.drain(timeout=10)
    assert seen == [1, 2, 3, 4, 5]  # all written before drain returned, the thread still runs
    s.tick()
    bg.close()
    assert seen[-1] == 6
    assert bg.drain()  # after close: nothing to wait for


def test_a_drain_marker_pushed_out_of_a_full_queue_does_not_hang() -> None:
    gate = threading.Event()
    taken = threading.Event()
    bg = BackgroundSubscriber(lambda snap: (taken.set(), gate.wait()), maxsize=1)
    s = make_sampler()
    s.subscribe(bg)
    s.tick()  # taken by the thread, which now waits on the gate
    assert taken.wait(10)
    result: list[bool] = []
    drainer = threading.Thread(target=lambda: result.append(bg.drain(timeout=10)))
    drainer.start()
    time.sleep(0.05)  # time for the drainer to queue its marker before the next tick
    s.tick()  # the queue (size 1) holds the marker: this pushes it out
    drainer.join(timeout=10)
    assert result == [True]
    gate.set()
    bg.close()


def test_sampler_thread_start_stop_flushes() -> None:
    s = Sampler(interval=0.01, resources=ResourceMonitor())
    slot = s.new_slot("w")
    s.start()
    for _ in range(1000):
        slot.active.record_ack(3)
    slot.close()
    final = s.stop()
    assert final is not None
    assert final.total.acked == 1000
    assert final.resources.free_threaded_build in (True, False)
