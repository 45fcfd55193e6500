"""Partition routing: key hashes compatible with the Java/C++ clients, and the routers.

A keyed message goes to `(hash(key) & 0x7fffffff) % partitions` (hashes from `wire.hashing`)
so that our producers and the official ones put the same key on the same partition. Without a
key the routing mode decides.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from pulsarload.client.message import Message
from pulsarload.client.settings import HashingScheme, PartitionsRoutingMode
from pulsarload.wire.hashing import hash_key, java_string_hash, murmur3_32
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageMetadata

__all__ = ["Router", "java_string_hash", "murmur3_32", "unsent_message"]


def _hash_java(key: str) -> int:
    return hash_key(key, "java_string")


def _hash_murmur(key: str) -> int:
    return hash_key(key, "murmur3_32")


HASHES: dict[HashingScheme, Callable[[str], int]] = {
    HashingScheme.JavaStringHash: _hash_java,
    HashingScheme.Murmur3_32Hash: _hash_murmur,
}


_UNSENT = MessageId(-1, -1)


def unsent_message(
    content: bytes,
    key: str | None,
    properties: dict[str, str] | None,
    ordering_key: str | None = None,
) -> Message:
    """The `Message` a custom `message_router(message, num_partitions)` gets, as the official
    client hands its router the message: what is known before the send (no id, no publish
    time yet)."""
    md = MessageMetadata(
        producer_name="",
        sequence_id=0,
        publish_time=0,
        partition_key=key,
        ordering_key=ordering_key.encode() if ordering_key else None,
    )
    msg = Message(content, md, None, _UNSENT, 0, "")
    msg._props = dict(properties or {})
    return msg


class Router:
    """Chooses a partition per message (or per bulk batch). One per partitioned producer."""

    def __init__(
        self,
        mode: PartitionsRoutingMode,
        scheme: HashingScheme,
        custom: Callable[[Any, int], int] | None = None,
        *,
        rand: random.Random | None = None,
    ) -> None:
        self.mode = mode
        self.hash = HASHES[scheme]
        self.custom = custom
        r = rand or random.Random()
        # Start round-robin and single-partition routing at a random partition (as the
        # official clients) so many producers do not all hit partition 0 first.
        self._next = r.randrange(1 << 30)
        self._single = r.randrange(1 << 30)

    def choose(
        self,
        num_partitions: int,
        key: str | None = None,
        content: bytes = b"",
        properties: dict[str, str] | None = None,
        ordering_key: str | None = None,
    ) -> int:
        if self.mode is PartitionsRoutingMode.CustomPartition and self.custom is not None:
            index = int(
                self.custom(unsent_message(content, key, properties, ordering_key), num_partitions)
            )
            if not 0 <= index < num_partitions:
                raise ValueError(
                    f"message_router returned partition {index}, outside 0..{num_partitions - 1}"
                )
            return index
        if key:
            return self.hash(key) % num_partitions
        if self.mode is PartitionsRoutingMode.UseSinglePartition:
            return self._single % num_partitions
        # Round robin; a racy increment between threads only skews the spread, never errors.
        n = self._next
        self._next = n + 1
        return n % num_partitions
