"""Mutation and truncation fuzzing: malformed input only ever raises ProtocolError subtypes
(never IndexError, struct.error, KeyError, UnicodeDecodeError, RecursionError) and never hangs."""

from __future__ import annotations

import contextlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulsarload.wire.batch import MessageShape, SendFrameBuilder, parse_batch
from pulsarload.wire.commands import (
    CommandAck,
    CommandConnected,
    CommandLookupTopicResponse,
    CommandMessage,
    CommandProducerSuccess,
    CommandSendReceipt,
    CommandSubscribe,
    decode_base_command,
    encode_base_command,
)
from pulsarload.wire.compression import AVAILABLE, decompress, get_codec
from pulsarload.wire.enums import AckType, CompressionType, LookupType, SubType
from pulsarload.wire.errors import ProtocolError
from pulsarload.wire.frames import FrameParser, encode_command
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import (
    FeatureFlags,
    KeySharedMeta,
    MessageIdData,
    MessageMetadata,
    SingleMessageMetadata,
)
from pulsarload.wire.snappy import decompress as snappy_decompress

COMMANDS = [
    CommandConnected(
        server_version="2.11",
        protocol_version=21,
        max_message_size=5 << 20,
        feature_flags=FeatureFlags(supports_auth_refresh=True),
    ),
    CommandProducerSuccess(request_id=1, producer_name="standalone-0-1", last_sequence_id=-1),
    CommandSendReceipt(
        producer_id=1, sequence_id=9, message_id=MessageIdData(ledgerId=12, entryId=300)
    ),
    CommandMessage(
        consumer_id=2,
        message_id=MessageIdData(ledgerId=12, entryId=300, partition=1),
        redelivery_count=1,
        ack_set=(-2, 7),
    ),
    CommandLookupTopicResponse(
        brokerServiceUrl="pulsar://localhost:6650", response=LookupType.Connect, request_id=3
    ),
    CommandSubscribe(
        topic="persistent://public/default/t",
        subscription="s",
        subType=SubType.Key_Shared,
        consumer_id=1,
        request_id=2,
        keySharedMeta=KeySharedMeta(keySharedMode=0),
        metadata={"a": "b"},
    ),  # type: ignore[arg-type]
    CommandAck(
        consumer_id=1,
        ack_type=AckType.Individual,
        message_id=(MessageIdData(ledgerId=1, entryId=2, ack_set=(5,)),),
        request_id=4,
    ),
]

SHAPE = MessageShape(properties={"k": "v"}, partition_key="key")
STREAM = b"".join(
    [encode_command(c) for c in COMMANDS]
    + [
        SendFrameBuilder(1, "p", compression=kind, shape=SHAPE).batch(
            [b"payload-%d" % i for i in range(5)], 10, 1000
        )
        for kind in AVAILABLE
    ]
)

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mutate(data: bytes, rnd: random.Random, edits: int) -> bytes:
    buf = bytearray(data)
    for _ in range(edits):
        op = rnd.randrange(4)
        if not buf:
            break
        i = rnd.randrange(len(buf))
        if op == 0:
            buf[i] = rnd.randrange(256)
        elif op == 1:
            buf[i] ^= 1 << rnd.randrange(8)
        elif op == 2:
            del buf[i : i + rnd.randrange(1, 8)]
        else:
            buf[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 8)))
    return bytes(buf)


def _consume_frames(data: bytes, chunk: int) -> None:
    """Feed like a reader thread, then do what a consumer does with each frame."""
    parser = FrameParser(max_message_size=1 << 20)
    try:
        for i in range(0, len(data), chunk):
            for frame in parser.feed(data[i : i + chunk]):
                if frame.error is not None:
                    assert isinstance(frame.error, ProtocolError)
                    continue
                md = frame.metadata
                if md is None or frame.payload is None:
                    continue
                raw = frame.payload
                if md.compression:
                    raw = decompress(md.compression, raw, md.uncompressed_size or 0, 1 << 20)
                if md.num_messages_in_batch is not None:
                    parse_batch(raw, md.num_messages_in_batch)
        parser.feed_eof()
    except ProtocolError:
        pass


@FUZZ
@given(st.randoms(use_true_random=False), st.integers(1, 12), st.integers(1, 600))
def test_mutated_streams(rnd: random.Random, edits: int, chunk: int) -> None:
    _consume_frames(_mutate(STREAM, rnd, edits), chunk)


@FUZZ
@given(st.integers(0, len(STREAM)), st.integers(1, 64))
def test_truncated_streams(cut: int, chunk: int) -> None:
    _consume_frames(STREAM[:cut], chunk)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_into_the_parser(data: bytes) -> None:
    _consume_frames(data, 7)


@FUZZ
@given(st.randoms(use_true_random=False), st.integers(0, 6), st.integers(1, 6))
def test_mutated_commands_and_metadata(rnd: random.Random, which: int, edits: int) -> None:
    data = _mutate(encode_base_command(COMMANDS[which]), rnd, edits)
    with contextlib.suppress(ProtocolError):
        decode_base_command(data)
    md = MessageMetadata(
        producer_name="p",
        sequence_id=1,
        publish_time=2,
        properties={"a": "b"},
        compression=CompressionType.LZ4,  # type: ignore[arg-type]
        uncompressed_size=10,
        num_messages_in_batch=3,
        ordering_key=b"o",
    )
    for cls, msg in (
        (MessageMetadata, md),
        (SingleMessageMetadata, SingleMessageMetadata(payload_size=5, partition_key="k")),
    ):
        with contextlib.suppress(ProtocolError):
            cls.decode(_mutate(msg.encode(), rnd, edits))  # type: ignore[attr-defined]
    with contextlib.suppress(ProtocolError):
        MessageId.deserialize(_mutate(MessageId(5, 6, 1, 2, 3).serialize(), rnd, edits))


@FUZZ
@given(st.randoms(use_true_random=False), st.integers(1, 8), st.integers(0, 10))
def test_mutated_batches(rnd: random.Random, edits: int, extra: int) -> None:
    data = SHAPE.batch_payload([b"m%d" % i for i in range(6)])
    with contextlib.suppress(ProtocolError):
        parse_batch(_mutate(data, rnd, edits), 6 + extra - 5)


@FUZZ
@given(
    st.randoms(use_true_random=False),
    st.sampled_from([k for k in AVAILABLE if k is not CompressionType.NONE]),
    st.integers(1, 8),
    st.integers(0, 5000),
)
def test_mutated_compressed_payloads(
    rnd: random.Random, kind: CompressionType, edits: int, declared: int
) -> None:
    data = get_codec(kind).compress(b"compressible payload " * 100)
    try:
        out = decompress(kind, _mutate(data, rnd, edits), declared, max_size=1 << 16)
        assert len(out) == declared
    except ProtocolError:
        pass


@FUZZ
@given(st.binary(max_size=100), st.integers(0, 1 << 16))
def test_random_snappy_blocks(data: bytes, max_size: int) -> None:
    with contextlib.suppress(ProtocolError):
        snappy_decompress(data, max_size=max_size)
