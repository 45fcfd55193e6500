"""The worker pool with a scriptable fake engine: counts stay exact under live changes.

The fake completes sends on its own I/O thread, as real clients do, so the test also covers the
hand-off of completions to the worker that owns the recorder.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping, Sequence

from pulsarload.config import ProduceSettings
from pulsarload.load import controls as cmd
from pulsarload.load.controller import LoadController
from support.clock import FakeClock
from support.waiting import eventually


class FakeProducer:
    """Blocks a send while `MAX_PENDING` messages are in flight, as a full client queue does."""

    MAX_PENDING = 2000

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.sent = 0
        self.done = 0

    def send_batch(
        self,
        payloads: Sequence[bytes],
        on_done,
        *,
        key=None,
        properties: Mapping | None = None,
        intended_ns: int | None = None,
        interval_ns: float = 0.0,
    ) -> None:
        while self.pending() >= self.MAX_PENDING:
            time.sleep(0.0005)
        self.sent += len(payloads)
        self.engine.io.put((self, len(payloads), on_done))

    def pending(self) -> int:
        return self.sent - self.done

    def flush(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.001)  # the fake's blocking flush: it waits for its own acks

    def close(self) -> None:
        self.engine.closed += 1


class FakeEngine:
    """Acks every send after a short delay; every `fail_every`-th batch fails with 'timeout'."""

    name = "fake"

    def __init__(self, fail_every: int = 0) -> None:
        self.io: queue.SimpleQueue = queue.SimpleQueue()
        self.fail_every = fail_every
        self.batches = 0
        self.stored = 0
        self.closed = 0
        self.producers: list[FakeProducer] = []
        threading.Thread(target=self._io, daemon=True).start()

    def _io(self) -> None:
        while True:
            producer, n, on_done = self.io.get()
            time.sleep(0.0005)  # the fake broker's round trip: acks come later than sends
            self.batches += 1
            failed = self.fail_every and self.batches % self.fail_every == 0
            if not failed:
                self.stored += n
            on_done(n, "timeout" if failed else None)
            producer.done += n  # after the hand-off: a flush then covers the completion

    def create_producer(self, settings, name):
        p = FakeProducer(self)
        self.producers.append(p)
        return p

    def close(self) -> None:
        pass


def test_live_changes_keep_counts_exact() -> None:
    engine = FakeEngine(fail_every=7)
    settings = ProduceSettings(rate=4000.0, threads=2, batch_max_messages=50)
    c = LoadController("producer", settings, engine=engine, sample_interval=0.02)
    c.start()

    def each_sends() -> bool:
        """Every running worker has had sends acked or failed (so every change is under load)."""
        workers = c.pool.workers()
        return bool(workers) and all(w.sent and w.slot.pending_sends < w.sent for w in workers)

    eventually(each_sends, what="the first two workers' acks")
    c.apply(cmd.AddWorker(3))
    eventually(each_sends, what="acks for the three added workers")
    before = engine.batches
    c.apply(cmd.RemoveWorker(4))
    eventually(lambda: engine.batches > before + 20, what="sends after removing workers")
    before = engine.batches
    c.apply(cmd.SetRate(0))
    eventually(lambda: engine.batches > before + 20, what="sends at an unlimited rate")
    result = c.stop()
    t = result.final.total
    assert t.sent == sum(p.sent for p in engine.producers)
    assert t.acked == engine.stored
    assert t.acked + t.failed == t.sent
    assert t.failed > 0 and set(t.errors) == {"timeout"}
    assert engine.closed == len(engine.producers) == 5
    assert not result.failures


def test_rate_is_split_across_workers_and_burst_ends() -> None:
    engine = FakeEngine()
    clock = FakeClock()
    settings = ProduceSettings(rate=1000.0, threads=4)
    c = LoadController("producer", settings, engine=engine, clock=clock)
    c.start()
    try:
        assert [w.rate for w in c.pool.workers()] == [250.0] * 4
        c.apply(cmd.Burst(3, 0.3))
        assert c.pool.target_rate == 3000 and c.pool.bursting
        assert [w.rate for w in c.pool.workers()] == [750.0] * 4
        clock.advance(0.3)
        assert not c.pool.bursting
        eventually(
            lambda: [w.rate for w in c.pool.workers()] == [250.0] * 4,
            what="the controller's turn to end the burst",
        )
    finally:
        c.stop()


def test_a_failing_producer_is_reported_not_silent() -> None:
    class Broken(FakeEngine):
        def create_producer(self, settings, name):
            raise ConnectionRefusedError("no broker here")

    c = LoadController("producer", ProduceSettings(threads=2), engine=Broken())
    c.start()
    eventually(c.done, what="the run to end by itself")
    result = c.stop()
    assert len(result.failures) == 2 and "no broker here" in result.failures[0]


def test_export_now_writes_a_json_snapshot_and_the_csv_so_far(tmp_path, monkeypatch) -> None:
    import csv
    import json

    monkeypatch.chdir(tmp_path)
    c = LoadController(
        "producer", ProduceSettings(rate=1000.0), engine=FakeEngine(), sample_interval=0.05
    )
    c.start()
    try:
        # Snapshot 2 is out, so snapshot 1 has reached the series writer's queue (`latest`
        # is set before the subscribers hear of a snapshot).
        eventually(lambda: c.sampler.latest is not None and c.sampler.latest.seq >= 2)
        snapshot_path, series_path = c.export_now()
        assert json.loads(snapshot_path.read_text())["schema"] == "pulsarload.snapshot"
        rows = list(csv.DictReader(series_path.open()))
        assert rows and int(rows[-1]["seq"]) >= 1
    finally:
        c.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [snapshot_path.name, series_path.name]
    )


def test_workers_can_be_pinned_to_cpus() -> None:
    import os

    if not hasattr(os, "sched_getaffinity"):
        return
    seen: list[set[int]] = []

    class Recording(FakeEngine):
        def create_producer(self, settings, name):
            seen.append(os.sched_getaffinity(0))  # runs on the worker's own thread
            return super().create_producer(settings, name)

    allowed = sorted(os.sched_getaffinity(0))
    c = LoadController(
        "producer", ProduceSettings(rate=100.0, threads=2, pin_cpus=True), engine=Recording()
    )
    c.start()
    eventually(lambda: len(seen) == 2, what="both workers' producers")
    c.stop()
    assert (
        sorted(seen, key=min) == [{allowed[i % len(allowed)]} for i in range(2)]
        or len(allowed) == 1
    )
    assert os.sched_getaffinity(0) == set(allowed)  # the main thread is untouched
