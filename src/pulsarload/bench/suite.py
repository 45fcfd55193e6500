"""The fixed benchmark suite behind ``pulsarload bench`` / ``make bench``, and its markdown.

One run: machine facts, a broker warm-up (a fresh standalone's JIT is cold, and the first
contender must not pay for it), every producer workload with every contender, the
producer+consumer workload, then the micro-benchmarks under both interpreter builds. The raw
figures go to ``bench/results/bench-<time>.json``; the tables, the goals with their measured
ratios and the machine facts go to docs/benchmarks.md. ``bench/analysis.md`` (written by hand
after looking at a run: what bounds the numbers) is included verbatim, so regenerating the
tables keeps it.

``--quick`` is a smoke run for CI (under 3 minutes): one small workload, every contender once,
short micro-benchmarks; it writes its JSON and ``quick.md`` into the results directory and
never overwrites the full docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pulsarload.bench.interpreters import ft_python, gil_python, interpreter_facts
from pulsarload.bench.model import Broker, Contender, Figures, Workload
from pulsarload.bench.pair import (
    DRAIN_TIMEOUT_S,
    ConsumerSide,
    native_consumer_status,
    run_pair,
)
from pulsarload.bench.perf import run_perf_producer
from pulsarload.bench.produce import run_pulsarload_producer
from pulsarload.config import PULSAR_VERSION, LocalBrokerSettings, LocalClusterSettings

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


FULL = Plan(
    name="full",
    workloads=(
        Workload("1KiB-none", 1024, "none", duration_s=8, warmup_s=3),
        Workload("1KiB-lz4", 1024, "lz4", duration_s=8, warmup_s=3),
        Workload("100B-none", 100, "none", duration_s=8, warmup_s=3),
        Workload("100B-lz4", 100, "lz4", duration_s=8, warmup_s=3),
    ),
    pair_workloads=(Workload("1KiB-e2e", 1024, "none", duration_s=8, warmup_s=3, consume=True),),
    threads=(1, 2, 4),
    gil_threads=(1, 2, 4),
    broker_warmup_s=10,
    micro_seconds=0.7,
    micro_repeat=2,
    variants=(
        # 128 x 1 KiB + framing is just over 128 KiB, mimalloc's largest medium block: the
        # same run with batches kept under it (see bench/analysis.md).
        ("1KiB-none", 2, ("--batch-max-bytes", "126976"), "batches <= 124 KiB"),
    ),
)

QUICK = Plan(
    name="quick",
    workloads=(Workload("1KiB-none", 1024, "none", duration_s=3, warmup_s=1),),
    pair_workloads=(),
    threads=(1, 2),
    gil_threads=(1,),
    broker_warmup_s=2,
    micro_seconds=0.2,
    micro_repeat=1,
)


#: Seconds a run costs beyond its warm-up and duration (start, connect, flush, close); measured
#: on 2 busy cores: about 4 s for a Python contender, 10-18 s for pulsar-perf (JVM start, exit).
PYTHON_OVERHEAD_S, JVM_OVERHEAD_S, PAIR_OVERHEAD_S = 4.0, 15.0, 12.0


def estimate_seconds(plan: Plan) -> float:
    """How long ``plan`` takes, roughly (printed at the start; the budget test checks it)."""
    python_runs = len(plan.threads) + len(plan.gil_threads) + 1
    total = plan.broker_warmup_s + PYTHON_OVERHEAD_S + 10  # warm-up run, machine facts
    for w in plan.workloads:
        run = w.duration_s + w.warmup_s
        total += python_runs * (run + PYTHON_OVERHEAD_S) + run + JVM_OVERHEAD_S
    total += sum(4 * (w.duration_s + PAIR_OVERHEAD_S) for w in plan.pair_workloads)
    by_name = {w.name: w for w in plan.workloads}
    for name, *_ in plan.variants:
        total += by_name[name].duration_s + by_name[name].warmup_s + PYTHON_OVERHEAD_S
    from pulsarload.bench.micro import BENCHMARKS

    total += 2 * (len(BENCHMARKS) * 2 * plan.micro_repeat * plan.micro_seconds + 3)
    return total


#: Set to 1 to run the suite on persistent topics (the broker's bookie then writes every
#: message: tens of GB for a full suite; make sure the disk has room).
PERSISTENT_ENV = "PULSARLOAD_BENCH_PERSISTENT"


def with_persistence(plan: Plan, persistent: bool) -> Plan:
    """``plan`` on persistent or non-persistent topics."""
    from dataclasses import replace

    return replace(
        plan,
        workloads=tuple(replace(w, persistent=persistent) for w in plan.workloads),
        pair_workloads=tuple(replace(w, persistent=persistent) for w in plan.pair_workloads),
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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["runs"] = [r.to_dict() for r in self.runs]
        return {"schema": "pulsarload.bench", "schema_version": 1, **d}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        known = {f for f in cls.__dataclass_fields__}
        fields = {k: v for k, v in data.items() if k in known}
        fig_fields = set(Figures.__dataclass_fields__)
        fields["runs"] = [
            Figures(**{k: v for k, v in r.items() if k in fig_fields}) for r in data["runs"]
        ]
        return cls(**fields)


# --------------------------------------------------------------------------- machine facts


def _first(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except (OSError, ValueError):
        pass
    return None


def machine_facts() -> dict[str, Any]:
    """CPU, cores, memory, interpreters, Java, Pulsar, the code under test, and current load."""
    from pulsarload.broker import jvm
    from pulsarload.broker.errors import BrokerError

    try:
        java = jvm.find_java()
        java_version = _first([java.path, "-version"])
    except BrokerError:
        java_version = "not found"
    repo = Path(__file__).resolve().parents[3]
    commit = _first(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_total_gib": _mem_total_gib(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python_free_threaded": interpreter_facts(ft_python()),
        "python_gil": interpreter_facts(gil_python()),
        "java": java_version,
        "pulsar": PULSAR_VERSION,
        "git_commit": commit,
        "git_modified_files": len(dirty.splitlines()) if dirty else 0,
        "loadavg_start": list(os.getloadavg()),
    }


# --------------------------------------------------------------------------- broker


class _BrokerHandle:
    """The broker to measure against: PULSAR_BROKER_URL/PULSAR_ADMIN_URL, else the local
    standalone, or with ``cluster_brokers`` the local cluster (through its proxy unless
    ``cluster_proxy`` is off: then a service URL with every broker). What this handle started
    it stops again at the end."""

    def __init__(
        self, service_url: str | None, admin_url: str | None, echo: Echo, *,
        cluster_brokers: int = 0, cluster_proxy: bool = True,
    ) -> None:  # fmt: skip
        self.echo = echo
        self.started: Any = None
        if cluster_brokers:
            self._cluster(cluster_brokers, cluster_proxy)
            return
        service_url = service_url or os.environ.get("PULSAR_BROKER_URL")
        admin_url = admin_url or os.environ.get("PULSAR_ADMIN_URL")
        if service_url or admin_url:
            local = LocalBrokerSettings()
            self.broker = Broker(service_url or local.service_url, admin_url or local.admin_url)
            return
        from pulsarload.broker.standalone import StandaloneBroker

        sb = StandaloneBroker(LocalBrokerSettings())
        status = sb.status()
        if not (status.running and status.ready):
            echo("starting the local Pulsar standalone (pulsarload broker start) ...")
            status = sb.start()
            self.started = sb
        self.broker = Broker(status.service_url, status.admin_url)

    def _cluster(self, brokers: int, proxy: bool) -> None:
        from pulsarload.broker.cluster import LocalCluster

        lc = LocalCluster(LocalClusterSettings(brokers=brokers, proxy=True))
        status = lc.status()
        if not status.ready:
            self.echo(f"starting the local cluster ({brokers} brokers and a proxy) ...")
            status = lc.start()
            self.started = lc
        s = lc.settings
        self.broker = Broker(s.proxy_service_url if proxy else s.broker_service_url, s.admin_url)

    def close(self) -> None:
        if self.started is not None:
            self.echo("stopping the local Pulsar this run started")
            self.started.stop()


# --------------------------------------------------------------------------- running


def contenders_for(plan: Plan) -> tuple[list[Contender], list[dict[str, str]]]:
    """The producer contenders of ``plan`` and those skipped here, with why."""
    ft, gil = ft_python(), gil_python()
    wanted = [Contender(f"native-ft-t{t}", "native", "free-threaded", t, ft) for t in plan.threads]
    wanted += [Contender(f"native-gil-t{t}", "native", "gil", t, gil) for t in plan.gil_threads]
    wanted += [
        Contender("official", "official", "gil", 1, gil),
        Contender("pulsar-perf", "pulsar-perf", "jvm", 1),
    ]
    facts = interpreter_facts(gil) if gil else None
    runnable, skipped = [], []
    for c in wanted:
        why = c.missing()
        if why is None and c.kind == "official" and not (facts and facts.get("pulsar_client")):
            why = "pulsar-client does not import in the GIL environment (.venv-gil)"
        if why is None:
            runnable.append(c)
        else:
            skipped.append({"contender": c.key, "reason": why})
    return runnable, skipped


def _variants(plan: Plan, runnable: list[Contender]) -> dict[str, list[Contender]]:
    ft = next((c for c in runnable if c.build == "free-threaded"), None)
    out: dict[str, list[Contender]] = {}
    if ft is None:
        return out
    for workload, threads, args, note in plan.variants:
        key = f"native-ft-t{threads}-variant{len(out.get(workload, [])) + 1}"
        c = Contender(key, "native", "free-threaded", threads, ft.python, args, note)
        out.setdefault(workload, []).append(c)
    return out


def run_one(c: Contender, w: Workload, broker: Broker, workdir: Path) -> Figures:
    if c.kind == "pulsar-perf":
        return run_perf_producer(c, w, broker, workdir)
    return run_pulsarload_producer(c, w, broker, workdir)


def _summary(f: Figures) -> str:
    if not f.has_numbers:
        return f"FAILED: {f.error}"
    cpu = f"{f.cpu_s_per_m:.1f}" if f.cpu_s_per_m is not None else "?"
    text = (
        f"{f.msg_rate:>10,.0f} msg/s  p99 {f.p99_ms or 0:7.1f} ms  CPU {cpu} s/M msgs  "
        f"RSS {f.peak_rss_mb or 0:.0f} MiB"
    )
    if f.consume_rate is not None:
        text += f"  | consumed {f.consume_rate:,.0f} msg/s, e2e p99 {f.e2e_p99_ms or 0:.1f} ms"
    return text


def pair_contenders(
    runnable: list[Contender], consumer_problem: str | None
) -> list[tuple[Contender, ConsumerSide]]:
    """Producer+consumer pairs: each tool consumes what it produced (the native one on both
    builds when the native consumer works, else the official consumer, and the table says so)."""
    by_key = {c.key: c for c in runnable}
    pairs: list[tuple[Contender, ConsumerSide]] = []
    official = by_key.get("official")
    for key in ("native-ft-t1", "native-gil-t1"):
        c = by_key.get(key)
        if c is None:
            continue
        build = "3.13t" if c.build == "free-threaded" else "3.13 GIL build"
        if consumer_problem is None:
            side = ConsumerSide("native", c.python, f"pulsarload native [{build}]")
        elif official is not None:
            side = ConsumerSide("official", official.python, "official (native not usable)")
        else:
            continue
        pairs.append((c, side))
    if official is not None:
        side = ConsumerSide("official", official.python, "official client (C++)")
        pairs.append((official, side))
    if "pulsar-perf" in by_key:
        pairs.append((by_key["pulsar-perf"], ConsumerSide("pulsar-perf", None, "pulsar-perf")))
    return pairs


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
) -> int:
    """Run the suite, write the JSON and the markdown; 0 when every contender produced numbers.

    The broker is ``service_url``/``admin_url``, else PULSAR_BROKER_URL/PULSAR_ADMIN_URL, else
    the local standalone (started for the run if it is not up); with ``cluster_brokers`` the
    local cluster of that many brokers, through its proxy unless ``cluster_proxy`` is off.
    """
    plan = with_persistence(QUICK if quick else FULL, os.environ.get(PERSISTENT_ENV) == "1")
    t0 = time.monotonic()
    started = dt.datetime.now(dt.UTC)
    echo(
        f"pulsarload bench ({plan.name}, about {estimate_seconds(plan) / 60:.0f} min): "
        "machine facts ..."
    )
    machine = machine_facts()
    echo(
        f"  {machine['cpu_model']}, {machine['cpu_count']} cores, load average "
        + " ".join(f"{x:.2f}" for x in machine["loadavg_start"])
    )
    handle = _BrokerHandle(
        service_url, admin_url, echo, cluster_brokers=cluster_brokers, cluster_proxy=cluster_proxy
    )
    broker = handle.broker
    runnable, skipped = contenders_for(plan)
    result = BenchResult(
        plan=plan.name,
        started=started.isoformat(timespec="seconds"),
        machine=machine,
        broker=asdict(broker),
        workloads=[asdict(w) for w in plan.workloads + plan.pair_workloads],
        skipped=skipped,
    )
    for s in skipped:
        echo(f"  skipping {s['contender']}: {s['reason']}")
    try:
        with tempfile.TemporaryDirectory(prefix="pulsarload-bench-") as tmp:
            try:
                _run_contenders(plan, runnable, broker, Path(tmp), result, echo)
            except _DiskFull as err:
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
    json_path = results_dir / f"bench-{stamp}{where}{'-quick' if quick else ''}.json"
    json_path.write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    md_path = output
    if quick or cluster_brokers:
        md_path = results_dir / f"{'quick' if quick else 'full'}{where}.md"
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
    failed = [f for f in result.runs if not f.has_numbers]
    micro_missing = [k for k, v in result.micro.items() if not v.get("benchmarks")]
    for f in failed:
        echo(f"no numbers from {f.contender} on {f.workload}: {f.error}")
    for k in micro_missing:
        echo(f"no micro-benchmark numbers for {k}: {result.micro[k].get('error')}")
    return 1 if failed or micro_missing or skipped or result.stopped else 0


class _DiskFull(Exception):
    pass


#: A local bookie refuses writes at 99 % disk use, and a full run writes tens of GB (each topic
#: is deleted after its run; the bookie frees the space at its next GC): stop before that.
MIN_FREE_BYTES = 4 * 1024**3


def _check_disk(broker: Broker) -> None:
    """Raise _DiskFull when a broker on this machine is about to run out of disk."""
    from urllib.parse import urlparse

    from pulsarload.config import cache_dir

    if urlparse(broker.service_url).hostname not in ("localhost", "127.0.0.1", "::1"):
        return
    free = shutil.disk_usage(cache_dir()).free
    if free < MIN_FREE_BYTES:
        raise _DiskFull(
            f"only {free / 1024**3:.1f} GiB free on the disk of {cache_dir()}: the local "
            "broker's bookie would stop accepting writes; free some space and run again"
        )


def _guarded(fig: Figures, run: Callable[..., Figures], *args: Any) -> Figures:
    """One contender's failure (the broker refusing a topic, a crash) must not end the suite."""
    try:
        return run(*args)
    except Exception as err:  # noqa: BLE001 - recorded as that contender's error
        fig.error = f"{type(err).__name__}: {err}"[:500]
        return fig


