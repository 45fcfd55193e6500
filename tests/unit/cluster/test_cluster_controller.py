"""The coordinator's logic with scripted shards (no Dask, no broker): the rate is split over
the live shards, a lost shard is noticed and the rest carry on (or the run aborts), and the
merged totals are the shards' sums. The real thing runs in tests/integration/test_cluster.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pulsarload.cluster.cluster_pool import ClusterPool
from pulsarload.cluster.controller import ClusterController
from pulsarload.cluster.handles import ShardHandle
from pulsarload.cluster.shard import merge_intervals
from pulsarload.config import ProduceSettings, resolve_settings
from pulsarload.load import controls as cmd
from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.snapshot import Counters, LatencyStats, Snapshot


class Done:
    """An answered call, as a Dask ActorFuture looks once it is done."""

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error

    def done(self) -> bool:
        return True

    def result(self, timeout: float | None = None) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class FakeFuture:
    status = "finished"

    def release(self) -> None:
        self.status = "released"


class ScriptedShard:
    """Answers like a Shard actor; `acks` per poll; `dead` makes every call fail."""

    def __init__(self, acks: int) -> None:
        self.acks = acks
        self.dead = False
        self.applied: list[dict[str, Any]] = []

    def _answer(self, value: Any) -> Done:
        return Done(error=OSError("Unable to contact Actor's worker")) if self.dead else Done(value)

    def poll(self) -> Done:
        h = Histogram()
        for v in range(1, self.acks + 1):
            h.record(v * 10)
        snap = Snapshot(
            seq=1,
            time=0.0,
            elapsed=0.5,
            interval=0.5,
            counters=Counters(sent=self.acks, acked=self.acks),
            rates={},
            latency={},
            total=Counters(),
            total_latency={},
            histograms={"publish_latency": h},
        )
        report = {**merge_intervals([snap]), "epoch": 0, "threads": 1, "time": 0.0}
        return self._answer(json.dumps(report).encode())

    def apply(self, command: dict[str, Any], epoch: int) -> Done:
        self.applied.append(command)
        return self._answer("ok")

    def readiness(self) -> Done:
        return self._answer({"connecting": 0, "threads": 1, "failures": []})


def controller(n: int, **flags: Any) -> tuple[ClusterController, list[ScriptedShard]]:
    settings = resolve_settings(
        ProduceSettings, {"cluster": "local", "workers": n, "rate": 900.0, **flags}, environ={}
    )
    c = ClusterController("producer", settings)
    scripted = []
    for i in range(n):
        h = ShardHandle(i, f"tcp://127.0.0.1:{9000 + i}", "host", {"pulsarload": "x"})
        h.actor = ScriptedShard(acks=10 * (i + 1))
        h.future = FakeFuture()
        h.state = "running"
        c.shards.append(h)
        scripted.append(h.actor)
    c.pool = ClusterPool(c, settings.rate)
    c.sampler.start()
    return c, scripted


def rates(shard: ScriptedShard) -> list[float]:
    return [a["rate"] for a in shard.applied if a["kind"] == "set_rate"]


def test_a_rate_is_split_over_the_live_shards_and_again_after_a_loss() -> None:
    c, shards = controller(3)
    c.apply(cmd.SetRate(900.0))
    assert [rates(s) for s in shards] == [[300.0]] * 3
    shards[1].dead = True
    c.collect_round(wait_s=0)
    assert c.shards[1].state == "lost" and c.shards[1].future.status == "released"
    assert any("LOST shard 1" in e for e in c.events)
    assert rates(shards[0])[-1] == rates(shards[2])[-1] == 450.0  # the total target is kept
    assert c.pool.base_rate == 900.0 and not c.done()
    snap = c.sampler.latest
    assert [s.state for s in snap.shards] == ["running", "lost", "running"]


def test_commands_reach_every_live_shard() -> None:
    c, shards = controller(2)
    c.apply(cmd.Pause())
    c.apply(cmd.Burst(2.0, 5.0))
    c.apply(cmd.Resume())
    for s in shards:
        assert [a["kind"] for a in s.applied] == ["pause", "burst", "resume"]
    assert c.pool.bursting and c.pool.target_rate == 1800.0
    c.apply(cmd.ResetMetrics())
    assert all(s.applied[-1]["kind"] == "reset_metrics" for s in shards)


def test_merged_totals_are_the_sum_of_the_shards() -> None:
    c, shards = controller(3)
    for _ in range(3):
        c.collect_round(wait_s=0)
    snap = c.sampler.latest
    assert snap.total.acked == 3 * (10 + 20 + 30) == sum(s.done for s in snap.shards)
    union = Histogram()
    for s in shards:
        for v in range(1, s.acks + 1):
            for _ in range(3):
                union.record(v * 10)
    assert snap.total_histograms["publish_latency"] == union
    assert snap.total_latency["publish_latency"] == LatencyStats.from_histogram(union)


def test_a_loss_under_abort_ends_the_run() -> None:
    c, shards = controller(2, on_worker_loss="abort")
    shards[0].dead = True
    c.collect_round(wait_s=0)
    assert c.done() and c.abort_reason and "shard 0" in c.abort_reason
    assert rates(shards[1]) == []  # no re-split: the run stops


@pytest.mark.parametrize("n", [1, 4])
def test_every_shard_lost_ends_the_run(n: int) -> None:
    c, shards = controller(n)
    for s in shards:
        s.dead = True
    c.collect_round(wait_s=0)
    assert c.done() and not c.live_shards()


class BusyHandOver(Done):
    """An answered poll whose result the busy Dask event loop does not hand over in time
    (a done ActorFuture's `result` still goes through the loop) for the first `slow` tries."""

    def __init__(self, value: Any, slow: int) -> None:
        super().__init__(value)
        self.slow = slow

    def result(self, timeout: float | None = None) -> Any:
        if self.slow > 0:
            self.slow -= 1
            raise TimeoutError(f"timed out after {timeout} s.")
        return super().result(timeout)


def test_an_answer_held_up_by_a_busy_event_loop_is_collected_later_not_a_loss() -> None:
    c, shards = controller(2)
    answer = shards[0].poll()
    slow = BusyHandOver(answer.value, slow=2)
    polls = []
    shards[0].poll = lambda: polls.append(1) or slow  # type: ignore[method-assign]
    c.collect_round(wait_s=0)
    c.collect_round(wait_s=0)
    assert c.shards[0].state != "lost" and c.shards[0].done_total == 0
    c.collect_round(wait_s=0)
    assert len(polls) == 1  # one poll in flight, collected once, never dropped
    assert c.shards[0].state == "running" and c.shards[0].done_total == 10
    assert c.sampler.latest.total.acked == 10 + 3 * 20
