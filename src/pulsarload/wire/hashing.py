"""Key hashes for routing, bit-compatible with Pulsar's Java implementations.

    ``java_string_hash(key) -> int``        Java's ``String.hashCode()`` (signed 32-bit)
    ``murmur3_32(data, seed=0) -> int``     MurmurHash3 x86_32 (unsigned 32-bit)
    ``hash_key(key, scheme) -> int``        the non-negative hash Pulsar routes by:
        "java_string" (the Java default): ``String.hashCode() & 0x7fffffff``
        "murmur3_32": ``murmur3_32(UTF-8 bytes) & 0x7fffffff``
    ``partition_for_key(key, partitions, scheme)``   hash % partitions
    ``key_shared_slot(key)``  the broker's Key_Shared hash slot: murmur3_32 % 65536

Pure functions, no state: safe from any thread.
"""

from __future__ import annotations

import struct
from typing import Literal

__all__ = [
    "KEY_SHARED_HASH_RANGE",
    "hash_key",
    "java_string_hash",
    "key_shared_slot",
    "murmur3_32",
    "partition_for_key",
]

#: The Key_Shared hash range size on the broker (slots 0..65535).
KEY_SHARED_HASH_RANGE = 65536

_M32 = 0xFFFFFFFF
_C1 = 0xCC9E2D51
_C2 = 0x1B873593

type HashScheme = Literal["java_string", "murmur3_32"]


def java_string_hash(key: str) -> int:
    """Java's ``String.hashCode()``: 31-polynomial over UTF-16 code units, signed 32-bit."""
    h = 0
    if key.isascii():
        for c in key.encode("ascii"):
            h = (31 * h + c) & _M32
    else:
        units = key.encode("utf-16-be", "surrogatepass")
        for (u,) in struct.iter_unpack(">H", units):
            h = (31 * h + u) & _M32
    return h - (1 << 32) if h >= 1 << 31 else h


def murmur3_32(data: bytes | bytearray | memoryview | str, seed: int = 0) -> int:
    """MurmurHash3 x86_32 of ``data`` (a str is hashed as UTF-8); unsigned 32-bit result."""
    buf = data.encode() if isinstance(data, str) else bytes(data)
    length = len(buf)
    h = seed & _M32
    nblocks = length >> 2
    for (k,) in struct.iter_unpack("<I", buf[: nblocks * 4]):
        k = (k * _C1) & _M32
        k = ((k << 15) | (k >> 17)) & _M32
        k = (k * _C2) & _M32
        h ^= k
        h = ((h << 13) | (h >> 19)) & _M32
        h = (h * 5 + 0xE6546B64) & _M32
    tail = buf[nblocks * 4 :]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (k * _C1) & _M32
        k = ((k << 15) | (k >> 17)) & _M32
        k = (k * _C2) & _M32
        h ^= k
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


def hash_key(key: str, scheme: HashScheme = "java_string") -> int:
    """The non-negative routing hash of a key, as Pulsar's producers compute it."""
    if scheme == "java_string":
        return java_string_hash(key) & 0x7FFFFFFF
    if scheme == "murmur3_32":
        return murmur3_32(key.encode()) & 0x7FFFFFFF
    raise ValueError(f"unknown hashing scheme {scheme!r} (java_string or murmur3_32)")


def partition_for_key(key: str, partitions: int, scheme: HashScheme = "java_string") -> int:
    """The partition a keyed message goes to: hash % partitions."""
    return hash_key(key, scheme) % partitions


def key_shared_slot(key: str | bytes) -> int:
    """The broker's Key_Shared slot for a key (ordering key, else partition key, else
    "NONE_KEY"): murmur3_32 of its bytes % 65536."""
    return (murmur3_32(key) & 0x7FFFFFFF) % KEY_SHARED_HASH_RANGE
