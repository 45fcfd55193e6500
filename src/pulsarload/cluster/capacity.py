"""A capacity search over a Dask cluster: the same search, its producer side on shards.

The search (load/capacity) drives whatever takes commands and streams snapshots. Here that is a
`ClusterController`: each step's `SetRate` is split evenly over the live shards by the same
fan-out a live rate change uses, so the shards step together; each step is judged from the
merged snapshots, whose interval histograms are the shards' histograms added bucket by bucket
(percentiles of the union, never averaged). Whether a failing step is client-bound is told
against the CPUs of the shards' hosts, not of this coordinating process.
"""

from __future__ import annotations

from collections.abc import Callable

from pulsarload.cluster.controller import ClusterController
from pulsarload.config import CapacitySettings
from pulsarload.load.capacity.local import Placement, run_capacity
from pulsarload.load.capacity.run import SearchDriver


def _abort_check(producer: ClusterController) -> Callable[[], str | None]:
    """Why the sharded producer stopped by itself (worker loss with abort, every shard lost,
    every shard's workers failed), or None while it runs."""

    def check() -> str | None:
        if not producer.done():
            return None
        if producer.abort_reason:
            return f"the cluster run stopped: {producer.abort_reason}"
        if not producer.live_shards():
            return "every shard was lost: " + "; ".join(producer.events[-2:])
        return "the producer workers stopped on every shard"

    return check


def _where(producer: ClusterController) -> str:
    hosts = sorted({h.host for h in producer.shards})
    return (
        f"producers on {len(producer.shards)} shard(s) ({', '.join(hosts)}; "
        f"{producer.client_cores()} CPU(s) between them): each step's rate is split over them "
        "and judged from their merged histograms"
    )


SHARDED = Placement(
    make=lambda s: ClusterController("producer", s),
    abort=_abort_check,
    cores=lambda c: c.client_cores(),
    where=_where,
)


def run_cluster_capacity(
    settings: CapacitySettings,
    echo: Callable[[str], None] = print,
    on_driver: Callable[[SearchDriver], None] | None = None,
    status_every: float | None = None,
) -> int:
    """`pulsarload capacity --cluster ...`: the search with its producers on the shards (a
    consumer, with --with-consumer, runs in this process)."""
    return run_capacity(
        settings, echo, placement=SHARDED, on_driver=on_driver, status_every=status_every
    )
