"""Seeks and readers, written as programs for the official client."""

from __future__ import annotations

import time
from typing import Any


def _attempt(fn: Any) -> dict[str, Any]:
    try:
        return {"ok": fn()}
    except Exception as err:  # the error's class name is the outcome to compare
        return {"error": type(err).__name__}


def _produce(pulsar: Any, client: Any, topic: str, n: int, batched: bool) -> None:
    producer = client.create_producer(
        topic, batching_enabled=batched, batching_max_publish_delay_ms=50
    )
    if batched:
        for i in range(n):
            producer.send_async(f"m-{i}".encode(), None)
        producer.flush()
    else:
        for i in range(n):
            producer.send(f"m-{i}".encode())
            time.sleep(0.003)  # distinct publish times, for seeks by time
    producer.close()


def earliest(pulsar: Any) -> Any:
    """`MessageId.earliest`, the official spelling (ours also has `MessageId.EARLIEST`)."""
    mid = pulsar.MessageId
    return mid.earliest if hasattr(mid, "earliest") else mid.EARLIEST


def _next(consumer: Any, pulsar: Any, timeout_ms: int = 10000) -> str | None:
    try:
        return consumer.receive(timeout_millis=timeout_ms).data().decode()
    except pulsar.Timeout:
        return None


def consumer_seek_by_id(pulsar: Any, env: Any) -> dict[str, Any]:
    """Receive n messages, seek to the id of message `at`; what comes next."""
    n, at = int(env.args.get("count", 10)), int(env.args.get("at", 4))
    batched = bool(env.args.get("batched", False))
    topic = env.topic("seek")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
        _produce(pulsar, client, topic, n, batched)
        ids = []
        for _ in range(n):
            msg = consumer.receive(timeout_millis=30000)
            ids.append(msg.message_id())
            consumer.acknowledge(msg)
        consumer.seek(ids[at])
        after = [_next(consumer, pulsar) for _ in range(2)]
        consumer.close()
    finally:
        client.close()
    return {"after_seek": after}


def partitioned_seek_by_id(pulsar: Any, env: Any) -> dict[str, Any]:
    """On a partitioned topic (made by the test): seek a consumer to a message's id."""
    topic = env.args["topic"]
    n = int(env.args.get("count", 10))
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
        producer = client.create_producer(topic, batching_enabled=False)
        for i in range(n):
            producer.send(f"m-{i}".encode(), partition_key="one-key")  # one partition
        msgs = []
        for _ in range(n):
            m = consumer.receive(timeout_millis=30000)
            msgs.append(m)
            consumer.acknowledge(m)
        target = msgs[3]
        outcome = _attempt(lambda: consumer.seek(target.message_id()))
        after = _next(consumer, pulsar) if "ok" in outcome else None
        consumer.close()
        producer.close()
    finally:
        client.close()
    return {
        "seek": "ok" if "ok" in outcome else outcome["error"],
        "after_seek": after,
        "topic": target.topic_name(),
    }


def reader_seek(pulsar: Any, env: Any) -> dict[str, Any]:
    """A reader that seeks back to a message id and to a publish time."""
    n = int(env.args.get("count", 10))
    inclusive = bool(env.args.get("inclusive", False))
    topic = env.topic("rseek")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        _produce(pulsar, client, topic, n, bool(env.args.get("batched", False)))
        reader = client.create_reader(topic, earliest(pulsar), start_message_id_inclusive=inclusive)
        msgs = [reader.read_next(30000) for _ in range(n)]
        at_end = reader.has_message_available()
        reader.seek(msgs[4].message_id())
        after_id = _attempt(reader.has_message_available)
        next_after_id = reader.read_next(30000).data().decode()
        reader.seek(msgs[7].publish_timestamp())
        after_time = _attempt(reader.has_message_available)
        next_after_time = reader.read_next(30000).data().decode()
        reader.close()
    finally:
        client.close()
    return {
        "first": msgs[0].data().decode(),
        "at_end_has_message": at_end,
        "has_message_after_seek_id": after_id,
        "next_after_seek_id": next_after_id,
        "has_message_after_seek_time": after_time,
        "next_after_seek_time": next_after_time,
    }
