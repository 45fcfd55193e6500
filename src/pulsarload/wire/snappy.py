"""Snappy raw block format (what Pulsar's SNAPPY compression type carries), in pure Python.

Why our own: no snappy package on PyPI is usable on free-threaded CPython 3.13t
(python-snappy needs a C extension built against the GIL ABI; cramjam has no cp313t wheel),
and the raw block format is small and publicly documented (google/snappy, format_description).

Format: a varint preamble with the uncompressed length, then elements, each starting with a tag
byte whose low two bits say what follows:

    00 literal   length-1 in the upper 6 bits, or (60..63) in the next 1..4 bytes little-endian
    01 copy      length 4..11 in bits 2-4, offset 11 bits (3 high bits in the tag, 8 in a byte)
    10 copy      length 1..64 in the upper 6 bits, offset in 2 bytes little-endian
    11 copy      length 1..64 in the upper 6 bits, offset in 4 bytes little-endian

A copy repeats ``length`` bytes starting ``offset`` bytes back in the output; it may overlap
the bytes it produces (offset < length repeats a pattern).

``decompress(data, max_size=...)`` checks every bound (offset 0 or beyond the output, literal or
copy past the declared length, truncated input, declared length above ``max_size``) and raises
``DecompressionError``. ``compress(data)`` is a greedy hash-match compressor working on 64 KiB
blocks like the reference one; its output is not byte-identical to the reference encoder's,
but any conforming decoder reads it.
"""

from __future__ import annotations

from pulsarload.wire.errors import DecompressionError
from pulsarload.wire.protobuf import encode_varint

__all__ = ["compress", "decompress", "uncompressed_length"]

_BLOCK_SIZE = 1 << 16
_MAX_LENGTH = (1 << 32) - 1
#: The compare window used while extending a match.
_EXTEND_STEP = 256

type Buffer = bytes | bytearray | memoryview


def uncompressed_length(data: Buffer) -> tuple[int, int]:
    """Read the preamble: (declared uncompressed length, offset of the first element)."""
    result = 0
    shift = 0
    pos = 0
    n = len(data)
    while True:
        if pos >= n:
            raise DecompressionError("snappy: truncated length preamble")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift > 28:
            raise DecompressionError("snappy: length preamble is longer than 5 bytes")
    if result > _MAX_LENGTH:
        raise DecompressionError(f"snappy: declared length {result} exceeds 32 bits")
    return result, pos


