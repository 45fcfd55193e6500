"""The load controller, its pool and its workers on a `FakeClock`: time moves when the test says.

A schedule comes due, a burst ends, a ramp rises, a run's duration ends and a stall is seen at
exact moments of the fake clock, however loaded the machine. The threads still run on real
time and look at the clock at their next turn, so after a step the test waits with `eventually`
for them to see it (a wait for a condition, never for a fixed time).
"""

from __future__ import annotations

from test_pool import FakeEngine
from test_stalls import HoldingEngine

from pulsarload.config import ProduceSettings
from pulsarload.load import controls as cmd
from pulsarload.load.controller import LoadController
from support.clock import FakeClock
from support.waiting import eventually


def controller(clock: FakeClock, engine: FakeEngine | None = None, **overrides: object):
    settings = ProduceSettings(**{"rate": 100.0, "threads": 1, "batching": False, **overrides})
    c = LoadController("producer", settings, engine=engine or FakeEngine(), clock=clock)
    c.start()
    return c


def sent(c: LoadController) -> int:
    """Messages handed to the engine."""
    return sum(w.sent for w in c.pool.all_workers())


def taken(c: LoadController) -> int:
    """Messages taken from the schedule (each records its send delay), sent or held."""
    latest = c.sampler.latest
    delay = latest.total_latency.get("send_delay") if latest is not None else None
    return delay.count if delay is not None else 0


def test_the_schedule_sends_what_falls_due_and_nothing_more() -> None:
    clock = FakeClock()
    c = controller(clock, rate=100.0)
    try:
        eventually(lambda: sent(c) == 1, what="the first message, due at start")
        clock.advance(1.0)  # 100 msg/s: messages 1..100 fall due
        eventually(lambda: sent(c) == 101, what="the 100 messages of the next second")
        clock.advance(0.0099)  # the next one is due at 1.01 s
        clock.advance(0.0002)
        eventually(lambda: sent(c) == 102, what="message 101 (and no other)")
    finally:
        c.stop()


def test_a_held_batch_goes_when_its_batch_delay_has_passed() -> None:
    clock = FakeClock()
    c = controller(clock, rate=1000.0, batching=True, batch_delay_ms=10.0, batch_max_messages=1000)
    try:
        eventually(lambda: taken(c) == 1, what="the first message, held")
        clock.advance(0.005)  # 6 messages due, held: the batch delay (10 ms) is not up
        assert sent(c) == 0
        clock.advance(0.005)  # the delay is up: one batch of the 11 messages due by now
        eventually(lambda: sent(c) == 11, what="the held batch")
    finally:
        c.stop()


def test_a_burst_ends_when_its_time_is_up() -> None:
    clock = FakeClock()
    c = controller(clock, rate=1000.0, threads=2)
    try:
        c.apply(cmd.Burst(3, 5.0))
        assert [w.rate for w in c.pool.workers()] == [1500.0] * 2
        clock.advance(4.9)
        assert c.pool.bursting and abs(c.pool.burst_left - 0.1) < 1e-6
        clock.advance(0.2)
        assert not c.pool.bursting and c.pool.target_rate == 1000.0
        eventually(
            lambda: [w.rate for w in c.pool.workers()] == [500.0] * 2,
            what="the controller's turn to hand the workers their rate again",
        )
    finally:
        c.stop()


def test_a_ramp_rises_with_the_clock() -> None:
    clock = FakeClock()
    c = controller(clock, rate=1000.0, scenario="ramp", ramp_start_rate=0.0, ramp_seconds=10.0)
    try:
        assert c.pool.base_rate == 1.0  # never 0, which would mean "as fast as possible"
        clock.advance(5.0)
        eventually(lambda: c.pool.base_rate == 500.0, what="half way up the ramp")
        clock.advance(5.0)
        eventually(lambda: c.pool.base_rate == 1000.0, what="the top of the ramp")
    finally:
        c.stop()


def test_a_run_ends_after_its_duration_measured_after_the_warmup() -> None:
    clock = FakeClock()
    c = controller(clock, duration_s=10.0, warmup_s=2.0)
    try:
        assert c.warming_up and not c.done()
        clock.advance(2.0)
        eventually(lambda: not c.warming_up, what="the end of the warm-up")
        clock.advance(9.9)
        assert not c.done()
        clock.advance(0.2)
        assert c.done()
    finally:
        c.stop()


def test_a_stall_is_seen_after_stall_seconds_without_acks_and_counted_once() -> None:
    clock = FakeClock()
    engine = HoldingEngine()
    c = controller(clock, engine, rate=100.0, stall_s=10.0)
    try:
        eventually(lambda: c.sampler.latest is not None and c.sampler.latest.total.acked == 1)
        engine.hold.set()  # the broker goes silent
        clock.advance(0.05)
        eventually(lambda: c.pool.workers()[0].slot.pending_sends > 0, what="a send awaiting ack")
        clock.advance(9.9)
        assert c.pool.check_stalls(10.0) == []
        clock.advance(0.2)
        eventually(lambda: c.stalls == 1, what="the controller to see the stall")
        assert c.pool.workers()[0].slot.state.startswith("stalled 10")
        clock.advance(5.0)
        assert c.pool.check_stalls(10.0) == [] and c.stalls == 1  # one stall, counted once
        engine.resume.set()
        engine.hold.clear()
        eventually(lambda: c.pool.workers()[0].slot.state == "running", what="the recovery")
    finally:
        engine.resume.set()
        c.stop()
