"""Our raw-snappy codec against hand-made vectors (google/snappy format_description.txt)."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulsarload.wire import snappy
from pulsarload.wire.errors import DecompressionError


@pytest.mark.parametrize(
    ("hex_block", "expected"),
    [
        ("00", b""),
        ("010061", b"a"),  # literal, length-1 in the tag
        ("0c0461621902", b"ab" * 6),  # literal "ab" + copy-1 len 10 off 2 (overlapping)
        ("080c616263640e0400", b"abcd" * 2),  # copy-2 len 4 off 4
        ("080c616263640f04000000", b"abcd" * 2),  # copy-4 len 4 off 4
        ("090c6162636401040061", b"abcdabcda"),  # copy-1 len 4 off 4, literal "a"
        ("64f063" + "78" * 100, b"x" * 100),  # literal with a 1-byte length (tag 60)
        ("ac02f42b01" + "79" * 300, b"y" * 300),  # literal with a 2-byte length (tag 61)
        ("0a00611501", b"a" * 10),  # copy-1 len 9 off 1: a run
        ("410061fe0100", b"a" * 65),  # copy-2 len 64 off 1
    ],
)
def test_decode_vectors(hex_block: str, expected: bytes) -> None:
    assert snappy.decompress(bytes.fromhex(hex_block)) == expected


def test_copy_1_with_high_offset_bits() -> None:
    # A 2047-byte literal (tag 61: 2-byte length), then copy-1 len 4 at offset 2047:
    # tag = 01 | (len-4) << 2 | (offset >> 8) << 5 = 0xe1, then offset & 0xff = 0xff.
    literal = bytes(i % 251 for i in range(2047))
    block = bytes.fromhex("8310f4fe07") + literal + bytes.fromhex("e1ff")  # 2051 = 0x83 0x10
    assert snappy.decompress(block) == literal + literal[:4]


@pytest.mark.parametrize(
    ("hex_block", "match"),
    [
        ("", "truncated length preamble"),
        ("80", "truncated length preamble"),
        ("ffffffffff01", "longer than 5 bytes"),
        ("ffffffff1f", "exceeds 32 bits"),
        ("0500610100", "offset 0"),
        ("0500610105", "offset 5"),
        ("051061", "runs past the input"),
        ("050061", "produced 1 bytes but the preamble declares 5"),
        ("01046162", "exceeds the declared length"),
        ("0500611501", "exceeds the declared length"),
        ("05006102", "truncated 2-byte-offset copy"),
        ("05006103010000", "truncated 4-byte-offset copy"),
        ("05006101", "truncated 1-byte-offset copy"),
        ("05f0", "truncated literal length"),
    ],
)
def test_malformed_blocks(hex_block: str, match: str) -> None:
    with pytest.raises(DecompressionError, match=match):
        snappy.decompress(bytes.fromhex(hex_block))


def test_declared_length_above_the_maximum_is_refused_first() -> None:
    with pytest.raises(DecompressionError, match="exceeds the maximum"):
        snappy.decompress(bytes.fromhex("ffffffff0f"), max_size=1 << 20)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a",
        b"abc" * 1000,
        os.urandom(5000),
        bytes(200_000),  # several 64 KiB blocks
        b"".join(i.to_bytes(4, "little") for i in range(30000)),
        (b"0123456789abcdef" * 5000)[:65537],
    ],
    ids=["empty", "one", "repeat", "random", "zeros", "counter", "block-edge"],
)
def test_round_trip(data: bytes) -> None:
    packed = snappy.compress(data)
    assert snappy.decompress(packed) == data
    assert snappy.uncompressed_length(packed)[0] == len(data)


def test_compression_actually_compresses() -> None:
    data = b'{"id": 1, "name": "pulsarload"} ' * 2000
    assert len(snappy.compress(data)) < len(data) // 10


def test_encoder_emits_hand_checkable_output() -> None:
    # 8 bytes: literal "abcd" then a copy of 4 at offset 4 (copy-1: tag 0x01, offset byte 4)
    assert snappy.compress(b"abcdabcd") == bytes.fromhex("080c616263640104")
    assert snappy.compress(b"abc") == bytes.fromhex("0308616263")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"b", b"ab", b"xyz", b"\x00"]), max_size=400))
def test_round_trip_property(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert snappy.decompress(snappy.compress(data)) == data


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_input_never_escapes_as_another_error(data: bytes) -> None:
    with contextlib.suppress(DecompressionError):
        snappy.decompress(data, max_size=1 << 16)
