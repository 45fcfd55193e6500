"""Settings validation (before I/O), enum coercion, and Java-compatible key hashing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulsarload.client.errors import InvalidConfiguration
from pulsarload.client.routing import Router, java_string_hash, murmur3_32
from pulsarload.client.settings import (
    BatchingType,
    ClientConfig,
    CompressionType,
    HashingScheme,
    PartitionsRoutingMode,
    ProducerAccessMode,
    ProducerConfig,
)


def test_producer_defaults_and_topic_expansion() -> None:
    c = ProducerConfig("t")
    assert c.topic == "persistent://public/default/t"
    assert c.compression_type is CompressionType.NONE
    assert not c.batching_enabled  # as the official client
    assert c.batching_type is BatchingType.Default
    assert c.message_routing_mode is PartitionsRoutingMode.RoundRobinDistribution
    assert c.properties == {}


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("lz4", CompressionType.LZ4),
        ("ZLIB", CompressionType.ZLib),
        ("zlib", CompressionType.ZLIB),
        ("zstd", CompressionType.ZSTD),
        ("snappy", CompressionType.SNAPPY),
        ("none", CompressionType.NONE),
        (CompressionType.LZ4, CompressionType.LZ4),
    ],
)
def test_compression_names(name: object, member: CompressionType) -> None:
    assert ProducerConfig("t", compression_type=name).compression_type is member


def test_enum_names_and_aliases() -> None:
    c = ProducerConfig(
        "t",
        message_routing_mode="single_partition",
        hashing_scheme="murmur3_32hash",
        access_mode="exclusive",
    )
    assert c.message_routing_mode is PartitionsRoutingMode.UseSinglePartition
    assert c.hashing_scheme is HashingScheme.Murmur3_32Hash
    assert c.access_mode is ProducerAccessMode.Exclusive
    assert ProducerConfig("t", message_routing_mode="round_robin").message_routing_mode == 1


def test_foreign_enum_with_name_attribute() -> None:
    class Official:
        name = "ZSTD"

    assert ProducerConfig("t", compression_type=Official()).compression_type is CompressionType.ZSTD


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"compression_type": "brotli"}, "compression_type"),
        ({"max_pending_messages": -1}, "max_pending_messages"),
        ({"batching_max_messages": 0}, "batching_max_messages"),
        ({"batching_max_allowed_size_in_bytes": -5}, "batching_max_allowed_size_in_bytes"),
        ({"batching_max_publish_delay_ms": -1}, "batching_max_publish_delay_ms"),
        ({"send_timeout_millis": -1}, "send_timeout_millis"),
        ({"send_timeout_millis": "10"}, "send_timeout_millis"),
        ({"message_routing_mode": "random"}, "message_routing_mode"),
        ({"message_routing_mode": "custom"}, "message_router"),
        ({"message_router": 5}, "message_router"),
        ({"properties": {"a": 1}}, "properties"),
        ({"producer_name": ""}, "producer_name"),
        ({"initial_sequence_id": -2}, "initial_sequence_id"),
        ({"access_mode": "nope"}, "access_mode"),
        ({"topic": "a/b"}, "topic"),
    ],
)
def test_bad_producer_settings_name_the_field(kwargs: dict, field: str) -> None:
    kwargs = {"topic": "t", **kwargs}
    with pytest.raises(ValueError, match=f"^{field}"):
        ProducerConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"service_url": "ftp://x"}, "service_url"),
        ({"operation_timeout_seconds": 0}, "operation_timeout_seconds"),
        ({"connection_timeout_ms": -1}, "connection_timeout_ms"),
        ({"connections_per_broker": 0}, "connections_per_broker"),
        ({"max_backoff_interval_ms": 1}, "max_backoff_interval_ms"),
        ({"reconnect_give_up_seconds": -1}, "reconnect_give_up_seconds"),
    ],
)
def test_bad_client_settings_name_the_field(kwargs: dict, field: str) -> None:
    kwargs = {"service_url": "pulsar://localhost:6650", **kwargs}
    with pytest.raises(InvalidConfiguration, match=f"^{field}"):
        ClientConfig(**kwargs)


def test_client_tls_from_scheme() -> None:
    assert ClientConfig("pulsar+ssl://h:6651").tls
    assert not ClientConfig("pulsar://h:6650").tls


# --- hashes ---------------------------------------------------------------------------------


def test_java_string_hash_vectors() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("Hello") == 69609650
    # Overflow wraps to a negative int, as in Java.
    assert java_string_hash("polygenelubricants") == -2147483648
    # Non-BMP characters hash as two UTF-16 code units.
    assert java_string_hash("\U0001f600") == 31 * 0xD83D + 0xDE00


@given(st.text(max_size=40))
def test_java_hash_matches_definition(s: str) -> None:
    h = 0
    units = s.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i : i + 2], "big")) % 2**32
    if h >= 2**31:
        h -= 2**32
    assert java_string_hash(s) == h


def test_murmur3_vectors() -> None:
    assert murmur3_32(b"", 0) == 0
    assert murmur3_32(b"", 1) == 0x514E28B7
    assert murmur3_32(b"hello", 0) == 0x248BFA47
    assert murmur3_32(b"The quick brown fox jumps over the lazy dog", 0) == 0x2E4FF723
    assert murmur3_32(b"Hello, world!", 1234) == 0xFAF6CDB3


def test_router_keyed_and_round_robin() -> None:
    import random

    r = Router(
        PartitionsRoutingMode.RoundRobinDistribution,
        HashingScheme.JavaStringHash,
        rand=random.Random(1),
    )
    assert r.choose(4, key="hello") == (99162322 & 0x7FFFFFFF) % 4
    seen = [r.choose(4) for _ in range(8)]
    assert sorted(set(seen)) == [0, 1, 2, 3]
    assert seen[:4] != seen[1:5]
    single = Router(PartitionsRoutingMode.UseSinglePartition, HashingScheme.Murmur3_32Hash)
    assert len({single.choose(5) for _ in range(20)}) == 1
    assert single.choose(5, key="hello") == (0x248BFA47 & 0x7FFFFFFF) % 5


def test_custom_router() -> None:
    r = Router(
        PartitionsRoutingMode.CustomPartition,
        HashingScheme.JavaStringHash,
        custom=lambda msg, n: len(msg.data()) % n,
    )
    assert r.choose(3, content=b"abcd") == 1
    bad = Router(
        PartitionsRoutingMode.CustomPartition, HashingScheme.JavaStringHash, custom=lambda msg, n: n
    )
    with pytest.raises(ValueError, match="message_router"):
        bad.choose(3)
