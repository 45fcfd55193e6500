"""The coordinator's view of each shard: where it runs, its clock, its last report, its fate.

A `ShardHandle` wraps the Dask actor proxy of one `Shard` and keeps at most one metrics poll in
flight per shard (a slow answer is collected in a later round, never dropped), so every
interval a shard measured is merged exactly once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from pulsarload.metrics.shards import ShardStats


@dataclass(slots=True)
class ClockSample:
    offset_s: float  # shard clock minus ours
    rtt_s: float


def clock_offset(local_before: float, remote: float, local_after: float) -> ClockSample:
    """NTP's estimate: the remote clock was read halfway through the round trip."""
    return ClockSample(remote - (local_before + local_after) / 2, local_after - local_before)


class ShardHandle:
    """One shard as the coordinator sees it (touched by the coordinator's threads only)."""

    def __init__(self, index: int, address: str, host: str, facts: dict[str, Any]) -> None:
        self.index = index
        self.address = address
        self.host = host
        self.facts = facts
        self.future: Any = None  # the Dask future holding the actor
        self.actor: Any = None
        self.state = "connecting"
        self.clock = ClockSample(0.0, 0.0)
        self.pending: Any = None  # an ActorFuture of a poll in flight
        self.pending_since = 0.0
        self.lost_at_s: float | None = None
        self.note: str | None = None
        self.threads = 0
        self.paused = False
        self.finished = False
        self.started_at: float | None = None  # go time on the shard's clock
        self.failures: list[str] = []
        self.gil_enabled = bool(facts.get("gil_enabled", False))
        self.done_total = 0
        self.measured_s = 0.0
        self.errors_total = 0
        self.done_at_loss: int | None = None
        self.rate = 0.0
        self.p99_us = 0
        self.cpu_percent = 0.0
        self.rss_bytes = 0
        self.metrics_bytes = 0
        self.metrics_seconds = 0.0
        self.final: dict[str, Any] | None = None

    @property
    def live(self) -> bool:
        return self.state != "lost" and self.actor is not None

    def measure_clock(self, rounds: int = 3, timeout: float = 10.0) -> ClockSample:
        """The offset from the sample with the shortest round trip (the least noisy)."""
        best: ClockSample | None = None
        for _ in range(rounds):
            before = time.time()
            remote = self.actor.facts().result(timeout=timeout)["time"]
            sample = clock_offset(before, float(remote), time.time())
            if best is None or sample.rtt_s < best.rtt_s:
                best = sample
        assert best is not None
        self.clock = best
        return best

    def take_report(self, raw: bytes, role: str, epoch: int, seconds: float) -> dict[str, Any]:
        """Decode one poll answer and keep what the shard table shows."""
        report = json.loads(raw)
        self.metrics_bytes += len(raw)
        self.metrics_seconds += seconds
        self.threads = int(report.get("threads", 0))
        self.paused = bool(report.get("paused", False))
        self.finished = bool(report.get("finished", False))
        self.failures = list(report.get("failures", ()))
        self.gil_enabled = bool(report.get("gil_enabled", self.gil_enabled))
        if report.get("started_at") is not None:
            self.started_at = float(report["started_at"])
        counters = report.get("counters", {})
        done_key = "acked" if role == "producer" else "received"
        span = float(report.get("seconds") or 0.0)
        if report.get("epoch", 0) == epoch:
            self.done_total += int(counters.get(done_key, 0))
            self.measured_s += span
            self.errors_total += int(counters.get("failed", 0))
        self.rate = int(counters.get(done_key, 0)) / span if span > 0 else 0.0
        resources = report.get("resources") or {}
        if resources:
            self.cpu_percent = float(resources.get("process_cpu_percent", 0.0))
            self.rss_bytes = int(resources.get("rss_bytes", 0))
        if self.state not in ("lost", "stopped"):
            self.state = (
                "failed"
                if self.failures and self.finished
                else "done"
                if self.finished
                else "paused"
                if self.paused
                else "running"
            )
        if self.failures:
            self.note = self.failures[-1]
        return report

    def reset_totals(self) -> None:
        self.done_total = 0
        self.measured_s = 0.0
        self.errors_total = 0

    def stats(self, role: str, p99_us: int, standby: bool = False) -> ShardStats:
        state = "standby" if standby and self.state == "running" else self.state
        return ShardStats(
            shard=self.index,
            address=self.address,
            host=self.host,
            state=state,
            threads=0 if self.state == "lost" else self.threads,
            rate=0.0 if self.state == "lost" else self.rate,
            p99_us=p99_us,
            done=self.done_total,
            errors=self.errors_total,
            measured_s=self.measured_s,
            cpu_percent=self.cpu_percent,
            rss_bytes=self.rss_bytes,
            gil_enabled=self.gil_enabled,
            clock_offset_ms=self.clock.offset_s * 1000,
            metrics_bytes_per_s=self.metrics_bytes / self.metrics_seconds
            if self.metrics_seconds > 0
            else 0.0,
            lost_at_s=self.lost_at_s,
            note=self.note,
        )

    def summary(self) -> dict[str, Any]:
        """This shard in the report."""
        return {
            "shard": self.index,
            "address": self.address,
            "host": self.host,
            "state": self.state,
            "pulsarload": self.facts.get("pulsarload"),
            "python": self.facts.get("python"),
            "free_threaded_build": self.facts.get("free_threaded_build"),
            "gil_enabled": self.gil_enabled,
            "pid": self.facts.get("pid"),
            "clock_offset_ms": self.clock.offset_s * 1000,
            "clock_rtt_ms": self.clock.rtt_s * 1000,
            "threads": self.threads,
            "done": self.done_total,
            "errors": self.errors_total,
            "metrics_bytes_per_s": self.metrics_bytes / self.metrics_seconds
            if self.metrics_seconds > 0
            else 0.0,
            "lost_at_s": self.lost_at_s,
            "done_at_loss": self.done_at_loss,
            "note": self.note,
        }
