"""Service URLs and topic names are checked before any I/O, with errors naming the field."""

from __future__ import annotations

import pytest

from pulsarload.client.errors import InvalidTopicName, InvalidUrl
from pulsarload.client.topics import TopicName, topic_name
from pulsarload.client.urls import Address, parse_broker_url, parse_service_url


def test_single_host() -> None:
    s = parse_service_url("pulsar://localhost:6650")
    assert not s.tls
    assert s.addresses == (Address("localhost", 6650),)


def test_multi_host_default_ports_and_tls() -> None:
    s = parse_service_url("pulsar+ssl://a.example,b.example:7000/")
    assert s.tls
    assert [str(a) for a in s.addresses] == ["a.example:6651", "b.example:7000"]
    assert s.addresses[0].url == "pulsar+ssl://a.example:6651"
    assert parse_service_url("pulsar://h").addresses[0].port == 6650


def test_http_service_urls_look_up_over_http() -> None:
    s = parse_service_url("http://localhost:8080")
    assert s.http and not s.tls and s.addresses == (Address("localhost", 8080),)
    s = parse_service_url("https://a.example")
    assert s.http and s.tls and s.addresses[0].port == 443
    assert not parse_service_url("pulsar://h").http
    with pytest.raises(InvalidUrl, match="unsupported scheme"):
        parse_broker_url("http://h:8080")  # a lookup answer names a binary-protocol broker


def test_ipv6() -> None:
    a = parse_broker_url("pulsar://[::1]:6650")
    assert a.host == "::1" and a.port == 6650
    assert str(a) == "[::1]:6650"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "localhost:6650",
        "ftp://localhost:8080",
        "pulsar://",
        "pulsar://host:",
        "pulsar://host:abc",
        "pulsar://host:70000",
        "pulsar://host:0",
        "pulsar://ho st:6650",
        "pulsar://host:6650/path",
        "pulsar://a:1,,b:2",
        "pulsar://[::1",
        None,
    ],
)
def test_bad_urls_name_the_field(url: object) -> None:
    with pytest.raises(InvalidUrl, match="^service_url") as info:
        parse_service_url(url)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_broker_url_single_host_only() -> None:
    with pytest.raises(InvalidUrl, match="single host"):
        parse_broker_url("pulsar://a:1,b:2")


@pytest.mark.parametrize(
    ("given", "full"),
    [
        ("my-topic", "persistent://public/default/my-topic"),
        ("t1/ns1/x", "persistent://t1/ns1/x"),
        ("persistent://public/default/x", "persistent://public/default/x"),
        ("non-persistent://public/default/x", "non-persistent://public/default/x"),
        ("persistent://prop/cluster/ns/x", "persistent://prop/cluster/ns/x"),
        ("x-partition-3", "persistent://public/default/x-partition-3"),
    ],
)
def test_topic_expansion(given: str, full: str) -> None:
    assert topic_name(given) == full


def test_partition_helpers() -> None:
    t = TopicName.parse("a")
    assert t.partition_index == -1
    p = t.partition(2)
    assert str(p) == "persistent://public/default/a-partition-2"
    assert p.partition_index == 2


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "a/b",
        "a/b/c/d",
        "kafka://public/default/x",
        "persistent://public/default",
        "persistent://public/default/",
        "persistent://pub lic/default/x",
        "persistent://public/de!fault/x",
        "my topic",
        "x\x00",
        42,
    ],
)
def test_bad_topics_name_the_field(bad: object) -> None:
    with pytest.raises(InvalidTopicName, match="^topic") as info:
        topic_name(bad)
    assert isinstance(info.value, ValueError)
