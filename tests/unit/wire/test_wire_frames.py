"""Frame encoding vectors and the incremental parser (any chunking, limits, payload errors)."""

from __future__ import annotations

import struct

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from pulsarload.wire.commands import (
    CommandFlow,
    CommandMessage,
    CommandPing,
    CommandSend,
    UnknownCommand,
)
from pulsarload.wire.enums import CommandType
from pulsarload.wire.errors import (
    ChecksumMismatch,
    DecodeError,
    FrameTooLarge,
    ProtocolError,
    TruncatedFrame,
)
from pulsarload.wire.frames import (
    DEFAULT_MAX_MESSAGE_SIZE,
    FRAME_PADDING,
    Frame,
    FrameParser,
    encode_command,
    encode_payload_command,
    payload_frame_parts,
)
from pulsarload.wire.messages import BrokerEntryMetadata, MessageIdData, MessageMetadata

PING_FRAME = bytes.fromhex("00000009000000050812920100")

# SEND{producer_id 1, sequence_id 0} + MessageMetadata{"p", 0, 1} + b"hi", written by hand.
SEND_BASE = bytes.fromhex("0806320408011000")
SEND_MD = bytes.fromhex("0a017010001801")
SEND_CHECKED = bytes.fromhex("00000007") + SEND_MD + b"hi"  # what the CRC covers


def send_frame_bytes() -> bytes:
    body = SEND_BASE + b"\x0e\x01" + struct.pack(">I", crc32c(SEND_CHECKED)) + SEND_CHECKED
    return struct.pack(">II", 4 + len(body), len(SEND_BASE)) + body


def message_frame(
    payload: bytes,
    *,
    checksum: bool = True,
    broker_entry_metadata: bytes | None = None,
    corrupt_crc: bool = False,
) -> bytes:
    """A MESSAGE frame assembled by hand (independently of the frame encoder)."""
    base = bytes.fromhex("08094a080801120408051006")  # MESSAGE{1, (5, 6)}
    md = bytes.fromhex("0a0170100718e807")  # MessageMetadata{"p", 7, 1000}
    checked = struct.pack(">I", len(md)) + md + payload
    body = base
    if broker_entry_metadata is not None:
        body += b"\x0e\x02" + struct.pack(">I", len(broker_entry_metadata)) + broker_entry_metadata
    if checksum:
        crc = crc32c(checked) ^ (1 if corrupt_crc else 0)
        body += b"\x0e\x01" + struct.pack(">I", crc)
    body += checked
    return struct.pack(">II", 4 + len(body), len(base)) + body


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value


def test_simple_frame_vector() -> None:
    assert encode_command(CommandPing()) == PING_FRAME
    assert encode_command(CommandFlow(consumer_id=1, messagePermits=1000)) == bytes.fromhex(
        "0000000d00000009080b5a05080110e807"
    )


def test_payload_frame_vector() -> None:
    cmd = CommandSend(producer_id=1, sequence_id=0)
    md = MessageMetadata(producer_name="p", sequence_id=0, publish_time=1)
    expected = send_frame_bytes()
    assert encode_payload_command(cmd, md, b"hi") == expected
    assert encode_payload_command(SEND_BASE, SEND_MD, memoryview(b"hi")) == expected
    header, body = payload_frame_parts(cmd, md, b"hi")
    assert header + body == expected
    assert body == b"hi"


def test_parse_simple_and_payload_frames() -> None:
    parser = FrameParser()
    frames = parser.feed(PING_FRAME + send_frame_bytes())
    assert [f.type for f in frames] == [CommandType.PING, CommandType.SEND]
    ping, send = frames
    assert ping == Frame(CommandPing())
    assert send.command == CommandSend(producer_id=1, sequence_id=0)
    assert send.metadata == MessageMetadata(producer_name="p", sequence_id=0, publish_time=1)
    assert isinstance(send.payload, memoryview)
    assert bytes(send.payload) == b"hi"
    assert send.error is None
    assert parser.buffered == 0


def test_message_frame_with_broker_entry_metadata() -> None:
    bem = bytes.fromhex("08e807102a")
    [frame] = FrameParser().feed(message_frame(b"data", broker_entry_metadata=bem))
    assert frame.broker_entry_metadata == BrokerEntryMetadata(broker_timestamp=1000, index=42)
    assert frame.command == CommandMessage(
        consumer_id=1, message_id=MessageIdData(ledgerId=5, entryId=6)
    )
    assert frame.metadata is not None and frame.metadata.sequence_id == 7
    assert frame.payload is not None and bytes(frame.payload) == b"data"


def test_payload_without_checksum_is_accepted() -> None:
    [frame] = FrameParser().feed(message_frame(b"data", checksum=False))
    assert frame.error is None
    assert frame.payload is not None and bytes(frame.payload) == b"data"


def test_checksum_mismatch_is_reported_on_the_frame_and_parsing_goes_on() -> None:
    parser = FrameParser()
    bad, good = parser.feed(message_frame(b"data", corrupt_crc=True) + PING_FRAME)
    assert isinstance(bad.error, ChecksumMismatch)
    assert bad.metadata is None and bad.payload is None
    assert isinstance(bad.command, CommandMessage)  # enough to ack with a validation error
    assert good.command == CommandPing()
    assert parser.feed(PING_FRAME)[0].command == CommandPing()


