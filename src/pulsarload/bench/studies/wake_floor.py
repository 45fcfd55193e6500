"""The machine's own floor for send delay: how late a plain sleeping thread wakes.

Run: .venv/bin/pulsarload bench wake-floor [--rate 3000] [--seconds 8]
     [--rounds 3] [--beside "CMD ..."]...

A thread that does nothing but sleep until the next of `--rate` evenly spaced instants and
note how late it woke is the best any rate-driven load generator can do on this machine:
a producer's send delay cannot be smaller than its own thread's wake-up lateness. The probe
runs alone and beside each `--beside` command (started first, given `--lead` seconds to get
going, stopped by SIGTERM to its pid afterwards), interleaved over rounds, and prints the
lateness percentiles with the load average of each round, as one JSON line per probe.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import threading
import time


def probe(rate: float, seconds: float) -> dict[str, float]:
    """Lateness (ms) of `rate` wakes a second for `seconds`, from `Event.wait` as the worker
    loop sleeps."""
    event = threading.Event()
    interval = 1e9 / rate
    count = int(rate * seconds)
    start = time.monotonic_ns() + 1_000_000
    late = []
    for i in range(count):
        due = start + int(i * interval)
        now = time.monotonic_ns()
        if due > now:
            event.wait((due - now) / 1e9)
        late.append(time.monotonic_ns() - due)
    late.sort()

    def at(q: float) -> float:
        return round(late[min(int(q * len(late)), len(late) - 1)] / 1e6, 3)

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "p999_ms": at(0.999), "max_ms": at(1.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=3000.0)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lead", type=float, default=6.0, help="seconds a --beside command runs first")
    ap.add_argument("--beside", action="append", default=[], help="a command to probe beside")
    a = ap.parse_args()
    for r in range(a.rounds):
        for cmd in [None, *a.beside]:
            proc = None
            if cmd:
                proc = subprocess.Popen(
                    shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                time.sleep(a.lead)
            try:
                row = probe(a.rate, a.seconds)
            finally:
                if proc is not None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(10)
            row.update(round=r, beside=cmd or "nothing", rate=a.rate, load=os.getloadavg()[0])
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
