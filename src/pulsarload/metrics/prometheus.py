"""Prometheus exposition: a collector that reads the latest snapshot at scrape time.

`start_prometheus_server` serves `/metrics` from a private registry; `prometheus_text` returns
what a scrape would (tests, `--prometheus-dump`). Metric names and help texts are in
docs/prometheus.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

from pulsarload.errors import ConfigError
from pulsarload.metrics.recorder import REDELIVERY_FIELDS, REDELIVERY_REASONS
from pulsarload.metrics.snapshot import Snapshot

__all__ = [
    "PROMETHEUS_BUCKETS_US",
    "SnapshotCollector",
    "prometheus_text",
    "start_prometheus_server",
]


# Bucket upper bounds in microseconds (exported in seconds).
PROMETHEUS_BUCKETS_US: Final[tuple[int, ...]] = (
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
)  # fmt: skip

_PROM_COUNTERS: Final = (
    # (counter field, metric name without _total, help)
    ("sent", "messages_sent", "Messages handed to the broker connection."),
    ("acked", "messages_acked", "Messages acknowledged by the broker (send receipts)."),
    ("bytes_sent", "sent_payload_bytes", "Payload bytes of sent messages."),
    ("batches", "batches_sent", "Batches (or single messages) sent."),
    ("received", "messages_received", "Messages received by consumers."),
    ("bytes_received", "received_payload_bytes", "Payload bytes of received messages."),
    ("consumer_acked", "messages_consumer_acked", "Messages acknowledged by consumers."),
    ("nacked", "messages_nacked", "Messages negatively acknowledged by consumers."),
    ("redelivered", "messages_redelivered", "Messages received again after redelivery."),
    ("duplicates", "messages_duplicate", "Duplicate messages seen by verification."),
    ("gaps", "messages_missing", "Messages missing in sequence (gaps) seen by verification."),
    ("out_of_order", "messages_out_of_order", "Messages received out of order."),
    (
        "e2e_from_intended",
        "e2e_from_intended_messages",
        "Received messages whose end-to-end latency runs from the producer's intended send time.",
    ),
    (
        "e2e_from_publish",
        "e2e_from_publish_messages",
        "Received messages whose end-to-end latency runs from the publish time (no stamp).",
    ),
)
_PROM_HISTOGRAMS: Final = (
    ("publish_latency", "publish_latency_seconds", "Intended send time to broker ack."),
    ("send_delay", "send_delay_seconds", "Actual minus intended send time (schedule lag)."),
    ("e2e_latency", "e2e_latency_seconds", "Producer intended send time to consumer receipt."),
    ("processing_latency", "processing_latency_seconds", "Consumer receive to ack."),
    (
        "publish_latency_from_send",
        "publish_latency_from_send_seconds",
        "Actual send time to broker ack (as clients that time their send call report it).",
    ),
)


class SnapshotCollector:
    """A prometheus_client collector that builds metric families at scrape time.

    It reads ``get_snapshot()`` (e.g. ``lambda: sampler.latest``): an immutable snapshot, so a
    scrape never races the sampler. Counters and histograms are totals since start/reset.
    """

    def __init__(
        self,
        get_snapshot: Callable[[], Snapshot | None],
        namespace: str = "pulsarload",
        buckets_us: Sequence[int] = PROMETHEUS_BUCKETS_US,
    ) -> None:
        self._get = get_snapshot
        self.namespace = namespace
        self.buckets_us = tuple(buckets_us)

    def describe(self) -> Iterable[Any]:
        return []  # families depend on the snapshot; skip describe-time collection

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        snap = self._get()
        if snap is None:
            return
        ns = self.namespace
        label_names = sorted(snap.labels)
        label_values = [snap.labels[k] for k in label_names]
        total = snap.total

        for fld, name, doc in _PROM_COUNTERS:
            fam = CounterMetricFamily(f"{ns}_{name}", doc, labels=label_names)
            fam.add_metric(label_values, getattr(total, fld))
            yield fam
        fam = CounterMetricFamily(
            f"{ns}_messages_failed",
            "Messages that failed, by error category.",
            labels=[*label_names, "category"],
        )
        for cat, n in sorted(total.errors.items()):
            fam.add_metric([*label_values, cat], n)
        yield fam

        fam = CounterMetricFamily(
            f"{ns}_messages_redelivered_by_reason",
            "Messages redelivered, by the reason the consumer's client knows (native engine).",
            labels=[*label_names, "reason"],
        )
        for reason, fld in zip(REDELIVERY_REASONS, REDELIVERY_FIELDS, strict=True):
            fam.add_metric([*label_values, reason], getattr(total, fld))
        yield fam

        for kind, name, doc in _PROM_HISTOGRAMS:
            h = snap.total_histograms.get(kind)
            if h is None:
                continue
            counts = h.counts_by_edges(self.buckets_us)
            running = 0
            buckets: list[tuple[str, float]] = []
            for edge, c in zip(self.buckets_us, counts, strict=False):
                running += c
                buckets.append((repr(edge / 1e6), running))
            running += counts[-1]
            buckets.append(("+Inf", running))
            stats = snap.total_latency.get(kind)
            sum_seconds = (stats.mean * stats.count / 1e6) if stats is not None else 0.0
            fam = HistogramMetricFamily(f"{ns}_{name}", doc, labels=label_names)
            fam.add_metric(label_values, buckets, sum_seconds)
            yield fam

        def gauge(name: str, doc: str, value: float) -> Any:
            g = GaugeMetricFamily(f"{ns}_{name}", doc, labels=label_names)
            g.add_metric(label_values, value)
            return g

        res = snap.resources
        yield gauge(
            "elapsed_seconds", "Seconds since the run (or last reset) started.", snap.elapsed
        )
        yield gauge("workers", "Worker threads.", len(snap.workers))
        yield gauge("process_resident_memory_bytes", "Resident set size.", res.rss_bytes)
        yield gauge("process_threads", "OS threads in the process.", res.threads)
        yield gauge(
            "gil_enabled",
            "1 if the GIL is on (it should be 0 on a free-threaded build).",
            1.0 if res.gil_enabled else 0.0,
        )
        yield gauge(
            "free_threaded_build",
            "1 on a free-threaded interpreter build.",
            1.0 if res.free_threaded_build else 0.0,
        )
        yield gauge("connections", "Open broker connections.", res.connections)
        cpu = CounterMetricFamily(
            f"{ns}_process_cpu_seconds", "Process CPU time (user+system).", labels=label_names
        )
        cpu.add_metric(label_values, res.process_cpu_seconds)
        yield cpu
        net_in = CounterMetricFamily(
            f"{ns}_network_received_bytes", "Bytes read from broker sockets.", labels=label_names
        )
        net_in.add_metric(label_values, res.net_bytes_in)
        yield net_in
        net_out = CounterMetricFamily(
            f"{ns}_network_sent_bytes", "Bytes written to broker sockets.", labels=label_names
        )
        net_out.add_metric(label_values, res.net_bytes_out)
        yield net_out

        wl = [*label_names, "worker"]
        wcpu = GaugeMetricFamily(
            f"{ns}_worker_cpu_ratio",
            "Worker thread CPU use over the last interval (1 = one core).",
            labels=wl,
        )
        wpend = GaugeMetricFamily(
            f"{ns}_worker_pending_sends_messages",
            "Messages sent and not yet acknowledged.",
            labels=wl,
        )
        wq = GaugeMetricFamily(
            f"{ns}_worker_receiver_queue_messages",
            "Messages waiting in the consumer's receiver queue.",
            labels=wl,
        )
        wstate = GaugeMetricFamily(
            f"{ns}_worker_state", "1 for the worker's current state.", labels=[*wl, "state"]
        )
        for w in snap.workers:
            lv = [*label_values, w.worker_id]
            if w.cpu_percent is not None:
                wcpu.add_metric(lv, w.cpu_percent / 100.0)
            wpend.add_metric(lv, w.pending_sends)
            wq.add_metric(lv, w.receiver_queue)
            wstate.add_metric([*lv, w.state], 1.0)
        yield wcpu
        yield wpend
        yield wq
        yield wstate


def start_prometheus_server(
    port: int,
    get_snapshot: Callable[[], Snapshot | None],
    addr: str = "0.0.0.0",
    namespace: str = "pulsarload",
) -> tuple[Any, Any]:
    """Serve ``/metrics`` on ``port`` from a private registry; returns (server, thread).

    Stop it with ``server.shutdown()``. Port 0 picks a free port (``server.server_port``).
    """
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(get_snapshot, namespace))
    try:
        return start_http_server(port, addr=addr, registry=registry)
    except OSError as err:  # port taken, address not local or not resolvable
        raise ConfigError(
            f"--prometheus-port {port}: cannot listen on {addr}:{port} ({err.strerror or err}); "
            "pick a free port or another --prometheus-addr"
        ) from None


def prometheus_text(
    get_snapshot: Callable[[], Snapshot | None], namespace: str = "pulsarload"
) -> str:
    """The exposition text a scrape would return (tests, ``--prometheus-dump``)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(get_snapshot, namespace))
    return generate_latest(registry).decode("utf-8")
