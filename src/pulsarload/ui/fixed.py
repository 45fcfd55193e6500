"""The fixed-data entry point: a dashboard fed deterministic snapshots, no broker, no clock.

Snapshot tests pin the layout with it (`fixed_app("producer")`), and it previews the dashboards
without a cluster: `python -m pulsarload.ui.fixed producer|consumer`. The data is synthetic
but built from the real types (Snapshot, Histogram, MetricsWindow), so the widgets draw it
exactly as they draw a live run. `FixedController` also carries out commands on a fake pool,
so key handling can be tested without a broker.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulsarload.config import ConsumeSettings, ProduceSettings, resolve_settings, validate_settings
from pulsarload.load import controls as cmd
from pulsarload.load.peek import MessageSample, preview
from pulsarload.load.results import RunResult, summary_figures
from pulsarload.metrics.export import export_snapshot
from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.recorder import LATENCY_FIELDS
from pulsarload.metrics.resources import InterpreterInfo, ResourceStats
from pulsarload.metrics.snapshot import Counters, LatencyStats, Snapshot, WorkerStats
from pulsarload.metrics.window import MetricsWindow
from pulsarload.ui.view import BacklogRow, BacklogView

INTERVAL = 0.1
POINTS = 600  # 60 s of 100 ms snapshots
EPOCH = 1_750_000_000.0  # a fixed wall clock: screenshots never show today's date
FIXED_INFO = InterpreterInfo("cpython", "3.13.5", True, False, 2)
FIXED_TOPIC = "persistent://public/default/orders"
# Relative latency spread of one interval and how many of each (a long-ish tail).
SPREAD = (
    (0.55, 8),
    (0.7, 14),
    (0.85, 20),
    (1.0, 24),
    (1.2, 16),
    (1.5, 9),
    (2.2, 5),
    (3.5, 3),
    (7.0, 1),
)
SPREAD_TOTAL = sum(n for _, n in SPREAD)


def _target_at(t: float) -> float:
    """The producer's scripted target: 2,000 msg/s, raised to 5,000 at 30 s."""
    return 2000.0 if t < 30 else 5000.0


def _actual_at(t: float, role: str) -> float:
    wobble = 1.0 + 0.03 * math.sin(t * 1.7) + 0.015 * math.sin(t * 7.3)
    if role == "consumer":
        dip = 0.55 if 41 <= t < 44 else 1.0  # a short stall: the rate graph shows it
        return 3000.0 * wobble * dip
    if t < 30:
        return 2000.0 * wobble * 0.99
    ramp = min(1.0, (t - 30) / 4)  # the cluster cannot keep up with 5,000: a visible gap
    return (2000.0 + ramp * 2300.0) * wobble


def _latency_base_us(t: float, role: str) -> float:
    if role == "consumer":
        return 4200.0 + (9000.0 if 41 <= t < 44 else 0.0)
    return 1800.0 if t < 30 else 1800.0 + min(1.0, (t - 30) / 4) * 4200.0


def _record_spread(hists: list[Histogram], base_us: float, count: int) -> None:
    for factor, weight in SPREAD:
        n = round(count * weight / SPREAD_TOTAL)
        if n:
            v = int(base_us * factor)
            for h in hists:
                h.record(v, n)


