"""One run over many shards on a Dask cluster, steered and measured as one.

`ClusterController` has the face of the load layer's `LoadController` (start, apply,
reconfigure, done, stop, a sampler to subscribe to, a pool with size and rate), so the headless
runner and the dashboards drive it unchanged. Underneath:

* start: reach the cluster and check it (connect.py), place one `Shard` actor per chosen
  worker, measure each one's clock, let every shard create its producers or consumers paused,
  then resume them all at one go time (each in its own clock);
* a collection thread polls every shard each `cluster_poll_s`, merges their reports into one
  snapshot (merge.py), notices a lost worker at once, runs the warm-up and the scenario;
* commands are the same objects as in one process, fanned out to every shard; a target rate
  is split evenly over the live shards (and split again when one is lost).

Why it is this long: it is one job, the life cycle of a run across shards (start, the
collection round, losses, commands, the stop and its report), whose steps share the shard
handles and one lock. What stands alone lives beside it: reaching the cluster (connect.py),
a shard's handle (handles.py), the exact merge (merge.py), the actor (shard.py), the pool's
face (cluster_pool.py), the capacity search's target (capacity.py); the run's figures and
report sections come from load/results.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulsarload.cluster.cluster_pool import ClusterPool
from pulsarload.cluster.connect import ClusterError, DaskCluster, WorkerInfo, place_shards
from pulsarload.cluster.handles import ShardHandle
from pulsarload.cluster.merge import MergedSampler, ShardPart
from pulsarload.cluster.shard import Shard
from pulsarload.config import ConsumeSettings, ProduceSettings, validate_settings
from pulsarload.load import controls as cmd
from pulsarload.load.results import (
    SUMMARY_METRICS,
    RunResult,
    check_paths,
    expected_counts,
    redelivery_meta,
    run_meta,
    summary_figures,
)
from pulsarload.load.scenarios import Scenario, make_scenario
from pulsarload.load.thresholds import evaluate, parse_threshold
from pulsarload.load.verify import SequenceTracker, VerifyReport
from pulsarload.load.warmup import Warmup
from pulsarload.metrics.export import ExportSet, report_data
from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.html_report import is_html_report, write_html_report
from pulsarload.metrics.snapshot import Snapshot
from pulsarload.metrics.window import MetricsWindow

#: Longest a shard may take to appear on its worker (the worker imports pulsarload first) and
#: to create its producers or consumers (on top of the client's own connect and operation
#: timeouts). Generous: a busy worker host is slow, and this is a bound, not a pace.
PREPARE_MARGIN_S = 120.0
#: The go time is this far ahead of the slowest clock round trip, so every shard has it in time.
GO_LEAD_S = 0.5
#: A shard that has not answered a poll for this long, and that the scheduler no longer
#: lists, is lost; one that the scheduler still lists is only late.
LATE_AFTER_S = 5.0
LOST_AFTER_S = 60.0
STOP_TIMEOUT_S = 90.0
COMMAND_TIMEOUT_S = 10.0
#: How long a consumer shard may take to have every worker out of its receive at the stop.
QUIESCE_TIMEOUT_S = 2.0
EXIT_WORKER_LOST = 1


class ClusterController:
    """See the module docstring; the public face matches `LoadController`."""

    LIVE_FIELDS = frozenset({"rate", "threads"})

    def __init__(self, role: str, settings: ProduceSettings | ConsumeSettings) -> None:
        if not settings.cluster:
            raise ValueError("a ClusterController needs settings.cluster")
        self.role = role
        self.settings = settings
        self.thresholds = [parse_threshold(t, SUMMARY_METRICS) for t in settings.thresholds]
        self.sampler = MergedSampler(
            {"role": role, "engine": settings.engine, "topic": settings.topic}
        )
        self.window = MetricsWindow()
        self.sampler.subscribe(self.window.add)
        self.pool: ClusterPool | None = None
        self.scenario: Scenario | None = None
        self.cluster: DaskCluster | None = None
        self.shards: list[ShardHandle] = []
        self.events: list[str] = []
        self.started_at = 0.0
        self.measuring_since = 0.0
        self.warmup = Warmup(settings.warmup_s)
        self._epoch = 0
        self._lock = threading.RLock()  # commands, reset and the collection round
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._exports: ExportSet | None = None
        self._shard_hists: dict[int, Histogram] = {}
        self.abort_reason: str | None = None
        self.start_spread_ms: float | None = None
        self.run_key = uuid.uuid4().hex[:8]
        self._main_kind = "publish_latency" if role == "producer" else "e2e_latency"
        #: More report data from whoever drives the run (a capacity search puts its curve here).
        self.report_extra: dict[str, Any] = {}

    # -- start -------------------------------------------------------------------------------------

    def start(self, paused: bool = False) -> None:
        check_paths(self.settings)
        try:
            self._start_shards()
            self._start_exports()
            self._go()
        except (TimeoutError, OSError) as err:
            self._teardown()
            raise ClusterError(
                f"the Dask cluster did not answer in time while starting the shards "
                f"({type(err).__name__}: {err or 'timed out'}); check that its workers are "
                "alive and not overloaded, or set PULSARLOAD_CLUSTER_TIMEOUT higher"
            ) from None
        except BaseException:
            self._teardown()
            raise
        if paused:
            self.apply(cmd.Pause())
        self._thread = threading.Thread(target=self._collect_loop, name="cluster-collect")
        self._thread.daemon = True
        self._thread.start()

    def _start_shards(self) -> None:
        s = self.settings
        self.cluster = cluster = DaskCluster.open(s, s.workers)
        count = s.workers or len(cluster.wait_for(1, s.cluster_wait_s))
        addresses = place_shards(cluster.wait_for(count, s.cluster_wait_s), count)
        if isinstance(s, ConsumeSettings) and s.subscription_type == "exclusive" and count > 1:
            raise ClusterError(
                f"--subscription-type exclusive lets one consumer in, but the cluster gives "
                f"{count} shards; use --subscription-type shared, key_shared or failover"
            )
        infos: dict[str, WorkerInfo] = cluster.probe(addresses)
        if isinstance(s, ProduceSettings):
            self.scenario = make_scenario(s)  # runs here; shards get its rate steps
        base_run_id = time.time_ns() // 1000 & 0xFFFFF000
        self.shards = [
            ShardHandle(i, a, infos[a].host, infos[a].facts) for i, a in enumerate(addresses)
        ]
        for h in self.shards:
            h.future = cluster.client.submit(
                Shard,
                h.index,
                self.role,
                self._shard_settings(h.index, count),
                base_run_id + h.index,
                actor=True,
                workers=[h.address],
                allow_other_workers=False,
                pure=False,
                key=f"pulsarload-shard-{self.run_key}-{h.index}",
            )
        for h in self.shards:
            h.actor = h.future.result(timeout=s.cluster_timeout_s + PREPARE_MARGIN_S)
            h.measure_clock(timeout=s.cluster_timeout_s)
        prepare_timeout = s.connect_timeout_s + s.operation_timeout_s + PREPARE_MARGIN_S
        started = [(h, h.actor.prepare()) for h in self.shards]
        for _h, fut in started:
            fut.result(timeout=prepare_timeout)
        self._wait_ready(time.monotonic() + prepare_timeout)
        self.pool = ClusterPool(self, self._initial_rate())
        self.events.append(
            f"{len(self.shards)} shard(s) on "
            + ", ".join(f"{h.address} ({h.host})" for h in self.shards)
        )

    def _shard_settings(self, index: int, count: int) -> dict[str, Any]:
        """What one shard runs: its share of the rate and of the message budget, its own
        producer/consumer names, and none of the run-wide outputs (the coordinator writes
        those from the merged stream)."""
        s = self.settings
        changes: dict[str, Any] = {
            "cluster": None,
            "workers": None,
            "duration_s": 0.0,
            "warmup_s": 0.0,
            "report": None,
            "export_dir": None,
            "histogram_log": None,
            "prometheus_port": 0,
            "thresholds": (),
            "headless": True,
        }
        if s.messages:
            changes["messages"] = s.messages // count + (1 if index < s.messages % count else 0)
        if isinstance(s, ProduceSettings):
            changes.update(
                rate=self._initial_rate() / count,
                scenario="sustained",
                partitions=0,  # the coordinator created the topic
                producer_name=f"{s.producer_name}-s{index}" if s.producer_name else None,
            )
        else:
            changes.update(
                consumer_name=f"{s.consumer_name}-s{index}" if s.consumer_name else None,
                verify_against=None,
                seek=s.seek if index == 0 else None,  # a seek moves the whole subscription
            )
        shard = dataclasses.replace(s, **changes)
        return {f.name: getattr(shard, f.name) for f in dataclasses.fields(shard)}

    def _initial_rate(self) -> float:
        """The whole run's target at the start: the scenario's first step, else --rate."""
        rate = self.scenario.rate_at(0.0) if self.scenario is not None else None
        return float(rate if rate is not None else getattr(self.settings, "rate", 0.0))

    def _wait_ready(self, deadline: float) -> None:
        """Until no shard has a worker still connecting; a shard whose worker failed to
        connect stops the start with its first failure (one line)."""
        while True:
            answers = [(h, h.actor.readiness()) for h in self.shards]
            connecting = 0
            for h, fut in answers:
                r = fut.result(timeout=max(1.0, deadline - time.monotonic()))
                if r["failures"]:
                    first = str(r["failures"][0]).split(": ", 1)[-1]
                    raise ClusterError(
                        f"shard {h.index} on {h.address} could not start its workers: {first}"
                    )
                connecting += int(r["connecting"])
                h.threads = int(r["threads"])
            if not connecting:
                for h in self.shards:
                    h.state = "ready"
                return
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{connecting} worker thread(s) still connecting to {self.settings.service_url} "
                    "after the connect timeout; check -u/--service-url and that the broker is up"
                )
            time.sleep(0.1)

    def _go(self) -> None:
        """Every shard resumes at one wall time (each told in its own clock)."""
        lead = GO_LEAD_S + 2 * max((h.clock.rtt_s for h in self.shards), default=0.0)
        go_at = time.time() + lead
        calls = [(h, h.actor.go(go_at + h.clock.offset_s)) for h in self.shards]
        for _h, fut in calls:
            fut.result(timeout=self.settings.cluster_timeout_s)
        time.sleep(max(0.0, go_at - time.time()))
        self.sampler.start()
        self.started_at = self.measuring_since = time.monotonic()
        for h in self.shards:
            h.state = "running"
        self.events.append(f"all {len(self.shards)} shard(s) started at one go time")

    def _start_exports(self) -> None:
        s = self.settings
        self._exports = ExportSet(
            self.sampler,
            export_dir=s.export_dir or None,
            report=s.report if s.report and not is_html_report(s.report) else None,
            histogram_log=s.histogram_log or None,
            hlog_kinds=(self._main_kind,),
            prometheus_port=s.prometheus_port or None,
            prometheus_addr=s.prometheus_addr,
            prefix=self.role,
            stream_series=True,
        )

    # -- collection --------------------------------------------------------------------------------

    def live_shards(self) -> list[ShardHandle]:
        return [h for h in self.shards if h.live]

    def _collect_loop(self) -> None:
        interval = self.settings.cluster_poll_s
        next_round = time.monotonic() + interval
        while not self._stop.wait(max(0.0, next_round - time.monotonic())):
            next_round = max(next_round + interval, time.monotonic())
            try:
                self.collect_round()
            except Exception as err:  # noqa: BLE001 - a bad round must not end the run
                self.events.append(f"collection round failed: {type(err).__name__}: {err}")

    def collect_round(self, wait_s: float | None = None) -> None:
        """Poll every live shard (one poll in flight each), merge what came back, publish."""
        wait_s = self.settings.cluster_poll_s if wait_s is None else wait_s
        now = time.monotonic()
        for h in self.live_shards():
            if h.future is not None and h.future.status not in ("finished", "pending"):
                with self._lock:  # the scheduler says the worker holding it is gone
                    self._lost(h, f"its Dask worker is gone (actor {h.future.status})")
                continue
            if h.pending is None:
                h.pending, h.pending_since = h.actor.poll(), now
        deadline = now + wait_s
        answered: list[tuple[ShardHandle, Any, Any, BaseException | None]] = []
        for h in self.live_shards():  # wait without the lock: commands go out meanwhile
            fut = h.pending
            if fut is None:
                continue
            # Even an answered poll is handed over through Dask's event loop, which a busy
            # machine can hold up for seconds: such a wait is not a loss, only a wait.
            wait = COMMAND_TIMEOUT_S if fut.done() else max(0.001, deadline - time.monotonic())
            try:
                raw = fut.result(timeout=wait)
            except TimeoutError:
                continue  # still pending: collected in a later round (see `_check_late`)
            except Exception as err:  # noqa: BLE001 - the worker or its actor is gone
                answered.append((h, fut, None, err))
            else:
                answered.append((h, fut, raw, None))
        with self._lock:
            parts: list[ShardPart] = []
            for h, fut, raw, err in answered:
                if not h.live or h.pending is not fut:
                    continue
                h.pending = None
                if err is not None:
                    self._lost(h, f"{type(err).__name__}: {err}")
                    continue
                part, _report = self._take_part(h, raw, time.monotonic() - now)
                if part is not None:
                    parts.append(part)
            for h in self.live_shards():
                if h.pending is not None:
                    self._check_late(h)
            self._publish(parts)
            self._after_round()

    def _take_part(
        self, h: ShardHandle, raw: bytes, seconds: float
    ) -> tuple[ShardPart | None, dict[str, Any]]:
        """Decode one shard's answer; its intervals count unless measured before a reset."""
        report = h.take_report(raw, self.role, self._epoch, seconds)
        if report.get("epoch", 0) != self._epoch:
            return None, report
        part = ShardPart.from_report(h.index, report)
        main = part.histograms.get(self._main_kind)
        if main is not None:
            self._shard_hists.setdefault(h.index, Histogram()).add(main)
        return part, report

    def _publish(self, parts: list[ShardPart]) -> None:
        failover = getattr(self.settings, "subscription_type", "") == "failover"
        stats = tuple(
            h.stats(
                self.role,
                self._shard_hists[h.index].value_at_percentile(99.0)
                if h.index in self._shard_hists
                else 0,
                standby=failover and h.rate == 0,
            )
            for h in self.shards
        )
        self.sampler.publish(parts, stats)

    def _check_late(self, h: ShardHandle) -> None:
        """A poll unanswered for a while: lost when the scheduler no longer lists the worker,
        or after a long silence. (A worker the scheduler drops shows sooner, through the
        actor's future: see `collect_round`.)"""
        silent = time.monotonic() - h.pending_since
        if silent < LATE_AFTER_S or self.cluster is None:
            return
        try:
            known = h.address in self.cluster.workers()
        except Exception:  # noqa: BLE001 - the scheduler itself is gone
            known = silent < LATE_AFTER_S
        if not known or silent > LOST_AFTER_S:
            self._lost(h, f"no answer for {silent:.0f}s and the scheduler lost its worker")
        elif h.state != "late":
            h.state = "late"
            self._event(f"shard {h.index} on {h.address}: no answer for {silent:.0f}s")

    def _lost(self, h: ShardHandle, why: str) -> None:
        h.state = "lost"
        h.lost_at_s = time.monotonic() - self.started_at
        h.done_at_loss = h.done_total
        h.note = why
        h.pending = None
        if h.future is not None:
            with contextlib.suppress(Exception):
                h.future.release()  # nothing to re-run elsewhere
        what = "acked" if self.role == "producer" else "received"
        self._event(
            f"LOST shard {h.index} on {h.address} ({h.host}) after {h.done_total:,} {what}: {why}"
        )
        if self.settings.on_worker_loss == "abort":
            self.abort_reason = f"shard {h.index} on {h.address} was lost ({why})"
            self._stop.set()
        elif self.pool is not None and self.live_shards() and not self._stop.is_set():
            self.pool.spread()
            self._event(
                f"rate split again over {len(self.live_shards())} live shard(s); the run goes on"
            )

    def _after_round(self) -> None:
        now = time.monotonic()
        pool = self.pool
        if pool is None:
            return
        pool.tick()
        if self.warmup.end_if_due(now - self.started_at, self.sampler.latest, self.reset_metrics):
            self._event(self.warmup.event())
        if self.scenario is not None and not pool.paused:
            rate = self.scenario.rate_at(now - self.started_at, self.sampler.latest)
            if rate is not None and rate != pool.base_rate:
                pool.set_rate(rate)

    def _event(self, text: str) -> None:
        self.events.append(f"{time.monotonic() - self.started_at:8.1f}s {text}")

    # -- what the runners ask ----------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Snapshot], None]) -> Callable[[], None]:
        """Every merged snapshot from now on (collection thread); returns the unsubscribe."""
        return self.sampler.subscribe(callback)

    def client_cores(self) -> int:
        """CPUs the shards may use together: each distinct host counted once (shards on one
        machine share its cores), from what each worker said when it was placed."""
        per_host: dict[str, int] = {}
        for h in self.live_shards() or self.shards:
            cpus = int(h.facts.get("cpus") or 1)
            per_host[h.host] = max(per_host.get(h.host, 0), cpus)
        return sum(per_host.values()) or 1

    @property
    def warming_up(self) -> bool:
        return self.warmup.active

    def in_warmup(self, snap: Any) -> bool:
        return self.warmup.covers(snap)

    def done(self) -> bool:
        s = self.settings
        if self.abort_reason is not None:
            return True
        if not self.shards:
            return False
        if not self.live_shards():
            return True
        if (
            s.duration_s
            and not self.warmup.active
            and time.monotonic() - self.measuring_since >= s.duration_s
        ):
            return True
        if self.scenario is not None and self.scenario.finished:
            return True
        return all(h.finished for h in self.live_shards())

    # -- commands ----------------------------------------------------------------------------------

    def fan_out(self, method: str, per_shard: dict[int, tuple[Any, ...]]) -> list[str]:
        """Call `method` on the live shards in `per_shard` at once; wait for all answers."""
        calls = []
        for h in self.live_shards():
            if h.index in per_shard:
                calls.append((h, getattr(h.actor, method)(*per_shard[h.index])))
        answers = []
        for h, fut in calls:
            try:
                answers.append(str(fut.result(timeout=COMMAND_TIMEOUT_S)))
            except Exception as err:  # noqa: BLE001 - said, and the loss is noticed by polling
                answers.append(f"shard {h.index}: {type(err).__name__}: {err}")
        return answers

    def apply(self, command: cmd.Command) -> str:
        """The same commands as one process; each reaches every live shard."""
        pool = self.pool
        if pool is None:
            raise RuntimeError("controller not started")
        with self._lock:
            match command:
                case cmd.SetRate(rate=rate):
                    if self.scenario is not None:
                        self.scenario.override()
                    pool.set_rate(rate)
                    text = (
                        f"target rate {rate:,.0f} msg/s over {len(self.live_shards())} shard(s)"
                        if rate
                        else "target rate: as fast as possible"
                    )
                case cmd.ResetMetrics():
                    self.reset_metrics()
                    text = "metrics reset"
                case cmd.Seek():
                    live = self.live_shards()[:1]  # a seek moves the subscription for everyone
                    self.fan_out("apply", {h.index: (command.to_dict(), self._epoch) for h in live})
                    text = f"seek to {command.target}"
                case cmd.Stop():
                    self._stop.set()
                    text = "stopping"
                case cmd.Pause() | cmd.Resume() | cmd.Burst() | cmd.EndBurst():
                    pool.note(command)
                    self._all("apply", command.to_dict(), self._epoch)
                    text = {"pause": "paused", "resume": "resumed", "end_burst": "burst ended"}.get(
                        command.kind,
                        f"burst x{getattr(command, 'multiplier', 1):g} for "
                        f"{getattr(command, 'seconds', 0):g}s on every shard",
                    )
                case cmd.AddWorker() | cmd.RemoveWorker():
                    answers = self._all("apply", command.to_dict(), self._epoch)
                    text = f"every shard: {answers[0] if answers else 'no live shard'}"
                    self._refresh_threads()
                case _:
                    raise ValueError(f"unknown command {command!r}")
        self._event(text)
        return text

    def _all(self, method: str, *args: Any) -> list[str]:
        return self.fan_out(method, {h.index: args for h in self.live_shards()})

    def _refresh_threads(self) -> None:
        answers = [(h, h.actor.readiness()) for h in self.live_shards()]
        for h, fut in answers:
            with contextlib.suppress(Exception):
                h.threads = int(fut.result(timeout=COMMAND_TIMEOUT_S)["threads"])

    def reconfigure(self, **changes: Any) -> str:
        """Edited settings on every shard (rate split; threads are per shard)."""
        pool = self.pool
        if pool is None:
            raise RuntimeError("controller not started")
        new = dataclasses.replace(self.settings, **changes)
        validate_settings(new)
        with self._lock:
            self.settings = new
            shard_changes = {k: v for k, v in changes.items() if k != "rate"}
            notes = []
            if shard_changes:
                answers = self._all("reconfigure", shard_changes)
                notes.append(f"every shard: {answers[0] if answers else 'no live shard'}")
                self._refresh_threads()
            if "rate" in changes and isinstance(new, ProduceSettings):
                pool.set_rate(new.rate)
                notes.append(f"target rate {new.rate:,.0f} msg/s")
        text = "; ".join(notes) or "no change"
        self._event(text)
        return text

    def reset_metrics(self) -> None:
        with self._lock:
            self._epoch += 1
            self.sampler.reset()
            self.window.clear()
            self._shard_hists.clear()
            for h in self.shards:
                h.reset_totals()
            self.measuring_since = time.monotonic()
            self._all("apply", cmd.ResetMetrics().to_dict(), self._epoch)

    def _quiesce_consumers(self) -> None:
        """Every consumer shard stops taking messages before any closes (see `Shard.quiesce`):
        shards that close one after another otherwise hand each other redeliveries."""
        calls = [(h, h.actor.quiesce(QUIESCE_TIMEOUT_S)) for h in self.live_shards()]
        for h, fut in calls:
            try:
                busy = fut.result(timeout=QUIESCE_TIMEOUT_S + COMMAND_TIMEOUT_S)
            except Exception as err:  # noqa: BLE001 - a shard lost now is found by its stop
                self._event(f"shard {h.index} did not pause before the stop: {err}")
                continue
            if busy:
                self._event(f"shard {h.index}: {busy} worker(s) still receiving at the stop")

    def export_now(self) -> list[Path]:
        return [] if self._exports is None else self._exports.export_now()

    # -- stop --------------------------------------------------------------------------------------

    def stop(self) -> RunResult:
        """Stop every shard (flush, close), merge their last intervals, write the report,
        release the actors and disconnect (a local cluster is shut down)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        failures: list[str] = []
        verify: VerifyReport | None = None
        sent: dict[str, int] = {}
        tracker = SequenceTracker()
        with self._lock:
            if self.role == "consumer" and len(self.live_shards()) > 1:
                self._quiesce_consumers()
            finals = [(h, h.actor.stop()) for h in self.live_shards()]
            parts: list[ShardPart] = []
            for h in self.live_shards():  # a poll still in flight: its intervals count too
                if h.pending is not None:
                    with contextlib.suppress(Exception):
                        raw = h.pending.result(timeout=STOP_TIMEOUT_S)
                        part, _ = self._take_part(h, raw, 0.0)
                        if part is not None:
                            parts.append(part)
                    h.pending = None
            for h, fut in finals:
                try:
                    raw = fut.result(timeout=STOP_TIMEOUT_S)
                except Exception as err:  # noqa: BLE001 - lost while stopping
                    self._lost(h, f"while stopping: {type(err).__name__}: {err}")
                    continue
                part, report = self._take_part(h, raw, 0.0)
                if part is not None:
                    parts.append(part)
                h.state = "stopped"
                h.final = report
                failures += [f"shard {h.index}: {f}" for f in report.get("final_failures", ())]
                sent.update(report.get("verify_sent", {}))
                if "verify_tracker" in report:
                    data = {
                        pid: {**d, "bits": bytes.fromhex(d["bits"])}
                        for pid, d in report["verify_tracker"].items()
                    }
                    tracker = tracker.merge(SequenceTracker.from_dict(data))
            self._publish(parts)
        final = self.sampler.latest
        assert final is not None
        if self.settings.verify and self.role == "consumer":
            verify = tracker.report(expected_counts(self.settings, ClusterError))
        figures = summary_figures(final, self.role, verify)
        results = evaluate(self.thresholds, figures)
        report_path = None
        notes = self._notes()
        if self._exports is not None:
            meta = None
            if self.settings.report:
                meta = self.report_meta(figures, results, verify, failures, sent)
                meta.update(self.report_extra)
            report_path = self._exports.close(final, meta)
            failures += self._exports.failures
            self._exports = None
            if meta is not None and is_html_report(self.settings.report or ""):
                report_path = write_html_report(
                    self.settings.report, report_data(final, meta), self.window.points(coarse=True)
                )
        self._teardown()
        return RunResult(self.role, final, figures, results, verify, failures, report_path, notes)

    def _notes(self) -> list[str]:
        notes = []
        lost = [h for h in self.shards if h.state == "lost"]
        for h in lost:
            notes.append(
                f"shard {h.index} on {h.address} was lost at {h.lost_at_s or 0:.1f}s "
                f"(after {h.done_at_loss or 0:,} {'acked' if self.role == 'producer' else 'received'}): {h.note}"
            )
        if self.abort_reason:
            notes.append(f"run aborted (--on-worker-loss abort): {self.abort_reason}")
        return notes

    def report_meta(
        self,
        figures: dict[str, float],
        results: list[Any],
        verify: VerifyReport | None,
        failures: list[str],
        sent: dict[str, int],
    ) -> dict[str, Any]:
        meta = run_meta(self.role, self.settings, figures, results, failures, self.events)
        meta["cluster"] = {
            "scheduler": self.cluster.address if self.cluster else None,
            "local": bool(self.cluster and self.cluster.local is not None),
            "shards": [h.summary() for h in self.shards],
            "lost": [h.index for h in self.shards if h.state == "lost"],
            "aborted": self.abort_reason,
            "start_spread_ms": self.start_spread(),
        }
        if self.role == "producer" and self.settings.verify:
            meta["verify_sent"] = sent
        if self.role == "consumer":
            meta["redeliveries"] = redelivery_meta(self.sampler.latest, self.settings.engine)
        if verify is not None:
            meta["verify"] = verify.to_dict()
        return meta

    def start_spread(self) -> float | None:
        """Milliseconds between the first and the last shard's actual start (our clock)."""
        starts = [h.started_at - h.clock.offset_s for h in self.shards if h.started_at is not None]
        return (max(starts) - min(starts)) * 1000 if len(starts) > 1 else None

    def _teardown(self) -> None:
        """Release every actor (nothing of the run stays on the workers) and disconnect.
        A shard not stopped yet (the start failed half way) is stopped first."""
        unstopped = [
            (h, h.actor.stop())
            for h in self.shards
            if h.actor is not None and h.state not in ("stopped", "lost")
        ]
        for _h, fut in unstopped:
            with contextlib.suppress(Exception):
                fut.result(timeout=STOP_TIMEOUT_S)
        for h in self.shards:
            if h.future is not None:
                with contextlib.suppress(Exception):
                    h.future.release()
            h.actor = h.future = h.pending = None
        if self._exports is not None:
            with contextlib.suppress(Exception):
                self._exports.close()
            self._exports = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def shards_json(self) -> str:
        return json.dumps([h.summary() for h in self.shards])
