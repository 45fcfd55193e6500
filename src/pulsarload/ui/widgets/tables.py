"""Per-thread and per-partition tables."""

from __future__ import annotations

import textwrap

from rich.style import Style

from pulsarload.ui.render import Line, fmt_count, fmt_ms, fmt_rate
from pulsarload.ui.view import BacklogView, DashboardView
from pulsarload.ui.widgets.base import LinesTable, columns_line

STATE_CLASSES = {
    "running": "state--running",
    "paused": "state--paused",
    "connecting": "state--paused",
    "flushing": "state--paused",
    "failed": "state--failed",
    "stalled": "state--failed",  # "stalled 12s": no progress while it should
    "stopped": "state--dim",
    "done": "state--dim",
}


#: The components of a table whose rows have a state (threads, shards).
STATE_TABLE_CLASSES = {
    "table--head",
    "table--cell",
    "table--dim",
    "table--error",
    "state--running",
    "state--paused",
    "state--failed",
    "state--dim",
}


def partition_label(topic: str) -> str:
    """`#3` for `...-partition-3`; the local topic name for a non-partitioned topic."""
    local = topic.rsplit("/", 1)[-1]
    head, sep, index = local.rpartition("-partition-")
    return f"#{index}" if sep and index.isdigit() else local


class WorkerTable(LinesTable):
    """One row per worker thread: state, rate, p99, CPU, errors (since start), queue."""

    COMPONENT_CLASSES = STATE_TABLE_CLASSES

    def show(self, data: DashboardView) -> None:
        if data is not self._data:
            self.set_title(f"threads · {data.threads} of max {data.max_threads}")
        super().show(data)

    def build_table(self, width: int) -> tuple[Line, list[Line]]:
        view: DashboardView = self._data
        base = self.base_style
        head, cell, dim, err = self.table_styles("head", "cell", "dim", "error")
        queue = "pending" if view.producer else "queue"
        names = ["thread", "state", "msg/s", "p99 ms", "cpu %", "errors", queue, "last error"]
        widths = [12, 12, 9, 8, 6, 7, 8]
        widths.append(max(0, width - sum(widths) - len(widths) - 1))
        aligns = "llrrrrrl"
        header = columns_line([(n, head) for n in names], widths, aligns, base)
        rows = []
        for w in view.workers:
            state_style = self.style_of(STATE_CLASSES.get(w.state.split(" ")[0], "state--dim"))
            cpu = "–" if w.cpu_percent is None else f"{w.cpu_percent:.0f}"
            values: list[tuple[str, Style]] = [
                (w.name, cell),
                (w.state, state_style),
                (fmt_rate(w.rate), cell),
                (fmt_ms(w.p99_us) if w.p99_us else "–", cell),
                (cpu, cell),
                (fmt_count(w.errors), err if w.errors else dim),
                (fmt_count(w.queue), cell),
                (w.last_error or "", err),
            ]
            rows.append(columns_line(values, widths, aligns, base))
        if not rows:
            rows.append(self.note_line("no worker threads (press + to add one)", dim, width))
        return header, rows


