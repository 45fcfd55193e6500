"""Batch payloads: hand-written vectors, the fast paths against the general one, whole SEND
frames through the parser, and malformed batches."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulsarload.wire.batch import (
    MessageShape,
    SendFrameBuilder,
    batch_metadata,
    encode_batch_payload,
    parse_batch,
)
from pulsarload.wire.commands import CommandSend
from pulsarload.wire.compression import AVAILABLE, decompress
from pulsarload.wire.enums import CompressionType
from pulsarload.wire.errors import DecodeError
from pulsarload.wire.frames import FrameParser, encode_payload_command
from pulsarload.wire.messages import (
    KeyValue,
    MessageMetadata,
    SingleMessageMetadata,
    key_values,
)
from pulsarload.wire.protobuf import encode_length_delimited

# Two messages, b"ab" and b"c", no properties: [size][SMM{payload_size}][payload] each.
PLAIN_BATCH = bytes.fromhex("000000021802616200000002180163")
# The same with properties {"k": "v"} on every message.
PROPS_BATCH = bytes.fromhex("0000000a0a060a016b120176180261620000000a0a060a016b120176180163")


def test_plain_batch_vector() -> None:
    assert MessageShape().batch_payload([b"ab", b"c"]) == PLAIN_BATCH
    pairs = [
        (SingleMessageMetadata(payload_size=2), b"ab"),
        (SingleMessageMetadata(payload_size=1), b"c"),
    ]
    assert encode_batch_payload(pairs) == PLAIN_BATCH


def test_shape_with_properties_vector() -> None:
    assert MessageShape(properties={"k": "v"}).batch_payload([b"ab", b"c"]) == PROPS_BATCH
    shape = MessageShape(properties=[KeyValue(key="k", value="v")])
    assert shape.batch_payload([b"ab", b"c"]) == PROPS_BATCH
    assert shape.prefix(2) == bytes.fromhex("0000000a0a060a016b1201761802")


def test_same_size_template_path_and_repeated() -> None:
    shape = MessageShape(partition_key="key", event_time=5)
    payloads = [bytes([i]) * 10 for i in range(50)]
    expected = encode_batch_payload((shape.metadata(10), p) for p in payloads)
    assert shape.batch_payload(payloads) == expected
    assert shape.repeated_payload(b"z" * 10, 3) == encode_batch_payload(
        [(shape.metadata(10), b"z" * 10)] * 3
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=30))
def test_fast_path_equals_general_path_and_parses_back(payloads: list[bytes]) -> None:
    shape = MessageShape(properties={"a": "b"}, ordering_key=b"o")
    data = shape.batch_payload(payloads)
    assert data == encode_batch_payload((shape.metadata(0), p) for p in payloads)
    parsed = parse_batch(data, len(payloads))
    assert [bytes(m[1]) for m in parsed] == payloads
    assert all(m[0].properties == (KeyValue(key="a", value="b"),) for m in parsed)


def test_general_path_with_per_message_metadata() -> None:
    pairs = [
        (SingleMessageMetadata(payload_size=0, partition_key=f"k{i}", sequence_id=i), b"x" * i)
        for i in range(5)
    ]
    parsed = parse_batch(encode_batch_payload(pairs), 5)
    assert [m[0].partition_key for m in parsed] == [f"k{i}" for i in range(5)]
    assert [m[0].sequence_id for m in parsed] == list(range(5))
    assert [m[0].payload_size for m in parsed] == list(range(5))


def test_parse_batch_vector_and_shared_metadata() -> None:
    msgs = parse_batch(PLAIN_BATCH, 2)
    assert msgs == [
        (SingleMessageMetadata(payload_size=2), memoryview(b"ab")),
        (SingleMessageMetadata(payload_size=1), memoryview(b"c")),
    ]
    same = parse_batch(MessageShape().repeated_payload(b"xy", 3), 3)
    assert same[0][0] is same[2][0]  # decoded once per batch
    assert parse_batch(memoryview(PLAIN_BATCH), 2)[1][1] == b"c"
    assert parse_batch(b"", 0) == []


@pytest.mark.parametrize(
    ("data", "n", "match"),
    [
        (PLAIN_BATCH, 3, "message 2 of 3 starts at offset"),
        (PLAIN_BATCH[:-1], 2, "payload of message 1"),
        (PLAIN_BATCH + b"!", 2, "1 bytes left over"),
        (PLAIN_BATCH, 1, "left over"),
        (bytes.fromhex("000000101802"), 1, "metadata of message 0 runs past"),
        (bytes.fromhex("000000021801"), 1, "payload of message 0"),
        (bytes.fromhex(f"0000000b18{'ff' * 9}01"), 1, "negative payload_size"),
        (bytes.fromhex("000000022001"), 1, "required field payload_size"),
        (PLAIN_BATCH, -1, "negative"),
    ],
)
def test_malformed_batches(data: bytes, n: int, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        parse_batch(data, n)


def test_uniform_batches_take_the_fast_path_with_the_same_result() -> None:
    shape = MessageShape(properties={"k": "v"})
    payloads = [bytes([i]) * 33 for i in range(100)]
    data = shape.batch_payload(payloads)
    fast = parse_batch(data, 100)
    assert [bytes(p) for _, p in fast] == payloads
    assert all(md is fast[0][0] for md, _ in fast)
    assert fast[0][0] == shape.metadata(33)
    # one differing metadata byte in the middle: same stride, but not uniform
    pairs = [(shape.metadata(33), p) for p in payloads]
    pairs[50] = (MessageShape(properties={"k": "w"}).metadata(33), payloads[50])
    mixed = parse_batch(encode_batch_payload(pairs), 100)
    assert mixed[50][0].properties[0].value == "w"
    assert mixed[49][0].properties[0].value == "v"
    # a batch with an equal stride but one record's size field pointing elsewhere
    broken = bytearray(data)
    broken[(4 + 11 + 33) * 7 + 3] += 1
    with pytest.raises(DecodeError):
        parse_batch(bytes(broken), 100)


@pytest.mark.parametrize("size", [0, 1, 7])
def test_uniform_batches_of_tiny_and_empty_payloads(size: int) -> None:
    data = MessageShape().batch_payload([b"x" * size] * 5)
    assert [bytes(p) for _, p in parse_batch(data, 5)] == [b"x" * size] * 5


def test_batch_metadata_marks_a_batch_of_one() -> None:
    md = batch_metadata("p", 10, 1000, 1)
    assert md.encode() == bytes.fromhex("0a0170100a18e8075801")
    md = batch_metadata("p", 10, 1000, 2, compression=CompressionType.ZLIB, uncompressed_size=9)
    assert md.encode() == bytes.fromhex("0a0170100a18e807400248095802")


def _parse_one(frame: bytes):  # type: ignore[no-untyped-def]
    [parsed] = FrameParser().feed(frame)
    assert parsed.error is None
    return parsed


def test_builder_batch_frame_equals_the_general_encoding() -> None:
    builder = SendFrameBuilder(3, "prod")
    payloads = [b"ab", b"c"]
    frame = builder.batch(payloads, 10, 1000)
    expected = encode_payload_command(
        CommandSend(producer_id=3, sequence_id=10, num_messages=2),
        batch_metadata("prod", 10, 1000, 2),
        PLAIN_BATCH,
    )
    assert frame == expected
    header, body = builder.batch_parts(payloads, 10, 1000)
    assert header + body == expected


@pytest.mark.parametrize("compression", AVAILABLE)
def test_builder_batch_frames_are_byte_identical_to_the_general_encoding(
    compression: CompressionType,
) -> None:
    shape = MessageShape(properties={"k": "v"})
    payloads = [b"x" * 40, b"y" * 41, b"z" * 40]
    frame = SendFrameBuilder(5, "pn", compression=compression, shape=shape).batch(
        payloads, 300, 123456789, highest_sequence_id=302
    )
    raw = shape.batch_payload(payloads)
    expected = encode_payload_command(
        CommandSend(producer_id=5, sequence_id=300, num_messages=3, highest_sequence_id=302),
        batch_metadata(
            "pn",
            300,
            123456789,
            3,
            compression=compression,
            uncompressed_size=len(raw),
            highest_sequence_id=302,
        ),
        zlib_or_none(compression, raw),
    )
    assert frame == expected


@pytest.mark.parametrize("compression", AVAILABLE)
def test_builder_batch_frames_carry_the_shape_keys_in_the_outer_metadata(
    compression: CompressionType,
) -> None:
    """The broker dispatches a Key_Shared entry on the outer metadata's keys."""
    shape = MessageShape(partition_key="pk", ordering_key=b"ok", properties={"a": "b"})
    payloads = [b"one", b"two"]
    frame = SendFrameBuilder(2, "pn", compression=compression, shape=shape).batch(
        payloads, 40, 99, highest_sequence_id=41
    )
    raw = shape.batch_payload(payloads)
    expected = encode_payload_command(
        CommandSend(producer_id=2, sequence_id=40, num_messages=2, highest_sequence_id=41),
        batch_metadata(
            "pn",
            40,
            99,
            2,
            compression=compression,
            uncompressed_size=len(raw),
            highest_sequence_id=41,
            partition_key="pk",
            ordering_key=b"ok",
        ),
        zlib_or_none(compression, raw),
    )
    assert frame == expected
    md = _parse_one(frame).metadata
    assert (md.partition_key, md.ordering_key) == ("pk", b"ok")
    assert md.properties == ()  # properties stay per message


