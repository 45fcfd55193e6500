"""Key hashes against public vectors (Java String.hashCode, MurmurHash3 x86_32)."""

from __future__ import annotations

import pytest

from pulsarload.wire.hashing import (
    KEY_SHARED_HASH_RANGE,
    hash_key,
    java_string_hash,
    key_shared_slot,
    murmur3_32,
    partition_for_key,
)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", 0),
        ("a", 97),
        ("hello", 99162322),
        ("Hello", 69609650),
        ("polygenelubricants", -(2**31)),  # the classic Integer.MIN_VALUE hashCode
        ("é", 233),
        ("\U0001f600", 0xD83D * 31 + 0xDE00),  # hashed as its UTF-16 surrogate pair
    ],
)
def test_java_string_hash(key: str, expected: int) -> None:
    assert java_string_hash(key) == expected


@pytest.mark.parametrize(
    ("data", "seed", "expected"),
    [
        (b"", 0, 0),
        (b"", 1, 0x514E28B7),
        (b"", 0xFFFFFFFF, 0x81F16F39),
        (b"\x00\x00\x00\x00", 0, 0x2362F9DE),
        (b"\xff\xff\xff\xff", 0, 0x76293B50),
        (b"\x21\x43\x65\x87", 0, 0xF55B516B),
        (b"\x21\x43\x65", 0, 0x7E4A8634),
        (b"\x21\x43", 0, 0xA0F7B07A),
        (b"\x21", 0, 0x72661CF4),
        (b"aaaa", 0x9747B28C, 0x5A97808A),
        (b"Hello, world!", 0x9747B28C, 0x24884CBA),
        (b"The quick brown fox jumps over the lazy dog", 0x9747B28C, 0x2FA826CD),
    ],
)
def test_murmur3_32_vectors(data: bytes, seed: int, expected: int) -> None:
    assert murmur3_32(data, seed) == expected


def test_murmur3_32_takes_str_as_utf8() -> None:
    assert murmur3_32("héllo") == murmur3_32("héllo".encode())


def test_routing_hashes_are_non_negative() -> None:
    assert hash_key("polygenelubricants") == 0
    assert hash_key("hello") == 99162322
    assert murmur3_32(b"hello") == 0x248BFA47
    assert hash_key("hello", "murmur3_32") == 0x248BFA47 & 0x7FFFFFFF
    assert partition_for_key("hello", 7) == 99162322 % 7
    with pytest.raises(ValueError):
        hash_key("x", "crc")  # type: ignore[arg-type]


def test_key_shared_slot() -> None:
    assert key_shared_slot("NONE_KEY") == (murmur3_32(b"NONE_KEY") & 0x7FFFFFFF) % 65536
    assert 0 <= key_shared_slot(b"\xff" * 9) < KEY_SHARED_HASH_RANGE
