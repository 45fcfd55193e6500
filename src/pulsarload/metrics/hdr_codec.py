"""The HdrHistogram V2 encoding: what a histogram looks like as bytes, and back.

The 40-byte V2 header and ZigZag LEB128 counts (cookie 0x1c849313), and the zlib-compressed
form (0x1c849314) that `.hlog` lines carry in base64, as Java's HdrHistogram 2.x writes them.
This module knows bytes and (index, count) pairs only; `hdr.Histogram` turns them into a
histogram and `hlog` into log lines.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterable, Iterator

__all__ = [
    "V2_COMPRESSED_COOKIE_BASE",
    "V2_COOKIE_BASE",
    "HdrFormatError",
    "V2Header",
    "compress_v2",
    "decompress_v2",
    "encode_v2",
    "from_base64",
    "read_v2",
    "to_base64",
]

# HdrHistogram V2 cookies. The low nibble of the second byte carries the word size (0x10 marks
# the LEB128/ZigZag encoding); readers compare the cookie with those bits masked off.
V2_COOKIE_BASE = 0x1C849303
V2_COMPRESSED_COOKIE_BASE = 0x1C849304
_V2_COOKIE = V2_COOKIE_BASE | 0x10
_V2_COMPRESSED_COOKIE = V2_COMPRESSED_COOKIE_BASE | 0x10
_COOKIE_WORD_MASK = ~0xF0 & 0xFFFFFFFF

# cookie, payload length, normalizing index offset, significant digits, lowest discernible value,
# highest trackable value, integer-to-double ratio: 40 bytes, big-endian as Java's ByteBuffer.
_V2_HEADER = struct.Struct(">iiiiqqd")
_COMPRESSED_HEADER = struct.Struct(">ii")
_MAX_PAYLOAD = 64 * 1024 * 1024  # refuse absurd lengths in corrupt input


class HdrFormatError(ValueError):
    """Encoded histogram or log line that does not follow the HdrHistogram format."""


def _zigzag_leb128_encode(values: Iterable[int], out: bytearray) -> None:
    """Append each signed value as ZigZag + LEB128 (at most 9 bytes; the 9th carries 8 bits)."""
    for v in values:
        z = ((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF
        for _ in range(8):
            if z < 0x80:
                out.append(z)
                break
            out.append((z & 0x7F) | 0x80)
            z >>= 7
        else:
            out.append(z & 0xFF)


def _zigzag_leb128_decode(data: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """Read one ZigZag LEB128 value starting at ``pos``; return (value, next position)."""
    z = 0
    shift = 0
    for i in range(9):
        if pos >= end:
            raise HdrFormatError(f"truncated LEB128 value at byte {pos} (payload ends at {end})")
        b = data[pos]
        pos += 1
        if i == 8:
            z |= b << 56
            break
        z |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
    return (z >> 1) ^ -(z & 1), pos


def encode_v2(
    digits: int, lowest: int, highest: int, nz: Iterable[int], cs: Iterable[int]
) -> bytes:
    """The V2 encoding of the non-zero slots `nz` with their counts `cs` (ascending)."""
    # Counts up to the highest non-empty slot; a run of k > 1 empty slots is written as -k,
    # a single empty slot as 0. Java writes slot 0 even for an empty histogram.
    words: list[int] = []
    prev = -1
    for i, c in zip(nz, cs, strict=True):
        gap = i - prev - 1
        if gap == 1:
            words.append(0)
        elif gap > 1:
            words.append(-gap)
        words.append(c)
        prev = i
    if not words:
        words.append(0)
    payload = bytearray()
    _zigzag_leb128_encode(words, payload)
    header = _V2_HEADER.pack(_V2_COOKIE, len(payload), 0, digits, lowest, highest, 1.0)
    return header + bytes(payload)


def compress_v2(raw: bytes, level: int = 9) -> bytes:
    """The compressed form of a V2 encoding: cookie, length, zlib body."""
    body = zlib.compress(raw, level)
    return _COMPRESSED_HEADER.pack(_V2_COMPRESSED_COOKIE, len(body)) + body


def decompress_v2(data: bytes) -> bytes:
    """The V2 encoding inside the compressed form (cookie 0x1c84930[4], length, zlib body)."""
    if len(data) < _COMPRESSED_HEADER.size:
        raise HdrFormatError(f"compressed histogram too short: {len(data)} bytes")
    cookie, length = _COMPRESSED_HEADER.unpack_from(data, 0)
    if (cookie & _COOKIE_WORD_MASK) != V2_COMPRESSED_COOKIE_BASE:
        raise HdrFormatError(
            f"compressed cookie 0x{cookie & 0xFFFFFFFF:08x} is not V2 "
            f"(0x{V2_COMPRESSED_COOKIE_BASE:08x} with word-size bits)"
        )
    if length < 0 or length > len(data) - _COMPRESSED_HEADER.size:
        raise HdrFormatError(
            f"compressed length {length} exceeds the {len(data) - 8} bytes present"
        )
    try:
        d = zlib.decompressobj()
        return d.decompress(data[8 : 8 + length], _MAX_PAYLOAD)
    except zlib.error as e:
        raise HdrFormatError(f"compressed histogram body does not inflate: {e}") from None


class V2Header:
    """The layout a V2 encoding declares, and where its counts are."""

    __slots__ = ("digits", "end", "highest", "lowest", "start")

    def __init__(self, digits: int, lowest: int, highest: int, start: int, end: int) -> None:
        self.digits, self.lowest, self.highest = digits, lowest, highest
        self.start, self.end = start, end


def read_v2(data: bytes) -> tuple[V2Header, Iterator[tuple[int, int]]]:
    """The header of a V2 encoding and its (slot index, count) pairs, empty runs skipped."""
    if len(data) < _V2_HEADER.size:
        raise HdrFormatError(f"V2 histogram too short for its 40-byte header: {len(data)} bytes")
    cookie, payload_len, norm_offset, digits, lowest, highest, _ratio = _V2_HEADER.unpack_from(
        data, 0
    )
    if (cookie & _COOKIE_WORD_MASK) != V2_COOKIE_BASE:
        raise HdrFormatError(
            f"cookie 0x{cookie & 0xFFFFFFFF:08x} is not a V2 encoding (0x{V2_COOKIE_BASE:08x})"
        )
    if norm_offset != 0:
        raise HdrFormatError(
            f"normalizing index offset {norm_offset} (shifted histograms) is not supported"
        )
    if payload_len < 0 or payload_len > len(data) - _V2_HEADER.size:
        raise HdrFormatError(
            f"payload length {payload_len} exceeds the {len(data) - 40} bytes present"
        )
    header = V2Header(digits, lowest, highest, _V2_HEADER.size, _V2_HEADER.size + payload_len)
    return header, _counts(data, header.start, header.end)


def _counts(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int]]:
    idx = 0
    while pos < end:
        v, pos = _zigzag_leb128_decode(data, pos, end)
        if v < 0:
            idx += -v
            continue
        yield idx, v
        idx += 1


def to_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def from_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except ValueError as e:
        raise HdrFormatError(f"histogram is not valid base64: {e}") from None