@pytest.mark.parametrize("schema_version", [None, b"\x00" * 7 + b"\x02"])
def test_a_base64_key_is_flagged_on_the_entry_as_in_each_message(
    schema_version: bytes | None,
) -> None:
    """A KEY_VALUE SEPARATED key is base64 of bytes: the entry's metadata says so too, as the
    Java client's batches do, since the broker hashes the decoded bytes for Key_Shared."""
    shape = MessageShape(partition_key="AAEC", partition_key_b64_encoded=True, ordering_key=b"o")
    builder = SendFrameBuilder(2, "pn", shape=shape, schema_version=schema_version)
    payloads = [b"one", b"two"]
    frame = builder.batch(payloads, 40, 99, highest_sequence_id=41)
    md = batch_metadata(
        "pn", 40, 99, 2, highest_sequence_id=41, partition_key="AAEC",
        ordering_key=b"o", partition_key_b64_encoded=True,
    )  # fmt: skip
    md = replace(md, schema_version=schema_version)
    assert frame == encode_payload_command(
        CommandSend(producer_id=2, sequence_id=40, num_messages=2, highest_sequence_id=41),
        md,
        shape.batch_payload(payloads),
    )
    parsed = _parse_one(frame)
    assert parsed.metadata.partition_key_b64_encoded is True
    assert [m.partition_key_b64_encoded for m, _ in parse_batch(parsed.payload, 2)] == [True] * 2

    single = _parse_one(builder.single(b"solo", 9, 1000)).metadata
    assert (single.partition_key, single.partition_key_b64_encoded) == ("AAEC", True)
    assert single == MessageMetadata(
        producer_name="pn", sequence_id=9, publish_time=1000, partition_key="AAEC",
        partition_key_b64_encoded=True, ordering_key=b"o", schema_version=schema_version,
    )  # fmt: skip
    # A plain key carries no flag at all, on the entry or in the messages.
    plain = SendFrameBuilder(2, "pn", shape=MessageShape(partition_key="k")).batch([b"x"], 1, 2)
    assert _parse_one(plain).metadata.partition_key_b64_encoded is None


