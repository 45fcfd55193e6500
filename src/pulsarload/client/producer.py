"""`Producer`: one producer on one topic or partition: creation, broker notices, housekeeping,
reconnect and close.

The producer is put together from parts, each in its own module:
- `handler.Handler`: state, the connection and reconnect with backoff (shared with consumers);
- `sending.ProducerSends`: the send API (`send`, `send_async`, the bulk `send_batch`);
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

import contextlib
import logging
import math
import threading
from typing import TYPE_CHECKING

from pulsarload.client.batcher import batch_container
from pulsarload.client.crypto import MessageEncryptor
from pulsarload.client.errors import (
    AlreadyClosed,
    ChecksumError,
    IncompatibleSchema,
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
from pulsarload.client.handler import CLOSED, CONNECTING, FAILED, READY, ClientServices, Handler
from pulsarload.client.lookup import retry_operation
from pulsarload.client.pending import (
    BatchCallback,
    SendCallback,
)
from pulsarload.client.sending import ProducerSends
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
from pulsarload.wire.messages import key_values

if TYPE_CHECKING:
    from pulsarload.client.connection import Connection

__all__ = ["BatchCallback", "Producer", "SendCallback"]

log = logging.getLogger(__name__)


class Producer(Handler, ProducerSends):
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
