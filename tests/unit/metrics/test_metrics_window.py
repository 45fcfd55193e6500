"""Rolling windows: fine and coarse rings, exact coarse percentiles, heatmap columns."""

from __future__ import annotations

import pytest

from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.resources import ResourceStats
from pulsarload.metrics.sampler import Sampler
from pulsarload.metrics.snapshot import Snapshot
from pulsarload.metrics.window import DEFAULT_HEATMAP_EDGES, MetricsWindow


class NullResources:
    def sample(self, threads: object = ()) -> ResourceStats:
        return ResourceStats()


def fake_interval(snap: Snapshot, interval: float, elapsed: float) -> Snapshot:
    """Same data with a chosen span, so the test controls time without sleeping."""
    import dataclasses

    return dataclasses.replace(snap, interval=interval, elapsed=elapsed, time=1000.0 + elapsed)


def make_snaps(n: int) -> list[Snapshot]:
    s = Sampler(resources=NullResources(), grace=0)  # type: ignore[arg-type]
    slot = s.new_slot("w")
    out = []
    for k in range(n):
        for v in range(100):
            slot.active.record_ack(100 + k * 1000 + v)
        slot.active.record_send_batch(10, 1000)
        out.append(fake_interval(s.tick(), 0.1, 0.1 * (k + 1)))
    return out


def test_fine_ring_keeps_last_points_and_rates() -> None:
    w = MetricsWindow(fine_points=5)
    for snap in make_snaps(8):
        w.add(snap)
    pts = w.points()
    assert len(pts) == 5
    t, rates = w.rate_series("acked")
    assert t == pytest.approx([0.4, 0.5, 0.6, 0.7, 0.8])
    assert rates == pytest.approx([1000.0] * 5)
    _, sent = w.rate_series("sent")
    assert sent == pytest.approx([100.0] * 5)


def test_coarse_points_use_merged_histograms() -> None:
    snaps = make_snaps(20)
    w = MetricsWindow(coarse_step=1.0)
    for snap in snaps:
        w.add(snap)
    coarse = w.points(coarse=True)
    assert len(coarse) == 2
    merged = Histogram()
    for snap in snaps[:10]:
        merged.add(snap.histograms["publish_latency"])
    assert coarse[0].latency["publish_latency"]["p99"] == merged.value_at_percentile(99)
    assert coarse[0].rates["acked"] == pytest.approx(1000.0)
    _, p99 = w.latency_series("publish_latency", "p99", coarse=True)
    assert p99[0] == merged.value_at_percentile(99)


def test_heatmap_columns_count_every_value() -> None:
    w = MetricsWindow()
    snaps = make_snaps(3)
    for snap in snaps:
        w.add(snap)
    times, edges, cols = w.heatmap("publish_latency")
    assert edges == DEFAULT_HEATMAP_EDGES
    assert len(times) == len(cols) == 3
    assert all(len(c) == len(edges) + 1 for c in cols)
    assert [sum(c) for c in cols] == [100, 100, 100]
    # interval 2 holds values 2100..2199: all in the (2048, 4096] row
    assert cols[2][edges.index(4096)] == 100


def test_bad_names_are_rejected_and_clear_empties() -> None:
    w = MetricsWindow()
    with pytest.raises(ValueError):
        w.rate_series("nope")
    with pytest.raises(ValueError):
        w.latency_series("publish_latency", "p42")
    with pytest.raises(ValueError):
        w.heatmap("send_delay")
    with pytest.raises(ValueError):
        MetricsWindow(kinds=("bogus",))
    w.add(make_snaps(1)[0])
    w.clear()
    assert w.points() == [] and w.points(coarse=True) == []
