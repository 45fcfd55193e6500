"""What a Pulsar proxy in the path costs: the same produce run straight to the brokers and
through the local cluster's proxy, in alternating rounds, with the proxy's and the brokers'
CPU time over each run.

    .venv/bin/pulsarload broker start --brokers 2 --proxy
    .venv/bin/python scripts/proxy_overhead.py --rate 2000 --seconds 15 --rounds 3

Prints one markdown table row per run (for docs/benchmarks.md) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from pulsarload.broker.cluster import LocalCluster, recorded_settings
from pulsarload.config import LocalClusterSettings

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run(url: str, admin: str, rate: float, seconds: float, warmup: float, report: Path) -> dict:
    topic = f"persistent://public/default/proxy-overhead-{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-m", "pulsarload", "produce", topic, "--headless", "-u", url,
           "--admin-url", admin, "-r", str(rate), "-d", str(seconds), "--warmup", str(warmup),
           "-s", "1024", "--report", str(report)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=seconds + warmup + 120)
    return json.loads(report.read_text())["meta"]["summary"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cluster = LocalCluster(recorded_settings(LocalClusterSettings()))
    status = cluster.status()
    if not (status.ready and cluster.settings.proxy):
        print("start the local cluster first: pulsarload broker start --brokers 2 --proxy")
        return 1
    s = cluster.settings
    pids = {p.name: p.pid for p in status.parts if p.pid}
    brokers = [n for n in pids if n.startswith("broker-")]
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| round | path | msg/s | p50 ms | p99 ms | proxy CPU s | brokers CPU s |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(1, args.rounds + 1):
            for path, url in (("direct", s.broker_service_url), ("proxy", s.proxy_service_url)):
                before = {n: cpu_seconds(p) for n, p in pids.items()}
                summary = run(url, s.admin_url, args.rate, args.seconds, args.warmup,
                              Path(tmp) / f"{path}-{r}.json")  # fmt: skip
                used = {n: cpu_seconds(p) - before[n] for n, p in pids.items()}
                print(
                    f"| {r} | {path} | {summary['msg_rate']:,.0f} | {summary['p50_ms']:.2f} | "
                    f"{summary['p99_ms']:.2f} | {used['proxy']:.1f} | "
                    f"{sum(used[b] for b in brokers):.1f} |",
                    flush=True,
                )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
