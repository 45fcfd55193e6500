"""Consume with Apache's official client and print what arrived, as JSON (run by .venv-gil).

    python official_consume.py SERVICE_URL TOPIC COUNT [--timeout S] [--linger S]

Subscribes from the earliest position, receives until COUNT messages arrived (then waits
--linger seconds more to catch duplicates) or --timeout passes, and prints one JSON list:
[{"data": base64, "size", "sha256", "key", "properties", "event_timestamp", "topic",
  "message_id"}]. Payloads over 1 MiB carry only size and sha256.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import time
import uuid

import pulsar

#: The result line starts with this (the C++ client may log to stdout too).
RESULT_MARKER = "@@RESULT@@ "


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("service_url")
    ap.add_argument("topic")
    ap.add_argument("count", type=int)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--linger", type=float, default=0.0)
    args = ap.parse_args()
    # The C++ client logs to stdout by default; keep warnings and errors, on stderr.
    client = pulsar.Client(
        args.service_url,
        operation_timeout_seconds=30,
        logger=pulsar.FileLogger(pulsar.LoggerLevel.Warn, "/dev/stderr"),
    )
    try:
        consumer = client.subscribe(
            args.topic,
            subscription_name=f"interop-{uuid.uuid4().hex[:8]}",
            initial_position=pulsar.InitialPosition.Earliest,
            consumer_type=pulsar.ConsumerType.Exclusive,
        )
        out = []
        deadline = time.monotonic() + args.timeout
        linger_until = None
        while True:
            now = time.monotonic()
            if len(out) >= args.count and linger_until is None:
                linger_until = now + args.linger
            end = linger_until if linger_until is not None else deadline
            left = min(end, deadline) - now
            if left <= 0:
                break
            try:
                msg = consumer.receive(timeout_millis=max(1, int(left * 1000)))
            except pulsar.Timeout:
                break
            data = msg.data()
            item = {
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "key": msg.partition_key() or None,
                "properties": msg.properties(),
                "event_timestamp": msg.event_timestamp(),
                "topic": msg.topic_name(),
                "message_id": str(msg.message_id()),
            }
            if len(data) <= 1024 * 1024:
                item["data"] = base64.b64encode(data).decode()
            out.append(item)
            consumer.acknowledge(msg)
        consumer.close()
    finally:
        client.close()
    print(RESULT_MARKER + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