@pytest.mark.parametrize("compression", AVAILABLE)
def test_entry_properties_go_on_the_entry_metadata_only(compression: CompressionType) -> None:
    payloads = [b"x" * 40, b"y" * 41]
    builder = SendFrameBuilder(5, "pn", compression=compression)
    plain = builder.batch(payloads, 300, 123456789)
    frame = builder.batch(payloads, 300, 123456789, entry_properties={"plt": "17+250000"})
    parsed = _parse_one(frame)
    assert parsed.metadata.properties == key_values({"plt": "17+250000"})
    assert parsed.metadata.num_messages_in_batch == 2
    # The same messages inside (no per-message property), and the same frame otherwise.
    raw = parsed.payload if compression == CompressionType.NONE else None
    if raw is not None:
        assert [md.properties for md, _ in parse_batch(raw, 2)] == [(), ()]
    property_field = encode_length_delimited(4, KeyValue(key="plt", value="17+250000").encode())
    assert len(frame) - len(plain) == len(property_field)
    assert _parse_one(plain).metadata == replace(parsed.metadata, properties=())


def test_builder_batch_of_one_and_highest_sequence_id() -> None:
    frame = SendFrameBuilder(3, "prod").batch([b"ab"], 10, 1000, highest_sequence_id=10)
    parsed = _parse_one(frame)
    assert parsed.command == CommandSend(producer_id=3, sequence_id=10, highest_sequence_id=10)
    assert parsed.metadata == MessageMetadata(
        producer_name="prod",
        sequence_id=10,
        publish_time=1000,
        num_messages_in_batch=1,
        highest_sequence_id=10,
    )
    assert parse_batch(parsed.payload, 1)[0][1] == b"ab"


