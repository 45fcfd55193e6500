"""Batch payloads and whole SEND frames, built with as little per-message Python as possible.

A batch payload is ``[u32 BE size][SingleMessageMetadata][payload]`` repeated once per message;
the whole buffer is compressed once, and the outer ``MessageMetadata`` carries
``num_messages_in_batch`` (present even for a batch of one: it marks the payload as a batch).

Building (producer side):
    ``MessageShape(properties=..., partition_key=..., ...)``  the per-message metadata shared by
        every message of a load run (everything but ``payload_size``); it caches the encoded
        ``[size][SingleMessageMetadata]`` prefix per payload size, so a batch is a ``b"".join``
        of prefixes and payloads with no per-message encoding.
    ``shape.batch_payload(payloads) -> bytes``   C-level only: all payloads of one size use one
        prefix (``[prefix] * 2n`` with the payloads slotted in); mixed sizes look prefixes up
        through ``map``. ``shape.repeated_payload(payload, n)`` for one payload n times.
    ``encode_batch_payload(messages)``  the general path: (SingleMessageMetadata, payload) pairs,
        for per-message keys, properties, event times or sequence ids.
    ``SendFrameBuilder(producer_id, producer_name, compression=..., shape=...)``  whole SEND
        frames: ``.batch(payloads, sequence_id, publish_time)`` / ``.single(payload, ...)``;
        ``.batch_parts(...)`` returns (header, body) to write with ``sendmsg`` without joining;
        ``.repeated(payload, n, ...)``; ``.single`` puts the shape's properties and keys in the
        MessageMetadata, a batch its keys (what the broker dispatches a Key_Shared entry on). Metadata and CommandSend bytes are assembled from precomputed pieces.
    ``batch_metadata(...)``  the outer MessageMetadata of a batch, for the general path.

Parsing (consumer side):
    ``parse_batch(payload, num_messages) -> list[(SingleMessageMetadata, memoryview)]``
        payloads are views into the batch (no copy). Identical metadata bytes within one batch
        decode once and share one object: treat it as read-only. A batch of identical-metadata
        messages (the load-generator case) is split with no per-message Python loop.
        Malformed batches raise ``DecodeError``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from itertools import repeat

from crc32c import crc32c

from pulsarload.wire.compression import get_codec
from pulsarload.wire.enums import CompressionType
from pulsarload.wire.errors import DecodeError
from pulsarload.wire.messages import (
    KeyValue,
    MessageMetadata,
    SingleMessageMetadata,
    key_values,
)
from pulsarload.wire.protobuf import encode_length_delimited, encode_varint

__all__ = [
    "FRAME_RESERVE",
    "BatchMessage",
    "MessageShape",
    "SendFrameBuilder",
    "batch_metadata",
    "encode_batch_payload",
    "parse_batch",
]

type Buffer = bytes | bytearray | memoryview

_U32 = struct.Struct(">I")
_u32_pack = _U32.pack
_u32_unpack_from = _U32.unpack_from
_FRAME_SIZES = struct.Struct(">II")

#: Bytes a batch SEND frame adds around its batch payload (frame sizes, CommandSend, checksum,
#: MessageMetadata with a producer name of ordinary length): ~60-100 in practice. pulsarload
#: bounds the whole frame by "batch max bytes", not just the payload, so that the default of
#: 128 KiB stays one buffer of at most 128 KiB: mimalloc's largest "medium" block. On 3.13t a
#: bigger buffer takes the large-object path, which with two threads hands its pages back to
#: the OS and faults them in again for every batch (4-10x the page faults, ~15 % more CPU per
#: message at 1 KiB; docs/tuning.md).
FRAME_RESERVE = 512
_MAGIC_AND_CRC = struct.Struct(">HI")


class MessageShape:
    """Per-message metadata shared by every message of a batch; caches encoded prefixes.

    A shape is immutable after creation and safe to share between threads (the prefix cache
    only ever gains equal values for a key).
    """

    __slots__ = ("_prefixes", "_template")

    def __init__(
        self,
        *,
        properties: Mapping[str, str] | Iterable[KeyValue] = (),
        partition_key: str | None = None,
        ordering_key: bytes | None = None,
        event_time: int | None = None,
        null_value: bool | None = None,
        partition_key_b64_encoded: bool | None = None,
    ) -> None:
        props = key_values(properties) if isinstance(properties, Mapping) else tuple(properties)
        self._template = SingleMessageMetadata(
            properties=props,
            partition_key=partition_key,
            partition_key_b64_encoded=partition_key_b64_encoded,
            payload_size=0,
            event_time=event_time,
            ordering_key=ordering_key,
            null_value=null_value,
        )
        self._prefixes: dict[int, bytes] = _PrefixCache(self._template)

    @property
    def template(self) -> SingleMessageMetadata:
        """The shared metadata (``payload_size`` 0)."""
        return self._template

    def metadata(self, payload_size: int) -> SingleMessageMetadata:
        """The SingleMessageMetadata of one message of this shape."""
        return replace(self._template, payload_size=payload_size)

    def prefix(self, payload_size: int) -> bytes:
        """``[u32 size][SingleMessageMetadata]`` for a payload of this size (cached)."""
        return self._prefixes[payload_size]

    def batch_payload(self, payloads: Sequence[Buffer]) -> bytes:
        """The uncompressed batch payload for ``payloads`` (no per-message Python code)."""
        n = len(payloads)
        if n == 0:
            return b""
        sizes = set(map(len, payloads))
        parts: list[Buffer]
        if len(sizes) == 1:
            parts = [self._prefixes[sizes.pop()]] * (2 * n)
        else:
            parts = [b""] * (2 * n)
            parts[0::2] = list(map(self._prefixes.__getitem__, map(len, payloads)))
        parts[1::2] = payloads
        return b"".join(parts)

    def per_message_overhead(self, payload_size: int) -> int:
        """Bytes one message of ``payload_size`` adds to a batch besides its payload (the size
        word and its SingleMessageMetadata); an upper bound for any smaller payload."""
        return len(self._prefixes[payload_size])

    def repeated_payload(self, payload: Buffer, count: int) -> bytes:
        """The batch payload of one payload sent ``count`` times."""
        return (self._prefixes[len(payload)] + payload) * count


class _PrefixCache(dict[int, bytes]):
    __slots__ = ("_template",)

    def __init__(self, template: SingleMessageMetadata) -> None:
        super().__init__()
        self._template = template

    def __missing__(self, size: int) -> bytes:
        smm = replace(self._template, payload_size=size).encode()
        prefix = _u32_pack(len(smm)) + smm
        if len(self) < 4096:  # bounded: a run with random sizes must not grow it forever
            self[size] = prefix
        return prefix


_DEFAULT_SHAPE = MessageShape()


def encode_batch_payload(
    messages: Iterable[tuple[SingleMessageMetadata, Buffer]],
) -> bytes:
    """The general path: a batch payload from (metadata, payload) pairs.

    ``payload_size`` is taken from the payload; the one in the metadata is ignored.
    """
    parts: list[Buffer] = []
    for md, payload in messages:
        if md.payload_size != len(payload):
            md = SingleMessageMetadata(
                properties=md.properties,
                partition_key=md.partition_key,
                payload_size=len(payload),
                compacted_out=md.compacted_out,
                event_time=md.event_time,
                partition_key_b64_encoded=md.partition_key_b64_encoded,
                ordering_key=md.ordering_key,
                sequence_id=md.sequence_id,
                null_value=md.null_value,
                null_partition_key=md.null_partition_key,
            )
        smm = md.encode()
        parts.append(_u32_pack(len(smm)))
        parts.append(smm)
        parts.append(payload)
    return b"".join(parts)


def batch_metadata(
    producer_name: str,
    sequence_id: int,
    publish_time: int,
    num_messages: int,
    *,
    compression: CompressionType = CompressionType.NONE,
    uncompressed_size: int | None = None,
    highest_sequence_id: int | None = None,
    partition_key: str | None = None,
    ordering_key: bytes | None = None,
    partition_key_b64_encoded: bool | None = None,
) -> MessageMetadata:
    """The outer MessageMetadata of a batch (num_messages_in_batch always present); the keys
    are those of its first message, which the broker dispatches the entry on."""
    compressed = compression != CompressionType.NONE
    return MessageMetadata(
        producer_name=producer_name,
        sequence_id=sequence_id,
        publish_time=publish_time,
        partition_key=partition_key,
        partition_key_b64_encoded=partition_key_b64_encoded if partition_key is not None else None,
        ordering_key=ordering_key,
        compression=CompressionType(compression) if compressed else None,
        uncompressed_size=uncompressed_size if compressed else None,
        num_messages_in_batch=num_messages,
        highest_sequence_id=highest_sequence_id,
    )


class SendFrameBuilder:
    """Builds whole SEND frames for one producer from precomputed byte pieces.

    Per frame it encodes only the varying numbers (sequence ids, publish time, count, sizes)
    and computes one CRC32C; per message it does no Python work at all for a batch.
    One builder per producer; not shared between threads (it holds no mutable state, though).
    """

    __slots__ = (
        "_batch_high",
        "_batch_low",
        "_codec",
        "_compressed",
        "_md_compression",
        "_md_producer",
        "_send_head",
        "_single_high",
        "_single_low",
        "_single_tail",
        "shape",
    )

    def __init__(
        self,
        producer_id: int,
        producer_name: str,
        *,
        compression: CompressionType | int | str = CompressionType.NONE,
        shape: MessageShape | None = None,
        schema_version: bytes | None = None,
    ) -> None:
        self._codec = get_codec(compression)
        self._compressed = self._codec.type != CompressionType.NONE
        self.shape = shape if shape is not None else _DEFAULT_SHAPE
        # MessageMetadata field 1 (producer_name) and field 8 (compression).
        self._md_producer = encode_length_delimited(1, producer_name.encode())
        self._md_compression = (
            b"\x40" + encode_varint(self._codec.type) if self._compressed else b""
        )
        # CommandSend field 1 (producer_id).
        self._send_head = b"\x08" + encode_varint(producer_id)
        # The shape's fields as MessageMetadata fields, for unbatched frames, in three pieces
        # so that every frame lists its fields in number order: 4 properties, 6 partition_key;
        # 12 event_time, 18 ordering_key; (24 highest_sequence_id goes between) 25 null_value.
        t = self.shape.template
        low = [encode_length_delimited(4, kv.encode()) for kv in t.properties]
        if t.partition_key is not None:
            low.append(encode_length_delimited(6, t.partition_key.encode()))
        high = []
        if t.event_time is not None:
            high.append(b"\x60" + encode_varint(t.event_time))
        # 16 schema_version: which registry version the payloads are encoded with.
        schema = b"" if schema_version is None else encode_length_delimited(16, schema_version)
        high.append(schema)
        # 17 partition_key_b64_encoded: the key is base64 of bytes (a KEY_VALUE SEPARATED key).
        b64 = (
            b""
            if t.partition_key is None or t.partition_key_b64_encoded is None
            else b"\x88\x01" + (b"\x01" if t.partition_key_b64_encoded else b"\x00")
        )
        high.append(b64)
        if t.ordering_key is not None:
            high.append(encode_length_delimited(18, t.ordering_key))
        self._single_low = b"".join(low)
        self._single_high = b"".join(high)
        # A batch's outer MessageMetadata carries the shape's keys too (6 partition_key,
        # 17 its base64 flag, 18 ordering_key): the broker dispatches a whole entry on them
        # (Key_Shared hashes the decoded bytes of a base64 key, as the Java client's batches say).
        self._batch_low = (
            b"" if t.partition_key is None else encode_length_delimited(6, t.partition_key.encode())
        )
        self._batch_high = (
            schema
            + b64
            + (b"" if t.ordering_key is None else encode_length_delimited(18, t.ordering_key))
        )
        self._single_tail = (
            b"" if t.null_value is None else b"\xc8\x01\x01" if t.null_value else b"\xc8\x01\x00"
        )

    @property
    def compression(self) -> CompressionType:
        """The compression type of every frame this builder makes."""
        return self._codec.type

    def batch(
        self,
        payloads: Sequence[Buffer],
        sequence_id: int,
        publish_time: int,
        *,
        highest_sequence_id: int | None = None,
        entry_properties: Mapping[str, str] | None = None,
    ) -> bytes:
        """A SEND frame carrying ``payloads`` as one batch (first message = ``sequence_id``).

        ``entry_properties`` go into the entry's own MessageMetadata, not into any message's:
        clients show messages of a batch their SingleMessageMetadata's properties only, so
        these are for a reader of whole entries (pulsarload's intended-send-time stamp)."""
        header, body = self.batch_parts(
            payloads,
            sequence_id,
            publish_time,
            highest_sequence_id=highest_sequence_id,
            entry_properties=entry_properties,
        )
        return header + body

    def batch_parts(
        self,
        payloads: Sequence[Buffer],
        sequence_id: int,
        publish_time: int,
        *,
        highest_sequence_id: int | None = None,
        entry_properties: Mapping[str, str] | None = None,
    ) -> tuple[bytes, Buffer]:
        """Like ``batch`` but as (header, body), to write without joining a large body."""
        n = len(payloads)
        if n == 0:
            raise ValueError("a batch needs at least one message")
        body: Buffer = self.shape.batch_payload(payloads)
        props = (
            b"".join(encode_length_delimited(4, kv.encode()) for kv in key_values(entry_properties))
            if entry_properties
            else b""
        )
        return self._frame(body, sequence_id, publish_time, n, True, highest_sequence_id, props)

    def repeated(
        self,
        payload: Buffer,
        count: int,
        sequence_id: int,
        publish_time: int,
        *,
        highest_sequence_id: int | None = None,
    ) -> bytes:
        """A SEND frame batching one payload ``count`` times."""
        if count <= 0:
            raise ValueError("a batch needs at least one message")
        header, body = self._frame(
            self.shape.repeated_payload(payload, count),
            sequence_id,
            publish_time,
            count,
            True,
            highest_sequence_id,
        )
        return header + body

    def single(
        self,
        payload: Buffer,
        sequence_id: int,
        publish_time: int,
        *,
        highest_sequence_id: int | None = None,
    ) -> bytes:
        """A SEND frame with one message, not batched (no num_messages_in_batch); the shape's
        properties and keys go into its MessageMetadata."""
        header, body = self._frame(
            payload, sequence_id, publish_time, 1, False, highest_sequence_id
        )
        return header + body

    def _frame(
        self,
        body: Buffer,
        sequence_id: int,
        publish_time: int,
        n: int,
        is_batch: bool,
        highest_sequence_id: int | None,
        entry_properties: bytes = b"",
    ) -> tuple[bytes, Buffer]:
        md_parts = [
            self._md_producer,
            b"\x10",
            encode_varint(sequence_id),
            b"\x18",
            encode_varint(publish_time),
        ]
        if not is_batch:
            md_parts.append(self._single_low)
        else:
            if entry_properties:
                md_parts.append(entry_properties)  # field 4, in number order before 6
            md_parts.append(self._batch_low)
        if self._compressed:
            uncompressed = len(body)
            body = self._codec.compress(body)
            md_parts += (self._md_compression, b"\x48", encode_varint(uncompressed))
        if is_batch:
            md_parts += (b"\x58", encode_varint(n), self._batch_high)
        else:
            md_parts.append(self._single_high)
        send = [self._send_head, b"\x10", encode_varint(sequence_id)]
        if n != 1:
            send += (b"\x18", encode_varint(n))
        if highest_sequence_id is not None:
            md_parts += (b"\xc0\x01", encode_varint(highest_sequence_id))
            send += (b"\x30", encode_varint(highest_sequence_id))
        if not is_batch:
            md_parts.append(self._single_tail)
        md = b"".join(md_parts)
        send_body = b"".join(send)
        # BaseCommand: type SEND (08 06), sub-command at field 6 (0x32).
        base = b"\x08\x06\x32" + encode_varint(len(send_body)) + send_body
        md_block = _u32_pack(len(md)) + md
        crc = crc32c(body, crc32c(md_block))
        cmd_size = len(base)
        total = 4 + cmd_size + 6 + len(md_block) + len(body)
        header = b"".join(
            (_FRAME_SIZES.pack(total, cmd_size), base, _MAGIC_AND_CRC.pack(0x0E01, crc), md_block)
        )
        return header, body


#: One message of a received batch: (metadata, payload); its index is its list position.
type BatchMessage = tuple[SingleMessageMetadata, memoryview]


def parse_batch(payload: Buffer, num_messages: int) -> list[BatchMessage]:
    """Split an (uncompressed) batch payload into its ``num_messages`` (metadata, payload) pairs.

    Payloads are memoryviews into ``payload`` (no copy). A batch whose messages all carry the
    same metadata (what a load generator sends) is split without a per-message Python loop.
    """
    if num_messages < 0:
        raise DecodeError(f"batch: num_messages_in_batch is negative ({num_messages})")
    buf = payload if type(payload) is bytes else bytes(payload)
    view = payload if isinstance(payload, memoryview) else memoryview(buf)
    if num_messages > 1:
        uniform = _parse_uniform(buf, view, num_messages)
        if uniform is not None:
            return uniform
    end = len(buf)
    cache: dict[bytes, SingleMessageMetadata] = {}
    out: list[BatchMessage] = []
    append = out.append
    decode = SingleMessageMetadata.decode
    pos = 0
    for index in range(num_messages):
        md_start = pos + 4
        if md_start > end:
            raise DecodeError(
                f"batch: message {index} of {num_messages} starts at offset {pos} but the "
                f"payload has {end} bytes"
            )
        md_end = md_start + _u32_unpack_from(buf, pos)[0]
        if md_end > end:
            raise DecodeError(
                f"batch: metadata of message {index} runs past the {end}-byte payload"
            )
        key = buf[md_start:md_end]
        md = cache.get(key)
        if md is None:
            md = decode(key)
            if md.payload_size < 0:
                raise DecodeError(
                    f"batch: message {index} has a negative payload_size {md.payload_size}"
                )
            cache[key] = md
        pos = md_end + md.payload_size
        if pos > end:
            raise DecodeError(
                f"batch: payload of message {index} ({md.payload_size} bytes) runs past the "
                f"{end}-byte payload"
            )
        append((md, view[md_end:pos]))
    if pos != end:
        raise DecodeError(f"batch: {end - pos} bytes left over after {num_messages} messages")
    return out


def _parse_uniform(buf: bytes, view: memoryview, n: int) -> list[BatchMessage] | None:
    """The batch as n equal-stride records with identical metadata, or None if it is not."""
    end = len(buf)
    if end < 4:
        return None
    lead = 4 + _u32_unpack_from(buf, 0)[0]  # size field + metadata
    if lead > end:
        return None
    try:
        md = SingleMessageMetadata.decode(buf[4:lead])
    except DecodeError:
        return None  # the general path reports it
    stride = lead + md.payload_size
    if md.payload_size < 0 or stride * n != end:
        return None
    # Every record must start with the same `lead` bytes: check column by column (C loops).
    for column in range(lead):
        if buf[column::stride].count(buf[column]) != n:
            return None
    payloads = map(
        view.__getitem__, map(slice, range(lead, end + 1, stride), range(stride, end + 1, stride))
    )
    return list(zip(repeat(md, n), payloads, strict=True))
