"""Native-producer throughput: 1 KiB messages as fast as the broker acks them, T threads, N s.

Run with the project's interpreter (free-threaded, so threads run in parallel) against a broker:

    .venv/bin/pulsarload bench native-producer --url pulsar://localhost:6650 --threads 1,2 \
        --seconds 10 [--size 1024] [--batch 100] [--mode bulk|async] [--compression none]

Each thread owns a producer (on its own topic unless --shared-topic) and, by default, its own
connection (connections_per_broker = threads), so the send path shares nothing. `bulk` uses
`send_batch` (one batched entry per call), `async` the per-message `send_async`. The figure is
acknowledged messages per second over the measuring window, after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
import uuid

from pulsarload.client import Client, Result


class Counter:
    """Acked messages of one producer; only its connection's reader thread writes it."""

    __slots__ = ("acked", "failed")

    def __init__(self) -> None:
        self.acked = 0
        self.failed = 0

    def on_batch(self, result: Result, msg_id: object, count: int) -> None:
        if result is Result.Ok:
            self.acked += count
        else:
            self.failed += count

    def on_message(self, result: Result, msg_id: object) -> None:
        if result is Result.Ok:
            self.acked += 1
        else:
            self.failed += 1


def run(args: argparse.Namespace, threads: int) -> float:
    client = Client(
        args.url,
        operation_timeout_seconds=30,
        connections_per_broker=args.connections or threads,
    )
    run_id = uuid.uuid4().hex[:8]
    payload = os.urandom(args.size)
    payloads = [payload] * args.batch
    stop = threading.Event()
    counters = [Counter() for _ in range(threads)]
    producers = []
    for i in range(threads):
        topic = f"bench-native-{run_id}" + ("" if args.shared_topic else f"-{i}")
        producers.append(
            client.create_producer(
                topic,
                compression_type=args.compression,
                block_if_queue_full=True,
                max_pending_messages=args.batch * args.inflight,
                batching_max_messages=args.batch,
                batching_max_allowed_size_in_bytes=max(128 * 1024, args.batch * (args.size + 64)),
                batching_max_publish_delay_ms=1,
                send_timeout_millis=60_000,
            )
        )

    def work(i: int) -> None:
        producer, counter = producers[i], counters[i]
        if args.mode == "bulk":
            send_batch, cb = producer.send_batch, counter.on_batch
            while not stop.is_set():
                send_batch(payloads, cb)
        else:
            send_async, cb = producer.send_async, counter.on_message
            while not stop.is_set():
                for _ in range(args.batch):
                    send_async(payload, cb)

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    time.sleep(args.warmup)
    a0, t0, c0 = sum(c.acked for c in counters), time.perf_counter(), time.process_time()
    time.sleep(args.seconds)
    a1, t1, c1 = sum(c.acked for c in counters), time.perf_counter(), time.process_time()
    stop.set()
    for w in workers:
        w.join(30)
    for p in producers:
        p.flush(60)
    rate = (a1 - a0) / (t1 - t0)
    failed = sum(c.failed for c in counters)
    mib = rate * args.size / (1024 * 1024)
    cpu = (c1 - c0) / (t1 - t0)  # cores this process kept busy (the broker's CPU not counted)
    us_per_msg = (c1 - c0) / max(1, a1 - a0) * 1e6
    print(
        f"threads={threads} mode={args.mode} size={args.size} batch={args.batch} "
        f"compression={args.compression}: {rate:,.0f} msg/s ({mib:,.1f} MiB/s), "
        f"client CPU {cpu:.2f} cores ({us_per_msg:.2f} us/msg), failed={failed}",
        flush=True,
    )
    client.close()
    return rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=os.environ.get("PULSAR_BROKER_URL", "pulsar://localhost:6650"))
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts to run")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=100, help="messages per batch")
    ap.add_argument("--inflight", type=int, default=10, help="batches in flight per producer")
    ap.add_argument("--mode", choices=("bulk", "async"), default="bulk")
    ap.add_argument("--compression", default="none")
    ap.add_argument("--connections", type=int, default=0, help="per broker (default: threads)")
    ap.add_argument("--shared-topic", action="store_true")
    args = ap.parse_args()
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(
        f"python {platform.python_version()} ({'GIL on' if gil else 'free-threaded, GIL off'}), "
        f"{os.cpu_count()} CPUs, broker {args.url}",
        flush=True,
    )
    for t in (int(x) for x in args.threads.split(",")):
        run(args, t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
