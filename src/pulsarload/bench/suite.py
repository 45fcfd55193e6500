"""The benchmark suite behind ``pulsarload bench run`` / ``make bench``: its plan and its run.

One run: machine facts, a broker warm-up (a fresh standalone's JIT is cold, and the first
contender must not pay for it), then every table in N interleaved rounds (``rounds.py``):
producer workloads (native on 3.13t, on 3.13t with ``PYTHON_GIL=1`` and on the GIL build, at
several thread counts; the official client; pulsar-perf), producer+consumer pairs, a drain of a
filled topic by every consumer, publish latency at fixed rates, and the dashboard against
headless; then the micro-benchmarks under both builds. The raw figures go to
``bench/results/bench-<time>.json``; docs/benchmarks.md gets the tables (``markdown.py``) and
the goals (``goals.py``).

``--quick`` is a smoke run for CI (a few minutes): one small workload, fewer contenders, two
rounds; it writes its JSON and ``quick.md`` into the results directory and never overwrites
the full docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pulsarload.bench import dashboard, drain
from pulsarload.bench.broker_side import delete_topic
from pulsarload.bench.goals import evaluate_goals
from pulsarload.bench.interpreters import ft_python, gil_python
from pulsarload.bench.lineup import (
    contenders_for,
    drain_contenders,
    latency_contenders,
    pair_contenders,
    variants,
)
from pulsarload.bench.machine import BrokerHandle, DiskFull, check_disk, machine_facts
from pulsarload.bench.markdown import render_markdown
from pulsarload.bench.model import (
    FREE_THREADED,
    GIL_BUILD,
    Broker,
    Contender,
    Figures,
    Workload,
)
from pulsarload.bench.pair import native_consumer_status, run_pair
from pulsarload.bench.perf_contender import run_perf_producer
from pulsarload.bench.produce import run_pulsarload_producer
from pulsarload.bench.rounds import interleave

Echo = Callable[[str], None]

#: Hand-written analysis of the latest full run, included in docs/benchmarks.md.
ANALYSIS_FILE = "analysis.md"


@dataclass(frozen=True)
class Plan:
    """What one bench run measures."""

    name: str
    workloads: tuple[Workload, ...]
    pair_workloads: tuple[Workload, ...]
    threads: tuple[int, ...]
    gil_threads: tuple[int, ...]
    broker_warmup_s: float
    micro_seconds: float
    micro_repeat: int
    #: Diagnostic variants: (workload name, threads, extra produce args, note).
    variants: tuple[tuple[str, int, tuple[str, ...], str], ...] = ()
    #: Every table runs this many interleaved rounds.
    rounds: int = 3
    #: Thread counts of the free-threaded binary with PYTHON_GIL=1 (the GIL alone).
    ft_gil_threads: tuple[int, ...] = ()
    drain_workloads: tuple[Workload, ...] = ()
    #: Consumer counts of the native drains (official and pulsar-perf read with one).
    drain_threads: tuple[int, ...] = (1,)
    latency_workloads: tuple[Workload, ...] = ()
    dashboard_workload: Workload | None = None

    @property
    def all_workloads(self) -> tuple[Workload, ...]:
        dash = (self.dashboard_workload,) if self.dashboard_workload else ()
        return (*self.workloads, *self.pair_workloads, *self.drain_workloads,
                *self.latency_workloads, *dash)  # fmt: skip


FULL = Plan(
    name="full",
    workloads=(
        Workload("1KiB-none", 1024, "none", duration_s=6, warmup_s=2),
        Workload("1KiB-lz4", 1024, "lz4", duration_s=6, warmup_s=2),
        Workload("100B-none", 100, "none", duration_s=6, warmup_s=2),
    ),
    pair_workloads=(Workload("1KiB-e2e", 1024, "none", duration_s=6, warmup_s=2, consume=True),),
    threads=(1, 2, 4),
    gil_threads=(1, 2, 4),
    ft_gil_threads=(1, 2, 4),
    broker_warmup_s=10,
    micro_seconds=0.7,
    micro_repeat=3,
    variants=(
        # 128 x 1 KiB + framing is just over 128 KiB, mimalloc's largest medium block: the
        # same run with batches kept under it (see bench/analysis.md).
        ("1KiB-none", 2, ("--batch-max-bytes", "126976"), "batches <= 124 KiB"),
    ),
    drain_workloads=(Workload("drain-1KiB", 1024, drain_messages=300_000),),
    drain_threads=(1, 2, 4),
    latency_workloads=tuple(
        Workload(f"rate-{r // 1000}k", 1024, duration_s=5, warmup_s=2, rate=r)
        for r in (1_000, 10_000, 50_000)
    ),
    dashboard_workload=Workload("dashboard", 1024, duration_s=6, warmup_s=2, dashboard=True),
)

QUICK = Plan(
    name="quick",
    workloads=(Workload("1KiB-none", 1024, "none", duration_s=3, warmup_s=1),),
    pair_workloads=(),
    threads=(1, 2),
    gil_threads=(1,),
    ft_gil_threads=(1,),
    broker_warmup_s=2,
    micro_seconds=0.2,
    micro_repeat=1,
    rounds=2,
    # Long enough to time: pulsar-perf's consumer on a quiet machine reads 100,000 messages in
    # under half a second, too short for the broker's counter.
    drain_workloads=(Workload("drain-1KiB", 1024, drain_messages=200_000),),
)


#: Seconds a run costs beyond its warm-up and duration (start, connect, flush, close); measured
#: on 2 busy cores: about 4 s for a Python contender, 10-18 s for pulsar-perf (JVM start, exit).
PYTHON_OVERHEAD_S, JVM_OVERHEAD_S, PAIR_OVERHEAD_S = 4.0, 15.0, 12.0
#: A drain's rate for the estimate (msg/s, the slowest contender on 2 busy cores).
DRAIN_ESTIMATE_RATE = 40_000


def estimate_seconds(plan: Plan) -> float:
    """How long ``plan`` takes, roughly (printed at the start; the budget test checks it)."""
    python_runs = len(plan.threads) + len(plan.gil_threads) + len(plan.ft_gil_threads) + 1
    total = plan.broker_warmup_s + PYTHON_OVERHEAD_S + 10  # warm-up run, machine facts
    per_round = 0.0
    for w in plan.workloads:
        run = w.duration_s + w.warmup_s
        per_round += python_runs * (run + PYTHON_OVERHEAD_S) + run + JVM_OVERHEAD_S
    per_round += sum(4 * (w.duration_s + PAIR_OVERHEAD_S) for w in plan.pair_workloads)
    by_name = {w.name: w for w in plan.workloads}
    for name, *_ in plan.variants:
        per_round += by_name[name].duration_s + by_name[name].warmup_s + PYTHON_OVERHEAD_S
    for w in plan.drain_workloads:
        natives = len(plan.drain_threads) * (1 + bool(plan.gil_threads) + bool(plan.ft_gil_threads))
        read = w.drain_messages / DRAIN_ESTIMATE_RATE
        per_round += natives * (read + PYTHON_OVERHEAD_S) + 2 * read + PYTHON_OVERHEAD_S
        per_round += JVM_OVERHEAD_S
        total += read + PYTHON_OVERHEAD_S  # the fill, once
    for w in plan.latency_workloads:
        run = w.duration_s + w.warmup_s
        per_round += 4 * (run + PYTHON_OVERHEAD_S) + run + JVM_OVERHEAD_S
    if plan.dashboard_workload is not None:
        w = plan.dashboard_workload
        per_round += 2 * (w.duration_s + w.warmup_s + PYTHON_OVERHEAD_S)
    total += plan.rounds * per_round
    from pulsarload.bench.micro import BENCHMARKS

    total += 2 * (len(BENCHMARKS) * 2 * plan.micro_repeat * plan.micro_seconds + 3)
    return total


#: Set to 1 to run the producer tables on persistent topics (the broker's bookie then writes
#: every message: tens of GB for a full suite; make sure the disk has room). Drains always use
#: a persistent topic: reading a filled topic is what they measure.
PERSISTENT_ENV = "PULSARLOAD_BENCH_PERSISTENT"


def only(plan: Plan, tables: tuple[str, ...]) -> Plan:
    """``plan`` with only the given tables (``model.TABLES``); the others are left out."""
    keep = set(tables)
    dash = plan.dashboard_workload if "dashboard" in keep else None
    return replace(
        plan,
        workloads=plan.workloads if "produce" in keep else (),
        pair_workloads=plan.pair_workloads if "pair" in keep else (),
        drain_workloads=plan.drain_workloads if "drain" in keep else (),
        latency_workloads=plan.latency_workloads if "latency" in keep else (),
        dashboard_workload=dash,
        variants=plan.variants if "produce" in keep else (),
        micro_repeat=plan.micro_repeat if "micro" in keep else 0,
    )


def with_persistence(plan: Plan, persistent: bool) -> Plan:
    """``plan`` on persistent or non-persistent topics (drains stay persistent)."""

    def each(ws: tuple[Workload, ...]) -> tuple[Workload, ...]:
        return tuple(replace(w, persistent=persistent) for w in ws)

    dash = plan.dashboard_workload
    return replace(
        plan,
        workloads=each(plan.workloads),
        pair_workloads=each(plan.pair_workloads),
        latency_workloads=each(plan.latency_workloads),
        dashboard_workload=replace(dash, persistent=persistent) if dash else None,
    )


@dataclass
class BenchResult:
    """Everything one run measured (the JSON under bench/results/)."""

    plan: str
    started: str
    machine: dict[str, Any]
    broker: dict[str, str]
    workloads: list[dict[str, Any]]
    runs: list[Figures] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    micro: dict[str, Any] = field(default_factory=dict)
    consumer_note: str | None = None
    goals: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None  # why the suite stopped before its end, if it did
    elapsed_s: float = 0.0
    loadavg_end: list[float] = field(default_factory=list)
    rounds: int = 1
    command: str = ""  # how to reproduce this run

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["runs"] = [r.to_dict() for r in self.runs]
        return {"schema": "pulsarload.bench", "schema_version": 2, **d}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        known = set(cls.__dataclass_fields__)
        fields = {k: v for k, v in data.items() if k in known}
        fig_fields = set(Figures.__dataclass_fields__)
        fields["runs"] = [
            Figures(**{k: v for k, v in r.items() if k in fig_fields}) for r in data["runs"]
        ]
        return cls(**fields)


# --------------------------------------------------------------------------- running


def run_one(c: Contender, w: Workload, broker: Broker, workdir: Path) -> Figures:
    if c.kind == "pulsar-perf":
        return run_perf_producer(c, w, broker, workdir)
    return run_pulsarload_producer(c, w, broker, workdir)


def _summary(f: Figures) -> str:
    if not f.has_numbers:
        return f"FAILED: {f.error}"
    cpu = f"{f.cpu_s_per_m:.1f}" if f.cpu_s_per_m is not None else "?"
    text = f"{f.msg_rate:>10,.0f} msg/s  CPU {cpu} s/M msgs  RSS {f.peak_rss_mb or 0:.0f} MiB"
    if f.from_send_p99_ms is not None:
        text += f"  p99 from send {f.from_send_p99_ms:.2f} ms"
    elif f.p99_ms is not None:
        text += f"  p99 {f.p99_ms:.1f} ms"
    if f.consume_rate is not None and f.consumer:
        text += f"  | consumed {f.consume_rate:,.0f} msg/s"
    return text


def _guarded(fig: Figures, run: Callable[..., Figures], *args: Any) -> Figures:
    """One contender's failure (the broker refusing a topic, a crash) must not end the suite."""
    try:
        return run(*args)
    except Exception as err:  # noqa: BLE001 - recorded as that contender's error
        fig.error = f"{type(err).__name__}: {err}"[:500]
        return fig


