"""A topic that gains partitions while a producer uses it: the producer starts sending to the
new partitions without being recreated (as the Java and C++ clients do)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pulsarload.client import Client
from pulsarload.client.admin import AdminClient
from pulsarload.client.topics import partition_name
from support.waiting import eventually

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


def test_a_producer_picks_up_partitions_added_while_it_runs(broker: Any, make_topic: Any) -> None:
    topic = make_topic("grow")
    with AdminClient(broker.admin_url) as admin:
        admin.create_partitioned_topic(topic, 2)
        try:
            with Client(broker.service_url, partitions_update_interval_seconds=0.5) as client:
                producer = client.create_producer(
                    topic, batching_enabled=False, message_routing_mode="RoundRobinDistribution"
                )
                assert len(producer.partitions) == 2
                admin.update_partitions(topic, 4)
                eventually(lambda: len(producer.partitions) == 4, 30, "the new partitions")
                consumers = {
                    i: client.subscribe(partition_name(topic, i), "s", initial_position="earliest")
                    for i in range(4)
                }
                for i in range(40):
                    producer.send(b"m%d" % i)
                per_partition = {}
                for i, consumer in consumers.items():
                    got = []
                    while True:
                        try:
                            got.append(consumer.receive(timeout_millis=2000).data())
                        except Exception:  # Timeout: nothing more on this partition
                            break
                    per_partition[i] = got
                assert sum(len(v) for v in per_partition.values()) == 40
                assert per_partition[2] and per_partition[3], per_partition
                producer.close()
        finally:
            admin.delete_topic(topic, partitioned=True)


def test_the_check_can_be_turned_off_and_a_bad_interval_is_refused(broker: Any) -> None:
    from pulsarload.client.errors import InvalidConfiguration

    with pytest.raises(InvalidConfiguration, match="partitions_update_interval_seconds"):
        Client(broker.service_url, partitions_update_interval_seconds=-1)


def test_a_consumer_reads_partitions_added_while_it_runs(broker: Any, make_topic: Any) -> None:
    """Producer and consumer both see the new partitions; the consumer also gets what was sent
    to a new partition before it subscribed there (it starts new partitions at the earliest)."""
    topic = make_topic("grow-consume")
    with AdminClient(broker.admin_url) as admin:
        admin.create_partitioned_topic(topic, 2)
        try:
            with Client(broker.service_url, partitions_update_interval_seconds=0.5) as client:
                consumer = client.subscribe(topic, "s")  # latest: only what comes from now on
                producer = client.create_producer(
                    topic, batching_enabled=False, message_routing_mode="RoundRobinDistribution"
                )
                admin.update_partitions(topic, 4)
                eventually(lambda: len(producer.partitions) == 4, 30, "the producer to grow")
                for i in range(40):
                    producer.send(b"m%d" % i)
                eventually(lambda: len(consumer.consumers) == 4, 30, "the consumer to grow")
                got: dict[bytes, str] = {}
                deadline = time.monotonic() + 30
                while len(got) < 40 and time.monotonic() < deadline:
                    try:
                        msg = consumer.receive(timeout_millis=1000)
                    except Exception:  # Timeout: look again until the deadline
                        continue
                    got[msg.data()] = msg.topic_name()
                    consumer.acknowledge(msg)
                assert sorted(got) == sorted(b"m%d" % i for i in range(40))
                assert {partition_name(topic, i) for i in (2, 3)} <= set(got.values())
                producer.close()
                consumer.close()
        finally:
            admin.delete_topic(topic, partitioned=True)
