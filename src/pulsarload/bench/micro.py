"""Micro-benchmarks of the CPU-bound hot paths, with 1 and 2 threads: the free-threading promise.

Each benchmark runs one operation in a loop for a fixed wall time; with N threads every thread
owns its own objects (its own generator, frame builder, histogram), as pulsarload's workers do,
so any loss of scaling is the interpreter's (the GIL, or contention inside it), not ours.
Throughput is the best of several rounds; the speed-up is the median over interleaved pairs of
rounds of 2-thread / 1-thread throughput (robust to a host whose capacity drifts). The
process's CPU time over the round is kept too: CPU/wall below the thread count means the threads
did not all run (the GIL, or other load on the machine), which is what to look at when a
speed-up disappoints.

Run under any interpreter: ``python -m pulsarload.bench.micro [--json] [--seconds S]``.
``run_micro(python)`` runs it as a subprocess and returns the JSON, so one process can collect
the free-threaded and the GIL build side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Messages per batch in the batch benchmarks: what a 128 KiB batch holds at 1 KiB per message.
BATCH = 128
SMALL_BATCH = 120
SIZE = 1024
HISTOGRAM_VALUES = 10_000

#: (name, what one operation does, messages per operation is returned by the factory)
type Op = Callable[[], None]
type Factory = Callable[[int], tuple[Op, int]]


def _have_lz4() -> bool:
    """Whether the LZ4 codec is there (the lz4 package has no cp314t wheel yet)."""
    from pulsarload.wire.compression import HAVE_LZ4

    return HAVE_LZ4


def _payloads(seed: int) -> list[bytes]:
    from pulsarload.load.payloads import PayloadGenerator, PayloadSettings

    return PayloadGenerator(PayloadSettings(size=SIZE, seed=seed)).next_batch(BATCH)


def make_control(seed: int) -> tuple[Op, int]:
    """A control: pure-Python arithmetic on objects this thread created, nothing shared between
    threads. Its speed-up is what the machine (cores free at the time) allows; compare the
    others to it. The loop's numbers are made at run time on purpose: see
    ``make_shared_constants``."""
    mask, rounds = int("65535"), int("1000")  # owned by this thread, unlike code constants

    def op() -> None:
        x = seed
        for i in range(rounds):
            x = (x * 31 + i) & mask

    return op, 1000


def make_shared_constants(seed: int) -> tuple[Op, int]:
    """The control's loop written the natural way, with ``1000`` and ``0xFFFF`` as literals.

    On 3.13t a code object's constants are shared by every thread that runs the code, and an
    int above 256 is not immortal: each use is an atomic reference-count update on one cache
    line that both cores keep taking from each other. The same loop then scales ~1.5x instead
    of ~1.9x (3.14 stops counting references to constants). Hot loops in pulsarload keep their
    numbers in per-object attributes or closure cells made by the thread that runs them."""

    def op() -> None:
        x = seed
        for i in range(1000):
            x = (x * 31 + i) & 0xFFFF

    return op, 1000


def make_payload_generation(seed: int) -> tuple[Op, int]:
    """``PayloadGenerator.next_batch``: what a worker calls once per batch."""
    from pulsarload.load.payloads import PayloadGenerator, PayloadSettings

    gen = PayloadGenerator(PayloadSettings(size=SIZE, seed=seed))
    next_batch = gen.next_batch

    def op() -> None:
        next_batch(BATCH)

    return op, BATCH


def _frame_building(seed: int, count: int, compression: str = "none") -> tuple[Op, int]:
    """An op that builds one SEND frame of `count` payloads, each time with new sequence ids."""
    from pulsarload.wire.batch import SendFrameBuilder

    builder = SendFrameBuilder(seed, f"bench-{seed}", compression=compression)
    payloads = _payloads(seed)[:count]
    seq = [0]
    build = builder.batch

    def op() -> None:
        seq[0] += count
        build(payloads, seq[0], 1_700_000_000_000)

    return op, count


def make_batch_encoding(seed: int) -> tuple[Op, int]:
    """A whole SEND frame for a batch: metadata, framing and CRC32C (``SendFrameBuilder.batch``)."""
    return _frame_building(seed, BATCH)


def make_batch_encoding_small(seed: int) -> tuple[Op, int]:
    """As ``make_batch_encoding`` with 120 messages: the frame stays under 128 KiB, mimalloc's
    largest "medium" block. Bigger buffers take mimalloc's large-object path, which on 3.13t
    with two threads hands pages back to the OS and faults them in again on every batch."""
    return _frame_building(seed, SMALL_BATCH)


def make_lz4_batch(seed: int) -> tuple[Op, int]:
    """LZ4 of one uncompressed batch payload (random content, as the default payload)."""
    from pulsarload.wire.batch import MessageShape
    from pulsarload.wire.compression import get_codec

    body = MessageShape().batch_payload(_payloads(seed))
    compress = get_codec("lz4").compress

    def op() -> None:
        compress(body)

    return op, BATCH


def make_lz4_frame(seed: int) -> tuple[Op, int]:
    """A whole LZ4-compressed SEND frame (batch payload, LZ4, framing, CRC32C)."""
    return _frame_building(seed, BATCH, "lz4")


def make_histogram_record(seed: int) -> tuple[Op, int]:
    """``Histogram.record`` of latency-like values (log-normal, microseconds)."""
    from pulsarload.metrics.hdr import Histogram

    rnd = random.Random(seed)
    values = [int(rnd.lognormvariate(8.0, 1.0)) + 1 for _ in range(HISTOGRAM_VALUES)]
    record = Histogram().record

    def op() -> None:
        for v in values:
            record(v)

    return op, HISTOGRAM_VALUES


BENCHMARKS: dict[str, tuple[str, Factory]] = {
    "control": ("control: pure-Python loop, nothing shared", make_control),
    "shared_constants": (
        "the control with shared int literals (3.13t pitfall)",
        make_shared_constants,
    ),
    "payload_generation": ("payload generation (next_batch, 1 KiB)", make_payload_generation),
    "batch_encode_crc32c": ("batch SEND frame + CRC32C (128 x 1 KiB)", make_batch_encoding),
    "batch_encode_small": (
        "batch SEND frame + CRC32C (120 x 1 KiB, < 128 KiB)",
        make_batch_encoding_small,
    ),
    "lz4_batch": ("LZ4 compression of a batch (128 x 1 KiB)", make_lz4_batch),
    "lz4_frame": ("LZ4 SEND frame + CRC32C (128 x 1 KiB)", make_lz4_frame),
    "histogram_record": ("histogram recording (Histogram.record)", make_histogram_record),
}
if not _have_lz4():  # no lz4 wheel for this interpreter (3.14t): its cases are left out
    del BENCHMARKS["lz4_batch"], BENCHMARKS["lz4_frame"]


def _round(factory: Factory, threads: int, seconds: float) -> tuple[float, float]:
    """One timed round: (messages per second over all threads, process CPU / wall)."""
    counts = [0] * threads
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()

    def work(i: int) -> None:
        # Built in the thread that uses them, as workers do: on the free-threaded build an
        # object's reference count is cheap only for the thread that created it.
        op, per_op = factory(i + 1)
        op()  # warm the caches before timing
        barrier.wait()
        n = 0
        while not stop.is_set():
            for _ in range(8):
                op()
            n += 8
        counts[i] = n * per_op

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return sum(counts) / wall, cpu / wall


def run_all(
    seconds: float = 1.0,
    repeat: int = 3,
    threads: tuple[int, ...] = (1, 2),
    names: tuple[str, ...] = tuple(BENCHMARKS),
) -> dict[str, Any]:
    """Every benchmark at each thread count, ``repeat`` interleaved rounds, in this interpreter.

    Throughput per thread count is the best round; the speed-up is the median paired ratio."""
    results: dict[str, Any] = {}
    for name in names:
        title, factory = BENCHMARKS[name]
        # Rounds interleave the thread counts (1, 2, 1, 2, ...) so that a slow patch of the host
        # (another VM, a frequency change) falls on both sides; the speed-up is the median of
        # each round's ratio to the round before it, not one best over another.
        rounds: dict[int, list[tuple[float, float]]] = {n: [] for n in threads}
        for _ in range(repeat):
            for n in threads:
                rounds[n].append(_round(factory, n, seconds))
        entry: dict[str, Any] = {"title": title, "runs": {}}
        for n in threads:
            best = max(rounds[n])
            entry["runs"][str(n)] = {
                "msg_per_s": best[0],
                "cpu_per_wall": best[1],
                "msg_per_cpu_s": best[0] / best[1] if best[1] else None,
                "all_rounds_msg_per_s": [r[0] for r in rounds[n]],
                "all_rounds_cpu_per_wall": [r[1] for r in rounds[n]],
            }
        if 1 in rounds and 2 in rounds:
            ratios = sorted(
                two[0] / one[0] for one, two in zip(rounds[1], rounds[2], strict=True) if one[0]
            )
            if ratios:
                entry["speedup_2v1"] = statistics.median(ratios)
                entry["speedup_2v1_range"] = [ratios[0], ratios[-1]]
        results[name] = entry
    gil_probe = getattr(sys, "_is_gil_enabled", None)
    return {
        "interpreter": {
            "version": platform.python_version(),
            "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
            "gil_enabled": True if gil_probe is None else bool(gil_probe()),
            "executable": sys.executable,
        },
        "cpu_count": os.cpu_count(),
        "loadavg_at_end": list(os.getloadavg()),
        "seconds_per_round": seconds,
        "rounds": repeat,
        "benchmarks": results,
    }


def run_micro(
    python: Path, *, seconds: float = 1.0, repeat: int = 3, timeout: float = 600.0
) -> dict[str, Any]:
    """Run this module under ``python`` (another interpreter build) and return its JSON."""
    env = dict(os.environ)
    env.pop("PYTHON_GIL", None)
    out = subprocess.run(
        [str(python), "-m", "pulsarload.bench.micro", "--json",
         "--seconds", f"{seconds:g}", "--repeat", str(repeat)],
        capture_output=True, text=True, timeout=timeout, env=env, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{python} micro-benchmarks failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


def format_table(result: dict[str, Any]) -> list[str]:
    i = result["interpreter"]
    head = (
        f"CPython {i['version']}{'t' if i['free_threaded_build'] else ''} "
        f"(GIL {'on' if i['gil_enabled'] else 'off'})"
    )
    lines = [head, f"{'benchmark':44} {'1 thread':>14} {'2 threads':>14} {'speed-up':>9}"]
    for entry in result["benchmarks"].values():
        r = entry["runs"]
        lines.append(
            f"{entry['title']:44} {r['1']['msg_per_s']:>10,.0f} m/s {r['2']['msg_per_s']:>10,.0f} m/s"
            f" {entry.get('speedup_2v1', 0):>8.2f}x"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--seconds", type=float, default=1.0, help="wall seconds per round")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds per thread count")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    args = parser.parse_args(argv)
    names = tuple(n for n in args.only.split(",") if n) or tuple(BENCHMARKS)
    result = run_all(args.seconds, args.repeat, names=names)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(format_table(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
