"""Title bar, the figures panel (totals, rates, failures, batching), interpreter, status line."""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from textual.widgets import Static

from pulsarload.ui.render import Line, fmt_bytes, fmt_count, fmt_rate, fmt_si
from pulsarload.ui.view import DashboardView
from pulsarload.ui.widgets.base import LinesWidget

STATE_LABELS = {
    "starting": "◌ STARTING",
    "running": "● RUNNING",
    "paused": "❚❚ PAUSED",
    "burst": "▲ BURST",
    "restarting": "↻ RESTARTING",
    "stopping": "■ STOPPING",
}


class TitleBar(LinesWidget):
    """Role, topic, engine on the left; state and elapsed time on the right."""

    COMPONENT_CLASSES = {
        "title--app",
        "title--topic",
        "title--dim",
        "title--running",
        "title--paused",
        "title--burst",
        "title--stopping",
    }

    def build(self, width: int, height: int) -> list[Line]:
        v: DashboardView = self._data
        app_style = self.style_of("title--app")
        dim = self.style_of("title--dim")
        state_class = {
            "running": "title--running",
            "burst": "title--burst",
            "stopping": "title--stopping",
            "restarting": "title--paused",
        }.get(v.state, "title--paused")
        label = STATE_LABELS.get(v.state, v.state.upper())
        if v.state == "burst" and v.burst_left:
            label += f" {v.burst_left:.0f}s left"
        right = [
            (f" {label} ", self.style_of(state_class)),
            (f" {v.elapsed:6.0f} s ", dim),  # whole seconds: the bar repaints once a second
        ]
        left = [(f" ▶ {v.role} ", app_style), (" ", dim)]
        room = width - sum(len(t) for t, _ in left + right) - len(v.engine) - 3
        topic = v.topic if len(v.topic) <= room else "…" + v.topic[-max(0, room - 1) :]
        left += [(topic, self.style_of("title--topic")), (f"  {v.engine}", dim)]
        used = sum(len(t) for t, _ in left + right)
        pad = max(0, width - used)
        segs = (
            [Segment(t, s) for t, s in left]
            + [Segment(" " * pad, dim)]
            + [Segment(t, s) for t, s in right]
        )
        return [segs]


@dataclass(frozen=True, slots=True)
class Fact:
    label: str
    value: str
    level: str = "value"  # value, dim, good, warn, bad


def _n(x: float, room: int = 9) -> str:
    """Exact when it fits the cell, SI-shortened when not."""
    s = fmt_count(x)
    return s if len(s) <= room else fmt_si(x)


def _net(v: DashboardView) -> str:
    res = v.resources
    moved = res.net_bytes_out if v.producer else res.net_bytes_in
    if not moved:
        return "–"  # this engine does not count socket bytes
    return f"{(res.net_out_per_s if v.producer else res.net_in_per_s) / 1e6:.2f} MB/s"


#: Short labels of the redelivery reasons (`metrics.recorder.REDELIVERY_REASONS`).
REASON_LABELS = {
    "negative_ack": "↻ nack",
    "ack_timeout": "↻ timeout",
    "reconnect": "↻ reconn",
    "seek": "↻ seek",
    "requested": "↻ asked",
}


def _redelivery_facts(v: DashboardView) -> list[Fact]:
    """Redeliveries by reason, the reasons that occurred only; where the engine's client
    does not say why it redelivers, one "n/a" once anything was redelivered."""
    t = v.total
    if not v.redelivery_reasons:
        return [Fact("↻ why", "n/a", "dim")] if t.redelivered else []
    return [
        Fact(REASON_LABELS[reason], _n(n), "warn")
        for reason, n in t.redeliveries_by_reason().items()
        if n
    ]


