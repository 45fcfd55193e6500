"""The dashboard over a cluster run (`--cluster local --workers 2`): the merged view, the
shard table, and keys that reach every shard. Driven by Pilot, as the one-process dashboards."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from textual.pilot import Pilot

from pulsarload.config import ProduceSettings, resolve_settings
from pulsarload.load.results import RunResult
from pulsarload.ui.app import DashboardApp, app_for
from pulsarload.ui.widgets import ShardTable
from support.waiting import eventually_in_app

pytestmark = [pytest.mark.broker, pytest.mark.timeout(600)]


def test_dashboard_shows_the_merged_run_and_the_shard_table(broker: Any, topic: str) -> None:
    from pulsarload.cluster.controller import ClusterController

    settings = resolve_settings(
        ProduceSettings,
        {
            "topic": topic,
            "service_url": broker.service_url,
            "admin_url": broker.admin_url,
            "rate": 400.0,
            "cluster": "local",
            "workers": 2,
            "cluster_timeout_s": 60.0,  # a bound for a busy shared machine
        },
        environ={},
    )
    controller = ClusterController("producer", settings)
    controller.start()
    app = app_for(controller)

    def acked() -> int:
        snap = controller.sampler.latest
        return snap.total.acked if snap else 0

    def shard_done() -> list[int]:
        snap = controller.sampler.latest
        return [s.done for s in snap.shards] if snap else []

    async def scenario(app: DashboardApp, pilot: Pilot) -> None:
        await eventually_in_app(
            pilot, lambda: all(d > 0 for d in shard_done()), 90, "both shards acking"
        )
        table = app.dashboard.query_one(ShardTable)
        # The dashboard draws the next refresh after the snapshot: wait for it, not for the run.
        await eventually_in_app(
            pilot, lambda: table.display and "2 of 2 live" in str(table.border_title), 30, "table"
        )

        # Its rows are drawn on a later refresh than its title: wait for them to show.
        def table_text() -> str:
            return "\n".join(table.render_line(y).text for y in range(4))

        await eventually_in_app(pilot, lambda: "127.0.0.1" in table_text(), 30, "the shard rows")
        text = table_text()
        assert "127.0.0.1" in text and "off" in text, (table.size, text)  # address, GIL state
        snap = controller.sampler.latest
        assert snap.total.acked == sum(s.done for s in snap.shards)  # merged = sum of shards
        # the worker table lists both shards' threads, named after their shard
        assert {w.thread_name.split(":")[0] for w in snap.workers} == {"s0", "s1"}

        await pilot.press("space")  # pause reaches every shard
        # Acks in flight, and a shard's report that came late, can still land after the pause:
        # wait until the counts have stood still for 1.5 s, then check that they stay still.
        seen: dict[str, Any] = {"done": None, "since": 0.0}

        def still() -> bool:
            done, now = shard_done(), time.monotonic()
            if done != seen["done"]:
                seen.update(done=done, since=now)
            return now - seen["since"] >= 1.5

        await eventually_in_app(pilot, still, 60, "every shard's count to stand still")
        before = shard_done()
        await pilot.pause(1.5)
        assert shard_done() == before
        await pilot.press("space")
        await eventually_in_app(
            pilot,
            lambda: all(a > b for a, b in zip(shard_done(), before, strict=True)),
            30,
            "acks on every shard after resume",
        )
        await pilot.press("q")
        await eventually_in_app(pilot, app.stop_finished.is_set, 90, "the clean stop")

    async def main() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await scenario(app, pilot)

    try:
        asyncio.run(main())
    finally:
        if not app.stop_started.is_set():
            controller.stop()
        else:
            app.stop_finished.wait(90)
    result = app.return_value
    assert isinstance(result, RunResult) and not result.failures
    assert len(result.final.shards) == 2 and result.figures["acked"] > 0
    assert controller.cluster is None  # the local cluster was shut down
