"""The dashboard screen: one layout for both roles, rearranged by width (one .tcss theme).

Narrow terminals (80x24) get the metrics only, with the configuration panel as an overlay
toggled by `c`; wide ones (140 columns and more) keep the configuration panel open beside the
metrics and give the graphs more rows.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from pulsarload.config import ConsumeSettings, ProduceSettings
from pulsarload.ui.view import BacklogView, DashboardView
from pulsarload.ui.widgets import (
    BacklogTable,
    ConfigPanel,
    FactsPanel,
    HeatmapPanel,
    InterpreterPanel,
    LatencyPanel,
    MessagesTable,
    RateChart,
    ShardTable,
    StatusLine,
    TitleBar,
    WorkerTable,
)

WIDE_COLUMNS = 140
TALL_ROWS = 40


class DashboardScreen(Screen[None]):
    AUTO_FOCUS = ""  # no auto focus: keys go to the dashboard, not to a config field
    BINDINGS = [Binding("escape", "leave_config", "Back", show=False)]

    def __init__(
        self, role: str, settings: ProduceSettings | ConsumeSettings, *, blink: bool = True
    ) -> None:
        super().__init__(classes=f"-{role}")
        self.role = role
        self.settings = settings
        self._blink = blink
        self.config_open: bool | None = None  # None: open on wide terminals, closed on narrow
        self._viewers: list[Any] | None = None  # the widgets that draw views, found once
        self._config: ConfigPanel | None = None

    def compose(self) -> ComposeResult:
        # Flat on purpose: one container holds the rows and the config panel (docked right),
        # so repainting a panel touches few containers.
        yield TitleBar(id="title")
        with Vertical(id="main"):
            yield ConfigPanel(self.role, self.settings, id="config", blink=self._blink)
            with Horizontal(id="row-top"):
                yield RateChart(id="rate", classes="panel")
                with Vertical(id="side"):
                    yield FactsPanel(id="facts", classes="panel")
                    yield InterpreterPanel(id="interp", classes="panel")
            with Horizontal(id="row-mid"):
                yield LatencyPanel(id="latency", classes="panel")
                yield HeatmapPanel(id="heatmap", classes="panel")
            with Horizontal(id="row-bottom"):
                if self.role == "consumer":
                    yield BacklogTable(id="backlog", classes="panel")
                    yield MessagesTable(id="messages", classes="panel")
                yield WorkerTable(id="workers", classes="panel")
                yield ShardTable(id="shards", classes="panel")
        yield StatusLine("press ? for every key · ctrl+p for the command palette", id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._layout_for(self.size.width, self.size.height)

    def on_resize(self) -> None:
        self._layout_for(self.size.width, self.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        wide = width >= WIDE_COLUMNS
        self.set_class(wide, "-wide")
        self.set_class(height >= TALL_ROWS, "-tall")
        open_ = wide if self.config_open is None else self.config_open
        self.set_class(open_, "-config-open")

    # -- data --------------------------------------------------------------------------------

    def show_view(self, view: DashboardView) -> None:
        """Hand the same immutable view to every widget (each repaints only what changed)."""
        if self._viewers is None:
            kinds = (TitleBar, RateChart, FactsPanel, InterpreterPanel, LatencyPanel, HeatmapPanel)
            self._viewers = [self.query_one(t) for t in (*kinds, WorkerTable, ShardTable)]
            self._config = self.query_one(ConfigPanel)
        for widget in self._viewers:
            widget.show(view)
        if self.has_class("-messages-open"):
            self.query_one(MessagesTable).show(view)
        if self._config is not None:
            self._config.sync(view)

    def show_backlog(self, backlog: BacklogView) -> None:
        for table in self.query(BacklogTable):
            table.show(backlog)

    def say(self, text: str, level: str = "info") -> None:
        self.query_one(StatusLine).say(text, level)

    # -- config panel ------------------------------------------------------------------------

    def toggle_messages(self) -> bool:
        """`m` (consumer): show or hide the sample of received messages; True when shown."""
        shown = not self.has_class("-messages-open")
        self.set_class(shown, "-messages-open")
        return shown

    def toggle_config(self) -> None:
        """`c`: open the panel and put the cursor in it (or just the cursor, when open)."""
        panel = self.query_one(ConfigPanel)
        if not self.has_class("-config-open"):
            self.config_open = True
            self.set_class(True, "-config-open")
        panel.focus_first()

    def action_leave_config(self) -> None:
        """Escape: leave the field (narrow: close the panel); with no field focused, close."""
        panel = self.query_one(ConfigPanel)
        editing = self.focused is not None and panel in self.focused.ancestors_with_self
        if editing and self.has_class("-wide"):
            self.set_focus(None)
            return
        self.config_open = False if self.has_class("-wide") else None
        self.set_class(False, "-config-open")
        self.set_focus(None)
