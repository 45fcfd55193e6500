#!/usr/bin/env python3
"""Soak: a producer and a consumer at a steady high rate for a long time (30 minutes by
default), recording the process's memory every 10 s; at the end, end-to-end verification.

What it shows: memory stays flat (no leak per message, per batch or per reconnect), nothing
goes missing, queues stay bounded. It runs both sides of the load layer in this process
(native engine, `--verify`), against a broker you name (default: the local standalone,
`pulsarload broker start`).

    .venv/bin/python scripts/soak.py --minutes 30 --rate 5000 --csv soak.csv

Writes one CSV row per sample (elapsed, RSS, acked, received, pending, receiver queue,
threads) as it goes, then prints a summary: RSS after warm-up, at the end and at its peak,
the RSS slope (MiB per hour, least squares over the samples after warm-up), and the
verification. Exits 1 if anything went missing or RSS grew by more than --max-growth-mb.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil

from pulsarload.config import ConsumeSettings, ProduceSettings, resolve_settings
from pulsarload.load.controller import LoadController

MB = 1024 * 1024


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) points, in MiB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--service-url", default=os.environ.get("PULSAR_BROKER_URL", "pulsar://localhost:6650")
    )
    parser.add_argument(
        "--admin-url", default=os.environ.get("PULSAR_ADMIN_URL", "http://localhost:8080")
    )
    parser.add_argument("--topic", default=None, help="default: a fresh soak-<id> topic")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=5000.0, help="msg/s, all producer threads")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2, help="producer and consumer threads")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS counts")
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument("--csv", type=Path, default=Path("soak.csv"))
    parser.add_argument(
        "--keep-topic", action="store_true", help="keep the topic (it holds GBs) after the run"
    )
    args = parser.parse_args(argv)

    topic = args.topic or f"persistent://public/default/soak-{uuid.uuid4().hex[:8]}"
    base = {"topic": topic, "service_url": args.service_url, "admin_url": args.admin_url,
            "verify": True, "threads": args.threads}  # fmt: skip
    producer = LoadController(
        "producer",
        resolve_settings(
            ProduceSettings, {**base, "rate": args.rate, "size": args.size}, environ={}
        ),
    )
    consumer = LoadController(
        "consumer",
        resolve_settings(
            ConsumeSettings,
            {**base, "subscription_type": "shared", "initial_position": "earliest"},
            environ={},
        ),
    )
    process = psutil.Process()
    print(f"soak: {args.minutes:g} min at {args.rate:,.0f} msg/s x {args.size} B on {topic}")
    consumer.start()
    time.sleep(2)
    producer.start()
    started = time.monotonic()
    end = started + args.minutes * 60
    points: list[tuple[float, float]] = []
    peak = 0.0
    stop = threading.Event()
    with args.csv.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["elapsed_s", "rss_mb", "acked", "received", "failed", "pending",
                      "receiver_queue", "threads"])  # fmt: skip
        try:
            while not stop.wait(max(0.0, min(args.interval, end - time.monotonic()))):
                elapsed = time.monotonic() - started
                rss = process.memory_info().rss / MB
                peak = max(peak, rss)
                p, c = producer.sampler.latest, consumer.sampler.latest
                row = [
                    round(elapsed, 1),
                    round(rss, 1),
                    p.total.acked if p else 0,
                    c.total.received if c else 0,
                    p.total.failed if p else 0,
                    sum(w.pending_sends for w in p.workers) if p else 0,
                    sum(w.receiver_queue for w in c.workers) if c else 0,
                    threading.active_count(),
                ]
                out.writerow(row)
                fh.flush()
                print(" ".join(f"{k}={v}" for k, v in zip(
                    ("t", "rss_mb", "acked", "received", "failed", "pending", "queue", "threads"),
                    row, strict=True)), flush=True)  # fmt: skip
                if elapsed >= args.warmup:
                    points.append((elapsed, rss))
                if time.monotonic() >= end:
                    break
        except KeyboardInterrupt:
            print("interrupted: stopping")
    produced = producer.stop()
    sent = producer.pool.producer_sent() if producer.pool else {}
    time.sleep(min(30.0, 5 + args.rate / 1000))  # let the consumer catch up
    consumed = consumer.stop()
    verify = consumer.pool.merged_tracker().report(sent) if consumer.pool else None
    first = points[0][1] if points else 0.0
    last = points[-1][1] if points else 0.0
    growth = last - first
    print(f"== soak summary ({(time.monotonic() - started) / 60:.1f} min) ==")
    print(f"produced {produced.figures['acked']:,.0f} acked, {produced.figures['failed']:,.0f} "
          f"failed ({produced.figures['msg_rate']:,.0f} msg/s); consumed "
          f"{consumed.figures['received']:,.0f}")  # fmt: skip
    print(f"RSS after warm-up {first:.0f} MiB, at the end {last:.0f} MiB (growth {growth:+.1f}), "
          f"peak {peak:.0f} MiB, slope {slope_per_hour(points):+.1f} MiB/h over {len(points)} "
          f"samples")  # fmt: skip
    if verify is not None:
        print(f"verify: {verify.unique:,} unique of {sum(sent.values()):,} sent, missing "
              f"{verify.missing}, duplicates {verify.duplicates}")  # fmt: skip
    print(f"samples written to {args.csv}")
    if not args.keep_topic and args.topic is None:
        from pulsarload.client.admin import AdminClient, AdminError

        try:
            with AdminClient(args.admin_url) as admin:
                admin.delete_topic(topic)
        except AdminError as err:
            print(f"could not delete {topic}: {err}")
    ok = verify is not None and verify.missing == 0 and growth <= args.max_growth_mb
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
