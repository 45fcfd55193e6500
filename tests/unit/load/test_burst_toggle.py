"""A burst shows the time it has left and can be ended early (`b` again, or the web button)."""

from __future__ import annotations

from test_pool import FakeEngine

from pulsarload.config import ProduceSettings
from pulsarload.load import controls as cmd
from pulsarload.load.controller import LoadController


def test_end_burst_restores_the_rate_at_once() -> None:
    c = LoadController("producer", ProduceSettings(rate=1000.0, threads=2), engine=FakeEngine())
    c.start()
    try:
        c.apply(cmd.Burst(4, 60))
        assert c.pool.bursting and 59 < c.pool.burst_left <= 60
        assert [w.rate for w in c.pool.workers()] == [2000.0, 2000.0]
        assert c.apply(cmd.EndBurst()) == "burst ended early"
        assert not c.pool.bursting and c.pool.burst_left == 0
        assert c.pool.target_rate == 1000 and [w.rate for w in c.pool.workers()] == [500.0] * 2
        assert c.apply(cmd.EndBurst()) == "no burst was running"
        assert cmd.command_from_dict(cmd.EndBurst().to_dict()) == cmd.EndBurst()
    finally:
        c.stop()
