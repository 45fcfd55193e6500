"""The worker pool: producer or consumer threads added and removed while the load runs.

The pool splits the global target rate across its producer workers and steers them by rebinding
their control attributes; it never touches a worker's producer, consumer or recorder. Pool
methods are called from the controller (UI, scenario or headless loop) under one lock, which is
never on a per-message path.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pulsarload.config import ConsumeSettings, ProduceSettings, worker_priority
from pulsarload.engines.base import Engine, parse_properties
from pulsarload.errors import ConfigError
from pulsarload.load.clock import Clock
from pulsarload.load.consumer_worker import ConsumerWorker
from pulsarload.load.peek import MessageSample, newest
from pulsarload.load.producer_worker import ProducerWorker
from pulsarload.load.verify import SequenceTracker
from pulsarload.load.workers import MessageBudget, Worker
from pulsarload.metrics.sampler import Sampler

STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    name: str
    alive: bool
    state: str
    seconds_since_progress: float
    error: str | None
    #: It should progress: a producer with sends awaiting acks, a consumer with received
    #: messages waiting in its queue (an idle consumer on an empty topic is not stalled).
    waiting: bool = False


class WorkerPool:
    def __init__(
        self,
        role: str,
        engine: Engine,
        settings: ProduceSettings | ConsumeSettings,
        sampler: Sampler,
        *,
        run_id: int | None = None,
        seek: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        """`seek`: a seek to apply once, through the first consumer worker started (a seek is
        one user action; workers added later, or restarted with new settings, do not repeat
        it). `clock`: monotonic seconds, for bursts, progress and the workers' schedules."""
        if role not in ("producer", "consumer"):
            raise ValueError(f"role must be producer or consumer, not {role!r}")
        self.role = role
        self.engine = engine
        self.settings = settings
        self.sampler = sampler
        self.clock = clock
        self.max_threads = settings.max_threads
        self._lock = threading.Lock()
        self._workers: list[Worker] = []
        self._retired: list[Worker] = []
        self._next_index = 0
        # Verification ids: unique per producer worker across runs (run id in the high bits).
        self._run_id = (run_id if run_id is not None else time.time_ns() // 1000) & 0xFFFFFFFF
        self.budget = MessageBudget(settings.messages) if settings.messages else None
        self._base_rate = getattr(settings, "rate", 0.0)
        self._burst_multiplier = 1.0
        self._burst_until = 0.0
        self._paused = False
        self._size: int | None = None  # a size set while running (chaos), else the settings'
        self._properties = parse_properties(getattr(settings, "properties", ()))
        self._pending_seek = seek if role == "consumer" else None

    # -- size ---------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self._workers)

    def workers(self) -> list[Worker]:
        with self._lock:
            return list(self._workers)

    def all_workers(self) -> list[Worker]:
        """Running and retired workers (retired ones still hold their final counts)."""
        with self._lock:
            return self._retired + self._workers

    def add(self, count: int = 1) -> int:
        """Start up to `count` workers (bounded by max_threads); returns how many started."""
        with self._lock:
            room = max(0, self.max_threads - len(self._workers))
            new = [self._new_worker() for _ in range(min(count, room))]
            self._workers.extend(new)
            if self._paused:
                for w in new:
                    w.paused = True
            self._rebalance()  # before starting, so no worker begins at an unlimited rate
            for w in new:
                w.start()
        return len(new)

    def remove(self, count: int = 1) -> int:
        """Stop the newest `count` workers gracefully (they flush, then close)."""
        with self._lock:
            leaving = self._workers[-count:] if count > 0 else []
            del self._workers[len(self._workers) - len(leaving) :]
            for w in leaving:
                w.stop()
            self._retired.extend(leaving)
            self._rebalance()
        return len(leaving)

    def _new_worker(self) -> Worker:
        index = self._next_index
        self._next_index += 1
        s = self.settings
        slot = self.sampler.new_slot(f"{self.role[0]}{index}", self.role)
        prefix = s.producer_name if isinstance(s, ProduceSettings) else s.consumer_name
        name = f"{prefix}-{index}" if prefix else None
        if isinstance(s, ProduceSettings):
            verify_id = (self._run_id << 16 | index) if s.verify else None
            producer = ProducerWorker(
                index,
                self.engine,
                slot,
                s,
                rate=0.0,
                name=name,
                budget=self.budget,
                properties=self._properties,
                verify_id=verify_id,
                clock=self.clock,
            )
            if self._size is not None:
                producer.size = self._size
            return producer
        if s.worker_priorities:  # each consumer its own priority level (priority dispatch)
            s = dataclasses.replace(s, priority=worker_priority(s, index))
        worker = ConsumerWorker(
            index, self.engine, slot, s, name=name, budget=self.budget, clock=self.clock
        )
        worker.seek_target, self._pending_seek = self._pending_seek, None
        return worker

    # -- rate ---------------------------------------------------------------------------------

    @property
    def target_rate(self) -> float:
        """The global target now, including an active burst (0 = as fast as possible)."""
        if self._burst_multiplier != 1.0 and self.clock() < self._burst_until:
            return self._base_rate * self._burst_multiplier
        return self._base_rate

    @property
    def size_now(self) -> int:
        """The message size producers send now (a scenario may have changed it)."""
        return self._size if self._size is not None else getattr(self.settings, "size", 0)

    @property
    def base_rate(self) -> float:
        return self._base_rate

    @property
    def bursting(self) -> bool:
        return self._burst_multiplier != 1.0 and self.clock() < self._burst_until

    def set_rate(self, rate: float) -> None:
        if rate < 0:
            raise ConfigError(f"rate must be >= 0 msg/s, got {rate}")
        with self._lock:
            self._base_rate = float(rate)
            self._rebalance()

    def set_size(self, size: int) -> None:
        """Message size of every producer worker from its next turn (and of workers added later)."""
        with self._lock:
            self._size = size
            for w in self._workers:
                if isinstance(w, ProducerWorker):
                    w.size = size

    def burst(self, multiplier: float, seconds: float) -> None:
        if multiplier < 1 or seconds <= 0:
            raise ConfigError("burst needs a multiplier >= 1 and a positive duration")
        with self._lock:
            self._burst_multiplier = multiplier
            self._burst_until = self.clock() + seconds
            self._rebalance()

    def end_burst(self) -> bool:
        """End a running burst now; False when none was running."""
        with self._lock:
            was = self.bursting
            self._burst_multiplier = 1.0
            self._burst_until = 0.0
            self._rebalance()
        return was

    @property
    def burst_left(self) -> float:
        """Seconds the running burst has left (0 when none runs)."""
        return max(0.0, self._burst_until - self.clock()) if self.bursting else 0.0

    def tick(self) -> None:
        """Called by the controller a few times a second: ends bursts on time, and shows
        which workers' clients are reconnecting."""
        for w in self.workers():
            if w.alive:
                w.show_connection()
        if self._burst_multiplier != 1.0 and self.clock() >= self._burst_until:
            with self._lock:
                self._burst_multiplier = 1.0
                self._rebalance()

    def _rebalance(self) -> None:
        producers = [w for w in self._workers if isinstance(w, ProducerWorker)]
        if not producers:
            return
        share = self.target_rate / len(producers)
        for w in producers:
            w.rate = share

    # -- pause, seek --------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            for w in self._workers:
                w.paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            for w in self._workers:
                w.paused = False

    def seek(self, target: str) -> None:
        """Seek the subscription: once, through one worker (a seek moves the subscription's
        cursor for every consumer on it, and the broker drops them all to reconnect)."""
        with self._lock:
            for w in self._workers:
                if isinstance(w, ConsumerWorker):
                    w.seek_target = target
                    return

    # -- health and end -------------------------------------------------------------------------

    def health(self, now: float | None = None) -> list[WorkerHealth]:
        now = self.clock() if now is None else now
        return [
            WorkerHealth(
                w.thread.name,
                w.alive,
                w.slot.state,
                now - w.last_progress,
                w.slot.last_error,
                waiting=not w.paused
                and (
                    w.slot.pending_sends > 0
                    if isinstance(w, ProducerWorker)
                    else w.slot.receiver_queue > 0
                ),
            )
            for w in self.workers()
        ]

    def check_stalls(self, stall_s: float, now: float | None = None) -> list[str]:
        """Mark a running worker that should progress (`WorkerHealth.waiting`) but has not for
        `stall_s` as "stalled Ns" in its state (the table, status line and report show it), and
        clear the mark once it moves again. Returns the names of newly stalled workers.
        Called from the controller's thread, like `show_connection`."""
        now = self.clock() if now is None else now
        newly = []
        for w, h in zip(self.workers(), self.health(now), strict=True):
            stalled = h.state.startswith("stalled")
            if not h.alive or not (h.state == "running" or stalled):
                continue
            if h.waiting and h.seconds_since_progress >= stall_s:
                if not stalled:
                    newly.append(h.name)
                w.slot.state = f"stalled {h.seconds_since_progress:.0f}s"
            elif stalled:
                w.slot.state = "paused" if w.paused else "running"
        return newly

    def finished(self) -> bool:
        """True when every worker has ended on its own (message budget spent, or failed)."""
        workers = self.workers()
        return bool(workers) and all(not w.alive for w in workers)

    def failures(self) -> list[str]:
        return [
            f"{w.thread.name}: {type(w.error).__name__}: {w.error}"
            for w in self.all_workers()
            if w.error is not None
        ]

    def stop_all(
        self, timeout: float = STOP_TIMEOUT_S, on_wait: Callable[[], None] | None = None
    ) -> bool:
        """Stop every worker (flush, close) and wait; True when all ended within the timeout."""
        with self._lock:
            self._retired.extend(self._workers)
            self._workers = []
            everyone = list(self._retired)
        for w in everyone:
            w.stop()
        deadline = time.monotonic() + timeout  # threads join in real time, whatever the clock
        for w in everyone:
            w.join(max(0.0, deadline - time.monotonic()))
            if on_wait:
                on_wait()
        return all(not w.alive for w in everyone)

    def peek(self, n: int) -> list[MessageSample]:
        """The newest `n` sampled received messages over every consumer worker, oldest first."""
        return newest([w.peek for w in self.all_workers() if isinstance(w, ConsumerWorker)], n)

    # -- verification -----------------------------------------------------------------------------

    def schema_cost(self) -> tuple[int, int]:
        """(CPU ns, messages) spent encoding records (producers) or decoding them (consumers)
        under --schema, over every worker of the run."""
        ns = n = 0
        for w in self.all_workers():
            maker = getattr(w, "schema_payloads", None)
            if maker is not None:
                ns, n = ns + maker.encode_ns, n + maker.encoded
            reader = getattr(w, "stamps", None)
            if reader is not None:
                ns, n = ns + reader.decode_ns, n + reader.decoded
        return ns, n

    def producer_sent(self) -> dict[int, int]:
        """Verification ids -> messages handed to the engine."""
        return {
            w.verify_id: w.sent
            for w in self.all_workers()
            if isinstance(w, ProducerWorker) and w.verify_id is not None
        }

    def merged_tracker(self) -> SequenceTracker:
        merged = SequenceTracker()
        for w in self.all_workers():
            if isinstance(w, ConsumerWorker) and w.tracker is not None:
                merged = merged.merge(w.tracker)
        return merged
