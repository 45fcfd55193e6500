"""A worker that should progress but has not for `stall_s` is shown as stalled (its state, so
the table, the status line and the report) and counted; it recovers when acks come back.
Time is stepped: `check_stalls(now=...)` looks from a moment ahead instead of sleeping (and
test_stepped_time.py runs the controller on a fake clock)."""

from __future__ import annotations

import threading
import time

from test_pool import FakeEngine

from pulsarload.config import ProduceSettings
from pulsarload.load import controls as cmd
from pulsarload.load.controller import LoadController
from pulsarload.load.headless import status_line, summary_lines
from support.clock import FakeClock
from support.waiting import eventually


class HoldingEngine(FakeEngine):
    """Acks like FakeEngine until `hold` is set (a broker gone silent), then queues the acks."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.resume = threading.Event()
        super().__init__()

    def _io(self) -> None:
        while True:
            producer, n, on_done = self.io.get()
            if self.hold.is_set():
                self.resume.wait(30)
            producer.done += n
            self.stored += n
            on_done(n, None)


def started(engine: FakeEngine, **overrides: object) -> LoadController:
    settings = ProduceSettings(rate=200.0, threads=1, stall_s=0, **overrides)
    c = LoadController("producer", settings, engine=engine, sample_interval=0.05)
    c.start()
    eventually(lambda: c.sampler.latest is not None and c.sampler.latest.total.acked > 0)
    return c


def test_a_producer_without_acks_is_stalled_then_recovers() -> None:
    engine = HoldingEngine()
    c = started(engine)
    pool = c.pool
    try:
        assert pool.check_stalls(10.0) == []  # acks flow
        engine.hold.set()
        eventually(lambda: pool.workers()[0].slot.pending_sends > 1)
        assert pool.check_stalls(10.0) == []  # not yet: less than 10 s without an ack
        later = time.monotonic() + 11
        assert pool.check_stalls(10.0, now=later) == ["producer-0"]
        assert pool.workers()[0].slot.state.startswith("stalled 1")
        assert pool.check_stalls(10.0, now=later + 1) == []  # counted once per episode
        engine.resume.set()
        engine.hold.clear()
        eventually(
            lambda: not pool.check_stalls(10.0) and pool.workers()[0].slot.state == "running"
        )
    finally:
        engine.resume.set()
        c.stop()


def test_a_paused_producer_is_not_stalled() -> None:
    engine = HoldingEngine()
    c = started(engine)
    try:
        engine.hold.set()
        eventually(lambda: c.pool.workers()[0].slot.pending_sends > 0)
        c.apply(cmd.Pause())
        eventually(lambda: c.pool.workers()[0].slot.state == "paused")
        assert c.pool.check_stalls(10.0, now=time.monotonic() + 100) == []
    finally:
        engine.resume.set()
        c.stop()


def test_an_idle_producer_is_not_stalled() -> None:
    """At a low rate every send is acked long before the next one: nothing awaits an ack."""
    engine = FakeEngine()
    c = started(engine)
    try:
        c.apply(cmd.SetRate(0.01))
        w = c.pool.workers()[0]
        eventually(lambda: w.slot.pending_sends == 0)
        assert c.pool.check_stalls(10.0, now=time.monotonic() + 100) == []
    finally:
        c.stop()


def test_stalls_reach_the_status_line_the_summary_and_a_threshold(tmp_path) -> None:
    engine = HoldingEngine()
    clock = FakeClock()
    settings = ProduceSettings(
        rate=200.0,
        threads=1,
        batching=False,  # each message goes when due: no batch delay to step past
        stall_s=10.0,
        thresholds=("stalls<1",),
        report=str(tmp_path / "r.json"),
    )
    c = LoadController("producer", settings, engine=engine, sample_interval=0.05, clock=clock)
    c.start()
    try:
        eventually(lambda: c.sampler.latest is not None and c.sampler.latest.total.acked > 0)
        engine.hold.set()
        clock.advance(0.05)  # ten more messages fall due; their acks never come
        eventually(lambda: c.pool.workers()[0].slot.pending_sends > 0)
        clock.advance(10.0)
        eventually(lambda: c.stalls == 1)
        eventually(lambda: any(w.state.startswith("stalled") for w in c.sampler.latest.workers))
        assert "STALLED 1" in status_line("producer", [c.sampler.latest], c)
    finally:
        engine.resume.set()
        result = c.stop()
    assert result.figures["stalls"] == 1
    assert not result.passed  # the threshold stalls<1 failed
    lines = summary_lines(result)
    assert any(line.startswith("stalls: 1 ") and "producer-0 stalled" in line for line in lines)
    import json

    meta = json.loads((tmp_path / "r.json").read_text())["meta"]
    assert len(meta["stalls"]) == 1 and meta["summary"]["stalls"] == 1
