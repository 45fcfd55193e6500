"""The two dashboards (producer and consumer controllers) and `run_dashboard` for the CLI.

Threads and data: the sampler thread only appends each snapshot to an inbox and, if none is
pending, posts one `SnapshotsReady` message (thread-safe) to the app; the UI thread drains the
inbox, collects one immutable `DashboardView` and hands it to the widgets. Commands that can
block (restarting workers, writing exports, stopping) run in Textual thread workers, so the UI
never waits on the engine; quick ones (`+`, rate, pause) are applied directly.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker

from pulsarload.config import ACK_STRATEGIES, ProduceSettings
from pulsarload.errors import ConfigError
from pulsarload.load import controls as cmd
from pulsarload.load.backlog import RunBacklog
from pulsarload.load.controller import LoadController
from pulsarload.load.headless import (
    EXIT_ABORTED,
    EXIT_OK,
    EXIT_THRESHOLD_FAILED,
    EXIT_WORKER_FAILED,
    abort_now,
    summary_lines,
)
from pulsarload.load.results import RunResult
from pulsarload.metrics.resources import InterpreterInfo, interpreter_info
from pulsarload.metrics.snapshot import Snapshot
from pulsarload.ui.actions import actions_for, bindings_for
from pulsarload.ui.screens import DashboardScreen, HelpScreen, SeekScreen
from pulsarload.ui.view import (
    BacklogRow,
    BacklogView,
    ControllerLike,
    ErrorTally,
    TargetHistory,
    collect,
)
from pulsarload.ui.widgets import ConfigPanel

BACKLOG_POLL_S = 1.0
REFRESH_S = 0.1  # draw every sampler tick; larger values trade smoothness for CPU
REFRESH_SLACK_S = 0.02  # sampler ticks jitter: 0.098 s after the last draw counts as 0.1
INBOX_MAX = 64  # snapshots kept if the UI falls behind (older ones are dropped)

BacklogSource = Callable[[], BacklogView]


def admin_backlog(controller: ControllerLike, timeout_s: float = 2.0) -> BacklogSource:
    """A fetcher of the consumer's backlog per partition from the admin REST API."""
    ask = RunBacklog(controller, timeout_s)

    def fetch() -> BacklogView:
        answer = ask()
        return BacklogView(
            rows=tuple(
                BacklogRow(r.topic, r.subscription, r.backlog, r.consumers, r.msg_rate_out)
                for r in answer.rows
            ),
            state=answer.state,
            error=answer.error,
        )

    return fetch


