"""The graphs: throughput against target, latency numbers with trends, latency heatmap."""

from __future__ import annotations

from textual.content import Content

from pulsarload.ui.render import (
    ChartStyles,
    Line,
    axis_labels,
    bar_chart,
    bucket,
    bucket_heat,
    fmt_rate,
    fmt_us,
    heatmap,
    nice_ceiling,
    sparkline,
)
from pulsarload.ui.view import SPAN_S, DashboardView
from pulsarload.ui.widgets.base import LinesWidget, columns_line, line_of

AXIS_W = 6
RECENT_POINTS = 10  # the gap compares the last second (10 x 100 ms) with the target


def recent_mean(values: tuple[float, ...], n: int = RECENT_POINTS) -> float | None:
    tail = values[-n:]
    return sum(tail) / len(tail) if tail else None


def gap_text(actual: float | None, target: float | None) -> Content:
    """`1,234/s of 1,500 ▼17.7%` with the gap coloured like the bars (ok / warn / bad)."""
    if actual is None:
        return Content("waiting for data")
    if target is None:
        return Content.from_markup("[b]$rate[/b]", rate=fmt_rate(actual))
    if not target:
        return Content.from_markup("[b]$rate[/b] (as fast as possible)", rate=fmt_rate(actual))
    ratio = actual / target
    if ratio >= 0.95:
        colour, sign = "$success", "✔"
    elif ratio >= 0.8:
        colour, sign = "$warning", "▼"
    else:
        colour, sign = "$error", "▼"
    gap_s = f"{sign} on target" if sign == "✔" else f"{sign}{1.0 - ratio:.0%} short"
    return Content.from_markup(
        f"[b]$rate[/b] of $target [{colour}]$gap[/]",
        rate=fmt_rate(actual),
        target=fmt_rate(target),
        gap=gap_s,
    )


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
                status = Content.from_markup("[$warning]paused[/]")
            else:
                status = gap_text(recent_mean(s.actual), data.target)
            self.border_title = Content.assemble(f"{label} ", status)
        super().show(data)

    def build(self, width: int, height: int) -> list[Line]:
        view: DashboardView = self._data
        s = view.series
        cols = width - AXIS_W - 1
        if cols < 4 or height < 1:
            return []
        now = view.elapsed
        actual = bucket(s.times, s.actual, now, SPAN_S, cols)
        target = bucket(s.times, s.target, now, SPAN_S, cols) if s.target is not None else None
        peak = max((v for v in actual if v is not None), default=0.0)
        if target is not None:
            peak = max(peak, max((v for v in target if v is not None), default=0.0))
        top = nice_ceiling(peak * 1.05)
        base = self.rich_style
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

    ROWS = (
        ("p50", "p50", "p50"),
        ("p95", "p95", None),  # the rolling window keeps no p95: numbers only
        ("p99", "p99", "p99"),
        ("p99.9", "p99_9", "p99_9"),
        ("max", "max", "max"),
    )

    def show(self, data: DashboardView) -> None:
        if data is not self._data:
            self.border_title = "publish latency" if data.producer else "end-to-end latency"
        super().show(data)

    def build(self, width: int, height: int) -> list[Line]:
        view: DashboardView = self._data
        head = self.style_of("latency--head")
        label = self.style_of("latency--label")
        value = self.style_of("latency--value")
        trend = self.style_of("latency--trend")
        dim = self.style_of("latency--dim")
        base = self.rich_style
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
        for name, stat, series in self.ROWS:
            now = fmt_us(getattr(view.latency_now, stat)) if view.latency_now.count else "–"
            run = fmt_us(getattr(view.latency_run, stat)) if view.latency_run.count else "–"
            row = columns_line([(name, label), (now, value), (run, dim)], widths, "rrr", base)
            if series is not None and trend_w > 0:
                values = bucket(
                    s.times, s.trends.get(series, ()), view.elapsed, SPAN_S, trend_w, how="max"
                )
                row += sparkline(values, trend, base)
            lines.append(row)
        if not view.producer and height > len(lines):
            proc_now, proc_run = view.processing_now, view.processing_run
            lines.append(
                columns_line(
                    [
                        ("proc", label),
                        (fmt_us(proc_now.p99), value),
                        (fmt_us(proc_run.p99), dim),
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
                        (fmt_us(view.send_delay_run.p99), dim),
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

    def show(self, data: DashboardView) -> None:
        if data is not self._data and self.border_title is None:
            self.border_title = "latency heatmap · 60 s"
        super().show(data)

    def build(self, width: int, height: int) -> list[Line]:
        view: DashboardView = self._data
        s = view.series
        label_w = 5
        cols = width - label_w - 1
        if cols < 2:
            return []
        columns = bucket_heat(s.times, s.heat, view.elapsed, SPAN_S, cols)
        levels = [self.style_of(f"heatmap--{i}") for i in range(1, 7)]
        return heatmap(
            columns,
            s.edges,
            height,
            levels,
            self.rich_style,
            self.style_of("heatmap--axis"),
            label_w,
        )
