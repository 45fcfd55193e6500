"""The headless status line says when its numbers are warm-up (discarded from the summary)."""

from __future__ import annotations

from types import SimpleNamespace

from pulsarload.load.headless import status_line
from pulsarload.metrics.resources import ResourceStats
from pulsarload.metrics.sampler import Sampler
from pulsarload.metrics.snapshot import Snapshot


class NullResources:
    def sample(self, threads: object = ()) -> ResourceStats:
        return ResourceStats(rss_bytes=4096, gil_enabled=False, free_threaded_build=True)


def one_tick() -> Snapshot:
    s = Sampler(resources=NullResources(), grace=0, labels={"role": "producer"})  # type: ignore[arg-type]
    slot = s.new_slot("w0")
    for v in range(1, 101):
        slot.active.record_send_batch(1, 64)
        slot.active.record_ack(v * 40)
    return s.tick()


def test_warm_up_lines_are_marked_and_measured_lines_are_not() -> None:
    snap = one_tick()
    warming = SimpleNamespace(pool=None, in_warmup=lambda s: True)
    measuring = SimpleNamespace(pool=None, in_warmup=lambda s: False)
    assert "WARM-UP (not measured)" in status_line("producer", [snap], warming)  # type: ignore[arg-type]
    assert "WARM-UP" not in status_line("producer", [snap], measuring)  # type: ignore[arg-type]


def test_snapshots_up_to_the_reset_count_as_warm_up() -> None:
    from pulsarload.config import ProduceSettings
    from pulsarload.load.controller import LoadController

    controller = LoadController("producer", ProduceSettings(warmup_s=2.0))
    snap = one_tick()
    assert controller.in_warmup(snap)  # still warming up
    resets: list[bool] = []
    assert not controller.warmup.end_if_due(1.9, snap, lambda: resets.append(True))
    assert controller.in_warmup(snap) and not resets
    assert controller.warmup.end_if_due(2.0, snap, lambda: resets.append(True))
    assert resets == [True] and not controller.warming_up
    assert controller.in_warmup(snap)  # taken before the reset, printed after it
    later = one_tick()
    object.__setattr__(later, "seq", snap.seq + 1)
    assert not controller.in_warmup(later)


def test_the_hint_fits_the_failure() -> None:
    from pulsarload.load.headless import failure_hint

    consumer = SimpleNamespace(settings=SimpleNamespace(subscription="s1"))
    busy = failure_hint("ConsumerBusy: Subscription is of different type", consumer)  # type: ignore[arg-type]
    assert "subscription 's1' is held by another consumer" in busy
    assert "-u/--service-url" not in busy  # "connecting consumer's type" is no connect failure
    for failure in ("cannot connect to h:1: Connection refused", "Pulsar error: TimeOut"):
        assert "-u/--service-url" in failure_hint(failure, consumer)  # type: ignore[arg-type]
    assert "topic name" in failure_hint("TopicNotFound: Namespace not found", consumer)  # type: ignore[arg-type]
    assert failure_hint("key mode 'set' needs at least one key", consumer) == ""  # type: ignore[arg-type]


def test_the_consumer_summary_counts_what_a_consumer_does() -> None:
    from pulsarload.load.headless import summary_lines
    from pulsarload.load.results import RunResult, summary_figures

    s = Sampler(resources=NullResources(), grace=0, labels={"role": "consumer"})  # type: ignore[arg-type]
    slot = s.new_slot("w0")
    for _ in range(7):
        slot.active.record_receive(64, 1000)
    for _ in range(5):
        slot.active.record_consumer_ack(20)  # one processing latency per acknowledged message
    snap = s.tick()
    lines = summary_lines(RunResult("consumer", snap, summary_figures(snap, "consumer")))
    assert lines[1].startswith("received 7  acked 5  nacked 0"), lines[1]
    assert "sent" not in lines[1]


def test_a_producer_summary_explains_more_acks_than_sends() -> None:
    from pulsarload.load.headless import summary_lines
    from pulsarload.load.results import RunResult, summary_figures

    def summary(sends: int, acks: int) -> str:
        s = Sampler(resources=NullResources(), grace=0, labels={"role": "producer"})  # type: ignore[arg-type]
        slot = s.new_slot("w0")
        slot.active.record_send_batch(sends, 64 * sends)
        for _ in range(acks):
            slot.active.record_ack(40)
        snap = s.tick()
        return summary_lines(RunResult("producer", snap, summary_figures(snap, "producer")))[1]

    assert "before the warm-up ended" in summary(100, 104)  # acks of warm-up sends counted
    assert "before the warm-up ended" not in summary(100, 100)
