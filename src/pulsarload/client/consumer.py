"""Consumers: receive, flow control, acknowledgements, negative acks, seek, DLQ, reconnect.

`Consumer` consumes one topic or one partition. A partitioned topic, a list of topics or a
regex gets a `MultiTopicsConsumer` (`pulsarload.client.multi`) whose partitions are `Consumer`s
feeding one shared `ReceiverQueue`. `subscribe(client, topic, subscription_name, ...)` picks
the right one (`Client.subscribe` calls it).

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
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pulsarload.client.acks import AckGroupingTracker, NegativeAckTracker, UnackedMessageTracker
from pulsarload.client.backoff import Backoff, reconnect
from pulsarload.client.chunks import ChunkAssembler
from pulsarload.client.consumer_config import (
    ConsumerBatchReceivePolicy,
    ConsumerConfig,
    ConsumerCryptoFailureAction,
    ConsumerDeadLetterPolicy,
    ConsumerKeySharedPolicy,
    ConsumerType,
    InitialPosition,
    KeySharedMode,
    MessageListener,
    RegexSubscriptionMode,
    SubscriptionMode,
    parse_seek_target,
    split_topic_argument,
)
from pulsarload.client.errors import (
    AlreadyClosed,
    ConsumerBusy,
    CryptoError,
    InvalidConfiguration,
    NotConnected,
    PulsarError,
    Result,
    TimeoutError,
)
from pulsarload.client.lookup import retry_operation
from pulsarload.client.message import BatchInfo, Message
from pulsarload.wire.batch import parse_batch
from pulsarload.wire.commands import (
    CommandAck,
    CommandCloseConsumer,
    CommandFlow,
    CommandGetLastMessageId,
    CommandGetLastMessageIdResponse,
    CommandMessage,
    CommandRedeliverUnacknowledgedMessages,
    CommandSeek,
    CommandSubscribe,
    CommandUnsubscribe,
)
from pulsarload.wire.compression import DEFAULT_MAX_UNCOMPRESSED_SIZE, decompress
from pulsarload.wire.enums import AckType, CommandType, SubType, ValidationError
from pulsarload.wire.enums import InitialPosition as WireInitialPosition
from pulsarload.wire.enums import KeySharedMode as WireKeySharedMode
from pulsarload.wire.errors import DecompressionError, ProtocolError
from pulsarload.wire.frames import Frame
from pulsarload.wire.message_id import EARLIEST, LATEST, MessageId, is_acked
from pulsarload.wire.messages import IntRange, KeySharedMeta, MessageIdData, key_values

if TYPE_CHECKING:
    from pulsarload.client.client import Client
    from pulsarload.client.connection import Connection
    from pulsarload.client.multi import MultiTopicsConsumer
    from pulsarload.client.producer import PartitionedProducer, Producer

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
    "subscribe",
]

log = logging.getLogger(__name__)

_INIT, _READY, _CONNECTING, _CLOSED, _FAILED = range(5)
#: How long blocking waits sleep between checks of the closed flag.
_POLL = 0.5
#: How many dead-lettered entries a consumer remembers, to drop redeliveries of them.
_DLQ_REMEMBERED = 100_000

_consumer_ids = itertools.count(1)
_consumer_ids_lock = threading.Lock()


def _new_consumer_id() -> int:
    # Ids only need to be unique per connection; one process-wide counter is simplest.
    with _consumer_ids_lock:
        return next(_consumer_ids)


class CumulativeAckNotAllowed(PulsarError, ValueError):
    """Cumulative acks make no sense on Shared / Key_Shared subscriptions."""

    result = Result.CumulativeAcknowledgementNotAllowedError


# --- the receiver queue ---------------------------------------------------------------------------


class ReceiverQueue:
    """Messages waiting for the application: one per consumer, or one shared by every
    partition of a multi-topic consumer. Taking a message credits its consumer's permits."""

    __slots__ = ("_closed", "_cond", "_items", "_waiters")

    def __init__(self) -> None:
        self._items: deque[Message] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed: BaseException | None = None
        #: Callbacks of pending asynchronous receives, served first-come before the queue.
        self._waiters: deque[AsyncWaiter] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def put_many(self, msgs: list[Message], owner: Consumer, generation: int) -> bool:
        """Append the messages of one entry unless `owner` moved to a newer generation."""
        with self._cond:
            if owner._generation != generation or self._closed is not None:
                return False
            self._items.extend(msgs)
            if self._waiters:
                handed = self._hand_out_locked()
            else:
                handed = None
                self._cond.notify(len(msgs))
        if handed:
            for waiter, msg in handed:
                waiter(msg, None)
        return True

    # --- asynchronous receives (the asyncio client) ---------------------------------------------

    def _hand_out_locked(self) -> list[tuple[AsyncWaiter, Message]]:
        items, waiters = self._items, self._waiters
        handed = []
        while waiters and items:
            handed.append((waiters.popleft(), items.popleft()))
        if items:
            self._cond.notify(len(items))
        return handed

    def take_or_wait(self, waiter: AsyncWaiter) -> Message | None:
        """The next message at once if one is queued; else None, and `waiter(msg, None)` runs
        (on the thread that queues it) when one comes, or `waiter(None, error)` when the queue
        closes. A message handed out here is not yet taken: the receiver calls `accept` (or
        `give_back`) so that permits are counted once. Raises the close reason if closed."""
        with self._cond:
            if self._items:
                return self._items.popleft()
            if self._closed is not None:
                raise self._closed
            self._waiters.append(waiter)
        return None

    def cancel_wait(self, waiter: AsyncWaiter) -> bool:
        """Withdraw a pending `take_or_wait`; False if it was already served."""
        with self._cond:
            try:
                self._waiters.remove(waiter)
            except ValueError:
                return False
        return True

    def give_back(self, msg: Message) -> None:
        """Put back at the front a message handed to a waiter that no longer wants it."""
        with self._cond:
            self._items.appendleft(msg)
            handed = self._hand_out_locked() if self._waiters else None
            if handed is None:
                self._cond.notify(1)
        if handed:
            for waiter, m in handed:
                waiter(m, None)

    def _wait_locked(self, timeout: float | None) -> bool:
        """With the lock held: wait until a message is queued (True) or `timeout` seconds pass
        (False; None: no limit). Raises the close reason once the queue is closed and empty."""
        items = self._items
        if items:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while not items:
            if self._closed is not None:
                raise self._closed
            if deadline is None:
                self._cond.wait(_POLL)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def get(self, timeout: float | None) -> Message | None:
        """The next message, or None after `timeout` seconds (None: wait until one comes).

        Raises the close reason once the queue is closed and empty.
        """
        with self._cond:
            if not self._wait_locked(timeout):
                return None
            msg = self._items.popleft()
        owner = msg._owner
        if owner is not None:
            owner._dequeued(msg)
        return msg

    def get_available(self, max_messages: int, timeout: float | None) -> list[Message]:
        """Whatever is queued, up to `max_messages`, in one lock hold: waits at most `timeout`
        seconds (None: until one comes) for the first message, never for more.

        Raises the close reason once the queue is closed and empty. The owners are told
        what was taken once per call (one FLOW check per consumer, not one per message).
        """
        items = self._items
        with self._cond:
            if not self._wait_locked(timeout):
                return []
            if len(items) <= max_messages:
                out = list(items)
                items.clear()
            else:
                pop = items.popleft
                out = [pop() for _ in range(max_messages)]
        _dequeued_all(out)
        return out

    def get_many(self, max_messages: int, max_bytes: int, timeout: float) -> list[Message]:
        """Up to `max_messages` (-1: any number) messages and about `max_bytes` bytes, waiting
        at most `timeout` seconds (negative: no time limit) for the limit to fill (returns
        what came meanwhile)."""
        out: list[Message] = []
        size = 0
        deadline = time.monotonic() + timeout if timeout >= 0 else math.inf
        cond = self._cond
        items = self._items
        while True:
            with cond:
                while items and (max_messages < 0 or len(out) < max_messages):
                    msg = items[0]
                    n = msg.size()
                    if out and max_bytes >= 0 and size + n > max_bytes:
                        break
                    items.popleft()
                    out.append(msg)
                    size += n
                full = (max_messages >= 0 and len(out) >= max_messages) or (
                    max_bytes >= 0 and size >= max_bytes
                )
                if full or (items and out):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if self._closed is not None:
                    if out:
                        break
                    raise self._closed
                cond.wait(min(left, _POLL))
        for msg in out:
            owner = msg._owner
            if owner is not None:
                owner._dequeued(msg)
        return out

    def remove_if(self, pred: Callable[[Message], bool]) -> int:
        """Drop the queued messages `pred` selects; returns how many were dropped."""
        with self._cond:
            items = self._items
            kept = [m for m in items if not pred(m)]
            dropped = len(items) - len(kept)
            if dropped:
                items.clear()
                items.extend(kept)
        return dropped

    def count_if(self, pred: Callable[[Message], bool]) -> int:
        with self._cond:
            return sum(1 for m in self._items if pred(m))

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def close(self, reason: BaseException) -> None:
        """Waiters get `reason` once the queue is empty (messages queued before stay readable)."""
        with self._cond:
            if self._closed is None:
                self._closed = reason
            self._cond.notify_all()
            waiters = list(self._waiters) if not self._items else []
            if waiters:
                self._waiters.clear()
        for waiter in waiters:
            waiter(None, self._closed)

    @property
    def closed(self) -> bool:
        return self._closed is not None


