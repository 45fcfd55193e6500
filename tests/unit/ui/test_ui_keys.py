"""Every key, palette entry and config field does what it says (fixed data, no broker)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from pulsarload.config import ConsumeSettings, ProduceSettings, resolve_settings
from pulsarload.load import controls as cmd
from pulsarload.load.results import RunResult
from pulsarload.ui.actions import actions_for
from pulsarload.ui.app import DashboardApp, admin_backlog
from pulsarload.ui.fixed import FIXED_TOPIC, FixedController, fixed_app
from pulsarload.ui.screens import HelpScreen, SeekScreen, parse_seek_target
from pulsarload.ui.screens.help import help_text
from pulsarload.ui.view import BacklogView
from pulsarload.ui.widgets import BacklogTable, ConfigPanel, StatusLine, TitleBar

Scenario = Callable[[DashboardApp, Pilot, FixedController], Awaitable[None]]


def run(
    role: str, scenario: Scenario, controller: FixedController | None = None, **app_kwargs: object
) -> DashboardApp:
    controller = controller or FixedController(role)

    async def main() -> DashboardApp:
        app = fixed_app(role, controller, **app_kwargs)  # type: ignore[arg-type]
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await scenario(app, pilot, controller)
        return app

    return asyncio.run(main())


def status(app: DashboardApp) -> str:
    return str(app.dashboard.query_one(StatusLine).render())


async def settle(app: DashboardApp, pilot: Pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def test_producer_keys_send_their_commands() -> None:
    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        presses = {
            "up": cmd.SetRate(5100.0),
            "down": cmd.SetRate(5000.0),
            "shift+up": cmd.SetRate(6000.0),
            "pagedown": cmd.SetRate(5000.0),
            "pageup": cmd.SetRate(6000.0),
            "shift+down": cmd.SetRate(5000.0),
            "plus": cmd.AddWorker(1),
            "minus": cmd.RemoveWorker(1),
            "space": cmd.Pause(),
            "b": cmd.Burst(5.0, 5.0),
            "r": cmd.ResetMetrics(),
        }
        for key, expected in presses.items():
            await pilot.press(key)
            await pilot.pause()
            assert c.commands[-1] == expected, key
        await pilot.press("space")
        await pilot.pause()
        assert c.commands[-1] == cmd.Resume()
        assert "resumed" in status(app)

    run("producer", scenario)


def test_thread_count_and_pause_show_in_the_title() -> None:
    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        await pilot.press("plus", "plus")
        await pilot.pause()
        assert c.pool.size == 5
        await pilot.press("space")
        await pilot.pause()
        title = app.dashboard.query_one(TitleBar)
        assert title._data.state == "paused" and title._data.threads == 5

    run("producer", scenario)


def test_refusals_are_explained() -> None:
    settings = resolve_settings(ProduceSettings, {"topic": FIXED_TOPIC, "rate": 0.0}, environ={})

    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        await pilot.press("down")
        await pilot.pause()
        assert "as fast as possible" in status(app)
        await pilot.press("b")
        await pilot.pause()
        assert "burst" in status(app) and not c.commands
        await pilot.press("up")
        await pilot.pause()
        assert c.commands == [cmd.SetRate(100.0)]

    run("producer", scenario, FixedController("producer", settings))


def test_export_writes_json_and_shows_the_path(tmp_path: Path) -> None:
    settings = resolve_settings(
        ProduceSettings, {"topic": FIXED_TOPIC, "export_dir": str(tmp_path)}, environ={}
    )

    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        await pilot.press("e")
        await settle(app, pilot)
        assert app.last_export
        path = app.last_export[0]
        assert json.loads(path.read_text())["schema"] == "pulsarload.snapshot"
        assert path.name in status(app) and str(path.parent) in status(app)

    run("producer", scenario, FixedController("producer", settings))


@pytest.mark.parametrize("role", ["producer", "consumer"])
def test_help_lists_every_key(role: str) -> None:
    text = help_text(role)
    for a in actions_for(role):
        assert a.key_display in text and a.help in text

    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)

    run(role, scenario)


@pytest.mark.parametrize("role", ["producer", "consumer"])
def test_every_action_is_in_the_command_palette(role: str) -> None:
    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for a in actions_for(role):
            assert a.help in titles
        assert titles.count("Quit") == 0  # the palette's quit is ours (clean stop)
        # And the palette runs them: search, pick, done.
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Add a worker")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert c.commands[-1] == cmd.AddWorker(1)

    run(role, scenario)


def test_footer_clicks_run_actions() -> None:
    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        from textual.widgets._footer import FooterKey

        keys = {k.action: k for k in app.dashboard.query(FooterKey)}
        assert {"add_thread", "toggle_pause", "rate_up", "export", "help", "quit"} <= set(keys)
        await pilot.click(keys["add_thread"])
        await pilot.pause()
        assert c.commands[-1] == cmd.AddWorker(1)

    run("producer", scenario)


def test_config_field_applies_or_is_refused_in_place() -> None:
    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        await pilot.press("c")
        await pilot.pause()
        panel = app.dashboard.query_one(ConfigPanel)
        rate = panel.query_one("#cfg-rate", Input)
        assert app.focused is rate
        # Unparseable: refused by the panel itself, setting unchanged.
        rate.value = "fast"
        await pilot.press("enter")
        await settle(app, pilot)
        assert rate.has_class("-invalid")
        assert "not a number" in str(panel.query_one("#err-rate", Static).render())
        # Parses but out of range: the controller's ConfigError, shown under the field.
        size = panel.query_one("#cfg-size", Input)
        size.focus()
        size.value = "-5"
        await pilot.press("enter")
        await settle(app, pilot)
        assert size.has_class("-invalid")
        assert "size=-5 is out of range" in str(panel.query_one("#err-size", Static).render())
        assert c.settings.size == 1024
        # Good values apply and clear the error.
        rate.focus()
        rate.value = "1234"
        await pilot.press("enter")
        await settle(app, pilot)
        assert c.pool.base_rate == 1234.0
        assert not rate.has_class("-invalid")
        size.focus()
        size.value = "2048"
        await pilot.press("enter")
        await settle(app, pilot)
        assert c.settings.size == 2048 and not size.has_class("-invalid")
        # A choice applies when picked.
        panel.query_one("#cfg-compression", Select).value = "lz4"
        await settle(app, pilot)
        assert c.settings.compression == "lz4"
        # Escape leaves the panel; keys drive the dashboard again.
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is None
        await pilot.press("plus")
        await pilot.pause()
        assert c.commands[-1] == cmd.AddWorker(1)

    run("producer", scenario)


def test_config_shows_live_values_without_fighting_the_user() -> None:
    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        panel = app.dashboard.query_one(ConfigPanel)
        threads = panel.query_one("#cfg-threads", Input)
        await pilot.press("plus")
        await pilot.pause()
        assert threads.value == "4"
        await pilot.press("c")
        threads.focus()
        threads.value = "7"
        await pilot.pause()
        app.refresh_view()
        assert threads.value == "7"  # not overwritten while being edited

    run("producer", scenario)


def test_initial_choices_do_not_reconfigure() -> None:
    settings = resolve_settings(
        ConsumeSettings, {"topic": FIXED_TOPIC, "ack": "grouped", "mode": "listener"}, environ={}
    )

    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        await settle(app, pilot)
        assert c.settings.ack == "grouped" and c.settings.mode == "listener"
        assert app.dashboard.query_one("#cfg-ack", Select).value == "grouped"

    run("consumer", scenario, FixedController("consumer", settings))


def test_consumer_ack_cycles_and_seek_dialog() -> None:
    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        await pilot.press("a")
        await settle(app, pilot)
        assert c.settings.ack == "grouped"
        await pilot.press("a")
        await settle(app, pilot)
        assert c.settings.ack == "delayed"
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SeekScreen)
        await pilot.press(*"nonsense", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SeekScreen)
        assert "not a message id" in str(app.screen.query_one("#seek-error", Static).render())
        app.screen.query_one("#seek-input", Input).value = "123:45"
        await pilot.press("enter")
        await pilot.pause()
        assert c.commands[-1] == cmd.Seek("123:45")
        await pilot.press("s")
        await pilot.pause()
        await pilot.click("#seek-earliest")
        await pilot.pause()
        assert c.commands[-1] == cmd.Seek("earliest")
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert c.commands[-1] == cmd.Seek("earliest")

    run("consumer", scenario)


def test_seek_targets() -> None:
    assert parse_seek_target(" Earliest ") == "earliest"
    assert parse_seek_target("latest") == "latest"
    assert parse_seek_target("12:34") == "12:34"
    assert parse_seek_target("12:34:2") == "12:34:2"
    assert parse_seek_target("1700000000000") == "1700000000000"
    assert parse_seek_target("2024-01-01T00:00:00+00:00") == "1704067200000"
    with pytest.raises(ValueError, match="not a message id"):
        parse_seek_target("yesterday")


def test_quit_stops_cleanly_and_returns_the_result() -> None:
    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        await pilot.press("q")
        await settle(app, pilot)

    c = FixedController("producer")
    app = run("producer", scenario, c)
    assert c.stopped
    assert isinstance(app.return_value, RunResult)


def test_snapshots_from_another_thread_reach_the_widgets() -> None:
    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        import dataclasses

        snap = dataclasses.replace(c.sampler.latest, seq=9999, elapsed=61.5)
        t = threading.Thread(target=app._on_snapshot, args=(snap,))
        t.start()
        t.join()
        await pilot.pause(0.1)
        assert app.dashboard.query_one(TitleBar)._data.seq == 9999

    run("producer", scenario)


def test_backlog_unreachable_state() -> None:
    calls: list[int] = []

    def fetch() -> BacklogView:
        calls.append(1)
        return BacklogView(
            state="unreachable", error="admin API http://x unreachable (ConnectError)"
        )

    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        for _ in range(50):
            await pilot.pause(0.02)
            if calls:
                break
        await pilot.pause(0.1)
        table = app.dashboard.query_one(BacklogTable)
        assert str(table.border_title) == "backlog · admin API unreachable"
        assert table.has_class("-unreachable")

    run("consumer", scenario, backlog=fetch)


def test_admin_backlog_reports_an_unreachable_api() -> None:
    c = FixedController("consumer")
    c.settings = resolve_settings(
        ConsumeSettings, {"topic": FIXED_TOPIC, "admin_url": "http://127.0.0.1:9"}, environ={}
    )
    view = admin_backlog(c, timeout_s=1.0)()
    assert view.state == "unreachable" and "unreachable" in (view.error or "")
    c.settings = resolve_settings(
        ConsumeSettings, {"pattern": "persistent://public/default/x-.*"}, environ={}
    )
    assert admin_backlog(c)().state == "unavailable"


def test_run_dashboard_prints_the_summary_and_returns_the_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pulsarload.ui import app as app_module

    c = FixedController("producer")
    c.start = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setattr(app_module.DashboardApp, "run", lambda self: c.stop())
    lines: list[str] = []
    assert app_module.run_dashboard(c, echo=lines.append) == 0  # type: ignore[arg-type]
    assert lines[0].startswith("== producer summary")
    failed = RunResult("producer", c.sampler.latest, {}, failures=["producer-0: boom"])
    assert app_module.exit_code(failed) == 3


def test_run_dashboard_stops_the_load_when_the_app_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulsarload.ui import app as app_module

    c = FixedController("producer")
    c.start = lambda: None  # type: ignore[attr-defined]

    def crash(self: DashboardApp) -> None:
        raise RuntimeError("terminal went away")

    monkeypatch.setattr(app_module.DashboardApp, "run", crash)
    with pytest.raises(RuntimeError, match="terminal went away"):
        app_module.run_dashboard(c, echo=lambda _line: None)  # type: ignore[arg-type]
    assert c.stopped


def test_refresh_every_skips_draws_but_keeps_every_snapshot() -> None:
    import dataclasses

    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        app.refresh_every = 0.5
        title = app.dashboard.query_one(TitleBar)
        base = c.sampler.latest
        drawn = []
        for i in range(1, 11):
            snap = dataclasses.replace(base, seq=base.seq + i, elapsed=base.elapsed + i * 0.1)
            app._on_snapshot(snap)
            await pilot.pause()
            drawn.append(title._data.seq - base.seq)
        assert drawn == [0, 0, 0, 0, 5, 5, 5, 5, 5, 10]

    run("producer", scenario)


def test_backlog_panel_says_entries() -> None:
    """The broker's msgBacklog counts a batch once: the panel must not call it messages."""

    async def scenario(app: DashboardApp, pilot: Pilot, c: FixedController) -> None:
        table = app.dashboard.query_one(BacklogTable)
        for _ in range(100):
            if table._data is not None and table._data.state == "ok":
                break
            await pilot.pause(0.02)
        title = str(table.border_title)
        assert "entries" in title and "msgs" not in title, title
        header, _rows = table.build_table(80)
        head = "".join(seg.text for seg in header)
        assert "entries" in head and "backlog" not in head, head

    run("consumer", scenario)
