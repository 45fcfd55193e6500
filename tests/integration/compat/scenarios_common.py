"""The common API, written as programs for the official client: send_async callbacks, keys,
properties, event time, replication clusters, acks of every kind, negative acks, batch
receive, seek by time, partitioned topics and topic lists."""

from __future__ import annotations

import threading
import time
from typing import Any


def _drain(consumer: Any, pulsar: Any, quiet_ms: int = 2000) -> list[Any]:
    got = []
    while True:
        try:
            got.append(consumer.receive(timeout_millis=quiet_ms))
        except pulsar.Timeout:
            return got


def send_async_callbacks(pulsar: Any, env: Any) -> dict[str, Any]:
    topic = env.topic("async")
    n = 20
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    results: list[Any] = []
    done = threading.Event()
    lock = threading.Lock()

    def callback(res: Any, msg_id: Any) -> None:
        with lock:
            results.append([res == pulsar.Result.Ok, str(msg_id)])
            if len(results) == n:
                done.set()

    try:
        producer = client.create_producer(topic, batching_max_publish_delay_ms=20)
        for i in range(n):
            producer.send_async(f"m-{i}".encode(), callback)
        producer.flush()
        done.wait(30)
        producer.close()
    finally:
        client.close()
    return {"ok": [r[0] for r in results], "distinct_ids": len({r[1] for r in results})}


def message_fields(pulsar: Any, env: Any) -> dict[str, Any]:
    """Keys, properties, event time, replication clusters, disable_replication."""
    topic = env.topic("fields")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(topic, "sub")
        producer = client.create_producer(topic, producer_name=env.name("prod"))
        producer.send(b"a", properties={"x": "1", "y": "2"}, partition_key="key-a",
                      event_timestamp=1_700_000_000_123)  # fmt: skip
        producer.send(b"b", replication_clusters=["standalone"])
        producer.send(b"c", disable_replication=True)
        got = [consumer.receive(timeout_millis=30000) for _ in range(3)]
        out = [
            {
                "data": m.data().decode(),
                "properties": m.properties(),
                "key": m.partition_key(),
                "event_timestamp": m.event_timestamp(),
                "publish_recent": abs(m.publish_timestamp() / 1000 - time.time()) < 600,
                "topic": m.topic_name() == topic,
            }
            for m in got
        ]
        for m in got:
            consumer.acknowledge(m)
        producer.close()
        consumer.close()
    finally:
        client.close()
    return {"messages": out}


def acks_of_every_kind(pulsar: Any, env: Any) -> dict[str, Any]:
    """Individual (message and id), cumulative (message and id), negative: what a new
    consumer on the same subscription gets afterwards."""
    topic = env.topic("acks")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(topic, "sub", negative_ack_redelivery_delay_ms=200)
        producer = client.create_producer(topic, batching_enabled=False)
        for i in range(10):
            producer.send(f"m-{i}".encode())
        msgs = [consumer.receive(timeout_millis=30000) for _ in range(10)]
        consumer.acknowledge_cumulative(msgs[2])  # m-0..m-2
        consumer.acknowledge_cumulative(msgs[3].message_id())  # m-3
        consumer.acknowledge(msgs[4])
        consumer.acknowledge(msgs[5].message_id())
        consumer.negative_acknowledge(msgs[6])
        again = consumer.receive(timeout_millis=30000)
        nacked = [again.data().decode(), again.redelivery_count()]
        consumer.acknowledge(again)
        consumer.close()  # m-7..m-9 unacknowledged
        second = client.subscribe(topic, "sub")
        rest = sorted(m.data().decode() for m in _drain(second, pulsar))
        second.close()
        producer.close()
    finally:
        client.close()
    return {"nacked_again": nacked, "left_for_next_consumer": rest}


def batch_receive_default(pulsar: Any, env: Any) -> dict[str, Any]:
    topic = env.topic("brecv")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        policy = pulsar.ConsumerBatchReceivePolicy(5, 1024 * 1024, 2000)
        consumer = client.subscribe(topic, "sub", batch_receive_policy=policy)
        producer = client.create_producer(topic)
        for i in range(12):
            producer.send_async(f"m-{i}".encode(), None)
        producer.flush()
        sizes = []
        got: list[str] = []
        deadline = time.monotonic() + 30
        while len(got) < 12 and time.monotonic() < deadline:
            batch = consumer.batch_receive()
            sizes.append(len(batch))
            for m in batch:
                got.append(m.data().decode())
                consumer.acknowledge(m)
        producer.close()
        consumer.close()
    finally:
        client.close()
    return {"received": got, "max_batch": max(sizes)}


def consumer_seek_by_time(pulsar: Any, env: Any) -> dict[str, Any]:
    topic = env.topic("seektime")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
        producer = client.create_producer(topic, batching_enabled=False)
        for i in range(6):
            producer.send(f"m-{i}".encode())
            time.sleep(0.01)
        msgs = [consumer.receive(timeout_millis=30000) for _ in range(6)]
        for m in msgs:
            consumer.acknowledge(m)
        consumer.seek(msgs[3].publish_timestamp())
        after = consumer.receive(timeout_millis=30000).data().decode()
        producer.close()
        consumer.close()
    finally:
        client.close()
    return {"after_seek": after}


def partitioned_topic(pulsar: Any, env: Any) -> dict[str, Any]:
    topic = env.args["topic"]
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        partitions = client.get_topic_partitions(topic)
        consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
        producer = client.create_producer(topic, batching_enabled=False)
        for i in range(30):
            producer.send(f"m-{i}".encode(), partition_key=f"k{i % 5}")
        got = [consumer.receive(timeout_millis=30000) for _ in range(30)]
        by_key: dict[str, set[str]] = {}
        for m in got:
            by_key.setdefault(m.partition_key(), set()).add(m.topic_name())
            consumer.acknowledge(m)
        producer.close()
        consumer.close()
    finally:
        client.close()
    return {
        "partitions": partitions,
        "received": sorted(m.data().decode() for m in got),
        "partitions_per_key": sorted(len(v) for v in by_key.values()),
        "topics_seen": sorted({m.topic_name() for m in got}),
    }


def multi_topic_list(pulsar: Any, env: Any) -> dict[str, Any]:
    topics = [env.topic("list-a"), env.topic("list-b")]
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(topics, "sub")
        for t in topics:
            p = client.create_producer(t)
            p.send(t[-6:].encode())
            p.close()
        got = sorted(m.data().decode() for m in _drain(consumer, pulsar))
        consumer.close()
    finally:
        client.close()
    return {"received": got, "expected": sorted(t[-6:] for t in topics)}


def secured_produce_consume(pulsar: Any, env: Any) -> dict[str, Any]:
    """Token authentication, over plain TCP or TLS (the CA file, hostname verification)."""
    topic = env.topic("sec")
    kwargs: dict[str, Any] = {"authentication": pulsar.AuthenticationToken(env.args["token"])}
    if env.args.get("ca_file"):
        kwargs.update(tls_trust_certs_file_path=env.args["ca_file"], tls_validate_hostname=True)
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30, **kwargs)
    try:
        consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
        producer = client.create_producer(topic, compression_type=pulsar.CompressionType.LZ4)
        for i in range(10):
            producer.send(f"s-{i}".encode())
        got = []
        for _ in range(10):
            m = consumer.receive(timeout_millis=30000)
            got.append(m.data().decode())
            consumer.acknowledge(m)
        producer.close()
        consumer.close()
    finally:
        client.close()
    return {"received": got}
