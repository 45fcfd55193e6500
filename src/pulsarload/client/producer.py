"""`Producer`: one producer on one topic or partition, and its sending API.

The producer is put together from parts, each in its own module:
- `handler.Handler`: state, the connection and reconnect with backoff (shared with consumers);
- `framing.SendFraming`: sequence ids, batches, single and chunked frames (under `_lock`);
- `pending.PendingSends`: the bounded in-flight queue, receipts and completions;
- `outgoing.OutgoingMessage`: one send's fields, checked before anything is queued.
A partitioned topic gets a `partitioned.PartitionedProducer` over one `Producer` per partition.

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

import base64
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pulsarload.client.batcher import batch_container
from pulsarload.client.crypto import MessageEncryptor
from pulsarload.client.errors import (
    AlreadyClosed,
    ChecksumError,
    IncompatibleSchema,
    InvalidConfiguration,
    InvalidMessage,
    MessageTooBig,
    NotConnected,
    ProducerBlockedQuotaExceededException,
    ProducerBusy,
    ProducerFenced,
    PulsarError,
    TimeoutError,
    TopicTerminated,
    error_from_server,
    refused_schema,
)
from pulsarload.client.framing import HEADROOM, SendFraming
from pulsarload.client.handler import CLOSED, CONNECTING, FAILED, READY, ClientServices, Handler
from pulsarload.client.lookup import retry_operation
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
from pulsarload.client.settings import CompressionType, ProducerConfig
from pulsarload.wire.batch import MessageShape, SendFrameBuilder
from pulsarload.wire.commands import (
    CommandCloseProducer,
    CommandProducer,
    CommandProducerSuccess,
    CommandSendError,
)
from pulsarload.wire.compression import get_codec
from pulsarload.wire.enums import CommandType, SchemaType
from pulsarload.wire.enums import CompressionType as WireCompression
from pulsarload.wire.enums import ProducerAccessMode as WireAccessMode
from pulsarload.wire.frames import DEFAULT_MAX_MESSAGE_SIZE, Frame
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import key_values

if TYPE_CHECKING:
    from pulsarload.client.connection import Connection

__all__ = ["BatchCallback", "Producer", "SendCallback"]

log = logging.getLogger(__name__)


class Producer(Handler, SendFraming, PendingSends):
    """A producer on one topic or one partition. Create with `Client.create_producer`."""

    def __init__(
        self,
        client: ClientServices,
        config: ProducerConfig,
        topic: str | None = None,
        partition: int = -1,
    ) -> None:
        super().__init__(client)
        self._conf = config
        self._topic = topic or config.topic
        self._partition = partition
        self._producer_id = client.new_producer_id()
        self._name: str = config.producer_name or ""
        self._user_named = config.producer_name is not None
        ctype = config.compression_type
        self._compression = None if ctype is CompressionType.NONE else WireCompression(int(ctype))
        self._codec = get_codec(int(ctype)) if self._compression is not None else None
        self._send_timeout = (
            config.send_timeout_millis / 1000.0 if config.send_timeout_millis > 0 else math.inf
        )
        self._batching = config.batching_enabled
        self._batch_max_msgs = config.batching_max_messages
        self._batch_max_bytes = config.batching_max_allowed_size_in_bytes
        self._batch_delay = config.batching_max_publish_delay_ms / 1000.0
        self._metadata = key_values(config.properties or {})
        self._access_mode = WireAccessMode(int(config.access_mode))
        self._encryptor = (
            MessageEncryptor(config.encryption_keys, config.crypto_key_reader)
            if config.encryption_keys
            else None
        )
        self._epoch = 0
        #: The topic epoch from PRODUCER_SUCCESS, sent back on reconnect so that a fenced
        #: exclusive producer is refused instead of taking the topic back.
        self._topic_epoch: int | None = None
        self._max_message_size = DEFAULT_MAX_MESSAGE_SIZE
        self._next_seq = 0
        self._closing = False
        self._lock = threading.Lock()
        self._init_pending(config.max_pending_messages, config.block_if_queue_full)

        #: The registry version of our schema (PRODUCER_SUCCESS), stamped on every message.
        self._schema = config.schema
        self._schema_version: bytes | None = None
        wire_schema = config.schema.schema_info() if config.schema is not None else None
        # A bytes schema is no schema: the broker is told nothing, as the official client.
        self._wire_schema = (
            wire_schema.to_wire()
            if wire_schema is not None and wire_schema.schema_type() != SchemaType.None_
            else None
        )
        self._batcher = batch_container(config.batching_type)
        self._builders: dict[int, tuple[str, SendFrameBuilder, MessageShape | None]] = {}
        self._shapes: dict[str | None, MessageShape] = {}

    # --- creation ----------------------------------------------------------------------------

    def _start(self) -> None:
        """Create the producer on its broker (retrying retriable errors within the operation
        timeout), then join the housekeeping thread."""
        conn, resp = retry_operation(
            self._create_on_broker, self._client.config, f"creating a producer on {self._topic}"
        )
        initial = self._conf.initial_sequence_id
        if initial is not None:
            self._next_seq = initial + 1
        else:
            last = resp.last_sequence_id
            self._next_seq = last + 1 if last is not None and last >= 0 else 0
        self._attach(conn, resp)
        self._state = READY
        self._housekeeping.add(self)
        self._client.register(self)

    def _create_on_broker(self) -> tuple[Connection, CommandProducerSuccess]:
        conn = self._client.connect(self._topic)
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
                    schema=self._wire_schema,
                ),
                f"PRODUCER {self._topic}",
                None if wait_forever else -1.0,
            )
        except BaseException as err:
            conn.unregister_producer(self._producer_id, self)
            if isinstance(err, TimeoutError):
                # The broker may still create it: tell it to drop that producer.
                self._send_close(conn)
            if isinstance(err, IncompatibleSchema) and self._schema is not None:
                raise refused_schema(err, self._topic, self._schema) from None
            raise
        return conn, resp

    def _attach(self, conn: Connection, resp: CommandProducerSuccess) -> None:
        self._conn = conn
        self._name = resp.producer_name
        if resp.topic_epoch is not None:
            self._topic_epoch = resp.topic_epoch
        if resp.schema_version != self._schema_version:
            self._schema_version = resp.schema_version or None
            self._builders.clear()  # their frames carry the schema version
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

    @property
    def pending_messages(self) -> int:
        """Messages queued or in flight (not yet acknowledged or failed)."""
        return self._pending_msgs

    def __repr__(self) -> str:
        return f"<Producer {self._name or '?'} on {self._topic}>"

    # --- sending -------------------------------------------------------------------------------

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

    # --- reconnect (the loop is `Handler`'s) -------------------------------------------------

    _kind = "producer"
    _busy = ProducerBusy

    def _handler_id(self) -> int:
        return self._producer_id

    def _describe(self) -> str:
        return f"producer {self._name} on {self._topic}"

    def _create_again(self) -> tuple[Connection, CommandProducerSuccess]:
        return self._create_on_broker()

    def _unregister(self, conn: Connection) -> None:
        conn.unregister_producer(self._producer_id, self)

    def _reconnected(self, outcome: tuple[Connection, CommandProducerSuccess]) -> Connection:
        """Attach the new instance and resend what is in flight, in order, before any new
        send goes out (new sends wait on `_lock`)."""
        conn, resp = outcome
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
                if self._state == CONNECTING:
                    self._state = READY
        log.info(
            "producer %s on %s reconnected to %s; resent %d entries",
            self._name,
            self._topic,
            conn.logical,
            len(resend),
        )
        return conn

    def _next_reconnect_attempt(self) -> None:
        # A new epoch per attempt: the broker then tells this attempt from a stale one.
        self._epoch += 1
        self.reconnect_attempt += 1

    def _fail(self, err: PulsarError) -> None:
        self._fatal = err
        with self._state_lock:
            self._state = FAILED
        self._fail_taken(self._take_pending(), err)
        # Messages still in the batch container fail when the next flush enqueues them.
        if self._lock.acquire(timeout=1.0):
            try:
                self._flush_batch_locked()
            finally:
                self._lock.release()

    # --- close -----------------------------------------------------------------------------------

    def close(self, timeout: float | None = None) -> None:
        """Flush, wait for pending receipts (at most `timeout` s, default the operation
        timeout), then close the producer on the broker; what is still pending then fails
        with `AlreadyClosed`."""
        with self._lock:
            if self._closing:
                return
        if timeout is None:
            timeout = self._client.config.operation_timeout_seconds
        try:
            if self._fatal is None:
                self.flush(timeout)
        except PulsarError as err:
            log.warning("closing %r: %s", self, err)
        with self._lock:
            self._closing = True
        self._closed_event.set()
        with self._state_lock:
            was_ready = self._state == READY
            self._state = CLOSED
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
        self._client.forget(self)
