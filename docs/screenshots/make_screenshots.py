"""Regenerate the README screenshots: both dashboards under real load, exported as SVG.

Needs a running broker (`pulsarload broker start`, or PULSAR_BROKER_URL / PULSAR_ADMIN_URL).
The load stays small (at most 2,000 msg/s) and the topics are deleted afterwards:

    .venv/bin/python docs/screenshots/make_screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from textual.pilot import Pilot

from pulsarload.client.admin import AdminClient
from pulsarload.config import ConsumeSettings, ProduceSettings, resolve_settings
from pulsarload.load.controller import LoadController
from pulsarload.ui.app import DashboardApp, app_for

HERE = Path(__file__).resolve().parent
SERVICE_URL = os.environ.get("PULSAR_BROKER_URL", "pulsar://localhost:6650")
ADMIN_URL = os.environ.get("PULSAR_ADMIN_URL", "http://localhost:8080")
SIZES = ((160, 48), (80, 24))


def settings(cls: type, **flags: object) -> object:
    return resolve_settings(
        cls, {"service_url": SERVICE_URL, "admin_url": ADMIN_URL, **flags}, environ={}
    )


async def shoot(app: DashboardApp, pilot: Pilot, name: str) -> None:
    for width, height in SIZES:
        await pilot.resize_terminal(width, height)
        await pilot.pause(0.5)
        path = HERE / f"{name}-{width}x{height}.svg"
        path.write_text(app.export_screenshot(title=f"pulsarload {app.role}"))
        print("wrote", path)


async def producer_story(app: DashboardApp, pilot: Pilot) -> None:
    """1,000 msg/s, a second thread, the target raised to 2,000, a short pause (the gap)."""
    await pilot.pause(20)
    await pilot.press("plus")
    await pilot.pause(5)
    await pilot.press("shift+up")
    await pilot.pause(15)
    await pilot.press("space")
    await pilot.pause(3)
    await pilot.press("space")
    await pilot.pause(12)
    await shoot(app, pilot, "producer")
    await pilot.press("q")


async def consumer_story(app: DashboardApp, pilot: Pilot) -> None:
    await pilot.pause(45)
    await shoot(app, pilot, "consumer")
    await pilot.press("q")


def run(controller: LoadController, story: object) -> None:
    controller.start()
    app = app_for(controller)

    async def main() -> None:
        async with app.run_test(size=SIZES[0]) as pilot:
            await story(pilot.app, pilot)  # type: ignore[operator]
            while not app.stop_finished.is_set():
                await asyncio.sleep(0.5)

    try:
        asyncio.run(main())
    finally:
        if not app.stop_started.is_set():
            controller.stop()


def main() -> None:
    tag = uuid.uuid4().hex[:8]
    produce_topic = f"persistent://public/default/screenshot-produce-{tag}"
    consume_topic = f"persistent://public/default/screenshot-orders-{tag}"
    admin = AdminClient(ADMIN_URL)
    try:
        run(
            LoadController(
                "producer",
                settings(ProduceSettings, topic=produce_topic, rate=1000.0, threads=1, size=512),
            ),
            producer_story,
        )
        # Consumer: 3 partitions fed at 1,500 msg/s; two consumers that take 0.5 ms a message
        # (and nack one in 500) keep up, with a little lag per partition.
        admin.create_partitioned_topic(consume_topic, 3)
        feeder = LoadController(
            "producer",
            settings(ProduceSettings, topic=consume_topic, rate=1500.0, threads=1, size=512),
        )
        feeder.start()
        try:
            consumer = LoadController(
                "consumer",
                settings(
                    ConsumeSettings,
                    topic=consume_topic,
                    subscription="dashboard-demo",
                    subscription_type="shared",
                    threads=2,
                    processing_ms=0.5,
                    nack_ratio=0.002,
                ),
            )
            run(consumer, consumer_story)
        finally:
            feeder.stop()
    finally:
        admin.delete_topic(produce_topic)
        admin.delete_topic(consume_topic, partitioned=True)
        admin.close()


if __name__ == "__main__":
    main()