@pytest.mark.parametrize("compression", AVAILABLE)
def test_builder_frames_round_trip_with_every_codec(compression: CompressionType) -> None:
    shape = MessageShape(properties={"run": "1"})
    builder = SendFrameBuilder(1, "p", compression=compression, shape=shape)
    assert builder.compression is compression
    payloads = [bytes([i % 7]) * 100 for i in range(20)] + [b"tail"]
    parsed = _parse_one(builder.batch(payloads, 100, 5))
    md = parsed.metadata
    assert md.num_messages_in_batch == 21
    if compression is CompressionType.NONE:
        assert md.compression is None and md.uncompressed_size is None
        raw = parsed.payload
    else:
        assert md.compression is compression
        raw = decompress(compression, parsed.payload, md.uncompressed_size)
    assert [bytes(m[1]) for m in parse_batch(raw, 21)] == payloads

    parsed = _parse_one(builder.repeated(b"r" * 50, 4, 200, 5))
    assert parsed.command.num_messages == 4
    raw = decompress(compression, parsed.payload, parsed.metadata.uncompressed_size or 0)
    assert [bytes(m[1]) for m in parse_batch(raw, 4)] == [b"r" * 50] * 4

    parsed = _parse_one(builder.single(b"solo", 300, 5))
    assert parsed.metadata.num_messages_in_batch is None
    assert parsed.command == CommandSend(producer_id=1, sequence_id=300)
    raw = decompress(compression, parsed.payload, parsed.metadata.uncompressed_size or 0)
    assert bytes(raw) == b"solo"


def test_single_frames_carry_the_shape_in_message_metadata() -> None:
    shape = MessageShape(
        properties={"a": "1", "b": "2"},
        partition_key="key",
        ordering_key=b"ord",
        event_time=77,
        null_value=False,
    )
    for compression in (CompressionType.NONE, CompressionType.ZLIB):
        builder = SendFrameBuilder(2, "p", compression=compression, shape=shape)
        frame = builder.single(b"solo", 9, 1000, highest_sequence_id=9)
        compressed = compression is not CompressionType.NONE
        expected_md = MessageMetadata(
            producer_name="p",
            sequence_id=9,
            publish_time=1000,
            properties=(KeyValue(key="a", value="1"), KeyValue(key="b", value="2")),
            partition_key="key",
            compression=compression if compressed else None,
            uncompressed_size=4 if compressed else None,
            event_time=77,
            ordering_key=b"ord",
            highest_sequence_id=9,
            null_value=False,
        )
        parsed = _parse_one(frame)
        assert parsed.metadata == expected_md
        # byte-identical to the general encoder (fields in number order)
        payload = zlib_or_none(compression, b"solo")
        assert frame == encode_payload_command(
            CommandSend(producer_id=2, sequence_id=9, highest_sequence_id=9), expected_md, payload
        )


def zlib_or_none(compression: CompressionType, data: bytes) -> bytes:
    from pulsarload.wire.compression import compress

    return bytes(compress(compression, data))


def test_builder_refuses_empty_batches() -> None:
    builder = SendFrameBuilder(1, "p")
    with pytest.raises(ValueError):
        builder.batch([], 0, 0)
    with pytest.raises(ValueError):
        builder.repeated(b"x", 0, 0, 0)


def test_prefix_cache_is_bounded_and_stays_correct() -> None:
    shape = MessageShape()
    for size in range(5000):
        smm = shape.metadata(size).encode()
        assert shape.prefix(size) == struct.pack(">I", len(smm)) + smm
    assert len(shape._prefixes) <= 4096
    payloads = [b"x" * 4999, b"y" * 3]
    assert [bytes(p) for _, p in parse_batch(shape.batch_payload(payloads), 2)] == payloads


def test_prefix_is_u32_size_then_metadata() -> None:
    prefix = MessageShape().prefix(1024)
    assert prefix == struct.pack(">I", 3) + bytes.fromhex("188008")


@pytest.mark.parametrize("kind", ["batch", "single"])
def test_builder_frames_carry_the_schema_version(kind: str) -> None:
    """Every entry of a producer with a schema names the registry version it was written with;
    apart from that field the frame is the one without a schema."""
    shape = MessageShape(partition_key="pk", ordering_key=b"ok", event_time=5)
    version = b"\x00\x00\x00\x00\x00\x00\x00\x03"
    plain = SendFrameBuilder(1, "pn", shape=shape)
    typed = SendFrameBuilder(1, "pn", shape=shape, schema_version=version)
    if kind == "batch":
        frames = plain.batch([b"a", b"bb"], 7, 9), typed.batch([b"a", b"bb"], 7, 9)
    else:
        frames = plain.single(b"a", 7, 9), typed.single(b"a", 7, 9)
    without, with_version = (_parse_one(f).metadata for f in frames)
    assert with_version.schema_version == version
    assert replace(with_version, schema_version=None) == without
    assert len(frames[1]) - len(frames[0]) == len(encode_length_delimited(16, version))
