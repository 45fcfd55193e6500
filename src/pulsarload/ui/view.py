"""What one dashboard refresh shows, as immutable data collected from the load controller.

The dolphie habit with immutable data: on each refresh the app collects one `DashboardView`
from the latest snapshot(s), the metrics window and the pool's controls, then hands the same
frozen object to every widget to draw. Widgets never reach into the controller, so they can be
fed fixed views in tests, and nothing the sampler thread owns is shared with the UI.
"""

from __future__ import annotations

import bisect
import functools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pulsarload.config import ConsumeSettings, ProduceSettings
from pulsarload.engines.factory import redelivery_reasons_known
from pulsarload.load import controls as cmd
from pulsarload.load.peek import MessageSample
from pulsarload.metrics.resources import InterpreterInfo, ResourceStats, interpreter_info
from pulsarload.metrics.shards import ShardStats
from pulsarload.metrics.snapshot import Counters, LatencyStats, Snapshot
from pulsarload.metrics.window import SeriesPoint

#: Seconds of history the graphs show.
SPAN_S = 60.0


class PoolLike(Protocol):
    size: int
    max_threads: int

    @property
    def target_rate(self) -> float: ...
    @property
    def base_rate(self) -> float: ...
    @property
    def paused(self) -> bool: ...
    @property
    def bursting(self) -> bool: ...


class SamplerLike(Protocol):
    @property
    def latest(self) -> Snapshot | None: ...
    def subscribe(self, callback: Callable[[Snapshot], None]) -> Callable[[], None]: ...


class WindowLike(Protocol):
    def points(self, coarse: bool = False) -> list[SeriesPoint]: ...

    heatmap_edges: tuple[int, ...]


class ControllerLike(Protocol):
    """The part of `LoadController` the dashboards use (a fake one feeds the fixed tests)."""

    role: str
    settings: ProduceSettings | ConsumeSettings
    sampler: SamplerLike
    window: WindowLike
    pool: Any

    def apply(self, command: cmd.Command) -> str: ...
    def reconfigure(self, **changes: Any) -> str: ...
    def export_now(self) -> list[Path]: ...
    def stop(self) -> Any: ...
    def done(self) -> bool: ...


# -- state the UI keeps between refreshes ---------------------------------------------------------


class TargetHistory:
    """The target rate over time (the window has actual rates only): a step function.

    The app records the pool's target at each refresh; a reset (elapsed going backwards)
    starts it over.
    """

    def __init__(self, max_changes: int = 2048) -> None:
        self._times: list[float] = []
        self._values: list[float] = []
        self._max = max_changes
        self._steps: tuple[tuple[float, float], ...] | None = None

    def record(self, elapsed: float, target: float) -> None:
        if self._times and elapsed < self._times[-1]:
            self.clear()
        if self._values and self._values[-1] == target:
            return
        self._times.append(elapsed)
        self._values.append(target)
        self._steps = None
        if len(self._times) > self._max:
            del self._times[: -self._max]
            del self._values[: -self._max]

    def clear(self) -> None:
        self._times.clear()
        self._values.clear()
        self._steps = None

    def steps(self) -> tuple[tuple[float, float], ...]:
        """(since, target) pairs, oldest first; the same tuple until the target changes."""
        if self._steps is None:
            self._steps = tuple(zip(self._times, self._values, strict=True))
        return self._steps


def target_at(steps: Sequence[tuple[float, float]], t: float) -> float:
    """The target in force at `t` (before the first step: the first step's)."""
    if not steps:
        return 0.0
    i = bisect.bisect_right(steps, t, key=lambda s: s[0])
    return steps[max(0, i - 1)][1]


class ErrorTally:
    """Per worker: failures since start or reset, and rate and p99 over the last second.

    Snapshots carry per-interval (100 ms) figures only; one interval of a batching producer
    often holds no ack at all, so the table shows the last second instead. The app feeds it
    every snapshot it drains (none are skipped).
    """

    def __init__(self, window: int = 10) -> None:
        self._totals: dict[str, int] = {}
        self._last_elapsed = -1.0
        self._recent: deque[tuple[float, dict[str, tuple[float, float]]]] = deque(maxlen=window)

    def add(
        self, snaps: Iterable[Snapshot], done_key: str = "acked", producer: bool = True
    ) -> None:
        for snap in snaps:
            if snap.elapsed < self._last_elapsed:
                self._totals.clear()
                self._recent.clear()
            self._last_elapsed = snap.elapsed
            figures: dict[str, tuple[float, float]] = {}
            for w in snap.workers:
                if w.counters.errors:
                    self._totals[w.worker_id] = self._totals.get(w.worker_id, 0) + w.counters.failed
                lat = w.publish_latency if producer else w.e2e_latency
                figures[w.worker_id] = (getattr(w.counters, done_key), float(lat.p99))
            self._recent.append((snap.interval, figures))

    def get(self, worker_id: str) -> int:
        return self._totals.get(worker_id, 0)

    def recent(self, worker_id: str) -> tuple[float, float] | None:
        """(messages per second, highest p99 in µs) over the last second; None: not seen."""
        span = 0.0
        done = 0.0
        p99 = 0.0
        seen = False
        for interval, figures in self._recent:
            span += interval
            f = figures.get(worker_id)
            if f is not None:
                seen = True
                done += f[0]
                p99 = max(p99, f[1])
        if not seen or span <= 0:
            return None
        return done / span, p99


