"""The consumer's messages panel (`m`): a sample of received messages, newest last.

The consumer workers sample at most one message per thread every half second (load/peek.py);
this panel only draws those immutable samples, so opening it costs the hot path nothing more.
"""

from __future__ import annotations

import time

from pulsarload.ui.render import Line
from pulsarload.ui.view import DashboardView
from pulsarload.ui.widgets.base import LinesTable, columns_line


def _clock(ms: int) -> str:
    if not ms:
        return "–"
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000)) + f".{ms % 1000:03d}"


class MessagesTable(LinesTable):
    """id, key, properties, publish and event time, redeliveries, size, payload preview."""

    COMPONENT_CLASSES = {"table--head", "table--cell", "table--dim", "table--warn"}

    def show(self, data: DashboardView) -> None:
        if data is not self._data:
            self.set_title(f"messages · a sample of {len(data.samples)} (m hides)")
        super().show(data)

    def build_table(self, width: int) -> tuple[Line, list[Line]]:
        view: DashboardView = self._data
        base = self.base_style
        head, cell, dim, warn = self.table_styles("head", "cell", "dim", "warn")
        names = ["message id", "key", "properties", "published", "event", "redel", "size"]
        widths = [14, 10, 14, 12, 12, 5, 7, 0]
        widths[-1] = max(8, width - sum(widths) - len(widths))
        aligns = "lllllrrl"
        header = columns_line([(n, head) for n in [*names, "payload"]], widths, aligns, base)
        rows = []
        for s in reversed(view.samples):  # newest first
            props = ",".join(f"{k}={v}" for k, v in s.properties) or "–"
            values = [
                (s.message_id, cell),
                (s.key or "–", cell if s.key else dim),
                (props, cell if s.properties else dim),
                (_clock(s.publish_time_ms), cell),
                (_clock(s.event_time_ms), cell if s.event_time_ms else dim),
                (str(s.redelivery_count), warn if s.redelivery_count else dim),
                (str(s.size), cell),
                (f"{s.preview_kind}: {s.preview}", cell if s.preview_kind == "text" else dim),
            ]
            rows.append(columns_line(values, widths, aligns, base))
        if not rows:
            rows.append(self.note_line("no message received yet", dim, width))
        return header, rows
