"""Errors for malformed protocol input.

Anything that turns bytes from the network into values raises a `ProtocolError` subtype when
the bytes are wrong: never `IndexError`, `struct.error`, `KeyError` or a hang. The message names
the field or value and the format, so a log line is enough to tell what the peer sent.

Broker-reported errors (`ServerError` codes in SEND_ERROR / ERROR) are not malformed input; their
exception classes live in the client layer. This module only holds the input-side hierarchy.
Encoding our own bad values (a required field left as None) raises `ValueError` instead:
that is a programming error, not a protocol one.
"""

from __future__ import annotations

__all__ = [
    "ChecksumMismatch",
    "DecodeError",
    "DecompressionError",
    "FrameTooLarge",
    "ProtocolError",
    "TruncatedFrame",
    "UnknownCompression",
]


class ProtocolError(Exception):
    """Root of every error raised for malformed or unacceptable wire input."""


class FrameTooLarge(ProtocolError):
    """A frame declares a size above the negotiated maximum (the stream cannot continue)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the maximum frame size of {limit} bytes")
        self.size = size
        self.limit = limit


class TruncatedFrame(ProtocolError):
    """A frame ends before the sizes inside it say it should, or the stream ends mid-frame."""


class ChecksumMismatch(ProtocolError):
    """The CRC32C of a payload frame does not match the checksum field (the frame is intact
    as a frame, so the connection can go on; the message must be discarded)."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"CRC32C mismatch: frame says {expected:#010x}, computed {actual:#010x}")
        self.expected = expected
        self.actual = actual


class DecodeError(ProtocolError):
    """A protobuf message, batch payload or message id could not be decoded."""


class DecompressionError(ProtocolError):
    """A compressed payload is corrupt, or larger than declared or allowed (a bomb)."""


class UnknownCompression(DecompressionError):
    """A compression type value or name this layer has no codec for."""
