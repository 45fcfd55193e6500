"""Redelivery under a dead-letter policy, written as a program for the official client.

The consumer keeps asking for redelivery (`redeliver_unacknowledged_messages()` after every
message, or `negative_acknowledge`) for a fixed time and never acknowledges: the policy must
stop each message after its redeliveries and move it to the dead-letter topic.
"""

from __future__ import annotations

import time
from typing import Any


def dead_letter_loop(pulsar: Any, env: Any) -> dict[str, Any]:
    mode = env.args["mode"]  # "redeliver" or "nack"
    count = int(env.args.get("count", 10))
    max_redeliver = int(env.args.get("max_redeliver", 5))
    seconds = float(env.args.get("seconds", 15))
    topic = env.topic("dlq")
    dlq_topic = topic + "-my-DLQ"
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        policy = pulsar.ConsumerDeadLetterPolicy(
            max_redeliver_count=max_redeliver,
            dead_letter_topic=dlq_topic,
            initial_subscription_name="dlq-sub",
        )
        consumer = client.subscribe(
            topic,
            "sub",
            consumer_type=pulsar.ConsumerType.Shared,
            dead_letter_policy=policy,
            negative_ack_redelivery_delay_ms=100,
            initial_position=pulsar.InitialPosition.Earliest,
        )
        producer = client.create_producer(topic, batching_enabled=False)
        for i in range(count):
            producer.send(f"m-{i}".encode(), properties={"i": str(i)}, partition_key=f"k{i}")
        deliveries = 0
        counts: dict[str, int] = {}
        max_rc = 0
        trace: list[str] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                msg = consumer.receive(timeout_millis=500)
            except pulsar.Timeout:
                continue
            deliveries += 1
            key = msg.data().decode(errors="replace")
            counts[key] = counts.get(key, 0) + 1
            max_rc = max(max_rc, msg.redelivery_count())
            if len(trace) < 80:
                trace.append(
                    f"{key}/{msg.redelivery_count()}@{time.monotonic() - deadline + seconds:.2f}"
                )
            if mode == "nack":
                consumer.negative_acknowledge(msg)
            else:
                consumer.redeliver_unacknowledged_messages()
        consumer.close()
        dlq = client.subscribe(
            dlq_topic, "dlq-sub", initial_position=pulsar.InitialPosition.Earliest
        )
        moved = []
        while True:
            try:
                m = dlq.receive(timeout_millis=3000)
            except pulsar.Timeout:
                break
            moved.append(
                {
                    "data": m.data().decode(errors="replace"),
                    "properties": m.properties(),
                    "key": m.partition_key(),
                }
            )
            dlq.acknowledge(m)
        dlq.close()
        producer.close()
    finally:
        client.close()
    return {
        "topic": topic,
        "deliveries": deliveries,
        "per_message": counts,
        "max_redelivery_count": max_rc,
        "moved": moved,
        "trace": trace,
    }