def facts_for(v: DashboardView) -> list[Fact]:
    """The figures panel's rows, most important first (a small terminal shows the first ones)."""
    t = v.total
    res = v.resources
    facts: list[Fact] = []
    if v.producer:
        target = v.target or 0.0
        facts += [
            Fact("acked/s", fmt_rate(v.rate)),
            Fact(
                "target",
                "max" if not target else fmt_rate(target),
                "warn" if v.state == "burst" else "value",
            ),
            Fact("MB/s", f"{v.mb_rate:.2f}"),
            Fact("avg/s", fmt_rate(v.avg_rate), "dim"),
            Fact("sent", _n(t.sent)),
            Fact("acked", _n(t.acked)),
            Fact("failed", _n(t.failed), "bad" if t.failed else "dim"),
            Fact("pending", _n(v.pending), "warn" if v.pending else "dim"),
            Fact("batch", f"{v.batch_messages:.1f} msg" if v.batch_messages else "–"),
            Fact("batch B", fmt_bytes(v.batch_bytes) if v.batch_bytes else "–"),
        ]
    else:
        facts += [
            Fact("recv/s", fmt_rate(v.rate)),
            Fact("MB/s", f"{v.mb_rate:.2f}"),
            Fact("received", _n(t.received)),
            # Where end-to-end latency started: the producer's intended send time (stamped
            # by pulsarload producers) or, without a stamp, the publish time.
            Fact("e2e@sched", _n(t.e2e_from_intended), "dim"),
            Fact("e2e@publ", _n(t.e2e_from_publish), "dim"),
            Fact("acked", _n(t.consumer_acked)),
            Fact("in flight", _n(v.in_flight), "warn" if v.in_flight else "dim"),
            Fact("rcv queue", _n(v.receiver_queue), "dim"),
            Fact("redeliv", _n(t.redelivered), "warn" if t.redelivered else "dim"),
            Fact("nacked", _n(t.nacked), "warn" if t.nacked else "dim"),
            Fact("failed", _n(t.failed), "bad" if t.failed else "dim"),
            Fact("avg/s", fmt_rate(v.avg_rate), "dim"),
        ]
        if v.verify:
            facts += [
                Fact("gaps", _n(t.gaps), "bad" if t.gaps else "good"),
                Fact("dupes", _n(t.duplicates), "bad" if t.duplicates else "good"),
                Fact("reorder", _n(t.out_of_order), "warn" if t.out_of_order else "good"),
            ]
    facts += [
        Fact("threads", f"{v.threads}/{v.max_threads}"),
        Fact("cpu", f"{res.process_cpu_percent:.0f} %"),
        Fact("rss", fmt_bytes(res.rss_bytes) if res.rss_bytes else "–", "dim"),
        Fact("net out" if v.producer else "net in", _net(v), "dim"),
    ]
    if not v.producer:  # the details of "redeliv", where there is room
        facts += _redelivery_facts(v)
    for category, count in sorted(t.errors.items(), key=lambda kv: -kv[1]):
        facts.append(Fact(f"✗ {category}", _n(count), "bad"))
    return facts


class FactsPanel(LinesWidget):
    """Label/value pairs in as many columns as the width allows, filled column by column."""

    COMPONENT_CLASSES = {
        "fact--label",
        "fact--value",
        "fact--dim",
        "fact--good",
        "fact--warn",
        "fact--bad",
    }
    CELL = 18  # label 9 + value 9

    def build(self, width: int, height: int) -> list[Line]:
        v: DashboardView = self._data
        facts = facts_for(v)
        room = max(1, (width + 1) // (self.CELL + 1))
        ncols = max(1, min(room, -(-len(facts) // max(1, height))))
        cell = min(28, max(self.CELL, (width + 1) // ncols - 1))  # values stay near labels
        label_w = 12 if cell >= 26 else 10 if cell >= 22 else 9
        value_w = cell - label_w
        label_style = self.style_of("fact--label")
        styles = {
            lvl: self.style_of(f"fact--{lvl}") for lvl in ("value", "dim", "good", "warn", "bad")
        }
        base = self.base_style
        lines: list[Line] = [[] for _ in range(height)]
        capacity = ncols * height
        for i, f in enumerate(facts[:capacity]):
            row = i % height
            label = f.label[:label_w].ljust(label_w)
            value = f.value[-value_w:].rjust(value_w)
            if lines[row]:
                lines[row].append(Segment(" ", base))
            lines[row] += [Segment(label, label_style), Segment(value, styles[f.level])]
        return lines


class InterpreterPanel(LinesWidget):
    """Free-threaded build or not, GIL off or on (red: something turned it on), parallelism."""

    COMPONENT_CLASSES = {"interp--good", "interp--bad", "interp--warn", "interp--dim"}

    def build(self, width: int, height: int) -> list[Line]:
        v: DashboardView = self._data
        info = v.interpreter
        good = self.style_of("interp--good")
        bad = self.style_of("interp--bad")
        warn = self.style_of("interp--warn")
        dim = self.style_of("interp--dim")
        gil_on = v.resources.gil_enabled if v.seq else info.gil_enabled
        build_seg = Segment(
            "free-threaded" if info.free_threaded_build else "GIL build",
            good if info.free_threaded_build else warn,
        )
        gil_seg = Segment(" GIL ON " if gil_on else "GIL off", bad if gil_on else good)
        name = "CPython" if info.implementation == "cpython" else info.implementation
        if width >= 50:
            first: Line = [Segment(f"{name} {info.version} ", dim), build_seg]
        else:  # "py3.13.5t": the t is CPython's own mark of a free-threaded build
            first = [
                Segment(f"py{info.version}", dim),
                Segment("t", good) if info.free_threaded_build else Segment("", dim),
            ]
        first += [Segment(" · ", dim), gil_seg, Segment(f" · ×{v.parallelism:.1f} cores", dim)]
        lines = [first]
        if height >= 2:
            lines.append(
                [Segment(f"workers busy on {v.parallelism:.1f} of {info.cpu_count} CPUs", dim)]
            )
        if height >= 3:
            lines.append(
                [
                    Segment(
                        f"python threads {v.resources.python_threads} · OS threads {v.resources.threads}",
                        dim,
                    )
                ]
            )
        if height >= 4 and gil_on and info.free_threaded_build:
            lines.append([Segment("an extension module turned the GIL back on", bad)])
        return lines


class StatusLine(Static):
    """The last action's outcome (or why it was refused)."""

    def say(self, text: str, level: str = "info") -> None:
        self.set_class(level == "error", "-error")
        self.set_class(level == "ok", "-ok")
        self.update(text, layout=False)