def _run_contenders(
    plan: Plan,
    runnable: list[Contender],
    broker: Broker,
    workdir: Path,
    result: BenchResult,
    echo: Echo,
) -> None:
    _warm_broker(plan, runnable, broker, workdir, echo)
    variants = _variants(plan, runnable)
    total = len(plan.workloads) * len(runnable) + sum(map(len, variants.values()))
    n = 0
    for i, w in enumerate(plan.workloads):
        # Alternate the order so slow drift in machine load does not favour one tool.
        order = runnable if i % 2 == 0 else list(reversed(runnable))
        for c in order + variants.get(w.name, []):
            n += 1
            _check_disk(broker)
            f = _guarded(_blank(c, w), run_one, c, w, broker, workdir)
            result.runs.append(f)
            echo(f"[{n}/{total}] {w.name:10} {c.key:14} {_summary(f)}")
            if c.kind == "official" and not f.has_numbers:
                # The engine failed: measure the official client with a plain script instead,
                # so its goal still has a number (marked as such).
                direct = Contender("official-direct", "official-direct", "gil", 1, c.python)
                if direct.missing() is None:
                    f = _guarded(_blank(direct, w), run_one, direct, w, broker, workdir)
                    result.runs.append(f)
                    echo(f"[{n}/{total}] {w.name:10} {direct.key:14} {_summary(f)}")
    if not plan.pair_workloads:
        return
    ft = next((c for c in runnable if c.build == "free-threaded"), None)
    problem = native_consumer_status(ft.python if ft else None, broker, workdir)
    result.consumer_note = problem
    if problem:
        echo(f"  native consumer not usable: {problem}")
    official_ok = any(f.kind == "official" and f.has_numbers for f in result.runs)
    for w in plan.pair_workloads:
        for producer, side in pair_contenders(runnable, problem):
            if producer.kind == "official" and not official_ok:
                echo(f"[pair] {w.name} official: skipped (no numbers as a producer)")
                continue
            _check_disk(broker)
            f = _guarded(_blank(producer, w), run_pair, producer, side, w, broker, workdir)
            result.runs.append(f)
            echo(f"[pair] {w.name} {producer.key:14} {_summary(f)}")


