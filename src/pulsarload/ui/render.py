"""Pure drawing: numbers to text, series to bar charts, sparklines and heatmaps.

No Textual here: every function takes plain data and Rich styles and returns lines of
`Segment`s, so drawing is cheap to test and the widgets only cache and paint the result. The
widgets call these at most once per refresh (100 ms) and only for what is on screen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style

Line = list[Segment]

BARS = " ▁▂▃▄▅▆▇█"
SPARKS = "▁▂▃▄▅▆▇█"
TARGET_GLYPH = "╌"
GAP_GLYPH = "░"
UPPER_HALF = "▀"


# -- numbers ---------------------------------------------------------------------------------


def fmt_count(n: float) -> str:
    """A count with thousands separators (exact: totals must be readable digit by digit)."""
    return f"{n:,.0f}"


def fmt_si(x: float, digits: int = 3) -> str:
    """A short number for axes and tight cells: 950, 1.23k, 45.6k, 1.20M."""
    ax = abs(x)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if ax >= limit:
            v = x / limit
            return f"{v:.{max(0, digits - len(str(int(abs(v)))))}f}{suffix}"
    if ax >= 100 or x == int(x):
        return f"{x:.0f}"
    return f"{x:.1f}"


def fmt_rate(x: float) -> str:
    """msg/s for cells: exact below 100k, short above (the column stays narrow)."""
    return fmt_count(x) if abs(x) < 100_000 else fmt_si(x)


def fmt_us(us: float) -> str:
    """A latency given in microseconds, in the unit that keeps three significant digits."""
    if us <= 0:
        return "0"
    if us < 1000:
        return f"{us:.0f}µs"
    ms = us / 1000
    if ms < 10:
        return f"{ms:.2f}ms"
    if ms < 100:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 10_000:
        return f"{ms / 1000:.2f}s"
    return f"{ms / 1000:.1f}s"


def fmt_ms(us: float) -> str:
    """A latency in milliseconds without a unit (tables whose header names the unit)."""
    ms = us / 1000
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 1000:
        return f"{ms:.1f}"
    return f"{ms:,.0f}"


def fmt_bytes(n: float) -> str:
    for limit, unit in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= limit:
            return f"{n / limit:.1f} {unit}"
    return f"{n:.0f} B"


def fmt_edge(us: int) -> str:
    """A heatmap row label of at most 5 cells: the upper edge of a latency bucket."""
    if us < 1000:
        return f"{us}µs"
    if us < 1_000_000:
        v = us / 1000
        return f"{v:.0f}ms" if v >= 10 else f"{v:.1f}ms"
    return f"{us / 1e6:.0f}s" if us >= 10_000_000 else f"{us / 1e6:.1f}s"


def nice_ceiling(x: float) -> float:
    """The next 1/1.2/1.5/2/2.5/3/4/5/6/8 x 10^n at or above x (axis tops that read well)."""
    if x <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(x))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= x:
            return m * exp
    return 10 * exp  # pragma: no cover - the loop always returns


# -- series to columns ------------------------------------------------------------------------


class TimeSlots:
    """Points folded into fixed time slots; a refresh costs only the points not seen before.

    Slot k covers elapsed seconds [k*w, (k+1)*w) with w = span / columns: slots are anchored
    to time, not to "now", so a column keeps its value while the graph scrolls (no re-bucketing
    shimmer, no rework). `how`: "mean" of floats, "max" of floats, or "sum" of count tuples.
    A time going backwards (metrics reset) starts over.
    """

    def __init__(self, span: float, columns: int, how: str = "mean") -> None:
        self.columns = max(1, columns)
        self.width = span / self.columns
        self.how = how
        self._slots: dict[int, Any] = {}
        self._last = -math.inf

    def feed(
        self, points: Sequence[Any], time_of: Callable[[Any], float], value_of: Callable[[Any], Any]
    ) -> None:
        """Fold in the points (ascending in time) newer than the last one fed."""
        n = len(points)
        if not n:
            return
        newest = time_of(points[-1])
        if newest < self._last:
            self._slots.clear()
            self._last = -math.inf
        start = n
        while start > 0 and time_of(points[start - 1]) > self._last:
            start -= 1
        width = self.width
        slots = self._slots
        how = self.how
        for i in range(start, n):
            p = points[i]
            k = int(time_of(p) // width)
            v = value_of(p)
            acc = slots.get(k)
            if how == "mean":
                if acc is None:
                    slots[k] = [v, 1]
                else:
                    acc[0] += v
                    acc[1] += 1
            elif how == "max":
                if acc is None or v > acc:
                    slots[k] = v
            elif acc is None:
                slots[k] = list(v)
            else:
                for r, c in enumerate(v):
                    if c:
                        acc[r] += c
        self._last = newest

    def values(self, now: float) -> list[Any]:
        """One value per column, oldest first, the newest slot holding `now`; None: no points."""
        last = int(now // self.width)
        first = last - self.columns + 1
        slots = self._slots
        for k in [k for k in slots if k < first]:
            del slots[k]
        if self.how == "mean":
            out: list[Any] = []
            for k in range(first, last + 1):
                acc = slots.get(k)
                out.append(None if acc is None else acc[0] / acc[1])
            return out
        return [slots.get(k) for k in range(first, last + 1)]


# -- bar chart with target and gap -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChartStyles:
    """Rich styles the widget takes from its component classes in the .tcss theme."""

    base: Style
    ok: Style  # actual at or above 95 % of the target (or no target)
    warn: Style  # 80 to 95 %
    bad: Style  # below 80 %
    target: Style
    gap: Style
    axis: Style


def gap_style(actual: float, target: float | None, styles: ChartStyles) -> Style:
    if not target:
        return styles.ok
    ratio = actual / target
    if ratio >= 0.95:
        return styles.ok
    return styles.warn if ratio >= 0.8 else styles.bad


def bar_chart(
    actual: Sequence[float | None],
    target: Sequence[float | None] | None,
    height: int,
    top: float,
    styles: ChartStyles,
) -> list[Line]:
    """Columns of eighth-blocks for `actual`, a dashed `target` line, and the gap shaded.

    Each column is coloured by how close it came to its target (ok / warn / bad); the cells
    between a bar that fell short and its target are filled with a shade, so a gap shows as
    an area, not only as a number. Columns with no data stay blank.
    """
    width = len(actual)
    if height <= 0 or width <= 0:
        return []
    eighths = height * 8
    scale = eighths / top if top > 0 else 0.0
    grid: list[list[tuple[str, Style]]] = [[(" ", styles.base)] * width for _ in range(height)]
    for c in range(width):
        a = actual[c]
        t = target[c] if target is not None else None
        if a is None:
            continue
        a_h = min(eighths, round(a * scale))
        t_row = -1
        if t:  # 0 means "as fast as possible": no target line
            t_row = min(height - 1, int(min(eighths - 1, t * scale) // 8))
        style = gap_style(a, t, styles)
        short = style is not styles.ok  # shade the gap only when the column fell short
        bar_top_row = (a_h - 1) // 8 if a_h > 0 else -1
        for r in range(height):  # r = 0 is the bottom row
            fill = a_h - r * 8
            y = height - 1 - r
            if fill >= 8:
                grid[y][c] = ("█", style)
            elif fill > 0:
                grid[y][c] = (BARS[fill], style)
            elif r == t_row:
                grid[y][c] = (TARGET_GLYPH, styles.target)
            elif short and bar_top_row < r < t_row:
                grid[y][c] = (GAP_GLYPH, styles.gap)
    return [_join(row) for row in grid]


def _join(cells: Sequence[tuple[str, Style]]) -> Line:
    """Merge neighbouring cells of the same style into one segment (fewer segments to paint)."""
    out: Line = []
    text: list[str] = []
    style: Style | None = None
    for ch, st in cells:
        if st is not style and st != style:
            if text:
                out.append(Segment("".join(text), style))
            text, style = [ch], st
        else:
            text.append(ch)
    if text:
        out.append(Segment("".join(text), style))
    return out


def axis_labels(top: float, height: int, width: int) -> list[str]:
    """Right-aligned y-axis labels: the top value, the middle, and 0 at the bottom."""
    labels = [""] * height
    if height <= 0:
        return labels
    labels[0] = fmt_si(top)
    if height >= 5:  # the row that holds half the top value
        labels[height - 1 - height // 2] = fmt_si(top / 2)
    labels[-1] = "0"
    return [s.rjust(width)[:width] for s in labels]


# -- sparkline -------------------------------------------------------------------------------


def sparkline(values: Sequence[float | None], style: Style, base: Style) -> Line:
    """One row of eighth-blocks scaled to the series' own maximum (a trend, not a level)."""
    present = [v for v in values if v is not None]
    top = max(present) if present else 0.0
    cells: list[tuple[str, Style]] = []
    for v in values:
        if v is None:
            cells.append((" ", base))
        else:
            k = 0 if top <= 0 else min(7, int(v / top * 7.999))
            cells.append((SPARKS[k], style))
    return _join(cells)


