"""The tool's words for the client's enum members: one vocabulary for every layer.

The client's enums (`CompressionType`, `ConsumerType`, ...) carry the official client's names,
and their values are the wire protocol's (the client turns a member into a wire enum with
`int()`). These tables give each member the lowercase word the command line and the config
files use. `config.py` builds its choices from their keys; the native engine passes the
members to the client, the official engine looks up the member of the same name in Apache's
`pulsar` module. Nothing else spells these concepts.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pulsarload.client.consumer_config import ConsumerType, InitialPosition
from pulsarload.client.settings import CompressionType, HashingScheme, PartitionsRoutingMode

__all__ = [
    "COMPRESSION",
    "HASHING",
    "INITIAL_POSITION",
    "ROUTING",
    "SUBSCRIPTION_TYPE",
    "official_member",
]

COMPRESSION: dict[str, CompressionType] = {
    "none": CompressionType.NONE,
    "lz4": CompressionType.LZ4,
    "zlib": CompressionType.ZLib,
    "zstd": CompressionType.ZSTD,
    "snappy": CompressionType.SNAPPY,
}
#: `key_hash` sends keyed messages by their key's hash and the rest round robin: the client's
#: round-robin mode does both (a message with a key always goes by its hash).
ROUTING: dict[str, PartitionsRoutingMode] = {
    "round_robin": PartitionsRoutingMode.RoundRobinDistribution,
    "single": PartitionsRoutingMode.UseSinglePartition,
    "key_hash": PartitionsRoutingMode.RoundRobinDistribution,
}
HASHING: dict[str, HashingScheme] = {
    "java_string": HashingScheme.JavaStringHash,
    "murmur3_32": HashingScheme.Murmur3_32Hash,
}
SUBSCRIPTION_TYPE: dict[str, ConsumerType] = {
    "exclusive": ConsumerType.Exclusive,
    "shared": ConsumerType.Shared,
    "failover": ConsumerType.Failover,
    "key_shared": ConsumerType.KeyShared,
}
INITIAL_POSITION: dict[str, InitialPosition] = {
    "latest": InitialPosition.Latest,
    "earliest": InitialPosition.Earliest,
}


def official_member(official_enum: Any, member: Enum) -> Any:
    """The member of an enum of Apache's `pulsar` module with the same name as `member`
    (the client's enums carry the official names)."""
    return getattr(official_enum, member.name)
