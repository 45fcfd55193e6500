"""The search's live state in the headless status lines: the load's figures over the interval,
then the step under way, its target and stage, and the bracket so far."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pulsarload.load.capacity.live import LiveSearch, StatusTicker
from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.snapshot import Counters, Snapshot

LIVE = LiveSearch(
    index=4, phase="bisect", target=1500, stage="measuring", stage_elapsed_s=3.4,
    stage_length_s=10.0, passing=1000, failing=2000, passed=2, failed=1, last=None,
    resolution=0.05,
)  # fmt: skip


def test_the_line_says_the_step_its_stage_and_the_bracket() -> None:
    assert LIVE.line() == (
        "step 4 bisect 1,500 msg/s measuring 3/10 s | passes 1,000 | fails 2,000 "
        "(100.0% apart, to 5.0%) | 2 passed, 1 failed"
    )
    start = LiveSearch(None, None, None, "starting", 0.0, 0.0, None, None, 0, 0, None, 0.05)
    assert start.line() == "search starting | no pass yet | no fail yet | 0 passed, 0 failed"
    priming = LiveSearch(None, None, None, "priming", 4.2, 15.0, None, None, 0, 0, None, 0.05)
    assert priming.line().startswith("priming (not measured) 4/15 s | no pass yet")


class Pool:
    target_rate, size, paused = 1500.0, 1, False


class Producer:
    """Snapshots in (as a sampler would post them), the pool the status line reads."""

    pool = Pool()

    def __init__(self) -> None:
        self.callbacks: list[Callable[[Snapshot], None]] = []

    def subscribe(self, cb: Callable[[Snapshot], None]) -> Callable[[], None]:
        self.callbacks.append(cb)
        return lambda: self.callbacks.remove(cb)

    def in_warmup(self, _snap: Snapshot) -> bool:
        return False

    def post(self, acked: int) -> None:
        h = Histogram()
        h.record(2000, acked)
        c = Counters(sent=acked, acked=acked)
        snap = Snapshot(
            1, time.time(), 1.0, 0.1, c, {}, {}, c, {}, histograms={"publish_latency": h}
        )
        for cb in list(self.callbacks):
            cb(snap)


def test_the_ticker_prints_the_load_then_the_search() -> None:
    producer, lines, got = Producer(), [], threading.Event()

    def echo(line: str) -> None:
        lines.append(line)
        got.set()

    ticker = StatusTicker(producer, lambda: LIVE, echo, every=0.05)
    try:
        deadline = time.monotonic() + 10
        while not got.is_set() and time.monotonic() < deadline:
            producer.post(150)
            got.wait(0.02)
    finally:
        ticker.close()
    assert not producer.callbacks  # unsubscribed on close
    assert lines, "no status line within 10 s"
    load, search = lines[0].split(" | target ")[0], lines[0]
    assert "produced" in load and "p99" in load
    assert search.endswith(LIVE.line())