# -- the view -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def schema_label(spec: str) -> str:
    """What the title bar says of --schema: "" without one, else e.g. " · avro Order"."""
    if not spec:
        return ""
    from pulsarload.client.schema import AvroSchema, JsonSchema, parse_schema_spec

    try:
        schema = parse_schema_spec(spec)
    except ValueError:
        return ""
    kind = spec.split(":", 1)[0]
    if isinstance(schema, AvroSchema | JsonSchema):
        return f" · {kind} {schema.avro_type.record_name() or ''}".rstrip()
    if schema is not None and hasattr(schema, "record_name"):  # protobuf-native
        return f" · {kind} {schema.record_name()}"
    return f" · {kind}"


@dataclass(frozen=True, slots=True)
class WorkerRow:
    name: str
    state: str
    rate: float
    p99_us: float
    cpu_percent: float | None
    errors: int
    queue: int  # pending sends (producer) or receiver queue fill (consumer)
    last_error: str | None


@dataclass(frozen=True, slots=True)
class BacklogRow:
    partition: str
    subscription: str
    backlog: int  # entries (the broker's msgBacklog: a batch counts once)
    consumers: int
    rate_out: float


@dataclass(frozen=True, slots=True)
class BacklogView:
    """The admin API's answer: rows, or why there are none."""

    rows: tuple[BacklogRow, ...] = ()
    state: str = "pending"  # pending (no answer yet), ok, unreachable, error, unavailable
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """The metrics window's points of the last minute (oldest first), shared, never copied
    point by point: the graphs fold in only the points they have not seen yet."""

    points: tuple[SeriesPoint, ...] = ()
    rate_key: str = "acked"  # acked (producer) or received (consumer)
    kind: str = "publish_latency"  # the latency the trends and the heatmap show
    target_steps: tuple[tuple[float, float], ...] | None = None  # producer only
    edges: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DashboardView:
    role: str
    topic: str
    engine: str
    state: str  # starting, running, paused, burst, restarting, stopping
    seq: int
    elapsed: float
    threads: int
    max_threads: int
    target: float | None  # producer: global target now (0 = as fast as possible)
    base_rate: float | None
    rate: float  # acked (producer) or received (consumer) per second, over the last second
    mb_rate: float
    total: Counters
    avg_rate: float
    latency_kind: str
    latency_now: LatencyStats
    latency_run: LatencyStats
    processing_now: LatencyStats
    processing_run: LatencyStats
    send_delay_run: LatencyStats
    series: Series
    workers: tuple[WorkerRow, ...]
    resources: ResourceStats
    interpreter: InterpreterInfo
    parallelism: float  # worker CPU summed, in cores
    batch_messages: float
    batch_bytes: float
    pending: int
    receiver_queue: int
    in_flight: int
    verify: bool
    settings: ProduceSettings | ConsumeSettings
    shards: tuple[ShardStats, ...] = ()  # a run spread over many processes: one row each
    burst_left: float = 0.0  # seconds a running burst has left
    samples: tuple[MessageSample, ...] = ()  # consumer: a sample of received messages
    redelivery_reasons: bool = True  # the engine's client says why it redelivers

    @property
    def producer(self) -> bool:
        return self.role == "producer"


_EMPTY_LAT = LatencyStats()
RECENT_POINTS = 10  # "now" rates are the last second (10 x 100 ms): steadier than one interval


def _recent(points: Sequence[SeriesPoint], key: str) -> float:
    tail = points[-RECENT_POINTS:]
    span = sum(p.span for p in tail)
    return sum(p.rates[key] * p.span for p in tail) / span if span > 0 else 0.0


#: Received messages the consumer's messages panel shows (it scrolls).
PANEL_SAMPLES = 50


def _samples(controller: ControllerLike) -> tuple[MessageSample, ...]:
    """The newest sampled messages (a cluster run's shards keep theirs: none here)."""
    peek = getattr(controller, "peek", None)
    return tuple(peek(PANEL_SAMPLES)) if callable(peek) else ()


