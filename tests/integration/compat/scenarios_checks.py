"""Argument checks and value types, written as programs for the official client.

Each check's outcome is "ok" or the class name of what was raised, so a test can compare the
two clients' answers one by one.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any


def _outcome(fn: Any) -> str:
    try:
        fn()
    except Exception as err:
        for kind in (TypeError, ValueError):
            if isinstance(err, kind):
                return kind.__name__
        return "other:" + type(err).__name__
    return "ok"


def argument_checks(pulsar: Any, env: Any) -> dict[str, Any]:
    topic = env.topic("args")
    out: dict[str, Any] = {}

    def client_with(**kw: Any) -> None:
        pulsar.Client(env.service_url, **kw).close()

    out["stats_interval_text"] = _outcome(lambda: client_with(stats_interval_in_seconds="test"))
    out["operation_timeout_text"] = _outcome(lambda: client_with(operation_timeout_seconds="x"))
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        out["block_if_queue_full_text"] = _outcome(
            lambda: client.create_producer(topic, block_if_queue_full="test").close()
        )
        out["send_timeout_text"] = _outcome(
            lambda: client.create_producer(topic, send_timeout_millis="x").close()
        )
        out["chunking_with_batching"] = _outcome(
            lambda: client.create_producer(
                topic, chunking_enabled=True, batching_enabled=True
            ).close()
        )
        producer = client.create_producer(topic)
        out["send_int"] = _outcome(lambda: producer.send(5))
        out["send_str"] = _outcome(lambda: producer.send("text"))
        out["send_properties_not_str"] = _outcome(lambda: producer.send(b"x", properties={"a": 1}))
        out["receiver_queue_negative"] = _outcome(
            lambda: client.subscribe(topic, "neg", receiver_queue_size=-1).close()
        )
        producer.close()
    finally:
        client.close()
    return out


def zero_queue_consumer(pulsar: Any, env: Any) -> dict[str, Any]:
    """receiver_queue_size=0: messages still arrive, one per receive."""
    topic = env.topic("zq")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(topic, "sub", receiver_queue_size=0)
        producer = client.create_producer(topic, batching_enabled=False)
        for i in range(5):
            producer.send(f"m-{i}".encode())
        got = []
        for _ in range(5):
            # The official client refuses a receive timeout on a zero-queue consumer
            # (InvalidConfiguration); the runner's process timeout bounds this wait.
            m = consumer.receive()
            got.append(m.data().decode())
            consumer.acknowledge(m)
        consumer.close()
        producer.close()
    finally:
        client.close()
    return {"received": got}


def batch_policy_without_limits(pulsar: Any, env: Any) -> dict[str, Any]:
    """ConsumerBatchReceivePolicy(10, -1, -1): a count with no byte or time limit."""
    topic = env.topic("brp")
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(
            topic, "sub", batch_receive_policy=pulsar.ConsumerBatchReceivePolicy(10, -1, -1)
        )
        producer = client.create_producer(topic)
        for i in range(10):
            producer.send(f"m-{i}".encode())
        got: list[str] = []
        deadline = time.monotonic() + 30
        while len(got) < 10 and time.monotonic() < deadline:
            batch = consumer.batch_receive()
            for m in batch:
                got.append(m.data().decode())
                consumer.acknowledge(m)
        consumer.close()
        producer.close()
    finally:
        client.close()
    return {"received": got}


def http_service_url(pulsar: Any, env: Any) -> dict[str, Any]:
    """The admin port's http:// URL as the service URL (HTTP lookup)."""
    topic = env.topic("http")
    client = pulsar.Client(env.admin_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(topic, "sub")
        producer = client.create_producer(topic)
        producer.send(b"over-http-lookup")
        m = consumer.receive(timeout_millis=30000)
        consumer.acknowledge(m)
        partitions = client.get_topic_partitions(topic)
        consumer.close()
        producer.close()
    finally:
        client.close()
    return {"received": m.data().decode(), "partitions": partitions, "topic": topic}


def value_types(pulsar: Any, env: Any) -> dict[str, Any]:
    """The types of values the API hands back."""
    topic = env.topic("types")
    ptopic = env.args["partitioned_topic"]
    out: dict[str, Any] = {}
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    try:
        consumer = client.subscribe(topic, "sub", consumer_type=pulsar.ConsumerType.KeyShared)
        producer = client.create_producer(topic)
        producer.send(b"x", ordering_key="ok-1", partition_key="pk-1")
        m = consumer.receive(timeout_millis=30000)
        out["ordering_key"] = [type(m.ordering_key()).__name__, str(m.ordering_key())]
        out["partition_key"] = [type(m.partition_key()).__name__, m.partition_key()]
        out["properties_type"] = type(m.properties()).__name__
        consumer.acknowledge(m)
        consumer.close()
        producer.close()

        ks = pulsar.ConsumerKeySharedPolicy(
            key_shared_mode=pulsar.KeySharedMode.Sticky, sticky_ranges=[(0, 100), (200, 300)]
        )
        ranges = ks.sticky_ranges
        out["sticky_ranges"] = [type(ranges).__name__, [list(r) for r in ranges],
                                type(ranges[0]).__name__]  # fmt: skip
        dl = pulsar.ConsumerDeadLetterPolicy(max_redeliver_count=3)
        out["dead_letter_defaults"] = [
            dl.max_redeliver_count,
            dl.dead_letter_topic,
            dl.initial_subscription_name,
        ]

        seen: list[list[Any]] = []

        def router(msg: Any, num_partitions: int) -> int:
            seen.append([msg.data().decode(), msg.partition_key(), num_partitions])
            assert isinstance(msg, pulsar.Message), type(msg)
            return 1

        rp = client.create_producer(ptopic, message_router=router, batching_enabled=False)
        rp.send(b"routed", partition_key="rk")
        rp.close()
        out["router_saw"] = seen
    finally:
        client.close()
    return out


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def threads_after_close(pulsar: Any, env: Any) -> dict[str, Any]:
    """Threads before a client, while it has a partitioned producer and consumers, and after
    close() (or shutdown()); OS threads, which include the C++ client's."""
    ptopic = env.args["partitioned_topic"]
    how = env.args.get("how", "close")
    before = _os_threads()
    py_before = {t.ident for t in threading.enumerate()}
    client = pulsar.Client(env.service_url, operation_timeout_seconds=30)
    producer = client.create_producer(ptopic)
    producer.send(b"x")
    consumer = client.subscribe(ptopic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    consumer.acknowledge(consumer.receive(timeout_millis=30000))
    pattern = client.subscribe(
        ptopic.rsplit("/", 1)[0] + "/nothing-matches-.*", "psub"
    )  # a regex consumer, with its own discovery
    during = _os_threads()
    if how == "shutdown":
        client.shutdown()
    else:
        client.close()
    del pattern
    deadline = time.monotonic() + 15
    while _os_threads() > before and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [t.name for t in threading.enumerate() if t.ident not in py_before]
    return {"before": before, "during": during, "after": _os_threads(), "python_left": left}
