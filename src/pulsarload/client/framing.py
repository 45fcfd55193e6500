"""How a producer turns sends into SEND frames: open batches, single messages, chunks.

`SendFraming` is the producer's part that runs under its send lock: it assigns sequence ids,
adds messages to the open batch (flushed by size, count or the housekeeping thread's timer),
frames single messages (compressed and encrypted as configured, chunked when over the broker's
size limit) and hands each frame to the pending queue, which writes it if connected.
The bulk paths' frames come from the wire layer's `SendFrameBuilder` (see `_builder`).
"""

from __future__ import annotations

import math
import struct
import threading
import time
from typing import TYPE_CHECKING

from pulsarload.client.errors import NotConnected, PulsarError
from pulsarload.client.handler import READY
from pulsarload.client.outgoing import OutgoingMessage, now_ms
from pulsarload.client.pending import KIND_BATCH, KIND_SINGLE, Completion, PendingEntry
from pulsarload.wire.batch import FRAME_RESERVE, MessageShape, SendFrameBuilder
from pulsarload.wire.commands import CommandSend
from pulsarload.wire.frames import encode_payload_command
from pulsarload.wire.messages import MessageMetadata, SingleMessageMetadata, key_values

if TYPE_CHECKING:
    from collections import deque

    from pulsarload.client.batcher import BatchContainer, OpenBatch
    from pulsarload.client.connection import Connection
    from pulsarload.client.crypto import MessageEncryptor
    from pulsarload.client.settings import ProducerConfig
    from pulsarload.client.timer import HousekeepingThread
    from pulsarload.wire.compression import Codec
    from pulsarload.wire.enums import CompressionType as WireCompression

__all__ = ["HEADROOM", "SendFraming"]

U32 = struct.Struct(">I").pack
#: Room kept for MessageMetadata, command and frame headers when checking sizes.
HEADROOM = 2048


