"""One step of a capacity search: its figures from the snapshots of its measured window, the
SLO verdict, and whether a failure comes from the client or the broker.

The figures come from the interval histograms of the window's snapshots, merged exactly (never
averaged percentiles), so the same code judges one process's snapshots or a cluster's merged
ones. A step fails on any SLO, on a rate it did not reach, or (with a consumer) on a backlog
that keeps growing, whatever the latency.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pulsarload.config import CapacitySettings
from pulsarload.errors import ConfigError
from pulsarload.load.thresholds import Threshold, parse_threshold
from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.snapshot import Snapshot

#: Figures an SLO may name; the e2e ones need a consumer in the run (--with-consumer).
PRODUCER_METRICS = frozenset(
    {"p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms", "error_rate", "send_delay_p99_ms"}
)
E2E_METRICS = frozenset({"e2e_p50_ms", "e2e_p95_ms", "e2e_p99_ms", "e2e_p999_ms", "e2e_max_ms"})
STEP_METRICS = PRODUCER_METRICS | E2E_METRICS


def parse_slos(texts: Sequence[str], with_consumer: bool) -> list[Threshold]:
    """SLOs in the threshold syntax; each must be an upper bound the search can climb against."""
    slos = []
    for text in texts:
        slo = parse_threshold(text, STEP_METRICS)
        if slo.op not in ("<", "<="):
            raise ConfigError(
                f"SLO {text!r} must be an upper bound (< or <=), e.g. 'p99_ms<50': "
                "the search looks for the highest rate that stays under it"
            )
        if slo.metric in E2E_METRICS and not with_consumer:
            raise ConfigError(
                f"SLO {text!r} needs end-to-end latency: add --with-consumer (or drop it)"
            )
        slos.append(slo)
    return slos


@dataclass(frozen=True, slots=True)
class StepResult:
    """One measured step: what was asked, what happened, and the verdict."""

    index: int
    phase: str
    target: float
    achieved: float  # broker-acknowledged msg/s in the window
    sent_rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    send_delay_p99_ms: float
    errors: int
    error_rate: float
    client_cpu_percent: float  # the whole client process, 100 = one core
    worker_cpu_max_percent: float | None  # the busiest producer thread
    pending_fill: float  # pending sends / (max_pending x producers), mean over the window
    window_s: float
    started_at: float  # wall clock: the rate change
    measured_from: float  # wall clock: end of the warm-up
    ended_at: float
    passed: bool = False
    failed_because: tuple[str, ...] = ()
    bound: str | None = None  # failing steps: "client", "broker" or "consumer"
    bound_why: str = ""
    received_rate: float | None = None
    backlog_slope: float | None = None  # msg/s the backlog grew (consumer runs)
    backlog_slope_error: float | None = None  # standard error of that slope
    e2e_p50_ms: float | None = None
    e2e_p95_ms: float | None = None
    e2e_p99_ms: float | None = None
    e2e_p999_ms: float | None = None
    e2e_max_ms: float | None = None
    slo_observed: dict[str, float] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        """The SLO-checkable figures (e2e ones only when a consumer measured them)."""
        d = {name: float(getattr(self, name)) for name in sorted(PRODUCER_METRICS)}
        for name in sorted(E2E_METRICS):
            value = getattr(self, name)
            if value is not None:
                d[name] = float(value)
        return d

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failed_because"] = list(self.failed_because)
        return d


def merged(snaps: Sequence[Snapshot], kind: str) -> Histogram | None:
    """The exact merge of one interval histogram over the snapshots (None when empty)."""
    out: Histogram | None = None
    for s in snaps:
        h = s.histograms.get(kind)
        if h is None or not h.total_count:
            continue
        if out is None:
            out = h.copy()
        else:
            out.add(h)
    return out


def _ms_percentiles(h: Histogram | None) -> dict[str, float]:
    if h is None:
        return dict.fromkeys(("p50", "p95", "p99", "p999", "max"), 0.0)
    p = h.percentiles((50.0, 95.0, 99.0, 99.9))
    return {
        "p50": p[50.0] / 1000,
        "p95": p[95.0] / 1000,
        "p99": p[99.0] / 1000,
        "p999": p[99.9] / 1000,
        "max": h.max / 1000,
    }


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (time, value) points; None with fewer than two distinct times."""
    fit = slope_with_error(points)
    return None if fit is None else fit[0]


