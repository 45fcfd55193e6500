"""The tool's words for the client's enum members: one vocabulary for every layer.

The wire enums own the values, and their names in lower case are the tool's words for the
concepts that reach the wire (compression, subscription type, initial position). The client's
enums (`CompressionType`, `ConsumerType`, ...) take those values under the official client's
names. Routing and hashing never reach the wire; their words are declared here. `config.py`
builds its choices from these tables' keys; the native engine passes the members to the client,
the official engine looks up the member of the same name in Apache's `pulsar` module. Nothing
else spells these concepts.
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import Any

from pulsarload.client.consumer_config import ConsumerType, InitialPosition
from pulsarload.client.settings import CompressionType, HashingScheme, PartitionsRoutingMode
from pulsarload.wire import enums as wire

__all__ = [
    "COMPRESSION",
    "HASHING",
    "INITIAL_POSITION",
    "ROUTING",
    "SUBSCRIPTION_TYPE",
    "official_member",
]


def _words[E: IntEnum](wire_enum: type[IntEnum], client_enum: type[E]) -> dict[str, E]:
    """Each wire member's name in lower case -> the client member of the same value."""
    return {m.name.lower(): client_enum(int(m)) for m in wire_enum}


COMPRESSION: dict[str, CompressionType] = _words(wire.CompressionType, CompressionType)
SUBSCRIPTION_TYPE: dict[str, ConsumerType] = _words(wire.SubType, ConsumerType)
INITIAL_POSITION: dict[str, InitialPosition] = _words(wire.InitialPosition, InitialPosition)

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


def official_member(official_enum: Any, member: Enum) -> Any:
    """The member of an enum of Apache's `pulsar` module with the same name as `member`
    (the client's enums carry the official names)."""
    return getattr(official_enum, member.name)
