"""Rolling time series of snapshots for rate graphs, percentile trends and latency heatmaps.

Two rings: ``fine`` keeps every snapshot's point (60 s of 100 ms points by default) and
``coarse`` keeps one point per ``coarse_step`` seconds (15 min of 1 s points by default). Coarse
points are computed from the merged histograms of their fine intervals, so their percentiles are
exact for the coarse span, not averages of percentiles.

``add`` runs on the sampler thread and the read methods on the UI thread; a small lock around the
rings keeps each read consistent (never on a worker's path).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.recorder import LATENCY_FIELDS
from pulsarload.metrics.snapshot import RATE_FIELDS, Counters, Snapshot

__all__ = ["DEFAULT_HEATMAP_EDGES", "MetricsWindow", "SeriesPoint", "RATE_SERIES", "LATENCY_SERIES"]

# Heatmap rows: powers of two from 16 us to ~33 s (and one overflow row above the last edge).
DEFAULT_HEATMAP_EDGES: Final[tuple[int, ...]] = tuple(1 << k for k in range(4, 26))
#: A point's rates are its interval's `Counters.rates`.
RATE_SERIES: Final = RATE_FIELDS
LATENCY_SERIES: Final = ("p50", "p90", "p95", "p99", "p99_9", "max", "mean")
HEATMAP_KINDS: Final = ("publish_latency", "e2e_latency")


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of the rolling series: end time, span, rates, latency figures, heatmap column."""

    time: float  # wall clock, end of span
    elapsed: float
    span: float
    rates: dict[str, float]
    latency: dict[str, dict[str, float]]  # kind -> {"p50": .., "p99": .., "max": ..}
    heat: dict[str, tuple[int, ...]] = field(default_factory=dict)  # kind -> counts per row


_EMPTY = Histogram()  # never recorded into: stands in for a kind with no data


def _latency_figures(h: Histogram) -> dict[str, float]:
    s = h.summary((50.0, 90.0, 95.0, 99.0, 99.9))
    return {k: float(s[k]) for k in LATENCY_SERIES}


class MetricsWindow:
    """Fine and coarse rings of ``SeriesPoint`` built from snapshots (subscribe ``add``)."""

    def __init__(
        self,
        fine_points: int = 600,
        coarse_step: float = 1.0,
        coarse_points: int = 900,
        heatmap_edges: Sequence[int] = DEFAULT_HEATMAP_EDGES,
        kinds: Sequence[str] = HEATMAP_KINDS,
    ) -> None:
        for k in kinds:
            if k not in LATENCY_FIELDS:
                raise ValueError(f"unknown latency kind {k!r}; choose from {LATENCY_FIELDS}")
        self.coarse_step = coarse_step
        self.heatmap_edges = tuple(heatmap_edges)
        self.kinds = tuple(kinds)
        self._fine: deque[SeriesPoint] = deque(maxlen=fine_points)
        self._coarse: deque[SeriesPoint] = deque(maxlen=coarse_points)
        self._lock = threading.Lock()
        self._acc_counters = Counters()
        self._acc_hists: dict[str, Histogram] = {}
        self._acc_span = 0.0
        self._acc_start: float | None = None

    def _point(
        self,
        time: float,
        elapsed: float,
        span: float,
        counters: Counters,
        hists: dict[str, Histogram],
    ) -> SeriesPoint:
        empty = _EMPTY
        latency = {}
        heat = {}
        for k in self.kinds:
            h = hists.get(k, empty)
            latency[k] = _latency_figures(h)
            heat[k] = tuple(h.counts_by_edges(self.heatmap_edges))
        return SeriesPoint(time, elapsed, span, counters.rates(span), latency, heat)

    def add(self, snap: Snapshot) -> None:
        """Append one snapshot (sampler thread)."""
        fine = self._point(snap.time, snap.elapsed, snap.interval, snap.counters, snap.histograms)
        coarse = None
        if self._acc_start is None:
            self._acc_start = snap.elapsed - snap.interval
        self._acc_counters = self._acc_counters + snap.counters
        self._acc_span += snap.interval
        for k in self.kinds:
            h = snap.histograms.get(k)
            if h:
                acc = self._acc_hists.get(k)
                if acc is None:
                    acc = self._acc_hists[k] = Histogram(h.lowest, h.highest, h.digits)
                acc.add(h)
        # Close the coarse point when the accumulated span reaches the step (tolerating jitter).
        if self._acc_span >= self.coarse_step * 0.999:
            coarse = self._point(
                snap.time, snap.elapsed, self._acc_span, self._acc_counters, self._acc_hists
            )
            self._acc_counters = Counters()
            self._acc_hists = {}
            self._acc_span = 0.0
            self._acc_start = None
        with self._lock:
            self._fine.append(fine)
            if coarse is not None:
                self._coarse.append(coarse)

    __call__ = add

    def clear(self) -> None:
        with self._lock:
            self._fine.clear()
            self._coarse.clear()
        self._acc_counters = Counters()
        self._acc_hists = {}
        self._acc_span = 0.0
        self._acc_start = None

    def points(self, coarse: bool = False) -> list[SeriesPoint]:
        """A copy of the ring, oldest first."""
        with self._lock:
            return list(self._coarse if coarse else self._fine)

    def rate_series(self, name: str, coarse: bool = False) -> tuple[list[float], list[float]]:
        """(elapsed seconds, per-second rate) for one of ``RATE_SERIES``."""
        if name not in RATE_SERIES:
            raise ValueError(f"unknown rate series {name!r}; choose from {RATE_SERIES}")
        pts = self.points(coarse)
        return [p.elapsed for p in pts], [p.rates[name] for p in pts]

    def latency_series(
        self, kind: str = "publish_latency", figure: str = "p99", coarse: bool = False
    ) -> tuple[list[float], list[float]]:
        """(elapsed seconds, microseconds) for a percentile trend (``LATENCY_SERIES``)."""
        if figure not in LATENCY_SERIES:
            raise ValueError(f"unknown latency figure {figure!r}; choose from {LATENCY_SERIES}")
        if kind not in self.kinds:
            raise ValueError(f"latency kind {kind!r} is not tracked (tracking {self.kinds})")
        pts = self.points(coarse)
        return [p.elapsed for p in pts], [p.latency[kind][figure] for p in pts]

    def heatmap(
        self, kind: str = "publish_latency", coarse: bool = False
    ) -> tuple[list[float], tuple[int, ...], list[tuple[int, ...]]]:
        """(elapsed per column, row edges in us, columns of counts with len(edges)+1 rows).

        Row ``r`` counts values in ``(edges[r-1], edges[r]]``; the last row is above the last edge.
        """
        if kind not in self.kinds:
            raise ValueError(f"latency kind {kind!r} is not tracked (tracking {self.kinds})")
        pts = self.points(coarse)
        return [p.elapsed for p in pts], self.heatmap_edges, [p.heat[kind] for p in pts]
