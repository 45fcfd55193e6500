"""Codecs: round trips, lookup, Java-style zlib streams, size checks and bombs."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulsarload.wire.compression import (
    AVAILABLE,
    DEFAULT_MAX_UNCOMPRESSED_SIZE,
    HAVE_LZ4,
    compress,
    decompress,
    get_codec,
)
from pulsarload.wire.enums import CompressionType
from pulsarload.wire.errors import DecompressionError, UnknownCompression

CODECS = list(AVAILABLE)  # every type but LZ4 where the lz4 package is missing (3.14t)
needs_lz4 = pytest.mark.skipif(not HAVE_LZ4, reason="lz4 not installed (no cp314t wheel)")
SAMPLES = [b"", b"x", os.urandom(3000), b"hello pulsar " * 5000, bytes(70000)]


@pytest.mark.parametrize("kind", CODECS, ids=lambda k: k.name)
@pytest.mark.parametrize("data", SAMPLES, ids=["empty", "one", "random", "text", "zeros"])
def test_round_trip(kind: CompressionType, data: bytes) -> None:
    packed = compress(kind, data)
    assert bytes(decompress(kind, packed, len(data))) == data


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(CODECS))
def test_round_trip_property(data: bytes, kind: CompressionType) -> None:
    assert bytes(decompress(kind, compress(kind, data), len(data))) == data


def test_lookup_by_enum_value_and_name() -> None:
    for kind in CODECS:
        assert get_codec(kind) is get_codec(int(kind)) is get_codec(kind.name.lower())
        assert get_codec(kind.name).type is kind
    with pytest.raises(UnknownCompression):
        get_codec(9)
    with pytest.raises(UnknownCompression):
        get_codec("brotli")
    with pytest.raises(UnknownCompression):
        decompress(7, b"", 0)


def test_none_is_the_identity_without_copy() -> None:
    data = memoryview(b"abc")
    assert compress("none", data) is data
    assert decompress("none", data, 0) is data


def test_zlib_accepts_java_style_unfinished_streams() -> None:
    data = b"java deflater with SYNC_FLUSH " * 100
    co = zlib.compressobj()
    stream = co.compress(data) + co.flush(zlib.Z_SYNC_FLUSH)  # no trailer
    assert decompress(CompressionType.ZLIB, stream, len(data)) == data


@needs_lz4
def test_lz4_is_a_raw_block_without_stored_size() -> None:
    import lz4.block

    data = b"abcdefgh" * 100
    assert lz4.block.decompress(compress("lz4", data), uncompressed_size=len(data)) == data


def test_zstd_is_a_standard_frame() -> None:
    packed = compress("zstd", b"z" * 1000)
    assert packed[:4] == bytes.fromhex("28b52ffd")  # zstd frame magic, little-endian


@pytest.mark.parametrize("kind", CODECS[1:], ids=lambda k: k.name)
def test_wrong_declared_size_is_an_error(kind: CompressionType) -> None:
    data = b"0123456789" * 100
    packed = compress(kind, data)
    with pytest.raises(DecompressionError):
        decompress(kind, packed, len(data) - 1)
    with pytest.raises(DecompressionError):
        decompress(kind, packed, len(data) + 1)


@pytest.mark.parametrize("kind", CODECS[1:], ids=lambda k: k.name)
def test_bombs_are_refused(kind: CompressionType) -> None:
    big = bytes(4 * 1024 * 1024)  # 4 MiB of zeros packs to (at most) a few hundred KiB
    packed = compress(kind, big)
    assert len(packed) < len(big) // 20
    # declared above the limit: refused before any work
    with pytest.raises(DecompressionError, match="outside"):
        decompress(kind, packed, len(big), max_size=1024 * 1024)
    # declared small but actually huge: output is bounded, then refused
    with pytest.raises(DecompressionError):
        decompress(kind, packed, 1000)
    with pytest.raises(DecompressionError, match="outside"):
        decompress(kind, packed, DEFAULT_MAX_UNCOMPRESSED_SIZE + 1)
    with pytest.raises(DecompressionError):
        decompress(kind, packed, -1)


@pytest.mark.parametrize("kind", CODECS[1:], ids=lambda k: k.name)
def test_garbage_is_a_decompression_error(kind: CompressionType) -> None:
    for garbage in (b"", b"\xff", os.urandom(64), b"\x00" * 64):
        try:
            out = decompress(kind, garbage, 100)
        except DecompressionError:
            continue
        assert len(out) == 100  # only if it really decoded to the declared size


@needs_lz4
def test_lz4_empty() -> None:
    assert decompress("lz4", compress("lz4", b""), 0) == b""
    with pytest.raises(DecompressionError):
        decompress("lz4", b"\x10abc", 0)


def test_without_lz4_the_other_codecs_work_and_lz4_says_why() -> None:
    # lz4 has no cp314t wheel: mimic that (a fresh interpreter where importing it fails).
    script = """
import sys
sys.modules["lz4"] = None  # import lz4 -> ImportError
from pulsarload.wire.compression import AVAILABLE, HAVE_LZ4, compress, decompress, get_codec
from pulsarload.wire.enums import CompressionType
from pulsarload.wire.errors import UnknownCompression
assert not HAVE_LZ4 and CompressionType.LZ4 not in AVAILABLE and len(AVAILABLE) == 4, AVAILABLE
for kind in AVAILABLE:
    assert decompress(kind, compress(kind, b"abc" * 100), 300) == b"abc" * 100
for kind in ("lz4", "LZ4", CompressionType.LZ4, 1):
    try:
        get_codec(kind)
    except UnknownCompression as err:
        assert "lz4 package is not installed" in str(err), err
    else:
        raise AssertionError(kind)
print("OK")
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.stdout.strip() == "OK", out.stderr
