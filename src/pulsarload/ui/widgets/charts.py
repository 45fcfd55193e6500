"""The graphs: throughput against target, latency numbers with trends, latency heatmap.

Each graph keeps `TimeSlots` per series and feeds them only the points that arrived since the
last paint, so a refresh costs a handful of points, not the whole minute.
"""

from __future__ import annotations

from operator import attrgetter

from textual.content import Content

from pulsarload.ui.render import (
    ChartStyles,
    Line,
    TimeSlots,
    axis_labels,
    bar_chart,
    fmt_rate,
    fmt_us,
    heatmap,
    nice_ceiling,
    sparkline,
)
from pulsarload.ui.view import SPAN_S, DashboardView, target_at
from pulsarload.ui.widgets.base import LinesWidget, columns_line, line_of

elapsed_of = attrgetter("elapsed")

AXIS_W = 6
TRENDS = ("p50", "p95", "p99", "p99_9", "max")
HEATMAP_EVERY_S = 1.0  # the window keeps these per point (it has no p95)


def gap_text(actual: float | None, target: float | None) -> Content:
    """`1,234 of 1,500 ▼18% short`, the gap coloured like the bars (ok / warn / bad)."""
    if actual is None:
        return Content("waiting for data")
    rate = (fmt_rate(actual), "bold")
    if target is None:
        return Content.assemble(rate)
    if not target:
        return Content.assemble(rate, " (as fast as possible)")
    ratio = actual / target
    if ratio >= 0.95:
        gap = ("✔ on target", "$success")
    else:
        gap = (f"▼{1.0 - ratio:.0%} short", "$warning" if ratio >= 0.8 else "$error")
    return Content.assemble(rate, f" of {fmt_rate(target)} ", gap)


class RateChart(LinesWidget):
    """Messages per second over the last 60 s; producer: the target line and the gap shaded."""

    COMPONENT_CLASSES = {
        "chart--ok",
        "chart--warn",
        "chart--bad",
        "chart--target",
        "chart--gap",
        "chart--axis",
        "chart--second",
    }

    def show(self, data: DashboardView) -> None:
        if data is not self._data:
            s = data.series
            label = "acked/s" if data.producer else "received/s"
            if data.state == "paused":
                status = Content.assemble(("paused", "$warning"))
            else:
                status = gap_text(data.rate if s.points else None, data.target)
            self.set_title(Content.assemble(f"{label} ", status))
        super().show(data)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._actual: TimeSlots | None = None
        self._target: TimeSlots | None = None

    def build(self, width: int, height: int) -> list[Line]:
        view: DashboardView = self._data
        s = view.series
        cols = width - AXIS_W - 1
        if cols < 4 or height < 1:
            return []
        if self._actual is None or self._actual.columns != cols:
            self._actual = TimeSlots(SPAN_S, cols, "mean")
            self._target = TimeSlots(SPAN_S, cols, "mean")
        key = s.rate_key
        self._actual.feed(s.points, elapsed_of, lambda p: p.rates[key])
        actual = self._actual.values(view.elapsed)
        target = None
        steps = s.target_steps
        if steps is not None and self._target is not None:
            self._target.feed(s.points, elapsed_of, lambda p: target_at(steps, p.elapsed))
            target = self._target.values(view.elapsed)
        peak = max((v for v in actual if v is not None), default=0.0)
        if target is not None:
            peak = max(peak, max((v for v in target if v is not None), default=0.0))
        top = nice_ceiling(peak * 1.05)
        base = self.base_style
        styles = ChartStyles(
            base=base,
            ok=self.style_of("chart--ok"),
            warn=self.style_of("chart--warn"),
            bad=self.style_of("chart--bad"),
            target=self.style_of("chart--target"),
            gap=self.style_of("chart--gap"),
            axis=self.style_of("chart--axis"),
        )
        if not view.producer:
            styles = ChartStyles(
                base, styles.ok, styles.ok, styles.ok, styles.target, styles.gap, styles.axis
            )
        bars = bar_chart(actual, target, height, top, styles)
        labels = axis_labels(top, height, AXIS_W)
        return [
            line_of([(labels[y], styles.axis), ("│", styles.axis)]) + bars[y] for y in range(height)
        ]


