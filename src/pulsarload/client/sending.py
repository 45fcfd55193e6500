"""The producer's sending API: the official client's `send` and `send_async`, and the bulk
fast paths `send_batch` and `send_repeated` the load tool sends through.

`ProducerSends` is the part of `Producer` that takes a send: it checks the message, takes a
permit of the bounded queue (before the send lock, so a blocked sender never holds it), and
under the lock hands the message to the framing (`framing.SendFraming`: the open batch, a
single or chunked frame) or, for the bulk paths, one frame from the wire layer's builder.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pulsarload.client.errors import (
    AlreadyClosed,
    InvalidConfiguration,
    InvalidMessage,
    MessageTooBig,
    TimeoutError,
)
from pulsarload.client.framing import HEADROOM, SendFraming
from pulsarload.client.outgoing import OutgoingMessage, check_content, check_props, now_ms
from pulsarload.client.pending import (
    KIND_BULK,
    BatchCallback,
    Completion,
    PendingEntry,
    PendingSends,
    SendCallback,
    SyncWaiter,
)
from pulsarload.wire.batch import MessageShape, SendFrameBuilder
from pulsarload.wire.message_id import MessageId

if TYPE_CHECKING:
    from pulsarload.client.schema.schemas import Schema

__all__ = ["ProducerSends"]


class ProducerSends(SendFraming, PendingSends):
    """The sending API of a producer (see the module docstring)."""

    if TYPE_CHECKING:  # the producer's fields this part reads
        _topic: str
        _schema: Schema | None
        _batching: bool
        _closing: bool
        _lock: threading.Lock

    def _outgoing(
        self,
        content: Any,
        properties: Mapping[str, str] | None,
        partition_key: str | None,
        ordering_key: str | bytes | None,
        sequence_id: int | None,
        event_timestamp: int | None,
        deliver_at: int | None,
        deliver_after: timedelta | float | None,
        replication_clusters: Sequence[str] | None,
        disable_replication: bool,
    ) -> OutgoingMessage:
        """One `send`'s message, its content encoded by the schema (if any) and checked. A
        schema that keeps its key apart (KEY_VALUE SEPARATED) puts the encoded key in the
        message key, base64 as the Java client does."""
        payload, key_b64 = content, False
        if self._schema is not None and content is not None:
            payload, key = self._schema.encode_message(content)
            if key is not None:
                if partition_key is not None:
                    raise InvalidMessage(
                        f"{self._schema}: the message key is the encoded key of the value; "
                        "do not pass partition_key too"
                    )
                partition_key, key_b64 = base64.b64encode(key).decode("ascii"), True
        return OutgoingMessage(
            payload,
            properties,
            partition_key,
            ordering_key,
            sequence_id,
            event_timestamp,
            deliver_at,
            deliver_after,
            replication_clusters,
            disable_replication,
            key_b64,
        )

    def send(
        self,
        content: bytes | None,
        properties: Mapping[str, str] | None = None,
        partition_key: str | None = None,
        ordering_key: str | bytes | None = None,
        sequence_id: int | None = None,
        replication_clusters: Sequence[str] | None = None,
        disable_replication: bool = False,
        event_timestamp: int | None = None,
        deliver_at: int | None = None,
        deliver_after: timedelta | float | None = None,
    ) -> MessageId:
        """Send one message and wait for its receipt; raises the mapped error on failure.
        With a schema, `content` is a value of it (a Record, a str...), encoded here."""
        msg = self._outgoing(
            content,
            properties,
            partition_key,
            ordering_key,
            sequence_id,
            event_timestamp,
            deliver_at,
            deliver_after,
            replication_clusters,
            disable_replication,
        )
        waiter = SyncWaiter()
        self._send_message(msg, waiter)
        # The send timeout bounds the wait (plus the batch delay); without one, as the
        # official client, wait for the receipt or a failure.
        limit = (
            None if math.isinf(self._send_timeout) else self._send_timeout + self._batch_delay + 5
        )
        if not waiter.event.wait(limit):
            raise TimeoutError(f"send to {self._topic}: no receipt within {limit:g} s")
        if waiter.error is not None:
            raise waiter.error
        assert waiter.msg_id is not None
        return waiter.msg_id

    def send_async(
        self,
        content: bytes | None,
        callback: SendCallback | None,
        properties: Mapping[str, str] | None = None,
        partition_key: str | None = None,
        ordering_key: str | bytes | None = None,
        sequence_id: int | None = None,
        replication_clusters: Sequence[str] | None = None,
        disable_replication: bool = False,
        event_timestamp: int | None = None,
        deliver_at: int | None = None,
        deliver_after: timedelta | float | None = None,
    ) -> None:
        """Queue one message; `callback(result, msg_id)` runs when it is acked or fails.

        Raises at once only for bad input, a closed producer, or a full queue when
        `block_if_queue_full` is off (`ProducerQueueIsFull`), as the official client.
        """
        msg = self._outgoing(
            content,
            properties,
            partition_key,
            ordering_key,
            sequence_id,
            event_timestamp,
            deliver_at,
            deliver_after,
            replication_clusters,
            disable_replication,
        )
        self._send_message(msg, callback)

    def send_batch(
        self,
        payloads: Sequence[bytes],
        callback: BatchCallback | None = None,
        *,
        shape: MessageShape | None = None,
        entry_properties: Mapping[str, str] | None = None,
    ) -> int:
        """The fast path: send `payloads` as ONE batched entry; returns its first sequence id.

        Built by the wire layer's `SendFrameBuilder`: per-message Python work is none (a join
        of cached per-size headers); compression, checksum and metadata happen once per batch.
        `callback(result, msg_id, msg_count)` runs once when the broker acks the batch or it
        fails: record latency and counts per batch from it. Every message gets the
        properties/keys of `shape` (a `wire.batch.MessageShape`; default: none);
        `entry_properties` go on the entry itself (its MessageMetadata), where a reader of the
        whole entry finds them once (clients do not show them as a message's properties).
        """
        n = len(payloads)
        if n == 0:
            raise InvalidMessage("payloads: send_batch needs at least one payload")
        entry_props = check_props(entry_properties)
        return self._send_bulk(
            n,
            callback,
            shape,
            lambda b, seq, now, last: b.batch(
                payloads, seq, now, highest_sequence_id=last, entry_properties=entry_props
            ),
        )

    def send_repeated(
        self,
        payload: bytes,
        count: int,
        callback: BatchCallback | None = None,
        *,
        shape: MessageShape | None = None,
    ) -> int:
        """The payload-template fast path: one batch of `payload` sent `count` times."""
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise InvalidMessage(f"count: expected an int >= 1, got {count!r}")
        check_content(payload)
        return self._send_bulk(
            count,
            callback,
            shape,
            lambda b, seq, now, last: b.repeated(
                payload, count, seq, now, highest_sequence_id=last
            ),
        )

    def _send_bulk(
        self,
        n: int,
        callback: BatchCallback | None,
        shape: MessageShape | None,
        build: Callable[[SendFrameBuilder, int, int, int], bytes],
    ) -> int:
        self._check_usable()
        if self._encryptor is not None:
            raise InvalidConfiguration(
                "send_batch: the bulk paths do not encrypt; use send or send_async on an "
                "encrypting producer"
            )
        self._reserve(n)
        taken = False
        try:
            with self._lock:
                self._entry_taken = False
                try:
                    self._check_usable()
                    if self._batcher:
                        self._flush_batch_locked()
                        self._entry_taken = False
                    first = self._next_seq
                    last = first + n - 1
                    frame = build(self._builder(shape), first, now_ms(), last)
                    if len(frame) > self._max_message_size:
                        raise MessageTooBig(
                            f"payloads: batch of {n} messages is a {len(frame)}-byte frame, over "
                            f"the broker's max message size {self._max_message_size}; "
                            "send fewer per batch"
                        )
                    self._next_seq = first + n
                    deadline = time.monotonic() + self._send_timeout
                    self._enqueue_locked(
                        PendingEntry(first, n, frame, KIND_BULK, callback, deadline)
                    )
                finally:
                    taken = self._entry_taken
        except BaseException:
            if not taken:
                self._release(n)
            raise
        return first

    def _send_message(self, msg: OutgoingMessage, done: Completion | None) -> None:
        self._check_usable()
        content = msg.content
        size = len(content)
        batchable = (
            self._batching
            and msg.deliver_at is None
            and msg.replicate_to is None
            and size + HEADROOM <= min(self._batch_max_bytes, self._max_message_size)
        )
        compressed: bytes | bytearray | memoryview | None = None
        if not batchable:
            # Compress outside the lock; oversized messages go alone, chunked if enabled.
            # An empty payload goes uncompressed: the C++ client cannot inflate a zlib stream
            # into a 0-byte buffer and discards such a message as corrupt.
            compress = self._codec is not None and size > 0
            compressed = self._codec.compress(content) if compress else content
            too_big = len(compressed) + HEADROOM > self._max_message_size
            if too_big and not self._conf.chunking_enabled:
                packed = f" ({len(compressed)} compressed)" if self._codec else ""
                raise MessageTooBig(
                    f"content: message of {size} bytes{packed} exceeds the broker's max "
                    f"message size {self._max_message_size}; enable chunking_enabled"
                )
        self._reserve(1)
        taken = False
        try:
            with self._lock:
                self._entry_taken = False
                try:
                    self._check_usable()
                    if batchable:
                        self._add_to_batch_locked(msg, done)
                    else:
                        assert compressed is not None
                        if self._batcher:
                            self._flush_batch_locked()
                            self._entry_taken = False
                        self._send_single_locked(msg, compressed, done)
                finally:
                    taken = self._entry_taken
        except BaseException:
            if not taken:
                self._release(1)
            raise

    def _check_usable(self) -> None:
        if self._closing:
            raise AlreadyClosed(f"producer {self._name} on {self._topic} is closed")
        if self._fatal is not None:
            raise self._fatal
