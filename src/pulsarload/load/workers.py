"""What producer and consumer worker threads share: the thread, the metrics slot, the controls
the pool rebinds, and the `-m/--messages` budget. The two kinds live in `producer_worker.py`
and `consumer_worker.py`.

Each worker owns its engine producer (or consumer), its rate schedule, its payload generator and
its metrics slot: nothing on the per-message path is shared with another worker. The pool steers
a worker by rebinding a few plain attributes (`rate`, `paused`, `seek_target`); the worker reads
them once per loop turn. Send completions may arrive on the client's I/O thread; they are only
queued there and recorded by the worker itself, so each recorder keeps a single writer.
"""

from __future__ import annotations

import os
import threading
import time

from pulsarload.engines.base import (
    Engine,
    EngineConsumer,
    EngineProducer,
)
from pulsarload.load.clock import Clock
from pulsarload.metrics.recorder import RecorderSlot

IDLE_SLEEP_S = 0.02  # longest a worker sleeps before looking at its controls again


class MessageBudget:
    """A shared `-m/--messages` limit, taken per batch (never per message) under a lock."""

    def __init__(self, total: int) -> None:
        self._left = total
        self._lock = threading.Lock()

    def take(self, wanted: int) -> int:
        with self._lock:
            granted = min(wanted, self._left)
            self._left -= granted
            return granted

    @property
    def exhausted(self) -> bool:
        return self._left <= 0


class Worker:
    """What both kinds share: the thread, the slot, and the controls the pool rebinds."""

    role = "worker"

    def __init__(
        self,
        index: int,
        engine: Engine,
        slot: RecorderSlot,
        name: str | None,
        clock: Clock = time.monotonic,
    ) -> None:
        """`clock`: monotonic seconds (progress, delayed acks; a producer's schedule reads the
        same clock in nanoseconds)."""
        self.index = index
        self.clock = clock
        self.engine = engine
        self.slot = slot
        self.name = name
        self.paused = False
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.handle: EngineProducer | EngineConsumer | None = None  # set once created
        self.last_progress = clock()
        self.thread = threading.Thread(target=self._main, name=f"{self.role}-{index}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def join(self, timeout: float) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def _main(self) -> None:
        self.slot.bind_current_thread()
        if getattr(self.settings, "pin_cpus", False):
            self._pin_to_cpu()
        try:
            self.run()
        except BaseException as err:  # a worker must never die silently
            self.error = err
            self.slot.last_error = f"{type(err).__name__}: {err}"
            self.slot.state = "failed"
        finally:
            if self.slot.state != "failed":
                self.slot.state = "stopped"
            self.slot.closed = True

    def run(self) -> None:
        raise NotImplementedError

    def _pin_to_cpu(self) -> None:
        """Pin this worker's thread to one of the CPUs the process may use (Linux only)."""
        if not hasattr(os, "sched_setaffinity"):
            self.slot.last_error = "CPU pinning is not available on this OS"
            return
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[self.index % len(cpus)]})  # 0 = the calling thread

    def show_connection(self) -> None:
        """Called by the controller's thread (a worker may be blocked in a send during an
        outage): the slot's state says "reconnecting, attempt N" while the client reconnects."""
        probe = getattr(self.handle, "reconnect_attempt", None)
        if probe is None:
            return
        attempt = probe()
        state = self.slot.state
        if attempt:
            self.slot.state = f"reconnecting, attempt {attempt}"
        elif state.startswith("reconnecting"):
            self.slot.state = "paused" if self.paused else "running"
