"""Short CI fuzz runs of everything that decodes network bytes: only `ProtocolError`s, bounded
memory, no hang.

Complements tests/unit/wire/test_wire_fuzz.py (mutations of a few commands, a stream, batches
and codecs) with: every protobuf message class (round trip of arbitrary valid values, then
arbitrary bytes), decompression bombs measured with tracemalloc, declared sizes at the
extremes, valid-CRC frames whose metadata hypothesis chooses (so inputs get past the checksum),
chunk reassembly, and a fixed-seed slice of the long mutation run (`pulsarload.bench.fuzz`, `pulsarload bench fuzz`,
whose results are recorded in docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import struct
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulsarload.bench import fuzz as harness
from pulsarload.client.chunks import ChunkAssembler
from pulsarload.wire.batch import MessageShape
from pulsarload.wire.commands import CommandMessage
from pulsarload.wire.compression import AVAILABLE, decompress, get_codec
from pulsarload.wire.enums import CompressionType
from pulsarload.wire.errors import DecompressionError, FrameTooLarge, ProtocolError
from pulsarload.wire.frames import FrameParser, encode_payload_command
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageIdData, MessageMetadata
from pulsarload.wire.protobuf import Message

CLASSES: list[type[Message]] = harness.message_classes()
CODECS = [k for k in AVAILABLE if k is not CompressionType.NONE]  # no LZ4 without lz4
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


# ----------------------------------------------------------------------- strategies from the
# field tables: every message class gets arbitrary *valid* values, so the round trip covers the
# full ranges (uint64, negative int32/int64, unicode, empty bytes, nested and repeated).

_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "uint": st.integers(0, 2**64 - 1),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "int64": st.integers(-(2**63), 2**63 - 1),
    "bool": st.booleans(),
    "string": st.text(max_size=20),
    "bytes": st.binary(max_size=20),
}


def messages(cls: type[Message], depth: int = 0) -> st.SearchStrategy[Any]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for _number, name, kind, label in cls._pb_fields:
        if isinstance(kind, str):
            value = _SCALARS[kind]
        elif issubclass(kind, Message):
            value = st.deferred(lambda k=kind: messages(k, depth + 1))
        else:
            value = st.sampled_from(list(kind))
        if label == "repeated":
            fields[name] = st.lists(value, max_size=2 if depth < 2 else 0).map(tuple)
        elif label == "optional":
            fields[name] = st.none() | value if depth < 2 else st.none()
        else:
            fields[name] = value
    return st.builds(cls, **fields)


def test_every_message_class_is_covered() -> None:
    # The commands and the metadata messages: a new class is fuzzed without editing this file.
    names = {c.__name__ for c in CLASSES}
    assert len(CLASSES) >= 40
    assert {"CommandMessage", "MessageMetadata", "SingleMessageMetadata", "KeyValue"} <= names


@FUZZ
@given(st.sampled_from(CLASSES).flatmap(messages))
def test_round_trip_of_arbitrary_valid_values(msg: Message) -> None:
    assert type(msg).decode(msg.encode()) == msg


@FUZZ
@given(st.sampled_from(CLASSES), st.binary(max_size=120))
def test_arbitrary_bytes_into_every_decoder(cls: type[Message], data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        cls.decode(data)


@FUZZ
@given(st.sampled_from(CLASSES).flatmap(messages), st.integers(0, 200), st.binary(max_size=12))
def test_valid_encodings_cut_or_extended_anywhere(msg: Message, cut: int, tail: bytes) -> None:
    raw = msg.encode()
    for data in (raw[:cut], raw + tail, raw[:cut] + tail + raw[cut:]):
        with contextlib.suppress(ProtocolError):
            type(msg).decode(data)


# ----------------------------------------------------------------------- declared sizes
# Time limits are on this thread's CPU time: a busy CI machine may make us wait for a core.


@pytest.mark.parametrize("total", [0xFFFFFFFF, 0x80000000, (1 << 20) + 10 * 1024 + 1])
def test_huge_frame_size_is_refused_before_buffering(total: int) -> None:
    parser = FrameParser(max_message_size=1 << 20)
    with pytest.raises(FrameTooLarge):
        parser.feed(struct.pack(">I", total) + b"\x00" * 16)
    assert parser.buffered == 0
    with pytest.raises(ProtocolError):  # and the failed parser stays failed
        parser.feed(b"\x00")


def test_a_frame_of_the_largest_allowed_size_is_buffered_only_up_to_its_size() -> None:
    parser = FrameParser(max_message_size=1 << 20)
    total = parser.max_frame_size
    parser.feed(struct.pack(">I", total))
    step = b"\x00" * 65536
    for _ in range(total // len(step)):
        assert parser.feed(step) == []
    assert parser.buffered <= total + 4
    with pytest.raises(ProtocolError):  # the frame completes: zeros are not a BaseCommand
        parser.feed(b"\x00" * (total % len(step)))
    assert parser.buffered == 0


@FUZZ
@given(
    st.sampled_from(CODECS),
    st.binary(max_size=64),
    st.sampled_from([0, 1, 1000, 1 << 20, (1 << 20) + 1, 2**31 - 1, 2**32 - 1, 2**63, -1]),
)
def test_any_declared_size_is_bounded_and_checked(
    kind: CompressionType, data: bytes, declared: int
) -> None:
    started = time.thread_time()
    try:
        out = decompress(kind, data, declared, max_size=1 << 20)
        assert len(out) == declared
    except DecompressionError:
        pass
    assert time.thread_time() - started < 2.0


_BOMB_SIZE = 8 << 20  # 8 MiB of zeros: a few KiB compressed


@pytest.fixture(scope="module")
def bombs() -> dict[CompressionType, bytes]:
    zeros = bytes(_BOMB_SIZE)
    out = {}
    for kind in CODECS:
        # Our pure-Python snappy compressor is slow on 8 MiB; a block of zero literals
        # encoded by hand is just as much a bomb: 64-byte copies at offset 1 after one literal.
        if kind is CompressionType.SNAPPY:
            from pulsarload.wire.protobuf import encode_varint

            copy64 = bytes(((63 << 2) | 2, 1, 0))  # copy, length 64, offset 1
            out[kind] = (
                encode_varint(_BOMB_SIZE) + b"\x00\x00" + copy64 * ((_BOMB_SIZE - 1) // 64 + 1)
            )
        else:
            out[kind] = bytes(get_codec(kind).compress(zeros))
    return out


@pytest.mark.parametrize("kind", CODECS, ids=lambda k: k.name)
@pytest.mark.parametrize("declared", [1024, 1 << 20])
def test_decompression_bombs_stay_within_the_declared_size(
    kind: CompressionType, declared: int, bombs: dict[CompressionType, bytes]
) -> None:
    """A bomb declared small is refused after at most `declared` (+1) bytes of output; memory
    at the peak stays near the declared size, not the 8 MiB the data expands to."""
    tracemalloc.start()
    try:
        with pytest.raises(DecompressionError):
            decompress(kind, bombs[kind], declared, max_size=1 << 20)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * declared + len(bombs[kind]) + 256 * 1024, peak


@pytest.mark.parametrize("kind", CODECS, ids=lambda k: k.name)
def test_a_bomb_declared_above_the_limit_is_refused_before_any_work(
    kind: CompressionType, bombs: dict[CompressionType, bytes]
) -> None:
    with pytest.raises(DecompressionError, match="outside"):  # untimed: loads the codec once
        decompress(kind, bombs[kind], _BOMB_SIZE, max_size=1 << 20)
    started = time.thread_time()
    with pytest.raises(DecompressionError, match="outside"):
        decompress(kind, bombs[kind], _BOMB_SIZE, max_size=1 << 20)
    assert time.thread_time() - started < 0.1


def test_pathological_varints_and_lengths_end_quickly() -> None:
    started = time.thread_time()
    for data in (
        b"\x08" + b"\xff" * 100_000,  # a varint that never ends
        b"\x0a" + b"\xff" * 9 + b"\x01",  # a length of 2**64 - 1
        b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 10,  # a length of 2**32 - 1
        b"\x0b" * 200_000,  # 200k nested groups
    ):
        for cls in (MessageMetadata, CommandMessage, MessageIdData):
            with pytest.raises(ProtocolError):
                cls.decode(data)
    assert time.thread_time() - started < 5.0


# ----------------------------------------------------------------------- past the checksum

_MESSAGE = CommandMessage(consumer_id=1, message_id=MessageIdData(ledgerId=1, entryId=2))


@FUZZ
@given(
    compression=st.sampled_from(AVAILABLE),
    uncompressed_size=st.none() | st.integers(0, 2**32 - 1),
    num_messages=st.none() | st.integers(-(2**31), 2**31 - 1) | st.integers(0, 8),
    payload=st.binary(max_size=300),
    valid_body=st.booleans(),
)
def test_valid_crc_frames_with_hostile_metadata(
    compression: CompressionType,
    uncompressed_size: int | None,
    num_messages: int | None,
    payload: bytes,
    valid_body: bool,
) -> None:
    """The checksum matches, so everything after it is exercised: metadata that lies about
    sizes and counts, under any codec, ends in a ProtocolError or a consistent result."""
    if valid_body and num_messages is not None and 0 < num_messages <= 8:
        body = MessageShape().batch_payload([payload[i::num_messages] for i in range(num_messages)])
        payload = bytes(get_codec(compression).compress(body))
        if uncompressed_size is not None:
            uncompressed_size = len(body)
    md = MessageMetadata(
        producer_name="p",
        sequence_id=1,
        publish_time=1,
        compression=compression if compression else None,
        uncompressed_size=uncompressed_size,
        num_messages_in_batch=num_messages,
    )
    frame = encode_payload_command(_MESSAGE, md, payload)
    (parsed,) = FrameParser(max_message_size=1 << 20).feed(frame)
    with contextlib.suppress(ProtocolError):
        harness._consume_frame(parsed)


# ----------------------------------------------------------------------- chunk reassembly

_chunk = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e"]),  # uuid
    st.integers(0, 5),  # num_chunks_from_msg
    st.integers(0, 5),  # chunk_id
    st.integers(-1, 3000),  # total_chunk_msg_size
    st.binary(max_size=600),
)


@FUZZ
@given(st.lists(_chunk, max_size=40))
def test_chunk_reassembly_stays_bounded(chunks: list[tuple[str, int, int, int, bytes]]) -> None:
    """Interleaved, duplicated, missing and lying chunks: at most max_pending incomplete
    messages, none larger than declared, the size limit enforced, and no exception."""
    asm = ChunkAssembler(max_pending=2, max_total_size=2000)
    for n, (uuid, num, cid, total, body) in enumerate(chunks):
        md = MessageMetadata(
            producer_name="p",
            sequence_id=0,
            publish_time=0,
            uuid=uuid,
            num_chunks_from_msg=num,
            chunk_id=cid,
            total_chunk_msg_size=total,
        )
        res = asm.add(md, MessageId(1, n), body)
        assert len(asm) <= 2
        if res.payload is not None:
            assert len(res.payload) <= 2000
    assert all(len(p.buffer) <= p.total <= 2000 for p in asm._pending.values())


# ----------------------------------------------------------------------- the long run's targets


def test_mutation_run_slice() -> None:
    """A fixed-seed slice of pulsarload.bench.fuzz: every target, its seeds, then mutants."""
    fuzzer = harness.Fuzzer(harness.build_targets(7), seed=7)
    stats = fuzzer.run(8000)
    assert stats.inputs == 8000
    assert stats.failures == [], stats.failures[:3]
    assert all(t.inputs for t in stats.targets.values()), "a target never ran"
    # Mutants get accepted as well as refused: the fuzzer reaches past the first check.
    assert sum(t.accepted for t in stats.targets.values()) > 500
    assert stats.max_rss_mb - stats.start_rss_mb < 100
