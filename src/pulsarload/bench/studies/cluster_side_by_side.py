"""Threads against processes: one process with 2 threads vs `--cluster local --workers 2` with
1 thread each, on the free-threaded and on the GIL build; plus what a cluster run costs
(metrics bytes per shard, control latency) and that its merged counts equal the shards'.

    pulsarload bench cluster-side-by-side --rounds 2 --seconds 10

Each run is a headless `pulsarload produce` as fast as it goes (`-r 0`) on a fresh
non-persistent topic of the local broker. CPU and RSS are the whole process tree's (the
coordinator, and for a cluster run the Dask scheduler, nannies and worker processes), sampled
from /proc every 0.25 s with psutil; msg/s and the message count come from the run's report.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

from pulsarload.bench.interpreters import ft_python, gil_python

BUILDS = {
    "3.13t (free-threaded)": ft_python(),
    "3.13 (GIL)": gil_python(),
}


def run_tree(cmd: list[str], env: dict[str, str]) -> tuple[int, float, int]:
    """Run `cmd`; return (exit code, CPU seconds of the process tree, peak summed RSS)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(proc.pid)
    cpu: dict[int, float] = {}
    peak = 0
    while proc.poll() is None:
        rss = 0
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in tree:
            try:
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system
                rss += p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        peak = max(peak, rss)
        time.sleep(0.25)
    proc.wait()
    if proc.returncode:
        sys.stderr.write(proc.stderr.read().decode() if proc.stderr else "")
    return proc.returncode, sum(cpu.values()), peak


def produce(python: Path, seconds: float, cluster: bool, report: Path) -> list[str]:
    topic = f"non-persistent://public/default/bench-cluster-{uuid.uuid4().hex[:8]}"
    cmd = [str(python), "-m", "pulsarload", "produce", topic, "--headless", "-r", "0"]
    cmd += ["-d", str(seconds), "--warmup", "2", "--report", str(report)]
    cmd += ["--cluster", "local", "--workers", "2", "-t", "1"] if cluster else ["-t", "2"]
    return cmd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    env = dict(os.environ)
    out = Path(tempfile.mkdtemp(prefix="pl-cluster-bench-"))
    rows = []
    print(f"load average at start: {os.getloadavg()}")
    for build, python in BUILDS.items():
        for label, cluster in (
            ("1 process x 2 threads", False),
            ("local cluster 2 x 1 thread", True),
        ):
            figures = []
            for r in range(args.rounds):
                report = out / f"{uuid.uuid4().hex[:6]}.json"
                code, cpu_s, rss = run_tree(produce(python, args.seconds, cluster, report), env)
                if code:
                    print(f"{build} {label} round {r}: exit {code}")
                    continue
                data = json.loads(report.read_text())
                summary = data["meta"]["summary"]
                shards = data["meta"].get("cluster", {}).get("shards", [])
                figures.append(
                    {
                        "msg_s": summary["msg_rate"],
                        "acked": summary["acked"],
                        "cpu_s_per_m": cpu_s / max(1, data["final"]["total"]["sent"]) * 1e6,
                        "rss_mb": rss / 1e6,
                        "shard_sum_equal": (sum(s["done"] for s in shards) == summary["acked"])
                        if shards
                        else None,
                        "metrics_bytes_s": [round(s["metrics_bytes_per_s"]) for s in shards],
                    }
                )
            rows.append((build, label, figures))
            print(build, label, json.dumps(figures))
    print(f"load average at end: {os.getloadavg()}")
    print("\n| build | run | msg/s (rounds) | CPU s / M msgs | peak RSS MB (tree) |")
    print("|---|---|---|---|---|")
    for build, label, figures in rows:
        if not figures:
            continue
        msg = " / ".join(f"{f['msg_s']:,.0f}" for f in figures)
        cpu = statistics.median(f["cpu_s_per_m"] for f in figures)
        rss = statistics.median(f["rss_mb"] for f in figures)
        print(f"| {build} | {label} | {msg} | {cpu:.1f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
