"""A consumer worker carries its client's redelivery counts by reason into its recorder: the
growth since its last look, at most every REDELIVERY_POLL_NS, and once more when it closes."""

from __future__ import annotations

from typing import Any

import pytest

from pulsarload.client import RedeliveryCounts
from pulsarload.engines.factory import redelivery_reasons_known
from pulsarload.load.consumer_worker import REDELIVERY_POLL_NS, ConsumerWorker
from pulsarload.metrics.recorder import RecorderSlot

pytestmark = pytest.mark.timeout(30)


class CountingConsumer:
    """Only what `_count_redeliveries` reads: the client's running counts."""

    def __init__(self) -> None:
        self.counts = RedeliveryCounts()

    def redelivery_counts(self) -> RedeliveryCounts:
        return self.counts


def worker() -> tuple[ConsumerWorker, RecorderSlot]:
    from pulsarload.config import ConsumeSettings

    slot = RecorderSlot("c-0", "consumer")
    w = ConsumerWorker(0, None, slot, ConsumeSettings(topic="t"))  # type: ignore[arg-type]
    return w, slot


def test_the_growth_since_the_last_look_lands_in_the_recorder(monkeypatch: Any):
    clock = [10 * REDELIVERY_POLL_NS]
    monkeypatch.setattr("pulsarload.load.consumer_worker.time.monotonic_ns", lambda: clock[0])
    w, slot = worker()
    c = CountingConsumer()
    c.counts = RedeliveryCounts(negative_ack=4, seek=1)
    w._count_redeliveries(c)  # type: ignore[arg-type]
    rec = slot.active
    assert (rec.redelivered_negative_ack, rec.redelivered_seek) == (4, 1)
    c.counts = RedeliveryCounts(negative_ack=6, seek=1, reconnect=2)
    clock[0] += REDELIVERY_POLL_NS // 2
    w._count_redeliveries(c)  # type: ignore[arg-type]
    assert rec.redelivered_negative_ack == 4  # not yet: at most one look per interval
    clock[0] += REDELIVERY_POLL_NS // 2
    w._count_redeliveries(c)  # type: ignore[arg-type]
    assert (rec.redelivered_negative_ack, rec.redelivered_reconnect) == (6, 2)
    c.counts = RedeliveryCounts(negative_ack=6, seek=1, reconnect=2, ack_timeout=3)
    w._count_redeliveries(c, now=True)  # type: ignore[arg-type]
    assert rec.redelivered_ack_timeout == 3 and rec.redelivered_negative_ack == 6


def test_a_consumer_that_does_not_say_why_records_nothing():
    w, slot = worker()

    class Official:
        def redelivery_counts(self) -> None:
            return None

    w._count_redeliveries(Official(), now=True)  # type: ignore[arg-type]
    w._count_redeliveries(object(), now=True)  # type: ignore[arg-type]
    assert slot.active.is_empty()


def test_which_engines_count_by_reason():
    assert redelivery_reasons_known("native")
    assert not redelivery_reasons_known("official")
    assert not redelivery_reasons_known("nonsense")


def consumer_snapshot(engine: str) -> Any:
    from pulsarload.metrics.resources import ResourceStats
    from pulsarload.metrics.sampler import Sampler

    class NullResources:
        def sample(self, threads: object = ()) -> ResourceStats:
            return ResourceStats()

    s = Sampler(resources=NullResources(), grace=0, labels={"role": "consumer", "engine": engine})  # type: ignore[arg-type]
    slot = s.new_slot("w0")
    slot.active.record_receive(64, 1000)
    slot.active.record_redelivered(3)
    slot.active.record_redelivery_reasons(RedeliveryCounts(negative_ack=2, ack_timeout=1))
    return s, s.tick()


@pytest.mark.parametrize("engine", ["native", "official"])
def test_the_summary_says_the_reasons_or_that_they_are_not_known(engine: str):
    from pulsarload.load.headless import summary_lines
    from pulsarload.load.results import RunResult, summary_figures

    _, snap = consumer_snapshot(engine)
    lines = summary_lines(RunResult("consumer", snap, summary_figures(snap, "consumer")))
    line = next(x for x in lines if x.startswith("redelivered by reason:"))
    if engine == "native":
        assert line.endswith("negative ack 2  ack timeout 1  reconnect 0  seek 0  requested 0"), (
            line
        )
    else:
        assert "not known (the official client does not say why" in line
        assert "negative ack" not in line


@pytest.mark.parametrize("engine", ["native", "official"])
def test_the_report_has_the_reasons_or_null(engine: str):
    from pulsarload.config import ConsumeSettings
    from pulsarload.load.controller import LoadController

    controller = LoadController("consumer", ConsumeSettings(topic="t", engine=engine))
    sampler, _ = consumer_snapshot(engine)
    controller.sampler = sampler
    meta = controller.redelivery_meta()
    assert meta["received_again"] == 3
    if engine == "native":
        assert meta["reasons_known"] is True
        assert meta["by_reason"] == {
            "negative_ack": 2,
            "ack_timeout": 1,
            "reconnect": 0,
            "seek": 0,
            "requested": 0,
        }
    else:
        assert meta == {"received_again": 3, "reasons_known": False, "by_reason": None}
