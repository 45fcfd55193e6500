"""Metrics: HDR histograms, per-thread recorders, snapshots, rolling windows, resources, exports.

The hot path records into thread-owned ``Recorder`` objects (``slot.active.record_...``) with no
lock; the ``Sampler`` thread swaps them every 100 ms and publishes immutable ``Snapshot``s.
Nothing here imports the client, load or UI layers.
"""

from pulsarload.metrics.export import ExportSet
from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.hlog import HlogReader, HlogWriter
from pulsarload.metrics.recorder import Recorder, RecorderSlot
from pulsarload.metrics.resources import ResourceMonitor, interpreter_info
from pulsarload.metrics.sampler import BackgroundSubscriber, Sampler
from pulsarload.metrics.snapshot import Counters, LatencyStats, Snapshot, WorkerStats
from pulsarload.metrics.window import MetricsWindow

__all__ = [
    "BackgroundSubscriber",
    "Counters",
    "ExportSet",
    "Histogram",
    "HlogReader",
    "HlogWriter",
    "LatencyStats",
    "MetricsWindow",
    "Recorder",
    "RecorderSlot",
    "ResourceMonitor",
    "Sampler",
    "Snapshot",
    "WorkerStats",
    "interpreter_info",
]