class BacklogTable(LinesTable):
    """Backlog per partition and subscription, from the admin REST API (polled once a second).

    The figure is the broker's `msgBacklog`, which counts *entries*: a batch of many messages
    is one entry, an unbatched message is one. The admin API has no message count for a
    backlog (only a scan of every entry would give one), so the panel says entries.
    """

    COMPONENT_CLASSES = {"table--head", "table--cell", "table--dim", "table--error", "table--warn"}

    TITLES = {
        "pending": "backlog · asking the admin API…",
        "unreachable": "backlog · admin API unreachable",
        "error": "backlog · admin API error",
        "unavailable": "backlog · not available",
    }

    def show(self, data: BacklogView) -> None:
        if data is not self._data:
            if data.state == "ok":
                total = sum(r.backlog for r in data.rows)
                self.set_title(
                    f"backlog · {fmt_count(total)} entries (a batch is one) · "
                    f"{len(data.rows)} row(s)"
                )
            else:
                self.set_title(self.TITLES.get(data.state, data.state))
            self.set_class(data.state in ("unreachable", "error"), "-unreachable")
        super().show(data)

    def build_table(self, width: int) -> tuple[Line, list[Line]]:
        data: BacklogView = self._data
        base = self.base_style
        head, cell, dim, err, warn = self.table_styles("head", "cell", "dim", "error", "warn")
        narrow = width < 48
        widths = [5 if narrow else 10, 0, 9, 0 if narrow else 4, 7]  # narrow: no consumer count
        widths[1] = max(6, width - sum(widths) - sum(1 for w in widths if w) - 2)
        aligns = "llrrr"
        header = columns_line(
            [(n, head) for n in ("partition", "subscription", "entries", "cons", "out/s")],
            widths,
            aligns,
            base,
        )
        if data.error:
            return header, [
                self.note_line(part, err, width)
                for part in textwrap.wrap(data.error, max(10, width - 1))
            ]
        if data.state == "pending":
            return header, [self.note_line("waiting for the first answer…", dim, width)]
        if not data.rows:
            return header, [self.note_line("no subscriptions on this topic yet", dim, width)]
        rows = []
        for r in data.rows:
            name = partition_label(r.partition)
            rows.append(
                columns_line(
                    [
                        (name, cell),
                        (r.subscription, cell),
                        (fmt_count(r.backlog), warn if r.backlog else cell),
                        (str(r.consumers), cell),
                        (fmt_rate(r.rate_out), cell),
                    ],
                    widths,
                    aligns,
                    base,
                )
            )
        return header, rows


SHARD_STATE_CLASSES = {**STATE_CLASSES, "lost": "state--failed", "late": "state--paused"}


class ShardTable(LinesTable):
    """A run spread over many processes: one row per shard (where it runs, its share of the
    load, its clock). Shown only when the snapshots carry shards."""

    COMPONENT_CLASSES = STATE_TABLE_CLASSES

    def show(self, data: DashboardView) -> None:
        if data is not self._data:
            lost = sum(1 for s in data.shards if s.state == "lost")
            self.set_title(
                f"shards · {len(data.shards) - lost} of {len(data.shards)} live"
                + (f" · {lost} LOST" if lost else "")
            )
            self.set_class(bool(data.shards), "-on")
        super().show(data)

    def build_table(self, width: int) -> tuple[Line, list[Line]]:
        view: DashboardView = self._data
        base = self.base_style
        head, cell, dim, err = self.table_styles("head", "cell", "dim", "error")
        names = ["shard", "worker", "state", "thr", "msg/s", "p99 ms", "errors", "cpu %", "GIL"]
        names.append("clock ms")
        widths = [5, 0, 8, 3, 7, 7, 6, 5, 3, 8]
        widths[1] = max(8, width - sum(widths) - len(widths) - 1)
        aligns = "rllrrrrrlr"
        header = columns_line([(n, head) for n in names], widths, aligns, base)
        rows = []
        for s in view.shards:
            state_style = self.style_of(SHARD_STATE_CLASSES.get(s.state, "state--dim"))
            address = s.address.removeprefix("tcp://")
            values: list[tuple[str, Style]] = [
                (str(s.shard), cell),
                (address if s.host in address else f"{address} {s.host}", cell),
                (s.state, state_style),
                (str(s.threads), cell),
                (fmt_rate(s.rate), cell),
                (fmt_ms(s.p99_us) if s.p99_us else "–", cell),
                (fmt_count(s.errors), err if s.errors else dim),
                (f"{s.cpu_percent:.0f}", cell),
                ("on" if s.gil_enabled else "off", err if s.gil_enabled else dim),
                (f"{s.clock_offset_ms:+.1f}", cell),
            ]
            rows.append(columns_line(values, widths, aligns, base))
        return header, rows
