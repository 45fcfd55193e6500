"""Lookups on a real two-broker cluster: a broker that does not own a topic answers with a
Redirect to the owner, and the client follows it (asking the owner authoritatively); through
the proxy every answer says "proxy through the service URL" and the client keeps talking to
the proxy, naming the owner in CONNECT. The official client does the same as the reference.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from interop import official

from cluster.cluster_ops import PATHS, ClusterUnderTest
from pulsarload.client import Client
from pulsarload.client.connection import Connection
from pulsarload.client.errors import Timeout
from pulsarload.client.urls import parse_service_url
from pulsarload.wire.commands import CommandLookupTopic, CommandLookupTopicResponse
from pulsarload.wire.enums import LookupType

# Generous: the first test of the package also waits for the cluster to start (2-5 min on
# busy cores; the start itself gives up after 600 s).
pytestmark = [pytest.mark.broker, pytest.mark.cluster, pytest.mark.timeout(1200)]

COUNT = 50


PER_BROKER = 5


@pytest.fixture(scope="module")
def topics(cluster: ClusterUnderTest) -> dict[int, list[str]]:
    """PER_BROKER topic names owned by each broker (the namespace's bundles placed on both)."""
    ns = cluster.namespace(bundles=4)
    for k, bundle in enumerate(cluster.bundles(ns)):
        cluster.move_bundle(ns, bundle, 1 + k % 2)
    found: dict[int, list[str]] = {1: [], 2: []}
    for n in range(200):
        topic = f"persistent://{ns}/lookup-{n}"
        found[cluster.owner(topic)].append(topic)
        if min(len(v) for v in found.values()) >= PER_BROKER:
            return found
    raise AssertionError(f"the topics of {ns} did not spread: {found}")


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[bool, object]]]:
    """Every lookup our client sends and answers: (authoritative flag sent, response)."""
    seen: list[tuple[bool, object]] = []
    original = Connection.request

    def request(self: Connection, make, what, timeout=-1.0):  # noqa: ANN001, ANN202
        sent: list[bool] = []

        def wrapped(rid: int) -> object:
            msg = make(rid)
            if isinstance(msg, CommandLookupTopic):
                sent.append(bool(msg.authoritative))
            return msg

        resp = original(self, wrapped, what, timeout)
        if isinstance(resp, CommandLookupTopicResponse):
            seen.append((sent[0], resp))
        return resp

    monkeypatch.setattr(Connection, "request", request)
    yield seen


def _round_trip(service_url: str, topic: str) -> list[bytes]:
    """Produce COUNT messages with our client, then read them back from the start."""
    # Generous: the first topic of a fresh cluster on busy cores can take tens of seconds.
    with Client(service_url, operation_timeout_seconds=120) as client:
        producer = client.create_producer(topic)
        for i in range(COUNT):
            producer.send(f"m-{i}".encode())
        producer.close()
        consumer = client.subscribe(topic, "lookup-check", initial_position="earliest")
        got = []
        while len(got) < COUNT:
            try:
                msg = consumer.receive(timeout_millis=20_000)
            except Timeout:
                break
            got.append(msg.data())
            consumer.acknowledge(msg)
        consumer.close()
    return got


def test_a_redirect_is_followed_with_an_authoritative_lookup(
    cluster: ClusterUnderTest, lookups: list
) -> None:
    """A topic of a bundle nobody owns yet, looked up at the broker that is not the load
    manager's leader: it redirects to the leader, which assigns the bundle (and may redirect
    once more, authoritatively, to the broker it chose)."""
    leader = cluster.leader()
    other = 2 if leader == 1 else 1
    topic = f"persistent://{cluster.namespace(bundles=4)}/redirect"
    got = _round_trip(cluster.broker_url(other), topic)
    assert got == [f"m-{i}".encode() for i in range(COUNT)]
    first_sent, first = lookups[0]
    assert first_sent is False
    assert first.response == LookupType.Redirect, first
    assert cluster.broker_index(first.brokerServiceUrl) == leader
    # Each lookup after a redirect goes where it pointed, carrying its authoritative flag,
    # until one answers Connect: the topic's owner.
    for (_s, answer), (sent, _next) in zip(lookups, lookups[1:], strict=False):
        if answer.response == LookupType.Redirect:
            assert sent == bool(answer.authoritative)
    connects = [r for _s, r in lookups if r.response == LookupType.Connect]
    assert connects and cluster.broker_index(connects[0].brokerServiceUrl) == cluster.owner(topic)


@pytest.mark.parametrize("owner", [1, 2])
def test_a_broker_that_does_not_own_the_topic_sends_the_client_to_its_owner(
    cluster: ClusterUnderTest, topics: dict[int, list[str]], lookups: list, owner: int
) -> None:
    """Once a bundle is owned, any broker answers a lookup for it with Connect, naming the
    owner, authoritatively: the client then talks to the owner, not the broker it asked."""
    topic = topics[owner][0]
    other = 2 if owner == 1 else 1
    got = _round_trip(cluster.broker_url(other), topic)  # the service URL names the other one
    assert got == [f"m-{i}".encode() for i in range(COUNT)]
    _sent, first = lookups[0]
    assert first.response == LookupType.Connect and first.authoritative
    assert cluster.broker_index(first.brokerServiceUrl) == owner


@pytest.mark.parametrize("owner", [1, 2])
def test_through_the_proxy_every_lookup_stays_on_the_proxy(
    cluster: ClusterUnderTest, topics: dict[int, str], lookups: list, owner: int
) -> None:
    topic = topics[owner][1]
    got = _round_trip(cluster.url("proxy"), topic)
    assert got == [f"m-{i}".encode() for i in range(COUNT)]
    assert lookups
    assert all(r.proxy_through_service_url for _s, r in lookups)
    final = [r for _s, r in lookups if r.response == LookupType.Connect]
    assert final and all(cluster.broker_index(r.brokerServiceUrl) == owner for r in final)
    # Our client resolves the topic to the owner (logical) reached through the proxy (physical).
    with Client(cluster.url("proxy")) as client:
        where = client._lookup.lookup(topic)
    proxy = parse_service_url(cluster.url("proxy")).addresses[0]
    assert where.physical == proxy
    assert cluster.broker_index(where.logical.url) == owner


@pytest.mark.parametrize("path", ["other-broker", *PATHS])
def test_the_official_client_reads_and_writes_the_same_topics(
    cluster: ClusterUnderTest, topics: dict[int, list[str]], path: str
) -> None:
    """The reference: Apache's client through the same redirect and proxy paths (topics owned
    by broker 2, broker 1 or the proxy as the service URL), and each client reads exactly what
    the other wrote."""
    official.require_official()
    theirs, ours = {
        "other-broker": (topics[2][2], topics[2][3]),
        "proxy": (topics[1][2], topics[1][3]),
        "direct": (topics[1][4], topics[2][4]),
    }[path]
    url = cluster.broker_url(1) if path == "other-broker" else cluster.url(path)
    ids = official.produce(url, theirs, COUNT, "none", False)
    assert len(ids) == COUNT
    with Client(url) as client:
        consumer = client.subscribe(theirs, "ours", initial_position="earliest")
        got = [consumer.receive(timeout_millis=20_000).data() for _ in range(COUNT)]
        producer = client.create_producer(ours)
        for i in range(COUNT):
            producer.send(f"o-{i}".encode())
    assert got == [official.expected_official_payload(i) for i in range(COUNT)]
    read = official.consume(url, ours, COUNT, linger=0.5)
    assert [m["data"] for m in read] == [f"o-{i}".encode() for i in range(COUNT)]
