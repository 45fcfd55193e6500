"""Backlog of a topic's subscriptions, from the broker's admin REST API.

`RunBacklog` asks once for the run's topic; both dashboards (terminal and browser) poll it and
draw its answer, the broker's numbers rather than a measurement of ours. The backpressure
scenario runs producers above what the consumers take; `BacklogMonitor` polls the topic stats
once a second on its own thread and reports how fast the backlog grows. Every request has a
timeout; when the admin API cannot be reached they say so instead of inventing zeros.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from pulsarload.client.admin import AdminClient, AdminError, SubscriptionBacklog

POLL_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class BacklogAnswer:
    """One answer of the admin API: rows, or why there are none."""

    state: str  # ok, unreachable, error (the API answered with a failure), unavailable
    rows: tuple[SubscriptionBacklog, ...] = ()
    error: str | None = None


class RunBacklog:
    """Asks the admin API for the backlog of a run's topic, per partition and subscription.

    Reads the run's settings on each call, so an admin URL changed while running is followed
    (with a new client)."""

    def __init__(self, controller: Any, timeout_s: float) -> None:
        self._controller = controller
        self._timeout_s = timeout_s
        self._client: AdminClient | None = None

    def __call__(self) -> BacklogAnswer:
        s = self._controller.settings
        if getattr(s, "pattern", None):
            return BacklogAnswer(
                "unavailable", error="a topic pattern has no single topic to ask about"
            )
        try:
            if self._client is None or self._client.base != s.admin_url.rstrip("/"):
                self._client = AdminClient.for_settings(s, timeout_s=self._timeout_s)
            rows = self._client.backlog(s.topic)
        except AdminError as err:
            return BacklogAnswer("error" if err.status else "unreachable", error=str(err))
        return BacklogAnswer("ok", tuple(rows))


@dataclass(frozen=True, slots=True)
class BacklogSample:
    elapsed: float
    total: int
    by_subscription: dict[str, int]


class BacklogMonitor:
    def __init__(
        self, admin: AdminClient, topic: str, *, interval: float = POLL_INTERVAL_S
    ) -> None:
        self.topic = topic
        self.interval = interval
        self._admin = admin
        self.samples: list[BacklogSample] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="backlog-monitor", daemon=True)

    def start(self) -> None:
        self._start = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._admin.close()

    def poll_once(self) -> None:
        try:
            rows = self._admin.backlog(self.topic)
        except AdminError as err:
            self.error = str(err)
            return
        self.error = None
        subs: dict[str, int] = {}
        for row in rows:
            subs[row.subscription] = subs.get(row.subscription, 0) + row.backlog
        self.samples.append(BacklogSample(time.monotonic() - self._start, sum(subs.values()), subs))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval)

    def growth_per_second(self) -> float | None:
        """Least-squares slope of the total backlog (msg/s); None with fewer than two samples."""
        pts = self.samples
        if len(pts) < 2:
            return None
        n = len(pts)
        mean_t = sum(p.elapsed for p in pts) / n
        mean_b = sum(p.total for p in pts) / n
        var = sum((p.elapsed - mean_t) ** 2 for p in pts)
        if not var:
            return None
        return sum((p.elapsed - mean_t) * (p.total - mean_b) for p in pts) / var
