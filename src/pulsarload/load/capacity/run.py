"""Driving a capacity search: set a rate, discard a warm-up, measure a window, judge, repeat.

`SearchDriver` steers anything that takes commands and streams snapshots (`LoadTarget`): the
producer `LoadController` of this process, or a controller that fans commands out to many
processes and streams their merged snapshots. It never looks behind that interface.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pulsarload.config import CapacitySettings
from pulsarload.load import controls as cmd
from pulsarload.load.capacity.decide import Decidability, decide
from pulsarload.load.capacity.live import LiveSearch
from pulsarload.load.capacity.search import CapacitySearch, Outcome
from pulsarload.load.capacity.step import StepResult, client_cores, judge, measure_step
from pulsarload.load.thresholds import Threshold
from pulsarload.metrics.snapshot import Snapshot
from pulsarload.metrics.subscribers import SnapshotInbox

Measure = Callable[[int, str, int], StepResult]  # (rate, phase, index) -> judged step


class LoadTarget(Protocol):
    """What the search drives: commands in, snapshots out."""

    def apply(self, command: cmd.Command) -> str: ...

    def subscribe(self, callback: Callable[[Snapshot], None]) -> Callable[[], None]: ...


def drive(
    search: CapacitySearch,
    measure: Measure,
    *,
    before_step: Callable[[int, str, int], None] | None = None,
    after_step: Callable[[StepResult], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[StepResult]:
    """Ask the search for rates and feed it verdicts until it is done (or told to stop)."""
    steps: list[StepResult] = []
    while not should_stop():
        rate = search.next_rate()
        if rate is None:
            break
        phase = search.phase() or "ramp"
        if before_step is not None:
            before_step(rate, phase, len(steps) + 1)
        step = measure(rate, phase, len(steps) + 1)
        if should_stop():  # interrupted inside the step: its figures are not a verdict
            break
        search.record(rate, step.passed)
        steps.append(step)
        if after_step is not None:
            after_step(step)
    return steps


@dataclass(slots=True)
class CapacityReport:
    """The answer and the curve, as report data and as lines for a terminal."""

    settings: CapacitySettings
    slos: list[Threshold]
    steps: list[StepResult]
    outcome: Outcome
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    #: 1-minute load average at the start and after each step (for the decidability verdict).
    loads: list[float] = field(default_factory=list)

    def limiting_step(self) -> StepResult | None:
        """The last failing run of the lowest failing rate: what it says limits the rate."""
        if self.outcome.failing is None:
            return None
        fails = [s for s in self.steps if s.target == self.outcome.failing and not s.passed]
        return fails[-1] if fails else None

    def decidability(self) -> Decidability:
        """Whether the figure would hold for another search under the same load."""
        loads = self.loads or [self.load_start[0], self.load_end[0]]
        return decide(
            self.steps,
            self.outcome,
            self.settings.resolution,
            loads,
            os.cpu_count() or 1,
            self.limiting_step(),
            self.settings.busy_load_per_cpu,
        )

    def statement(self) -> str:
        o, s = self.outcome, self.settings
        res = f"resolution {s.resolution:.1%}"
        prefix = "interrupted: so far " if self.interrupted else ""
        if o.ended == "ceiling":
            return (
                f"{prefix}at least {o.capacity:,.0f} msg/s: the ceiling passed "
                "(raise --max-rate to search higher)"
            )
        if o.passing is None:
            low = f"{o.failing:,.0f}" if o.failing is not None else "-"
            return f"{prefix}no rate met the SLO (the lowest tried, {low} msg/s, failed)"
        if o.failing is None:
            return f"{prefix}passes at {o.passing:,.0f} msg/s; no failing rate found yet"
        gap = o.gap or 0.0
        return (
            f"{prefix}passes at {o.passing:,.0f} msg/s and fails at {o.failing:,.0f} msg/s "
            f"({gap:.1%} apart; {res})"
        )

    def to_dict(self) -> dict[str, Any]:
        o = self.outcome
        limit = self.limiting_step()
        decidable = self.decidability()
        return {
            "slo": [str(t) for t in self.slos],
            "capacity_msg_s": o.capacity,
            "passing_msg_s": o.passing,
            "failing_msg_s": o.failing,
            "gap": o.gap,
            "resolution": self.settings.resolution,
            "ended": "interrupted" if self.interrupted else o.ended,
            "statement": self.statement(),
            "confidence": {
                "level": o.confidence,
                "votes": dict(o.votes),
                "inversions": list(o.inversions),
                "notes": list(o.notes) + self.notes,
            },
            "decidable": decidable.to_dict(),
            "limited_by": None if limit is None else limit.bound,
            "limited_why": "" if limit is None else limit.bound_why,
            "step_warmup_s": self.settings.step_warmup_s,
            "step_window_s": self.settings.step_window_s,
            "start_rate": self.settings.start_rate,
            "max_rate": self.settings.max_rate,
            "ramp_factor": self.settings.ramp_factor,
            "with_consumer": self.settings.with_consumer,
            "load_average": {
                "start": list(self.load_start),
                "end": list(self.load_end),
                "cpus": os.cpu_count() or 1,
            },
            "steps": [s.to_dict() for s in self.steps],
        }

    def lines(self) -> list[str]:
        o = self.outcome
        out = [
            "== capacity ==",
            f"capacity {o.capacity:,.0f} msg/s meeting {', '.join(str(t) for t in self.slos)}",
            self.statement(),
            f"confidence {o.confidence}"
            + (f" (passing {o.votes['passing']}" if "passing" in o.votes else " (")
            + (f", failing {o.votes['failing']})" if "failing" in o.votes else ")")
            + "".join(f"; {n}" for n in (*o.notes, *self.notes)),
        ]
        limit = self.limiting_step()
        if limit is not None:
            out.append(f"limited by the {limit.bound}: {limit.bound_why.split(': ', 1)[-1]}")
        decidable = self.decidability()
        if not decidable.ok:
            out.append(
                "NOT DECIDABLE under this load (the figure holds for this run only): "
                + "; ".join(decidable.reasons)
            )
        out.append(
            "load average (1/5/15 min) "
            + " ".join(f"{x:.2f}" for x in self.load_start)
            + " at start, "
            + " ".join(f"{x:.2f}" for x in self.load_end)
            + f" at end, on {os.cpu_count() or 1} CPUs"
        )
        return out


def step_line(step: StepResult) -> str:
    """One line per finished step: the curve point and the verdict."""
    e2e = f" e2e p99 {step.e2e_p99_ms:.1f}" if step.e2e_p99_ms is not None else ""
    backlog = f", backlog {step.backlog_slope:+,.0f}/s" if step.backlog_slope is not None else ""
    verdict = "PASS" if step.passed else "FAIL (" + "; ".join(step.failed_because) + ")"
    bound = f" [{step.bound}-bound]" if step.bound else ""
    return (
        f"step {step.index} {step.phase} {step.target:,.0f} msg/s: achieved "
        f"{step.achieved:,.0f}, ms p50 {step.p50_ms:.1f} p95 {step.p95_ms:.1f} "
        f"p99 {step.p99_ms:.1f} p99.9 {step.p999_ms:.1f}{e2e}, errors {step.errors}{backlog}, "
        f"client CPU {step.client_cpu_percent:.0f}% -> {verdict}{bound}"
    )


class SearchDriver:
    """Runs the search against a producer target (and a consumer target, for e2e/backlog)."""

    def __init__(
        self,
        settings: CapacitySettings,
        slos: list[Threshold],
        producer: LoadTarget,
        consumer: LoadTarget | None = None,
        *,
        echo: Callable[[str], None] = print,
        stop: threading.Event | None = None,
        abort: Callable[[], str | None] = lambda: None,
        cores: int | None = None,
    ) -> None:
        self.settings = settings
        self.slos = slos
        self.producer = producer
        self.consumer = consumer
        self.echo = echo
        self.stop = stop or threading.Event()
        self.abort = abort
        self.search = CapacitySearch(
            start=settings.start_rate,
            ceiling=settings.max_rate,
            factor=settings.ramp_factor,
            resolution=settings.resolution,
            confirm=settings.confirm,
        )
        #: CPUs the client side may use: this process's, or the shards' hosts' together.
        self.cores = cores or client_cores()
        #: The step being measured, for a live view: (index, phase, rate, measuring?).
        self.current: tuple[int, str, int, bool] | None = None
        self._stage: tuple[str, float, float] = ("starting", time.monotonic(), 0.0)
        self.steps: list[StepResult] = []
        self.notes: list[str] = []
        self.loads: list[float] = []

    def live(self) -> LiveSearch:
        """Where the search is now, for a dashboard or a status line (any thread)."""
        current, (stage, since, length) = self.current, self._stage
        lo, hi = self.search.bounds()
        steps = tuple(self.steps)
        return LiveSearch(
            index=current[0] if current else None,
            phase=current[1] if current else None,
            target=current[2] if current else None,
            stage=stage,
            stage_elapsed_s=time.monotonic() - since,
            stage_length_s=length,
            passing=lo,
            failing=hi,
            passed=sum(1 for s in steps if s.passed),
            failed=sum(1 for s in steps if not s.passed),
            last=steps[-1] if steps else None,
            resolution=self.settings.resolution,
        )

    def _enter(self, stage: str, length: float) -> None:
        self._stage = (stage, time.monotonic(), length)

    def measure(self, rate: int, phase: str, index: int) -> StepResult:
        """Set the rate, discard the warm-up, measure the window, judge."""
        s = self.settings
        produced, consumed = SnapshotInbox(), SnapshotInbox()
        unsubscribe = [self.producer.subscribe(produced)]
        if self.consumer is not None:
            unsubscribe.append(self.consumer.subscribe(consumed))
        try:
            started = time.time()
            self.current = (index, phase, rate, False)
            self._enter("settling", max(1.0, s.step_warmup_s))
            self._settle(produced)
            self.producer.apply(cmd.SetRate(float(rate)))
            self._enter("warm-up", s.step_warmup_s)
            self.stop.wait(s.step_warmup_s)
            produced.take()
            consumed.take()
            measured_from = time.time()
            self.current = (index, phase, rate, True)
            self._enter("measuring", s.step_window_s)
            self.stop.wait(s.step_window_s)
            p_snaps, c_snaps = produced.take(), consumed.take()
        finally:
            for undo in unsubscribe:
                undo()
        step = measure_step(
            index=index,
            phase=phase,
            target=float(rate),
            producer=p_snaps,
            consumer=c_snaps if self.consumer is not None else None,
            started_at=started,
            measured_from=measured_from,
            ended_at=time.time(),
            max_pending=s.max_pending,
        )
        return judge(step, self.slos, s, self.cores)

    def _prime(self) -> None:
        """Send at the start rate for `prime_s`, unmeasured, so that the first step does not
        pay for a new topic's slow first minute."""
        s = self.settings
        if not s.prime_s or self.stop.is_set():
            return
        self.echo(
            f"priming: {s.start_rate:,.0f} msg/s for {s.prime_s:g} s, not measured "
            "(a new topic is slower in its first minute)"
        )
        self._enter("priming", s.prime_s)
        self.producer.apply(cmd.SetRate(float(s.start_rate)))
        self.stop.wait(s.prime_s)

    def _settle(self, produced: SnapshotInbox) -> None:
        """Start each step from a clean slate: pause until the sends in flight are answered
        (bounded by the warm-up), then resume, which forgives what the schedule still owed.
        Without it, a failing step's queue (seconds of messages behind schedule) would be
        measured as latency in every step after it."""
        self.producer.apply(cmd.Pause())
        deadline = time.monotonic() + max(1.0, self.settings.step_warmup_s)
        while time.monotonic() < deadline and not self.stop.is_set():
            self.stop.wait(0.1)
            snaps = produced.take()
            if snaps and not sum(w.pending_sends for w in snaps[-1].workers):
                break
        self.producer.apply(cmd.Resume())

    def _before(self, rate: int, phase: str, index: int) -> None:
        lo, hi = self.search.bounds()
        bracket = (
            f"passes at {lo:,}" if lo is not None else "no pass yet",
            f"fails at {hi:,}" if hi is not None else "no fail yet",
        )
        self.echo(
            f"step {index} {phase}: {rate:,} msg/s (warm-up {self.settings.step_warmup_s:g} s, "
            f"then {self.settings.step_window_s:g} s measured); so far {', '.join(bracket)}"
        )

    def _should_stop(self) -> bool:
        if self.stop.is_set():
            return True
        problem = self.abort()
        if problem:
            self.notes.append(problem)
            return True
        return False

    def _after(self, step: StepResult) -> None:
        self.loads.append(os.getloadavg()[0])
        self.steps.append(step)
        self.echo(step_line(step))

    def run(self) -> CapacityReport:
        load_start = os.getloadavg()
        self.loads = [load_start[0]]
        self._prime()
        steps = drive(
            self.search,
            self.measure,
            before_step=self._before,
            after_step=self._after,
            should_stop=self._should_stop,
        )
        self.current = None
        self._enter("done", 0.0)
        return CapacityReport(
            self.settings,
            self.slos,
            steps,
            self.search.outcome(),
            load_start,
            os.getloadavg(),
            interrupted=self.stop.is_set() or bool(self.notes),
            notes=self.notes,
            loads=list(self.loads),
        )
