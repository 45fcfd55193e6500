"""Rate precision: send delay (intended vs actual send) and publish latency at fixed rates.

Run from the repository root (the broker on pulsar://localhost:6650):

    .venv/bin/pulsarload bench rate-precision --label after \\
        --rates 3000,30000 --rounds 3 --seconds 15 [--src OTHER/src --label before] [--perf]

Each round runs `python -m pulsarload produce TOPIC --headless -r RATE -d SECONDS --warmup 3
--report R.json` (with `--src`: another checkout's code, e.g. an export of an older commit) on a
fresh persistent topic, and reads send delay and publish latency from the report; `--perf` also
runs Apache's pulsar-perf (`pulsarload perf produce -r RATE -time SECONDS`) and reads its
aggregated latency line. Rounds of the contenders interleave. The 1-minute load average is
taken before each round. One JSON line per round goes to bench/results/rate-precision-*.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

#: The code under test by default: the checkout this module was imported from.
SRC = Path(__file__).resolve().parents[3]
PERF_LATENCY = re.compile(
    r"Aggregated latency stats --- Latency: mean:\s*([\d.]+) ms - med:\s*([\d.]+) - "
    r"95pct:\s*([\d.]+) - 99pct:\s*([\d.]+) - 99.9pct:\s*([\d.]+)"
)


def pulsarload_round(src: Path, rate: int, seconds: int, extra: list[str]) -> dict:
    topic = f"persistent://public/default/rate-precision-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "pulsarload", "produce", topic, "--headless", "-r",
               str(rate), "-d", str(seconds), "--warmup", "3", "--report", str(report), *extra]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(src)}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 120)
        if proc.returncode != 0:
            raise SystemExit(f"round failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr}")
        final = json.loads(report.read_text())["final"]
    lat = final["total_latency"]
    ms = 1 / 1000
    out = {
        "acked_per_s": final["total"]["acked"] / max(final["elapsed"], 1e-9),
        "send_delay_p50_ms": lat["send_delay"]["p50"] * ms,
        "send_delay_p99_ms": lat["send_delay"]["p99"] * ms,
        "send_delay_p999_ms": lat["send_delay"]["p99_9"] * ms,
        "send_delay_max_ms": lat["send_delay"]["max"] * ms,
        "publish_p50_ms": lat["publish_latency"]["p50"] * ms,
        "publish_p99_ms": lat["publish_latency"]["p99"] * ms,
    }
    if "publish_latency_from_send" in lat:
        out["from_send_p50_ms"] = lat["publish_latency_from_send"]["p50"] * ms
        out["from_send_p99_ms"] = lat["publish_latency_from_send"]["p99"] * ms
    out["command"] = " ".join(
        ["python -m pulsarload produce TOPIC", *cmd[5:13], "--report R.json", *extra]
    )
    return out


def perf_round(rate: int, seconds: int) -> dict:
    topic = f"persistent://public/default/rate-precision-perf-{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-m", "pulsarload", "perf", "produce", "-r", str(rate), "-time",
           str(seconds), topic]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 180)
    m = PERF_LATENCY.search(proc.stdout + proc.stderr)
    if m is None:
        raise SystemExit(f"pulsar-perf printed no aggregated latency:\n{proc.stdout[-3000:]}")
    mean, p50, p95, p99, p999 = map(float, m.groups())
    return {"from_send_p50_ms": p50, "from_send_p99_ms": p99, "from_send_p999_ms": p999,
            "command": f"pulsarload perf produce -r {rate} -time {seconds} TOPIC"}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="current")
    ap.add_argument("--src", type=Path, default=SRC, help="the code to run")
    ap.add_argument("--also", nargs=2, action="append", default=[], metavar=("LABEL", "SRC"),
                    help="another contender: a label and its src folder (rounds interleave)")  # fmt: skip
    ap.add_argument("--rates", default="3000,30000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--perf", action="store_true", help="also run pulsar-perf")
    ap.add_argument("extra", nargs="*", help="more flags for pulsarload produce (after --)")
    a = ap.parse_args()
    contenders = [(a.label, a.src), *((label, Path(src)) for label, src in a.also)]
    out_path = Path("bench") / "results" / f"rate-precision-{time.strftime('%Y%m%d-%H%M')}.jsonl"
    with out_path.open("a") as out:
        for rate in map(int, a.rates.split(",")):
            for rnd in range(1, a.rounds + 1):
                runs = [(label, src) for label, src in contenders]
                if a.perf:
                    runs.append(("pulsar-perf", None))
                for label, src in runs:
                    load1 = os.getloadavg()[0]
                    fig = (
                        perf_round(rate, a.seconds)
                        if src is None
                        else pulsarload_round(src, rate, a.seconds, a.extra)
                    )
                    row = {"label": label, "rate": rate, "round": rnd, "load1": load1, **fig}
                    print(json.dumps(row), flush=True)
                    out.write(json.dumps(row) + "\n")
    print(f"written to {out_path}")


if __name__ == "__main__":
    main()
