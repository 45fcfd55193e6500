"""Every dashboard action in one table: keys, footer label, help text and roles.

The key bindings, the footer, the `?` help overlay and the command palette are all generated
from this table, so a key can never be bound but undocumented, or listed but not bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

BOTH = ("producer", "consumer")


@dataclass(frozen=True, slots=True)
class DashboardAction:
    action: str  # the App's action_<name>
    keys: str  # Textual key names, comma separated
    key_display: str  # how the help overlay and footer show the keys
    label: str  # short footer label
    help: str  # one line for the help overlay and the command palette
    roles: tuple[str, ...] = BOTH
    footer: bool = False
    priority: bool = False  # bound even while a config field has focus


ACTIONS: tuple[DashboardAction, ...] = (
    DashboardAction("help", "question_mark,f1", "? F1", "Help", "Show every key", footer=True),
    DashboardAction(
        "add_thread", "plus,equals_sign", "+", "Threads", "Add a worker thread", footer=True
    ),
    DashboardAction(
        "remove_thread",
        "minus",
        "-",
        "Thread−",
        "Remove the newest worker thread (it flushes first)",
    ),
    DashboardAction(
        "toggle_pause", "space", "space", "Pause", "Pause or resume the load", footer=True
    ),
    DashboardAction(
        "rate_up",
        "up",
        "↑",
        "Rate",
        "Raise the target rate by the fine step",
        ("producer",),
        footer=True,
    ),
    DashboardAction(
        "rate_down", "down", "↓", "Rate−", "Lower the target rate by the fine step", ("producer",)
    ),
    DashboardAction(
        "rate_up_coarse",
        "shift+up,pageup",
        "⇧↑ PgUp",
        "Rate++",
        "Raise the target rate by the coarse step",
        ("producer",),
    ),
    DashboardAction(
        "rate_down_coarse",
        "shift+down,pagedown",
        "⇧↓ PgDn",
        "Rate−−",
        "Lower the target rate by the coarse step",
        ("producer",),
    ),
    DashboardAction(
        "burst",
        "b",
        "b",
        "Burst",
        "Burst: multiply the target rate for a while (b again ends it early)",
        ("producer",),
    ),
    DashboardAction(
        "cycle_ack",
        "a",
        "a",
        "Ack",
        "Cycle the ack strategy (restarts consumers)",
        ("consumer",),
        footer=True,
    ),
    DashboardAction(
        "seek",
        "s",
        "s",
        "Seek",
        "Seek: message id, timestamp, earliest or latest",
        ("consumer",),
        footer=True,
    ),
    DashboardAction(
        "toggle_messages",
        "m",
        "m",
        "Messages",
        "Show or hide a sample of received messages (id, key, properties, payload)",
        ("consumer",),
    ),
    DashboardAction("reset", "r", "r", "Reset", "Reset the metrics: totals, graphs, histograms"),
    DashboardAction(
        "export",
        "e",
        "e",
        "Export",
        "Export a snapshot now: JSON, plus the CSV series",
        footer=True,
    ),
    DashboardAction(
        "toggle_config",
        "c",
        "c",
        "Config",
        "Edit the configuration (esc leaves, esc again hides)",
        footer=True,
    ),
    DashboardAction(
        "quit",
        "q,ctrl+q,ctrl+c",
        "q ^c",
        "Quit",
        "Stop cleanly: flush, close, print a summary (again while stopping: abort, exit 130)",
        footer=True,
    ),
)


def actions_for(role: str) -> tuple[DashboardAction, ...]:
    return tuple(a for a in ACTIONS if role in a.roles)


def bindings_for(role: str) -> list[Binding]:
    return [
        Binding(
            a.keys,
            a.action,
            a.label,
            show=a.footer,
            key_display=a.key_display.split()[0],
            priority=a.priority,
        )
        for a in actions_for(role)
    ]