def _blank(c: Contender, w: Workload) -> Figures:
    return Figures(w.name, c.key, c.label, c.kind, c.build, c.threads, diagnostic=c.diagnostic)


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


# --------------------------------------------------------------------------- goals


def _best(runs: list[Figures], workload: str, **match: Any) -> Figures | None:
    found = [
        f
        for f in runs
        if f.workload == workload
        and f.has_numbers
        and not f.diagnostic
        and all(getattr(f, k) == v for k, v in match.items())
    ]
    return max(found, key=lambda f: f.msg_rate or 0, default=None)


def evaluate_goals(result: BenchResult) -> list[dict[str, Any]]:
    """The benchmark goals with the measured ratio per workload (met when the ratio is >= 1)."""
    goals: list[dict[str, Any]] = []
    producer_workloads = [w["name"] for w in result.workloads if not w["consume"]]
    for w in producer_workloads:
        native = _best(result.runs, w, kind="native", build="free-threaded")
        perf = _best(result.runs, w, kind="pulsar-perf")
        official = _best(result.runs, w, kind="official") or _best(
            result.runs, w, kind="official-direct"
        )
        if native and perf:
            goals.append(_goal(
                "native msg/s >= pulsar-perf msg/s", w, native.msg_rate / perf.msg_rate, 1.0,
                f"{native.contender} {native.msg_rate:,.0f} vs {perf.msg_rate:,.0f}",
            ))  # fmt: skip
        for other, name in ((perf, "pulsar-perf"), (official, "the official client")):
            if other is None:
                why = _no_numbers(result, w, "pulsar-perf" if other is perf else "official")
                goals.append({
                    "goal": f"native vs {name}", "workload": w, "ratio": None, "target": None,
                    "met": None, "detail": f"not measured: {name} produced no numbers ({why})",
                })  # fmt: skip
        if native and official:
            via = " (official client via the direct script)" if official.kind != "official" else ""
            goals.append(_goal(
                "native msg/s >= 3 x official client", w, native.msg_rate / official.msg_rate,
                3.0,
                f"{native.contender} {native.msg_rate:,.0f} vs {official.msg_rate:,.0f}{via}",
            ))  # fmt: skip
        if native and perf and native.cpu_s_per_m and perf.cpu_s_per_m:
            goals.append(_goal(
                "native CPU per message <= pulsar-perf", w, perf.cpu_s_per_m / native.cpu_s_per_m,
                1.0, f"{native.cpu_s_per_m:.1f} vs {perf.cpu_s_per_m:.1f} CPU s per M msgs "
                "(ratio = pulsar-perf / native)",
            ))  # fmt: skip
    ft = result.micro.get("free_threaded", {}).get("benchmarks", {})
    for name, entry in ft.items():
        if name in ("control", "shared_constants") or "speedup_2v1" not in entry:
            continue
        detail = entry["title"]
        two = entry["runs"].get("2", {})
        eff = _efficiency(entry)
        if two.get("cpu_per_wall") is not None and two["cpu_per_wall"] < 1.6:
            detail += f"; the 2 threads got {two['cpu_per_wall']:.2f} CPUs, not 2 (other load)"
        if eff is not None:
            detail += f"; per-CPU efficiency {eff:.2f}"
        goals.append(_goal(
            "micro: 2 threads >= 1.8 x 1 thread (3.13t)", name, entry["speedup_2v1"], 1.8, detail,
        ))  # fmt: skip
    goals.append({
        "goal": "dashboard on vs headless: <= 10 % throughput lost", "workload": "-",
        "ratio": None, "target": 0.9, "met": None,
        "detail": "pending: measured with the dashboard, not by this suite yet",
    })  # fmt: skip
    return goals


