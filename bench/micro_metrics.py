"""Micro-benchmark of the metrics hot path: ns per record, and scaling from 1 to N threads.

Run with the project's interpreter (free-threaded for the scaling figure to mean anything):

    .venv/bin/python bench/micro_metrics.py [--n 2000000] [--threads 1,2] [--repeat 5]

Each thread records into its own Histogram (or Recorder), as workers do. Values are drawn up
front from a log-normal latency distribution so the timed loop does only the recording.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pulsarload.metrics.hdr import Histogram  # noqa: E402
from pulsarload.metrics.recorder import RecorderSlot  # noqa: E402


def make_values(n: int, seed: int) -> list[int]:
    rnd = random.Random(seed)
    return [int(rnd.lognormvariate(7.0, 1.0)) + 1 for _ in range(n)]


def loop_empty(values: list[int]) -> None:
    for _v in values:
        pass


def loop_histogram(values: list[int]) -> None:
    rec = Histogram().record
    for v in values:
        rec(v)


def loop_recorder(values: list[int]) -> None:
    """The worker's real path: through the slot, as the sampler may swap at any time."""
    slot = RecorderSlot("bench")
    for v in values:
        slot.active.record_ack(v)


def loop_send_batch(values: list[int]) -> None:
    slot = RecorderSlot("bench")
    for v in values:
        slot.active.record_send_batch(1, v)


def best_time(fn: Callable[[list[int]], None], values: list[int], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(values)
        best = min(best, time.perf_counter() - t0)
    return best


def threaded_rate(fn: Callable[[list[int]], None], n: int, threads: int, repeat: int) -> float:
    """Best total records per second with ``threads`` threads, each with its own histogram."""
    value_sets = [make_values(n, seed) for seed in range(threads)]
    best = 0.0
    for _ in range(repeat):
        barrier = threading.Barrier(threads + 1)
        done = threading.Barrier(threads + 1)

        def run(vals: list[int], barrier: threading.Barrier, done: threading.Barrier) -> None:
            barrier.wait()
            fn(vals)
            done.wait()

        ts = [threading.Thread(target=run, args=(v, barrier, done)) for v in value_sets]
        for t in ts:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        done.wait()
        elapsed = time.perf_counter() - t0
        for t in ts:
            t.join()
        best = max(best, threads * n / elapsed)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000, help="records per thread per run")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure (best is kept)")
    args = ap.parse_args()

    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    print(f"python {platform.python_version()} ({sys.executable})")
    print(f"free-threaded build: {ft}, GIL enabled: {gil}, cpus: {os.cpu_count()}")
    print()

    values = make_values(args.n, 1)
    empty = best_time(loop_empty, values, args.repeat)
    hist = best_time(loop_histogram, values, args.repeat)
    recd = best_time(loop_recorder, values, args.repeat)
    batch = best_time(loop_send_batch, values, args.repeat)
    per = 1e9 / args.n
    print("single thread                            ns/call   (minus empty loop)")
    print(f"  empty for-loop                         {empty * per:7.1f}")
    print(
        f"  Histogram.record(v)                    {hist * per:7.1f}   {(hist - empty) * per:7.1f}"
    )
    print(
        f"  slot.active.record_ack(v)              {recd * per:7.1f}   {(recd - empty) * per:7.1f}"
    )
    print(
        f"  slot.active.record_send_batch(1, v)    {batch * per:7.1f}   {(batch - empty) * per:7.1f}"
    )
    print()

    counts = [int(x) for x in args.threads.split(",")]
    print("threads   Histogram.record/s   scaling   slot.active.record_ack/s   scaling")
    base_h = base_r = None
    for k in counts:
        rh = threaded_rate(loop_histogram, args.n, k, args.repeat)
        rr = threaded_rate(loop_recorder, args.n, k, args.repeat)
        base_h = base_h or rh
        base_r = base_r or rr
        print(f"{k:7d}   {rh:18,.0f}   {rh / base_h:6.2f}x   {rr:24,.0f}   {rr / base_r:6.2f}x")


if __name__ == "__main__":
    main()
