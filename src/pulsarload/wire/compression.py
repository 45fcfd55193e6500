"""Compression codecs for message payloads (a whole batch is compressed once).

    ``get_codec(kind) -> Codec``     kind: a ``CompressionType``, its int value, or a lowercase
                                     name ("none", "lz4", "zlib", "zstd", "snappy")
    ``codec.compress(data) -> bytes``
    ``codec.decompress(data, uncompressed_size, max_size=DEFAULT_MAX_UNCOMPRESSED_SIZE)``
    ``compress(kind, data)`` / ``decompress(kind, data, uncompressed_size, max_size=...)``

Formats, as the official clients write them:
- LZ4: a raw LZ4 block (no frame, no stored size); decoded with the declared size. Needs the
  ``lz4`` package, which has no free-threaded 3.14 (cp314t) wheel yet: where it is missing,
  ``HAVE_LZ4`` is False and asking for LZ4 raises ``UnknownCompression`` that says so.
- ZLIB: zlib-wrapped deflate. The Java client never finishes its stream (sync flush, no
  trailer), so decoding uses ``zlib.decompressobj()``, not ``zlib.decompress()``.
- ZSTD: a standard zstd frame, level 3 (``compression.zstd`` on 3.14, ``backports.zstd`` on 3.13).
- SNAPPY: the raw snappy block format (our own pure-Python codec, see ``wire.snappy``).

Every decoder first checks the declared ``uncompressed_size`` against ``max_size`` (so a bomb
is refused before any work), bounds its output to the declared size, and checks that the output
has exactly that size; anything else raises ``DecompressionError``. An unknown type raises
``UnknownCompression``. NONE returns its input unchanged (no copy).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

try:
    import lz4.block
except ImportError:  # lz4 ships no cp314t wheel (4.4.5): LZ4 is unavailable there
    HAVE_LZ4 = False
else:
    HAVE_LZ4 = True

from pulsarload.wire import snappy
from pulsarload.wire.enums import CompressionType
from pulsarload.wire.errors import DecompressionError, UnknownCompression

__all__ = [
    "AVAILABLE",
    "DEFAULT_MAX_UNCOMPRESSED_SIZE",
    "HAVE_LZ4",
    "ZSTD_LEVEL",
    "Codec",
    "compress",
    "decompress",
    "get_codec",
]

#: Refuse to inflate beyond this unless the caller allows more (chunked messages may need it).
DEFAULT_MAX_UNCOMPRESSED_SIZE = 64 * 1024 * 1024
ZSTD_LEVEL = 3
ZLIB_LEVEL = 6  # Java's Deflater default

type Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class Codec:
    """One compression type: ``compress`` and a bounded, checked ``decompress``."""

    type: CompressionType
    name: str
    _compress: Callable[[Buffer], Buffer]
    _decompress: Callable[[Buffer, int], Buffer]

    def compress(self, data: Buffer) -> Buffer:
        """Compress a whole (batch) payload."""
        return self._compress(data)

    def decompress(
        self,
        data: Buffer,
        uncompressed_size: int,
        max_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE,
    ) -> Buffer:
        """Decompress to exactly ``uncompressed_size`` bytes or raise ``DecompressionError``."""
        if self.type is CompressionType.NONE:
            return data
        if uncompressed_size < 0 or uncompressed_size > max_size:
            raise DecompressionError(
                f"{self.name}: declared uncompressed size {uncompressed_size} is outside "
                f"0..{max_size}"
            )
        try:
            out = self._decompress(data, uncompressed_size)
        except DecompressionError:
            raise
        except Exception as err:  # each library has its own error type
            raise DecompressionError(
                f"{self.name}: corrupt data ({len(data)} bytes, {uncompressed_size} declared): {err}"
            ) from None
        if len(out) > uncompressed_size:
            raise DecompressionError(
                f"{self.name}: output exceeds the declared {uncompressed_size} bytes"
            )
        if len(out) != uncompressed_size:
            raise DecompressionError(
                f"{self.name}: produced {len(out)} bytes but {uncompressed_size} were declared"
            )
        return out


def _none_compress(data: Buffer) -> Buffer:
    return data


def _lz4_compress(data: Buffer) -> bytes:
    return lz4.block.compress(data, store_size=False)  # type: ignore[no-any-return]


def _lz4_decompress(data: Buffer, size: int) -> bytes:
    if size == 0:  # lz4.block refuses a zero size; an empty block is one 0x00 token
        if bytes(data) not in (b"", b"\x00"):
            raise DecompressionError("lz4: data present but 0 bytes declared")
        return b""
    return lz4.block.decompress(data, uncompressed_size=size)  # type: ignore[no-any-return]


def _zlib_compress(data: Buffer) -> bytes:
    return zlib.compress(data, ZLIB_LEVEL)


def _zlib_decompress(data: Buffer, size: int) -> bytes:
    # Ask for one byte more than declared: getting it means a bomb or a wrong size, and the
    # bound keeps memory at the declared size whatever the input expands to.
    return zlib.decompressobj().decompress(data, size + 1)


_zstd: Any = None


def _zstd_module() -> Any:
    global _zstd
    if _zstd is None:
        try:
            from compression import zstd  # type: ignore[import-not-found]  # Python 3.14+
        except ImportError:
            try:
                from backports import zstd  # type: ignore[import-not-found,no-redef]
            except ImportError:
                raise UnknownCompression(
                    "zstd: needs Python 3.14 (compression.zstd) or the backports.zstd package"
                ) from None
        _zstd = zstd
    return _zstd


def _zstd_compress(data: Buffer) -> bytes:
    return _zstd_module().compress(data, level=ZSTD_LEVEL)  # type: ignore[no-any-return]


def _zstd_decompress(data: Buffer, size: int) -> bytes:
    # One byte more than declared reveals a bomb or a wrong size, with memory bounded.
    decompressor = _zstd_module().ZstdDecompressor()
    return decompressor.decompress(data, max_length=size + 1)  # type: ignore[no-any-return]


def _snappy_decompress(data: Buffer, size: int) -> bytes:
    length, _ = snappy.uncompressed_length(data)
    if length != size:
        raise DecompressionError(f"snappy: block declares {length} bytes, metadata {size}")
    return snappy.decompress(data, max_size=size)


_CODECS: dict[int, Codec] = {
    c.type: c
    for c in (
        Codec(CompressionType.NONE, "none", _none_compress, lambda data, size: data),
        *((Codec(CompressionType.LZ4, "lz4", _lz4_compress, _lz4_decompress),) if HAVE_LZ4 else ()),
        Codec(CompressionType.ZLIB, "zlib", _zlib_compress, _zlib_decompress),
        Codec(CompressionType.ZSTD, "zstd", _zstd_compress, _zstd_decompress),
        Codec(CompressionType.SNAPPY, "snappy", snappy.compress, _snappy_decompress),
    )
}
_BY_NAME: dict[str, Codec] = {c.name: c for c in _CODECS.values()}
#: The compression types this interpreter has a codec for (all but LZ4 where lz4 is missing).
AVAILABLE: tuple[CompressionType, ...] = tuple(CompressionType(t) for t in _CODECS)
#: Known types without a codec in this interpreter (type and name -> why); read only on a miss.
_UNAVAILABLE: dict[int | str, str] = {}
if not HAVE_LZ4:
    _LZ4_MISSING = (
        "lz4: the lz4 package is not installed (it has no wheel for free-threaded CPython 3.14 "
        "yet); use zstd, zlib or snappy, or an interpreter that has lz4"
    )
    _UNAVAILABLE = {CompressionType.LZ4: _LZ4_MISSING, "lz4": _LZ4_MISSING}


def get_codec(kind: CompressionType | int | str) -> Codec:
    """The codec for a compression type, its int value or its name ("lz4", any case)."""
    codec = _BY_NAME.get(kind.lower()) if isinstance(kind, str) else _CODECS.get(kind)
    if codec is None:
        key = kind.lower() if isinstance(kind, str) else kind
        raise UnknownCompression(
            _UNAVAILABLE.get(key)
            or f"unknown compression {kind!r} (known: {', '.join(sorted(_BY_NAME))})"
        )
    return codec


def compress(kind: CompressionType | int | str, data: Buffer) -> Buffer:
    """Compress ``data`` with the given codec."""
    return get_codec(kind).compress(data)


def decompress(
    kind: CompressionType | int | str,
    data: Buffer,
    uncompressed_size: int,
    max_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE,
) -> Buffer:
    """Decompress with the given codec (see ``Codec.decompress``)."""
    return get_codec(kind).decompress(data, uncompressed_size, max_size)
