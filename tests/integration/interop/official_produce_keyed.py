"""Produce keyed messages with Apache's official client (run by .venv-gil), batching on.

    python official_produce_keyed.py SERVICE_URL TOPIC COUNT KEYS --batching-type default|key_based
        [--sync]

Message i has payload b"<i>" and partition key "key-<i % KEYS>". `--sync` sends each with
`send()` (so every batch holds one message); without it everything goes out with `send_async`
and one flush, so batches hold many messages. Prints "@@RESULT@@ <count sent>".
"""

from __future__ import annotations

import argparse
import sys

import pulsar

RESULT_MARKER = "@@RESULT@@ "


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("service_url")
    ap.add_argument("topic")
    ap.add_argument("count", type=int)
    ap.add_argument("keys", type=int)
    ap.add_argument("--batching-type", choices=("default", "key_based"), required=True)
    ap.add_argument("--sync", action="store_true")
    args = ap.parse_args()
    client = pulsar.Client(
        args.service_url,
        operation_timeout_seconds=30,
        logger=pulsar.FileLogger(pulsar.LoggerLevel.Warn, "/dev/stderr"),
    )
    kind = (
        pulsar.BatchingType.KeyBased
        if args.batching_type == "key_based"
        else pulsar.BatchingType.Default
    )
    failed: list[object] = []
    try:
        producer = client.create_producer(
            args.topic,
            batching_enabled=True,
            batching_type=kind,
            batching_max_messages=100,
            batching_max_publish_delay_ms=50,
        )

        def done(res: object, _msg_id: object) -> None:
            if res != pulsar.Result.Ok:
                failed.append(res)

        for i in range(args.count):
            key = f"key-{i % args.keys}"
            if args.sync:
                producer.send(str(i).encode(), partition_key=key)
            else:
                producer.send_async(str(i).encode(), done, partition_key=key)
        producer.flush()
        producer.close()
    finally:
        client.close()
    if failed:
        print(f"sends failed: {failed[:5]}", file=sys.stderr)
        return 1
    print(RESULT_MARKER + str(args.count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
