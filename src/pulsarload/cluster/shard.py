"""One shard of a cluster run: a plain `LoadController` in a Dask worker's process.

The coordinator creates a `Shard` on each chosen worker as a Dask actor and calls its methods
(each call runs on the worker's actor thread, one at a time; the live commands run on its
event loop, see `Shard.apply`). The shard knows nothing of Dask:
it takes settings and commands as plain dicts, and hands back its metrics as JSON bytes: the
counters and encoded interval histograms of everything its sampler published since the last
`poll`, merged here, so the coordinator merges them exactly and the wire carries a few hundred
bytes per poll, never raw values.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import socket
import threading
import time
from typing import Any

from pulsarload import __version__
from pulsarload.config import ConsumeSettings, ProduceSettings
from pulsarload.load import controls as cmd
from pulsarload.load.controller import LoadController
from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.recorder import LATENCY_FIELDS
from pulsarload.metrics.resources import gil_enabled, interpreter_info
from pulsarload.metrics.snapshot import Counters, Snapshot, WorkerStats
from pulsarload.metrics.subscribers import SnapshotInbox

#: Worker states that mean "still creating its producer or consumer".
CONNECTING_STATES = frozenset({"starting", "connecting"})
#: Commands that only set what the worker threads read at their next wake: never blocking.
QUICK_COMMANDS = (cmd.SetRate, cmd.Pause, cmd.Resume, cmd.Burst, cmd.EndBurst)


def worker_facts() -> dict[str, Any]:
    """What the coordinator checks before placing a shard here (also sent by `Shard.facts`)."""
    info = interpreter_info()
    return {
        "pulsarload": __version__,
        "python": info.version,
        "free_threaded_build": info.free_threaded_build,
        "gil_enabled": info.gil_enabled,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cpus": info.cpu_count,
        "time": time.time(),
    }


def merge_intervals(snaps: list[Snapshot]) -> dict[str, Any]:
    """Counters summed and histograms added (exactly) over several sampler intervals; worker
    rows summed per worker (their latency is the latest non-empty interval's: display only)."""
    counters = Counters()
    hists: dict[str, Histogram] = {}
    merged: set[str] = set()
    owned: set[str] = set()
    seconds = 0.0
    workers: dict[str, WorkerStats] = {}
    worker_counts: dict[str, Counters] = {}
    for snap in snaps:
        counters = counters + snap.counters
        seconds += snap.interval
        for kind in LATENCY_FIELDS:
            h = snap.histograms.get(kind)
            if h is None or not h.total_count:
                continue
            if kind in merged:
                if kind not in owned:  # published histograms are never mutated: copy first
                    hists[kind] = hists[kind].copy()
                    owned.add(kind)
                hists[kind].add(h)
            else:
                hists[kind] = h
                merged.add(kind)
        for w in snap.workers:
            worker_counts[w.worker_id] = worker_counts.get(w.worker_id, Counters()) + w.counters
            prev = workers.get(w.worker_id)
            keep_latency = prev is not None and not (w.publish_latency.count or w.e2e_latency.count)
            workers[w.worker_id] = w if not keep_latency else _with_latency(w, prev)
    rows = []
    for wid, w in workers.items():
        c = worker_counts[wid]
        rows.append(dataclasses.replace(w, counters=c, rates=c.rates(seconds)).to_dict())
    return {
        "seconds": seconds,
        "intervals": len(snaps),
        "counters": counters.to_dict(),
        "histograms": {k: h.encode_base64() for k, h in hists.items()},
        "workers": rows,
        "resources": snaps[-1].resources.to_dict() if snaps else None,
    }


def _with_latency(w: WorkerStats, prev: WorkerStats) -> WorkerStats:
    return dataclasses.replace(
        w, publish_latency=prev.publish_latency, e2e_latency=prev.e2e_latency
    )


class Shard:
    """A load controller steered from another process (see the module docstring).

    Methods return plain data; nothing here blocks for long except `prepare` (connecting)
    and `stop` (flush and close), both bounded by the load layer's own timeouts.
    """

    def __init__(self, index: int, role: str, settings: dict[str, Any], run_id: int) -> None:
        self.index = index
        self.role = role
        cls = ProduceSettings if role == "producer" else ConsumeSettings
        self.settings = cls(**settings)
        self.run_id = run_id
        self.controller: LoadController | None = None
        self._inbox = SnapshotInbox()
        self._epoch = 0
        self._go_timer: threading.Timer | None = None
        self.started_at: float | None = None  # wall time (this host's clock) of the go
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        return worker_facts()

    def prepare(self) -> dict[str, Any]:
        """Create the engine and every worker's producer or consumer, paused at the start line."""
        # Two sampler intervals per collection: each poll carries about two (merged here),
        # and the shard samples less often than a lone process does (the coordinator's
        # cadence is what anyone sees).
        interval = max(0.05, self.settings.cluster_poll_s / 2)
        controller = LoadController(
            self.role, self.settings, run_id=self.run_id, sample_interval=interval
        )
        controller.sampler.subscribe(self._inbox)
        self.controller = controller
        controller.start(paused=True)
        return self.readiness()

    def readiness(self) -> dict[str, Any]:
        """How many workers are still connecting, and what failed (the coordinator waits for
        every shard to have none connecting before it sets the go time)."""
        c = self.controller
        if c is None or c.pool is None:
            return {"connecting": 0, "threads": 0, "failures": ["not prepared"]}
        workers = c.pool.workers()
        connecting = sum(1 for w in workers if w.alive and w.slot.state in CONNECTING_STATES)
        return {"connecting": connecting, "threads": len(workers), "failures": c.pool.failures()}

    def go(self, at: float) -> float:
        """Resume every worker at wall time `at` (this host's clock); returns the clock now."""
        delay = max(0.0, at - time.time())
        self._go_timer = threading.Timer(delay, self._go_now)
        self._go_timer.daemon = True
        self._go_timer.start()
        return time.time()

    def _go_now(self) -> None:
        c = self.controller
        if c is None or c.pool is None or self._stopped:
            return
        c.reset_metrics()
        self._inbox.take()  # nothing measured before the start line
        c.pool.resume()
        self.started_at = time.time()

    # -- metrics -----------------------------------------------------------------------------------

    def poll(self) -> bytes:
        """Everything measured since the last poll, merged, as compact JSON."""
        return json.dumps(self._report(self._inbox.take()), separators=(",", ":")).encode()

    def _report(self, snaps: list[Snapshot]) -> dict[str, Any]:
        c = self.controller
        pool = c.pool if c is not None else None
        out = merge_intervals(snaps)
        out.update(
            {
                "time": time.time(),
                "epoch": self._epoch,
                "threads": pool.size if pool is not None else 0,
                "paused": bool(pool is not None and pool.paused),
                "finished": bool(c is not None and pool is not None and c.done()),
                "started_at": self.started_at,
                "failures": pool.failures() if pool is not None else [],
                "gil_enabled": gil_enabled(),
            }
        )
        return out

    # -- commands ----------------------------------------------------------------------------------

    async def apply(self, command: dict[str, Any], epoch: int) -> str:
        """Carry out one command (the same objects as a one-process run). A metrics reset
        also drops what was measured before it and starts a new epoch.

        A coroutine, so Dask runs it on the worker's event loop instead of queueing it behind
        the actor's one thread (where a `poll` merging histograms would delay it): the quick
        commands (rate, pause, resume, burst: attributes the worker threads read at their next
        wake) are applied right here; the rest (threads added or removed, a seek, a reset)
        may block on the broker and run on a thread of their own."""
        parsed = cmd.command_from_dict(command)
        if isinstance(parsed, QUICK_COMMANDS):
            return self._controller().apply(parsed)
        return await asyncio.to_thread(self._apply_slow, parsed, epoch)

    def _apply_slow(self, parsed: cmd.Command, epoch: int) -> str:
        c = self._controller()
        if isinstance(parsed, cmd.ResetMetrics):
            self._inbox.take()
            self._epoch = epoch
        return c.apply(parsed)

    def reconfigure(self, changes: dict[str, Any]) -> str:
        return self._controller().reconfigure(**changes)

    def _controller(self) -> LoadController:
        if self.controller is None or self.controller.pool is None:
            raise RuntimeError(f"shard {self.index} is not prepared")
        return self.controller

    def quiesce(self, timeout_s: float) -> int:
        """Stop taking messages, and wait (bounded) until every worker has: each is paused at
        the top of its loop, not inside a receive. The coordinator quiesces every consumer
        shard before it closes any, so a message that one shard's close hands back to the
        subscription (a batch entry it had only partly taken, and so acked only in part) is
        not counted again by a shard still receiving. Returns the workers not yet paused."""
        c = self._controller()
        c.apply(cmd.Pause())
        deadline = time.monotonic() + timeout_s
        while True:
            busy = sum(
                1
                for w in c.pool.workers()
                if w.alive and w.slot.state not in ("paused", "done", "stopped")
            )
            if not busy or time.monotonic() >= deadline:
                return busy
            time.sleep(0.01)

    def stop(self) -> bytes:
        """Stop the workers (flush, close) and hand back the rest: the last intervals, the
        verification state and the failures. Leaves no thread or connection behind."""
        self._stopped = True
        if self._go_timer is not None:
            self._go_timer.cancel()
        c = self.controller
        if c is None:
            return json.dumps({"stopped": True}).encode()
        result = c.stop()
        out = self._report(self._inbox.take())
        pool = c.pool
        out["final_failures"] = result.failures
        out["events"] = list(c.events)
        out["total"] = result.final.total.to_dict()
        if pool is not None and c.settings.verify:
            if self.role == "producer":
                out["verify_sent"] = {str(k): v for k, v in pool.producer_sent().items()}
            else:
                tracker = pool.merged_tracker().to_dict()
                out["verify_tracker"] = {
                    pid: {**d, "bits": bytes(d["bits"]).hex()}  # type: ignore[arg-type]
                    for pid, d in tracker.items()
                }
        self.controller = None
        with contextlib.suppress(Exception):
            self._inbox.take()
        return json.dumps(out, separators=(",", ":")).encode()
