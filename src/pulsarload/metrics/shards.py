"""One shard's figures in a merged snapshot of a run spread over many processes.

A cluster run (see the `cluster` layer) merges its shards' interval histograms and counters into
one `Snapshot`; each shard also keeps a row of its own here so that the dashboards, status
lines and reports can show where the load came from (and which shard was lost) without knowing
anything about Dask. Plain data that turns into JSON and back, like the rest of a snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["ShardStats"]


@dataclass(frozen=True, slots=True)
class ShardStats:
    """One shard at the end of one merged interval (rates over that interval)."""

    shard: int
    address: str  # the Dask worker's address
    host: str
    state: str  # connecting, ready, running, paused, done, stopped, failed, lost, standby
    threads: int = 0
    rate: float = 0.0  # acked (producer) or received (consumer) msg/s, last interval
    p99_us: int = 0  # publish (producer) or end-to-end (consumer) p99, last interval
    done: int = 0  # acked or received since start/reset
    errors: int = 0  # failed sends since start/reset
    # Seconds the shard itself measured `done` over (its own sampler's intervals): a rate from
    # two rows is then right however late the coordinator got the reports in between.
    measured_s: float = 0.0
    cpu_percent: float = 0.0  # the shard's process (100 = one core)
    rss_bytes: int = 0
    gil_enabled: bool = False
    clock_offset_ms: float = 0.0  # shard clock minus the coordinator's
    metrics_bytes_per_s: float = 0.0  # what its metrics cost on the wire to the coordinator
    lost_at_s: float | None = None  # run time when it was lost
    note: str | None = None  # last error, or why it was lost

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ShardStats:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