def decompress(data: Buffer, max_size: int = _MAX_LENGTH) -> bytes:
    """Decode one raw snappy block; raise ``DecompressionError`` on any malformed input."""
    length, pos = uncompressed_length(data)
    if length > max_size:
        raise DecompressionError(
            f"snappy: declared length {length} exceeds the maximum of {max_size} bytes"
        )
    buf = bytes(data) if not isinstance(data, bytes) else data
    n = len(buf)
    out = bytearray()
    olen = 0
    while pos < n:
        tag = buf[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                if pos + extra > n:
                    raise DecompressionError(f"snappy: truncated literal length at offset {pos}")
                size = int.from_bytes(buf[pos : pos + extra], "little")
                pos += extra
            size += 1
            if pos + size > n:
                raise DecompressionError(
                    f"snappy: literal of {size} bytes at offset {pos} runs past the input ({n})"
                )
            olen += size
            if olen > length:
                raise DecompressionError(
                    f"snappy: output exceeds the declared length of {length} bytes"
                )
            out += buf[pos : pos + size]
            pos += size
            continue
        if kind == 1:
            if pos >= n:
                raise DecompressionError("snappy: truncated 1-byte-offset copy")
            size = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | buf[pos]
            pos += 1
        elif kind == 2:
            if pos + 2 > n:
                raise DecompressionError("snappy: truncated 2-byte-offset copy")
            size = (tag >> 2) + 1
            offset = buf[pos] | (buf[pos + 1] << 8)
            pos += 2
        else:
            if pos + 4 > n:
                raise DecompressionError("snappy: truncated 4-byte-offset copy")
            size = (tag >> 2) + 1
            offset = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        if offset == 0 or offset > olen:
            raise DecompressionError(
                f"snappy: copy offset {offset} at input offset {pos} is outside the "
                f"{olen} bytes produced so far"
            )
        if olen + size > length:
            raise DecompressionError(
                f"snappy: output exceeds the declared length of {length} bytes"
            )
        start = olen - offset
        if offset >= size:
            out += out[start : start + size]
        else:  # overlapping copy: the last `offset` bytes repeat
            pattern = out[start:]
            reps, rest = divmod(size, offset)
            out += pattern * reps + pattern[:rest]
        olen += size
    if olen != length:
        raise DecompressionError(
            f"snappy: produced {olen} bytes but the preamble declares {length}"
        )
    return bytes(out)


def _emit_literal(out: bytearray, data: bytes, start: int, stop: int) -> None:
    size = stop - start
    if size <= 0:
        return
    x = size - 1
    if x < 60:
        out.append(x << 2)
    elif x < 0x100:
        out.append(60 << 2)
        out.append(x)
    elif x < 0x10000:
        out.append(61 << 2)
        out += x.to_bytes(2, "little")
    elif x < 0x1000000:
        out.append(62 << 2)
        out += x.to_bytes(3, "little")
    else:
        out.append(63 << 2)
        out += x.to_bytes(4, "little")
    out += data[start:stop]


def _emit_copy(out: bytearray, offset: int, size: int) -> None:
    # Split long matches into copies of at most 64 (keeping the last one at least 4 long).
    while size >= 68:
        out.append(2 | (63 << 2))
        out += offset.to_bytes(2, "little")
        size -= 64
    if size > 64:
        out.append(2 | (59 << 2))
        out += offset.to_bytes(2, "little")
        size -= 60
    if size >= 12 or offset >= 2048:
        out.append(2 | ((size - 1) << 2))
        out += offset.to_bytes(2, "little")
    else:
        out.append(1 | ((size - 4) << 2) | ((offset >> 8) << 5))
        out.append(offset & 0xFF)


def _compress_block(data: bytes, start: int, end: int, out: bytearray) -> None:
    table: dict[bytes, int] = {}
    literal_start = start
    i = start
    last = end - 4  # the last position where a 4-byte key fits
    skip = 32  # grows with consecutive misses so incompressible data is crossed quickly
    while i <= last:
        key = data[i : i + 4]
        candidate = table.get(key)
        table[key] = i
        if candidate is None:
            i += skip >> 5
            skip += 1
            continue
        skip = 32
        # Extend the match: compare windows with memcmp, find the first differing byte by XOR.
        size = 4
        limit = end - i
        while size < limit:
            step = min(_EXTEND_STEP, limit - size)
            a = data[candidate + size : candidate + size + step]
            b = data[i + size : i + size + step]
            if a == b:
                size += step
                continue
            diff = int.from_bytes(a, "little") ^ int.from_bytes(b, "little")
            size += ((diff & -diff).bit_length() - 1) >> 3
            break
        _emit_literal(out, data, literal_start, i)
        _emit_copy(out, i - candidate, size)
        i += size
        literal_start = i
        if i <= last:
            table[data[i - 1 : i + 3]] = i - 1
    _emit_literal(out, data, literal_start, end)


def compress(data: Buffer) -> bytes:
    """Encode ``data`` as one raw snappy block."""
    buf = bytes(data) if not isinstance(data, bytes) else data
    n = len(buf)
    if n > _MAX_LENGTH:
        raise ValueError(f"snappy: input of {n} bytes exceeds the 32-bit length limit")
    out = bytearray(encode_varint(n))
    for start in range(0, n, _BLOCK_SIZE):
        _compress_block(buf, start, min(n, start + _BLOCK_SIZE), out)
    return bytes(out)
