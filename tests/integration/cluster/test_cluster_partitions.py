"""A partitioned topic whose partitions are owned by different brokers, produced and consumed
exactly: every message once, each partition in order, straight to the brokers and through the
proxy; and Apache's client reading what ours wrote and the other way round.
"""

from __future__ import annotations

import pytest
from interop import official

from cluster.cluster_ops import PATHS, ClusterUnderTest
from pulsarload.client import Client
from pulsarload.client.errors import Timeout

# Generous: the first test of the package also waits for the cluster to start (2-5 min on
# busy cores; the start itself gives up after 600 s).
pytestmark = [pytest.mark.broker, pytest.mark.cluster, pytest.mark.timeout(1200)]

PARTITIONS = 6
COUNT = 600


def spread_topic(cluster: ClusterUnderTest, prefix: str) -> tuple[str, dict[int, int]]:
    """A partitioned topic with partitions on both brokers; (name, partition -> owner)."""
    ns = cluster.namespace(bundles=4)
    for k, bundle in enumerate(cluster.bundles(ns)):
        cluster.move_bundle(ns, bundle, 1 + k % 2)
    for n in range(20):
        topic = f"persistent://{ns}/{prefix}-{n}"
        owners = {p: cluster.owner(f"{topic}-partition-{p}") for p in range(PARTITIONS)}
        if set(owners.values()) == {1, 2}:
            cluster.create_partitioned(topic, PARTITIONS)
            return topic, owners
    raise AssertionError(f"no topic name in {ns} spread its partitions over both brokers")


def _read(url: str, topic: str, count: int, subscription: str) -> list[tuple[str, bytes]]:
    """(partition topic, payload) of everything a fresh subscription gets, up to `count` and a
    few seconds more (to catch duplicates)."""
    got = []
    with Client(url) as client:
        consumer = client.subscribe(topic, subscription, initial_position="earliest")
        wait_ms = 20_000
        while True:
            try:
                msg = consumer.receive(timeout_millis=wait_ms)
            except Timeout:
                break
            got.append((msg.topic_name(), msg.data()))
            consumer.acknowledge(msg)
            if len(got) >= count:
                wait_ms = 2_000
    return got


def _check_exact(got: list[tuple[str, bytes]], expected: list[bytes]) -> None:
    payloads = [data for _t, data in got]
    assert sorted(payloads) == sorted(expected)  # each once: nothing lost, nothing twice
    assert len({t for t, _d in got}) == PARTITIONS  # round robin reached every partition
    order = {data: i for i, data in enumerate(expected)}
    for partition in {t for t, _d in got}:
        seq = [order[d] for t, d in got if t == partition]
        assert seq == sorted(seq), f"{partition} out of order"


@pytest.mark.parametrize("path", PATHS)
def test_partitions_on_both_brokers_are_produced_and_consumed_exactly(
    cluster: ClusterUnderTest, path: str
) -> None:
    topic, owners = spread_topic(cluster, f"spread-{path}")
    url = cluster.url(path)
    expected = [f"p-{i}".encode() for i in range(COUNT)]
    with Client(url) as client:
        producer = client.create_producer(topic, batching_enabled=False)
        for data in expected:
            producer.send(data)
        producer.close()
    _check_exact(_read(url, topic, COUNT, "exact"), expected)
    # Still where they were: the partitions really were served by both brokers.
    assert {cluster.owner(f"{topic}-partition-{p}") for p in range(PARTITIONS)} == {1, 2}, owners


@pytest.mark.parametrize("path", PATHS)
def test_the_official_client_and_ours_read_each_others_partitions(
    cluster: ClusterUnderTest, path: str
) -> None:
    official.require_official()
    url = cluster.url(path)
    theirs, _ = spread_topic(cluster, f"official-{path}")
    count = 120
    assert len(official.produce(url, theirs, count, "lz4", True)) == count
    expected = [official.expected_official_payload(i) for i in range(count)]
    _check_exact(_read(url, theirs, count, "ours"), expected)

    ours, _ = spread_topic(cluster, f"ours-{path}")
    mine = [f"o-{i}".encode() for i in range(count)]
    with Client(url) as client:
        producer = client.create_producer(ours, batching_enabled=False)
        for data in mine:
            producer.send(data)
    read = official.consume(url, ours, count, linger=2.0)
    assert sorted(m["data"] for m in read) == sorted(mine)
    assert len({m["topic"] for m in read}) == PARTITIONS
