"""Both dashboards driven by Pilot against the real broker: each key does what it says.

The controller is started as `run_dashboard` starts it; the app is then run headless with
`run_test`. Rates stay small (the test machine is shared): 400 msg/s.
"""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from pulsarload.config import ConsumeSettings, ProduceSettings, resolve_settings
from pulsarload.load.controller import LoadController
from pulsarload.load.results import RunResult
from pulsarload.ui.app import DashboardApp, app_for, shown_paths
from support.waiting import eventually_in_app

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]

RATE = 400.0


def acked(controller: LoadController) -> int:
    snap = controller.sampler.latest
    return snap.total.acked if snap else 0


def received(controller: LoadController) -> int:
    snap = controller.sampler.latest
    return snap.total.received if snap else 0


def run_app(
    controller: LoadController, scenario: Callable[[DashboardApp, Pilot], Any]
) -> DashboardApp:
    """Start the load, drive the app, and make sure the load is stopped whatever happens."""
    controller.start()
    app = app_for(controller)

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await scenario(app, pilot)

    try:
        asyncio.run(main())
    finally:
        if not app.stop_started.is_set():
            controller.stop()
        else:
            app.stop_finished.wait(60)
    return app


def produce_settings(broker: Any, topic: str, **extra: Any) -> ProduceSettings:
    flags = {
        "topic": topic,
        "service_url": broker.service_url,
        "admin_url": broker.admin_url,
        "rate": RATE,
        "threads": 1,
        **extra,
    }
    return resolve_settings(ProduceSettings, flags, environ={})


def test_producer_dashboard_keys(broker: Any, topic: str, tmp_path: Path) -> None:
    controller = LoadController(
        "producer", produce_settings(broker, topic, export_dir=str(tmp_path))
    )

    async def scenario(app: DashboardApp, pilot: Pilot) -> None:
        await eventually_in_app(pilot, lambda: acked(controller) > 0, 60, "the first acks")
        pool = controller.pool
        assert pool is not None

        await pilot.press("plus")  # + adds a thread
        await pilot.pause()
        assert controller.pool.size == 2

        await pilot.press("up")  # up raises the target rate by the fine step
        await pilot.pause()
        assert controller.pool.base_rate == RATE + controller.settings.rate_step_fine
        await pilot.press("down")
        await pilot.pause()
        assert controller.pool.base_rate == RATE

        await pilot.press("space")  # space pauses: acks stop growing once in-flight ones land
        await pilot.pause()
        assert controller.pool.paused
        await pilot.pause(1.5)
        before = acked(controller)
        await pilot.pause(1.5)
        assert acked(controller) == before
        await pilot.press("space")
        await eventually_in_app(pilot, lambda: acked(controller) > before, 30, "acks after resume")

        await pilot.press("e")  # e writes files that parse
        await eventually_in_app(pilot, lambda: bool(app.last_export), 30, "the export")
        files = shown_paths(app.last_export)
        json_files = [p for p in files if p.suffix == ".json"]
        csv_files = [p for p in files if ".csv" in p.name]
        assert json_files and csv_files
        assert json.loads(json_files[0].read_text())["schema"] == "pulsarload.snapshot"
        with csv_files[0].open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows and "elapsed" in rows[0]

        await pilot.press("q")  # q stops cleanly: flush, close, exit with the result
        await eventually_in_app(pilot, app.stop_finished.is_set, 60, "the clean stop")

    app = run_app(controller, scenario)
    result = app.return_value
    assert isinstance(result, RunResult)
    assert not result.failures
    assert result.figures["acked"] > 0
    assert all(not w.alive for w in controller.pool.all_workers())


def test_producer_config_field_restarts_workers(broker: Any, make_topic: Any) -> None:
    first, second = make_topic("ui-a"), make_topic("ui-b")
    controller = LoadController("producer", produce_settings(broker, first))

    async def scenario(app: DashboardApp, pilot: Pilot) -> None:
        from textual.widgets import Input

        await eventually_in_app(pilot, lambda: acked(controller) > 0, 60, "the first acks")
        await pilot.press("c")
        await pilot.pause()
        field = app.dashboard.query_one("#cfg-topic", Input)
        field.focus()
        field.value = "not a topic"
        await pilot.press("enter")
        await eventually_in_app(pilot, lambda: field.has_class("-invalid"), 30, "the refusal")
        assert controller.settings.topic == first
        field.value = second
        await pilot.press("enter")
        await eventually_in_app(
            pilot, lambda: controller.settings.topic == second and not app._busy, 60, "the restart"
        )
        mark = acked(controller)
        await eventually_in_app(
            pilot, lambda: acked(controller) > mark, 60, "acks on the new topic"
        )
        await pilot.press("escape", "q")
        await eventually_in_app(pilot, app.stop_finished.is_set, 60, "the clean stop")

    app = run_app(controller, scenario)
    assert isinstance(app.return_value, RunResult)


def consumer_available() -> bool:
    return importlib.util.find_spec("pulsarload.engines.native_consumer") is not None


@pytest.mark.skipif(
    not consumer_available(), reason="the native consumer engine has not landed yet"
)
def test_consumer_dashboard_keys(broker: Any, topic: str) -> None:
    producer = LoadController("producer", produce_settings(broker, topic))
    settings = resolve_settings(
        ConsumeSettings,
        {
            "topic": topic,
            "service_url": broker.service_url,
            "admin_url": broker.admin_url,
            "subscription": "ui-test",
            "subscription_type": "shared",
            "initial_position": "earliest",
            "threads": 1,
        },
        environ={},
    )
    controller = LoadController("consumer", settings)

    async def scenario(app: DashboardApp, pilot: Pilot) -> None:
        await eventually_in_app(pilot, lambda: received(controller) > 0, 60, "the first messages")
        # Seek while one consumer runs: on a shared subscription the broker drops every consumer
        # at a seek, and the pool seeks each worker (see the report on seek with several).
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"latest", "enter")
        await pilot.pause()
        assert "seek to latest" in str(app.dashboard.query_one("#status").render())
        mark = received(controller)
        await eventually_in_app(
            pilot, lambda: received(controller) > mark, 60, "messages after the seek"
        )

        await pilot.press("plus")
        await pilot.pause()
        assert controller.pool.size == 2

        # The backlog panel gets the admin API's answer (polled on a worker thread).
        from pulsarload.ui.widgets import BacklogTable

        table = app.dashboard.query_one(BacklogTable)
        await eventually_in_app(
            pilot, lambda: table._data is not None and table._data.state == "ok", 30, "backlog"
        )
        assert any(r.subscription == "ui-test" for r in table._data.rows)

        await pilot.press("space")
        await pilot.pause()
        assert controller.pool.paused
        await pilot.press("space")
        await pilot.pause()
        assert not controller.pool.paused

        await pilot.press("a")  # cycles the ack strategy (restarts the consumers)
        await eventually_in_app(
            pilot, lambda: controller.settings.ack == "grouped" and not app._busy, 60, "ack"
        )
        mark = received(controller)
        await eventually_in_app(
            pilot, lambda: received(controller) > mark, 60, "messages after the restart"
        )

        await pilot.press("q")
        await eventually_in_app(pilot, app.stop_finished.is_set, 60, "the clean stop")

    producer.start()
    try:
        app = run_app(controller, scenario)
    finally:
        producer.stop()
    result = app.return_value
    assert isinstance(result, RunResult)
    assert result.figures["received"] > 0
    assert not result.failures
