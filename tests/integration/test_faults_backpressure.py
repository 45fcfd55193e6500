"""Backpressure and memory, in short bounded runs (scripts/soak.py is the 30-minute version).

A producer far faster than its consumer, and a consumer that stops acknowledging: the
producer's pending queue stays within `--max-pending` (blocking, or failing with `queue_full`
as configured), the consumer's receiver queue within `--receiver-queue-size`, and the
process's memory stays flat once warmed up.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest
from faultproxy import LoadPair

from pulsarload.client.admin import AdminClient, AdminError
from pulsarload.config import ProduceSettings, resolve_settings
from pulsarload.load.controller import LoadController
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

MB = 1024 * 1024


@pytest.fixture
def topic_to_drop(broker: Any, make_topic: Callable[[str], str]) -> Iterator[Callable[[str], str]]:
    """Fresh topics that are deleted afterwards (these runs write a lot to the broker's disk)."""
    made: list[str] = []

    def make(prefix: str) -> str:
        made.append(make_topic(prefix))
        return made[-1]

    yield make
    with AdminClient(broker.admin_url) as admin:
        for topic in made:
            with contextlib.suppress(AdminError):
                admin.delete_topic(topic)


@dataclass
class Samples:
    """What a sampler thread saw every 0.25 s: RSS, producer pending, consumer queue fill."""

    rss: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)

    def rss_growth_mb(self) -> float:
        """Median RSS of the last third minus that of the first third (after warm-up)."""
        third = max(1, len(self.rss) // 3)
        return (statistics.median(self.rss[-third:]) - statistics.median(self.rss[:third])) / MB


def sample_while(pair: LoadPair, seconds: float, warmup: float = 3.0) -> Samples:
    process = psutil.Process()
    samples = Samples()
    stop = threading.Event()

    def run() -> None:
        started = time.monotonic()
        while not stop.wait(0.25):
            p, c = pair.producer.sampler.latest, pair.consumer.sampler.latest
            if p is not None:
                samples.pending.append(max((w.pending_sends for w in p.workers), default=0))
            if c is not None:
                samples.queued.append(max((w.receiver_queue for w in c.workers), default=0))
            if time.monotonic() - started >= warmup:
                samples.rss.append(process.memory_info().rss)

    thread = threading.Thread(target=run, name="test-sampler", daemon=True)
    thread.start()
    time.sleep(warmup + seconds)  # the measured window: the load runs this long
    stop.set()
    thread.join(5)
    return samples


#: Entries the broker reads per dispatch (dispatcherMaxReadBatchSize). Permits count messages,
#: but until the broker has learnt the average batch size it reads up to this many entries
#: for the permits it has (preciseDispatcherFlowControl is off by default): a receiver queue
#: can overshoot its size by up to that many batches, then drains; it never follows the backlog.
BROKER_READ_BATCH = 100


def check_receiver_queue(samples: Samples, receiver_queue_size: int, batch: int) -> None:
    print(f"receiver queue: max {max(samples.queued)}, last {samples.queued[-5:]}; "
          f"RSS growth {samples.rss_growth_mb():.1f} MB")  # fmt: skip
    # A client that ignored flow control would pull the whole backlog (tens of thousands).
    assert max(samples.queued) <= receiver_queue_size + BROKER_READ_BATCH * batch


def test_a_producer_far_faster_than_its_consumer_stays_bounded(
    broker: Any, topic_to_drop: Callable[[str], str]
) -> None:
    pair = LoadPair(
        broker.service_url,
        broker.admin_url,
        topic_to_drop("backpressure"),
        producer={
            "rate": 20_000.0,  # a hundred times the consumer's pace (bounded: disk space)
            "max_pending": 500,
            "block_if_queue_full": True,
            "size": 512,
            "batch_max_messages": 100,
        },
        consumer={"processing_ms": 5.0, "receiver_queue_size": 100},  # ~200 msg/s at most
    )
    try:
        pair.start()
        samples = sample_while(pair, seconds=10)
    finally:
        pair.abort()
    produced = pair.producer.sampler.latest
    consumed = pair.consumer.sampler.latest
    assert produced is not None and consumed is not None
    # The producer really was far ahead of the consumer.
    assert produced.total.acked > 5 * consumed.total.received, (
        produced.total.acked,
        consumed.total.received,
    )
    assert produced.total.failed == 0  # blocking, not failing
    assert max(samples.pending) <= 500, max(samples.pending)
    check_receiver_queue(samples, receiver_queue_size=100, batch=100)
    assert samples.rss_growth_mb() < 40, samples.rss_growth_mb()


def test_a_consumer_that_stops_acking_stays_bounded(
    broker: Any, topic_to_drop: Callable[[str], str]
) -> None:
    pair = LoadPair(
        broker.service_url,
        broker.admin_url,
        topic_to_drop("no-acks"),
        producer={"rate": 5000.0, "size": 256, "batch_max_messages": 100},
        consumer={"ack": "none", "receiver_queue_size": 200},
    )
    try:
        pair.start()
        samples = sample_while(pair, seconds=10)
        consumed = pair.consumer.sampler.latest
    finally:
        pair.abort()
    assert consumed is not None and consumed.total.received > 1000
    assert consumed.total.consumer_acked == 0
    check_receiver_queue(samples, receiver_queue_size=200, batch=100)
    assert samples.rss_growth_mb() < 40, samples.rss_growth_mb()


def test_a_full_pending_queue_fails_sends_when_not_blocking(
    broker: Any, topic_to_drop: Callable[[str], str]
) -> None:
    settings = resolve_settings(
        ProduceSettings,
        {"topic": topic_to_drop("queue-full"), "service_url": broker.service_url,
         "admin_url": broker.admin_url, "rate": 0.0, "max_pending": 50,
         "block_if_queue_full": False, "batch_max_messages": 200, "batch_delay_ms": 20.0},
        environ={},
    )  # fmt: skip
    controller = LoadController("producer", settings)
    controller.start()
    try:
        eventually(
            lambda: bool(
                controller.sampler.latest
                and controller.sampler.latest.total.errors.get("queue_full")
            ),
            30,
            "a queue_full failure",
        )
        pending = [w.pending_sends for w in controller.sampler.latest.workers]  # type: ignore[union-attr]
    finally:
        result = controller.stop()
    assert result.final.total.errors["queue_full"] > 0
    assert result.figures["acked"] > 0  # the queue drains and takes new sends
    assert max(pending) <= 50 + 200, pending  # a claimed batch may be counted before it fails


class _CrossThreadProducer:
    """Completes every send on another thread, as a client's reader thread does, after
    holding the batch's bytes like an in-flight frame."""

    def __init__(self, completer: _Completer) -> None:
        self._completer = completer

    def send_batch(
        self, payloads: Any, on_done: Any, *, key: Any = None, properties: Any = None, **_: Any
    ) -> None:
        self._completer.put(on_done, len(payloads), b"".join(payloads))

    def pending(self) -> int:
        return self._completer.queue.qsize()

    def flush(self, timeout_s: float) -> None:
        eventually(self._completer.queue.empty, timeout_s, "the completer to drain")

    def close(self) -> None:
        pass


class _Completer:
    def __init__(self) -> None:
        import queue

        # A few frames in flight, as on a real connection; more would only add noise to the RSS
        # (each is ~1 MB), not make the regression any more visible.
        self.queue: queue.Queue[tuple[Any, int, bytes]] = queue.Queue(maxsize=8)
        threading.Thread(target=self._run, name="fake-reader", daemon=True).start()

    def put(self, on_done: Any, count: int, frame: bytes) -> None:
        self.queue.put((on_done, count, frame))

    def _run(self) -> None:
        while True:
            on_done, count, _frame = self.queue.get()
            on_done(count, None)
            self.queue.task_done()


class _CrossThreadEngine:
    name = "fake"

    def __init__(self) -> None:
        self.completer = _Completer()

    def create_producer(self, settings: Any, name: Any) -> _CrossThreadProducer:
        return _CrossThreadProducer(self.completer)

    def close(self) -> None:
        pass


def test_memory_stays_flat_at_full_speed_with_completions_on_another_thread() -> None:
    """The load layer and metrics at full speed, sends completed on another thread with 1 MB
    batch buffers in flight (no broker: millions of messages). Regression: sampling
    sys.getallocatedblocks() 10x a second on 3.13t made this grow ~50 MB/s (300+ MB in the
    window measured here); healthy runs wander by tens of MB as buffers come and go."""
    settings = resolve_settings(ProduceSettings, {"topic": "t", "rate": 0.0}, environ={})
    controller = LoadController("producer", settings, engine=_CrossThreadEngine())  # type: ignore[arg-type]
    process = psutil.Process()
    controller.start()
    rss: list[int] = []
    try:
        time.sleep(2)  # warm-up: buffers reach their working size before RSS is watched
        for _ in range(24):
            time.sleep(0.25)  # one RSS sample per quarter second over the window
            rss.append(process.memory_info().rss)
    finally:
        result = controller.stop()
    third = len(rss) // 3
    growth = (statistics.median(rss[-third:]) - statistics.median(rss[:third])) / MB
    assert result.figures["acked"] > 500_000
    assert growth < 120, f"RSS grew {growth:.0f} MB in 6 s"
