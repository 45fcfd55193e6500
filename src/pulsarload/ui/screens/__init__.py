"""Screens: the dashboard itself and its two dialogs (help, seek)."""

from pulsarload.ui.screens.dashboard import DashboardScreen
from pulsarload.ui.screens.help import HelpScreen
from pulsarload.ui.screens.seek import SeekScreen, parse_seek_target

__all__ = ["DashboardScreen", "HelpScreen", "SeekScreen", "parse_seek_target"]
