"""Basic produce and consume, written as a program for the official client."""

from __future__ import annotations

from typing import Any


def produce_consume(pulsar: Any, env: Any) -> dict[str, Any]:
    """Send n messages with properties and keys; an earliest subscription reads them back."""
    n = int(env.args.get("count", 10))
    topic = env.topic("pc")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
        producer = client.create_producer(topic)
        ids = [
            str(producer.send(f"m-{i}".encode(), properties={"i": str(i)}, partition_key=f"k{i}"))
            for i in range(n)
        ]
        got = []
        for _ in range(n):
            msg = consumer.receive(timeout_millis=30000)
            got.append(
                {
                    "data": msg.data().decode(),
                    "properties": msg.properties(),
                    "key": msg.partition_key(),
                    "topic": msg.topic_name(),
                    "redelivery_count": msg.redelivery_count(),
                }
            )
            consumer.acknowledge(msg)
        producer.close()
        consumer.close()
    finally:
        client.close()
    return {"sent": len(ids), "distinct_ids": len(set(ids)), "topic": topic, "received": got}
