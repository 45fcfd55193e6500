"""The latency panel keeps a p95 trend like the other percentiles (the rolling window records
p95 per point)."""

from __future__ import annotations

import asyncio

from pulsarload.ui.fixed import FixedController, fixed_app
from pulsarload.ui.widgets import LatencyPanel

SPARK = set("▁▂▃▄▅▆▇█")


def test_the_window_keeps_p95_between_p90_and_p99() -> None:
    c = FixedController("producer")
    points = c.window.points()
    assert points
    for p in points:
        lat = p.latency["publish_latency"]
        if lat["max"]:
            assert lat["p90"] <= lat["p95"] <= lat["p99"]
    _elapsed, values = c.window.latency_series("publish_latency", "p95")
    assert any(values)


def test_the_p95_row_has_a_trend_line() -> None:
    c = FixedController("producer")

    async def main() -> None:
        app = fixed_app("producer", c)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            panel = app.dashboard.query_one(LatencyPanel)
            lines = panel.build(panel.region.width - 2, 8)
            rows = {"".join(s.text for s in line).split()[0]: line for line in lines[1:6]}
            for name in ("p50", "p95", "p99"):
                trend = "".join(s.text for s in rows[name])[24:]
                assert SPARK & set(trend), f"{name} row has no trend: {trend!r}"

    asyncio.run(main())
