"""A second q (or ctrl+c) while stopping aborts at once with exit code 130 and what is known;
b toggles a burst, and the title shows the time it has left."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from textual.pilot import Pilot

from pulsarload.load import controls as cmd
from pulsarload.load import headless
from pulsarload.load.results import RunResult
from pulsarload.ui.app import DashboardApp, run_dashboard
from pulsarload.ui.fixed import FixedController, fixed_app
from pulsarload.ui.widgets import StatusLine, TitleBar


class SlowStop(FixedController):
    """A controller whose stop (the flush) hangs until released, like a silent broker."""

    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.release = threading.Event()
        self.stop_entered = threading.Event()

    def stop(self) -> RunResult:
        self.stop_entered.set()
        self.release.wait(30)
        return super().stop()


def drive(app: DashboardApp, keys: list[str]) -> DashboardApp:
    async def main() -> DashboardApp:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            for key in keys:
                await pilot.press(key)
                await pilot.pause()
            await wait_exit(app, pilot)
        return app

    return asyncio.run(main())


async def wait_exit(app: DashboardApp, pilot: Pilot) -> None:
    for _ in range(200):  # bounded: 20 s
        if app._exit:
            return
        await pilot.pause(0.1)


@pytest.mark.parametrize("second", ["q", "ctrl+c"])
def test_second_quit_while_stopping_aborts_with_130(second: str) -> None:
    c = SlowStop("producer")
    app = fixed_app("producer", c)
    try:
        drive(app, ["q", second])
        assert c.stop_entered.is_set()  # the first q started the clean stop
        assert app.aborted
        assert app.return_code == headless.EXIT_ABORTED == 130
        assert app.return_value is None  # no result: the flush was never waited for
        assert not c.stopped
    finally:
        c.release.set()


def test_one_quit_still_stops_cleanly() -> None:
    c = FixedController("producer")
    app = drive(fixed_app("producer", c), ["ctrl+c"])
    assert c.stopped and not app.aborted
    assert isinstance(app.return_value, RunResult)


def test_abort_prints_what_is_known_and_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_dashboard after an abort: the summary of the last snapshot, then exit 130 at once
    (os._exit: worker threads may be blocked on the broker)."""
    c = SlowStop("producer")
    exits: list[int] = []

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(headless.os, "_exit", fake_exit)

    class Aborting(DashboardApp):
        pass

    def run_aborted(self: Any, *args: Any, **kwargs: Any) -> None:
        self.aborted = True
        return None

    from pulsarload.ui import app as app_module

    monkeypatch.setattr(app_module.ProducerApp, "run", run_aborted)
    c.start = lambda: None  # type: ignore[attr-defined]
    lines: list[str] = []
    try:
        with pytest.raises(SystemExit):
            run_dashboard(c, echo=lines.append)  # type: ignore[arg-type]
    finally:
        c.release.set()
    assert exits == [130]
    assert lines[0].startswith("aborted: exited without flushing")
    assert any(line.startswith("== producer summary") for line in lines)
    acked = c.sampler.latest.total.acked
    assert any(f"acked {acked:,}" in line for line in lines), lines
    assert not c.stopped  # nothing flushed or closed


def test_abort_before_any_snapshot() -> None:
    c = FixedController("consumer")
    c.sampler.latest = None  # type: ignore[misc]
    assert headless.abort_lines(c) == [  # type: ignore[arg-type]
        "aborted: exited without flushing (messages in flight are lost and not counted)",
        "nothing was measured yet",
    ]


def test_b_toggles_the_burst_and_the_title_counts_down() -> None:
    c = FixedController("producer")

    async def main() -> None:
        app = fixed_app("producer", c)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            await pilot.press("b")
            await pilot.pause()
            assert c.commands[-1] == cmd.Burst(5.0, 5.0)
            app.refresh_view()
            await pilot.pause()
            title = app.dashboard.query_one(TitleBar)
            assert title._data.state == "burst" and title._data.burst_left == 5.0
            text = "".join(seg.text for seg in title.build(120, 1)[0])
            assert "BURST 5s left" in text
            await pilot.press("b")
            await pilot.pause()
            assert c.commands[-1] == cmd.EndBurst()
            assert "burst ended early" in str(app.dashboard.query_one(StatusLine).render())
            app.refresh_view()
            await pilot.pause()
            assert app.dashboard.query_one(TitleBar)._data.state == "running"

    asyncio.run(main())


def test_a_stall_shows_in_the_table_and_the_status_line() -> None:
    import dataclasses

    from pulsarload.ui.widgets import WorkerTable

    c = FixedController("producer")

    async def main() -> None:
        app = fixed_app("producer", c)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            snap = c.sampler.latest
            first = dataclasses.replace(snap.workers[0], state="stalled 12s")
            c.sampler.latest = dataclasses.replace(snap, workers=(first, *snap.workers[1:]))
            c.stall_events = ["producer-0 stalled: no acks for 10s while it should"]
            app.refresh_view()
            await pilot.pause()
            table = app.dashboard.query_one(WorkerTable)
            _head, lines = table.build_table(118)
            rows = ["".join(seg.text for seg in line) for line in lines]
            assert any("stalled 12s" in row for row in rows), rows
            status = str(app.dashboard.query_one(StatusLine).render())
            assert "producer-0 stalled: no acks for 10s" in status

    asyncio.run(main())
