"""The base of every metrics widget: lines built from data, and only changed lines repainted.

Textual's line API is the cheapest way to paint: no markup to parse and no layout pass, just
strips handed to the compositor. On each refresh a widget builds its lines from the new data
and compares them with the lines on screen; only the rows that differ are marked dirty, so the
compositor re-renders a few rows instead of the whole dashboard. A widget that is not on screen
(the config panel hides some on small terminals) builds nothing until it is painted again.
This keeps the dashboard's cost to the load workers small at 10 refreshes a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.content import Content
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from pulsarload.ui.render import Line


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


def changed_rows(old: Sequence[Strip], new: Sequence[Strip]) -> list[tuple[int, int]]:
    """(first, count) runs of rows that differ between two equally long lists of strips."""
    runs: list[tuple[int, int]] = []
    start = -1
    for y, (a, b) in enumerate(zip(old, new, strict=True)):
        if a != b:
            if start < 0:
                start = y
        elif start >= 0:
            runs.append((start, y - start))
            start = -1
    if start >= 0:
        runs.append((start, len(new) - start))
    return runs


class StyleCache:
    """Component styles from the .tcss theme, looked up once (until the styles change)."""

    _styles: dict[str, Style]

    def style_of(self: Any, component: str) -> Style:
        style = self._styles.get(component)
        if style is None:
            style = self._styles[component] = self.get_component_rich_style(component)
        return style

    @property
    def base_style(self: Any) -> Style:
        style = self._styles.get("")
        if style is None:
            style = self._styles[""] = self.rich_style
        return style

    def set_title(self: Any, title: str | Content) -> None:
        """Set the border title only when it changes (setting it repaints the whole widget)."""
        key = title if isinstance(title, str) else (title.plain, tuple(title.spans))
        if getattr(self, "_title_key", None) != key:
            self._title_key = key
            self.border_title = title


class LinesWidget(StyleCache, Widget):
    """Paints `build(width, height)` lines for the data last given to `show`."""

    can_focus = False

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._data: Any = None
        self._strips: list[Strip] | None = None
        self._built_size = Size(0, 0)
        self._styles: dict[str, Style] = {}

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips = None

    def on_resize(self) -> None:
        self._strips = None

    def build(self, width: int, height: int) -> list[Line]:
        raise NotImplementedError

    def show(self, data: Any) -> None:
        """Take new data; repaint the rows that change (or everything, when first shown)."""
        if data is self._data:
            return
        self._data = data
        size = self.size
        if self._strips is None or size != self._built_size or not self.is_on_screen:
            self._strips = None  # built when next painted
            self.refresh()
            return
        old = self._strips
        new = self._make_strips(size)
        self._strips = new
        for y, count in changed_rows(old, new):
            self.refresh(Region(0, y, size.width, count))

    def _make_strips(self, size: Size) -> list[Strip]:
        base = self.base_style
        lines = self.build(size.width, size.height) if self._data is not None else []
        strips = [Strip(line).adjust_cell_length(size.width, base) for line in lines[: size.height]]
        if len(strips) < size.height:
            strips += [Strip.blank(size.width, base)] * (size.height - len(strips))
        self._built_size = size
        return strips

    def render_line(self, y: int) -> Strip:
        size = self.size
        if self._strips is None or size != self._built_size:
            self._strips = self._make_strips(size)
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(size.width, self.base_style)


class LinesTable(StyleCache, ScrollView):
    """A read-only table painted with the line API; the header stays put while rows scroll.

    Tables are small (one row per thread or partition), so rows are built eagerly in `show`,
    which also keeps the scrollable size right without touching layout during a paint.
    """

    can_focus = False  # arrow keys belong to the rate; the mouse wheel scrolls

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._data: Any = None
        self._rows: list[Strip] = []
        self._header = Strip([])
        self._styles: dict[str, Style] = {}

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def show(self, data: Any) -> None:
        if data is self._data:
            return
        self._data = data
        self._rebuild()

    def on_resize(self) -> None:
        self._rebuild(full=True)

    def build_table(self, width: int) -> tuple[Line, list[Line]]:
        raise NotImplementedError

    def table_styles(self, *names: str) -> list[Style]:
        """The styles of the `table--<name>` components, in the order named."""
        return [self.style_of(f"table--{name}") for name in names]

    def note_line(self, text: str, style: Style, width: int) -> Line:
        """A row that is one note across the whole table (an empty table, an error)."""
        return columns_line([(text, style)], [width], "l", self.base_style)

    def _rebuild(self, full: bool = False) -> None:
        width = self.scrollable_content_region.width
        base = self.base_style
        if self._data is None or width <= 0:
            header, rows = [], []
        else:
            header, rows = self.build_table(width)
        old_header, old_rows = self._header, self._rows
        self._header = Strip(header).adjust_cell_length(width, base)
        self._rows = [Strip(r).adjust_cell_length(width, base) for r in rows]
        size = Size(width, len(self._rows) + 1)
        if self.virtual_size != size:
            self.virtual_size = size
            full = True
        if full or not self.is_on_screen or len(old_rows) != len(self._rows):
            self.refresh()
            return
        if old_header != self._header:
            self.refresh(Region(0, 0, width, 1))
        top = self.scroll_offset.y
        for first, count in changed_rows(old_rows, self._rows):
            y = first - top + 1  # screen row of the first changed table row
            self.refresh(Region(0, max(1, y), width, count))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header
        index = self.scroll_offset.y + y - 1
        if 0 <= index < len(self._rows):
            return self._rows[index]
        return Strip.blank(width, self.base_style)
