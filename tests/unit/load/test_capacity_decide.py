"""The "not decidable under this load" verdict: repeats of a deciding step further apart than
the resolution, a deciding step that passed and failed on a busy machine, a client-bound limit."""

from __future__ import annotations

import dataclasses

from pulsarload.config import CapacitySettings
from pulsarload.load.capacity.decide import decide, repeat_spread
from pulsarload.load.capacity.search import Outcome
from pulsarload.load.capacity.step import StepResult

BUSY = CapacitySettings().busy_load_per_cpu  # 1.5 per CPU: 3 on 2 CPUs
OUTCOME = Outcome(capacity=1000.0, passing=1000.0, failing=1050.0, ended="found", confidence="high")


def step(target: float, achieved: float, passed: bool, p99: float = 10.0, **kw) -> StepResult:
    return StepResult(
        index=1, phase="confirm", target=target, achieved=achieved, sent_rate=achieved,
        p50_ms=1.0, p95_ms=5.0, p99_ms=p99, p999_ms=p99, max_ms=p99, send_delay_p99_ms=1.0,
        errors=0, error_rate=0.0, client_cpu_percent=20.0, worker_cpu_max_percent=10.0,
        pending_fill=0.0, window_s=10.0, started_at=0.0, measured_from=0.0, ended_at=0.0,
        passed=passed, **kw,
    )  # fmt: skip


STEADY = [
    step(1000, 1000, True),
    step(1000, 990, True),
    step(1050, 980, False, bound="broker"),
    step(1050, 985, False, bound="broker"),
]


def test_steady_repeats_on_an_idle_machine_decide() -> None:
    d = decide(STEADY, OUTCOME, 0.05, [0.5, 0.8], 2, STEADY[-1], BUSY)
    assert d.ok and d.reasons == ()
    assert d.spread["1000"]["achieved"] == 0.01 and d.spread["1050"]["runs"] == 2


def test_repeats_further_apart_than_the_resolution_are_not_decidable() -> None:
    wobbly = [*STEADY[:1], step(1000, 880, True), *STEADY[2:]]
    d = decide(wobbly, OUTCOME, 0.05, [9.0], 2, wobbly[-1], BUSY)
    assert not d.ok
    assert "passing step (1,000 msg/s) reached rates 12% of the target apart" in d.reasons[0]
    assert "load average up to 9.0 on 2 CPU(s)" in d.reasons[0]


def test_a_flipping_deciding_step_is_undecidable_only_on_a_busy_machine() -> None:
    flipped = [*STEADY, step(1050, 1040, True)]
    assert decide(
        flipped, OUTCOME, 0.1, [2.5], 2, STEADY[-1], BUSY
    ).ok  # not busy: the majority decides
    busy = decide(flipped, OUTCOME, 0.1, [1.0, 6.5], 2, STEADY[-1], BUSY)
    assert not busy.ok and "both passed and failed while the machine was busy" in busy.reasons[0]


def test_a_client_bound_limit_is_not_the_broker_capacity() -> None:
    client = dataclasses.replace(
        STEADY[-1], bound="client", bound_why="the client is saturated: busiest thread 99%"
    )
    d = decide([*STEADY[:3], client], OUTCOME, 0.05, [0.5], 2, client, BUSY)
    assert not d.ok and "the client, not the broker, is the limit" in d.reasons[0]
    assert "busiest thread 99%" in d.reasons[0]


def test_one_run_has_no_spread() -> None:
    assert repeat_spread(STEADY, 999.0) is None
