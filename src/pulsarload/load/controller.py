"""One running load, producer or consumer side: engine, worker pool, sampler, exports, scenario.

The dashboards and the headless runner both drive a `LoadController`: they `apply()` commands
and read immutable snapshots from `sampler.latest` or a subscription. The controller's own
thread ends bursts, advances the scenario and writes the periodic exports; it never sits on a
per-message path. What a run hands back (figures, `RunResult`, report sections) is assembled
from `load/results.py`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulsarload.broker.disk import GIB, DiskGuard
from pulsarload.client.admin import AdminClient
from pulsarload.client.schema import (
    AvroSchema,
    JsonSchema,
    KeyValueSchema,
    SchemaType,
    parse_schema_spec,
    registry_type_name,
)
from pulsarload.config import (
    CapacitySettings,
    ConsumeSettings,
    ProduceSettings,
    live_fields,
    validate_settings,
)
from pulsarload.engines.base import Engine, engine_net_bytes
from pulsarload.engines.factory import create_engine
from pulsarload.load import controls as cmd
from pulsarload.load.backlog import BacklogMonitor
from pulsarload.load.clock import Clock
from pulsarload.load.peek import MessageSample
from pulsarload.load.pool import WorkerPool
from pulsarload.load.results import (
    NON_PERSISTENT_NOTE,
    SUMMARY_METRICS,
    RunResult,
    backlog_results,
    check_paths,
    expected_counts,
    redelivery_meta,
    run_meta,
    summary_figures,
)
from pulsarload.load.scenarios import Scenario, make_scenario
from pulsarload.load.thresholds import Threshold, evaluate, parse_threshold
from pulsarload.load.verify import VerifyReport
from pulsarload.load.warmup import Warmup
from pulsarload.metrics.export import ExportSet, report_data
from pulsarload.metrics.html_report import is_html_report, write_html_report
from pulsarload.metrics.resources import ResourceMonitor
from pulsarload.metrics.sampler import Sampler
from pulsarload.metrics.snapshot import Snapshot
from pulsarload.metrics.window import MetricsWindow

SAMPLE_INTERVAL_S = 0.1
RUN_ID_RESTART_STEP = 1 << 12
CONTROL_INTERVAL_S = 0.1


class EngineNet:
    """The resource monitor's `NetSource` over the controller's engine (set at `start`): the
    native client's per-connection byte counters, summed once per sampler tick. An engine
    that cannot count (the official one) reads as zero, which the dashboard shows as "-"."""

    def __init__(self, controller: LoadController) -> None:
        self._controller = controller

    def net_totals(self) -> tuple[int, int, int]:
        engine = self._controller.engine
        counts = None if engine is None else engine_net_bytes(engine)
        if counts is None:
            return 0, 0, 0
        return counts.bytes_in, counts.bytes_out, counts.connections


class LoadController:
    def __init__(
        self,
        role: str,
        settings: ProduceSettings | ConsumeSettings,
        *,
        engine: Engine | None = None,
        sample_interval: float = SAMPLE_INTERVAL_S,
        run_id: int | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        """`clock`: monotonic seconds, read for the run's duration, warm-up, scenario time,
        bursts and stalls (tests step a fake one); the worker pool reads the same clock."""
        self.role = role
        self.clock = clock
        #: High bits of the producers' verification ids (unique per run; several controllers
        #: feeding one topic need distinct ones). None: from the clock at start.
        self.run_id = run_id
        self.settings = settings
        self.thresholds = [parse_threshold(t, SUMMARY_METRICS) for t in settings.thresholds]
        self.engine = engine
        self.sampler = Sampler(
            sample_interval,
            resources=ResourceMonitor(net=EngineNet(self)),
            labels={"role": role, "engine": settings.engine, "topic": settings.topic},
        )
        self.window = MetricsWindow()
        self.pool: WorkerPool | None = None
        self.scenario: Scenario | None = None
        self.started_at = 0.0
        self.measuring_since = 0.0
        self.warmup = Warmup(settings.warmup_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closers: list[Callable[[], Any]] = []
        self._exports: ExportSet | None = None
        self.events: list[str] = []  # human-readable log of what changed (for the UI / report)
        self.backlog: BacklogMonitor | None = None
        #: Sections a driver above (the capacity search) adds to the report's `meta`.
        self.report_extra: dict[str, Any] = {}
        #: Workers that stalled (no progress for `stall_s` while they should), one line each.
        self.stall_events: list[str] = []
        #: Why the run stopped itself before its end (the local broker's disk), one line.
        self.stop_reason: str | None = None
        self.disk_guard = (
            DiskGuard(settings.service_url, int(settings.disk_min_free_gib * GIB))
            if role == "producer" and isinstance(settings, ProduceSettings)
            else None
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, paused: bool = False) -> None:
        """Start the workers. `paused`: each creates its producer or consumer, then waits for
        a `Resume` (so that many controllers can begin sending at one moment)."""
        s = self.settings
        check_paths(s)
        if self.engine is None:
            self.engine = create_engine(s.engine, s)
        self.pool = WorkerPool(
            self.role,
            self.engine,
            s,
            self.sampler,
            seek=getattr(s, "seek", None),
            run_id=self.run_id,
            clock=self.clock,
        )
        if paused:
            self.pool.pause()
        if isinstance(s, ProduceSettings):
            self.scenario = make_scenario(s)
            self.pool.set_rate(self.scenario.rate_at(0.0) if self.scenario else s.rate)
        if isinstance(s, ProduceSettings) and s.scenario == "backpressure":
            self.backlog = BacklogMonitor(AdminClient.for_settings(s, timeout_s=5.0), s.topic)
            self.backlog.start()
            self._closers.append(self.backlog.stop)
        self.sampler.subscribe(self.window.add)
        try:
            self._start_exports()
        except BaseException:  # e.g. the Prometheus port is taken: leave nothing running
            for close in reversed(self._closers):
                with contextlib.suppress(Exception):
                    close()
            with contextlib.suppress(Exception):
                self.engine.close()
            raise
        self.sampler.start()
        self.started_at = self.measuring_since = self.clock()
        self.pool.add(s.threads)
        self._thread = threading.Thread(target=self._control_loop, name="load-control", daemon=True)
        self._thread.start()

    def _start_exports(self) -> None:
        s = self.settings
        # The CSV series always streams (to a private temp dir without --export-dir), so the
        # `e` key can hand out the series so far next to the JSON snapshot. The report is
        # written by `stop()` through the same set, once the run's figures are known.
        self._exports = ExportSet(
            self.sampler,
            export_dir=s.export_dir or None,
            report=s.report if s.report and not is_html_report(s.report) else None,
            histogram_log=s.histogram_log or None,
            hlog_kinds=("publish_latency" if self.role == "producer" else "e2e_latency",),
            prometheus_port=s.prometheus_port or None,
            prometheus_addr=s.prometheus_addr,
            prefix=self.role,
            stream_series=True,
        )

    def _control_loop(self) -> None:
        while not self._stop.wait(CONTROL_INTERVAL_S):
            pool = self.pool
            if pool is None:
                continue
            pool.tick()
            if self.settings.stall_s:
                self._note_stalls(pool)
            if self.disk_guard is not None and self.stop_reason is None:
                problem = self.disk_guard.check()
                if problem:
                    self.stop_reason = f"stopped: {problem}"
                    self.events.append(self.stop_reason)
            now = self.clock()
            if self.warmup.end_if_due(
                now - self.started_at, self.sampler.latest, self.reset_metrics
            ):
                self.events.append(self.warmup.event())
            if self.scenario is not None and not pool.paused:
                self._follow_scenario(pool, now - self.started_at)

    def _note_stalls(self, pool: WorkerPool) -> None:
        stall_s = self.settings.stall_s
        what = "acks" if self.role == "producer" else "message taken from its queue"
        for name in pool.check_stalls(stall_s):
            text = f"{name} stalled: no {what} for {stall_s:g}s while it should"
            self.stall_events.append(text)
            self.events.append(f"{self.clock() - self.started_at:8.1f}s {text}")

    @property
    def stalls(self) -> int:
        """How many times a worker stalled in this run."""
        return len(self.stall_events)

    def _follow_scenario(self, pool: WorkerPool, t: float) -> None:
        """Apply what the scenario wants at `t`: the rate, and (chaos) the size and threads."""
        scenario = self.scenario
        assert scenario is not None
        rate = scenario.rate_at(t, self.sampler.latest)
        if rate is not None and rate != pool.base_rate:
            pool.set_rate(rate)
        size = scenario.size_at(t)
        if size is not None and size != pool.size_now:
            pool.set_size(size)
            self.events.append(f"{t:8.1f}s scenario: message size {size} bytes")
        threads = scenario.threads_at(t)
        if threads is not None and threads != pool.size:
            if threads > pool.size:
                pool.add(threads - pool.size)
            else:
                pool.remove(pool.size - threads)
            self.events.append(f"{t:8.1f}s scenario: {pool.size} threads")

    @property
    def warming_up(self) -> bool:
        """True until the warm-up (`--warmup`) has passed and the metrics were reset."""
        return self.warmup.active

    def in_warmup(self, snap: Snapshot) -> bool:
        """Whether this snapshot's figures are from the warm-up (left out of the summary)."""
        return self.warmup.covers(snap)

    def done(self) -> bool:
        """True when the run has reached its end by itself (duration, message count, scenario)."""
        s = self.settings
        pool = self.pool
        if pool is None:
            return False
        if self.stop_reason is not None:
            return True
        if (
            s.duration_s
            and self.clock() - self.measuring_since >= s.duration_s
            and not self.warmup.active
        ):
            return True
        if self.scenario is not None and self.scenario.finished:
            return True
        return pool.finished()

    def stop(self) -> RunResult:
        """Stop workers (flush, close), take the last snapshot, write the report."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        pool = self.pool
        failures: list[str] = []
        if pool is not None:
            if not pool.stop_all():
                failures.append("some workers did not stop within the timeout")
            failures += pool.failures()
        final = self.sampler.stop(flush=True)
        if final is None:
            final = self.sampler.flush()
        verify = None
        if pool is not None and self.settings.verify and self.role == "consumer":
            verify = pool.merged_tracker().report(expected_counts(self.settings))
        figures = summary_figures(final, self.role, verify)
        figures["stalls"] = self.stalls
        results = evaluate(self.thresholds, figures)
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):
                close()
        if self.engine is not None:
            with contextlib.suppress(Exception):
                self.engine.close()
        notes, extra = backlog_results(self.backlog)
        if self.stop_reason:
            notes.insert(0, self.stop_reason)
        if self.role == "consumer" and self.settings.topic.startswith("non-persistent://"):
            notes.append(NON_PERSISTENT_NOTE)
        if self.stall_events:
            notes.append(
                f"stalls: {self.stalls} (a worker made no progress for {self.settings.stall_s:g}s "
                "while it should): " + "; ".join(self.stall_events[:5])
            )
        report_path = None
        if self._exports is not None:
            meta = None
            if self.settings.report:
                meta = self.report_meta(figures, results, verify, failures)
                meta.update(extra)
                meta.update(self.report_extra)
            report_path = self._exports.close(final, meta)
            failures += self._exports.failures
            if self.settings.report and is_html_report(self.settings.report):
                assert meta is not None
                report_path = write_html_report(
                    self.settings.report, report_data(final, meta), self.window.points(coarse=True)
                )
        return RunResult(self.role, final, figures, results, verify, failures, report_path, notes)

    def report_meta(
        self,
        figures: dict[str, float],
        results: list[tuple[Threshold, bool, float]],
        verify: VerifyReport | None,
        failures: list[str],
    ) -> dict[str, Any]:
        meta = run_meta(self.role, self.settings, figures, results, failures, self.events)
        meta["stalls"] = list(self.stall_events)
        if self.pool is not None and self.role == "producer" and self.settings.verify:
            meta["verify_sent"] = {str(k): v for k, v in self.pool.producer_sent().items()}
        if verify is not None:
            meta["verify"] = verify.to_dict()
        if self.role == "consumer" and self.pool is not None:
            meta["redeliveries"] = self.redelivery_meta()
        if self.settings.schema:
            meta["schema"] = self._schema_meta()
        peek = getattr(self.settings, "peek", 0)
        if peek:
            meta["peek"] = [s.to_dict() for s in self.peek(peek)]
        return meta

    def redelivery_meta(self) -> dict[str, Any]:
        return redelivery_meta(self.sampler.latest, self.settings.engine)

    def _schema_meta(self) -> dict[str, Any]:
        """What the report says about --schema: the spec, its type and record, the topic's
        registry version (when the admin API answers) and the encode/decode CPU per message."""
        schema = parse_schema_spec(self.settings.schema)
        out: dict[str, Any] = {"spec": self.settings.schema}
        if schema is not None:
            out["type"] = registry_type_name(schema.schema_info().schema_type())
            if isinstance(schema, KeyValueSchema):
                out["encoding"] = schema.encoding.name
                schema = schema.value_schema
            if isinstance(schema, AvroSchema | JsonSchema):
                out["record"] = schema.avro_type.record_name()
                out["fields"] = len(schema.avro_type.field_names())
            elif schema.schema_type == SchemaType.ProtobufNative:
                out["record"] = schema.record_name()  # type: ignore[attr-defined]
                out["fields"] = len(schema.field_names())  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):  # best effort: the report is written regardless
            with AdminClient.for_settings(self.settings, timeout_s=5.0) as admin:
                current = admin.topic_schema(self.settings.topic)
            out["registry_version"] = None if current is None else current.get("version")
        if self.pool is not None:
            ns, n = self.pool.schema_cost()
            what = "encode" if self.role == "producer" else "decode"
            out[f"{what}_us_per_msg"] = round(ns / n / 1000, 3) if n else None
        return out

    # -- commands ---------------------------------------------------------------------------------

    def apply(self, command: cmd.Command) -> str:
        """Carry out a command now; returns a one-line description for the status line."""
        pool = self.pool
        if pool is None:
            raise RuntimeError("controller not started")
        match command:
            case cmd.SetRate(rate=rate):
                if self.scenario is not None:
                    self.scenario.override()
                pool.set_rate(rate)
                text = (
                    f"target rate {rate:,.0f} msg/s" if rate else "target rate: as fast as possible"
                )
            case cmd.AddWorker(count=n):
                added = pool.add(n)
                text = (
                    f"added {added} thread(s): {pool.size} running"
                    if added
                    else f"at max_threads ({pool.max_threads})"
                )
            case cmd.RemoveWorker(count=n):
                removed = pool.remove(min(n, max(0, pool.size - 1)))
                text = f"removed {removed} thread(s): {pool.size} running"
            case cmd.Pause():
                pool.pause()
                text = "paused"
            case cmd.Resume():
                pool.resume()
                text = "resumed"
            case cmd.Burst(multiplier=m, seconds=secs):
                pool.burst(m, secs)
                text = f"burst x{m:g} for {secs:g}s"
            case cmd.EndBurst():
                text = "burst ended early" if pool.end_burst() else "no burst was running"
            case cmd.ResetMetrics():
                self.reset_metrics()
                text = "metrics reset"
            case cmd.Seek(target=target):
                pool.seek(target)
                text = f"seek to {target}"
            case cmd.Stop():
                self._stop.set()
                text = "stopping"
            case _:
                raise ValueError(f"unknown command {command!r}")
        self.events.append(f"{self.clock() - self.started_at:8.1f}s {text}")
        return text

    #: Settings a running load can take without restarting its workers (marked in the model).
    LIVE_FIELDS = live_fields(CapacitySettings)

    def reconfigure(self, **changes: Any) -> str:
        """Apply edited settings: rate and threads live; anything else restarts the workers
        (flush, close, then new producers/consumers with the new settings, e.g. a new topic).

        Raises ConfigError (one line naming the setting) and changes nothing if a value is bad.
        """
        pool = self.pool
        if pool is None:
            raise RuntimeError("controller not started")
        new = dataclasses.replace(self.settings, **changes)
        validate_settings(new)
        restart = {
            k for k, v in changes.items() if getattr(self.settings, k) != v
        } - self.LIVE_FIELDS
        self.settings = new
        notes = []
        if restart:
            threads = pool.size
            pool.stop_all()
            # The run's --seek happened at the start; only a newly set seek target is applied.
            seek = changes.get("seek") if "seek" in restart else None
            if self.run_id is not None:
                # New workers count from index 0 again: a new id space, clear of the old one
                # and of up to 4096 controllers numbered run_id + 0, 1, 2, ...
                self.run_id += RUN_ID_RESTART_STEP
            self.pool = pool = WorkerPool(
                self.role,
                self.engine,  # type: ignore[arg-type]
                new,
                self.sampler,
                seek=seek,
                run_id=self.run_id,
                clock=self.clock,
            )
            if isinstance(new, ProduceSettings):
                pool.set_rate(new.rate)
            pool.add(threads)
            notes.append(
                "workers restarted with "
                + ", ".join(f"{k}={changes[k]!r}" for k in sorted(restart))
            )
        if "rate" in changes and isinstance(new, ProduceSettings):
            notes.append(self.apply(cmd.SetRate(new.rate)))
        if "threads" in changes and new.threads != pool.size:
            delta = new.threads - pool.size
            notes.append(
                self.apply(cmd.AddWorker(delta) if delta > 0 else cmd.RemoveWorker(-delta))
            )
        text = "; ".join(notes) or "no change"
        self.events.append(f"{self.clock() - self.started_at:8.1f}s {text}")
        return text

    def peek(self, n: int) -> list[MessageSample]:
        """A sample of the messages received lately (consumer), oldest first."""
        return [] if self.pool is None else self.pool.peek(n)

    def subscribe(self, callback: Callable[[Snapshot], None]) -> Callable[[], None]:
        """Every snapshot from now on (sampler thread); returns the unsubscribe function."""
        return self.sampler.subscribe(callback)

    def reset_metrics(self) -> None:
        self.sampler.reset()
        self.window.clear()
        self.measuring_since = self.clock()

    def export_now(self, directory: str | Path | None = None) -> list[Path]:
        """The `e` key: the latest snapshot as JSON, plus the CSV series written so far (into
        `directory`, else the export dir, else the working directory)."""
        return [] if self._exports is None else self._exports.export_now(directory)