def _efficiency(entry: dict[str, Any]) -> float | None:
    """Throughput per CPU-second with 2 threads over that with 1: below 1 means the threads
    cost each other CPU (contention), whatever the machine's other load."""
    one, two = entry.get("runs", {}).get("1", {}), entry.get("runs", {}).get("2", {})
    a, b = one.get("msg_per_cpu_s"), two.get("msg_per_cpu_s")
    return b / a if a and b else None


def _no_numbers(result: BenchResult, workload: str, kind: str) -> str:
    for f in result.runs:
        if f.workload == workload and f.kind == kind:
            return (f.error or "no messages")[-160:]
    for s in result.skipped:
        if s["contender"].startswith(kind):
            return s["reason"]
    return "not run"


def _goal(name: str, workload: str, ratio: float, target: float, detail: str) -> dict[str, Any]:
    return {
        "goal": name,
        "workload": workload,
        "ratio": ratio,
        "target": target,
        "met": ratio >= target,
        "detail": detail,
    }


# --------------------------------------------------------------------------- markdown


def _n(x: float | None, fmt: str = ",.0f") -> str:
    return "–" if x is None else format(x, fmt)


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def render_markdown(
    result: BenchResult, json_path: Path, *, analysis: str | None, output_dir: Path
) -> str:
    m = result.machine
    ft, gil = m.get("python_free_threaded") or {}, m.get("python_gil") or {}
    persistent = all(w.get("persistent", True) for w in result.workloads)
    load = " / ".join(f"{x:.2f}" for x in m["loadavg_start"])
    load_end = " / ".join(f"{x:.2f}" for x in result.loadavg_end)
    out = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`pulsarload bench`) on {result.started} UTC in "
        f"{result.elapsed_s / 60:.1f} minutes; do not edit by hand (the analysis at the end "
        "comes from `bench/analysis.md`). Raw figures: "
        f"[`{json_path.name}`]({_rel(json_path, output_dir)}).",
        "",
        "Every contender runs as its own process, one after another, on a fresh "
        + ("" if persistent else "non-persistent ")
        + "topic of the same local Pulsar standalone, with the same settings: rate unlimited "
        "(pulsar-perf 4.0.8 "
        f"rejects 0, so it gets `-r {10_000_000:,}`), batching on (at most 1000 messages, "
        "128 KiB, 1 ms), at most 1000 pending messages per producer, random payloads.",
        "",
        "- **msg/s, MB/s, latency**: from each tool's own report over its measured window "
        "(after its warm-up). pulsar-perf 4.0.8's aggregated msg/s divides by the time since its "
        "JVM started, so its msg/s here is the broker's count (below). MB = 10^6 payload bytes. "
        "**broker msg/s**: the broker's own count of messages published to the topic "
        "(admin `msgInCounter`, sampled every 0.5 s) over the same window: one measuring stick "
        "for every tool.",
        "- **CPU s / M msgs**: the contender process's own CPU time (user+system, sampled from "
        "`/proc/PID/stat`) over its measured window, per million messages; the broker's share "
        "is excluded. **cores**: the same CPU per second of the window. **total CPU s**: the "
        "whole process from `os.wait4` rusage, start-up included (a JVM pays seconds here). "
        "**peak RSS**: `ru_maxrss` of the process. **page faults / M msgs**: the process's minor "
        "page faults (`ru_minflt`, start-up included) per million messages: memory handed back "
        "to the OS and touched again.",
        "- **Non-persistent topics**: the broker keeps nothing on disk, so these numbers "
        "compare the clients and the broker's dispatch path, not BookKeeper. On persistent "
        "topics (`PULSARLOAD_BENCH_PERSISTENT=1 make bench`) the full suite writes tens of GB "
        "through the bookie (1 KiB at 150,000 msg/s is 150 MB/s, written twice: journal and "
        "entry log), more than the free disk of the machine this ran on; the run stops "
        "before the bookie's disk is full."
        if not persistent
        else "- **Persistent topics**: every message goes through the bookie (journal and "
        "entry log).",
        "- The broker, the contender and the machine's other work share "
        f"{m['cpu_count']} cores: whatever CPU a client uses is taken from the broker.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu_model']} |",
        f"| cores | {m['cpu_count']} |",
        f"| memory | {_n(m.get('mem_total_gib'), '.1f')} GiB |",
        f"| kernel | {m['kernel']} |",
        f"| free-threaded build | CPython {ft.get('version', '?')} "
        f"(`Py_GIL_DISABLED`={ft.get('free_threaded_build')}, GIL enabled at run time: "
        f"{ft.get('gil_after_import', ft.get('gil_enabled'))}) |",
        f"| GIL build | CPython {gil.get('version', '?')} "
        f"(`Py_GIL_DISABLED`={gil.get('free_threaded_build')}), pulsar-client "
        f"{gil.get('pulsar_client') or 'not installed'} |",
        f"| Java | {m['java']} |",
        f"| Pulsar | {m['pulsar']} standalone (broker, BookKeeper, metadata store in one JVM) |",
        f"| code | git {m['git_commit']}"
        + (
            f" with {m['git_modified_files']} modified tracked files"
            if m["git_modified_files"]
            else ""
        )
        + " |",
        f"| load average (1/5/15 min) | at start {load}; at end {load_end} |",
        "",
    ]
    if m["loadavg_start"][0] > 0.5 * (m["cpu_count"] or 1):
        out += [
            f"> **Noise.** The load average at the start ({m['loadavg_start'][0]:.1f} on "
            f"{m['cpu_count']} cores) shows other work on the machine during this run; every "
            "contender ran once, so single figures can be off by tens of percent. Compare "
            "ratios within one table rather than absolute numbers across runs.",
            "",
        ]
    out += ["Reproduce: `make bench` (`pulsarload bench`; `pulsarload bench --quick` for a smoke "
            "run of under 3 minutes).", ""]  # fmt: skip
    if result.stopped:
        out += [f"> **This run stopped early**: {result.stopped}.", ""]
    out += _goals_section(result)
    out += _workload_sections(result)
    out += _micro_section(result)
    if result.skipped:
        out += ["## Skipped contenders", ""]
        out += [f"- {s['contender']}: {s['reason']}" for s in result.skipped]
        out.append("")
    if analysis:
        out += [analysis.rstrip(), ""]
    return "\n".join(out)


