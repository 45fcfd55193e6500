"""Producers: batching, compression, chunking, send timeouts, reconnect-and-resend, bulk sends.

Threads and locks (per producer; nothing here is shared between producers):
- `_lock` orders sends: sequence ids are assigned, frames built into the pending queue and
  written to the socket under it, so the broker sees sequence ids in order. Permits for the
  bounded queue are taken *before* it, so a blocked sender never holds it.
- `_pending_lock` (with `_pending_cond`) guards the in-flight queue; the connection's reader
  thread takes only this one to match SEND_RECEIPTs, so receipts never wait for a writer.
- The client's housekeeping thread flushes due batches and expires timed-out sends.
- A reconnect thread (started on connection loss, CLOSE_PRODUCER or a retriable SEND_ERROR)
  looks the topic up again, re-creates the producer with backoff and jitter, and resends the
  in-flight frames in order before new sends go out; their callbacks fire on their receipts.

Each in-flight entry keeps its encoded frame, so a resend is a plain socket write.
"""

from __future__ import annotations

import contextlib
import logging
import math
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pulsarload.client.backoff import Backoff, reconnect
from pulsarload.client.batcher import OpenBatch, batch_container
from pulsarload.client.errors import (
    AlreadyClosed,
    ChecksumError,
    InvalidConfiguration,
    InvalidMessage,
    MessageArgumentType,
    MessageTooBig,
    NotConnected,
    ProducerBlockedQuotaExceededException,
    ProducerBusy,
    ProducerFenced,
    ProducerQueueIsFull,
    PulsarError,
    Result,
    TimeoutError,
    TopicTerminated,
    error_from_server,
)
from pulsarload.client.lookup import retry_operation
from pulsarload.client.routing import Router
from pulsarload.client.settings import CompressionType, ProducerConfig
from pulsarload.client.topics import partition_name
from pulsarload.wire.batch import FRAME_RESERVE, MessageShape, SendFrameBuilder
from pulsarload.wire.commands import (
    CommandCloseProducer,
    CommandProducer,
    CommandProducerSuccess,
    CommandSend,
    CommandSendError,
    CommandSendReceipt,
)
from pulsarload.wire.compression import get_codec
from pulsarload.wire.enums import CommandType
from pulsarload.wire.enums import CompressionType as WireCompression
from pulsarload.wire.enums import ProducerAccessMode as WireAccessMode
from pulsarload.wire.frames import DEFAULT_MAX_MESSAGE_SIZE, Frame, encode_payload_command
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import (
    MessageIdData,
    MessageMetadata,
    SingleMessageMetadata,
    key_values,
)

if TYPE_CHECKING:
    from pulsarload.client.client import Client
    from pulsarload.client.connection import Connection

__all__ = ["BatchCallback", "PartitionedProducer", "Producer", "SendCallback"]

log = logging.getLogger(__name__)

#: `callback(result, msg_id)`, as the official client's send_async.
SendCallback = Callable[[Result, MessageId | None], None]
#: `callback(result, msg_id, msg_count)` for `send_batch`: one call per batch.
BatchCallback = Callable[[Result, MessageId | None, int], None]
# A per-message completion: a user's SendCallback, called as callback(result, msg_id), or a
# `_SyncWaiter` (which also receives the exception itself on failure).
_Completion = Callable[[Result, MessageId | None], None]

_U32 = struct.Struct(">I").pack
# Room kept for MessageMetadata, command and frame headers when checking sizes.
_HEADROOM = 2048

_INIT, _READY, _CONNECTING, _CLOSED, _FAILED = range(5)

_KIND_SINGLE, _KIND_BATCH, _KIND_BULK = range(3)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _Entry:
    """One SEND frame in flight: its sequence range, frame bytes and who to tell."""

    __slots__ = ("callback", "count", "deadline", "frame", "kind", "seq")

    def __init__(
        self, seq: int, count: int, frame: bytes, kind: int, callback: Any, deadline: float
    ) -> None:
        self.seq = seq
        self.count = count
        self.frame = frame
        self.kind = kind
        # _KIND_SINGLE: _Completion | None; _KIND_BATCH: list[_Completion | None];
        # _KIND_BULK: BatchCallback | None.
        self.callback = callback
        self.deadline = deadline


