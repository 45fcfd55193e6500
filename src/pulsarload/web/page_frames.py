"""What the page receives: one small JSON frame per snapshot, and the history of chart rows.

A frame is a projection of one immutable `Snapshot` plus the controller's controls (target,
threads, paused): the figures the page shows, nothing recomputed from raw data except the
1-second rate (as the terminal dashboard shows it) and the latency histogram's rows, both read
from the snapshot. Chart rows are the few numbers a chart needs per snapshot, kept in a ring
so that a late viewer gets the history the others have seen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pulsarload.engines.factory import redelivery_reasons_known
from pulsarload.metrics.snapshot import LatencyStats, Snapshot
from pulsarload.metrics.window import DEFAULT_HEATMAP_EDGES

#: Columns of a chart row, in order (latencies in microseconds).
ROW_COLUMNS = ("t", "rate", "target", "p50", "p90", "p99", "p99_9", "max", "cpu", "rss")
RECENT = 10  # snapshots in the "now" rate: the last second at 10 per second
#: Latency histogram rows: powers of two from 16 us (the same rows as the heatmap).
HIST_EDGES_US: tuple[int, ...] = DEFAULT_HEATMAP_EDGES


@dataclass(frozen=True, slots=True)
class ControlState:
    """The controller's controls at one moment, read by the hub when it builds a frame."""

    state: str  # starting, running, paused, burst
    threads: int
    target: float | None  # producer: the target now (0 = as fast as possible)
    base_rate: float | None
    ack: str | None = None  # consumer: the ack strategy in force
    busy: str | None = None  # a blocking control in flight


def _lat(stats: LatencyStats | None) -> dict[str, float]:
    s = stats or LatencyStats()
    return {
        "p50": s.p50,
        "p90": s.p90,
        "p99": s.p99,
        "p99_9": s.p99_9,
        "max": s.max,
        "mean": round(s.mean, 1),
        "count": s.count,
    }


class FrameBuilder:
    """Builds frames for one role; keeps the last second of intervals for the "now" rate."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.producer = role == "producer"
        self.done_key = "acked" if self.producer else "received"
        self.bytes_key = "bytes_sent" if self.producer else "bytes_received"
        self.kind = "publish_latency" if self.producer else "e2e_latency"
        self._recent: deque[tuple[float, int, int]] = deque(maxlen=RECENT)
        self._last_elapsed = -1.0

    def frame(
        self, snap: Snapshot, control: ControlState, backlog: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], tuple[float | None, ...], bool]:
        """(frame, chart row, whether the metrics were reset since the last frame)."""
        reset = snap.elapsed < self._last_elapsed
        if reset:
            self._recent.clear()
        self._last_elapsed = snap.elapsed
        c = snap.counters
        self._recent.append((snap.interval, getattr(c, self.done_key), getattr(c, self.bytes_key)))
        span = sum(r[0] for r in self._recent)
        rate = sum(r[1] for r in self._recent) / span if span > 0 else 0.0
        mb_rate = sum(r[2] for r in self._recent) / span / 1e6 if span > 0 else 0.0
        lat_now = snap.latency.get(self.kind)
        res = snap.resources
        total = snap.total
        hist = snap.total_histograms.get(self.kind)
        workers = []
        for w in snap.workers:
            wl = w.publish_latency if self.producer else w.e2e_latency
            workers.append(
                {
                    "name": w.thread_name or w.worker_id,
                    "state": w.state,
                    "rate": round(w.rates.get(self.done_key, 0.0), 1),
                    "p99": wl.p99,
                    "cpu": None if w.cpu_percent is None else round(w.cpu_percent, 1),
                    "queue": w.pending_sends if self.producer else w.receiver_queue,
                    "errors": w.counters.failed,
                    "last_error": w.last_error,
                }
            )
        frame: dict[str, Any] = {
            "seq": snap.seq,
            "t": round(snap.time, 3),
            "elapsed": round(snap.elapsed, 3),
            "state": control.state,
            "busy": control.busy,
            "threads": control.threads,
            "target": control.target,
            "base_rate": control.base_rate,
            "ack": control.ack,
            "rate": round(rate, 1),
            "mb_rate": round(mb_rate, 3),
            "avg_rate": round(getattr(total, self.done_key) / snap.elapsed, 1)
            if snap.elapsed > 0
            else 0.0,
            "latency_now": _lat(lat_now),
            "latency_run": _lat(snap.total_latency.get(self.kind)),
            "send_delay_run": _lat(snap.total_latency.get("send_delay")),
            "total": {
                k: getattr(total, k)
                for k in (
                    "sent",
                    "acked",
                    "received",
                    "consumer_acked",
                    "nacked",
                    "redelivered",
                    "duplicates",
                    "out_of_order",
                    "failed",
                )
            },
            "errors": dict(total.errors),
            # Consumer: messages redelivered per reason; null where the engine's client does
            # not say why (the page then says "reasons n/a").
            "redelivered_by_reason": None
            if self.producer or not redelivery_reasons_known(snap.labels.get("engine", "native"))
            else total.redeliveries_by_reason(),
            "workers": workers,
            "resources": {
                "cpu": round(res.process_cpu_percent, 1),
                "rss": res.rss_bytes,
                "threads": res.threads,
                "net_in": round(res.net_in_per_s),
                "net_out": round(res.net_out_per_s),
                "connections": res.connections,
                "gil_enabled": res.gil_enabled,
                "free_threaded": res.free_threaded_build,
            },
            "histogram": hist.counts_by_edges(HIST_EDGES_US) if hist is not None else [],
            "backlog": dict(backlog) if backlog is not None else None,
            # A cluster run's shards (empty in one process): the page shows a table of them.
            "shards": [
                {
                    "shard": sh.shard,
                    "address": sh.address,
                    "state": sh.state,
                    "threads": sh.threads,
                    "rate": round(sh.rate, 1),
                    "p99": sh.p99_us,
                    "done": sh.done,
                    "errors": sh.errors,
                    "cpu": round(sh.cpu_percent, 1),
                    "gil_enabled": sh.gil_enabled,
                    "clock_offset_ms": round(sh.clock_offset_ms, 2),
                    "note": sh.note,
                }
                for sh in snap.shards
            ],
        }
        lat = lat_now or LatencyStats()
        row = (
            round(snap.time, 3),
            round(rate, 1),
            control.target,
            lat.p50 or None,
            lat.p90 or None,
            lat.p99 or None,
            lat.p99_9 or None,
            lat.max or None,
            round(res.process_cpu_percent, 1),
            res.rss_bytes,
        )
        return frame, row, reset


class History:
    """The last `seconds` of chart rows (at the sampler's rate), oldest first."""

    def __init__(self, seconds: float, interval: float = 0.1) -> None:
        self._rows: deque[tuple[float | None, ...]] = deque(maxlen=max(1, int(seconds / interval)))

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def capacity(self) -> int:
        return self._rows.maxlen or 0

    def add(self, row: tuple[float | None, ...]) -> None:
        self._rows.append(row)

    def clear(self) -> None:
        self._rows.clear()

    def columns(self) -> dict[str, list[float | None]]:
        """Column arrays (what uPlot takes), one per `ROW_COLUMNS` name."""
        cols: dict[str, list[float | None]] = {name: [] for name in ROW_COLUMNS}
        lists = list(cols.values())
        for row in self._rows:
            for target, value in zip(lists, row, strict=True):
                target.append(value)
        return cols
