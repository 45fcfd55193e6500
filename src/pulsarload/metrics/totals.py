"""A run's totals since its start (or the last reset): counters and latency histograms, added
to once per interval. The sampler keeps one, and so does the merged sampler of a distributed
run; each snapshot carries what they hold at its time."""

from __future__ import annotations

from collections.abc import Mapping

from pulsarload.metrics.hdr import Histogram, Sparse
from pulsarload.metrics.recorder import LATENCY_FIELDS
from pulsarload.metrics.snapshot import Counters, LatencyStats

__all__ = ["RunTotals"]


class RunTotals:
    """Counters, histograms and their summaries since the start, copy-on-write: a histogram
    a snapshot already holds is never added to again, so published snapshots never change.
    Not thread-safe: its owner adds and resets under its own lock."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start from zero."""
        self.counters = Counters()
        self.histograms: dict[str, Histogram] = {k: Histogram() for k in LATENCY_FIELDS}
        self.latency: dict[str, LatencyStats] = dict.fromkeys(LATENCY_FIELDS, LatencyStats())

    def add(
        self,
        counters: Counters,
        histograms: Mapping[str, Histogram],
        sparse: Mapping[str, Sparse] | None = None,
    ) -> None:
        """Add one interval (`sparse`: its histograms' sparse views, when the caller has them)."""
        self.counters = self.counters + counters
        totals = {}
        for k in LATENCY_FIELDS:
            h = histograms[k]
            sp = sparse[k] if sparse is not None else None
            if sp.total if sp is not None else h.total_count:
                t = self.histograms[k].copy()
                t.add(h, sp)
                totals[k] = t
                self.latency[k] = LatencyStats.from_histogram(t)
            else:
                totals[k] = self.histograms[k]
        self.histograms = totals
