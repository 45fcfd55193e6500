"""Widgets shared by both dashboards: they draw `DashboardView`s and never touch the engine."""

from pulsarload.ui.widgets.charts import HeatmapPanel, LatencyPanel, RateChart
from pulsarload.ui.widgets.config_panel import ConfigPanel
from pulsarload.ui.widgets.facts import FactsPanel, InterpreterPanel, StatusLine, TitleBar
from pulsarload.ui.widgets.messages import MessagesTable
from pulsarload.ui.widgets.tables import BacklogTable, ShardTable, WorkerTable

__all__ = [
    "BacklogTable",
    "ConfigPanel",
    "FactsPanel",
    "HeatmapPanel",
    "InterpreterPanel",
    "LatencyPanel",
    "MessagesTable",
    "RateChart",
    "ShardTable",
    "StatusLine",
    "TitleBar",
    "WorkerTable",
]