class SendFraming:
    """Frames for the producer's sends (see the module docstring); called holding `_lock`."""

    # Set by _enqueue_locked / _add_to_batch_locked; read under `_lock` by the same thread.
    _entry_taken = False

    if TYPE_CHECKING:  # the producer's fields this part reads
        _conf: ProducerConfig
        _conn: Connection | None
        _state: int
        _name: str
        _producer_id: int
        _next_seq: int
        _fatal: PulsarError | None
        _codec: Codec | None
        _compression: WireCompression | None
        _encryptor: MessageEncryptor | None
        _batcher: BatchContainer
        _batch_max_msgs: int
        _batch_max_bytes: int
        _batch_delay: float
        _builders: dict[int, tuple[str, SendFrameBuilder, MessageShape | None]]
        _shapes: dict[str | None, MessageShape]
        _max_message_size: int
        _send_timeout: float
        _housekeeping: HousekeepingThread
        _pending: deque[PendingEntry]
        _pending_lock: threading.Lock
        _entries_added: int

        def _fail_entry(self, entry: PendingEntry, err: PulsarError) -> None: ...

    def _builder(self, shape: MessageShape | None) -> SendFrameBuilder:
        """The frame builder for this producer name and shape (rebuilt if the name changes)."""
        key = id(shape) if shape is not None else 0
        b = self._builders.get(key)
        if b is None or b[0] != self._name or b[2] is not shape:
            builder = SendFrameBuilder(
                self._producer_id,
                self._name,
                compression=int(self._conf.compression_type),
                shape=shape,
                schema_version=self._schema_version,
            )
            if len(self._builders) > 64:
                self._builders.clear()
            self._builders[key] = (self._name, builder, shape)
            return builder
        return b[1]

    def _assign_seq(self, msg: OutgoingMessage) -> int:
        if msg.seq is not None:
            seq = msg.seq
            if seq >= self._next_seq:
                self._next_seq = seq + 1
            return seq
        seq = self._next_seq
        self._next_seq = seq + 1
        return seq

    def _add_to_batch_locked(self, msg: OutgoingMessage, done: Completion | None) -> None:
        content = msg.content
        seq = self._assign_seq(msg)
        if (
            msg.properties is None
            and msg.event_time is None
            and msg.ordering_key is None
            and not msg.null_value
            and not msg.key_b64
        ):
            # Plain or keyed-only messages: the encoded [size][SingleMessageMetadata] comes
            # from a per-key MessageShape cache (no protobuf encoding per message).
            shapes = self._shapes
            shape = shapes.get(msg.key)
            if shape is None:
                if len(shapes) >= 1024:
                    shapes.clear()
                shape = shapes[msg.key] = MessageShape(partition_key=msg.key)
            piece = shape.prefix(len(content)) + content
        else:
            smm = SingleMessageMetadata(
                properties=key_values(msg.properties) if msg.properties else (),
                partition_key=msg.key,
                partition_key_b64_encoded=True if msg.key_b64 else None,
                payload_size=len(content),
                event_time=msg.event_time,
                ordering_key=msg.ordering_key,
                sequence_id=seq,
                null_value=True if msg.null_value else None,
            ).encode()
            piece = b"".join((U32(len(smm)), smm, content))
        # The frame, not only the pieces, stays within the batch byte limit (FRAME_RESERVE).
        # (With key-based batching the limits count all open batches together.)
        limit = min(self._batch_max_bytes - FRAME_RESERVE, self._max_message_size - HEADROOM)
        batcher = self._batcher
        if batcher and batcher.nbytes + len(piece) > limit:
            self._flush_batch_locked()
            self._entry_taken = False
        if batcher:
            batcher.add(piece, done, seq, msg.key, msg.ordering_key, math.inf, msg.key_b64)
        else:  # the first message arms the batch timer
            deadline = time.monotonic() + self._batch_delay
            batcher.add(piece, done, seq, msg.key, msg.ordering_key, deadline, msg.key_b64)
            self._housekeeping.wake_by(deadline)
        self._entry_taken = True
        if batcher.messages >= self._batch_max_msgs or batcher.nbytes >= limit:
            self._flush_batch_locked()

    def _flush_batch_locked(self) -> None:
        if not self._batcher:
            return
        for batch in self._batcher.take():
            self._send_batch_locked(batch)

    def _send_batch_locked(self, batch: OpenBatch) -> None:
        n = len(batch.pieces)
        first, last = batch.first_seq, batch.last_seq
        payload = b"".join(batch.pieces)
        uncompressed = len(payload)
        if self._codec is not None:
            payload = self._codec.compress(payload)
        # The entry carries its first message's keys: the broker dispatches on them (and
        # hashes a base64 key's decoded bytes, so the entry says when its key is base64).
        md = MessageMetadata(
            producer_name=self._name,
            sequence_id=first,
            publish_time=now_ms(),
            partition_key=batch.partition_key,
            partition_key_b64_encoded=True if batch.key_b64 and batch.partition_key else None,
            num_messages_in_batch=n,
            compression=self._compression,
            uncompressed_size=uncompressed if self._compression is not None else None,
            ordering_key=batch.ordering_key,
            highest_sequence_id=last if last > first else None,
            schema_version=self._schema_version,
        )
        if self._encryptor is not None:
            payload = self._encrypt_into(md, payload)
        cmd = CommandSend(
            producer_id=self._producer_id,
            sequence_id=first,
            num_messages=n,
            highest_sequence_id=last if last > first else None,
        )
        frame = encode_payload_command(cmd, md.encode(), payload)
        self._enqueue_locked(
            PendingEntry(
                first, n, frame, KIND_BATCH, batch.callbacks, time.monotonic() + self._send_timeout
            )
        )

    def _metadata_for(self, msg: OutgoingMessage, seq: int, uncompressed: int) -> MessageMetadata:
        compression = self._compression if uncompressed > 0 else None
        return MessageMetadata(
            producer_name=self._name,
            sequence_id=seq,
            publish_time=now_ms(),
            properties=key_values(msg.properties) if msg.properties else (),
            partition_key=msg.key,
            partition_key_b64_encoded=True if msg.key_b64 else None,
            compression=compression,
            uncompressed_size=uncompressed if compression is not None else None,
            event_time=msg.event_time,
            ordering_key=msg.ordering_key,
            deliver_at_time=msg.deliver_at,
            replicate_to=msg.replicate_to or (),
            null_value=True if msg.null_value else None,
            schema_version=self._schema_version,
        )

    def _send_single_locked(
        self, msg: OutgoingMessage, payload: bytes | bytearray | memoryview, done: Completion | None
    ) -> None:
        seq = self._assign_seq(msg)
        md = self._metadata_for(msg, seq, len(msg.content))
        if self._encryptor is not None:
            payload = self._encrypt_into(md, payload)
        deadline = time.monotonic() + self._send_timeout
        if len(payload) + HEADROOM <= self._max_message_size:
            cmd = CommandSend(producer_id=self._producer_id, sequence_id=seq)
            frame = encode_payload_command(cmd, md.encode(), payload)
            self._enqueue_locked(PendingEntry(seq, 1, frame, KIND_SINGLE, done, deadline))
            return
        # Chunking: every chunk carries the same sequence id and uuid, its chunk_id, and the
        # message's metadata; only the last chunk's receipt completes the message.
        total = len(payload)
        md.uuid = f"{self._name}-{seq}"
        md.total_chunk_msg_size = total
        md.num_chunks_from_msg = 1 << 30  # upper bound while sizing the metadata
        md.chunk_id = 1 << 30
        chunk_size = self._max_message_size - len(md.encode()) - HEADROOM
        num_chunks = -(-total // chunk_size)
        md.num_chunks_from_msg = num_chunks
        view = memoryview(payload)
        for i in range(num_chunks):
            md.chunk_id = i
            cmd = CommandSend(producer_id=self._producer_id, sequence_id=seq, is_chunk=True)
            frame = encode_payload_command(
                cmd, md.encode(), bytes(view[i * chunk_size : (i + 1) * chunk_size])
            )
            last = i == num_chunks - 1
            self._enqueue_locked(
                PendingEntry(
                    seq, 1 if last else 0, frame, KIND_SINGLE, done if last else None, deadline
                )
            )

    def _encrypt_into(self, md: MessageMetadata, payload: bytes | bytearray | memoryview) -> bytes:
        """Encrypt an entry's (compressed) payload and record the keys and IV in `md`."""
        assert self._encryptor is not None
        body, keys, iv = self._encryptor.encrypt(payload)
        md.encryption_keys = keys
        md.encryption_param = iv
        return body

    def _enqueue_locked(self, entry: PendingEntry) -> None:
        """Add an entry to the in-flight queue and write it if connected (holding `_lock`)."""
        self._entry_taken = True
        if self._fatal is not None:
            self._fail_entry(entry, self._fatal)
            return
        with self._pending_lock:
            was_empty = not self._pending
            self._pending.append(entry)
            self._entries_added += 1
        if was_empty and entry.deadline != math.inf:
            self._housekeeping.wake_by(entry.deadline)
        conn = self._conn
        if self._state == READY and conn is not None:
            try:  # noqa: SIM105 - hot path: no context-manager object per send
                conn.send(entry.frame)
            except NotConnected:
                pass  # connection_closed starts the reconnect, which resends this entry