class DashboardApp(App[RunResult | None]):
    """What both dashboards share; the role picks the bindings and a few panels."""

    CSS_PATH = "dashboard.tcss"
    AUTO_FOCUS = ""
    ROLE = "producer"

    class SnapshotsReady(Message):
        """Posted from the sampler thread: new snapshots wait in the app's inbox."""

    def __init__(
        self,
        controller: ControllerLike,
        *,
        backlog: BacklogSource | BacklogView | None = None,
        blink: bool = True,
        info: InterpreterInfo | None = None,
        refresh_every: float = REFRESH_S,
    ) -> None:
        super().__init__()
        self.refresh_every = refresh_every  # seconds between draws (the sampler ticks at 0.1)
        self._drawn_at = -1.0
        self.controller = controller
        self.role = controller.role
        self.title = f"pulsarload {self.role}"
        self._blink = blink
        self._info = info or interpreter_info()
        self.target_history = TargetHistory()
        self._tally = ErrorTally()
        self._inbox: deque[Snapshot] = deque(maxlen=INBOX_MAX)
        self._posted = False
        self._unsubscribe: Callable[[], None] | None = None
        self._busy: str | None = None  # a blocking command in flight (restart, export)
        self._restarting = False
        self._stopping = False
        self._started = False
        self._backlog_source = backlog
        self._backlog_wake = threading.Event()
        self.stop_started = threading.Event()
        self.stop_finished = threading.Event()
        self.stop_result: RunResult | None = None
        self.stop_error: BaseException | None = None
        #: q (or ctrl+c) pressed again while stopping: leave without waiting for the flush.
        self.aborted = False
        self._stalls_seen = 0
        self.last_export: list[Path] = []
        #: Shown once as a notification when the dashboard starts (e.g. the web dashboard's URL).
        self.startup_notice: str | None = None

    # -- screens -------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return DashboardScreen(self.role, self.controller.settings, blink=self._blink)

    @property
    def dashboard(self) -> DashboardScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    def on_mount(self) -> None:
        # The dashboard screen is composed after the app mounts: start once it is there.
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        self._started = True
        if self.startup_notice:
            self.notify(self.startup_notice, timeout=30)
        self._unsubscribe = self.controller.sampler.subscribe(self._on_snapshot)
        if self.role == "consumer" and getattr(self.controller.settings, "peek", 0):
            self.dashboard.toggle_messages()  # --peek: the messages panel from the start
        self.refresh_view()
        if self.role == "consumer":
            source = self._backlog_source
            if isinstance(source, BacklogView):
                self.dashboard.show_backlog(source)
            else:
                self.dashboard.show_backlog(BacklogView())
                self._poll_backlog(source or admin_backlog(self.controller))

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._backlog_wake.set()

    # -- snapshots: sampler thread -> inbox -> UI thread --------------------------------------------

    def _on_snapshot(self, snap: Snapshot) -> None:
        """Sampler thread: queue the snapshot and wake the UI once (never touch widgets here)."""
        self._inbox.append(snap)
        if not self._posted:
            self._posted = True
            self.post_message(self.SnapshotsReady())

    @on(SnapshotsReady)
    def _snapshots_ready(self) -> None:
        self._posted = False
        latest = self._inbox[-1] if self._inbox else None
        since = latest.elapsed - self._drawn_at if latest is not None else None
        if since is not None and 0 <= since < self.refresh_every - REFRESH_SLACK_S:
            return  # drawn recently: these snapshots wait in the inbox for the next draw
        self.refresh_view()
        if not self._stopping and self.controller.done():
            reason = getattr(self.controller, "stop_reason", None)
            if reason:
                self.say(reason, "error")
            else:
                self.say("the run reached its end (duration, messages or scenario): stopping", "ok")
            self.action_quit()

    def refresh_view(self) -> None:
        """Collect one immutable view and hand it to the dashboard (UI thread)."""
        if not self._started or self._exit or self._closing:
            return  # not composed yet, or shutting down: a late snapshot is dropped
        snaps = []
        while self._inbox:
            snaps.append(self._inbox.popleft())
        producer = self.role == "producer"
        self._tally.add(snaps, "acked" if producer else "received", producer)
        snap = snaps[-1] if snaps else self.controller.sampler.latest
        self._drawn_at = snap.elapsed if snap is not None else 0.0
        state = "stopping" if self._stopping else "restarting" if self._restarting else None
        view = collect(
            self.controller, snap, self.target_history, self._tally, state=state, info=self._info
        )
        self.dashboard.show_view(view)
        stalls = getattr(self.controller, "stall_events", ())
        if len(stalls) > self._stalls_seen:  # a worker stalled since the last draw
            self._stalls_seen = len(stalls)
            self.say(stalls[-1], "error")

    def say(self, text: str, level: str = "info") -> None:
        self.dashboard.say(text, level)

    # -- commands ------------------------------------------------------------------------------

    def _refused_while_busy(self) -> bool:
        if self._stopping:
            self.say("stopping: no more commands", "error")
            return True
        if self._busy:
            self.say(f"busy: {self._busy}; try again in a moment", "error")
            return True
        return False

    def command(self, command: cmd.Command) -> bool:
        """Apply a quick command now; the status line says what happened."""
        if self._refused_while_busy():
            return False
        try:
            text = self.controller.apply(command)
        except (ConfigError, ValueError, RuntimeError) as err:
            self.say(str(err), "error")
            return False
        self.say(text, "ok")
        self.refresh_view()
        return True

    def reconfigure(self, changes: dict[str, Any], field: str | None = None) -> None:
        """Apply edited settings; a restart (topic, size, ...) runs off the UI thread."""
        if self._refused_while_busy():
            return
        live = set(changes) <= set(LoadController.LIVE_FIELDS)
        self._busy = "applying settings" if live else "restarting the workers"
        self._restarting = not live
        if not live:
            self.say("restarting the workers with the new settings (flush, close, reconnect)…")
            self.refresh_view()
        self._reconfigure_worker(changes, field)

    @work(thread=True, group="control", exit_on_error=False)
    def _reconfigure_worker(self, changes: dict[str, Any], field: str | None) -> None:
        try:
            text = self.controller.reconfigure(**changes)
        except ConfigError as err:
            self.call_from_thread(self._reconfigured, changes, field, None, str(err))
        except Exception as err:  # noqa: BLE001 - shown, not swallowed: the run goes on
            self.call_from_thread(
                self._reconfigured, changes, field, None, f"{type(err).__name__}: {err}"
            )
        else:
            self.call_from_thread(self._reconfigured, changes, field, text, None)

    def _reconfigured(
        self, changes: dict[str, Any], field: str | None, text: str | None, error: str | None
    ) -> None:
        self._busy = None
        self._restarting = False
        panel = self.dashboard.query_one(ConfigPanel)
        if error is not None:
            if field is not None:
                panel.refuse(field, error)
            self.say(f"refused: {error}", "error")
        else:
            if field is not None:
                panel.accept(field, changes[field])
            self.say(text or "applied", "ok")
        self.refresh_view()

    def on_config_panel_apply(self, message: ConfigPanel.Apply) -> None:
        self.reconfigure({message.setting: message.value}, field=message.setting)

    # -- actions (keys, footer clicks and the command palette all land here) ---------------------

    def action_add_thread(self) -> None:
        self.command(cmd.AddWorker(1))

    def action_remove_thread(self) -> None:
        pool = self.controller.pool
        if pool is not None and pool.size <= 1:
            self.say("one thread is the minimum while running; q stops the run", "error")
            return
        self.command(cmd.RemoveWorker(1))

    def action_toggle_pause(self) -> None:
        pool = self.controller.pool
        self.command(cmd.Resume() if pool is not None and pool.paused else cmd.Pause())

    def action_reset(self) -> None:
        if self.command(cmd.ResetMetrics()):
            self.target_history.clear()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.role))

    def action_toggle_config(self) -> None:
        self.dashboard.toggle_config()

    def action_export(self) -> None:
        if self._refused_while_busy():
            return
        self._busy = "exporting"
        self._export_worker()

    @work(thread=True, group="control", exit_on_error=False)
    def _export_worker(self) -> None:
        try:
            paths = self.controller.export_now()
        except Exception as err:  # noqa: BLE001 - a failed export is reported, the run goes on
            self.call_from_thread(self._exported, [], f"export failed: {type(err).__name__}: {err}")
        else:
            self.call_from_thread(self._exported, paths, None)

    def _exported(self, paths: list[Path], error: str | None) -> None:
        self._busy = None
        if error:
            self.say(error, "error")
            return
        self.last_export = paths
        if not paths:
            self.say("nothing to export yet (no snapshot)", "error")
            return
        shown = shown_paths(paths)
        folders = {p.parent for p in shown}
        if len(folders) == 1:
            text = f"exported to {folders.pop()}/: " + ", ".join(p.name for p in shown)
        else:
            text = "exported " + ", ".join(str(p) for p in shown)
        self.say(text, "ok")
        self.notify("\n".join(str(p) for p in shown), title="exported", timeout=8)

    def action_quit(self) -> None:  # type: ignore[override]
        """Stop cleanly: flush and close the workers off the UI thread, then exit with the result.
        Pressed again while stopping: abort at once (no flush; `run_dashboard` prints what is
        known and the process exits 130)."""
        if self._stopping:
            self.aborted = True
            self.exit(None, return_code=EXIT_ABORTED)
            return
        self._stopping = True
        self.say("stopping: flushing and closing the workers… (q again aborts at once)")
        self.refresh_view()
        self.stop_started.set()
        # A plain daemon thread, not a Textual worker: the app waits for its workers when it
        # exits, and an abort must not wait for a flush stuck on a silent broker.
        threading.Thread(target=self._stop_worker, name="dashboard-stop", daemon=True).start()

    def _stop_worker(self) -> None:
        try:
            self.stop_result = self.controller.stop()
        except BaseException as err:  # noqa: BLE001 - handed to run_dashboard, which re-raises
            self.stop_error = err
        finally:
            self.stop_finished.set()
        if not self.aborted:
            with contextlib.suppress(RuntimeError):  # the app has gone meanwhile
                self.call_from_thread(self.exit, self.stop_result)

    # -- command palette -----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for a in actions_for(self.role):
            yield SystemCommand(
                a.help, f"key: {a.key_display}", getattr(self, f"action_{a.action}")
            )
        for command in super().get_system_commands(screen):
            if command.title != "Quit":  # ours above stops cleanly
                yield command

    # -- backlog (consumer) --------------------------------------------------------------------

    @work(thread=True, group="backlog", exit_on_error=False)
    def _poll_backlog(self, fetch: BacklogSource) -> None:
        """Ask the admin API once a second, on a worker thread; the UI only draws the answer."""
        worker = get_current_worker()
        while not worker.is_cancelled and not self._stopping:
            view = fetch()
            if worker.is_cancelled:
                return
            try:
                self.call_from_thread(self.dashboard.show_backlog, view)
            except RuntimeError:  # the app has gone
                return
            self._backlog_wake.wait(BACKLOG_POLL_S)


