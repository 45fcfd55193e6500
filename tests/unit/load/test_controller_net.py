"""The controller feeds an engine's socket byte totals to the resource figures and exports."""

from __future__ import annotations

from collections.abc import Callable

from test_pool import FakeEngine

from pulsarload.config import ProduceSettings
from pulsarload.engines.base import NetBytes
from pulsarload.load.controller import LoadController
from pulsarload.metrics.export import read_csv
from pulsarload.metrics.prometheus import prometheus_text
from pulsarload.metrics.snapshot import Snapshot
from support.waiting import eventually


class CountingEngine(FakeEngine):
    """Says every acked message moved 100 bytes out and 10 in, over 2 connections."""

    def net_bytes(self) -> NetBytes:
        return NetBytes(10 * self.stored, 100 * self.stored, 2)


def _run(engine: FakeEngine, tmp_path, ready: Callable[[Snapshot], bool]) -> tuple:
    """Run until a snapshot after the first acks is `ready`; then stop."""
    settings = ProduceSettings(rate=2000.0, threads=1, export_dir=str(tmp_path))
    c = LoadController("producer", settings, engine=engine, sample_interval=0.05)
    c.start()

    def acked_and_ready() -> bool:
        snap = c.sampler.latest
        return snap is not None and snap.seq >= 3 and snap.total.acked > 0 and ready(snap)

    try:
        eventually(acked_and_ready, what="acks in the snapshots")
        live = c.sampler.latest
        prom = prometheus_text(lambda: c.sampler.latest)
    finally:
        result = c.stop()
    rows = read_csv(tmp_path / "producer-series.csv")
    return live, prom, result, rows


def test_engine_bytes_reach_the_snapshot_and_every_export(tmp_path) -> None:
    engine = CountingEngine()
    live, prom, result, rows = _run(engine, tmp_path, lambda s: s.resources.net_bytes_out > 0)
    res = live.resources
    assert res.net_bytes_out > 0 and res.net_bytes_out == 10 * res.net_bytes_in
    assert res.connections == 2
    assert any(r["net_out_per_s"] > 0 for r in rows)
    assert "pulsarload_network_sent_bytes_total" in prom
    sent = [
        float(line.split()[-1])
        for line in prom.splitlines()
        if line.startswith("pulsarload_network_sent_bytes_total")
    ]
    assert sent and sent[0] > 0
    assert result.final.resources.net_bytes_out == 100 * engine.stored


def test_an_engine_without_counters_shows_zero(tmp_path) -> None:
    live, _prom, _result, rows = _run(FakeEngine(), tmp_path, lambda s: True)
    assert live.resources.net_bytes_out == live.resources.net_bytes_in == 0
    assert all(r["net_out_per_s"] == 0 for r in rows)