def _blank(c: Contender, w: Workload) -> Figures:
    return Figures(w.name, c.key, c.label, c.kind, c.build, c.threads, diagnostic=c.diagnostic)


Job = tuple[Contender, Callable[[], Figures]]


def run_rounds(
    w: Workload, jobs: list[Job], rounds: int, broker: Broker, result: BenchResult, echo: Echo
) -> None:
    """Every job once per round, interleaved and rotated; each run gets its round and the
    load average around it."""
    order = interleave(jobs, rounds)
    for n, (r, (c, job)) in enumerate(order, 1):
        check_disk(broker)
        before = os.getloadavg()[0]
        f = _guarded(_blank(c, w), job)
        f.round, f.load_before, f.load_after = r, before, os.getloadavg()[0]
        result.runs.append(f)
        echo(f"[{w.name} round {r + 1}/{rounds}, {n}/{len(order)}] {c.key:18} {_summary(f)}")


def _producer_job(c: Contender, w: Workload, broker: Broker, workdir: Path) -> Job:
    def job() -> Figures:
        f = run_one(c, w, broker, workdir)
        if c.kind == "official" and not f.has_numbers:
            # The engine failed: measure the official client with a plain script instead,
            # so its goal still has a number (marked as such).
            direct = Contender("official-direct", "official-direct", GIL_BUILD, 1, c.python)
            if direct.missing() is None:
                return run_one(direct, w, broker, workdir)
        return f

    return c, job


