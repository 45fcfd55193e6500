"""The official Python client (pulsar-client, C++ core) producing as fast as it can, with no
pulsarload code in the loop: a reference point next to the `official` engine, and the stand-in
when that engine cannot run. Writes a report with the fields the bench reads from
``pulsarload produce --report`` (meta.summary, meta.interpreter, final.time/elapsed).

    .venv-gil/bin/python -m pulsarload.bench.official_produce TOPIC --service-url URL --size 1024 \
        --duration 8 --warmup 4 --report out.json [--compression lz4] [--max-pending 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import sysconfig
import threading
import time


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[i]


def main() -> int:
    import pulsar

    ap = argparse.ArgumentParser()
    ap.add_argument("topic")
    ap.add_argument("--service-url", default="pulsar://localhost:6650")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--compression", default="none")
    ap.add_argument("--max-pending", type=int, default=1000)
    ap.add_argument("--batch-max-messages", type=int, default=1000)
    ap.add_argument("--batch-max-bytes", type=int, default=128 * 1024)
    ap.add_argument("--batch-delay-ms", type=int, default=1)
    ap.add_argument("--report", required=True)
    a = ap.parse_args()
    compression = {"none": pulsar.CompressionType.NONE, "lz4": pulsar.CompressionType.LZ4}
    client = pulsar.Client(a.service_url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn))
    producer = client.create_producer(
        a.topic,
        compression_type=compression[a.compression],
        max_pending_messages=a.max_pending,
        block_if_queue_full=True,
        batching_enabled=True,
        batching_max_messages=a.batch_max_messages,
        batching_max_allowed_size_in_bytes=a.batch_max_bytes,
        batching_max_publish_delay_ms=a.batch_delay_ms,
    )
    pool = [os.urandom(a.size) for _ in range(64)]
    lock = threading.Lock()
    latencies: list[float] = []
    acked = [0, 0]  # in the measured window, failed
    measuring = [False]

    def done(res: object, _msg_id: object, sent: float) -> None:
        if res != pulsar.Result.Ok:
            acked[1] += 1
            return
        if measuring[0]:
            now = time.perf_counter()
            with lock:
                latencies.append(now - sent)
                acked[0] += 1

    start = time.perf_counter()
    warm_end, end = start + a.warmup, start + a.warmup + a.duration
    t0_wall = 0.0
    i = 0
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        if not measuring[0] and now >= warm_end:
            measuring[0] = True
            t0_wall = time.time()
            t0 = now
        producer.send_async(pool[i & 63], lambda r, m, s=now: done(r, m, s))
        i += 1
    producer.flush()
    measuring[0] = False
    elapsed = time.perf_counter() - t0
    producer.close()
    client.close()
    lat = sorted(x * 1000 for x in latencies)
    n = acked[0]
    summary = {
        "elapsed_s": elapsed, "sent": n, "acked": n, "failed": acked[1],
        "msg_rate": n / elapsed, "mb_rate": n * a.size / elapsed / 1e6,
        "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95),
        "p99_ms": percentile(lat, 99), "p999_ms": percentile(lat, 99.9),
        "max_ms": lat[-1] if lat else 0.0,
    }  # fmt: skip
    report = {
        "meta": {
            "role": "producer",
            "engine": "official-direct",
            "interpreter": {
                "version": platform.python_version(),
                "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
                "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
            },
            "summary": summary,
            "failures": [],
        },
        "final": {"time": t0_wall + elapsed, "elapsed": elapsed},
    }
    with open(a.report, "w") as f:
        json.dump(report, f)
    print(f"official direct: {summary['msg_rate']:,.0f} msg/s p99 {summary['p99_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