def _goals_section(result: BenchResult) -> list[str]:
    out = ["## Goals", "", "| goal | workload | measured | target | met | detail |",
           "|---|---|---:|---:|:---:|---|"]  # fmt: skip
    for g in result.goals:
        ratio = "–" if g["ratio"] is None else f"{g['ratio']:.2f}x"
        target = "–" if g["target"] is None else f"{g['target']:g}x"
        met = "pending" if g["met"] is None else ("met" if g["met"] else "**missed**")
        detail = str(g["detail"]).replace("|", "/")
        out.append(f"| {g['goal']} | {g['workload']} | {ratio} | {target} | {met} | {detail} |")
    out.append("")
    return out


def _workload_sections(result: BenchResult) -> list[str]:
    out: list[str] = []
    for wd in result.workloads:
        w = Workload(**wd)
        runs = [f for f in result.runs if f.workload == w.name]
        if not runs:
            continue
        out += [f"## {w.title}", ""]
        out.append(
            f"`{w.name}`: {w.size} B payloads, `-z {w.compression}`, {w.duration_s:g} s measured "
            f"after {w.warmup_s:g} s warm-up."
        )
        out.append("")
        if w.consume:
            out += _pair_table(runs, result.consumer_note)
        else:
            out += _producer_table(runs)
        for f in runs:
            if not f.has_numbers:
                out.append(f"- {f.label}: **no numbers** ({f.error})".replace("|", "/"))
        out.append("")
    return out


