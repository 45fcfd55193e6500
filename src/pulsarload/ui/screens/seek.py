"""The consumer's seek dialog: a message id, a timestamp, earliest or latest."""

from __future__ import annotations

import re
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

MESSAGE_ID = re.compile(r"^\d+:\d+(:-?\d+)?$")


def parse_seek_target(text: str) -> str:
    """Turn what was typed into a `Seek` target, or ValueError saying what is accepted.

    Accepted: earliest, latest, LEDGER:ENTRY[:PARTITION], milliseconds since the epoch, or an
    ISO date-time (local time unless it names a zone).
    """
    t = text.strip()
    if t.lower() in ("earliest", "latest"):
        return t.lower()
    if MESSAGE_ID.match(t):
        return t
    if t.isdigit():
        return t
    try:
        when = datetime.fromisoformat(t)
    except ValueError:
        raise ValueError(
            f"{t!r} is not a message id (LEDGER:ENTRY[:PARTITION]), a time in ms since the epoch, "
            "an ISO date-time, earliest or latest"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()
    return str(int(when.timestamp() * 1000))


class SeekScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", show=False)]

    def __init__(self, *, blink: bool = True) -> None:
        super().__init__()
        self._blink = blink

    def compose(self) -> ComposeResult:
        with Vertical(id="seek-box") as box:
            box.border_title = "seek the subscription"
            yield Static("message id LEDGER:ENTRY[:PARTITION], ms since the epoch, or an ISO time")
            target = Input(placeholder="e.g. 123:45  or  2025-01-31T12:00:00", id="seek-input")
            target.cursor_blink = self._blink
            yield target
            yield Static("", id="seek-error")
            with Horizontal(id="seek-buttons"):
                yield Button("Earliest", id="seek-earliest")
                yield Button("Latest", id="seek-latest")
                yield Button("Seek", id="seek-go", variant="primary")
                yield Button("Cancel", id="seek-cancel")

    def on_mount(self) -> None:
        self.query_one("#seek-input", Input).focus()

    def _submit(self, text: str) -> None:
        try:
            target = parse_seek_target(text)
        except ValueError as err:
            self.query_one("#seek-error", Static).update(str(err))
            self.query_one("#seek-input", Input).add_class("-invalid")
            return
        self.dismiss(target)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        match event.button.id:
            case "seek-earliest":
                self.dismiss("earliest")
            case "seek-latest":
                self.dismiss("latest")
            case "seek-go":
                self._submit(self.query_one("#seek-input", Input).value)
            case _:
                self.dismiss(None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
