"""Receiving: the queue of messages waiting for the application, and the calls that take them.

`ReceiverQueue` holds messages for one consumer, or for every partition of a multi-topic
consumer (one queue shared by all). Taking a message tells its owning consumer, which counts
the permit it earns the broker back (see `incoming`). `Receiving` is what a single-topic and a
multi-topic consumer share on top of it: `receive`, `receive_many`, `batch_receive`, the
asynchronous receive of the asyncio client, and the message-listener thread.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from pulsarload.client.errors import InvalidConfiguration, PulsarError, TimeoutError
from pulsarload.client.message import Message

if TYPE_CHECKING:
    from pulsarload.client.consumer import Consumer
    from pulsarload.client.consumer_config import ConsumerConfig
    from pulsarload.client.handler import ClientServices

__all__ = ["POLL", "AsyncWaiter", "ReceiverQueue", "Receiving"]

log = logging.getLogger(__name__)

#: How long blocking waits sleep between checks of the closed flag.
POLL = 0.5


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
                self._cond.wait(POLL)
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
                cond.wait(min(left, POLL))
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


class Receiving:
    """Receiving, the listener thread and ack routing over a `ReceiverQueue`."""

    _client: ClientServices
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
        self._listener_thread = self._client.spawn(
            self._listen, f"pulsar-listener-{self._conf.subscription_name}"
        )

    def _listen(self) -> None:
        listener = self._conf.message_listener
        assert listener is not None
        queue = self._queue
        while not self._closed_event.is_set():
            if not self._listener_running.wait(POLL):
                continue
            self._want_one()
            try:
                msg = queue.get(POLL)
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
            t.join(2 * POLL + 1.0)
