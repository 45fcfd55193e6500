"""Micro-benchmark of the metrics hot path: ns per record, and scaling from 1 to N threads.

Run with the project's interpreter (free-threaded for the scaling figure to mean anything):

    .venv/bin/pulsarload bench micro-metrics [--n 1000000] [--threads 1,2] [--repeat 7]

Each thread records into its own Histogram (or recorder slot), as workers do. Values are drawn
up front from a log-normal latency distribution so the timed loop does only the recording.

Two clocks: wall time gives records per second (what scaling means), per-thread CPU time gives
ns per record independent of other load on the machine. If threads contended for shared state
(reference counts, locks, cache lines), CPU ns per record would rise with the thread count; the
"cpu-ratio" column shows 1-thread CPU ns divided by N-thread CPU ns (1.00 = no interference).
Runs for different thread counts are interleaved and the best of ``--repeat`` is kept, so a busy
moment on a shared machine hurts every configuration alike.
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

from pulsarload.metrics.hdr import Histogram
from pulsarload.metrics.recorder import RecorderSlot

Loop = Callable[[list[int]], None]


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


def loop_record_ack(values: list[int]) -> None:
    """The worker's real path: through the slot, as the sampler may swap at any time."""
    slot = RecorderSlot("bench")
    for v in values:
        slot.active.record_ack(v)


def loop_send_batch(values: list[int]) -> None:
    slot = RecorderSlot("bench")
    for v in values:
        slot.active.record_send_batch(1, v)


def run_threads(fn: Loop, value_sets: list[list[int]]) -> tuple[float, float]:
    """Run ``fn`` on each value set in its own thread; (wall seconds, mean CPU s per thread)."""
    k = len(value_sets)
    start = threading.Barrier(k + 1)
    cpu = [0.0] * k

    def run(i: int) -> None:
        start.wait()
        c0 = time.thread_time()
        fn(value_sets[i])
        cpu[i] = time.thread_time() - c0

    ts = [threading.Thread(target=run, args=(i,)) for i in range(k)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, sum(cpu) / k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="records per thread per run")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--repeat", type=int, default=7, help="runs per figure (best is kept)")
    args = ap.parse_args()
    n = args.n

    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    print(f"python {platform.python_version()} ({sys.executable})")
    print(f"free-threaded build: {ft}, GIL enabled: {gil}, cpus: {os.cpu_count()}")
    if hasattr(os, "getloadavg"):
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print()

    loops: dict[str, Loop] = {
        "empty for-loop": loop_empty,
        "Histogram.record(v)": loop_histogram,
        "slot.active.record_ack(v)": loop_record_ack,
        "slot.active.record_send_batch(1, v)": loop_send_batch,
    }
    values = [make_values(n, 1)]
    best_cpu = dict.fromkeys(loops, float("inf"))
    for _ in range(args.repeat):
        for name, fn in loops.items():
            best_cpu[name] = min(best_cpu[name], run_threads(fn, values)[1])
    empty = best_cpu["empty for-loop"]
    print("single thread (CPU time)                 ns/call   (minus empty loop)")
    for name, cpu in best_cpu.items():
        extra = "" if name == "empty for-loop" else f"   {(cpu - empty) * 1e9 / n:7.1f}"
        print(f"  {name:38s} {cpu * 1e9 / n:7.1f}{extra}")
    print()

    counts = [int(x) for x in args.threads.split(",")]
    sets = {k: [make_values(n, seed) for seed in range(k)] for k in counts}
    for label, fn in (("Histogram.record", loop_histogram), ("record_ack", loop_record_ack)):
        best_rate = dict.fromkeys(counts, 0.0)
        best_cpu_ns = dict.fromkeys(counts, float("inf"))
        for _ in range(args.repeat):
            for k in counts:  # interleaved, so load spikes hit every thread count
                wall, cpu = run_threads(fn, sets[k])
                best_rate[k] = max(best_rate[k], k * n / wall)
                best_cpu_ns[k] = min(best_cpu_ns[k], cpu * 1e9 / n)
        print(f"{label}: threads   records/s (wall)   scaling   CPU ns/record   cpu-ratio")
        for k in counts:
            print(
                f"{'':{len(label) + 2}}{k:7d}   {best_rate[k]:16,.0f}   "
                f"{best_rate[k] / best_rate[counts[0]]:6.2f}x   {best_cpu_ns[k]:13.1f}   "
                f"{best_cpu_ns[counts[0]] / best_cpu_ns[k]:8.2f}"
            )
        print()


if __name__ == "__main__":
    main()
