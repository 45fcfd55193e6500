"""Whether a search's answer can be trusted under the load it ran in, or is "not decidable".

A search brackets the capacity to its resolution only if a step at one rate gives the same
verdict each time. On a busy machine it does not: the repeats of a deciding step reach rates
further apart than the resolution, or pass and fail at the same rate while other processes
take the CPUs; and a failing step bound by the client measures the load generator, not the
broker. Rather than print a figure that a second search would not repeat, the report says
which of these happened, with the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pulsarload.load.capacity.search import Outcome
from pulsarload.load.capacity.step import StepResult


@dataclass(frozen=True, slots=True)
class Decidability:
    """`ok` False: the figure holds for this run only; `reasons` say why, `spread` per
    boundary rate how far its repeats were apart (achieved rate, p99, over the target/max)."""

    ok: bool
    reasons: tuple[str, ...] = ()
    spread: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reasons": list(self.reasons), "spread": dict(self.spread)}


def repeat_spread(steps: Sequence[StepResult], rate: float) -> dict[str, float] | None:
    """How far the runs at one rate were apart: achieved rate (fraction of the target) and p99
    (fraction of the largest); None with fewer than two runs."""
    runs = [s for s in steps if s.target == rate]
    if len(runs) < 2:
        return None
    achieved = [s.achieved for s in runs]
    p99 = [s.p99_ms for s in runs]
    return {
        "runs": float(len(runs)),
        "achieved": (max(achieved) - min(achieved)) / rate if rate else 0.0,
        "p99": (max(p99) - min(p99)) / max(p99) if max(p99) else 0.0,
    }


def decide(
    steps: Sequence[StepResult],
    outcome: Outcome,
    resolution: float,
    load: Sequence[float],
    cpus: int,
    limiting: StepResult | None,
    busy_per_cpu: float,
) -> Decidability:
    """The verdict on the answer (see the module docstring). `load`: 1-minute load averages
    seen during the search; `limiting`: the step that says what limits the rate; a load above
    `busy_per_cpu` x `cpus` is a busy machine."""
    reasons: list[str] = []
    spread: dict[str, dict[str, float]] = {}
    busy = max(load, default=0.0) > busy_per_cpu * cpus
    load_text = f"load average up to {max(load, default=0.0):.1f} on {cpus} CPU(s)"
    for name, rate in (("passing", outcome.passing), ("failing", outcome.failing)):
        if rate is None:
            continue
        s = repeat_spread(steps, rate)
        if s is None:
            continue
        spread[f"{rate:.0f}"] = s
        if s["achieved"] > resolution:
            reasons.append(
                f"the repeats of the {name} step ({rate:,.0f} msg/s) reached rates "
                f"{s['achieved']:.0%} of the target apart, more than the resolution "
                f"{resolution:.0%}" + (f" ({load_text})" if busy else "")
            )
        votes = {x.passed for x in steps if x.target == rate}
        if len(votes) > 1 and busy:
            reasons.append(
                f"the {name} step ({rate:,.0f} msg/s) both passed and failed while the machine "
                f"was busy ({load_text})"
            )
    if limiting is not None and limiting.bound == "client":
        reasons.append(
            "the client, not the broker, is the limit at the failing rate ("
            + limiting.bound_why.split(": ", 1)[-1]
            + "): add producer threads, or shards with --cluster, to measure the broker"
        )
    return Decidability(ok=not reasons, reasons=tuple(reasons), spread=spread)
