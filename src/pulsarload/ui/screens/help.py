"""The `?` overlay: every key of this dashboard, generated from the action table."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from pulsarload.ui.actions import actions_for


def help_text(role: str) -> str:
    lines = []
    for a in actions_for(role):
        lines.append(f"[b $accent]{a.key_display:>10}[/]  {a.help}")
    lines += [
        f"[b $accent]{'enter esc':>10}[/]  apply a config field · leave the panel",
        f"[b $accent]{'ctrl+p':>10}[/]  command palette: every action by name",
        "[dim]The mouse works too: footer keys, config fields, dialogs.[/]",
    ]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,f1,q,enter", "dismiss", "Close", show=False),
    ]

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box") as box:
            box.border_title = f"{self.role} dashboard · keys"
            box.border_subtitle = "esc closes"
            yield Static(help_text(self.role), id="help-text")

    def on_click(self) -> None:
        self.dismiss()
