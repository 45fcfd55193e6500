"""Who runs in each table of the suite: the contenders of a plan, and those skipped, with why.

Producers: the native engine on 3.13t, on 3.13t with ``PYTHON_GIL=1`` and on the GIL build at
the plan's thread counts, the official client and pulsar-perf. Pairs, drains and latency rows
draw from the same line-up, so a contender missing here is missing everywhere, said once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pulsarload.bench.interpreters import ft_python, gil_python, interpreter_facts
from pulsarload.bench.model import FREE_THREADED, FREE_THREADED_GIL, GIL_BUILD, Contender
from pulsarload.bench.pair import ConsumerSide

if TYPE_CHECKING:
    from pulsarload.bench.suite import Plan


def contenders_for(plan: Plan) -> tuple[list[Contender], list[dict[str, str]]]:
    """The producer contenders of ``plan`` and those skipped here, with why."""
    ft, gil = ft_python(), gil_python()
    wanted = [Contender(f"native-ft-t{t}", "native", FREE_THREADED, t, ft) for t in plan.threads]
    wanted += [Contender(f"native-ftgil-t{t}", "native", FREE_THREADED_GIL, t, ft)
               for t in plan.ft_gil_threads]  # fmt: skip
    wanted += [Contender(f"native-gil-t{t}", "native", GIL_BUILD, t, gil) for t in plan.gil_threads]
    wanted += [
        Contender("official", "official", GIL_BUILD, 1, gil),
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


def variants(plan: Plan, runnable: list[Contender]) -> dict[str, list[Contender]]:
    ft = next((c for c in runnable if c.build == FREE_THREADED), None)
    out: dict[str, list[Contender]] = {}
    if ft is None:
        return out
    for workload, threads, args, note in plan.variants:
        key = f"native-ft-t{threads}-variant{len(out.get(workload, [])) + 1}"
        c = Contender(key, "native", FREE_THREADED, threads, ft.python, args, note)
        out.setdefault(workload, []).append(c)
    return out


def pair_contenders(
    runnable: list[Contender], consumer_problem: str | None
) -> list[tuple[Contender, ConsumerSide]]:
    """Producer+consumer pairs: each tool consumes what it produced (the native one on each
    build when the native consumer works, else the official consumer, and the table says so)."""
    by_key = {c.key: c for c in runnable}
    pairs: list[tuple[Contender, ConsumerSide]] = []
    official = by_key.get("official")
    for key in ("native-ft-t1", "native-ftgil-t1", "native-gil-t1"):
        c = by_key.get(key)
        if c is None:
            continue
        if consumer_problem is None:
            side = ConsumerSide("native", c.python, c.label, c.build)
        elif official is not None:
            side = ConsumerSide("official", official.python, "official (native not usable)",
                                GIL_BUILD)  # fmt: skip
        else:
            continue
        pairs.append((c, side))
    if official is not None:
        side = ConsumerSide("official", official.python, "official client (C++)", GIL_BUILD)
        pairs.append((official, side))
    if "pulsar-perf" in by_key:
        pairs.append((by_key["pulsar-perf"], ConsumerSide("pulsar-perf", None, "pulsar-perf")))
    return pairs


def drain_contenders(plan: Plan, runnable: list[Contender]) -> list[Contender]:
    """Who reads the filled topic: each native build at each consumer count, the official
    client and pulsar-perf with one consumer each."""
    out = []
    builds = {c.build: c.python for c in runnable if c.kind == "native"}
    names = {FREE_THREADED: "ft", FREE_THREADED_GIL: "ftgil", GIL_BUILD: "gil"}
    for build, short in names.items():
        if build in builds:
            out += [Contender(f"native-{short}-t{t}", "native", build, t, builds[build])
                    for t in plan.drain_threads]  # fmt: skip
    out += [c for c in runnable if c.kind in ("official", "pulsar-perf")]
    return out


def latency_contenders(runnable: list[Contender]) -> list[Contender]:
    """One thread of each native build, the official client and pulsar-perf."""
    keys = ("native-ft-t1", "native-ftgil-t1", "native-gil-t1", "official", "pulsar-perf")
    return [c for c in runnable if c.key in keys]