def synthetic_snapshots(role: str, points: int = POINTS) -> list[Snapshot]:
    """`points` deterministic 100 ms snapshots of a run with three workers."""
    producer = role == "producer"
    kind = "publish_latency" if producer else "e2e_latency"
    total = Counters()
    total_hists = {k: Histogram() for k in LATENCY_FIELDS}
    snaps: list[Snapshot] = []
    names = [f"{role}-{i}" for i in range(3)]
    for i in range(1, points + 1):
        t = i * INTERVAL
        rate = _actual_at(t, role)
        n = round(rate * INTERVAL)
        last = i == points
        hists = {k: Histogram() for k in (kind, "send_delay" if producer else "processing_latency")}
        _record_spread([hists[kind], total_hists[kind]], _latency_base_us(t, role), n)
        errors: dict[str, int] = {}
        if producer and i % 97 == 0:
            errors["timeout"] = 4
        if producer and i % 211 == 0:
            errors["queue_full"] = 1
        if producer:
            _record_spread(
                [hists["send_delay"], total_hists["send_delay"]],
                90.0 + (400.0 if t >= 30 else 0.0),
                n,
            )
            sent = n + (3 if t >= 30 else 0)
            counters = Counters(
                sent=sent,
                acked=n,
                bytes_sent=sent * 1024,
                batches=max(1, sent // 25),
                errors=errors,
            )
        else:
            _record_spread(
                [hists["processing_latency"], total_hists["processing_latency"]], 180.0, n
            )
            nacked = 1 if i % 50 == 0 else 0
            counters = Counters(
                received=n,
                bytes_received=n * 1024,
                consumer_acked=n - nacked - (2 if i == points else 0),
                nacked=nacked,
                redelivered=1 if i % 75 == 0 else 0,
                redelivered_negative_ack=nacked,
                redelivered_reconnect=2 if i == 150 else 0,
            )
        total = total + counters
        workers = []
        for w, name in enumerate(names):
            share = (0.36, 0.33, 0.31)[w]
            wc = Counters(
                sent=round(counters.sent * share),
                acked=round(counters.acked * share),
                received=round(counters.received * share),
                errors={"timeout": 4} if errors.get("timeout") and w == 1 else {},
            )
            lat = LatencyStats.from_histogram(hists[kind]) if last else LatencyStats()
            workers.append(
                WorkerStats(
                    worker_id=f"{role[0]}{w}",
                    role=role,
                    state="running",
                    counters=wc,
                    rates=wc.rates(INTERVAL),
                    publish_latency=lat if producer else LatencyStats(),
                    e2e_latency=lat if not producer else LatencyStats(),
                    cpu_percent=(41.0, 38.5, 36.0)[w],
                    pending_sends=(12, 9, 15)[w] if producer else 0,
                    receiver_queue=0 if producer else (120, 87, 96)[w],
                    last_error="timeout" if producer and w == 1 and t > 9.7 else None,
                    thread_name=name,
                    native_id=1000 + w,
                )
            )
        resources = ResourceStats(
            process_cpu_percent=131.0,
            process_cpu_seconds=t * 1.3,
            rss_bytes=118 * 1024 * 1024,
            threads=11,
            python_threads=8,
            net_bytes_out=int(total.bytes_sent * 1.05),
            net_bytes_in=int(total.bytes_received * 1.05),
            net_out_per_s=counters.bytes_sent * 10.5,
            net_in_per_s=counters.bytes_received * 10.5,
            connections=3,
            gil_enabled=False,
            free_threaded_build=True,
            thread_cpu_percent={str(1000 + w): c for w, c in enumerate((41.0, 38.5, 36.0))},
        )
        snaps.append(
            Snapshot(
                seq=i,
                time=EPOCH + t,
                elapsed=t,
                interval=INTERVAL,
                counters=counters,
                rates=counters.rates(INTERVAL),
                latency={k: LatencyStats.from_histogram(h) for k, h in hists.items()}
                if last
                else {},
                total=total,
                total_latency=(
                    {k: LatencyStats.from_histogram(h) for k, h in total_hists.items()}
                    if last
                    else {}
                ),
                workers=tuple(workers),
                resources=resources,
                histograms=hists,
                labels={"role": role, "engine": "native", "topic": FIXED_TOPIC},
            )
        )
    return snaps


FIXED_BACKLOG = BacklogView(
    rows=(
        BacklogRow(f"{FIXED_TOPIC}-partition-0", "pulsarload-sub", 120, 1, 1012.0),
        BacklogRow(f"{FIXED_TOPIC}-partition-1", "pulsarload-sub", 0, 1, 998.0),
        BacklogRow(f"{FIXED_TOPIC}-partition-2", "pulsarload-sub", 2417, 1, 990.0),
    ),
    state="ok",
)


@functools.cache
def fixed_data(role: str) -> tuple[Snapshot, MetricsWindow]:
    """The last snapshot and a window holding all of them (built once per role: it is slow)."""
    window = MetricsWindow()
    snaps = synthetic_snapshots(role)
    for s in snaps:
        window.add(s)
    return snaps[-1], window


class FixedSampler:
    def __init__(self, latest: Snapshot) -> None:
        self.latest = latest

    def subscribe(self, callback: Callable[[Snapshot], None]) -> Callable[[], None]:
        return lambda: None


class FixedPool:
    """The pool's controls, without threads."""

    def __init__(self, size: int, rate: float, max_threads: int) -> None:
        self.size = size
        self.max_threads = max_threads
        self.base_rate = rate
        self.paused = False
        self.burst_multiplier = 1.0
        self.burst_left = 0.0

    @property
    def target_rate(self) -> float:
        return self.base_rate * self.burst_multiplier

    @property
    def bursting(self) -> bool:
        return self.burst_multiplier != 1.0


class FixedController:
    """A stand-in for `LoadController` with fixed data; commands change the fake pool only."""

    def __init__(
        self, role: str, settings: ProduceSettings | ConsumeSettings | None = None
    ) -> None:
        self.role = role
        if settings is None:
            cls = ProduceSettings if role == "producer" else ConsumeSettings
            flags: dict[str, Any] = {"topic": FIXED_TOPIC, "threads": 3}
            if role == "producer":
                flags["rate"] = 5000.0
            settings = resolve_settings(cls, flags, environ={})
        self.settings = settings
        latest, self.window = fixed_data(role)  # shared: never written to
        self.sampler = FixedSampler(latest)
        self.pool = FixedPool(3, getattr(settings, "rate", 0.0), settings.max_threads)
        self.commands: list[cmd.Command] = []
        self.stopped = False

    def target_history(self) -> list[tuple[float, float]]:
        return [(0.0, _target_at(0.0)), (30.0, _target_at(30.0))]

    def apply(self, command: cmd.Command) -> str:
        self.commands.append(command)
        pool = self.pool
        match command:
            case cmd.SetRate(rate=rate):
                pool.base_rate = rate
                return f"target rate {rate:,.0f} msg/s"
            case cmd.AddWorker(count=n):
                pool.size = min(pool.max_threads, pool.size + n)
                return f"added {n} thread(s): {pool.size} running"
            case cmd.RemoveWorker(count=n):
                pool.size = max(1, pool.size - n)
                return f"removed {n} thread(s): {pool.size} running"
            case cmd.Pause():
                pool.paused = True
                return "paused"
            case cmd.Resume():
                pool.paused = False
                return "resumed"
            case cmd.Burst(multiplier=m, seconds=secs):
                pool.burst_multiplier = m
                pool.burst_left = secs
                return f"burst x{m:g} for {secs:g}s"
            case cmd.EndBurst():
                pool.burst_multiplier, pool.burst_left = 1.0, 0.0
                return "burst ended early"
            case cmd.ResetMetrics():
                return "metrics reset"
            case cmd.Seek(target=target):
                return f"seek to {target}"
        return str(command)

    def reconfigure(self, **changes: Any) -> str:
        new = dataclasses.replace(self.settings, **changes)
        validate_settings(new)
        self.settings = new
        if "rate" in changes:
            self.pool.base_rate = new.rate  # type: ignore[union-attr]
        if "threads" in changes:
            self.pool.size = new.threads
        return ", ".join(f"{k}={v!r}" for k, v in sorted(changes.items()))

    def export_now(self) -> list[Path]:
        directory = self.settings.export_dir
        if not directory:
            return []
        return [export_snapshot(directory, self.sampler.latest, prefix=f"{self.role}-snapshot")]

    def stop(self) -> RunResult:
        self.stopped = True
        final = self.sampler.latest
        return RunResult(self.role, final, summary_figures(final, self.role))

    def done(self) -> bool:
        return False

    def peek(self, n: int) -> list[MessageSample]:
        """Fixed received messages: text and binary payloads, a key, properties, a redelivery."""
        return list(FIXED_SAMPLES[-n:]) if self.role == "consumer" else []


#: Payloads of the fixed received messages: text, then binary.
_FIXED_PAYLOADS = [b'order %d: {"sku": "A-%d", "qty": 3}' % (n, n) for n in range(5)] + [
    bytes(range(n, n + 80)) for n in range(3)
]
#: What the consumer's messages panel shows in the fixed tests (oldest first).
FIXED_SAMPLES = tuple(
    MessageSample(
        worker=f"consumer-{i % 3}",
        received_ns=1_700_000_000_000_000_000 + i * 500_000_000,
        topic=FIXED_TOPIC,
        message_id=f"{1234 + i // 3}:{i * 7}:-1",
        key=f"key-{i}" if i % 2 else None,
        properties=(("origin", "fixed"),) if i % 3 == 0 else (),
        publish_time_ms=1_700_000_000_000 + i * 500,
        event_time_ms=1_700_000_000_000 + i * 500 - 3 if i % 4 == 0 else 0,
        redelivery_count=1 if i == 5 else 0,
        size=len(data),
        preview_kind=preview(data)[0],
        preview=preview(data)[1],
    )
    for i, data in enumerate(_FIXED_PAYLOADS)
)


def fixed_app(
    role: str = "producer",
    controller: FixedController | None = None,
    *,
    blink: bool = False,
    backlog: Any = FIXED_BACKLOG,
) -> Any:
    """A dashboard app on fixed data: the entry point of the snapshot tests."""
    from pulsarload.ui.app import app_for

    controller = controller or FixedController(role)
    app = app_for(
        controller,
        backlog=backlog,
        blink=blink,
        info=FIXED_INFO,
    )
    for elapsed, target in controller.target_history():
        app.target_history.record(elapsed, target)
    return app


if __name__ == "__main__":  # pragma: no cover - a preview for people, not tests
    fixed_app(sys.argv[1] if len(sys.argv) > 1 else "producer", blink=True).run()
