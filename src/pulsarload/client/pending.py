"""Sends in flight: the bounded pending queue, receipts matched to it, and completions.

Each `PendingEntry` is one SEND frame the broker has not acknowledged yet, kept encoded so a
reconnect resends it with a plain socket write. `PendingSends` is the producer's part that owns
the queue: taking permits before a send (blocking or failing when full), matching
SEND_RECEIPTs in order on the reader thread, failing entries, and `flush`.

Locks: `_pending_lock` (with `_pending_cond`) guards the queue; the reader thread takes only
this one, so receipts never wait for a sender holding the producer's send lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pulsarload.client.errors import ProducerQueueIsFull, PulsarError, Result, TimeoutError
from pulsarload.wire.commands import CommandSendReceipt
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageIdData

__all__ = [
    "KIND_BATCH",
    "KIND_BULK",
    "KIND_SINGLE",
    "BatchCallback",
    "Completion",
    "PendingEntry",
    "PendingSends",
    "SendCallback",
    "SyncWaiter",
]

log = logging.getLogger(__name__)

#: `callback(result, msg_id)`, as the official client's send_async.
SendCallback = Callable[[Result, MessageId | None], None]
#: `callback(result, msg_id, msg_count)` for `send_batch`: one call per batch.
BatchCallback = Callable[[Result, MessageId | None, int], None]
# A per-message completion: a user's SendCallback, called as callback(result, msg_id), or a
# `SyncWaiter` (which also receives the exception itself on failure).
Completion = Callable[[Result, MessageId | None], None]

#: What an entry's callback is: one message's, a batch's (one per message), a bulk send's.
KIND_SINGLE, KIND_BATCH, KIND_BULK = range(3)


class PendingEntry:
    """One SEND frame in flight: its sequence range, frame bytes and who to tell."""

    __slots__ = ("callback", "count", "deadline", "frame", "kind", "seq")

    def __init__(
        self, seq: int, count: int, frame: bytes, kind: int, callback: Any, deadline: float
    ) -> None:
        self.seq = seq
        self.count = count
        self.frame = frame
        self.kind = kind
        # KIND_SINGLE: Completion | None; KIND_BATCH: list[Completion | None];
        # KIND_BULK: BatchCallback | None.
        self.callback = callback
        self.deadline = deadline


def safe_call(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("send callback %r raised", fn)


class SyncWaiter:
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


def fail_one(cb: Completion, err: PulsarError) -> None:
    if type(cb) is SyncWaiter:
        cb.fail(err)
    else:
        safe_call(cb, err.result, None)


class PendingSends:
    """The producer's in-flight queue (see the module docstring)."""

    _topic: str
    _name: str
    _partition: int
    _fatal: PulsarError | None
    _closing: bool

    def _init_pending(self, max_pending: int, block: bool) -> None:
        self._max_pending = max_pending
        self._block = block
        self._pending: deque[PendingEntry] = deque()
        self._pending_lock = threading.Lock()
        self._pending_cond = threading.Condition(self._pending_lock)
        self._pending_msgs = 0
        self._entries_added = 0
        self._entries_done = 0

    _lock: threading.Lock
    if TYPE_CHECKING:  # provided by the producer

        def _check_usable(self) -> None: ...
        def _schedule_reconnect(self, closed_by_broker: bool = False) -> None: ...
        def _flush_batch_locked(self) -> None: ...

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

    def _fail_taken(self, entries: list[PendingEntry], err: PulsarError) -> None:
        for e in entries:
            self._fail_entry(e, err)
        if entries:
            self._mark_done(len(entries))

    def _complete(self, entry: PendingEntry, mid: MessageIdData | None) -> None:
        cb = entry.callback
        if cb is None:
            return
        if mid is not None:
            ledger, eid = mid.ledgerId, mid.entryId
        else:
            ledger, eid = -1, -1
        part = self._partition
        kind = entry.kind
        if kind == KIND_BULK:
            safe_call(cb, Result.Ok, MessageId(ledger, eid, part, -1, entry.count), entry.count)
        elif kind == KIND_SINGLE:
            safe_call(cb, Result.Ok, MessageId(ledger, eid, part))
        else:
            n = entry.count
            ok = Result.Ok
            for i, one in enumerate(cb):
                if one is not None:
                    try:
                        one(ok, MessageId(ledger, eid, part, i, n))
                    except Exception:
                        log.exception("send callback %r raised", one)

    def _fail_entry(self, entry: PendingEntry, err: PulsarError) -> None:
        cb = entry.callback
        if cb is None:
            return
        kind = entry.kind
        if kind == KIND_BULK:
            safe_call(cb, err.result, None, entry.count)
        elif kind == KIND_SINGLE:
            fail_one(cb, err)
        else:
            for one in cb:
                if one is not None:
                    fail_one(one, err)

    def _take_pending(
        self, predicate: Callable[[PendingEntry], bool] | None = None
    ) -> list[PendingEntry]:
        """Remove (from the head) entries matching `predicate` (all if None); the caller
        completes them and then calls `_mark_done`."""
        taken: list[PendingEntry] = []
        with self._pending_cond:
            pending = self._pending
            while pending and (predicate is None or predicate(pending[0])):
                e = pending.popleft()
                taken.append(e)
                self._pending_msgs -= e.count
            if taken:
                self._pending_cond.notify_all()
        return taken

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