def slope_with_error(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """(slope, its standard error) of a least-squares line; None without two distinct times.

    A consumer takes messages in bursts (batches, receiver queue, a descheduled thread), so a
    backlog wobbles by hundreds of messages; the error says how much of a slope is wobble."""
    n = len(points)
    if n < 2:
        return None
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if not var:
        return None
    b = sum((t - mt) * (v - mv) for t, v in points) / var
    if n < 3:
        return b, 0.0
    residual = sum((v - mv - b * (t - mt)) ** 2 for t, v in points)
    return b, math.sqrt(residual / (n - 2) / var)


def backlog_points(
    producer: Sequence[Snapshot], consumer: Sequence[Snapshot]
) -> list[tuple[float, float]]:
    """(time, acked so far - received so far) at each consumer tick, counting the producer
    snapshots taken by then. Paired by time, not by order: the two streams may tick at
    different paces (a cluster's merged producer stream every poll, a consumer every second)."""
    out = []
    acked = received = 0
    p = iter(sorted(producer, key=lambda s: s.time))
    pending = next(p, None)
    for c in consumer:
        while pending is not None and pending.time <= c.time:
            acked += pending.counters.acked
            pending = next(p, None)
        received += c.counters.received
        out.append((c.time, float(acked - received)))
    return out


def shard_rate(snaps: Sequence[Snapshot]) -> float | None:
    """A sharded run's acknowledged msg/s over the window, each shard's count over the time
    it measured itself, added up (None for one process). The merged snapshots' own intervals
    are the coordinator's: a shard that answers a poll late moves a round's messages over the
    window's edge, which on a busy machine is a third of a short window."""
    if not snaps or not snaps[0].shards or not snaps[-1].shards:
        return None
    first = {s.shard: s for s in snaps[0].shards}
    total = 0.0
    for last in snaps[-1].shards:
        start = first.get(last.shard)
        if last.state == "lost" or start is None:
            continue
        span = last.measured_s - start.measured_s
        if span > 0:
            total += (last.done - start.done) / span
    return total


def client_cores() -> int:
    """CPUs this process may run on (its affinity), for the saturation test."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def measure_step(
    *,
    index: int,
    phase: str,
    target: float,
    producer: Sequence[Snapshot],
    consumer: Sequence[Snapshot] | None,
    started_at: float,
    measured_from: float,
    ended_at: float,
    max_pending: int,
) -> StepResult:
    """Figures of one step from its window's snapshots (verdict not yet given)."""
    seconds = sum(s.interval for s in producer) or 1e-9
    acked = sum(s.counters.acked for s in producer)
    sharded = shard_rate(producer)
    sent = sum(s.counters.sent for s in producer)
    failed = sum(s.counters.failed for s in producer)
    lat = _ms_percentiles(merged(producer, "publish_latency"))
    delay = _ms_percentiles(merged(producer, "send_delay"))
    cpu = [s.resources.process_cpu_percent for s in producer if s.resources.process_cpu_percent]
    busiest = [
        max(w.cpu_percent for w in s.workers if w.cpu_percent is not None)
        for s in producer
        if any(w.cpu_percent is not None for w in s.workers)
    ]
    fills = [
        sum(w.pending_sends for w in s.workers) / (max_pending * len(s.workers))
        for s in producer
        if s.workers
    ]
    extra: dict[str, Any] = {}
    if consumer is not None:
        c_seconds = sum(s.interval for s in consumer) or 1e-9
        e2e = _ms_percentiles(merged(consumer, "e2e_latency"))
        fit = slope_with_error(backlog_points(producer, consumer))
        extra = {
            "received_rate": sum(s.counters.received for s in consumer) / c_seconds,
            "backlog_slope": None if fit is None else fit[0],
            "backlog_slope_error": None if fit is None else fit[1],
            "e2e_p50_ms": e2e["p50"],
            "e2e_p95_ms": e2e["p95"],
            "e2e_p99_ms": e2e["p99"],
            "e2e_p999_ms": e2e["p999"],
            "e2e_max_ms": e2e["max"],
        }
    return StepResult(
        index=index,
        phase=phase,
        target=target,
        achieved=acked / seconds if sharded is None else sharded,
        sent_rate=sent / seconds,
        p50_ms=lat["p50"],
        p95_ms=lat["p95"],
        p99_ms=lat["p99"],
        p999_ms=lat["p999"],
        max_ms=lat["max"],
        send_delay_p99_ms=delay["p99"],
        errors=failed,
        error_rate=failed / (acked + failed) if acked + failed else 0.0,
        client_cpu_percent=sum(cpu) / len(cpu) if cpu else 0.0,
        worker_cpu_max_percent=sum(busiest) / len(busiest) if busiest else None,
        pending_fill=sum(fills) / len(fills) if fills else 0.0,
        window_s=seconds,
        started_at=started_at,
        measured_from=measured_from,
        ended_at=ended_at,
        **extra,
    )


def judge(
    step: StepResult, slos: Sequence[Threshold], s: CapacitySettings, cores: int
) -> StepResult:
    """The step with its verdict, its reasons and, when it failed, what limited it."""
    from dataclasses import replace

    figures = step.figures()
    reasons = []
    observed = {}
    for slo in slos:
        ok, value = slo.check(figures)
        observed[str(slo)] = value
        if not ok:
            reasons.append(f"{slo.metric} {value:.4g} breaks {slo}")
    # One message of slack per window: at a few msg/s a window edge is a tenth of the count.
    if step.achieved < (1 - s.achieved_tolerance) * step.target - 1 / max(step.window_s, 1e-9):
        reasons.append(f"rate not reached: {step.achieved:,.0f} of {step.target:,.0f} msg/s")
    # Growing: faster than the tolerance even after two standard errors of wobble.
    backlog_failed = (
        step.backlog_slope is not None
        and step.backlog_slope - 2 * (step.backlog_slope_error or 0.0)
        > s.backlog_tolerance * step.target
    )
    if backlog_failed:
        reasons.append(f"backlog grows {step.backlog_slope:,.0f} msg/s")
    if step.achieved == 0 and step.errors == 0:
        reasons.append("nothing was acknowledged in the window")
    only_backlog = backlog_failed and len(reasons) == 1
    bound, why = (None, "") if not reasons else _bound(step, s, cores, only_backlog)
    return replace(
        step,
        passed=not reasons,
        failed_because=tuple(reasons),
        bound=bound,
        bound_why=why,
        slo_observed=observed,
    )


def _bound(
    step: StepResult, s: CapacitySettings, cores: int, only_backlog: bool
) -> tuple[str, str]:
    """Client or broker: a saturated client thread (or process) with the broker keeping up
    (few sends pending) is the client; sends piling up unacknowledged is the broker."""
    busy = s.client_cpu_busy_percent
    thread = step.worker_cpu_max_percent
    facts = (
        f"busiest producer thread {thread:.0f}% of a core"
        if thread is not None
        else "producer thread CPU unknown",
        f"client process {step.client_cpu_percent:.0f}% ({cores} core(s))",
        f"pending {step.pending_fill:.0%} of max_pending",
        f"send delay p99 {step.send_delay_p99_ms:.1f} ms",
        f"achieved {step.achieved:,.0f} of {step.target:,.0f} msg/s",
    )
    saturated = (thread is not None and thread >= busy) or step.client_cpu_percent >= busy * cores
    waiting = step.pending_fill >= s.pending_full_fraction
    if only_backlog:
        return "consumer", "the consumer falls behind: " + ", ".join(facts)
    if saturated and not waiting:
        return "client", "the client is saturated: " + ", ".join(facts)
    return "broker", "the broker is the limit: " + ", ".join(facts)