def _safe_call(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("send callback %r raised", fn)


class _SyncWaiter:
    """What a blocking `send` waits on: completed with the message id or the exception."""

    __slots__ = ("error", "event", "msg_id")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.msg_id: MessageId | None = None
        self.error: PulsarError | None = None

    def __call__(self, result: Result, msg_id: MessageId | None) -> None:
        self.msg_id = msg_id
        self.event.set()

    def fail(self, err: PulsarError) -> None:
        self.error = err
        self.event.set()


def _fail_one(cb: _Completion, err: PulsarError) -> None:
    if type(cb) is _SyncWaiter:
        cb.fail(err)
    else:
        _safe_call(cb, err.result, None)


def _check_content(content: object) -> bytes | bytearray | memoryview:
    if not isinstance(content, bytes | bytearray | memoryview):
        raise MessageArgumentType(f"content: expected bytes, got {type(content).__name__}")
    return content


def _check_props(properties: Mapping[str, str] | None) -> Mapping[str, str] | None:
    if not properties:
        return None
    if not isinstance(properties, Mapping):
        raise MessageArgumentType(f"properties: expected a dict of str -> str, got {properties!r}")
    for k, v in properties.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise MessageArgumentType(f"properties: keys and values must be str, got {k!r}: {v!r}")
    return properties


def _deliver_at_ms(deliver_at: object, deliver_after: object) -> int | None:
    """Absolute delivery time in ms; `deliver_at` is epoch ms, `deliver_after` a timedelta
    or milliseconds (the official client takes a timedelta)."""
    if deliver_at is not None:
        if isinstance(deliver_at, bool) or not isinstance(deliver_at, int):
            raise InvalidMessage(
                f"deliver_at: expected epoch milliseconds (int), got {deliver_at!r}"
            )
        return deliver_at
    if deliver_after is not None:
        if isinstance(deliver_after, timedelta):
            ms = deliver_after.total_seconds() * 1000
        elif isinstance(deliver_after, int | float) and not isinstance(deliver_after, bool):
            ms = float(deliver_after)
        else:
            raise InvalidMessage(
                f"deliver_after: expected a timedelta or milliseconds, got {deliver_after!r}"
            )
        if ms < 0:
            raise InvalidMessage(f"deliver_after: must be >= 0, got {deliver_after!r}")
        return _now_ms() + int(ms)
    return None


class _Message:
    """The per-message fields of a `send`, validated once."""

    __slots__ = (
        "content",
        "deliver_at",
        "null_value",
        "event_time",
        "key",
        "ordering_key",
        "properties",
        "replicate_to",
        "seq",
    )

    def __init__(
        self,
        content: object,
        properties: Mapping[str, str] | None,
        partition_key: str | None,
        ordering_key: str | bytes | None,
        sequence_id: int | None,
        event_timestamp: int | None,
        deliver_at: object,
        deliver_after: object,
        replication_clusters: Sequence[str] | None = None,
        disable_replication: bool = False,
    ) -> None:
        # None is a tombstone (the official client's null value): an empty payload with
        # null_value set, which compaction reads as "delete this key".
        self.null_value = content is None
        if content is None:
            content = b""
        elif not isinstance(content, bytes | bytearray | memoryview):
            raise MessageArgumentType(
                f"content: expected bytes (or None for a null value), got {type(content).__name__}"
            )
        self.content = content
        if (
            properties is None
            and partition_key is None
            and ordering_key is None
            and sequence_id is None
            and event_timestamp is None
            and deliver_at is None
            and deliver_after is None
            and replication_clusters is None
            and not disable_replication
        ):  # the common case, checked in one go
            self.properties = self.key = self.ordering_key = None
            self.seq = self.event_time = self.deliver_at = self.replicate_to = None
            return
        self.properties = _check_props(properties)
        if partition_key is not None and not isinstance(partition_key, str):
            raise InvalidMessage(f"partition_key: expected str, got {partition_key!r}")
        self.key = partition_key
        if isinstance(ordering_key, str):
            ordering_key = ordering_key.encode()
        if ordering_key is not None and not isinstance(ordering_key, bytes):
            raise InvalidMessage(f"ordering_key: expected str or bytes, got {ordering_key!r}")
        self.ordering_key = ordering_key
        if sequence_id is not None and (
            isinstance(sequence_id, bool) or not isinstance(sequence_id, int) or sequence_id < 0
        ):
            raise InvalidMessage(f"sequence_id: expected an int >= 0, got {sequence_id!r}")
        self.seq = sequence_id
        if event_timestamp is not None and (
            isinstance(event_timestamp, bool)
            or not isinstance(event_timestamp, int)
            or event_timestamp < 0
        ):
            raise InvalidMessage(
                f"event_timestamp: expected epoch milliseconds >= 0, got {event_timestamp!r}"
            )
        self.event_time = event_timestamp
        self.deliver_at = _deliver_at_ms(deliver_at, deliver_after)
        if disable_replication:
            self.replicate_to: tuple[str, ...] | None = ("__local__",)
        elif replication_clusters is not None:
            if isinstance(replication_clusters, str) or not all(
                isinstance(c, str) for c in replication_clusters
            ):
                raise InvalidMessage(
                    f"replication_clusters: expected a list of cluster names, "
                    f"got {replication_clusters!r}"
                )
            self.replicate_to = tuple(replication_clusters)
        else:
            self.replicate_to = None


class Producer:
    """A producer on one topic or one partition. Create with `Client.create_producer`."""

    def __init__(
        self,
        client: Client,
        config: ProducerConfig,
        topic: str | None = None,
        partition: int = -1,
    ) -> None:
        self._client = client
        self._conf = config
        self._topic = topic or config.topic
        self._partition = partition
        self._producer_id = client._new_producer_id()
        self._name: str = config.producer_name or ""
        self._user_named = config.producer_name is not None
        ctype = config.compression_type
        self._compression = None if ctype is CompressionType.NONE else WireCompression(int(ctype))
        self._codec = get_codec(int(ctype)) if self._compression is not None else None
        self._send_timeout = (
            config.send_timeout_millis / 1000.0 if config.send_timeout_millis > 0 else math.inf
        )
        self._max_pending = config.max_pending_messages
        self._block = config.block_if_queue_full
        self._batching = config.batching_enabled
        self._batch_max_msgs = config.batching_max_messages
        self._batch_max_bytes = config.batching_max_allowed_size_in_bytes
        self._batch_delay = config.batching_max_publish_delay_ms / 1000.0
        self._metadata = key_values(config.properties or {})
        self._access_mode = WireAccessMode(int(config.access_mode))
        self._housekeeping = client._housekeeping
        self._encryptor = None
        if config.encryption_keys:
            from pulsarload.client.crypto import MessageEncryptor

            self._encryptor = MessageEncryptor(config.encryption_keys, config.crypto_key_reader)

        self._state = _INIT
        self._state_lock = threading.Lock()
        self._conn: Connection | None = None
        self._epoch = 0
        #: The topic epoch from PRODUCER_SUCCESS, sent back on reconnect so that a fenced
        #: exclusive producer is refused instead of taking the topic back.
        self._topic_epoch: int | None = None
        self._max_message_size = DEFAULT_MAX_MESSAGE_SIZE
        self._next_seq = 0
        self._fatal: PulsarError | None = None
        self._closing = False
        self._closed_event = threading.Event()

        self._lock = threading.Lock()
        self._pending: deque[_Entry] = deque()
        self._pending_lock = threading.Lock()
        self._pending_cond = threading.Condition(self._pending_lock)
        self._pending_msgs = 0
        self._entries_added = 0
        self._entries_done = 0

        self._batcher = batch_container(config.batching_type)
        self._builders: dict[int, tuple[str, SendFrameBuilder, MessageShape | None]] = {}
        self._shapes: dict[str | None, MessageShape] = {}

    # --- creation ----------------------------------------------------------------------------

    def _start(self) -> None:
        """Create the producer on its broker (retrying retriable errors within the operation
        timeout), then join the housekeeping thread."""
        conn, resp = retry_operation(
            self._create_on_broker, self._client._config, f"creating a producer on {self._topic}"
        )
        initial = self._conf.initial_sequence_id
        if initial is not None:
            self._next_seq = initial + 1
        else:
            last = resp.last_sequence_id
            self._next_seq = last + 1 if last is not None and last >= 0 else 0
        self._attach(conn, resp)
        self._state = _READY
        self._housekeeping.add(self)
        self._client._register_producer(self)

    def _create_on_broker(self) -> tuple[Connection, CommandProducerSuccess]:
        client = self._client
        where = client._lookup.lookup(self._topic)
        conn = client._pool.get(where.logical, where.physical)
        conn.register_producer(self._producer_id, self)
        wait_forever = self._access_mode == WireAccessMode.WaitForExclusive
        try:
            resp: CommandProducerSuccess = conn.request(
                lambda rid: CommandProducer(
                    topic=self._topic,
                    producer_id=self._producer_id,
                    request_id=rid,
                    producer_name=self._name or None,
                    metadata=self._metadata,
                    epoch=self._epoch,
                    topic_epoch=self._topic_epoch,
                    user_provided_producer_name=True if self._user_named else None,
                    producer_access_mode=self._access_mode,
                ),
                f"PRODUCER {self._topic}",
                None if wait_forever else -1.0,
            )
        except BaseException as err:
            conn.unregister_producer(self._producer_id, self)
            if isinstance(err, TimeoutError):
                # The broker may still create it: tell it to drop that producer.
                self._send_close(conn)
            raise
        return conn, resp

    def _attach(self, conn: Connection, resp: CommandProducerSuccess) -> None:
        self._conn = conn
        self._name = resp.producer_name
        if resp.topic_epoch is not None:
            self._topic_epoch = resp.topic_epoch
        self._max_message_size = conn.max_message_size

    def _send_close(self, conn: Connection) -> None:
        with contextlib.suppress(PulsarError):
            conn.send_command(
                CommandCloseProducer(
                    producer_id=self._producer_id, request_id=conn.requests.next_id()
                )
            )

    # --- public info ---------------------------------------------------------------------------

    def topic(self) -> str:
        return self._topic

    def producer_name(self) -> str:
        return self._name

    def last_sequence_id(self) -> int:
        """The sequence id of the last message sent (or -1)."""
        return self._next_seq - 1

    def is_connected(self) -> bool:
        return self._state == _READY and self._conn is not None and not self._conn.closed

    @property
    def pending_messages(self) -> int:
        """Messages queued or in flight (not yet acknowledged or failed)."""
        return self._pending_msgs

    @property
    def connection(self) -> Connection | None:
        return self._conn

    def __repr__(self) -> str:
        return f"<Producer {self._name or '?'} on {self._topic}>"

    # --- sending -------------------------------------------------------------------------------

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
        """Send one message and wait for its receipt; raises the mapped error on failure."""
        msg = _Message(
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
        waiter = _SyncWaiter()
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
        msg = _Message(
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
        entry_props = _check_props(entry_properties)
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
        _check_content(payload)
        return self._send_bulk(
            count,
            callback,
            shape,
            lambda b, seq, now, last: b.repeated(
                payload, count, seq, now, highest_sequence_id=last
            ),
        )

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
            )
            if len(self._builders) > 64:
                self._builders.clear()
            self._builders[key] = (self._name, builder, shape)
            return builder
        return b[1]

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
                    frame = build(self._builder(shape), first, _now_ms(), last)
                    if len(frame) > self._max_message_size:
                        raise MessageTooBig(
                            f"payloads: batch of {n} messages is a {len(frame)}-byte frame, over "
                            f"the broker's max message size {self._max_message_size}; "
                            "send fewer per batch"
                        )
                    self._next_seq = first + n
                    deadline = time.monotonic() + self._send_timeout
                    self._enqueue_locked(_Entry(first, n, frame, _KIND_BULK, callback, deadline))
                finally:
                    taken = self._entry_taken
        except BaseException:
            if not taken:
                self._release(n)
            raise
        return first

    # Set by _enqueue_locked / _add_to_batch_locked; read under `_lock` by the same thread.
    _entry_taken = False
    #: 0 while connected; n during the n-th reconnect attempt (for status lines and dashboards).
    reconnect_attempt = 0

    def _send_message(self, msg: _Message, done: _Completion | None) -> None:
        self._check_usable()
        content = msg.content
        size = len(content)
        batchable = (
            self._batching
            and msg.deliver_at is None
            and msg.replicate_to is None
            and size + _HEADROOM <= min(self._batch_max_bytes, self._max_message_size)
        )
        compressed: bytes | bytearray | memoryview | None = None
        if not batchable:
            # Compress outside the lock; oversized messages go alone, chunked if enabled.
            # An empty payload goes uncompressed: the C++ client cannot inflate a zlib stream
            # into a 0-byte buffer and discards such a message as corrupt.
            compress = self._codec is not None and size > 0
            compressed = self._codec.compress(content) if compress else content
            too_big = len(compressed) + _HEADROOM > self._max_message_size
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

    def _assign_seq(self, msg: _Message) -> int:
        if msg.seq is not None:
            seq = msg.seq
            if seq >= self._next_seq:
                self._next_seq = seq + 1
            return seq
        seq = self._next_seq
        self._next_seq = seq + 1
        return seq

    def _add_to_batch_locked(self, msg: _Message, done: _Completion | None) -> None:
        content = msg.content
        seq = self._assign_seq(msg)
        if (
            msg.properties is None
            and msg.event_time is None
            and msg.ordering_key is None
            and not msg.null_value
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
                payload_size=len(content),
                event_time=msg.event_time,
                ordering_key=msg.ordering_key,
                sequence_id=seq,
                null_value=True if msg.null_value else None,
            ).encode()
            piece = b"".join((_U32(len(smm)), smm, content))
        # The frame, not only the pieces, stays within the batch byte limit (FRAME_RESERVE).
        # (With key-based batching the limits count all open batches together.)
        limit = min(self._batch_max_bytes - FRAME_RESERVE, self._max_message_size - _HEADROOM)
        batcher = self._batcher
        if batcher and batcher.nbytes + len(piece) > limit:
            self._flush_batch_locked()
            self._entry_taken = False
        if batcher:
            batcher.add(piece, done, seq, msg.key, msg.ordering_key, math.inf)
        else:  # the first message arms the batch timer
            deadline = time.monotonic() + self._batch_delay
            batcher.add(piece, done, seq, msg.key, msg.ordering_key, deadline)
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
        # The entry carries its first message's keys: the broker dispatches on them.
        md = MessageMetadata(
            producer_name=self._name,
            sequence_id=first,
            publish_time=_now_ms(),
            partition_key=batch.partition_key,
            num_messages_in_batch=n,
            compression=self._compression,
            uncompressed_size=uncompressed if self._compression is not None else None,
            ordering_key=batch.ordering_key,
            highest_sequence_id=last if last > first else None,
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
            _Entry(
                first, n, frame, _KIND_BATCH, batch.callbacks, time.monotonic() + self._send_timeout
            )
        )

    def _metadata_for(self, msg: _Message, seq: int, uncompressed: int) -> MessageMetadata:
        compression = self._compression if uncompressed > 0 else None
        return MessageMetadata(
            producer_name=self._name,
            sequence_id=seq,
            publish_time=_now_ms(),
            properties=key_values(msg.properties) if msg.properties else (),
            partition_key=msg.key,
            compression=compression,
            uncompressed_size=uncompressed if compression is not None else None,
            event_time=msg.event_time,
            ordering_key=msg.ordering_key,
            deliver_at_time=msg.deliver_at,
            replicate_to=msg.replicate_to or (),
            null_value=True if msg.null_value else None,
        )

    def _send_single_locked(
        self, msg: _Message, payload: bytes | bytearray | memoryview, done: _Completion | None
    ) -> None:
        seq = self._assign_seq(msg)
        md = self._metadata_for(msg, seq, len(msg.content))
        if self._encryptor is not None:
            payload = self._encrypt_into(md, payload)
        deadline = time.monotonic() + self._send_timeout
        if len(payload) + _HEADROOM <= self._max_message_size:
            cmd = CommandSend(producer_id=self._producer_id, sequence_id=seq)
            frame = encode_payload_command(cmd, md.encode(), payload)
            self._enqueue_locked(_Entry(seq, 1, frame, _KIND_SINGLE, done, deadline))
            return
        # Chunking: every chunk carries the same sequence id and uuid, its chunk_id, and the
        # message's metadata; only the last chunk's receipt completes the message.
        total = len(payload)
        md.uuid = f"{self._name}-{seq}"
        md.total_chunk_msg_size = total
        md.num_chunks_from_msg = 1 << 30  # upper bound while sizing the metadata
        md.chunk_id = 1 << 30
        chunk_size = self._max_message_size - len(md.encode()) - _HEADROOM
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
                _Entry(seq, 1 if last else 0, frame, _KIND_SINGLE, done if last else None, deadline)
            )

    def _encrypt_into(self, md: MessageMetadata, payload: bytes | bytearray | memoryview) -> bytes:
        """Encrypt an entry's (compressed) payload and record the keys and IV in `md`."""
        assert self._encryptor is not None
        body, keys, iv = self._encryptor.encrypt(payload)
        md.encryption_keys = keys
        md.encryption_param = iv
        return body

    def _enqueue_locked(self, entry: _Entry) -> None:
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
        if self._state == _READY and conn is not None:
            try:  # noqa: SIM105 - hot path: no context-manager object per send
                conn.send(entry.frame)
            except NotConnected:
                pass  # connection_closed starts the reconnect, which resends this entry

    # --- flow control --------------------------------------------------------------------------

    def _reserve(self, n: int) -> None:
        """Take `n` queue permits, blocking or failing when the pending queue is full."""
        limit = self._max_pending
        with self._pending_lock:  # the uncontended case without the Condition's overhead
            pending = self._pending_msgs
            if not limit or pending == 0 or pending + n <= limit:
                self._pending_msgs = pending + n
                return
        with self._pending_cond:
            if limit:
                while self._pending_msgs > 0 and self._pending_msgs + n > limit:
                    if not self._block:
                        raise ProducerQueueIsFull(
                            f"producer on {self._topic} has {self._pending_msgs} messages "
                            f"pending (max_pending_messages={limit})"
                        )
                    self._check_usable()
                    self._pending_cond.wait(0.5)
            self._pending_msgs += n

    def _release(self, n: int) -> None:
        with self._pending_cond:
            self._pending_msgs -= n
            self._pending_cond.notify_all()

    # --- receipts and errors (reader thread) ------------------------------------------------------

    def handle_frame(self, frame: Frame) -> None:
        cmd = frame.command
        ctype = cmd.TYPE  # type: ignore[union-attr]
        if ctype == CommandType.SEND_RECEIPT:
            self._on_receipt(cmd)  # type: ignore[arg-type]
        elif ctype == CommandType.SEND_ERROR:
            self._on_send_error(cmd)  # type: ignore[arg-type]
        elif ctype == CommandType.CLOSE_PRODUCER:
            log.info("broker closed producer %s on %s; reconnecting", self._name, self._topic)
            self._schedule_reconnect(closed_by_broker=True)

    def _on_receipt(self, cmd: CommandSendReceipt) -> None:
        seq = cmd.sequence_id
        with self._pending_cond:
            pending = self._pending
            if not pending:
                return
            head = pending[0]
            if seq != head.seq:
                if seq < head.seq:
                    return  # a receipt for an entry that already timed out
                mismatch = head.seq
            else:
                pending.popleft()
                self._pending_msgs -= head.count
                self._pending_cond.notify_all()
                mismatch = -1
        if mismatch >= 0:
            log.warning(
                "producer %s: receipt for sequence %d while expecting %d; reconnecting",
                self._name,
                seq,
                mismatch,
            )
            self._schedule_reconnect()
            return
        self._complete(head, cmd.message_id)
        self._mark_done(1)

    def _mark_done(self, n: int) -> None:
        """Count entries as finished once their callbacks have run (what `flush` waits for)."""
        with self._pending_cond:
            self._entries_done += n
            self._pending_cond.notify_all()

    def _fail_taken(self, entries: list[_Entry], err: PulsarError) -> None:
        for e in entries:
            self._fail_entry(e, err)
        if entries:
            self._mark_done(len(entries))

    def _complete(self, entry: _Entry, mid: MessageIdData | None) -> None:
        cb = entry.callback
        if cb is None:
            return
        if mid is not None:
            ledger, eid = mid.ledgerId, mid.entryId
        else:
            ledger, eid = -1, -1
        part = self._partition
        kind = entry.kind
        if kind == _KIND_BULK:
            _safe_call(cb, Result.Ok, MessageId(ledger, eid, part, -1, entry.count), entry.count)
        elif kind == _KIND_SINGLE:
            _safe_call(cb, Result.Ok, MessageId(ledger, eid, part))
        else:
            n = entry.count
            ok = Result.Ok
            for i, one in enumerate(cb):
                if one is not None:
                    try:
                        one(ok, MessageId(ledger, eid, part, i, n))
                    except Exception:
                        log.exception("send callback %r raised", one)

    def _fail_entry(self, entry: _Entry, err: PulsarError) -> None:
        cb = entry.callback
        if cb is None:
            return
        kind = entry.kind
        if kind == _KIND_BULK:
            _safe_call(cb, err.result, None, entry.count)
        elif kind == _KIND_SINGLE:
            _fail_one(cb, err)
        else:
            for one in cb:
                if one is not None:
                    _fail_one(one, err)

    def _take_pending(self, predicate: Callable[[_Entry], bool] | None = None) -> list[_Entry]:
        """Remove (from the head) entries matching `predicate` (all if None); the caller
        completes them and then calls `_mark_done`."""
        taken: list[_Entry] = []
        with self._pending_cond:
            pending = self._pending
            while pending and (predicate is None or predicate(pending[0])):
                e = pending.popleft()
                taken.append(e)
                self._pending_msgs -= e.count
            if taken:
                self._pending_cond.notify_all()
        return taken

    def _on_send_error(self, cmd: CommandSendError) -> None:
        err = error_from_server(cmd.error, cmd.message)
        log.warning("producer %s on %s: SEND_ERROR %s", self._name, self._topic, err)
        if isinstance(err, TopicTerminated | ProducerFenced):
            self._fatal = err
            self._fail_taken(self._take_pending(), err)
        elif isinstance(err, ProducerBlockedQuotaExceededException):
            self._fail_taken(self._take_pending(), err)
        elif err.retriable or isinstance(err, ChecksumError):
            self._schedule_reconnect()
        else:
            seq = cmd.sequence_id
            self._fail_taken(self._take_pending(lambda e: e.seq == seq), err)

    # --- housekeeping (client thread) -------------------------------------------------------------

    def _tick(self, now: float) -> float:
        nearest = math.inf
        batcher = self._batcher
        if batcher:
            if now >= batcher.deadline:
                if self._lock.acquire(blocking=False):
                    try:
                        if batcher and now >= batcher.deadline:
                            self._flush_batch_locked()
                    finally:
                        self._lock.release()
                else:
                    nearest = now + 0.001  # a sender holds the lock; look again shortly
            else:
                nearest = batcher.deadline
        if self._pending and self._send_timeout != math.inf:
            expired = self._take_pending(lambda e: e.deadline <= now)
            if expired:
                err = TimeoutError(
                    f"send to {self._topic} timed out after {self._conf.send_timeout_millis} ms"
                )
                self._fail_taken(expired, err)
            pending = self._pending
            if pending:
                with contextlib.suppress(IndexError):
                    nearest = min(nearest, pending[0].deadline)
        return nearest

    # --- reconnect -------------------------------------------------------------------------------

    def connection_closed(self, connection: Connection) -> None:
        if connection is self._conn:
            self._schedule_reconnect()

    def _schedule_reconnect(self, closed_by_broker: bool = False) -> None:
        with self._state_lock:
            if self._state != _READY:
                return  # already reconnecting, closed or failed
            self._state = _CONNECTING
            old = self._conn
        self._client._spawn(
            self._reconnect_loop, f"pulsar-reconnect-{self._producer_id}", old, closed_by_broker
        )

    def _reconnect_loop(self, old: Connection | None, closed_by_broker: bool) -> None:
        if old is not None:
            old.unregister_producer(self._producer_id, self)
            if not old.closed and not closed_by_broker:
                self._send_close(old)
        cfg = self._client._config
        backoff = Backoff(
            cfg.initial_backoff_interval_ms / 1000,
            cfg.max_backoff_interval_ms / 1000,
            give_up=cfg.reconnect_give_up_seconds,
        )
        outcome = reconnect(
            self._create_on_broker,
            backoff,
            self._closed_event,
            what=f"producer {self._name} on {self._topic}",
            busy=ProducerBusy,
            on_attempt=self._next_reconnect_attempt,
        )
        if outcome is None:  # closed meanwhile
            return
        if isinstance(outcome, PulsarError):
            self._fail_producer(outcome)
            return
        conn, resp = outcome
        self.reconnect_attempt = 0
        with self._lock:
            self._attach(conn, resp)
            with self._pending_lock:
                resend = [e.frame for e in self._pending]
            try:
                for frame in resend:
                    conn.send(frame)
            except NotConnected:
                pass
            with self._state_lock:
                if self._state == _CONNECTING:
                    self._state = _READY
        log.info(
            "producer %s on %s reconnected to %s; resent %d entries",
            self._name,
            self._topic,
            conn.logical,
            len(resend),
        )
        if conn.closed:
            self._schedule_reconnect()

    def _next_reconnect_attempt(self) -> None:
        # A new epoch per attempt: the broker then tells this attempt from a stale one.
        self._epoch += 1
        self.reconnect_attempt += 1

    def _fail_producer(self, err: PulsarError) -> None:
        self._fatal = err
        with self._state_lock:
            self._state = _FAILED
        self._fail_taken(self._take_pending(), err)
        # Messages still in the batch container fail when the next flush enqueues them.
        if self._lock.acquire(timeout=1.0):
            try:
                self._flush_batch_locked()
            finally:
                self._lock.release()

    # --- flush and close -------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Send the open batch and wait until everything sent before this call is acked or
        failed (`TimeoutError` if `timeout` seconds pass first)."""
        with self._lock:
            self._flush_batch_locked()
            target = self._entries_added
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._pending_cond:
            while self._entries_done < target:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(
                            f"flush of {self._topic}: {len(self._pending)} entries still pending "
                            f"after {timeout:g} s"
                        )
                    self._pending_cond.wait(min(left, 0.5))
                else:
                    self._pending_cond.wait(0.5)

    def close(self, timeout: float | None = None) -> None:
        """Flush, wait for pending receipts (at most `timeout` s, default the operation
        timeout), then close the producer on the broker; what is still pending then fails
        with `AlreadyClosed`."""
        with self._lock:
            if self._closing:
                return
        if timeout is None:
            timeout = self._client._config.operation_timeout_seconds
        try:
            if self._fatal is None:
                self.flush(timeout)
        except PulsarError as err:
            log.warning("closing %r: %s", self, err)
        with self._lock:
            self._closing = True
        self._closed_event.set()
        with self._state_lock:
            was_ready = self._state == _READY
            self._state = _CLOSED
        self._housekeeping.remove(self)
        conn = self._conn
        if conn is not None:
            if was_ready and not conn.closed:
                try:
                    conn.request(
                        lambda rid: CommandCloseProducer(
                            producer_id=self._producer_id, request_id=rid
                        ),
                        f"CLOSE_PRODUCER {self._topic}",
                    )
                except PulsarError as err:
                    log.debug("closing %r on the broker: %s", self, err)
            conn.unregister_producer(self._producer_id, self)
        err = AlreadyClosed(f"producer {self._name} on {self._topic} closed")
        self._fail_taken(self._take_pending(), err)
        self._client._forget_producer(self)


class PartitionedProducer:
    """A producer on a partitioned topic: one `Producer` per partition and a router.

    Partitions can be added to a topic while it is in use (never removed). A watcher thread asks
    the broker every `partitions_update_interval_seconds` and starts producers for new ones,
    then publishes the longer list with one assignment: senders read `_producers` without a
    lock and see the old list or the new one, both valid for the index they route to.
    """

    @property
    def reconnect_attempt(self) -> int:
        """The furthest reconnect attempt among the partitions (0 when all are connected)."""
        return max((p.reconnect_attempt for p in self._producers), default=0)

    def __init__(self, client: Client, config: ProducerConfig, partitions: int) -> None:
        self._client = client
        self._conf = config
        self._topic = config.topic
        self._router = Router(
            config.message_routing_mode, config.hashing_scheme, config.message_router
        )
        self._producers: list[Producer] = []
        self._grow_lock = threading.Lock()
        self._stopped = threading.Event()
        try:
            for i in range(partitions):
                p = Producer(client, config, partition_name(self._topic, i), i)
                p._start()
                self._producers.append(p)
        except BaseException:
            for p in self._producers:
                p.close()
            raise
        interval = client._config.partitions_update_interval_seconds
        if interval > 0:
            client._spawn(
                self._watch_partitions,
                f"pulsar-partitions-{self._topic.rsplit('/', 1)[-1]}",
                interval,
            )

    def _watch_partitions(self, interval: float) -> None:
        while not self._stopped.wait(interval):
            if self._client._closed:
                return
            try:
                count = self._client._lookup.partitions(self._topic)
            except PulsarError as err:  # the next round tries again
                log.debug("partition check of %s failed: %s", self._topic, err)
                continue
            self.grow_to(count)

    def grow_to(self, count: int) -> int:
        """Start producers for partitions ``len(partitions)..count-1``; returns how many were
        added (0 if the topic has no new partitions or the producer is closing). A partition
        that cannot be started now is tried again at the next check."""
        with self._grow_lock:
            current = self._producers
            if count <= len(current) or self._stopped.is_set():
                return 0
            added: list[Producer] = []
            for i in range(len(current), count):
                p = Producer(self._client, self._conf, partition_name(self._topic, i), i)
                try:
                    p._start()
                except PulsarError as err:
                    log.warning("cannot start a producer on new partition %d of %s: %s",
                                i, self._topic, err)  # fmt: skip
                    break
                added.append(p)
            if added:
                self._producers = current + added
                log.info("%s: %d partitions now (%d new)", self._topic, len(self._producers),
                         len(added))  # fmt: skip
            return len(added)

    @property
    def partitions(self) -> list[Producer]:
        return list(self._producers)

    def topic(self) -> str:
        return self._topic

    def producer_name(self) -> str:
        return self._producers[0].producer_name() if self._producers else ""

    def last_sequence_id(self) -> int:
        return max((p.last_sequence_id() for p in self._producers), default=-1)

    def is_connected(self) -> bool:
        return all(p.is_connected() for p in self._producers)

    @property
    def pending_messages(self) -> int:
        return sum(p.pending_messages for p in self._producers)

    def _pick(
        self, content: bytes, key: str | None, props: Mapping[str, str] | None, okey: Any
    ) -> Producer:
        n = len(self._producers)
        okey_s = okey.decode(errors="replace") if isinstance(okey, bytes) else okey
        index = self._router.choose(n, key, content, dict(props) if props else None, okey_s)
        return self._producers[index]

    def send(
        self,
        content: bytes | None,
        properties: Mapping[str, str] | None = None,
        partition_key: str | None = None,
        **kwargs: Any,
    ) -> MessageId:
        p = self._pick(content, partition_key, properties, kwargs.get("ordering_key"))
        return p.send(content, properties, partition_key, **kwargs)

    def send_async(
        self,
        content: bytes | None,
        callback: SendCallback | None,
        properties: Mapping[str, str] | None = None,
        partition_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        p = self._pick(content, partition_key, properties, kwargs.get("ordering_key"))
        p.send_async(content, callback, properties, partition_key, **kwargs)

    def send_batch(
        self,
        payloads: Sequence[bytes],
        callback: BatchCallback | None = None,
        *,
        shape: MessageShape | None = None,
        entry_properties: Mapping[str, str] | None = None,
    ) -> int:
        """One batch to one partition: by the shape's partition key if it has one (so keyed
        batches land where keyed single messages do), else by the routing mode."""
        return self._for_shape(shape).send_batch(
            payloads, callback, shape=shape, entry_properties=entry_properties
        )

    def send_repeated(
        self,
        payload: bytes,
        count: int,
        callback: BatchCallback | None = None,
        *,
        shape: MessageShape | None = None,
    ) -> int:
        return self._for_shape(shape).send_repeated(payload, count, callback, shape=shape)

    def _for_shape(self, shape: MessageShape | None) -> Producer:
        key = shape.metadata(0).partition_key if shape is not None else None
        return self._producers[self._router.choose(len(self._producers), key)]

    def flush(self, timeout: float | None = None) -> None:
        for p in self._producers:
            p.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Close every partition's producer within one shared `timeout`."""
        if timeout is None:
            timeout = self._client._config.operation_timeout_seconds
        deadline = time.monotonic() + timeout
        self._stopped.set()
        with self._client._lock, contextlib.suppress(ValueError):
            self._client._partitioned.remove(self)
        with self._grow_lock:  # no partition is being added while we close
            producers = self._producers
        for p in producers:
            p.close(max(0.0, deadline - time.monotonic()))

    def __repr__(self) -> str:
        return f"<PartitionedProducer {self._topic} x{len(self._producers)}>"