def _producer_table(runs: list[Figures]) -> list[str]:
    out = [
        "| contender | GIL | threads | msg/s | broker msg/s | MB/s | p50 ms | p99 ms | p99.9 ms "
        "| CPU s / M msgs "
        "| cores | total CPU s | peak RSS MiB | page faults / M msgs |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    order = lambda f: (f.kind != "native", f.build, f.kind, f.diagnostic, f.threads)  # noqa: E731
    for f in sorted(runs, key=order):
        if not f.has_numbers:
            continue
        faults = f.minor_faults / f.messages * 1e6 if f.minor_faults and f.messages else None
        out.append(
            f"| {f.label} | {f.gil} | {f.threads} | {_n(f.msg_rate)} | {_n(f.broker_msg_rate)} "
            f"| {_n(f.mb_rate, '.1f')} "
            f"| {_n(f.p50_ms, '.1f')} | {_n(f.p99_ms, '.1f')} | {_n(f.p999_ms, '.1f')} "
            f"| {_n(f.cpu_s_per_m, '.1f')} | {_n(f.cpu_cores, '.2f')} | {_n(f.cpu_total_s, '.1f')} "
            f"| {_n(f.peak_rss_mb)} | {_n(faults)} |"
        )
    out.append("")
    return out


def _pair_table(runs: list[Figures], consumer_note: str | None) -> list[str]:
    out = [
        "| producer | consumer | produce msg/s | consume msg/s | e2e p50 ms | e2e p99 ms "
        "| e2e p99.9 ms | producer CPU s / M | consumer CPU s / M | consumer RSS MiB "
        "| received / published |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in runs:
        if not f.has_numbers:
            continue
        sent = f.raw.get("sent_total")
        out.append(
            f"| {f.label} | {f.consumer} | {_n(f.msg_rate)} | {_n(f.consume_rate)} "
            f"| {_n(f.e2e_p50_ms, '.1f')} | {_n(f.e2e_p99_ms, '.1f')} | {_n(f.e2e_p999_ms, '.1f')} "
            f"| {_n(f.cpu_s_per_m, '.1f')} | {_n(f.consumer_cpu_s_per_m, '.1f')} "
            f"| {_n(f.consumer_peak_rss_mb)} | {f.received:,} / {_n(sent)} |"
        )
    out += [
        "",
        "Topic and subscription are created first; the consumer starts and attaches, then the "
        "producer runs with the same warm-up and duration as above. consume msg/s is the "
        "broker's count of messages dispatched to the subscription over the producer's measured "
        "window (a consumer gets more only as it frees receiver-queue permits, so this is the "
        "rate it consumed at). After the producer ends the consumer gets up to "
        f"{DRAIN_TIMEOUT_S:g} s to drain; received / published shows whether it caught up. "
        "End-to-end latency (publish to receive) is the consumer's own report over its whole "
        "run: a consumer that falls behind shows it as seconds here.",
    ]
    if runs and "non-persistent" in runs[0].topic:
        out.append(
            "On a non-persistent topic there is no backlog: the broker drops what a consumer "
            "has no permits for, so a consumer that falls behind shows as received < published "
            "rather than as growing latency."
        )
    if consumer_note:
        out.append(f"The native consumer was not usable in this run: {consumer_note}.")
    out.append("")
    return out


def _micro_section(result: BenchResult) -> list[str]:
    ft = result.micro.get("free_threaded", {})
    gil = result.micro.get("gil", {})
    if not ft.get("benchmarks") and not gil.get("benchmarks"):
        return []
    out = [
        "## Micro-benchmarks: 1 and 2 threads, free-threaded vs GIL build",
        "",
        "`python -m pulsarload.bench.micro` under each interpreter: each thread owns its objects; "
        f"throughput is the best of {ft.get('rounds', '?')} interleaved rounds of "
        f"{ft.get('seconds_per_round', '?')} s; speed-up = median over the pairs of rounds of 2 threads / 1 thread. "
        "CPUs used is the process's CPU time over the round's wall time (2.0 = both threads ran "
        "all the time; less means the GIL, or other load on the machine, kept one waiting). "
        "Per-CPU efficiency is throughput per CPU-second with 2 threads over that with 1: "
        "below 1 the threads cost each other CPU (contention), whatever else ran on the "
        "machine. The control loop shares nothing: its speed-up is what the machine allowed "
        "at that moment. The last column is the price of the free-threaded build for one "
        "thread: how much more work the GIL build does per CPU-second.",
        "",
        "| benchmark | 3.13t 1 thread msg/s | 3.13t 2 threads msg/s | 3.13t speed-up "
        "| 3.13t CPUs used (2 thr) | 3.13t per-CPU eff. | 3.13 1 thread msg/s "
        "| 3.13 2 threads msg/s | 3.13 speed-up | 3.13 CPUs used (2 thr) | 3.13 per-CPU eff. "
        "| 1 thread, 3.13 / 3.13t per CPU-s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = list(ft.get("benchmarks", {}) or gil.get("benchmarks", {}))
    for name in names:
        a = ft.get("benchmarks", {}).get(name, {})
        b = gil.get("benchmarks", {}).get(name, {})
        title = a.get("title") or b.get("title") or name
        cells = []
        for e in (a, b):
            r = e.get("runs", {})
            one, two = r.get("1", {}), r.get("2", {})
            cells += [
                _n(one.get("msg_per_s")),
                _n(two.get("msg_per_s")),
                f"**{e['speedup_2v1']:.2f}x**" if "speedup_2v1" in e else "–",
                _n(two.get("cpu_per_wall"), ".2f"),
                _n(_efficiency(e), ".2f"),
            ]
        one_ft = a.get("runs", {}).get("1", {}).get("msg_per_cpu_s")
        one_gil = b.get("runs", {}).get("1", {}).get("msg_per_cpu_s")
        cells.append(f"{one_gil / one_ft:.2f}x" if one_ft and one_gil else "–")
        out.append(f"| {title} | " + " | ".join(cells) + " |")
    out.append("")
    return out


def render_file(json_path: Path, output: Path) -> None:
    """Rewrite ``output`` from a results JSON (e.g. after editing bench/analysis.md)."""
    result = BenchResult.from_dict(json.loads(json_path.read_text()))
    analysis = _read_analysis(json_path.parent)
    output.write_text(
        render_markdown(result, json_path, analysis=analysis, output_dir=output.parent)
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Re-render docs/benchmarks.md from raw results.")
    parser.add_argument("results", type=Path, help="bench/results/bench-*.json")
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args(argv)
    render_file(args.results, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