class LatencyPanel(LinesWidget):
    """P50/P95/P99/P99.9/max now (last interval) and over the run, with 60 s trend lines."""

    COMPONENT_CLASSES = {
        "latency--head",
        "latency--label",
        "latency--value",
        "latency--trend",
        "latency--dim",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._trend_w = -1
        self._trends: dict[str, TimeSlots] = {}

    ROWS = (
        ("p50", "p50", "p50"),
        ("p95", "p95", "p95"),
        ("p99", "p99", "p99"),
        ("p99.9", "p99_9", "p99_9"),
        ("max", "max", "max"),
    )

    def show(self, data: DashboardView) -> None:
        if data is not self._data:
            self.set_title("publish latency" if data.producer else "end-to-end latency")
        super().show(data)

    def build(self, width: int, height: int) -> list[Line]:
        view: DashboardView = self._data
        head = self.style_of("latency--head")
        label = self.style_of("latency--label")
        value = self.style_of("latency--value")
        trend = self.style_of("latency--trend")
        dim = self.style_of("latency--dim")
        base = self.base_style
        widths = [6, 8, 8]
        trend_w = max(0, width - sum(widths) - len(widths))
        lines: list[Line] = [
            columns_line(
                [("", head), ("now", head), ("run", head), ("trend · 60 s"[:trend_w], head)],
                [*widths, trend_w],
                "rrrl",
                base,
            )
        ]
        s = view.series
        if self._trend_w != trend_w:
            self._trends = (
                {f: TimeSlots(SPAN_S, trend_w, "max") for f in TRENDS} if trend_w > 0 else {}
            )
            self._trend_w = trend_w
        kind = s.kind
        for figure, slots in self._trends.items():
            slots.feed(s.points, elapsed_of, lambda p, f=figure: p.latency[kind][f])
        for name, stat, trend_key in self.ROWS:
            now = fmt_us(getattr(view.latency_now, stat)) if view.latency_now.count else "–"
            run = fmt_us(getattr(view.latency_run, stat)) if view.latency_run.count else "–"
            row = columns_line([(name, label), (now, value), (run, dim)], widths, "rrr", base)
            if trend_key is not None and trend_key in self._trends:
                row += sparkline(self._trends[trend_key].values(view.elapsed), trend, base)
            lines.append(row)
        if not view.producer and height > len(lines):
            proc_now, proc_run = view.processing_now, view.processing_run
            lines.append(
                columns_line(
                    [
                        ("proc", label),
                        (fmt_us(proc_now.p99) if proc_now.count else "–", value),
                        (fmt_us(proc_run.p99) if proc_run.count else "–", dim),
                        ("p99 receive→ack", dim),
                    ],
                    [*widths, trend_w],
                    "rrrl",
                    base,
                )
            )
        elif view.producer and height > len(lines):
            lines.append(
                columns_line(
                    [
                        ("delay", label),
                        ("", value),
                        (
                            fmt_us(view.send_delay_run.p99) if view.send_delay_run.count else "–",
                            dim,
                        ),
                        ("p99 behind schedule", dim),
                    ],
                    [*widths, trend_w],
                    "rrrl",
                    base,
                )
            )
        return lines[:height]


class HeatmapPanel(LinesWidget):
    """Latency over time: columns are time slots, rows are log2 latency buckets."""

    COMPONENT_CLASSES = {f"heatmap--{i}" for i in range(1, 7)} | {"heatmap--axis"}

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._slots: TimeSlots | None = None

    def show(self, data: DashboardView) -> None:
        self.set_title("latency heatmap · 60 s")
        last = self._data
        if (
            last is not None
            and self._strips is not None
            and 0 <= data.elapsed - last.elapsed < HEATMAP_EVERY_S
        ):
            return  # a heatmap changes slowly: redraw it once a second, not ten times
        super().show(data)

    def build(self, width: int, height: int) -> list[Line]:
        view: DashboardView = self._data
        s = view.series
        label_w = 5
        cols = width - label_w - 1
        if cols < 2:
            return []
        if self._slots is None or self._slots.columns != cols:
            self._slots = TimeSlots(SPAN_S, cols, "sum")
        kind = s.kind
        self._slots.feed(s.points, elapsed_of, lambda p: p.heat[kind])
        columns = self._slots.values(view.elapsed)
        levels = [self.style_of(f"heatmap--{i}") for i in range(1, 7)]
        return heatmap(
            columns,
            s.edges,
            height,
            levels,
            self.base_style,
            self.style_of("heatmap--axis"),
            label_w,
        )