class ProducerApp(DashboardApp):
    ROLE = "producer"
    BINDINGS = bindings_for("producer")

    def _rate_step(self, step_name: str, sign: int) -> None:
        settings = self.controller.settings
        assert isinstance(settings, ProduceSettings)
        pool = self.controller.pool
        base = pool.base_rate if pool is not None else settings.rate
        step = getattr(settings, step_name)
        if sign < 0 and base <= 0:
            self.say("the rate is 'as fast as possible'; ↑ sets a target first", "error")
            return
        self.command(cmd.SetRate(max(0.0, base + sign * step)))

    def action_rate_up(self) -> None:
        self._rate_step("rate_step_fine", +1)

    def action_rate_down(self) -> None:
        self._rate_step("rate_step_fine", -1)

    def action_rate_up_coarse(self) -> None:
        self._rate_step("rate_step_coarse", +1)

    def action_rate_down_coarse(self) -> None:
        self._rate_step("rate_step_coarse", -1)

    def action_burst(self) -> None:
        settings = self.controller.settings
        assert isinstance(settings, ProduceSettings)
        pool = self.controller.pool
        if pool is not None and pool.bursting:  # b again: end it early
            self.command(cmd.EndBurst())
            return
        if pool is not None and pool.base_rate <= 0:
            self.say(
                "burst multiplies a target rate; this run has none (as fast as possible)", "error"
            )
            return
        self.command(cmd.Burst(settings.burst_multiplier, settings.burst_seconds))