def _run_tables(
    plan: Plan, runnable: list[Contender], broker: Broker, workdir: Path, result: BenchResult,
    echo: Echo,
) -> None:  # fmt: skip
    _warm_broker(plan, runnable, broker, workdir, echo)
    extra = variants(plan, runnable)
    for w in plan.workloads:
        jobs = [_producer_job(c, w, broker, workdir) for c in runnable + extra.get(w.name, [])]
        run_rounds(w, jobs, plan.rounds, broker, result, echo)
    if plan.pair_workloads:
        ft = next((c for c in runnable if c.build == FREE_THREADED), None)
        problem = native_consumer_status(ft.python if ft else None, broker, workdir)
        result.consumer_note = problem
        if problem:
            echo(f"  native consumer not usable: {problem}")
        for w in plan.pair_workloads:
            jobs = [(p, _bind(run_pair, p, side, w, broker, workdir))
                    for p, side in pair_contenders(runnable, problem)]  # fmt: skip
            run_rounds(w, jobs, plan.rounds, broker, result, echo)
    for w in plan.drain_workloads:
        _run_drain(plan, w, runnable, broker, workdir, result, echo)
    for w in plan.latency_workloads:
        jobs = [(c, _bind(run_one, c, w, broker, workdir)) for c in latency_contenders(runnable)]
        run_rounds(w, jobs, plan.rounds, broker, result, echo)
    w = plan.dashboard_workload
    ft1 = next((c for c in runnable if c.key == "native-ft-t1"), None)
    if w is not None and ft1 is not None:
        why = dashboard.tmux_missing()
        if why:
            result.skipped.append({"contender": "dashboard", "reason": why})
            return
        jobs = [(ft1, _bind(dashboard.run_headless, ft1, w, broker, workdir)),
                (dashboard.dashboard_contender(ft1),
                 _bind(dashboard.run_with_dashboard, ft1, w, broker, workdir))]  # fmt: skip
        run_rounds(w, jobs, plan.rounds, broker, result, echo)


