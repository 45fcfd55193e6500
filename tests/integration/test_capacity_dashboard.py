"""The capacity search live on the producer dashboard, against the real broker: the panel
follows the real search (step, target, the bracket as steps pass), `q` stops it, and the search
then closes its workers and writes its report. Driven by Pilot; small rates, short steps."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from pulsarload.config import CapacitySettings, resolve_settings
from pulsarload.load.capacity.local import EXIT_INTERRUPTED, run_capacity
from pulsarload.ui.capacity import SearchThread
from pulsarload.ui.widgets.capacity import CapacityPanel
from support.waiting import eventually_in_app

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


def test_the_dashboard_follows_a_real_search_and_q_stops_it(
    broker: Any, topic: str, tmp_path: Path
) -> None:
    report = tmp_path / "capacity.json"
    settings = resolve_settings(
        CapacitySettings,
        {
            "topic": topic,
            "service_url": broker.service_url,
            "admin_url": broker.admin_url,
            "slos": ("p99_ms<5000",),
            "start_rate": 50.0,
            "max_rate": 800.0,
            "step_warmup_s": 1.0,
            "step_window_s": 2.0,
            "prime_s": 1.0,
            "report": str(report),
        },
        environ={},
    )
    search = SearchThread(settings, run_capacity)
    driver = search.start(timeout=120)
    assert driver is not None, search.lines
    app = search.app()

    seen: list[str] = []

    async def follow(pilot: Pilot, panel: CapacityPanel) -> None:
        def shows(text: str) -> bool:
            now = str(panel.text())
            if now not in seen:
                seen.append(now)
            return text in now

        await eventually_in_app(pilot, lambda: shows(" msg/s  measuring"), 60, "a measured step")
        now = driver.live()
        assert now.index is not None and f"step {now.index} " in str(panel.text())
        following = f"step {now.index + 1} "
        await eventually_in_app(
            pilot, lambda: shows(following), 60, "the panel to follow the search"
        )
        await eventually_in_app(
            pilot, lambda: re.search(r"passes \d", seen[-1]) is not None, 60, "a pass"
        )

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await eventually_in_app(
                pilot, lambda: bool(app.dashboard.query(CapacityPanel)), 30, "panel"
            )
            try:
                await follow(pilot, app.dashboard.query_one(CapacityPanel))
            except AssertionError as err:
                raise AssertionError(f"{err}; the panel showed: {seen}") from None
            await pilot.press("q")
            await eventually_in_app(pilot, lambda: not app.is_running, 120, "the search to stop")

    try:
        asyncio.run(main())
    finally:
        code = search.finish(lambda _line: None)  # stops the search if the test failed early
    assert code == EXIT_INTERRUPTED
    assert any(re.search(r"step \d+ \S+ {2}target [\d,]+ msg/s {2}measuring", t) for t in seen)
    assert any(re.search(r"last: step \d+ [\d,]+ msg/s → PASS", t) for t in seen), seen
    cap = json.loads(report.read_text())["meta"]["capacity"]
    assert cap["ended"] == "interrupted" and cap["steps"][0]["target"] == 50
    assert any(line.startswith("step 1 ramp 50 msg/s: achieved") for line in search.lines)
