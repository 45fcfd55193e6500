"""The producer worker's send delay on a stepped clock: the loop's own contribution, apart
from the machine's scheduling noise.

Run: .venv/bin/pulsarload bench rate-model [--late-us 60] [--seconds 5]

The worker runs its real loop (`ProducerWorker._loop`) against a producer that completes every
send 2 ms later; `time` is a fake clock and each sleep wakes `--late-us` late (an idle Linux
core: timer slack 50 µs plus wake-up). Prints send delay p50/p99/max per rate, batching on
(1 ms batch delay) and off. Point PYTHONPATH at another checkout's src to model its loop.
"""

from __future__ import annotations

import argparse
import json

from pulsarload.config import ProduceSettings
from pulsarload.load.payloads import KeyGenerator, PayloadGenerator, PayloadSettings
from pulsarload.metrics.recorder import RecorderSlot

try:
    from pulsarload.load import producer_worker as workers
except ImportError:  # a checkout from before load/producer_worker.py
    from pulsarload.load import workers  # type: ignore[no-redef]
try:
    from pulsarload.load import held
except ImportError:  # a checkout from before load/held.py
    held = None


class Clock:
    def __init__(self) -> None:
        self.ns = 10**12

    def monotonic_ns(self) -> int:
        return self.ns

    def time_ns(self) -> int:
        return self.ns

    def monotonic(self) -> float:
        return self.ns / 1e9


class Stop:
    def __init__(self, clock: Clock, until_ns: int, late_ns: int) -> None:
        self.clock, self.until_ns, self.late_ns = clock, until_ns, late_ns

    def is_set(self) -> bool:
        return self.clock.ns >= self.until_ns

    def set(self) -> None:
        self.until_ns = 0

    def wait(self, timeout: float) -> bool:
        self.clock.ns += max(0, int(timeout * 1e9)) + self.late_ns
        return self.is_set()


class Producer:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def send_batch(self, payloads, on_done, **_kw) -> None:  # type: ignore[no-untyped-def]
        self.clock.ns += 2_000_000
        on_done(len(payloads), None)
        self.clock.ns -= 2_000_000

    def pending(self) -> int:
        return 0


def model(rate: float, seconds: float, late_ns: int, batching: bool) -> dict:
    clock = Clock()
    workers.time = clock  # type: ignore[attr-defined]
    if held is not None:
        held.time = clock  # type: ignore[attr-defined]
    s = ProduceSettings(rate=rate, batching=batching, batch_delay_ms=1.0)
    try:  # the worker's clock; a checkout from before injectable clocks reads the patched `time`
        w = workers.ProducerWorker(0, None, RecorderSlot("p"), s, rate=rate, clock=clock.monotonic)  # type: ignore[arg-type]
    except TypeError:
        w = workers.ProducerWorker(0, None, RecorderSlot("p"), s, rate=rate)  # type: ignore[arg-type]
    w.stop_event = Stop(clock, clock.ns + int(seconds * 1e9), late_ns)  # type: ignore[assignment]
    w._loop(Producer(clock), PayloadGenerator(PayloadSettings(size=10)), KeyGenerator())  # type: ignore[arg-type]
    d = w.slot.active.send_delay
    p = d.percentiles((50.0, 99.0))
    return {"rate": rate, "batching": batching, "late_us": late_ns // 1000,
            "send_delay_p50_us": p[50.0], "send_delay_p99_us": p[99.0], "max_us": d.max}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--late-us", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    for rate in (3000.0, 30000.0):
        for batching in (True, False):
            print(json.dumps(model(rate, a.seconds, a.late_us * 1000, batching)))


if __name__ == "__main__":
    main()