def collect(
    controller: ControllerLike,
    snap: Snapshot | None,
    history: TargetHistory,
    tally: ErrorTally,
    *,
    state: str | None = None,
    info: InterpreterInfo | None = None,
) -> DashboardView:
    """One refresh's worth of data (UI thread; costs a copy of the window ring)."""
    role = controller.role
    settings = controller.settings
    producer = role == "producer"
    pool = controller.pool
    window = controller.window
    points = window.points()  # a copy of the ring's references: no per-point work here
    elapsed = snap.elapsed if snap is not None else 0.0
    target: float | None = None
    if producer:
        target = float(pool.target_rate) if pool is not None else float(settings.rate)  # type: ignore[union-attr]
        history.record(elapsed, target)
    if state is None:
        state = "starting" if snap is None else cmd.run_state(pool, producer)

    done_key = "acked" if producer else "received"
    bytes_key = "bytes_sent" if producer else "bytes_received"
    kind = "publish_latency" if producer else "e2e_latency"
    series = Series(
        points=tuple(points),
        rate_key=done_key,
        kind=kind,
        target_steps=history.steps() if producer else None,
        edges=tuple(window.heatmap_edges),
    )

    if snap is None:
        total = Counters()
        rates: dict[str, float] = {}
        lat_now = lat_run = proc_now = proc_run = delay = _EMPTY_LAT
        workers: tuple[WorkerRow, ...] = ()
        resources = ResourceStats()
        interval = Counters()
        avg = 0.0
    else:
        total = snap.total
        rates = snap.rates
        lat_now = snap.latency.get(kind, _EMPTY_LAT)
        lat_run = snap.total_latency.get(kind, _EMPTY_LAT)
        proc_now = snap.latency.get("processing_latency", _EMPTY_LAT)
        proc_run = snap.total_latency.get("processing_latency", _EMPTY_LAT)
        delay = snap.total_latency.get("send_delay", _EMPTY_LAT)
        resources = snap.resources
        interval = snap.counters
        avg = getattr(total, done_key) / snap.elapsed if snap.elapsed > 0 else 0.0
        rows = []
        for w in snap.workers:
            recent = tally.recent(w.worker_id)
            if recent is None:
                recent = (
                    w.rates.get(done_key, 0.0),
                    float((w.publish_latency if producer else w.e2e_latency).p99),
                )
            rows.append(
                WorkerRow(
                    name=w.thread_name or w.worker_id,
                    state=w.state,
                    rate=recent[0],
                    p99_us=recent[1],
                    cpu_percent=w.cpu_percent,
                    errors=tally.get(w.worker_id),
                    queue=w.pending_sends if producer else w.receiver_queue,
                    last_error=w.last_error,
                )
            )
        workers = tuple(rows)
    batches = interval.batches or total.batches
    basis = interval if interval.batches else total
    parallelism = sum(w.cpu_percent or 0.0 for w in workers) / 100.0
    in_flight = max(0, total.received - total.consumer_acked - total.nacked)
    return DashboardView(
        role=role,
        topic=settings.pattern if not producer and settings.pattern else settings.topic,  # type: ignore[union-attr]
        engine=settings.engine + schema_label(getattr(settings, "schema", "")),
        state=state,
        burst_left=float(getattr(pool, "burst_left", 0.0)) if state == "burst" else 0.0,
        samples=_samples(controller) if not producer else (),
        seq=snap.seq if snap is not None else 0,
        elapsed=elapsed,
        threads=pool.size if pool is not None else 0,
        max_threads=pool.max_threads if pool is not None else settings.max_threads,
        target=target,
        base_rate=float(pool.base_rate) if producer and pool is not None else None,
        rate=_recent(points, done_key) if points else rates.get(done_key, 0.0),
        mb_rate=(_recent(points, bytes_key) if points else rates.get(bytes_key, 0.0)) / 1e6,
        total=total,
        avg_rate=avg,
        latency_kind=kind,
        latency_now=lat_now,
        latency_run=lat_run,
        processing_now=proc_now,
        processing_run=proc_run,
        send_delay_run=delay,
        series=series,
        workers=workers,
        resources=resources,
        interpreter=info or interpreter_info(),
        parallelism=parallelism,
        batch_messages=(basis.sent / batches) if batches else 0.0,
        batch_bytes=(basis.bytes_sent / batches) if batches else 0.0,
        pending=sum(w.queue for w in workers) if producer else 0,
        receiver_queue=sum(w.queue for w in workers) if not producer else 0,
        in_flight=in_flight,
        verify=settings.verify,
        settings=settings,
        shards=snap.shards if snap is not None else (),
        redelivery_reasons=redelivery_reasons_known(settings.engine),
    )
