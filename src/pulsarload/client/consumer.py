"""`Consumer`: one consumer on one topic or partition.

The consumer is put together from parts, each in its own module:
- `handler.Handler`: state, the connection and re-subscribing with backoff (shared with
  producers);
- `receiving.Receiving` over a `receiving.ReceiverQueue`: what the application calls to take
  messages, and the message-listener thread;
- `incoming.Incoming`: MESSAGE frames into the queue (reader thread) and flow permits;
- `acknowledging.Acknowledging`: acks, negative acks, the ack timeout and redelivery;
- `dead_letters.DeadLetters`: messages past the redelivery count to the dead-letter topic.
This module keeps creation (SUBSCRIBE), the broker's other notices, housekeeping, seek and
closing. A partitioned topic, a list of topics or a regex gets a `multi.MultiTopicsConsumer`
whose partitions are `Consumer`s feeding one shared queue; `subscribe.subscribe_with_config`
picks the right one (`Client.subscribe` calls it).

Threads:
- The connection's reader thread runs `handle_frame`: it splits batches, decompresses,
  reassembles chunks and puts the messages into the receiver queue (one lock hold per entry).
- Application threads take messages (`receive`, `batch_receive`); each taken message earns the
  broker one permit back, and once half the queue's worth has been earned the consumer sends
  one FLOW (batched messages count one permit each, as the broker counts them).
- With a `message_listener`, one listener thread per (top-level) consumer takes messages and
  calls `listener(consumer, message)`, so whatever the callback records has a single writer.
- The client's housekeeping thread flushes grouped acks and redelivers negatively acked and
  timed-out messages; a short-lived thread publishes dead letters; a reconnect thread
  re-subscribes with backoff after the connection or the broker drops the consumer.

Every (re)subscription starts a new *generation*: messages of an older one still in the queue
are dropped (the broker sends everything unacked again) and earn no permits; a seek also
discards what the old position delivered. Non-durable subscriptions resume after the last
message the application took.

Why it is this long: what stays here is what starts or ends a generation (subscribe, the
re-subscription after a drop, seek, close), and those steps share one rule: what the old
position delivered is dropped from the queue, the ack groups and the redelivery trackers
together, and where the next subscription starts from. Apart, the rule would be split over
modules; every other concern already has its part (above).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import uuid
from typing import TYPE_CHECKING

from pulsarload.client.acknowledging import Acknowledging, CumulativeAckNotAllowed
from pulsarload.client.acks import AckGroupingTracker, NegativeAckTracker, UnackedMessageTracker
from pulsarload.client.chunks import ChunkAssembler
from pulsarload.client.consumer_config import (
    ConsumerBatchReceivePolicy,
    ConsumerConfig,
    ConsumerDeadLetterPolicy,
    ConsumerKeySharedPolicy,
    ConsumerType,
    InitialPosition,
    KeySharedMode,
    RegexSubscriptionMode,
    SubscriptionMode,
    parse_seek_target,
)
from pulsarload.client.crypto import MessageDecryptor
from pulsarload.client.dead_letters import DeadLetters
from pulsarload.client.errors import (
    AlreadyClosed,
    ConsumerBusy,
    IncompatibleSchema,
    NotConnected,
    PulsarError,
    TimeoutError,
    refused_schema,
)
from pulsarload.client.handler import CLOSED, CONNECTING, FAILED, READY, ClientServices, Handler
from pulsarload.client.incoming import Incoming
from pulsarload.client.lookup import retry_operation
from pulsarload.client.message import BatchInfo
from pulsarload.client.receiving import ReceiverQueue, Receiving
from pulsarload.client.redeliveries import Redeliveries, RedeliveryCounts
from pulsarload.client.schema.schemas import Schema, SchemaInfo
from pulsarload.client.schema_registry import get_schema
from pulsarload.wire.commands import (
    CommandCloseConsumer,
    CommandGetLastMessageId,
    CommandGetLastMessageIdResponse,
    CommandSeek,
    CommandSubscribe,
    CommandUnsubscribe,
)
from pulsarload.wire.enums import CommandType, SchemaType, SubType
from pulsarload.wire.enums import InitialPosition as WireInitialPosition
from pulsarload.wire.enums import KeySharedMode as WireKeySharedMode
from pulsarload.wire.frames import Frame
from pulsarload.wire.message_id import EARLIEST, LATEST, MessageId
from pulsarload.wire.messages import IntRange, KeySharedMeta, MessageIdData, key_values

if TYPE_CHECKING:
    from pulsarload.client.connection import Connection
    from pulsarload.client.multi import MultiTopicsConsumer

__all__ = [
    "Consumer",
    "ConsumerBatchReceivePolicy",
    "ConsumerDeadLetterPolicy",
    "ConsumerKeySharedPolicy",
    "ConsumerType",
    "CumulativeAckNotAllowed",
    "InitialPosition",
    "KeySharedMode",
    "ReceiverQueue",
    "RegexSubscriptionMode",
    "SubscriptionMode",
]

log = logging.getLogger(__name__)

_consumer_ids = itertools.count(1)
_consumer_ids_lock = threading.Lock()


def _new_consumer_id() -> int:
    # Ids only need to be unique per connection; one process-wide counter is simplest.
    with _consumer_ids_lock:
        return next(_consumer_ids)


class Consumer(Handler, Incoming, Receiving, Acknowledging, DeadLetters):
    """A consumer on one topic or one partition. Create with `Client.subscribe`."""

    def __init__(
        self,
        client: ClientServices,
        conf: ConsumerConfig,
        topic: str,
        partition: int = -1,
        *,
        queue: ReceiverQueue | None = None,
        parent: MultiTopicsConsumer | None = None,
        queue_size: int | None = None,
        base_topic: str | None = None,
    ) -> None:
        super().__init__(client)
        self._conf = conf
        self._topic = topic
        self._base_topic = base_topic or topic
        self._partition = partition
        self._parent = parent
        self._consumer_id = _new_consumer_id()
        self._name = conf.consumer_name or uuid.uuid4().hex[:10]
        self._queue = queue if queue is not None else ReceiverQueue()
        self._own_queue = queue is None
        self._sub_type = SubType(int(conf.consumer_type))
        self._shared = self._sub_type in (SubType.Shared, SubType.Key_Shared)
        self._init_flow(queue_size or conf.receiver_queue_size)
        # Clear while re-subscribing (after a seek, an unload, a lost connection): requests
        # that name this consumer wait for it rather than fail with "consumer not found".
        self._settled = threading.Event()
        self._settled.set()
        self._generation = 0
        self._epoch = 0
        # Non-durable subscriptions start here; any consumer skips what lies before it
        # inside the first entry (batch indexes before a seek target, for one).
        self._start_id: MessageId | None = None if conf.durable else conf.start_message_id
        self._start_inclusive = conf.start_message_id_inclusive
        self._seek_target: MessageId | int | None = None
        # Clear while a SEEK is outstanding: the broker closes the consumer before it answers;
        # re-subscribing waits for that answer so it never races the cursor reset.
        self._seek_done = threading.Event()
        self._seek_done.set()
        # Set from a SEEK until the re-subscription it causes: that replay is the seek's.
        self._seeking = False
        self._redeliveries = Redeliveries()
        self._last_dequeued: MessageId | None = None
        self._end_of_topic = False
        #: Failover: whether the broker made this consumer the active one (None: not told).
        self.active: bool | None = None

        self._acks = AckGroupingTracker(
            self._send_ack,
            group_time=conf.ack_grouping_time_ms / 1000.0,
            max_size=conf.ack_grouping_max_size,
            batch_index_ack=conf.batch_index_ack_enabled,
        )
        self._id_batches: dict[tuple[int, int, int], BatchInfo] = {}
        self._nacks = NegativeAckTracker(conf.negative_ack_redelivery_delay_ms / 1000.0)
        timeout = conf.unacked_messages_timeout_ms
        self._unacked = UnackedMessageTracker(timeout / 1000.0) if timeout else None
        self._chunks = ChunkAssembler(
            conf.max_pending_chunked_message,
            conf.expire_time_of_incomplete_chunked_message_ms / 1000.0,
            auto_ack_oldest=conf.auto_ack_oldest_chunked_message_on_queue_full,
        )
        self._init_dead_letters(conf, self._sub_type)
        self._listener_thread = None
        self._listener_running = threading.Event()
        schema = conf.schema.schema_info() if conf.schema is not None else None
        # A bytes schema is no schema: the broker is told nothing, as the official client.
        self._wire_schema = (
            schema.to_wire()
            if schema is not None and schema.schema_type() != SchemaType.None_
            else None
        )
        self._writer_schemas: dict[bytes, SchemaInfo | None] = {}
        self._decryptor = (
            MessageDecryptor(conf.crypto_key_reader) if conf.crypto_key_reader is not None else None
        )

    # --- schemas ------------------------------------------------------------------------------

    @property
    def schema(self) -> Schema | None:
        """The schema `Message.value()` decodes with (None: values are the payload bytes)."""
        return self._conf.schema

    def writer_schema(self, version: bytes) -> SchemaInfo | None:
        """The registry's schema at `version` of this consumer's topic, asked once per
        version (GET_SCHEMA) and kept; None when the topic has none."""
        if version in self._writer_schemas:
            return self._writer_schemas[version]
        info = get_schema(self._client.connect(self._topic), self._topic, version)
        self._writer_schemas[version] = info
        return info

    # --- creation -----------------------------------------------------------------------------

    def _start(self) -> None:
        """Subscribe on the broker (retrying retriable errors within the operation timeout)."""
        retry_operation(
            self._subscribe_on_broker, self._client.config, f"subscribing to {self._topic}"
        )
        with self._state_lock:
            self._state = READY
        self._housekeeping.add(self)
        if self._parent is None:
            self._client.register(self)
            self._start_listener()

    def _subscribe_command(self, request_id: int) -> CommandSubscribe:
        conf = self._conf
        start: MessageIdData | None = None
        if not conf.durable and self._start_id is not None:
            start = self._start_id.to_data()
        ks: KeySharedMeta | None = None
        if self._sub_type == SubType.Key_Shared:
            policy = conf.key_shared_policy or ConsumerKeySharedPolicy()
            ks = KeySharedMeta(
                keySharedMode=WireKeySharedMode(int(policy.key_shared_mode)),
                hashRanges=tuple(IntRange(start=a, end=b) for a, b in policy.sticky_ranges or ()),
                allowOutOfOrderDelivery=True if policy.allow_out_of_order_delivery else None,
            )
        return CommandSubscribe(
            topic=self._topic,
            subscription=conf.subscription_name,
            subType=self._sub_type,
            consumer_id=self._consumer_id,
            request_id=request_id,
            consumer_name=self._name,
            priority_level=conf.priority_level,
            durable=None if conf.durable else False,
            start_message_id=start,
            metadata=key_values(conf.properties or {}),
            read_compacted=True if conf.is_read_compacted else None,
            initialPosition=WireInitialPosition(int(conf.initial_position)),
            replicate_subscription_state=True
            if conf.replicate_subscription_state_enabled
            else None,
            keySharedMeta=ks,
            subscription_properties=key_values(conf.subscription_properties or {}),
            consumer_epoch=self._epoch if self._epoch > 0 else None,
            schema=self._wire_schema,
        )

    def _subscribe_on_broker(self) -> Connection:
        conn = self._client.connect(self._topic)
        self._new_generation()
        conn.register_consumer(self._consumer_id, self)
        try:
            conn.request(self._subscribe_command, f"SUBSCRIBE {self._topic}")
        except BaseException as err:
            conn.unregister_consumer(self._consumer_id, self)
            if isinstance(err, TimeoutError):
                self._send_close(conn)  # the broker may still create it: drop it there
            if isinstance(err, IncompatibleSchema) and self._conf.schema is not None:
                raise refused_schema(err, self._topic, self._conf.schema) from None
            raise
        self._conn = conn
        if self._zero_queue:
            if self._zq_asked:  # a receive is waiting: ask the new instance for its message
                self._send_flow(1, conn)
        else:
            self._send_flow(self._queue_size, conn)
        return conn

    def _want_one(self) -> None:
        if not self._zero_queue or len(self._queue) or self._zq_asked:
            return
        self._zq_asked = True
        self._send_flow(1)

    def _new_generation(self) -> None:
        """Start a new subscription instance: drop what the old one queued, reset permits and
        work out where a non-durable subscription resumes."""
        with self._flow_lock:
            self._generation += 1
            self._permits = 0
        gen = self._generation
        self._queue.remove_if(lambda m: m._owner is self and m._generation != gen)
        self._chunks.clear()
        if self._handed is not None:
            self._handed.clear()  # the broker sends every unacked message again anyway
        if self._seeking:
            self._seeking = False  # `seek` marked the replay itself
        else:
            self._redeliveries.rewound("reconnect", self._last_dequeued)
        if not self._conf.durable:
            seek = self._seek_target
            self._seek_target = None
            if isinstance(seek, MessageId):
                self._start_id = seek
                self._start_inclusive = self._conf.start_message_id_inclusive
            elif seek is None and self._last_dequeued is not None:
                self._start_id, self._start_inclusive = self._last_dequeued, False
            # After a seek by time the broker keeps the subscription at its new position.

    def _send_close(self, conn: Connection) -> None:
        with contextlib.suppress(PulsarError):
            conn.send_command(
                CommandCloseConsumer(
                    consumer_id=self._consumer_id, request_id=conn.requests.next_id()
                )
            )

    # --- public info --------------------------------------------------------------------------

    def topic(self) -> str:
        return self._topic

    def subscription_name(self) -> str:
        return self._conf.subscription_name

    def consumer_name(self) -> str:
        return self._name

    def has_reached_end_of_topic(self) -> bool:
        """The topic was terminated and everything in it was delivered."""
        return self._end_of_topic

    @property
    def consumers(self) -> list[Consumer]:
        return [self]

    def redelivery_counts(self) -> RedeliveryCounts:
        """Messages this consumer had redelivered, per reason (`client.redeliveries`)."""
        return self._redeliveries.counts()

    def __repr__(self) -> str:
        return f"<Consumer {self._name} on {self._topic} sub={self._conf.subscription_name}>"

    # --- the broker's notices (reader thread) ----------------------------------------------------

    def handle_frame(self, frame: Frame) -> None:
        cmd = frame.command
        ctype = cmd.TYPE  # type: ignore[union-attr]
        if ctype == CommandType.MESSAGE:
            self._on_message(frame, cmd)  # type: ignore[arg-type]
        elif ctype == CommandType.CLOSE_CONSUMER:
            log.info("broker closed consumer %s on %s; reconnecting", self._name, self._topic)
            self._schedule_reconnect(closed_by_broker=True)
        elif ctype == CommandType.ACTIVE_CONSUMER_CHANGE:
            self.active = bool(cmd.is_active)  # type: ignore[union-attr]
        elif ctype == CommandType.REACHED_END_OF_TOPIC:
            log.info("consumer %s reached the end of terminated topic %s", self._name, self._topic)
            self._end_of_topic = True
            self._queue.wake()

    # --- state ---------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state in (CLOSED,):
            raise AlreadyClosed(f"consumer {self._name} on {self._topic} is closed")

    # --- housekeeping (client thread) ----------------------------------------------------------

    def _tick(self, now: float) -> float:
        nearest = self._acks.tick(now)
        if len(self._nacks):
            due, nxt = self._nacks.take_due_counted(now)
            if due:
                self._redeliver(due, "negative_ack", due)
            nearest = min(nearest, nxt)
        if self._unacked is not None and len(self._unacked):
            due, nxt = self._unacked.take_due(now)
            if due:
                log.info(
                    "consumer %s: %d message(s) not acked within %d ms; redelivering",
                    self._name,
                    len(due),
                    self._conf.unacked_messages_timeout_ms,
                )
                per_entry: dict[MessageId, int] = {}
                for m in due:
                    e = m.entry
                    per_entry[e] = per_entry.get(e, 0) + 1
                self._redeliver(per_entry, "ack_timeout", per_entry)
            nearest = min(nearest, nxt)
        if len(self._chunks):
            for mid in self._chunks.expire(now):
                self._acks.add_individual(mid)
            nearest = min(nearest, self._chunks.next_expiry())
        return nearest

    # --- seek and last message id --------------------------------------------------------------

    def seek(self, target: MessageId | int | str) -> None:
        """Move the subscription to a message id (the message after it comes next; a reader
        made with start_message_id_inclusive gets that message itself), to a publish
        time (ms since the epoch: the first message at or after it comes next), or to
        `earliest` / `latest`. Messages already received are dropped."""
        t = parse_seek_target(target)
        self._check_open()
        conn = self._conn
        if conn is None or conn.closed:
            raise NotConnected(f"seek: consumer {self._name} on {self._topic} is not connected")
        self._acks.flush()
        gen = self._generation
        last_taken = self._last_dequeued
        self._seek_target = t
        self._seeking = True
        self._seek_done.clear()
        ok = False
        try:
            if isinstance(t, MessageId):
                data = MessageIdData(ledgerId=t[0], entryId=t[1])
                conn.request(
                    lambda rid: CommandSeek(
                        consumer_id=self._consumer_id, request_id=rid, message_id=data
                    ),
                    f"SEEK {self._topic} to {t}",
                )
            else:
                conn.request(
                    lambda rid: CommandSeek(
                        consumer_id=self._consumer_id, request_id=rid, message_publish_time=t
                    ),
                    f"SEEK {self._topic} to {t} ms",
                )
            self._redeliveries.rewound("seek", last_taken)
            ok = True
        finally:
            if not ok:
                self._seeking = False
            self._seek_done.set()
        # Whatever the old position delivered is stale now (the broker closes the consumer,
        # and the re-subscription starts a newer generation that this leaves alone).
        self._queue.remove_if(lambda m: m._owner is self and m._generation <= gen)
        self._acks.reset()
        self._nacks.clear()
        if self._handed is not None:
            self._handed.clear()
        if self._unacked is not None:
            self._unacked.clear()
        self._last_dequeued = None
        self._end_of_topic = False
        if isinstance(t, MessageId) and t not in (EARLIEST, LATEST):
            # As the official client: a consumer resumes after the message it seeks to; a
            # reader keeps its start_message_id_inclusive rule.
            self._start_id = t
            self._start_inclusive = self._conf.start_message_id_inclusive
        else:
            self._start_id = None
        if self._conf.durable:
            self._seek_target = None

    def _wait_settled(self) -> None:
        """Wait (within the operation timeout) for a re-subscription in progress to end."""
        if not self._settled.is_set():
            self._settled.wait(self._client.config.operation_timeout_seconds)

    def get_last_message_id(self) -> MessageId:
        """The id of the last message written to the topic ((-1, -1) style when empty)."""
        self._check_open()
        self._wait_settled()
        self._check_open()
        conn = self._conn
        if conn is None or conn.closed:
            raise NotConnected(f"consumer {self._name} on {self._topic} is not connected")
        resp: CommandGetLastMessageIdResponse = conn.request(
            lambda rid: CommandGetLastMessageId(consumer_id=self._consumer_id, request_id=rid),
            f"GET_LAST_MESSAGE_ID {self._topic}",
        )
        return MessageId.from_data(resp.last_message_id, partition=self._partition)

    # --- re-subscribing (the loop is `Handler`'s) ----------------------------------------------

    _kind = "consumer"
    _busy = ConsumerBusy

    def _handler_id(self) -> int:
        return self._consumer_id

    def _describe(self) -> str:
        return f"consumer {self._name} on {self._topic}"

    def _on_reconnecting(self) -> None:
        self._settled.clear()

    def _before_reconnect_after_close(self) -> None:
        # Give the broker time to finish what made it close us (a seek's cursor reset,
        # an unload), as the Java client's first reconnect delay does.
        cfg = self._client.config
        if not self._seek_done.wait(cfg.operation_timeout_seconds):
            log.warning("consumer %s: no answer to SEEK; re-subscribing anyway", self._name)
        self._closed_event.wait(cfg.initial_backoff_interval_ms / 1000)

    def _create_again(self) -> Connection:
        return self._subscribe_on_broker()

    def _unregister(self, conn: Connection) -> None:
        conn.unregister_consumer(self._consumer_id, self)

    def _reconnected(self, outcome: Connection) -> Connection | None:
        conn = outcome
        with self._state_lock:
            if self._state == CONNECTING:
                self._state = READY
            closing = self._state == CLOSED
        self._settled.set()
        if closing:
            self._send_close(conn)
            conn.unregister_consumer(self._consumer_id, self)
            return None
        log.info("consumer %s on %s re-subscribed via %s", self._name, self._topic, conn.logical)
        self._acks.flush()
        return conn

    def _fail(self, err: PulsarError) -> None:
        self._fatal = err
        with self._state_lock:
            if self._state == CLOSED:
                return
            self._state = FAILED
        self._settled.set()
        if self._own_queue:
            self._queue.close(err)

    # --- closing -------------------------------------------------------------------------------

    def unsubscribe(self) -> None:
        """Delete the subscription on the broker, then close this consumer."""
        self._check_open()
        conn = self._conn
        if conn is None or conn.closed:
            raise NotConnected(f"unsubscribe: consumer {self._name} is not connected")
        conn.request(
            lambda rid: CommandUnsubscribe(consumer_id=self._consumer_id, request_id=rid),
            f"UNSUBSCRIBE {self._topic}",
        )
        self._close(send_close=False)

    def close(self) -> None:
        """Send pending acks, close the consumer on the broker, stop the listener. Messages
        still queued are dropped (the broker delivers them again to someone)."""
        self._close(send_close=True)

    def _close(self, send_close: bool) -> None:
        with self._state_lock:
            if self._state == CLOSED:
                return
            was_ready = self._state == READY
            self._state = CLOSED
        self._settled.set()
        self._acks.flush()
        self._closed_event.set()
        self._housekeeping.remove(self)
        conn = self._conn
        if conn is not None:
            if send_close and was_ready and not conn.closed:
                try:
                    conn.request(
                        lambda rid: CommandCloseConsumer(
                            consumer_id=self._consumer_id, request_id=rid
                        ),
                        f"CLOSE_CONSUMER {self._topic}",
                    )
                except PulsarError as err:
                    log.debug("closing %r on the broker: %s", self, err)
            conn.unregister_consumer(self._consumer_id, self)
        err = AlreadyClosed(f"consumer {self._name} on {self._topic} is closed")
        if self._own_queue:
            self._queue.close(err)
            self._queue.remove_if(lambda m: True)
        else:
            self._queue.remove_if(lambda m: m._owner is self)
        self._stop_listener()
        producer = self._dlq_producer
        if producer is not None:
            with contextlib.suppress(PulsarError):
                producer.close()
        if self._parent is None:
            self._client.forget(self)

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
