"""Partition routing: key hashes compatible with the Java/C++ clients, and the routers.

A keyed message goes to `(hash(key) & 0x7fffffff) % partitions` (hashes from `wire.hashing`)
so that our producers and the official ones put the same key on the same partition. Without a
key the routing mode decides.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from pulsarload.client.settings import HashingScheme, PartitionsRoutingMode
from pulsarload.wire.hashing import hash_key, java_string_hash, murmur3_32

__all__ = ["RouteInfo", "Router", "java_string_hash", "murmur3_32"]


def _hash_java(key: str) -> int:
    return hash_key(key, "java_string")


def _hash_murmur(key: str) -> int:
    return hash_key(key, "murmur3_32")


HASHES: dict[HashingScheme, Callable[[str], int]] = {
    HashingScheme.JavaStringHash: _hash_java,
    HashingScheme.Murmur3_32Hash: _hash_murmur,
}


class RouteInfo:
    """What a custom `message_router(message, num_partitions)` sees (official-client methods)."""

    __slots__ = ("_content", "_key", "_ordering_key", "_properties")

    def __init__(
        self,
        content: bytes,
        key: str | None,
        properties: dict[str, str] | None,
        ordering_key: str | None = None,
    ) -> None:
        self._content = content
        self._key = key
        self._properties = properties
        self._ordering_key = ordering_key

    def data(self) -> bytes:
        return self._content

    def partition_key(self) -> str:
        return self._key or ""

    def ordering_key(self) -> str:
        return self._ordering_key or ""

    def properties(self) -> dict[str, str]:
        return dict(self._properties or {})


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
                self.custom(RouteInfo(content, key, properties, ordering_key), num_partitions)
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
