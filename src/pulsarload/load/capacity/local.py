"""`pulsarload capacity`: a producer controller (and a consumer controller with
`--with-consumer`) driven by the search, then the report, the summary and the exit code.

The producer side is one process here by default; a `Placement` from a layer above (the
cluster glue) puts it on shards instead. The search and its judging are the same either way."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pulsarload.client.admin import AdminClient, AdminError
from pulsarload.config import CapacitySettings, ConsumeSettings, ProduceSettings
from pulsarload.errors import UserError
from pulsarload.load.capacity.live import StatusTicker
from pulsarload.load.capacity.run import CapacityReport, SearchDriver
from pulsarload.load.capacity.step import client_cores, parse_slos
from pulsarload.load.controller import LoadController
from pulsarload.load.headless import failure_hint
from pulsarload.load.results import check_paths

EXIT_FOUND, EXIT_NONE_PASSED, EXIT_WORKER_FAILED, EXIT_INTERRUPTED = 0, 1, 3, 130


def producer_settings(s: CapacitySettings) -> ProduceSettings:
    """The producer side of the search: the same settings, starting at the first step's rate."""
    names = {f.name for f in dataclasses.fields(ProduceSettings)}
    values = {n: getattr(s, n) for n in names}
    return ProduceSettings(**{**values, "rate": s.start_rate, "headless": True})


def consumer_settings(s: CapacitySettings, subscription: str) -> ConsumeSettings:
    """A consumer on a subscription of its own, shared by as many threads as produce."""
    shared = {f.name for f in dataclasses.fields(ConsumeSettings)} & {
        f.name for f in dataclasses.fields(ProduceSettings)
    }
    values = {n: getattr(s, n) for n in shared}
    values.update(
        report=None,
        export_dir=None,
        histogram_log=None,
        prometheus_port=0,
        thresholds=(),
        verify=False,
        headless=True,
        subscription=subscription,
        subscription_type="shared",
        initial_position="latest",
        cluster=None,  # the consumer runs in this process, also when producers are sharded
        workers=None,
    )
    return ConsumeSettings(**values)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the producer side runs and how the search reads it: `make` builds a controller
    (start/apply/subscribe/done/stop/report_extra, the face of `LoadController`), `abort` says
    why it stopped by itself, `cores` how many CPUs the client side has (after start)."""

    make: Callable[[ProduceSettings], Any]
    abort: Callable[[Any], Callable[[], str | None]]
    cores: Callable[[Any], int]
    where: Callable[[Any], str]


def _abort_check(producer: LoadController) -> Callable[[], str | None]:
    def check() -> str | None:
        pool = producer.pool
        if pool is None or not pool.finished():
            return None
        failures = pool.failures()
        return "the producer workers stopped: " + (failures[0] if failures else "no reason given")

    return check


def wait_subscribed(consumer: LoadController, timeout_s: float, stop: threading.Event) -> bool:
    """Until every consumer thread has subscribed (bounded): a subscription at `latest` made
    after the first sends would never see them, and count them as a growing backlog."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        pool = consumer.pool
        states = [h.state for h in pool.health()] if pool is not None else []
        if states and all(state not in ("starting", "connecting") for state in states):
            return True
        stop.wait(0.05)
    return False


ONE_PROCESS = Placement(
    make=lambda s: LoadController("producer", s),
    abort=_abort_check,
    cores=lambda _c: client_cores(),
    where=lambda _c: "",
)


def run_capacity(
    settings: CapacitySettings,
    echo: Callable[[str], None] = print,
    placement: Placement = ONE_PROCESS,
    on_driver: Callable[[SearchDriver], None] | None = None,
    status_every: float | None = None,
) -> int:
    """Search, print every step as it ends and the answer, write the report; the exit code.
    `on_driver` gets the search driver once the load runs (a live view reads it);
    `status_every` seconds, a status line with the load's figures and the search's state."""
    slos = parse_slos(settings.slos, settings.with_consumer)
    check_paths(settings)
    producer = placement.make(producer_settings(settings))
    consumer = None
    subscription = f"{settings.capacity_subscription}-{uuid.uuid4().hex[:8]}"
    if settings.with_consumer:
        consumer = LoadController("consumer", consumer_settings(settings, subscription))
    stop = threading.Event()
    previous: dict[int, object] = {}

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            os._exit(128 + signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    echo(
        f"capacity search on {settings.topic}: SLO {', '.join(str(t) for t in slos)}; ramp from "
        f"{settings.start_rate:,.0f} msg/s x{settings.ramp_factor:g} up to "
        f"{settings.max_rate:,.0f}, then bisection to {settings.resolution:.1%}; "
        f"each step {settings.step_warmup_s:g} s warm-up + {settings.step_window_s:g} s measured"
        + ("; with a consumer" if consumer else "")
    )
    report: CapacityReport | None = None
    ticker: StatusTicker | None = None
    started = False
    try:
        if consumer is not None:
            consumer.start()
            if not wait_subscribed(consumer, 2 * settings.connect_timeout_s, stop):
                echo("the consumer has not subscribed yet; its first steps may show a backlog")
        producer.start()
        started = True
        where = placement.where(producer)
        if where:
            echo(where)
        driver = SearchDriver(
            settings,
            slos,
            producer,
            consumer,
            echo=echo,
            stop=stop,
            abort=placement.abort(producer),
            cores=placement.cores(producer),
        )
        if on_driver is not None:
            on_driver(driver)
        if status_every:
            ticker = StatusTicker(producer, driver.live, echo, status_every)
        try:
            report = driver.run()
        finally:
            if ticker is not None:
                ticker.close()
    finally:
        if stop.is_set():
            echo("interrupted: stopping workers (flush, close); signal again to exit at once")
        if report is not None:
            producer.report_extra["capacity"] = report.to_dict()
        consumer_result = consumer.stop() if consumer is not None else None
        # A producer that failed to start has cleaned up after itself (its error goes on).
        result = producer.stop() if started or placement is ONE_PROCESS else None
        if consumer is not None:
            with contextlib.suppress(AdminError), AdminClient.for_settings(settings) as admin:
                admin.delete_subscription(settings.topic, subscription)
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
    assert result is not None and report is not None
    total = result.final.total
    if result.failures and total.sent == 0:
        first = result.failures[0].split(": ", 2)[-1].rstrip(". ")
        raise UserError(f"{first}; nothing was sent{failure_hint(first, producer)}")
    for line in report.lines():
        echo(line)
    failures = result.failures + (consumer_result.failures if consumer_result else [])
    for failure in failures:
        echo(f"worker failure: {failure}")
    if result.report_path:
        echo(f"report written to {result.report_path}")
    if stop.is_set():
        return EXIT_INTERRUPTED
    if failures:
        return EXIT_WORKER_FAILED
    return EXIT_FOUND if report.outcome.passing is not None else EXIT_NONE_PASSED