class _StillEncrypted:
    """An entry that could not be decrypted and is delivered as it came (CONSUME)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


#: `waiter(message, None)` or `waiter(None, error)`: the callback of an asynchronous receive.
type AsyncWaiter = Callable[[Message | None, BaseException | None], None]


def _dequeued_all(msgs: list[Message]) -> None:
    """Tell each owner which of `msgs` the application took (runs of one owner at a time)."""
    start = 0
    n = len(msgs)
    while start < n:
        owner = msgs[start]._owner
        end = start + 1
        while end < n and msgs[end]._owner is owner:
            end += 1
        if owner is not None:
            owner._dequeued_many(msgs if start == 0 and end == n else msgs[start:end])
        start = end


# --- what a single and a multi-topic consumer share ------------------------------------------------


class _Receiving:
    """Receiving, the listener thread and ack routing over a `ReceiverQueue`."""

    _queue: ReceiverQueue
    _conf: ConsumerConfig
    _listener_thread: threading.Thread | None
    _listener_running: threading.Event
    _closed_event: threading.Event

    def _check_receivable(self) -> None:
        if self._conf.message_listener is not None:
            raise InvalidConfiguration(
                "receive: this consumer has a message_listener; messages go to it"
            )

    def _want_one(self) -> None:
        """A zero-queue consumer asks the broker for one message when the application waits
        for one (others prefetch)."""

    def receive(self, timeout_millis: int | None = None) -> Message:
        """The next message; raises `Timeout` when none arrives within `timeout_millis`
        (None: wait until one does) and `AlreadyClosed` once the consumer is closed."""
        self._check_receivable()
        if timeout_millis is not None and timeout_millis < 0:
            raise InvalidConfiguration(f"timeout_millis: must be >= 0, got {timeout_millis}")
        timeout = None if timeout_millis is None else timeout_millis / 1000.0
        self._want_one()
        msg = self._queue.get(timeout)
        if msg is None:
            raise TimeoutError(f"receive: no message within {timeout_millis} ms")
        return msg

    def receive_many(self, max_messages: int, timeout_millis: int | None = None) -> list[Message]:
        """Up to `max_messages` messages that are already queued (a whole batch entry or
        more), waiting at most `timeout_millis` (None: until one comes) for the first; an
        empty list when none came. Unlike `batch_receive` it never waits to fill up: it is
        the cheap path for a loop that handles whatever arrived."""
        self._check_receivable()
        if max_messages < 1:
            raise InvalidConfiguration(f"max_messages: must be >= 1, got {max_messages}")
        if timeout_millis is not None and timeout_millis < 0:
            raise InvalidConfiguration(f"timeout_millis: must be >= 0, got {timeout_millis}")
        timeout = None if timeout_millis is None else timeout_millis / 1000.0
        self._want_one()
        return self._queue.get_available(max_messages, timeout)

    def batch_receive(
        self, max_messages: int | None = None, timeout_millis: int | None = None
    ) -> list[Message]:
        """Messages per the batch receive policy (or the limits given here); may be empty
        when the timeout passes with nothing received."""
        self._check_receivable()
        policy = self._conf.batch_receive_policy
        n = policy.max_num_message if max_messages is None else max_messages
        t = policy.timeout_ms if timeout_millis is None else timeout_millis
        self._want_one()
        return self._queue.get_many(n, policy.max_num_bytes, t / 1000.0)

    def receive_async(self, waiter: AsyncWaiter) -> Callable[[], bool]:
        """Receive without blocking: `waiter(message, None)` runs once a message is here (at
        once if one is queued, else on the thread that queues it) or `waiter(None, error)` if
        the consumer closes first. The receiver then calls `accept(message)` to take it, or
        `give_back(message)` to return it to the front of the queue. Returns a function that
        withdraws the wait (False if the waiter was already served)."""
        self._check_receivable()
        queue = self._queue
        msg = queue.take_or_wait(waiter)
        if msg is not None:
            waiter(msg, None)
        return lambda: queue.cancel_wait(waiter)

    def accept(self, msg: Message) -> None:
        """Take a message handed to a `receive_async` waiter (counts its flow permit)."""
        owner = msg._owner
        if owner is not None:
            owner._dequeued(msg)

    def give_back(self, msg: Message) -> None:
        """Return a message handed to a `receive_async` waiter that was cancelled meanwhile."""
        self._queue.give_back(msg)

    def num_messages_in_queue(self) -> int:
        """Messages received from the broker and not yet taken by the application."""
        return len(self._queue)

    # --- listener ----------------------------------------------------------------------------

    def _start_listener(self) -> None:
        if self._conf.message_listener is None:
            return
        self._listener_running.set()
        self._listener_thread = self._client._spawn(
            self._listen, f"pulsar-listener-{self._conf.subscription_name}"
        )

    def _listen(self) -> None:
        listener = self._conf.message_listener
        assert listener is not None
        queue = self._queue
        while not self._closed_event.is_set():
            if not self._listener_running.wait(_POLL):
                continue
            self._want_one()
            try:
                msg = queue.get(_POLL)
            except PulsarError:
                return
            if msg is None:
                continue
            try:
                listener(self, msg)
            except Exception:
                log.exception("message listener of %r failed", self)

    def pause_message_listener(self) -> None:
        """Stop calling the listener (messages wait in the queue)."""
        self._listener_running.clear()

    def resume_message_listener(self) -> None:
        self._listener_running.set()

    def _stop_listener(self) -> None:
        t = self._listener_thread
        if t is not None and t is not threading.current_thread():
            t.join(2 * _POLL + 1.0)


# --- one topic or partition ----------------------------------------------------------------------


class Consumer(_Receiving):
    """A consumer on one topic or one partition. Create with `Client.subscribe`."""

    #: 0 while subscribed; n during the n-th re-subscribe attempt (for status lines).
    reconnect_attempt = 0

    def __init__(
        self,
        client: Client,
        conf: ConsumerConfig,
        topic: str,
        partition: int = -1,
        *,
        queue: ReceiverQueue | None = None,
        parent: MultiTopicsConsumer | None = None,
        queue_size: int | None = None,
        base_topic: str | None = None,
    ) -> None:
        self._client = client
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
        self._queue_size = queue_size or conf.receiver_queue_size
        # Zero-queue: no prefetch; one permit goes out when the application waits with an
        # empty queue, and stays outstanding (_zq_asked) until a message comes.
        self._zero_queue = self._queue_size == 0
        self._zq_asked = False
        self._threshold = max(1, self._queue_size // 2)
        self._housekeeping = client._housekeeping

        self._state = _INIT
        self._state_lock = threading.Lock()
        # Clear while re-subscribing (after a seek, an unload, a lost connection): requests
        # that name this consumer wait for it rather than fail with "consumer not found".
        self._settled = threading.Event()
        self._settled.set()
        self._conn: Connection | None = None
        self._closed_event = threading.Event()
        self._fatal: PulsarError | None = None
        self._generation = 0
        self._epoch = 0
        self._flow_lock = threading.Lock()
        self._permits = 0
        # Non-durable subscriptions start here; any consumer skips what lies before it
        # inside the first entry (batch indexes before a seek target, for one).
        self._start_id: MessageId | None = None if conf.durable else conf.start_message_id
        self._start_inclusive = conf.start_message_id_inclusive
        self._seek_target: MessageId | int | None = None
        # Clear while a SEEK is outstanding: the broker closes the consumer before it answers;
        # re-subscribing waits for that answer so it never races the cursor reset.
        self._seek_done = threading.Event()
        self._seek_done.set()
        self._last_dequeued: MessageId | None = None
        self._end_of_topic = False
        #: Failover: whether the broker made this consumer the active one (None: not told).
        self.active: bool | None = None
        #: Messages discarded because they were corrupt (checksum, codec, batch format).
        self.corrupt_messages = 0

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
        self._dlq_max = conf.dead_letter_max
        self._dlq_lock = threading.Lock()
        self._dlq_candidates: dict[MessageId, list[Message]] = {}
        # Entries handed to the dead-letter producer (insertion-ordered, trimmed): never given
        # to the application again, whatever redelivery crosses the ack that removes them.
        self._dlq_moving: dict[MessageId, None] = {}
        # Shared with a dead-letter policy: entries the application took and has not acked.
        # A redeliver-all sends back these (by id) and leaves what is still queued alone, so
        # each message is seen max_redeliver_count + 1 times before it moves, as with the
        # official client (a broker-side redeliver-all would also count up messages that
        # were only prefetched, and move them unseen).
        self._handed: dict[MessageId, None] | None = {} if self._dlq_max and self._shared else None
        self._dlq_backlog: list[list[Message]] = []
        self._dlq_running = False
        self._dlq_producer: Producer | PartitionedProducer | None = None
        self._listener_thread = None
        self._listener_running = threading.Event()
        self._decryptor = None
        if conf.crypto_key_reader is not None:
            from pulsarload.client.crypto import MessageDecryptor

            self._decryptor = MessageDecryptor(conf.crypto_key_reader)

    # --- creation -----------------------------------------------------------------------------

    def _start(self) -> None:
        """Subscribe on the broker (retrying retriable errors within the operation timeout)."""
        retry_operation(
            self._subscribe_on_broker, self._client._config, f"subscribing to {self._topic}"
        )
        with self._state_lock:
            self._state = _READY
        self._housekeeping.add(self)
        if self._parent is None:
            self._client._register_consumer(self)
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
        )

    def _subscribe_on_broker(self) -> Connection:
        client = self._client
        where = client._lookup.lookup(self._topic)
        conn = client._pool.get(where.logical, where.physical)
        self._new_generation()
        conn.register_consumer(self._consumer_id, self)
        try:
            conn.request(self._subscribe_command, f"SUBSCRIBE {self._topic}")
        except BaseException as err:
            conn.unregister_consumer(self._consumer_id, self)
            if isinstance(err, TimeoutError):
                self._send_close(conn)  # the broker may still create it: drop it there
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

    def is_connected(self) -> bool:
        conn = self._conn
        return self._state == _READY and conn is not None and not conn.closed

    def has_reached_end_of_topic(self) -> bool:
        """The topic was terminated and everything in it was delivered."""
        return self._end_of_topic

    @property
    def connection(self) -> Connection | None:
        return self._conn

    @property
    def consumers(self) -> list[Consumer]:
        return [self]

    def __repr__(self) -> str:
        return f"<Consumer {self._name} on {self._topic} sub={self._conf.subscription_name}>"

    # --- incoming (reader thread) -------------------------------------------------------------

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

    def _on_message(self, frame: Frame, cmd: CommandMessage) -> None:
        gen = self._generation
        self._zq_asked = False
        md = frame.metadata
        data = cmd.message_id
        ledger, entry, part = data.ledgerId, data.entryId, self._partition
        epoch = cmd.consumer_epoch
        if epoch is not None and epoch < self._epoch:
            # Sent before a redeliver-all: it comes again; give its permits back.
            n = md.num_messages_in_batch if md is not None else None
            self._return_permits(n if n is not None and n > 0 else 1)
            return
        if frame.error is not None or md is None:
            self._discard_corrupt(ledger, entry, ValidationError.ChecksumMismatch, frame.error, 1)
            return
        payload: Any = frame.payload
        num = md.num_messages_in_batch
        chunk_ids: tuple[MessageId, ...] | None = None
        if md.num_chunks_from_msg is not None and md.num_chunks_from_msg > 1 and num is None:
            res = self._chunks.add(md, MessageId(ledger, entry, part), payload)
            for mid in res.to_ack:
                self._acks.add_individual(mid)
            if res.to_redeliver:
                self._redeliver(res.to_redeliver)
            if res.payload is None:
                self._return_permits(1)
                return
            payload = res.payload
            chunk_ids = res.chunk_ids
        permits = num if num is not None and num > 0 else 1
        if self._acks.is_duplicate(ledger, entry, part):
            self._return_permits(permits)
            return
        if md.encryption_keys:
            payload = self._decrypt(ledger, entry, md, payload, permits)
            if payload is None:
                return
            if type(payload) is _StillEncrypted:
                # CONSUME: the entry goes out whole and encrypted (not decompressed, not split).
                undecrypted = Message(
                    payload.data,
                    md,
                    None,
                    MessageId(ledger, entry, part),
                    cmd.redelivery_count or 0,
                    self._topic,
                    self,
                    None,
                    gen,
                    chunk_ids,
                )
                undecrypted._decrypt_failed = True
                if permits > 1:
                    self._return_permits(permits - 1)
                self._queue.put_many([undecrypted], self, gen)
                return
        if md.compression:
            try:
                payload = decompress(
                    md.compression,
                    payload,
                    md.uncompressed_size or 0,
                    max(DEFAULT_MAX_UNCOMPRESSED_SIZE, len(payload)),
                )
            except DecompressionError as err:
                self._discard_corrupt(
                    ledger, entry, ValidationError.DecompressionError, err, permits
                )
                return
        rc = cmd.redelivery_count or 0
        start = self._start_id
        same_as_start = start is not None and start[1] == entry and start[0] == ledger
        topic = self._topic
        if num is None:
            if same_as_start and not self._start_inclusive:
                self._return_permits(1)
                return
            msgs = [
                Message(
                    payload,
                    md,
                    None,
                    MessageId(ledger, entry, part),
                    rc,
                    topic,
                    self,
                    None,
                    gen,
                    chunk_ids,
                )
            ]
        else:
            try:
                parts = parse_batch(payload, num)
            except ProtocolError as err:
                self._discard_corrupt(
                    ledger, entry, ValidationError.BatchDeSerializeError, err, permits
                )
                return
            ack_set = cmd.ack_set
            skip = 0
            if ack_set:
                for i in range(num):
                    if is_acked(ack_set, i):
                        skip |= 1 << i
            if same_as_start:
                # Resuming inside this entry: skip what lies before the start position.
                assert start is not None
                si = start[3]
                if si < 0:  # the start names the whole entry
                    first = 0 if self._start_inclusive else num
                else:
                    first = si if self._start_inclusive else si + 1
                skip |= (1 << min(first, num)) - 1
            info = BatchInfo(num, skip)
            new_tuple = tuple.__new__  # MessageId(...) without its Python-level __new__
            msgs = []
            append = msgs.append
            for i, (smd, body) in enumerate(parts):
                if (skip >> i) & 1:
                    continue
                if smd.compacted_out:
                    info.acked |= 1 << i
                    continue
                mid = new_tuple(MessageId, (ledger, entry, part, i, num))
                append(Message(body, md, smd, mid, rc, topic, self, info, gen))
            skipped = num - len(msgs)
            if skipped:
                self._return_permits(skipped)
            if not msgs:
                return
        if self._dlq_max:
            key = MessageId(ledger, entry, part)
            if self._dlq_moving and key in self._dlq_moving:
                # Dead-lettered (or being moved): a redelivery that crossed our ack is dropped.
                self._return_permits(len(msgs))
                return
            if rc >= self._dlq_max:
                with self._dlq_lock:
                    self._dlq_candidates[key] = msgs
        if not self._queue.put_many(msgs, self, gen):
            log.debug("dropped entry %d:%d of an older subscription instance", ledger, entry)

    def _decrypt(self, ledger: int, entry: int, md: Any, payload: Any, permits: int) -> Any:
        """The decrypted payload; else per crypto_failure_action: None after dropping the
        entry (FAIL: left unacknowledged, DISCARD: acknowledged) or `_StillEncrypted`."""
        try:
            if self._decryptor is None:
                raise CryptoError(
                    "the message is encrypted and the consumer has no crypto_key_reader"
                )
            return self._decryptor.decrypt(md, payload)
        except CryptoError as err:
            action = self._conf.crypto_failure_action
            if action is ConsumerCryptoFailureAction.CONSUME:
                return _StillEncrypted(bytes(payload))
            if action is ConsumerCryptoFailureAction.DISCARD:
                self._discard_corrupt(ledger, entry, ValidationError.DecryptionError, err, permits)
                return None
            log.error(
                "consumer %s on %s: message %d:%d not delivered: %s (crypto_failure_action=FAIL)",
                self._name,
                self._topic,
                ledger,
                entry,
                err,
            )
            self._return_permits(permits)
            return None

    def _discard_corrupt(
        self,
        ledger: int,
        entry: int,
        reason: ValidationError,
        err: BaseException | None,
        permits: int,
    ) -> None:
        """Ack a message that cannot be read with a validation error (as the Java client) so
        the broker does not send it again, and keep going."""
        self.corrupt_messages += 1
        log.warning(
            "consumer %s on %s: discarding message %d:%d (%s: %s)",
            self._name,
            self._topic,
            ledger,
            entry,
            reason.name,
            err,
        )
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(PulsarError):
                conn.send_command(
                    CommandAck(
                        consumer_id=self._consumer_id,
                        ack_type=AckType.Individual,
                        message_id=(MessageId(ledger, entry, self._partition).to_data(),),
                        validation_error=reason,
                    )
                )
        self._return_permits(permits)

    # --- flow control -------------------------------------------------------------------------

    def _dequeued(self, msg: Message) -> None:
        """The application took `msg` (called by the queue, outside its lock)."""
        self._dequeued_many([msg])

    def _dequeued_many(self, msgs: list[Message]) -> None:
        """The application took `msgs` of this consumer: one FLOW check for all. Messages of
        an older subscription instance are skipped: their permits died with it."""
        gen = self._generation
        taken = [m for m in msgs if m._generation == gen]
        if not taken:
            return
        if self._zero_queue:
            self._last_dequeued = taken[-1]._id
            if self._handed is not None:
                for m in taken:
                    self._handed[m._id.entry] = None
            return  # the next permit goes out when the application waits again
        self._last_dequeued = taken[-1]._id
        handed = self._handed
        if handed is not None:
            for m in taken:
                handed[m._id.entry] = None
        unacked = self._unacked
        if unacked is not None:
            for m in taken:
                unacked.add(m._id)
            self._housekeeping.wake_by(time.monotonic() + unacked.delay)
        with self._flow_lock:
            permits = self._permits + len(taken)
            if permits < self._threshold:
                self._permits = permits
                return
            self._permits = 0
        self._send_flow(permits)

    def _return_permits(self, n: int) -> None:
        """Messages the application will never see (skipped, corrupt, stale): permits back."""
        if self._zero_queue:
            # The message a waiting receive asked for was dropped: ask for the next one.
            self._zq_asked = True
            self._send_flow(1)
            return
        with self._flow_lock:
            permits = self._permits + n
            if permits < self._threshold:
                self._permits = permits
                return
            self._permits = 0
        self._send_flow(permits)

    def _send_flow(self, permits: int, conn: Connection | None = None) -> None:
        conn = conn or self._conn
        if conn is None or permits <= 0:
            return
        with contextlib.suppress(PulsarError):
            conn.send_command(CommandFlow(consumer_id=self._consumer_id, messagePermits=permits))

    # --- acknowledgements -----------------------------------------------------------------------

    def _send_ack(self, ids: Iterable[MessageIdData], ack_type: AckType) -> None:
        conn = self._conn
        if conn is None or conn.closed:
            raise NotConnected(f"consumer {self._name} on {self._topic} is not connected")
        conn.send_command(
            CommandAck(consumer_id=self._consumer_id, ack_type=ack_type, message_id=tuple(ids))
        )

    def _wake_for_acks(self) -> None:
        deadline = self._acks.deadline
        if deadline != math.inf:
            self._housekeeping.wake_by(deadline)

    def _check_open(self) -> None:
        if self._state in (_CLOSED,):
            raise AlreadyClosed(f"consumer {self._name} on {self._topic} is closed")

    def _batch_for_id(self, mid: MessageId) -> BatchInfo | None:
        """A BatchInfo for a batch message acked by id alone (needs its batch_size)."""
        if mid[3] < 0 or mid[4] <= 0:
            return None
        key = (mid[0], mid[1], mid[2])
        info = self._id_batches.get(key)
        if info is None:
            info = self._id_batches.setdefault(key, BatchInfo(mid[4]))
        return info

    def acknowledge(self, message: Message | MessageId) -> None:
        """Acknowledge one message (grouped per the ack grouping settings)."""
        if self._state == _CLOSED:
            self._check_open()
        if type(message) is Message:
            mid, batch, chunks = message._id, message._batch, message._chunk_ids
        elif isinstance(message, MessageId):
            mid, batch, chunks = message, self._batch_for_id(message), None
        else:
            raise InvalidConfiguration(
                f"acknowledge: expected a Message or MessageId, got {message!r}"
            )
        acks = self._acks
        if acks.add_individual(mid, batch, chunks):
            self._housekeeping.wake_by(acks.deadline)
        if self._id_batches and batch is not None and batch.acked == batch.full:
            self._id_batches.pop((mid[0], mid[1], mid[2]), None)
        if self._unacked is not None:
            self._unacked.remove(mid)
        if self._handed is not None and (batch is None or batch.acked == batch.full):
            self._handed.pop(mid.entry, None)
        if self._dlq_candidates:
            with self._dlq_lock:
                self._dlq_candidates.pop(mid.entry, None)

    def acknowledge_many(self, messages: Sequence[Message]) -> None:
        """Acknowledge several received messages of this consumer, as `acknowledge` for
        each would, with one pass over the ack tracker (what a batch receive loop wants)."""
        if self._state == _CLOSED:
            self._check_open()
        for m in messages:
            if type(m) is not Message or m._owner is not self:
                for msg in messages:  # ids, or messages of another consumer: one at a time
                    self.acknowledge(msg)
                return
        if not messages:
            return
        acks = self._acks
        if acks.add_messages(messages):
            self._housekeeping.wake_by(acks.deadline)
        if self._id_batches:
            for m in messages:
                batch = m._batch
                if batch is not None and batch.acked == batch.full:
                    mid = m._id
                    self._id_batches.pop((mid[0], mid[1], mid[2]), None)
        unacked = self._unacked
        if unacked is not None:
            for m in messages:
                unacked.remove(m._id)
        handed = self._handed
        if handed is not None:
            for m in messages:
                batch = m._batch
                if batch is None or batch.acked == batch.full:
                    handed.pop(m._id.entry, None)
        if self._dlq_candidates:
            with self._dlq_lock:
                for m in messages:
                    self._dlq_candidates.pop(m._id.entry, None)

    def acknowledge_cumulative(self, message: Message | MessageId) -> None:
        """Acknowledge every message up to and including this one (not on Shared/Key_Shared)."""
        self._check_open()
        if self._shared:
            raise CumulativeAckNotAllowed(
                f"acknowledge_cumulative: not allowed on a {self._sub_type.name} subscription"
            )
        if isinstance(message, Message):
            mid, batch = message._id, message._batch
        elif isinstance(message, MessageId):
            mid, batch = message, self._batch_for_id(message)
        else:
            raise InvalidConfiguration(
                f"acknowledge_cumulative: expected a Message or MessageId, got {message!r}"
            )
        self._acks.add_cumulative(mid, batch)
        if self._unacked is not None:
            self._unacked.remove_up_to(mid)
        if self._dlq_candidates:
            with self._dlq_lock:
                for k in [k for k in self._dlq_candidates if k <= mid]:
                    del self._dlq_candidates[k]
        self._wake_for_acks()

    def negative_acknowledge(self, message: Message | MessageId) -> None:
        """Have the message delivered again after the negative-ack redelivery delay
        (a batched message brings its whole entry back)."""
        self._check_open()
        if isinstance(message, Message):
            mid, chunks = message._id, message._chunk_ids
        elif isinstance(message, MessageId):
            mid, chunks = message, None
        else:
            raise InvalidConfiguration(
                f"negative_acknowledge: expected a Message or MessageId, got {message!r}"
            )
        if self._unacked is not None:
            self._unacked.remove(mid)
        for m in chunks or (mid,):
            self._nacks.add(m.entry)
            if self._handed is not None:
                self._handed.pop(m.entry, None)
        self._housekeeping.wake_by(time.monotonic() + self._nacks.delay)

    def redeliver_unacknowledged_messages(self) -> None:
        """Have the broker send every unacknowledged message of this consumer again (with a
        dead-letter policy: those the application took; the policy's limit applies)."""
        self._check_open()
        handed = self._handed
        if handed is None:
            self._redeliver_all()
            return
        entries = list(handed)
        handed.clear()
        if self._unacked is not None:
            self._unacked.clear()
        if entries:
            self._redeliver(entries)

    def _redeliver_all(self) -> None:
        if self._dlq_max and self._dlq_candidates:
            # Past the policy's redeliveries: to the dead-letter topic, not round again.
            with self._dlq_lock:
                dead = list(self._dlq_candidates.values())
                self._dlq_candidates.clear()
            self._dead_letter(dead)
        conn = self._conn
        self._epoch += 1
        with self._flow_lock:
            gen = self._generation
        dropped = self._queue.remove_if(lambda m: m._owner is self and m._generation == gen)
        if conn is not None:
            with contextlib.suppress(PulsarError):
                conn.send_command(
                    CommandRedeliverUnacknowledgedMessages(
                        consumer_id=self._consumer_id, consumer_epoch=self._epoch
                    )
                )
        if self._unacked is not None:
            self._unacked.clear()
        if dropped:
            self._return_permits(dropped)

    def _redeliver(self, entries: Iterable[MessageId]) -> None:
        """Redeliver these entries, or dead-letter those past the max redelivery count."""
        ids = sorted(set(entries))
        if self._dlq_max and self._dlq_candidates:
            dead: list[list[Message]] = []
            with self._dlq_lock:
                keep = []
                for mid in ids:
                    msgs = self._dlq_candidates.pop(mid, None)
                    if msgs is None:
                        keep.append(mid)
                    else:
                        dead.append(msgs)
                ids = keep
            if dead:
                self._dead_letter(dead)
        if not ids:
            return
        if not self._shared:
            # Exclusive / Failover: the broker replays from the first unacked message anyway.
            self._redeliver_all()
            return
        conn = self._conn
        if conn is None:
            return  # the reconnect will bring every unacked message back
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            with contextlib.suppress(PulsarError):
                conn.send_command(
                    CommandRedeliverUnacknowledgedMessages(
                        consumer_id=self._consumer_id,
                        message_ids=tuple(m.to_data() for m in chunk),
                    )
                )

    # --- dead letters ------------------------------------------------------------------------

    def _dlq_topic(self) -> str:
        policy = self._conf.dead_letter_policy
        assert policy is not None
        return policy.dead_letter_topic or (
            f"{self._base_topic}-{self._conf.subscription_name}-DLQ"
        )

    def _dead_letter(self, batches: list[list[Message]]) -> None:
        with self._dlq_lock:
            moving = self._dlq_moving
            for batch in batches:
                moving[batch[0]._id.entry] = None
            while len(moving) > _DLQ_REMEMBERED:
                del moving[next(iter(moving))]
            self._dlq_backlog.extend(batches)
            if self._dlq_running:
                return
            self._dlq_running = True
        self._client._spawn(self._dlq_loop, f"pulsar-dlq-{self._consumer_id}")

    def _dlq_loop(self) -> None:
        while True:
            with self._dlq_lock:
                if not self._dlq_backlog or self._closed_event.is_set():
                    self._dlq_running = False
                    return
                batch = self._dlq_backlog.pop(0)
            try:
                producer = self._dlq_producer
                if producer is None:
                    producer = self._dlq_producer = self._create_dlq_producer()
                for msg in batch:
                    props = dict(msg.properties())
                    props.setdefault("REAL_TOPIC", msg.topic_name())
                    mid = msg.message_id()
                    # The official client's spelling of the id: "(ledger,entry,partition,batch)".
                    props.setdefault("ORIGIN_MESSAGE_ID", f"({mid[0]},{mid[1]},{mid[2]},{mid[3]})")
                    producer.send(
                        msg.data(),
                        properties=props,
                        partition_key=msg.partition_key() or None,
                        ordering_key=(msg._md if msg._smd is None else msg._smd).ordering_key,
                        event_timestamp=msg.event_timestamp() or None,
                    )
            except PulsarError as err:
                log.warning(
                    "consumer %s: dead-lettering to %s failed (%s); redelivering instead",
                    self._name,
                    self._dlq_topic(),
                    err,
                )
                entries = {m._id.entry for m in batch}
                with self._dlq_lock:
                    for e in entries:
                        self._dlq_moving.pop(e, None)
                if not self._closed_event.is_set():
                    self._redeliver_plain(entries)
                continue
            for msg in batch:
                with contextlib.suppress(PulsarError):
                    self.acknowledge(msg)
            log.info(
                "consumer %s: %d message(s) moved to %s", self._name, len(batch), self._dlq_topic()
            )

    def _redeliver_plain(self, entries: Iterable[MessageId]) -> None:
        conn = self._conn
        if conn is None:
            return
        with contextlib.suppress(PulsarError):
            conn.send_command(
                CommandRedeliverUnacknowledgedMessages(
                    consumer_id=self._consumer_id,
                    message_ids=tuple(m.to_data() for m in sorted(entries)),
                )
            )

    def _create_dlq_producer(self) -> Producer | PartitionedProducer:
        policy = self._conf.dead_letter_policy
        assert policy is not None
        topic = self._dlq_topic()
        if policy.initial_subscription_name:
            # Create the subscription first, so the dead letters are retained for it.
            sub = subscribe(
                self._client,
                topic,
                policy.initial_subscription_name,
                consumer_type=ConsumerType.Shared,
                initial_position=InitialPosition.Earliest,
                receiver_queue_size=1,
            )
            sub.close()
        return self._client.create_producer(
            topic,
            producer_name=f"{self._conf.subscription_name}-{self._name}-DLQ",
            batching_enabled=False,
            block_if_queue_full=True,
        )

    # --- housekeeping (client thread) ----------------------------------------------------------

    def _tick(self, now: float) -> float:
        nearest = self._acks.tick(now)
        if len(self._nacks):
            due, nxt = self._nacks.take_due(now)
            if due:
                self._redeliver(due)
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
                self._redeliver(m.entry for m in due)
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
        self._seek_target = t
        self._seek_done.clear()
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
        finally:
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
            self._settled.wait(self._client._config.operation_timeout_seconds)

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

    # --- reconnect -----------------------------------------------------------------------------

    def connection_closed(self, connection: Connection) -> None:
        if connection is self._conn:
            self._schedule_reconnect()

    def _schedule_reconnect(self, closed_by_broker: bool = False) -> None:
        with self._state_lock:
            if self._state != _READY:
                return
            self._state = _CONNECTING
            self._settled.clear()
            old = self._conn
        self._client._spawn(
            self._reconnect_loop,
            f"pulsar-consumer-reconnect-{self._consumer_id}",
            old,
            closed_by_broker,
        )

    def _reconnect_loop(self, old: Connection | None, closed_by_broker: bool) -> None:
        if old is not None:
            old.unregister_consumer(self._consumer_id, self)
            if not old.closed and not closed_by_broker:
                self._send_close(old)
        cfg = self._client._config
        backoff = Backoff(
            cfg.initial_backoff_interval_ms / 1000,
            cfg.max_backoff_interval_ms / 1000,
            give_up=cfg.reconnect_give_up_seconds,
        )
        if closed_by_broker:
            # Give the broker time to finish what made it close us (a seek's cursor reset,
            # an unload), as the Java client's first reconnect delay does.
            if not self._seek_done.wait(cfg.operation_timeout_seconds):
                log.warning("consumer %s: no answer to SEEK; re-subscribing anyway", self._name)
            self._closed_event.wait(cfg.initial_backoff_interval_ms / 1000)
        outcome = reconnect(
            self._subscribe_on_broker,
            backoff,
            self._closed_event,
            what=f"consumer {self._name} on {self._topic}",
            busy=ConsumerBusy,
            on_attempt=self._next_reconnect_attempt,
        )
        if outcome is None:  # closed meanwhile
            return
        if isinstance(outcome, PulsarError):
            self._fail(outcome)
            return
        conn = outcome
        self.reconnect_attempt = 0
        with self._state_lock:
            if self._state == _CONNECTING:
                self._state = _READY
            closing = self._state == _CLOSED
        self._settled.set()
        if closing:
            self._send_close(conn)
            conn.unregister_consumer(self._consumer_id, self)
            return
        log.info("consumer %s on %s re-subscribed via %s", self._name, self._topic, conn.logical)
        self._acks.flush()
        if conn.closed:
            self._schedule_reconnect()

    def _next_reconnect_attempt(self) -> None:
        self.reconnect_attempt += 1

    def _fail(self, err: PulsarError) -> None:
        self._fatal = err
        with self._state_lock:
            if self._state == _CLOSED:
                return
            self._state = _FAILED
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
            if self._state == _CLOSED:
                return
            was_ready = self._state == _READY
            self._state = _CLOSED
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
            self._client._forget_consumer(self)

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- entry point ------------------------------------------------------------------------------------


def subscribe(
    client: Client,
    topic: str | list[str] | Any,
    subscription_name: str,
    consumer_type: ConsumerType | str = ConsumerType.Exclusive,
    schema: Any = None,
    message_listener: MessageListener | None = None,
    receiver_queue_size: int = 1000,
    max_total_receiver_queue_size_across_partitions: int = 50000,
    consumer_name: str | None = None,
    unacked_messages_timeout_ms: int | None = None,
    broker_consumer_stats_cache_time_ms: int = 30000,
    negative_ack_redelivery_delay_ms: int = 60000,
    is_read_compacted: bool = False,
    properties: Mapping[str, str] | None = None,
    pattern_auto_discovery_period: float = 60,
    initial_position: InitialPosition | str = InitialPosition.Latest,
    crypto_key_reader: Any = None,
    replicate_subscription_state_enabled: bool = False,
    max_pending_chunked_message: int = 10,
    auto_ack_oldest_chunked_message_on_queue_full: bool = False,
    start_message_id_inclusive: bool = False,
    batch_receive_policy: ConsumerBatchReceivePolicy | None = None,
    key_shared_policy: ConsumerKeySharedPolicy | None = None,
    batch_index_ack_enabled: bool = False,
    regex_subscription_mode: RegexSubscriptionMode | str = RegexSubscriptionMode.PersistentOnly,
    dead_letter_policy: ConsumerDeadLetterPolicy | None = None,
    crypto_failure_action: ConsumerCryptoFailureAction | str = ConsumerCryptoFailureAction.FAIL,
    *,
    priority_level: int | None = None,
    subscription_mode: SubscriptionMode | str = SubscriptionMode.Durable,
    subscription_properties: Mapping[str, str] | None = None,
    expire_time_of_incomplete_chunked_message_ms: int = 60000,
    ack_grouping_time_ms: float = 100,
    ack_grouping_max_size: int = 1000,
    start_message_id: MessageId | None = None,
) -> Consumer | MultiTopicsConsumer:
    """Subscribe to a topic, a list of topics or a compiled regex (arguments as the official
    client's `Client.subscribe`, plus the keyword-only extras). Everything is validated before
    any network traffic; a partitioned topic gets one consumer per partition."""
    if schema is not None:
        raise InvalidConfiguration("schema: schemas are not supported; consume bytes")
    del broker_consumer_stats_cache_time_ms  # accepted, not used
    topics, pattern = split_topic_argument(topic)
    conf = ConsumerConfig(
        subscription_name=subscription_name,
        topics=topics,
        pattern=pattern,
        consumer_type=consumer_type,  # type: ignore[arg-type]
        initial_position=initial_position,  # type: ignore[arg-type]
        subscription_mode=subscription_mode,  # type: ignore[arg-type]
        receiver_queue_size=receiver_queue_size,
        max_total_receiver_queue_size_across_partitions=(
            max_total_receiver_queue_size_across_partitions
        ),
        consumer_name=consumer_name,
        message_listener=message_listener,
        unacked_messages_timeout_ms=unacked_messages_timeout_ms,
        negative_ack_redelivery_delay_ms=negative_ack_redelivery_delay_ms,
        dead_letter_policy=dead_letter_policy,
        priority_level=priority_level,
        is_read_compacted=is_read_compacted,
        properties=properties,
        subscription_properties=subscription_properties,
        pattern_auto_discovery_period=pattern_auto_discovery_period,
        regex_subscription_mode=regex_subscription_mode,  # type: ignore[arg-type]
        replicate_subscription_state_enabled=replicate_subscription_state_enabled,
        max_pending_chunked_message=max_pending_chunked_message,
        auto_ack_oldest_chunked_message_on_queue_full=auto_ack_oldest_chunked_message_on_queue_full,
        expire_time_of_incomplete_chunked_message_ms=expire_time_of_incomplete_chunked_message_ms,
        start_message_id_inclusive=start_message_id_inclusive,
        batch_receive_policy=batch_receive_policy,  # type: ignore[arg-type]
        key_shared_policy=key_shared_policy,
        batch_index_ack_enabled=batch_index_ack_enabled,
        ack_grouping_time_ms=ack_grouping_time_ms,
        ack_grouping_max_size=ack_grouping_max_size,
        start_message_id=start_message_id,
        crypto_key_reader=crypto_key_reader,
        crypto_failure_action=crypto_failure_action,  # type: ignore[arg-type]
    )
    return subscribe_with_config(client, conf)


def subscribe_with_config(client: Client, conf: ConsumerConfig) -> Consumer | MultiTopicsConsumer:
    """Create and start the consumer a `ConsumerConfig` describes."""
    from pulsarload.client.multi import MultiTopicsConsumer, PatternConsumer

    client._check_open()
    if conf.pattern is not None:
        pc = PatternConsumer(client, conf)
        pc._start()
        return pc
    if len(conf.topics) == 1:
        partitions = client._lookup.partitions(conf.topics[0])
        if partitions == 0:
            single = Consumer(client, conf, conf.topics[0])
            single._start()
            return single
    multi = MultiTopicsConsumer(client, conf)
    multi._start()
    return multi
