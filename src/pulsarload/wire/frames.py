"""Frames: encode commands for the socket and cut an incoming byte stream into frames.

Layout (every size a 4-byte big-endian unsigned int; totalSize counts what follows it)::

    simple:   [totalSize][cmdSize][BaseCommand]
    payload:  [totalSize][cmdSize][BaseCommand]
              ([0x0e02][brokerEntryMetadataSize][BrokerEntryMetadata])   only if we asked for it
              [0x0e01][crc32c][metadataSize][MessageMetadata][payload]  crc over metadataSize..end

Encoding:
    ``encode_command(cmd) -> bytes``                        a simple frame (PING, FLOW, ACK, ...)
    ``encode_payload_command(cmd, metadata, payload)``      a whole SEND frame as bytes
    ``payload_frame_parts(cmd, metadata, payload)``         (header, payload) for ``sendmsg``
                                                            without copying a large payload
    ``metadata`` may be a ``MessageMetadata`` or its already-encoded bytes.

Decoding: ``FrameParser.feed(data) -> list[Frame]`` takes chunks of any size (1 byte is fine)
and returns the frames completed so far. A ``Frame`` holds the decoded sub-command and, for
payload frames, the decoded ``MessageMetadata`` and the payload as a zero-copy ``memoryview``
into the received bytes (it keeps that chunk alive; copy with ``bytes()`` to keep it long).

Errors: a problem with the frame envelope or its command (size above the maximum, sizes that
disagree, an undecodable BaseCommand) raises a ``ProtocolError`` subtype and leaves the parser
failed: the stream cannot be resynchronised, close the connection. A problem *after* a decoded
command (CRC32C mismatch, bad metadata sizes, undecodable MessageMetadata) does not break the
stream: the frame comes back with ``frame.error`` set and ``metadata``/``payload`` None, so the
client can ack the message with a validation error, as the Java client does, and go on.

Sizes are checked against ``max_frame_size = max_message_size + 10 KiB`` before buffering;
set ``parser.max_message_size`` from CONNECTED.max_message_size.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from crc32c import crc32c

from pulsarload.wire.commands import (
    Command,
    UnknownCommand,
    decode_base_command,
    encode_base_command,
)
from pulsarload.wire.errors import (
    ChecksumMismatch,
    FrameTooLarge,
    ProtocolError,
    TruncatedFrame,
)
from pulsarload.wire.messages import BrokerEntryMetadata, MessageMetadata
from pulsarload.wire.protobuf import Message

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "FRAME_PADDING",
    "MAGIC_BROKER_ENTRY_METADATA",
    "MAGIC_CRC32C",
    "Frame",
    "FrameParser",
    "encode_command",
    "encode_payload_command",
    "payload_frame_parts",
]

MAGIC_CRC32C = 0x0E01
MAGIC_BROKER_ENTRY_METADATA = 0x0E02
DEFAULT_MAX_MESSAGE_SIZE = 5 * 1024 * 1024
FRAME_PADDING = 10 * 1024

_U32 = struct.Struct(">I")
_U32_PAIR = struct.Struct(">II")
_MAGIC_CRC_AND_CRC = struct.Struct(">HI")
_u32_pack = _U32.pack
_u32_unpack_from = _U32.unpack_from

type Buffer = bytes | bytearray | memoryview


def encode_command(cmd: Message) -> bytes:
    """A simple frame: [totalSize][cmdSize][BaseCommand]."""
    base = encode_base_command(cmd)
    size = len(base)
    return _U32_PAIR.pack(size + 4, size) + base


def payload_frame_parts(
    cmd: Message | bytes, metadata: MessageMetadata | Buffer, payload: Buffer
) -> tuple[bytes, Buffer]:
    """A payload frame as (header, payload): write both, or ``b"".join`` them.

    ``cmd`` may be pre-encoded BaseCommand bytes; ``metadata`` pre-encoded MessageMetadata.
    The checksum covers metadataSize + metadata + payload, computed without joining them.
    """
    base = cmd if isinstance(cmd, bytes) else encode_base_command(cmd)
    md = metadata.encode() if isinstance(metadata, MessageMetadata) else metadata
    md_block = _u32_pack(len(md)) + md
    crc = crc32c(payload, crc32c(md_block))
    cmd_size = len(base)
    total = 4 + cmd_size + 6 + len(md_block) + len(payload)
    header = b"".join(
        (
            _U32_PAIR.pack(total, cmd_size),
            base,
            _MAGIC_CRC_AND_CRC.pack(MAGIC_CRC32C, crc),
            md_block,
        )
    )
    return header, payload


def encode_payload_command(
    cmd: Message | bytes, metadata: MessageMetadata | Buffer, payload: Buffer
) -> bytes:
    """A whole payload frame (SEND) as one bytes object."""
    header, body = payload_frame_parts(cmd, metadata, payload)
    return header + body


@dataclass(slots=True)
class Frame:
    """One received frame: the sub-command, plus metadata and payload for MESSAGE / SEND.

    ``error`` is set (and ``metadata``/``payload`` are None) when the payload part is corrupt
    while the command itself decoded; see the module docstring.
    """

    command: Command
    metadata: MessageMetadata | None = None
    payload: memoryview | None = None
    broker_entry_metadata: BrokerEntryMetadata | None = None
    error: ProtocolError | None = None

    @property
    def type(self) -> int:
        """The command type (a ``CommandType`` unless the command is unknown)."""
        cmd = self.command
        return cmd.type if isinstance(cmd, UnknownCommand) else cmd.TYPE  # type: ignore[attr-defined]


class FrameParser:
    """Incremental, sans-I/O frame parser: ``feed(chunk) -> list[Frame]``; not thread-safe
    (one reader thread owns it)."""

    __slots__ = ("_buffered", "_chunks", "_failed", "_max_frame", "_need", "verify_checksum")

    def __init__(
        self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, *, verify_checksum: bool = True
    ) -> None:
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._need = 4  # bytes needed before parsing can make progress
        self._failed: ProtocolError | None = None
        self._max_frame = max_message_size + FRAME_PADDING
        self.verify_checksum = verify_checksum

    @property
    def max_message_size(self) -> int:
        """The largest message the broker allows (CONNECTED.max_message_size)."""
        return self._max_frame - FRAME_PADDING

    @max_message_size.setter
    def max_message_size(self, value: int) -> None:
        self._max_frame = value + FRAME_PADDING

    @property
    def max_frame_size(self) -> int:
        """The largest totalSize accepted: max_message_size + 10 KiB of padding."""
        return self._max_frame

    @property
    def buffered(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return self._buffered

    def feed(self, data: Buffer) -> list[Frame]:
        """Add received bytes; return the frames they complete (possibly none).

        Pass ``bytes`` to avoid a copy (payload views point into it).
        """
        if self._failed is not None:
            raise ProtocolError(f"parser already failed: {self._failed}") from self._failed
        if type(data) is not bytes:
            data = bytes(data)
        if not data:
            return []
        if self._chunks:
            self._chunks.append(data)
            self._buffered += len(data)
            if self._buffered < self._need:
                return []
            data = b"".join(self._chunks)
            self._chunks.clear()
        frames: list[Frame] = []
        append = frames.append
        size = len(data)
        max_frame = self._max_frame
        pos = 0
        try:
            while size - pos >= 4:
                total = _u32_unpack_from(data, pos)[0]
                if total > max_frame:
                    raise FrameTooLarge(total, max_frame)
                stop = pos + 4 + total
                if stop > size:
                    break
                if total < 4:
                    raise TruncatedFrame(f"frame of {total} bytes has no room for its command size")
                cmd_end = pos + 8 + _u32_unpack_from(data, pos + 4)[0]
                if cmd_end > stop:
                    raise TruncatedFrame(
                        f"command size {cmd_end - pos - 8} exceeds the {total - 4} bytes left "
                        "in the frame"
                    )
                command = decode_base_command(data[pos + 8 : cmd_end])
                if cmd_end == stop:
                    append(Frame(command))
                else:
                    try:
                        append(self._parse_payload(command, data, cmd_end, stop))
                    except ProtocolError as err:
                        append(Frame(command, error=err))
                pos = stop
        except ProtocolError as err:
            self._failed = err
            self._chunks.clear()
            self._buffered = 0
            raise
        if pos < size:
            rest = data[pos:] if pos else data
            self._chunks.append(rest)
            self._buffered = len(rest)
            self._need = 4 + _u32_unpack_from(rest, 0)[0] if len(rest) >= 4 else 4
        else:
            self._buffered = 0
            self._need = 4
        return frames

    def feed_eof(self) -> None:
        """The stream ended: raise ``TruncatedFrame`` if a partial frame is buffered."""
        if self._buffered:
            raise TruncatedFrame(f"stream ended inside a frame ({self._buffered} bytes buffered)")

    def _parse_payload(self, command: Command, data: bytes, pos: int, stop: int) -> Frame:
        broker_entry_metadata = None
        if stop - pos >= 2 and data[pos] == 0x0E and data[pos + 1] == 0x02:
            if stop - pos < 6:
                raise TruncatedFrame("broker entry metadata size is cut off")
            bem_size = _u32_unpack_from(data, pos + 2)[0]
            bem_start = pos + 6
            pos = bem_start + bem_size
            if pos > stop:
                raise TruncatedFrame(f"broker entry metadata of {bem_size} bytes exceeds the frame")
            broker_entry_metadata = BrokerEntryMetadata.decode(data[bem_start:pos])
        if stop - pos >= 2 and data[pos] == 0x0E and data[pos + 1] == 0x01:
            if stop - pos < 6:
                raise TruncatedFrame("checksum is cut off")
            expected = _u32_unpack_from(data, pos + 2)[0]
            pos += 6
            if self.verify_checksum:
                actual = crc32c(memoryview(data)[pos:stop])
                if actual != expected:
                    return Frame(
                        command,
                        broker_entry_metadata=broker_entry_metadata,
                        error=ChecksumMismatch(expected, actual),
                    )
        if stop - pos < 4:
            raise TruncatedFrame(f"metadata size is cut off ({stop - pos} bytes left)")
        md_size = _u32_unpack_from(data, pos)[0]
        md_start = pos + 4
        md_end = md_start + md_size
        if md_end > stop:
            raise TruncatedFrame(
                f"metadata size {md_size} exceeds the {stop - md_start} bytes left in the frame"
            )
        metadata = MessageMetadata.decode(data[md_start:md_end])
        return Frame(
            command,
            metadata,
            memoryview(data)[md_end:stop],
            broker_entry_metadata,
        )
