"""The benchmark goals, judged from rounds: median of paired ratios against a target.

Every goal compares two contenders (or two arms) by the ratio of their figures within each
round, takes the median of those paired ratios and their min-max, and says met, missed, or
"not distinguishable" when the rounds disagree by more than the difference being judged
(``rounds.judge``). A goal whose contender produced no numbers says why instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulsarload.bench.model import FREE_THREADED, Figures, Workload
from pulsarload.bench.rounds import Spread, judge, judge_spread

Value = Callable[[Figures], float | None]


def rows(runs: list[Figures], workload: str, **match: Any) -> list[Figures]:
    """The measured, non-diagnostic runs of ``workload`` whose attributes equal ``match``."""
    return [
        f
        for f in runs
        if f.workload == workload
        and f.has_numbers
        and not f.diagnostic
        and all(getattr(f, k) == v for k, v in match.items())
    ]


def best_per_round(found: list[Figures]) -> dict[int, Figures]:
    """The run with the highest msg/s in each round (e.g. the best thread count)."""
    out: dict[int, Figures] = {}
    for f in found:
        if f.round not in out or (f.msg_rate or 0) > (out[f.round].msg_rate or 0):
            out[f.round] = f
    return out


def paired(
    a: dict[int, Figures], b: dict[int, Figures], value_a: Value, value_b: Value | None = None
) -> list[float]:
    """value_a(a[r]) / value_b(b[r]) for each round r both ran in."""
    value_b = value_b or value_a
    out = []
    for r in sorted(set(a) & set(b)):
        x, y = value_a(a[r]), value_b(b[r])
        if x is not None and y:
            out.append(x / y)
    return out


def goal_row(name: str, workload: str, ratios: list[float], target: float, detail: str
             ) -> dict[str, Any]:  # fmt: skip
    """A judged goal (or "not measured" when no round had both figures)."""
    v = judge(ratios, target)
    if v is None:
        return unmeasured(name, workload, f"no round with both figures ({detail})")
    return _row(name, workload, v.ratio, target, v.verdict, v.met, detail)


def unmeasured(name: str, workload: str, why: str) -> dict[str, Any]:
    return {"goal": name, "workload": workload, "ratio": None, "low": None, "high": None,
            "rounds": 0, "target": None, "verdict": "not measured", "met": None,
            "detail": why}  # fmt: skip


def _row(name: str, workload: str, s: Spread, target: float, verdict: str, met: bool | None,
         detail: str) -> dict[str, Any]:  # fmt: skip
    return {"goal": name, "workload": workload, "ratio": s.median, "low": s.low,
            "high": s.high, "rounds": s.n, "target": target, "verdict": verdict, "met": met,
            "detail": detail}  # fmt: skip


def _median(found: dict[int, Figures], value: Value) -> str:
    xs = sorted(v for f in found.values() if (v := value(f)) is not None)
    return (
        "–" if not xs else f"{xs[len(xs) // 2]:,.1f}" if xs[0] < 100 else f"{xs[len(xs) // 2]:,.0f}"
    )


def _no_numbers(result: Any, workload: str, kind: str) -> str:
    for f in result.runs:
        if f.workload == workload and f.kind == kind and not f.has_numbers:
            return (f.error or "no messages")[-160:]
    for s in result.skipped:
        if s["contender"].startswith(kind):
            return s["reason"]
    return "not run"


def _rate(f: Figures) -> float | None:
    return f.msg_rate


def _cpu(f: Figures) -> float | None:
    return f.cpu_s_per_m


def _p99_from_send(f: Figures) -> float | None:
    return f.from_send_p99_ms


def evaluate_goals(result: Any) -> list[dict[str, Any]]:
    """Every goal of a ``BenchResult``, per workload, judged over its rounds."""
    goals: list[dict[str, Any]] = []
    for wd in result.workloads:
        w, role = wd["name"], _role(wd)
        native = best_per_round(rows(result.runs, w, kind="native", build=FREE_THREADED))
        perf = best_per_round(rows(result.runs, w, kind="pulsar-perf"))
        if role == "produce":
            goals += _producer_goals(result, w, native, perf)
        elif role == "drain":
            one = best_per_round(rows(result.runs, w, kind="native", build=FREE_THREADED,
                                      threads=1))  # fmt: skip
            if not (one and perf):
                goals.append(unmeasured("drain: native msg/s >= pulsar-perf", w,
                                        _no_numbers(result, w, "pulsar-perf" if one else "native")))  # fmt: skip
                continue
            goals.append(goal_row(
                "drain: native msg/s >= pulsar-perf", w, paired(one, perf, _rate), 1.0,
                f"{_median(one, _rate)} vs {_median(perf, _rate)} msg/s (medians), 1 consumer",
            ))  # fmt: skip
            goals.append(goal_row(
                "drain: native CPU per message <= pulsar-perf", w, paired(perf, one, _cpu), 1.0,
                f"{_median(one, _cpu)} vs {_median(perf, _cpu)} CPU s per M msgs "
                "(ratio = pulsar-perf / native)",
            ))  # fmt: skip
        elif role == "latency":
            one = best_per_round(rows(result.runs, w, kind="native", build=FREE_THREADED,
                                      threads=1))  # fmt: skip
            if not (one and perf):
                continue
            goals.append(goal_row(
                "publish p99 from the actual send <= pulsar-perf's", w,
                paired(perf, one, _p99_from_send), 1.0,
                f"{_median(one, _p99_from_send)} vs {_median(perf, _p99_from_send)} ms "
                "(medians; ratio = pulsar-perf / native)",
            ))  # fmt: skip
        elif role == "dashboard":
            arms = rows(result.runs, w)
            dash = best_per_round([f for f in arms if f.contender.endswith("-dashboard")])
            headless = best_per_round([f for f in arms if not f.contender.endswith("-dashboard")])
            goals.append(goal_row(
                "dashboard on vs headless: <= 10 % throughput lost", w,
                paired(dash, headless, _rate), 0.9,
                f"{_median(dash, _rate)} vs {_median(headless, _rate)} msg/s "
                "(ratio = dashboard / headless)",
            ))  # fmt: skip
    goals += _micro_goals(result)
    return goals


def _role(wd: dict[str, Any]) -> str:
    known = {k: v for k, v in wd.items() if k in Workload.__dataclass_fields__}
    return Workload(**known).role


def _producer_goals(
    result: Any, w: str, native: dict[int, Figures], perf: dict[int, Figures]
) -> list[dict[str, Any]]:
    out = []
    official = best_per_round(rows(result.runs, w, kind="official")) or best_per_round(
        rows(result.runs, w, kind="official-direct")
    )
    if native and perf:
        out.append(goal_row(
            "native msg/s >= pulsar-perf msg/s", w, paired(native, perf, _rate), 1.0,
            f"best native thread count {_median(native, _rate)} vs {_median(perf, _rate)} "
            "msg/s (medians)",
        ))  # fmt: skip
        out.append(goal_row(
            "native CPU per message <= pulsar-perf", w, paired(perf, native, _cpu), 1.0,
            f"{_median(native, _cpu)} vs {_median(perf, _cpu)} CPU s per M msgs "
            "(ratio = pulsar-perf / native)",
        ))  # fmt: skip
    for other, name, kind in ((perf, "pulsar-perf", "pulsar-perf"),
                              (official, "the official client", "official")):  # fmt: skip
        if not other:
            out.append(unmeasured(f"native vs {name}", w,
                                  f"not measured: {name} produced no numbers "
                                  f"({_no_numbers(result, w, kind)})"))  # fmt: skip
    if native and official:
        direct = any(f.kind == "official-direct" for f in official.values())
        via = " (official client via the direct script)" if direct else ""
        out.append(goal_row(
            "native msg/s >= 3 x official client", w, paired(native, official, _rate), 3.0,
            f"{_median(native, _rate)} vs {_median(official, _rate)} msg/s (medians){via}",
        ))  # fmt: skip
    return out


def efficiency(entry: dict[str, Any]) -> float | None:
    """Throughput per CPU-second with 2 threads over that with 1: below 1 means the threads
    cost each other CPU (contention), whatever the machine's other load."""
    one, two = entry.get("runs", {}).get("1", {}), entry.get("runs", {}).get("2", {})
    a, b = one.get("msg_per_cpu_s"), two.get("msg_per_cpu_s")
    return b / a if a and b else None


