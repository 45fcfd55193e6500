"""The base of every metrics widget: cached lines, rebuilt only when the data or size change.

Textual's line API is the cheapest way to paint: no markup to parse and no layout pass, just a
list of strips handed to the compositor. A refresh replaces the data, drops the cache and asks
for a repaint; the lines are rebuilt once, when the widget is next painted, and only if it is
visible. That keeps the dashboard's cost to the load workers small at 10 refreshes a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from pulsarload.ui.render import Line

Cell = tuple[str, Style]


def line_of(parts: Iterable[tuple[str, Style]]) -> Line:
    return [Segment(text, style) for text, style in parts if text]


def columns_line(
    values: Sequence[tuple[str, Style]], widths: Sequence[int], aligns: str, base: Style
) -> Line:
    """A table row: each value padded or cut to its column (aligns: one of l/r per column)."""
    out: Line = []
    for (text, style), width, align in zip(values, widths, aligns, strict=False):
        if width <= 0:
            continue
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…" if width > 1 else text[:width]
        cell = text.rjust(width) if align == "r" else text.ljust(width)
        out.append(Segment(cell, style))
        out.append(Segment(" ", base))
    return out


class LinesWidget(Widget):
    """Paints `build(width, height)` lines for the data last given to `show`."""

    can_focus = False

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._data: Any = None
        self._strips: list[Strip] | None = None
        self._built_size = Size(0, 0)

    def show(self, data: Any) -> None:
        """Replace the data; the lines are rebuilt when next painted."""
        if data is self._data:
            return
        self._data = data
        self._strips = None
        self.refresh()

    def on_resize(self) -> None:
        self._strips = None

    def build(self, width: int, height: int) -> list[Line]:
        raise NotImplementedError

    def style_of(self, component: str) -> Style:
        return self.get_component_rich_style(component)

    def render_line(self, y: int) -> Strip:
        size = self.size
        if self._strips is None or size != self._built_size:
            base = self.rich_style
            lines = self.build(size.width, size.height) if self._data is not None else []
            self._strips = [Strip(line).adjust_cell_length(size.width, base) for line in lines]
            self._built_size = size
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(size.width, self.rich_style)


class LinesTable(ScrollView):
    """A read-only table painted with the line API; the header stays put while rows scroll.

    Tables are small (one row per thread or partition), so rows are built eagerly in `show`,
    which also keeps the scrollable size right without touching layout during a paint.
    """

    can_focus = False  # arrow keys belong to the rate; the mouse wheel scrolls

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._data: Any = None
        self._rows: list[Line] = []
        self._header: Line = []

    def show(self, data: Any) -> None:
        if data is self._data:
            return
        self._data = data
        self._rebuild()

    def on_resize(self) -> None:
        self._rebuild()

    def build_table(self, width: int) -> tuple[Line, list[Line]]:
        raise NotImplementedError

    def _rebuild(self) -> None:
        width = self.scrollable_content_region.width
        if self._data is None or width <= 0:
            self._header, self._rows = [], []
        else:
            self._header, self._rows = self.build_table(width)
        size = Size(width, len(self._rows) + 1)
        if self.virtual_size != size:
            self.virtual_size = size
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return Strip(self._header).adjust_cell_length(width, base)
        index = self.scroll_offset.y + y - 1
        if 0 <= index < len(self._rows):
            return Strip(self._rows[index]).adjust_cell_length(width, base)
        return Strip.blank(width, base)
