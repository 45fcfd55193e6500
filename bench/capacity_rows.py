"""The rows of docs/benchmarks.md's capacity tables from one bench/capacity_check.sh output dir.

Usage: python bench/capacity_rows.py bench/results/capacity-YYYYMMDD-HHMM [P99_MS]

Prints, as Markdown: the capacity searches (load average, answer, bracket, confidence, whether
the answer is decidable under that load, steps, time), how far apart the searches' answers are
against their resolution, then the steady runs of pulsarload and pulsar-perf at each rate
(achieved over the run, percentiles, whether p99 meets the SLO, load average before).
pulsar-perf's own "msg/s" divides by the time since its JVM started, so its achieved rate here
is its record count over its run time (the seconds given to -time).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pulsarload.bench.perf_contender import PERF_LATENCY, PERF_THROUGHPUT
from pulsarload.config import CapacitySettings
from pulsarload.load.capacity.decide import decide
from pulsarload.load.capacity.search import Outcome
from pulsarload.load.capacity.step import StepResult

STEADY_S = 60.0  # capacity_check.sh's -d / -time
LOG_LOAD = re.compile(r"load average before (\S+) (?:run )?(?:at )?(\S+?):? ([\d.]+) ")


def fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def loads_before(out: Path) -> dict[tuple[str, str], float]:
    """(what, which) -> the 1-minute load average logged before that run."""
    found = {}
    log = out / "log.txt"
    for line in log.read_text().splitlines() if log.exists() else ():
        m = LOG_LOAD.search(line)
        if m:
            found[(m.group(1), m.group(2))] = float(m.group(3))
    return found


def decidable_of(cap: dict) -> dict:
    """The report's verdict; for a report written before it existed, worked out again from its
    steps with the load averages it kept (start and end only)."""
    if "decidable" in cap:
        return cap["decidable"]
    steps = [
        StepResult(**{**s, "failed_because": tuple(s["failed_because"])}) for s in cap["steps"]
    ]
    outcome = Outcome(
        capacity=cap["capacity_msg_s"],
        passing=cap["passing_msg_s"],
        failing=cap["failing_msg_s"],
        ended=cap["ended"],
        confidence=cap["confidence"]["level"],
    )
    fails = [s for s in steps if s.target == outcome.failing and not s.passed]
    load = cap["load_average"]
    loads = [load["start"][0], load["end"][0]]
    busy = CapacitySettings().busy_load_per_cpu
    limiting = fails[-1] if fails else None
    return decide(steps, outcome, cap["resolution"], loads, load["cpus"], limiting, busy).to_dict()


def capacity_rows(out: Path) -> tuple[list[str], list[float], float]:
    rows, answers, resolution = [], [], 0.0
    for path in sorted(out.glob("capacity-*.json")):
        cap = json.loads(path.read_text())["meta"]["capacity"]
        load = cap["load_average"]
        steps = cap["steps"]
        minutes = (steps[-1]["ended_at"] - steps[0]["started_at"]) / 60 if steps else 0.0
        conf = cap["confidence"]
        votes = ", ".join(f"{k} {v}" for k, v in conf["votes"].items())
        decidable = decidable_of(cap)
        bracket = f"{fmt(cap['passing_msg_s'], 0)} / {fmt(cap['failing_msg_s'], 0)}"
        if cap["gap"] is not None:
            bracket += f" ({cap['gap']:.1%})"
        rows.append(
            f"| {path.stem.replace('-', ' ')} | {load['start'][0]:.1f} → {load['end'][0]:.1f} "
            f"| **{cap['capacity_msg_s']:,.0f} msg/s** | {bracket} | {conf['level']}: {votes} "
            f"| {'yes' if decidable['ok'] else 'no: ' + '; '.join(decidable['reasons'])} "
            f"| {cap['limited_by'] or '-'} | {len(steps)} | {minutes:.1f} min |"
        )
        answers.append(cap["capacity_msg_s"])
        resolution = cap["resolution"]
    return rows, answers, resolution


def steady_rows(out: Path, p99_slo: float) -> list[str]:
    loads = loads_before(out)
    rows = []
    rates = sorted(int(p.stem.split("-")[1]) for p in out.glob("steady-*.json"))
    for rate in rates:
        s = json.loads((out / f"steady-{rate}.json").read_text())["meta"]["summary"]
        rows.append(
            f"| pulsarload | {rate:,} | {s['msg_rate']:,.0f} | {fmt(s['p50_ms'])} "
            f"| {fmt(s['p95_ms'])} | {fmt(s['p99_ms'])} | {fmt(s['p999_ms'])} "
            f"| {'yes' if s['p99_ms'] < p99_slo else '**no**'} "
            f"| {fmt(loads.get(('pulsarload', str(rate))))} |"
        )
    for rate in rates:
        perf = out / f"perf-{rate}.txt"
        text = perf.read_text() if perf.exists() else ""
        thr, lat = PERF_THROUGHPUT.search(text), PERF_LATENCY.search(text)
        if thr is None or lat is None:
            rows.append(f"| pulsar-perf | {rate:,} | no summary in {perf.name} |||||||")
            continue
        p50, p95, p99, p999 = (float(lat.group(i)) for i in (2, 3, 4, 5))
        rows.append(
            f"| pulsar-perf | {rate:,} | {int(thr.group(1)) / STEADY_S:,.0f} | {p50:.1f} "
            f"| {p95:.1f} | {p99:.1f} | {p999:.1f} | {'yes' if p99 < p99_slo else '**no**'} "
            f"| {fmt(loads.get(('pulsar-perf', str(rate))))} |"
        )
    return rows


def main(argv: list[str]) -> int:
    if not argv or not Path(argv[0]).is_dir():
        print("usage: capacity_rows.py OUTPUT_DIR [P99_MS]", file=sys.stderr)
        return 2
    out = Path(argv[0])
    p99 = float(argv[1]) if len(argv) > 1 else 50.0
    rows, answers, resolution = capacity_rows(out)
    print(
        "| run | load avg (1 min) start → end | answer | bracket (pass / fail) | confidence "
        "| decidable under this load | limited by | steps | time |"
    )
    print("|---|---|---:|---|---|---|---|---:|---:|")
    print("\n".join(rows))
    if len(answers) >= 2 and min(answers) > 0:
        apart = (max(answers) - min(answers)) / min(answers)
        verdict = "agree" if apart <= resolution else "do **not** agree"
        print(
            f"\nThe searches {verdict} within their resolution: {apart:.1%} apart "
            f"(resolution {resolution:.0%})."
        )
    print(
        f"\n| tool | rate asked | achieved | p50 ms | p95 ms | p99 ms | p99.9 ms "
        f"| meets p99 < {p99:g} ms | load avg before |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    print("\n".join(steady_rows(out, p99)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
