"""How long a live command takes to reach every shard of a cluster run.

    .venv/bin/pulsarload bench cluster-control-latency [--workers 2]
        [--commands 100] [--cluster local|tcp://HOST:PORT]

A producer run of `--workers` shards at a low rate on a fresh non-persistent topic of the local
broker; then `--commands` live commands through `ClusterController.apply`, the path the
dashboard's keys and the web page's buttons take: rate changes (split across the shards),
pause and resume, alternating. `apply` returns once every shard has answered that it applied
the command (the worker threads read the new rate or pause flag at their next wake, at most a
few hundred microseconds later), so its duration is the time for the command to take effect
everywhere. Prints p50/p99/max per command kind and in all, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid

from pulsarload.cluster.controller import ClusterController
from pulsarload.config import ProduceSettings, resolve_settings
from pulsarload.load import controls as cmd


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--commands", type=int, default=100)
    ap.add_argument("--cluster", default="local")
    ap.add_argument("--url", default="pulsar://localhost:6650")
    ap.add_argument("--admin-url", default="http://localhost:8080")
    a = ap.parse_args()
    settings = resolve_settings(
        ProduceSettings,
        {
            "topic": f"non-persistent://public/default/control-{uuid.uuid4().hex[:8]}",
            "service_url": a.url,
            "admin_url": a.admin_url,
            "rate": 200.0,
            "cluster": a.cluster,
            "workers": a.workers,
            "cluster_timeout_s": 60.0,
        },
        environ={},
    )
    controller = ClusterController("producer", settings)
    controller.start()
    took: dict[str, list[float]] = {"rate": [], "pause": [], "resume": []}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            snap = controller.sampler.latest
            if snap and len(snap.shards) == a.workers and all(s.done for s in snap.shards):
                break
            time.sleep(0.2)
        else:
            raise SystemExit("the shards did not start acking within 120 s")
        load_before = os.getloadavg()[0]
        commands = [
            ("rate", cmd.SetRate(300.0)),
            ("rate", cmd.SetRate(200.0)),
            ("pause", cmd.Pause()),
            ("resume", cmd.Resume()),
        ]
        for i in range(a.commands):
            kind, command = commands[i % len(commands)]
            start = time.perf_counter()
            controller.apply(command)
            took[kind].append((time.perf_counter() - start) * 1000)
            time.sleep(0.05)  # commands as fast as a person could press keys, and then some
        load_after = os.getloadavg()[0]
    finally:
        controller.stop()
    every = [v for vs in took.values() for v in vs]
    row = {
        "workers": a.workers,
        "cluster": a.cluster,
        "commands": len(every),
        "load": [round(load_before, 1), round(load_after, 1)],
    }
    for kind, vs in [*took.items(), ("all", every)]:
        row[kind] = {
            "p50_ms": round(percentile(vs, 0.5), 1),
            "p99_ms": round(percentile(vs, 0.99), 1),
            "max_ms": round(max(vs), 1),
        }
    print(json.dumps(row))


if __name__ == "__main__":
    main()
