"""The configuration panel: every field editable while the load runs.

A field applies on Enter (text) or on choice (selects). The panel refuses what it cannot
parse, in place; what parses goes to the app as `ConfigPanel.Apply`, and the controller's
verdict (a `ConfigError` naming the setting, or the change made) comes back through `refuse`
or `accept`. Rate and threads apply live; other fields restart the workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from pulsarload.client.topics import InvalidTopicName, TopicName
from pulsarload.config import (
    ACK_STRATEGIES,
    COMPRESSIONS,
    CONSUMER_MODES,
    ROUTING_MODES,
    SUBSCRIPTION_TYPES,
    ConsumeSettings,
    ProduceSettings,
)
from pulsarload.ui.view import DashboardView

PAYLOADS = ("random", "sequential", "pattern", "compressible", "file")


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # the settings field (or "rate"/"threads", which read the live pool)
    label: str
    kind: str  # int, float, str, optstr, topic, choice
    choices: tuple[str, ...] = ()
    help: str = ""


PRODUCER_FIELDS = (
    Field("rate", "rate msg/s", "float", help="0 = as fast as possible (live)"),
    Field("threads", "threads", "int", help="live"),
    Field("size", "size B", "int"),
    Field("batch_max_messages", "batch msgs", "int"),
    Field("batch_max_bytes", "batch bytes", "int"),
    Field("batch_delay_ms", "batch ms", "float"),
    Field("compression", "compression", "choice", COMPRESSIONS),
    Field("topic", "topic", "topic", help="switching reconnects"),
    Field("producer_name", "name prefix", "optstr"),
    Field("payload", "payload", "choice", PAYLOADS),
    Field("routing", "routing", "choice", ROUTING_MODES),
    Field("send_timeout_ms", "timeout ms", "int"),
)

CONSUMER_FIELDS = (
    Field("subscription", "subscription", "str"),
    Field("subscription_type", "sub type", "choice", SUBSCRIPTION_TYPES),
    Field("topic", "topic", "topic"),
    Field("pattern", "pattern", "optstr", help="regex instead of topic"),
    Field("threads", "threads", "int", help="live"),
    Field("consumer_name", "name prefix", "optstr"),
    Field("receiver_queue_size", "rcv queue", "int"),
    Field("mode", "mode", "choice", CONSUMER_MODES),
    Field("ack", "ack", "choice", ACK_STRATEGIES),
)


def fields_for(role: str) -> tuple[Field, ...]:
    return PRODUCER_FIELDS if role == "producer" else CONSUMER_FIELDS


def current_value(field: Field, view: DashboardView) -> Any:
    """What the field shows: the live pool for rate and threads, the settings otherwise."""
    if field.name == "rate":
        return view.base_rate if view.base_rate is not None else getattr(view.settings, "rate", 0.0)
    if field.name == "threads":
        return view.threads
    return getattr(view.settings, field.name)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse(field: Field, text: str) -> Any:
    """The typed value, or ValueError with a reason fit for the field's error line."""
    text = text.strip()
    if field.kind == "int":
        try:
            return int(text.replace(",", "").replace("_", ""))
        except ValueError:
            raise ValueError(f"{field.name}: {text!r} is not a whole number") from None
    if field.kind == "float":
        try:
            return float(text.replace(",", "").replace("_", ""))
        except ValueError:
            raise ValueError(f"{field.name}: {text!r} is not a number") from None
    if field.kind == "optstr":
        return text or None
    if not text:
        raise ValueError(f"{field.name}: must not be empty")
    if field.kind == "topic":
        try:
            TopicName.parse(text, field.name)  # the settings model does not check names
        except InvalidTopicName as err:
            raise ValueError(str(err)) from None
    return text


class ConfigPanel(VerticalScroll):
    """Label and editor per field; an error line under a field when a value is refused."""

    class Apply(Message):
        """A field was edited and parsed: apply it with `controller.reconfigure`."""

        def __init__(self, panel: ConfigPanel, setting: str, value: Any) -> None:
            super().__init__()
            self.panel = panel
            self.setting = setting
            self.value = value

    def __init__(
        self,
        role: str,
        settings: ProduceSettings | ConsumeSettings,
        *,
        id: str | None = None,
        blink: bool = True,
    ) -> None:
        super().__init__(id=id)
        self.role = role
        self.fields = fields_for(role)
        self._by_name = {f.name: f for f in self.fields}
        # What each field shows now; starts from the settings the run was launched with.
        self._shown: dict[str, Any] = {f.name: getattr(settings, f.name) for f in self.fields}
        self._blink = blink
        self.border_title = "configuration · enter applies"

    def compose(self) -> ComposeResult:
        for f in self.fields:
            with Horizontal(classes="config-row"):
                yield Label(f.label, classes="config-label")
                if f.kind == "choice":
                    yield Select(
                        [(c, c) for c in f.choices],
                        value=self._shown[f.name],
                        allow_blank=False,
                        compact=True,
                        id=f"cfg-{f.name}",
                        classes="config-input",
                    )
                else:
                    field_input = Input(
                        as_text(self._shown[f.name]),
                        compact=True,
                        id=f"cfg-{f.name}",
                        classes="config-input",
                        placeholder=f.help,
                        select_on_focus=True,
                    )
                    field_input.cursor_blink = self._blink
                    yield field_input
            yield Static("", id=f"err-{f.name}", classes="config-error")

    # -- showing values -------------------------------------------------------------------------

    def sync(self, view: DashboardView) -> None:
        """Show current values in fields the user is not editing (cheap: only on change)."""
        focused = self.app.focused
        for f in self.fields:
            value = current_value(f, view)
            if self._shown.get(f.name, object()) == value:
                continue
            widget = self.query_one(f"#cfg-{f.name}")
            if widget is focused:
                continue
            if isinstance(widget, Select):
                if value in f.choices:
                    self._shown[f.name] = value
                    with widget.prevent(Select.Changed):
                        widget.value = value
            elif isinstance(widget, Input):
                if widget.has_class("-invalid"):
                    continue  # keep the refused text until the user fixes it
                self._shown[f.name] = value
                with widget.prevent(Input.Changed):
                    widget.value = as_text(value)

    def focus_first(self) -> None:
        self.query_one(f"#cfg-{self.fields[0].name}").focus()

    # -- editing -------------------------------------------------------------------------------

    def _field_of(self, widget_id: str | None) -> Field | None:
        if not widget_id or not widget_id.startswith("cfg-"):
            return None
        return self._by_name.get(widget_id[4:])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        f = self._field_of(event.input.id)
        if f is None:
            return
        try:
            value = parse(f, event.value)
        except ValueError as err:
            self.refuse(f.name, str(err))
            return
        self.post_message(self.Apply(self, f.name, value))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        f = self._field_of(event.select.id)
        if f is None or event.value == self._shown.get(f.name):
            return
        self.post_message(self.Apply(self, f.name, event.value))

    def refuse(self, name: str, reason: str) -> None:
        """Keep the edited text, mark the field, show why (the setting is unchanged)."""
        widget = self.query_one(f"#cfg-{name}")
        widget.add_class("-invalid")
        error = self.query_one(f"#err-{name}", Static)
        error.update(reason)
        error.add_class("-shown")
        if isinstance(widget, Select):
            self._shown.pop(name, None)  # show the real value again at the next sync

    def accept(self, name: str, value: Any) -> None:
        widget = self.query_one(f"#cfg-{name}")
        widget.remove_class("-invalid")
        error = self.query_one(f"#err-{name}", Static)
        error.update("")
        error.remove_class("-shown")
        self._shown[name] = value
