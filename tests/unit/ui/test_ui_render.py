"""Pure drawing: number formats, time bucketing, the bar chart's gap, heatmap rows."""

from __future__ import annotations

from rich.style import Style

from pulsarload.ui.render import (
    GAP_GLYPH,
    TARGET_GLYPH,
    ChartStyles,
    TimeSlots,
    bar_chart,
    fmt_edge,
    fmt_ms,
    fmt_rate,
    fmt_si,
    fmt_us,
    heat_rows,
    heatmap,
    nice_ceiling,
    sparkline,
)

BASE = Style()
STYLES = ChartStyles(
    base=BASE,
    ok=Style(color="green"),
    warn=Style(color="yellow"),
    bad=Style(color="red"),
    target=Style(color="blue"),
    gap=Style(color="magenta"),
    axis=Style(dim=True),
)


def text(line: list) -> str:
    return "".join(seg.text for seg in line)


def test_numbers_read_well() -> None:
    assert fmt_si(950) == "950"
    assert fmt_si(1234) == "1.23k"
    assert fmt_si(45_600) == "45.6k"
    assert fmt_si(1_200_000) == "1.20M"
    assert fmt_rate(12_345) == "12,345"
    assert fmt_rate(1_234_567) == "1.23M"
    assert fmt_us(0) == "0"
    assert fmt_us(850) == "850µs"
    assert fmt_us(1234) == "1.23ms"
    assert fmt_us(42_000) == "42.0ms"
    assert fmt_us(250_000) == "250ms"
    assert fmt_us(2_500_000) == "2.50s"
    assert fmt_us(25_000_000) == "25.0s"
    assert fmt_ms(21_007) == "21.0"
    assert [fmt_edge(e) for e in (16, 2048, 65536, 524288, 8388608, 33554432)] == [
        "16µs",
        "2.0ms",
        "66ms",
        "524ms",
        "8.4s",
        "34s",
    ]
    assert all(len(fmt_edge(1 << k)) <= 5 for k in range(4, 26))
    assert nice_ceiling(5250) == 6000
    assert nice_ceiling(0) == 1.0
    assert nice_ceiling(1000) == 1000


def feed(slots: TimeSlots, points: list[tuple[float, object]]) -> None:
    slots.feed(points, lambda p: p[0], lambda p: p[1])


def test_time_slots_average_points_newest_right() -> None:
    slots = TimeSlots(span=4.0, columns=4, how="mean")
    feed(slots, [(0.5, 10.0), (1.5, 20.0), (2.5, 30.0), (3.5, 40.0)])
    assert slots.values(now=3.5) == [10.0, 20.0, 30.0, 40.0]
    two = TimeSlots(span=4.0, columns=2, how="mean")
    feed(two, [(0.5, 10.0), (1.5, 20.0), (2.5, 30.0), (3.5, 40.0)])
    assert two.values(now=3.5) == [15.0, 35.0]
    # Later: old slots scroll out, slots without points stay None (drawn blank, not as zero).
    assert slots.values(now=6.0) == [40.0, None, None, None]


def test_time_slots_fold_in_only_new_points() -> None:
    seen: list[float] = []
    slots = TimeSlots(span=10.0, columns=10, how="max")
    points = [(0.5, 1.0), (0.7, 3.0), (1.5, 2.0)]

    def value(p: tuple[float, float]) -> float:
        seen.append(p[0])
        return p[1]

    slots.feed(points, lambda p: p[0], value)
    points.append((1.6, 5.0))
    slots.feed(points, lambda p: p[0], value)
    assert seen == [0.5, 0.7, 1.5, 1.6]  # the second feed read one point
    assert slots.values(now=1.6)[-2:] == [3.0, 5.0]
    # Time going backwards (a metrics reset) starts over.
    slots.feed([(0.2, 7.0)], lambda p: p[0], value)
    assert slots.values(now=0.2)[-1] == 7.0
    assert [v for v in slots.values(now=0.2) if v is not None] == [7.0]


def test_time_slots_sum_count_columns() -> None:
    slots = TimeSlots(span=3.0, columns=1, how="sum")
    feed(slots, [(0.5, (1, 0)), (1.5, (2, 1)), (2.5, (0, 5))])
    assert slots.values(now=2.5) == [[3, 6]]


def test_bar_chart_shades_the_gap_below_the_target() -> None:
    # One column at half its target, one on target; 2 rows of 8 eighths each, top = 100.
    lines = bar_chart([25.0, 100.0], [100.0, 100.0], height=2, top=100.0, styles=STYLES)
    assert [text(line) for line in lines] == [TARGET_GLYPH + "█", "▄█"]
    lines = bar_chart([10.0, 100.0], [100.0, 100.0], height=3, top=100.0, styles=STYLES)
    short_column = [text(line)[0] for line in lines]
    assert short_column == [TARGET_GLYPH, GAP_GLYPH, "▂"]
    # The short column is coloured "bad", the other "ok".
    assert lines[-1][0].style == STYLES.bad


def test_bar_chart_without_target_and_missing_data() -> None:
    lines = bar_chart([None, 50.0], None, height=1, top=100.0, styles=STYLES)
    assert text(lines[0]) == " ▄"
    assert lines[0][-1].style == STYLES.ok


def test_sparkline_scales_to_its_own_max() -> None:
    line = sparkline([0.0, 5.0, 10.0, None], Style(), Style())
    assert text(line) == "▁▄█ "


def test_heat_rows_centre_on_data_and_merge_when_needed() -> None:
    col = [0] * 23
    col[8] = 5
    col[10] = 1
    first, per, last = heat_rows([col], slots=7, nrows=23)
    assert per == 1 and first <= 8 and last >= 10 and last - first == 6
    first, per, _ = heat_rows([col], slots=2, nrows=23)
    assert per == 2
    assert heat_rows([None], slots=4, nrows=23)[1] == 1  # empty: a default range


def test_heatmap_draws_two_buckets_per_row_with_labels() -> None:
    edges = tuple(1 << k for k in range(4, 26))
    col = [0] * (len(edges) + 1)
    col[7] = 10
    levels = [Style(color=c) for c in ("#000001", "#000002", "#000003")]
    lines = heatmap(
        [col, None, col], edges, height=2, levels=levels, base=BASE, axis=BASE, label_width=5
    )
    assert len(lines) == 2
    body = "".join(text(line)[6:] for line in lines)
    assert body.count(" ") >= 2  # the None column and empty halves stay blank
    assert any(ch in body for ch in "▀▄")
    assert text(lines[0])[:5].strip()  # the top row carries a label
