"""The broker's side of a benchmark run, through the one admin client (``client/admin.py``).

Topics and subscriptions are made before a run and deleted after it; the broker's own message
counters (``msgInCounter``, a subscription's ``msgOutCounter``) are sampled on a thread so every
tool is measured with the same stick; the backlog tells when a consumer has drained a topic.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from pulsarload.bench.model import Broker
from pulsarload.bench.process import MonitoredProcess
from pulsarload.client.admin import AdminClient, AdminError

#: Timeout of one admin request made by the benchmarks (a busy standalone can be slow to answer).
ADMIN_TIMEOUT_S = 30.0
#: Timeout of one counter sample: a late sample is skipped, the next one is on time.
SAMPLE_TIMEOUT_S = 5.0


def admin(broker: Broker, timeout_s: float = ADMIN_TIMEOUT_S) -> AdminClient:
    """An admin client for ``broker`` (close it, or use it as a context manager)."""
    return AdminClient(broker.admin_url, timeout_s=timeout_s)


def create_topic_with_subscription(broker: Broker, topic: str, subscription: str) -> None:
    """Create the topic and its subscription up front, so no message is missed whoever starts
    first (the consumer attaches to a subscription that already holds everything)."""
    with admin(broker) as a:
        a.create_subscription(topic, subscription)


def delete_topic(broker: Broker, topic: str) -> None:
    """Best effort: drop a finished run's topic so a long suite does not fill the bookie's disk
    (each run writes hundreds of MB; the bookie reclaims a deleted ledger's space at its GC)."""
    with contextlib.suppress(AdminError), admin(broker) as a:
        a.delete_topic(topic)


def subscription_stats(broker: Broker, topic: str, subscription: str) -> dict[str, Any] | None:
    """The broker's stats of one subscription, or None when it cannot say."""
    try:
        with admin(broker, timeout_s=10.0) as a:
            return dict(a.topic_stats(topic)["subscriptions"][subscription])
    except (AdminError, KeyError, TypeError, ValueError):
        return None


def backlog(broker: Broker, topic: str, subscription: str) -> int | None:
    """Entries not yet acknowledged on the subscription (None when unknown)."""
    stats = subscription_stats(broker, topic, subscription)
    try:
        return None if stats is None else int(stats["msgBacklog"])
    except (KeyError, TypeError, ValueError):
        return None


def wait_consumer_attached(
    broker: Broker, topic: str, subscription: str, proc: MonitoredProcess, timeout: float
) -> bool:
    """Wait until a consumer is connected to the subscription (a JVM takes seconds to start;
    starting the producer earlier would put that start-up into the end-to-end latency)."""
    deadline = time.time() + timeout
    while time.time() < deadline and not proc.finished:
        stats = subscription_stats(broker, topic, subscription)
        if stats and stats.get("consumers"):
            return True
        time.sleep(0.2)
    return False


class TopicCounter:
    """Samples the broker's message counters of a topic every ``interval`` s: messages published
    to it (``msgInCounter``) and, with a subscription, dispatched to that subscription's
    consumers (its ``msgOutCounter``). One measuring stick for every tool."""

    def __init__(
        self, broker: Broker, topic: str, subscription: str | None = None, interval: float = 0.5
    ) -> None:
        self.broker = broker
        self.topic = topic
        self.subscription = subscription
        self.interval = interval
        self.series: list[tuple[float, int, int]] = []  # (time, in, out)
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-topic-counter", daemon=True)

    def __enter__(self) -> TopicCounter:
        """Start sampling; returns once the first sample is in (or its timeout passed), so the
        run that follows starts after a baseline and no early count goes unseen."""
        self._thread.start()
        self._first.wait(SAMPLE_TIMEOUT_S + 1.0)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15.0)

    def _run(self) -> None:
        with admin(self.broker, timeout_s=SAMPLE_TIMEOUT_S) as a:
            while not self._stop.is_set():
                self._sample(a)
                self._first.set()
                self._stop.wait(self.interval)
            self._sample(a)  # the final count, taken after the run ended
        self._first.set()

    def _sample(self, a: AdminClient) -> None:
        """One sample, timed at the middle of its request (the broker counts somewhere inside
        it; a slow answer would otherwise date the count too early)."""
        t0 = time.time()
        try:
            stats = a.topic_stats(self.topic)
            out = 0
            if self.subscription:
                sub = stats.get("subscriptions", {}).get(self.subscription, {})
                out = int(sub.get("msgOutCounter", 0))
            self.series.append(((t0 + time.time()) / 2, int(stats.get("msgInCounter", 0)), out))
        except (AdminError, ValueError, TypeError, AttributeError):
            pass  # not created yet, or a slow answer: the next sample is on time

    def count_at(self, t: float, column: int = 1) -> float | None:
        """The counter (1 = in, 2 = out) at time ``t``, linear between samples."""
        s = self.series
        if len(s) < 2 or t < s[0][0] - self.interval or t > s[-1][0] + 2 * self.interval:
            return None
        if t <= s[0][0]:
            return float(s[0][column])
        for a, b in zip(s, s[1:], strict=False):
            if a[0] <= t <= b[0]:
                if b[0] == a[0]:
                    return float(b[column])
                return a[column] + (b[column] - a[column]) * (t - a[0]) / (b[0] - a[0])
        return float(s[-1][column])

    def rate(self, t0: float, t1: float, column: int = 1) -> float | None:
        a, b = self.count_at(t0, column), self.count_at(t1, column)
        return None if a is None or b is None or t1 <= t0 else (b - a) / (t1 - t0)

    def time_at(self, value: float, column: int = 2) -> float | None:
        """When the counter (1 = in, 2 = out) reached ``value``, linear between samples; None
        when it never did while sampled."""
        pair = self._bracket(value, column)
        if pair is None:
            return None
        a, b = pair
        return a[0] + (b[0] - a[0]) * (value - a[column]) / (b[column] - a[column])

    def gap_at(self, value: float, column: int = 2) -> float | None:
        """Seconds between the two samples around the moment the counter reached ``value``:
        how far ``time_at`` may be off."""
        pair = self._bracket(value, column)
        return None if pair is None else pair[1][0] - pair[0][0]

    def _bracket(
        self, value: float, column: int
    ) -> tuple[tuple[float, int, int], tuple[float, int, int]] | None:
        s = self.series
        for a, b in zip(s, s[1:], strict=False):
            if a[column] < value <= b[column]:
                return a, b
        return None


def delete_subscription(broker: Broker, topic: str, subscription: str) -> None:
    """Best effort: a drain's own subscription goes when the drain is done."""
    with contextlib.suppress(AdminError), admin(broker) as a:
        a.delete_subscription(topic, subscription)


def published(broker: Broker, topic: str) -> int | None:
    """Messages the broker has taken on the topic (``msgInCounter``), None when unknown."""
    try:
        with admin(broker) as a:
            return int(a.topic_stats(topic).get("msgInCounter", 0))
    except (AdminError, TypeError, ValueError):
        return None
