"""The capacity panel on the producer dashboard (fixed data, no broker): it shows the step
under way, its target, the bracket so far and the last verdict as the search moves; quitting
stops the search, and the dashboard leaves when the search is over."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

from pulsarload.load.capacity.live import LiveSearch
from pulsarload.ui.capacity import CapacityApp
from pulsarload.ui.fixed import FixedController
from pulsarload.ui.widgets.capacity import CapacityPanel

RAMP = LiveSearch(
    index=2,
    phase="ramp",
    target=2000,
    stage="measuring",
    stage_elapsed_s=3.2,
    stage_length_s=10.0,
    passing=1000,
    failing=None,
    passed=1,
    failed=0,
    last=None,
    resolution=0.05,
)
BISECT = dataclasses.replace(
    RAMP, index=3, phase="bisect", target=1500, stage="warm-up", failing=2000, failed=1
)


def panel_text(app: CapacityApp) -> str:
    return str(app.dashboard.query_one(CapacityPanel).text())


def test_the_panel_follows_the_search_and_quit_stops_it() -> None:
    state = {"live": RAMP}
    stop, done = threading.Event(), threading.Event()

    async def main() -> None:
        app = CapacityApp(
            FixedController("producer"), lambda: state["live"], search_stop=stop, search_done=done
        )
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.3)
            text = panel_text(app)
            assert "step 2" in text and "target 2,000 msg/s" in text and "measuring 3/10 s" in text
            assert "passes 1,000" in text and "fails -" in text and "1 passed · 0 failed" in text
            state["live"] = BISECT
            await pilot.pause(0.8)  # the panel polls twice a second
            text = panel_text(app)
            assert "step 3 bisect" in text and "target 1,500 msg/s" in text
            assert "fails 2,000" in text and "100.0% apart" in text
            await pilot.press("q")
            await pilot.pause(0.2)
            assert stop.is_set()  # the search is told; the app waits for it to close
            assert app.is_running
            done.set()
            await pilot.pause(0.5)
        assert not app.is_running

    asyncio.run(main())


def test_the_dashboard_leaves_when_the_search_is_over() -> None:
    stop, done = threading.Event(), threading.Event()
    over = dataclasses.replace(RAMP, index=None, phase=None, target=None, stage="done")

    async def main() -> None:
        app = CapacityApp(
            FixedController("producer"), lambda: over, search_stop=stop, search_done=done
        )
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.3)
            assert "search done" in panel_text(app)
            done.set()
            for _ in range(30):
                await pilot.pause(0.1)
                if not app.is_running:
                    break
        assert not app.is_running

    asyncio.run(main())