def _bind(fn: Callable[..., Figures], *args: Any) -> Callable[[], Figures]:
    return lambda: fn(*args)


def _run_drain(
    plan: Plan, w: Workload, runnable: list[Contender], broker: Broker, workdir: Path,
    result: BenchResult, echo: Echo,
) -> None:  # fmt: skip
    ft = next((c for c in runnable if c.build == FREE_THREADED), None)
    if ft is None or ft.python is None:
        result.skipped.append({"contender": w.name, "reason": "no free-threaded interpreter"})
        return
    check_disk(broker)
    echo(f"filling a topic with {w.drain_messages:,} messages for {w.name} ...")
    try:
        topic = drain.fill(broker, w, ft.python, workdir)
    except (RuntimeError, OSError) as err:
        result.skipped.append({"contender": w.name, "reason": str(err)})
        echo(f"  {err}")
        return
    try:
        jobs = [(c, _bind(drain.run_drain, c, w, broker, topic, workdir))
                for c in drain_contenders(plan, runnable)]  # fmt: skip
        run_rounds(w, jobs, plan.rounds, broker, result, echo)
    finally:
        delete_topic(broker, topic)


def _warm_broker(
    plan: Plan, runnable: list[Contender], broker: Broker, workdir: Path, echo: Echo
) -> None:
    """A throw-away run so the broker's JIT and BookKeeper are warm before anything is measured."""
    c = next((c for c in runnable if c.kind == "native"), None)
    if c is None or plan.broker_warmup_s <= 0:
        return
    echo(f"warming the broker up ({plan.broker_warmup_s:g} s, not recorded) ...")
    persistent = plan.workloads[0].persistent if plan.workloads else True
    w = Workload("warmup", 1024, duration_s=plan.broker_warmup_s, warmup_s=0, persistent=persistent)
    run_pulsarload_producer(c, w, broker, workdir)