# -- heatmap ---------------------------------------------------------------------------------


def heat_rows(
    columns: Sequence[Sequence[int] | None], slots: int, nrows: int
) -> tuple[int, int, int]:
    """Which latency rows to show in `slots` half-lines: (first row, rows per slot, last row).

    Centred on the rows that hold data; adjacent rows merge when the data spans more rows
    than there is room for.
    """
    lo, hi = nrows, -1
    for col in columns:
        if col is None:
            continue
        for r, n in enumerate(col):
            if n:
                lo = min(lo, r)
                hi = max(hi, r)
    if hi < 0:
        lo, hi = 6, 9  # ~1 ms to 8 ms: an empty map still shows a plausible range
    span = hi - lo + 1
    per = max(1, math.ceil(span / slots))
    shown = slots * per
    first = max(0, min(lo - (shown - span) // 2, nrows - shown))
    return first, per, min(nrows - 1, first + shown - 1)


def heatmap(
    columns: Sequence[Sequence[int] | None],
    edges: Sequence[int],
    height: int,
    levels: Sequence[Style],
    base: Style,
    axis: Style,
    label_width: int = 5,
) -> list[Line]:
    """Time left to right, latency bottom (fast) to top (slow); two buckets per text row.

    Colour is the log of the count relative to the busiest cell, in len(levels) steps; an
    empty cell shows the background, so "no data" and "few" never look alike.
    """
    if height <= 0:
        return []
    nrows = len(edges) + 1
    first, per, _last = heat_rows(columns, height * 2, nrows)
    width = len(columns)
    # Merge rows into display slots once per column.
    slot_counts: list[list[int] | None] = []
    peak = 0
    for col in columns:
        if col is None:
            slot_counts.append(None)
            continue
        slots = [0] * (height * 2)
        for s in range(height * 2):
            lo = first + s * per
            slots[s] = sum(col[lo : lo + per]) if lo < nrows else 0
        peak = max(peak, max(slots))
        slot_counts.append(slots)
    log_peak = math.log1p(peak) if peak else 1.0
    nlev = len(levels)
    colours = [lv.color for lv in levels]
    # One Style object per (upper, lower) pair: equal cells share a style, so neighbours merge
    # into one segment and the compositor's style caches hit.
    cell_styles: dict[tuple[int, int], tuple[str, Style]] = {}

    def level(n: int) -> int:
        if n <= 0:
            return -1
        return min(nlev - 1, int(math.log1p(n) / log_peak * nlev))

    def cell(upper_n: int, lower_n: int) -> tuple[str, Style]:
        key = (level(upper_n), level(lower_n))
        found = cell_styles.get(key)
        if found is None:
            up, low = key
            if up < 0 and low < 0:
                found = (" ", base)
            elif up < 0:
                found = ("▄", base + Style(color=colours[low]))
            else:
                found = (
                    UPPER_HALF,
                    base + Style(color=colours[up], bgcolor=colours[low] if low >= 0 else None),
                )
            cell_styles[key] = found
        return found

    lines: list[Line] = []
    for y in range(height):
        upper = (height - 1 - y) * 2 + 1  # slot index of the top half of this text row
        lower = upper - 1
        row_top = first + upper * per + per - 1
        if y % 2 == 0 and row_top < nrows:
            label = (
                (">" + fmt_edge(edges[-1])) if row_top >= len(edges) else fmt_edge(edges[row_top])
            )
        else:
            label = ""
        cells: list[tuple[str, Style]] = [
            (ch, axis) for ch in label.rjust(label_width)[:label_width]
        ]
        cells.append((" ", base))
        blank = (" ", base)
        for c in range(width):
            slots = slot_counts[c]
            cells.append(blank if slots is None else cell(slots[upper], slots[lower]))
        lines.append(_join(cells))
    return lines