def test_checksum_verification_can_be_turned_off() -> None:
    [frame] = FrameParser(verify_checksum=False).feed(message_frame(b"data", corrupt_crc=True))
    assert frame.error is None and frame.payload is not None


def test_bad_metadata_is_reported_on_the_frame() -> None:
    base = bytes.fromhex("08094a080801120408051006")
    checked = struct.pack(">I", 2) + b"\x0a\x05" + b"x"  # metadata string runs past its end
    body = base + b"\x0e\x01" + struct.pack(">I", crc32c(checked)) + checked
    frame_bytes = struct.pack(">II", 4 + len(body), len(base)) + body
    [frame] = FrameParser().feed(frame_bytes)
    assert isinstance(frame.error, DecodeError)
    # metadata size larger than the frame
    checked = struct.pack(">I", 50) + b"\x0a\x00"
    body = base + b"\x0e\x01" + struct.pack(">I", crc32c(checked)) + checked
    [frame] = FrameParser().feed(struct.pack(">II", 4 + len(body), len(base)) + body)
    assert isinstance(frame.error, TruncatedFrame)


def test_one_byte_chunks() -> None:
    stream = PING_FRAME + send_frame_bytes() + message_frame(b"x" * 300) + PING_FRAME
    parser = FrameParser()
    frames: list[Frame] = []
    for i in range(len(stream)):
        frames += parser.feed(stream[i : i + 1])
    assert [f.type for f in frames] == [
        CommandType.PING,
        CommandType.SEND,
        CommandType.MESSAGE,
        CommandType.PING,
    ]
    assert frames[2].payload is not None and bytes(frames[2].payload) == b"x" * 300
    assert parser.buffered == 0
    parser.feed_eof()


STREAM = PING_FRAME + send_frame_bytes() + message_frame(b"payload" * 10) + PING_FRAME


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=8))
def test_any_split_gives_the_same_frames(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(STREAM)]
    parser = FrameParser()
    frames: list[Frame] = []
    for a, b in zip(points, points[1:], strict=False):
        frames += parser.feed(STREAM[a:b])
    assert frames == FrameParser().feed(STREAM)
    assert parser.buffered == 0


def test_every_single_split_offset() -> None:
    whole = FrameParser().feed(STREAM)
    for cut in range(len(STREAM) + 1):
        parser = FrameParser()
        frames = parser.feed(STREAM[:cut]) + parser.feed(STREAM[cut:])
        assert frames == whole, cut


def test_feed_accepts_bytearray_and_memoryview() -> None:
    parser = FrameParser()
    assert parser.feed(bytearray(PING_FRAME[:5])) == []
    assert parser.feed(memoryview(PING_FRAME)[5:]) == [Frame(CommandPing())]
    assert parser.feed(b"") == []


def test_frame_too_large_is_refused_before_buffering() -> None:
    parser = FrameParser()
    assert parser.max_frame_size == DEFAULT_MAX_MESSAGE_SIZE + FRAME_PADDING
    with pytest.raises(FrameTooLarge) as info:
        parser.feed(struct.pack(">I", parser.max_frame_size + 1))
    assert info.value.size == parser.max_frame_size + 1
    # the parser stays failed: the stream cannot be resynchronised
    with pytest.raises(ProtocolError, match="already failed"):
        parser.feed(PING_FRAME)


def test_max_message_size_is_settable_after_connected() -> None:
    parser = FrameParser()
    parser.max_message_size = 1000
    assert parser.max_message_size == 1000
    assert parser.max_frame_size == 1000 + FRAME_PADDING
    parser.feed(struct.pack(">I", 1000 + FRAME_PADDING))  # exactly the limit: buffered
    with pytest.raises(FrameTooLarge):
        FrameParser(max_message_size=10).feed(struct.pack(">I", 10 + FRAME_PADDING + 1))


@pytest.mark.parametrize(
    "frame_hex",
    [
        "000000020000",  # no room for the command size
        "000000050000000908",  # command size beyond the frame
        "0000000400000000",  # an empty BaseCommand (no type)
        "00000006000000020806",  # SEND without a sub-command
    ],
)
def test_bad_envelopes_raise(frame_hex: str) -> None:
    with pytest.raises(ProtocolError):
        FrameParser().feed(bytes.fromhex(frame_hex))


def test_feed_eof_inside_a_frame() -> None:
    parser = FrameParser()
    parser.feed(PING_FRAME[:-1])
    assert parser.buffered == len(PING_FRAME) - 1
    with pytest.raises(TruncatedFrame):
        parser.feed_eof()


def test_unknown_command_frames_pass_through() -> None:
    base = bytes.fromhex("08408204020801")
    frame_bytes = struct.pack(">II", 4 + len(base), len(base)) + base
    [frame] = FrameParser().feed(frame_bytes)
    assert frame.command == UnknownCommand(type=64, body=b"\x08\x01")
    assert frame.type == 64


def test_large_frame_in_many_chunks_is_joined_once() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    stream = message_frame(payload)
    parser = FrameParser()
    frames: list[Frame] = []
    for i in range(0, len(stream), 65536):
        frames += parser.feed(stream[i : i + 65536])
    [frame] = frames
    assert frame.payload is not None and frame.payload == payload