def _run_micro(plan: Plan, echo: Echo) -> dict[str, Any]:
    from pulsarload.bench.micro import run_micro

    out: dict[str, Any] = {}
    if plan.micro_repeat < 1:
        return out  # left out of this run (--only without micro)
    for key, python in (("free_threaded", ft_python()), ("gil", gil_python())):
        if python is None:
            out[key] = {"error": "interpreter not found"}
            continue
        echo(f"micro-benchmarks on {python} ...")
        try:
            out[key] = run_micro(python, seconds=plan.micro_seconds, repeat=plan.micro_repeat)
        except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as err:
            out[key] = {"error": str(err)}
            continue
        for name, entry in out[key]["benchmarks"].items():
            echo(f"  {name:24} speed-up 2 threads / 1 thread: {entry.get('speedup_2v1', 0):.2f}x")
    return out


def _read_analysis(results_dir: Path) -> str | None:
    path = results_dir.parent / ANALYSIS_FILE
    try:
        return path.read_text()
    except OSError:
        return None


def run_bench(
    quick: bool,
    output: Path,
    results_dir: Path,
    echo: Echo = print,
    *,
    service_url: str | None = None,
    admin_url: str | None = None,
    cluster_brokers: int = 0,
    cluster_proxy: bool = True,
    rounds: int | None = None,
    tables: tuple[str, ...] = (),
) -> int:
    """Run the suite, write the JSON and the markdown; 0 when every contender produced numbers.

    The broker is ``service_url``/``admin_url``, else PULSAR_BROKER_URL/PULSAR_ADMIN_URL, else
    the local standalone (started for the run if it is not up); with ``cluster_brokers`` the
    local cluster of that many brokers, through its proxy unless ``cluster_proxy`` is off.
    ``rounds`` overrides the plan's number of rounds; ``tables`` keeps only those tables (the
    markdown of such a partial run goes into the results directory, never over the docs).
    """
    plan = with_persistence(QUICK if quick else FULL, os.environ.get(PERSISTENT_ENV) == "1")
    if rounds is not None:
        plan = replace(plan, rounds=rounds)
    if tables:
        plan = only(plan, tables)
    t0 = time.monotonic()
    started = dt.datetime.now(dt.UTC)
    echo(
        f"pulsarload bench ({plan.name}, {plan.rounds} rounds, about "
        f"{estimate_seconds(plan) / 60:.0f} min): machine facts ..."
    )
    machine = machine_facts()
    echo(
        f"  {machine['cpu_model']}, {machine['cpu_count']} cores, load average "
        + " ".join(f"{x:.2f}" for x in machine["loadavg_start"])
    )
    handle = BrokerHandle(
        service_url, admin_url, echo, cluster_brokers=cluster_brokers, cluster_proxy=cluster_proxy
    )
    broker = handle.broker
    runnable, skipped = contenders_for(plan)
    command = "pulsarload bench run" + " --quick" * quick + f" --rounds {plan.rounds}"
    command += "".join(f" --only {t}" for t in tables)
    result = BenchResult(
        plan=plan.name,
        started=started.isoformat(timespec="seconds"),
        machine=machine,
        broker=asdict(broker),
        workloads=[asdict(w) for w in plan.all_workloads],
        skipped=skipped,
        rounds=plan.rounds,
        command=command,
    )
    for s in skipped:
        echo(f"  skipping {s['contender']}: {s['reason']}")
    try:
        with tempfile.TemporaryDirectory(prefix="pulsarload-bench-") as tmp:
            try:
                _run_tables(plan, runnable, broker, Path(tmp), result, echo)
            except DiskFull as err:
                result.stopped = str(err)
                echo(f"stopped early: {err}")
            result.micro = _run_micro(plan, echo)
    finally:
        handle.close()
    result.goals = evaluate_goals(result)
    result.elapsed_s = time.monotonic() - t0
    result.loadavg_end = list(os.getloadavg())
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    # A cluster run is its own table: docs/benchmarks.md keeps the standalone's.
    where = f"-cluster{cluster_brokers}-{'proxy' if cluster_proxy else 'direct'}" * bool(
        cluster_brokers
    )
    part = "-" + "-".join(tables) if tables else ""
    json_path = results_dir / f"bench-{stamp}{where}{part}{'-quick' if quick else ''}.json"
    json_path.write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    md_path = output
    if quick or cluster_brokers or tables:
        md_path = results_dir / f"{'quick' if quick else 'full'}{where}{part}.md"
    md_path.parent.mkdir(parents=True, exist_ok=True)
    analysis = _read_analysis(results_dir)
    md_path.write_text(
        render_markdown(
            result,
            json_path,
            analysis=None if md_path != output else analysis,
            output_dir=md_path.parent,
        )
    )
    echo(f"raw results: {json_path}")
    kept = " (docs/benchmarks.md left as it was)" if md_path != output else ""
    echo(f"tables: {md_path}{kept}")
    echo(f"bench took {result.elapsed_s / 60:.1f} min")
    for g in result.goals:
        echo(f"goal: {g['goal']} [{g['workload']}]: {g['verdict']}")
    failed = [f for f in result.runs if not f.has_numbers]
    micro_missing = [k for k, v in result.micro.items() if not v.get("benchmarks")]
    for f in failed:
        echo(f"no numbers from {f.contender} on {f.workload} (round {f.round + 1}): {f.error}")
    for k in micro_missing:
        echo(f"no micro-benchmark numbers for {k}: {result.micro[k].get('error')}")
    return 1 if failed or micro_missing or skipped or result.stopped else 0


def render_file(json_path: Path, output: Path) -> None:
    """Rewrite ``output`` from a results JSON (e.g. after editing bench/analysis.md)."""
    result = BenchResult.from_dict(json.loads(json_path.read_text()))
    result.goals = evaluate_goals(result)  # derived from the runs: judged by today's rules
    analysis = _read_analysis(json_path.parent)
    output.write_text(
        render_markdown(result, json_path, analysis=analysis, output_dir=output.parent)
    )