class ConsumerApp(DashboardApp):
    ROLE = "consumer"
    BINDINGS = bindings_for("consumer")

    def action_cycle_ack(self) -> None:
        current = getattr(self.controller.settings, "ack", ACK_STRATEGIES[0])
        index = ACK_STRATEGIES.index(current) if current in ACK_STRATEGIES else -1
        self.reconfigure({"ack": ACK_STRATEGIES[(index + 1) % len(ACK_STRATEGIES)]}, field="ack")

    def action_toggle_messages(self) -> None:
        shown = self.dashboard.toggle_messages()
        self.refresh_view()
        self.say("messages: a sample of received messages" if shown else "messages hidden")

    def action_seek(self) -> None:
        def seek_to(target: str | None) -> None:
            if target:
                self.command(cmd.Seek(target))

        self.push_screen(SeekScreen(blink=self._blink), seek_to)


def shown_paths(paths: list[Path]) -> list[Path]:
    """Paths worth showing: a streamed file still being written lives at `<name>.partial`."""
    out = []
    for p in paths:
        partial = p.with_name(p.name + ".partial")
        out.append(partial if not p.exists() and partial.exists() else p)
    return out


def app_for(controller: ControllerLike, **kwargs: Any) -> DashboardApp:
    cls = ProducerApp if controller.role == "producer" else ConsumerApp
    return cls(controller, **kwargs)


def exit_code(result: RunResult) -> int:
    """As `run_headless`: 3 when a worker failed, 1 when a threshold failed, else 0."""
    if result.failures:
        return EXIT_WORKER_FAILED
    return EXIT_OK if result.passed else EXIT_THRESHOLD_FAILED


def run_dashboard(
    controller: LoadController, echo: Callable[[str], None] = print, notice: str | None = None
) -> int:
    """Start the load, run its dashboard until `q` (or the end of the run), print the summary.
    `notice`: shown once when the dashboard opens (what was printed before it took the screen)."""
    controller.start()
    app = app_for(controller)
    app.startup_notice = notice
    result: RunResult | None = None
    try:
        result = app.run()
        if app.aborted:
            abort_now(controller, echo)  # does not return: no flush, exit 130
    finally:
        if result is None and not app.aborted:
            if app.stop_started.is_set():
                app.stop_finished.wait(60)
                result = app.stop_result
            if result is None and app.stop_error is None:
                result = controller.stop()
    if app.stop_error is not None:
        raise app.stop_error
    assert result is not None
    for line in summary_lines(result):
        echo(line)
    if app.last_export:
        echo("exported during the run: " + ", ".join(str(p) for p in shown_paths(app.last_export)))
    sys.stdout.flush()
    return exit_code(result)
