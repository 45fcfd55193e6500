"""Run produce/consume tasks with Apache's official client in ONE process (run by .venv-gil).

    python official_consumer_tasks.py SERVICE_URL TASKS_JSON

TASKS_JSON is a list of tasks, run in order:
  {"op": "produce", "topic": T, "count": N, "compression": "lz4", "batching": true}
      message i: payload `payload(topic, i)`, key "k<i % 7>", properties {"i": "<i>"},
      event time 1000 + i; returns {"ids": [...]}
  {"op": "produce_chunked", "topic": T, "size": BYTES}
      one message of BYTES pseudo-random bytes with chunking on; returns {"sha256", "size"}
  {"op": "consume", "topic": T, "subscription": S, "count": N, "timeout": SECONDS,
   "type": "shared", "linger": SECONDS}
      receives until N arrived (then lingers to catch extras) or the timeout passes, acking
      each; returns {"messages": [{"data": base64, "key", "properties", "message_id"}]}
Prints one result line: "@@RESULT@@ " + JSON list, one entry per task.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sys
import time

import pulsar

RESULT_MARKER = "@@RESULT@@ "

CODECS = {
    "none": pulsar.CompressionType.NONE,
    "lz4": pulsar.CompressionType.LZ4,
    "zlib": pulsar.CompressionType.ZLib,
    "zstd": pulsar.CompressionType.ZSTD,
    "snappy": pulsar.CompressionType.SNAPPY,
}
TYPES = {
    "exclusive": pulsar.ConsumerType.Exclusive,
    "shared": pulsar.ConsumerType.Shared,
    "failover": pulsar.ConsumerType.Failover,
    "key_shared": pulsar.ConsumerType.KeyShared,
}


def payload(topic: str, i: int) -> bytes:
    """Message i of a topic: text that compresses, plus a few binary bytes."""
    return f"{topic[-12:]}-{i}-".encode() + b"interop " * (3 + i % 11) + bytes([i % 256, 0, 255])


def produce(client: pulsar.Client, task: dict) -> dict:
    producer = client.create_producer(
        task["topic"],
        compression_type=CODECS[task.get("compression", "none")],
        batching_enabled=bool(task.get("batching")),
        batching_max_messages=1000,
        batching_max_publish_delay_ms=50,
    )
    results: list = [None] * task["count"]

    def done(i: int):
        def cb(res, msg_id):
            results[i] = (res, str(msg_id))

        return cb

    for i in range(task["count"]):
        producer.send_async(
            payload(task["topic"], i),
            done(i),
            properties={"i": str(i)},
            partition_key=f"k{i % 7}",
            event_timestamp=1000 + i,
        )
    producer.flush()
    producer.close()
    bad = [r for r in results if r is None or r[0] != pulsar.Result.Ok]
    if bad:
        raise RuntimeError(f"sends failed: {bad[:3]}")
    return {"ids": [r[1] for r in results]}


def produce_chunked(client: pulsar.Client, task: dict) -> dict:
    data = random.Random(task["size"]).randbytes(task["size"])
    producer = client.create_producer(task["topic"], chunking_enabled=True, batching_enabled=False)
    producer.send(data, properties={"big": "yes"})
    producer.close()
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def consume(client: pulsar.Client, task: dict) -> dict:
    consumer = client.subscribe(
        task["topic"],
        subscription_name=task["subscription"],
        consumer_type=TYPES[task.get("type", "exclusive")],
        initial_position=pulsar.InitialPosition.Earliest,
    )
    out = []
    deadline = time.monotonic() + task.get("timeout", 30)
    linger_until = None
    while True:
        now = time.monotonic()
        if len(out) >= task["count"] and linger_until is None:
            linger_until = now + task.get("linger", 0.5)
        end = min(deadline, linger_until or deadline)
        if now >= end:
            break
        try:
            msg = consumer.receive(timeout_millis=max(1, int((end - now) * 1000)))
        except pulsar.Timeout:
            break
        out.append(
            {
                "data": base64.b64encode(msg.data()).decode(),
                "key": msg.partition_key() or None,
                "properties": msg.properties(),
                "message_id": str(msg.message_id()),
            }
        )
        consumer.acknowledge(msg)
    consumer.close()
    return {"messages": out}


OPS = {"produce": produce, "produce_chunked": produce_chunked, "consume": consume}


def main() -> int:
    service_url, tasks = sys.argv[1], json.loads(sys.argv[2])
    client = pulsar.Client(
        service_url,
        operation_timeout_seconds=30,
        logger=pulsar.FileLogger(pulsar.LoggerLevel.Warn, "/dev/stderr"),
    )
    try:
        results = [OPS[t["op"]](client, t) for t in tasks]
    finally:
        client.close()
    print(RESULT_MARKER + json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
