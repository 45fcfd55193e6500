"""Engines' socket byte totals: the native engine sums its clients, closed ones included."""

from __future__ import annotations

from pulsarload.config import ProduceSettings
from pulsarload.engines.base import NetBytes, engine_net_bytes
from pulsarload.engines.native import NativeEngine


class ScriptedClient:
    def __init__(self, bytes_in: int, bytes_out: int, connections: int = 1) -> None:
        self.counts = (bytes_in, bytes_out)
        self.conns = [object()] * connections
        self.io_done = False

    def byte_counts(self) -> tuple[int, int]:
        return self.counts

    def connections(self) -> list[object]:
        return [] if self.io_done else self.conns


def test_native_engine_sums_live_and_closed_clients() -> None:
    engine = NativeEngine(ProduceSettings())
    assert engine.net_bytes() == NetBytes(0, 0, 0)
    a, b = ScriptedClient(100, 1000), ScriptedClient(5, 50, connections=2)
    engine._track(a)  # type: ignore[arg-type]
    engine._track(b)  # type: ignore[arg-type]
    assert engine_net_bytes(engine) == NetBytes(105, 1050, 3)
    a.counts = (120, 1500)
    a.io_done = True  # closed for good: folded in, then forgotten
    assert engine.net_bytes() == NetBytes(125, 1550, 2)
    a.counts = (0, 0)  # no longer read
    assert engine.net_bytes() == NetBytes(125, 1550, 2)
    assert engine._clients == [b]


def test_an_engine_without_counters_reports_none() -> None:
    class Plain:
        name = "plain"

    assert engine_net_bytes(Plain()) is None
