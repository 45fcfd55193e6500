"""The producer worker's timing, on a stepped clock: when messages are taken from the schedule,
how long they are held for batching, and what send delay, stamps and publish latencies that
gives. No wall-clock waits: the worker's sleeps advance a fake clock."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from pulsarload.config import ProduceSettings
from pulsarload.load import producer_worker as producer_worker_module
from pulsarload.load.held import Completion, HeldBatch, drain
from pulsarload.load.payloads import KeyGenerator, PayloadGenerator, PayloadSettings
from pulsarload.load.producer_worker import MIN_SLEEP_NS, ProducerWorker
from pulsarload.load.rate import Due
from pulsarload.load.workers import MessageBudget
from pulsarload.metrics.recorder import Recorder, RecorderSlot

WALL_OFFSET_NS = 1_700_000_000 * 10**9  # the fake wall clock runs this far ahead of monotonic


class Clock:
    """monotonic_ns/time_ns/monotonic of the `time` module, driven by the test (the worker
    is given `monotonic` as its clock; the wall clock is patched into its module)."""

    def __init__(self) -> None:
        self.ns = 5 * 10**9

    def monotonic_ns(self) -> int:
        return self.ns

    def time_ns(self) -> int:
        return self.ns + WALL_OFFSET_NS

    def monotonic(self) -> float:
        return self.ns / 1e9


class SteppedStop:
    """The worker's stop event: each wait advances the clock by the timeout plus a wake-up
    latency; set once the clock passes `until_ns`."""

    def __init__(self, clock: Clock, until_ns: int, late_ns: int) -> None:
        self.clock = clock
        self.until_ns = until_ns
        self.late_ns = late_ns
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return self.clock.ns >= self.until_ns

    def set(self) -> None:
        self.until_ns = 0

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        self.clock.ns += int(timeout * 1e9) + self.late_ns
        return self.is_set()


class RecordingProducer:
    """Completes every send at once, `ack_after_ns` after the call (on the fake clock)."""

    def __init__(self, clock: Clock, ack_after_ns: int) -> None:
        self.clock = clock
        self.ack_after_ns = ack_after_ns
        self.calls: list[dict[str, Any]] = []

    def send_batch(self, payloads, on_done, *, key=None, properties=None, **stamp) -> None:
        self.calls.append({"n": len(payloads), "at": self.clock.ns, "key": key, **stamp})
        self.clock.ns += self.ack_after_ns
        on_done(len(payloads), None)
        self.clock.ns -= self.ack_after_ns  # the ack comes later; the worker's time does not

    def pending(self) -> int:
        return 0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(producer_worker_module, "time", c)
    return c


def run_worker(
    clock: Clock,
    *,
    rate: float,
    seconds: float,
    late_ns: int = 0,
    key_mode: str = "none",
    budget: MessageBudget | None = None,
    **settings: Any,
) -> tuple[ProducerWorker, RecordingProducer, SteppedStop]:
    s = ProduceSettings(rate=rate, key_mode=key_mode, **settings)
    w = ProducerWorker(
        0,
        engine=None,  # type: ignore[arg-type]
        slot=RecorderSlot("p-0"),
        settings=s,
        rate=rate,
        clock=clock.monotonic,
    )
    w.budget = budget
    stop = SteppedStop(clock, clock.ns + int(seconds * 1e9), late_ns)
    w.stop_event = stop  # type: ignore[assignment]
    producer = RecordingProducer(clock, ack_after_ns=2_000_000)
    payloads = PayloadGenerator(PayloadSettings(size=10))
    w._loop(producer, payloads, KeyGenerator(key_mode))  # type: ignore[arg-type]
    w._drain(w._completions)
    return w, producer, stop


def test_batching_holds_messages_without_counting_the_hold_as_send_delay(clock: Clock) -> None:
    # 3,000 msg/s with a 1 ms batch delay: the worker takes each message when it falls due
    # (every 333 µs; its sleeps wake 20 µs late), holds ~3 per batch, and sends the batch when
    # the delay is up. Send delay is the wake-up lateness only; the hold is publish latency.
    w, producer, _ = run_worker(clock, rate=3000, seconds=1.0, late_ns=20_000, batch_delay_ms=1.0)
    rec = w.slot.active
    sent = sum(c["n"] for c in producer.calls)
    assert 2990 <= sent <= 3001
    assert rec.send_delay.total_count == sent
    assert rec.send_delay.max < 100  # µs: not the 1 ms batch delay
    sizes = {c["n"] for c in producer.calls}
    assert max(sizes) >= 3 and len(producer.calls) < sent / 2  # batched, not one by one
    # Publish latency: from the intended time it includes the hold and the 2 ms ack; from the
    # actual send time (the take) too, but never more than from the intended time.
    assert rec.publish_latency.total_count == rec.publish_latency_from_send.total_count == sent
    assert rec.publish_latency_from_send.min >= 2_000
    assert rec.publish_latency_from_send.max <= rec.publish_latency.max
    assert rec.publish_latency.max < 2_000 + 1_000 + 200  # ack + batch delay + lateness


def test_each_batch_carries_its_first_intended_time_on_the_wall_clock(clock: Clock) -> None:
    start = clock.ns
    _, producer, _ = run_worker(clock, rate=1000, seconds=0.05, batch_delay_ms=5.0)
    first = producer.calls[0]
    assert first["intended_ns"] == start + WALL_OFFSET_NS  # message 0 was due at the start
    assert first["interval_ns"] == pytest.approx(1_000_000)
    for prev, call in zip(producer.calls, producer.calls[1:], strict=False):
        # Consecutive batches cover consecutive places of the schedule.
        assert call["intended_ns"] == prev["intended_ns"] + prev["n"] * 1_000_000


def test_keyed_messages_are_sent_one_by_one_with_their_own_time(clock: Clock) -> None:
    _, producer, _ = run_worker(
        clock, rate=2000, seconds=0.02, key_mode="sequential", batch_delay_ms=2.0
    )
    assert all(c["n"] == 1 and c["key"] for c in producer.calls)
    times = [c["intended_ns"] for c in producer.calls]
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [500_000] * (len(times) - 1)


def test_a_late_worker_shows_its_lag_as_send_delay(clock: Clock) -> None:
    # Every sleep overruns by 3 ms (a descheduled thread): the lag is send delay, as it must be.
    w, _, _ = run_worker(clock, rate=3000, seconds=0.5, late_ns=3_000_000, batch_delay_ms=1.0)
    assert w.slot.active.send_delay.max >= 3_000


def test_high_rates_wake_at_most_every_min_sleep(clock: Clock) -> None:
    _, producer, stop = run_worker(clock, rate=30_000, seconds=0.2, batch_delay_ms=1.0)
    assert min(stop.waits) >= MIN_SLEEP_NS / 1e9
    # Everything due was sent, but for what fell due during the last sleep.
    assert sum(c["n"] for c in producer.calls) >= 0.2 * 30_000 - 30_000 * MIN_SLEEP_NS / 1e9


def test_unbatched_and_unlimited_sends_go_at_once(clock: Clock) -> None:
    w, producer, _ = run_worker(clock, rate=1000, seconds=0.01, batching=False)
    assert all(c["at"] >= c["intended_ns"] - WALL_OFFSET_NS for c in producer.calls)
    assert w.slot.active.send_delay.max == 0
    w, producer, _ = run_worker(
        clock, rate=0, seconds=0.001, budget=MessageBudget(2500), batch_max_messages=1000
    )
    assert [c["n"] for c in producer.calls] == [1000, 1000, 500]
    assert w.finished_budget


def test_completion_in_parts_records_each_message_once() -> None:
    # A held batch of two takes (2 then 3 messages), completed by the engine in parts of 1 and 4.
    held = HeldBatch()
    held.add(Due(2, 1_000_000, 100_000.0), 2, now_ns=1_050_000, linger_ns=1_000_000)
    held.add(Due(3, 1_200_000, 100_000.0), 3, now_ns=1_210_000, linger_ns=1_000_000)
    assert (held.count, held.deadline_ns, held.intended_ns(4)) == (5, 2_050_000, 1_400_000)
    queue: deque = deque()
    done = Completion(queue, held, now_ns=lambda: 3_000_000)  # the ack time
    done(1, None)
    done(4, None)
    rec = Recorder()
    assert drain(queue, rec) is None
    assert rec.publish_latency.total_count == 5
    assert rec.publish_latency.max == 2_000  # message 0: intended at 1.0 ms, acked at 3.0
    assert rec.publish_latency.min == 1_600  # message 4: intended at 1.4 ms
    assert rec.publish_latency_from_send.total_count == 5
    from_send = rec.publish_latency_from_send
    assert (from_send.min, from_send.max) == (1_790, 1_950)  # taken at 1.21 / 1.05 ms
    done(2, "timeout")
    assert drain(queue, rec) == "timeout" and rec.failed == {"timeout": 2}