def _micro_goals(result: Any) -> list[dict[str, Any]]:
    """The 2-thread speed-up on 3.13t: the micro-benchmarks' own median of paired rounds and
    its range, judged as every other goal."""
    out = []
    ft = result.micro.get("free_threaded", {})
    for name, entry in ft.get("benchmarks", {}).items():
        if name in ("control", "shared_constants") or "speedup_2v1" not in entry:
            continue
        detail = entry["title"]
        two = entry["runs"].get("2", {})
        eff = efficiency(entry)
        if two.get("cpu_per_wall") is not None and two["cpu_per_wall"] < 1.6:
            detail += f"; the 2 threads got {two['cpu_per_wall']:.2f} CPUs, not 2 (other load)"
        if eff is not None:
            detail += f"; per-CPU efficiency {eff:.2f}"
        median = float(entry["speedup_2v1"])
        low, high = entry.get("speedup_2v1_range") or [median, median]
        n = int(ft.get("rounds", 1)) if "speedup_2v1_range" in entry else 1
        v = judge_spread(Spread(median, float(low), float(high), n), 1.8)
        out.append(_row("micro: 2 threads >= 1.8 x 1 thread (3.13t)", name, v.ratio, 1.8,
                        v.verdict, v.met, detail))  # fmt: skip
    return out
