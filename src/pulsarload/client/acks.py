"""Acknowledgement bookkeeping of one consumer: grouping, negative acks and the ack timeout.

All three are plain objects with a lock and an injectable clock; the consumer feeds them from
application threads and the client's housekeeping thread calls their `tick(now)`.

- `AckGroupingTracker` collects individual acks and the highest cumulative ack and sends them
  as one ACK command (many ids) every `group_time` seconds or once `max_size` ids are waiting
  (group time 0: every ack goes out at once). A batched message is acked by index: the entry
  is acked once every index of it is; with `batch_index_ack` a partly acked entry is also sent
  with an ack_set (a set bit = still unacked), which a broker with batch-index acks enabled
  applies and any other broker ignores. A cumulative ack inside a batch acks up to the
  previous entry (or, with `batch_index_ack`, the entry with an ack_set), as the Java client.
- `NegativeAckTracker`: entries to redeliver after the negative-ack delay.
- `UnackedMessageTracker`: messages handed to the application and not acked within the ack
  timeout come back.

Both redelivery trackers keep insertion order (their delay is constant), so the oldest entry
is always first and a tick costs O(expired), not O(tracked).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from pulsarload.client.errors import PulsarError
from pulsarload.client.message import BatchInfo, Message
from pulsarload.wire.enums import AckType
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageIdData

__all__ = [
    "AckGroupingTracker",
    "NegativeAckTracker",
    "UnackedMessageTracker",
    "ack_set_of",
]

log = logging.getLogger(__name__)

#: send(ids, ack_type): write one ACK command; raises (e.g. NotConnected) when it cannot.
type AckSender = Callable[[Sequence[MessageIdData], AckType], None]

_WORD = (1 << 64) - 1


def ack_set_of(unacked_mask: int, size: int) -> tuple[int, ...]:
    """An ack_set (little-endian int64 words, set bit = still unacked) from a bitmask."""
    words = []
    for _ in range((size + 63) // 64):
        word = unacked_mask & _WORD
        words.append(word - (1 << 64) if word >= 1 << 63 else word)
        unacked_mask >>= 64
    return tuple(words)


def _id_data(entry: tuple[int, int, int], ack_set: tuple[int, ...] = ()) -> MessageIdData:
    ledger, entry_id, partition = entry
    return MessageIdData(
        ledgerId=ledger,
        entryId=entry_id,
        partition=partition if partition >= 0 else None,
        ack_set=ack_set,
    )


class AckGroupingTracker:
    """Individual, batch-index and cumulative acks of one consumer, grouped into few commands."""

    def __init__(
        self,
        send: AckSender,
        *,
        group_time: float = 0.1,
        max_size: int = 1000,
        batch_index_ack: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self.group_time = group_time
        self.max_size = max_size
        self.batch_index_ack = batch_index_ack
        self._clock = clock
        self._lock = threading.Lock()
        # Whole entries waiting to be acked: (ledger, entry, partition).
        self._entries: set[tuple[int, int, int]] = set()
        # Partly acked batch entries (batch_index_ack only): entry -> its shared BatchInfo.
        self._partial: dict[tuple[int, int, int], BatchInfo] = {}
        self._cumulative: tuple[int, int, int] | None = None
        self._cumulative_set: tuple[int, ...] = ()
        self._cumulative_dirty = False
        #: The highest entry known acked cumulatively (for dropping redelivered duplicates).
        self._cumulative_floor: tuple[int, int] | None = None
        self._deadline = math.inf
        #: Acks sent (ids), for tests and stats.
        self.sent_ids = 0

    @property
    def immediate(self) -> bool:
        return self.group_time <= 0

    # --- adding -------------------------------------------------------------------------------

    def add_individual(
        self,
        mid: MessageId,
        batch: BatchInfo | None = None,
        chunk_ids: Iterable[MessageId] | None = None,
    ) -> bool:
        """Acknowledge one message (a batch index, a whole entry, or every chunk of one).

        Returns True when this ack armed a new flush deadline (`deadline`), so the caller
        can make sure the housekeeping thread wakes for it.
        """
        partial: BatchInfo | None = None
        key = (mid[0], mid[1], mid[2])
        if chunk_ids is not None:
            entries = [(c[0], c[1], c[2]) for c in chunk_ids]
        elif batch is not None and mid[3] >= 0:
            bit = 1 << mid[3]
            with self._lock:
                acked = batch.acked | bit
                batch.acked = acked
            if acked != batch.full:
                if not self.batch_index_ack:
                    return False  # the entry is acked once its last message is
                entries = []
                partial = batch
            else:
                entries = [key]
        else:
            entries = [key]
        if self.group_time <= 0:
            if partial is not None:
                unacked = ~partial.acked & partial.full
                self._send_now([_id_data(key, ack_set_of(unacked, partial.size))])
            else:
                self._send_now([_id_data(e) for e in entries])
            return False
        return self._group(entries, {key: partial} if partial is not None else {})

    def add_messages(self, msgs: Sequence[Message]) -> bool:
        """Acknowledge many received messages at once, as `add_individual` for each would.

        One lock hold marks every batch index, and every entry that became complete goes into
        one ACK command (immediate acks) or the pending group; the consumer's batch receive
        path uses it so that a whole batch entry costs one call instead of one per message.
        """
        entries: list[tuple[int, int, int]] = []
        partial: dict[tuple[int, int, int], BatchInfo] = {}
        index_acks = self.batch_index_ack
        with self._lock:
            for m in msgs:
                mid = m._id
                chunks = m._chunk_ids
                if chunks is not None:
                    entries.extend([(c[0], c[1], c[2]) for c in chunks])
                    continue
                batch = m._batch
                index = mid[3]
                if batch is not None and index >= 0:
                    acked = batch.acked | (1 << index)
                    batch.acked = acked
                    if acked != batch.full:
                        if index_acks:
                            partial[(mid[0], mid[1], mid[2])] = batch
                        continue
                entries.append((mid[0], mid[1], mid[2]))
        if partial:
            for e in entries:
                partial.pop(e, None)
        if not entries and not partial:
            return False
        if self.group_time <= 0:
            ids = [_id_data(e) for e in entries]
            for key, info in partial.items():
                ids.append(_id_data(key, ack_set_of(~info.acked & info.full, info.size)))
            self._send_now(ids)
            return False
        return self._group(entries, partial)

    def _group(
        self, entries: list[tuple[int, int, int]], partial: dict[tuple[int, int, int], BatchInfo]
    ) -> bool:
        """Add whole entries and partly acked batches to the pending group (a whole entry
        replaces its partial ack); flush at `max_size`. True when this armed the deadline."""
        armed = False
        with self._lock:
            pending = self._partial
            pending.update(partial)
            self._entries.update(entries)
            if pending:
                for e in entries:
                    pending.pop(e, None)
            flush = len(self._entries) + len(pending) >= self.max_size
            if not flush and self._deadline == math.inf:
                self._deadline = self._clock() + self.group_time
                armed = True
        if flush:
            self.flush()
        return armed

    @property
    def deadline(self) -> float:
        """When the pending group is flushed (inf: nothing pending)."""
        return self._deadline

    def add_cumulative(self, mid: MessageId, batch: BatchInfo | None = None) -> None:
        """Acknowledge every message up to and including `mid`."""
        ack_set: tuple[int, ...] = ()
        ledger, entry, partition, index = mid[0], mid[1], mid[2], mid[3]
        if batch is not None and index >= 0:
            with self._lock:
                done = batch.ack_up_to(index)
            if not done:
                if self.batch_index_ack:
                    upto = (1 << (index + 1)) - 1
                    ack_set = ack_set_of(batch.full & ~upto, batch.size)
                else:
                    entry -= 1  # the batch is not finished: ack up to the entry before it
        target = (ledger, entry, partition)
        with self._lock:
            if self._cumulative is not None and (target[0], target[1]) < (
                self._cumulative[0],
                self._cumulative[1],
            ):
                return
            self._cumulative = target
            self._cumulative_set = ack_set
            self._cumulative_dirty = True
            if not ack_set:
                self._cumulative_floor = (target[0], target[1])
            if self.immediate:
                pass
            elif self._deadline == math.inf:
                self._deadline = self._clock() + self.group_time
        if self.immediate:
            self.flush()

    def is_duplicate(self, ledger: int, entry: int, partition: int) -> bool:
        """Whether a (re)delivered entry is already acked but maybe not yet sent."""
        floor = self._cumulative_floor
        if floor is not None and (ledger, entry) <= floor:
            return True
        return bool(self._entries) and (ledger, entry, partition) in self._entries

    # --- sending ------------------------------------------------------------------------------

    def _send_now(
        self, ids: Sequence[MessageIdData], ack_type: AckType = AckType.Individual
    ) -> None:
        try:
            self._send(ids, ack_type)
            self.sent_ids += len(ids)
        except PulsarError as err:
            log.debug("ack of %d ids not sent: %s", len(ids), err)

    def flush(self) -> None:
        """Send everything pending now (kept for the next flush if the send fails)."""
        with self._lock:
            self._deadline = math.inf
            cumulative = self._cumulative if self._cumulative_dirty else None
            cumulative_set = self._cumulative_set
            self._cumulative_dirty = False
            entries = self._entries
            partial = self._partial
            if entries:
                self._entries = set()
            if partial:
                self._partial = {}
        if cumulative is not None:
            try:
                self._send([_id_data(cumulative, cumulative_set)], AckType.Cumulative)
                self.sent_ids += 1
            except PulsarError as err:
                log.debug("cumulative ack not sent: %s", err)
                with self._lock:
                    if self._cumulative == cumulative:
                        self._cumulative_dirty = True
        if not entries and not partial:
            return
        ids = [_id_data(e) for e in entries]
        for key, info in partial.items():
            unacked = ~info.acked & info.full
            if unacked:
                ids.append(_id_data(key, ack_set_of(unacked, info.size)))
            else:
                ids.append(_id_data(key))
        try:
            self._send(ids, AckType.Individual)
            self.sent_ids += len(ids)
        except PulsarError as err:
            log.debug("ack of %d ids not sent (kept for the next flush): %s", len(ids), err)
            with self._lock:
                self._entries |= entries
                for key, info in partial.items():
                    self._partial.setdefault(key, info)

    def tick(self, now: float) -> float:
        """Flush when the group time is up; return the next deadline."""
        if now >= self._deadline:
            self.flush()
        return self._deadline

    def pending(self) -> int:
        return len(self._entries) + len(self._partial) + (1 if self._cumulative_dirty else 0)

    def reset(self) -> None:
        """Forget what was acked cumulatively (after a seek the past may come again)."""
        with self._lock:
            self._cumulative = None
            self._cumulative_set = ()
            self._cumulative_floor = None
            self._cumulative_dirty = False


class _DelayTracker:
    """Ids with a deadline, oldest first (the delay is the same for all)."""

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.delay = delay
        self._clock = clock
        self._lock = threading.Lock()
        self._due: OrderedDict[MessageId, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, mid: object) -> bool:
        return mid in self._due

    def add(self, mid: MessageId) -> None:
        deadline = self._clock() + self.delay
        with self._lock:
            self._due[mid] = deadline
            self._due.move_to_end(mid)

    def remove(self, mid: MessageId) -> None:
        if self._due:
            with self._lock:
                self._due.pop(mid, None)

    def clear(self) -> None:
        with self._lock:
            self._due.clear()

    def take_due(self, now: float) -> tuple[list[MessageId], float]:
        """The ids whose deadline passed (removed), and the next deadline (inf: none)."""
        out: list[MessageId] = []
        with self._lock:
            due = self._due
            while due:
                mid, deadline = next(iter(due.items()))
                if deadline > now:
                    return out, deadline
                due.popitem(last=False)
                out.append(mid)
        return out, math.inf


class NegativeAckTracker(_DelayTracker):
    """Entries negatively acked, redelivered after `delay` seconds, each with how many
    messages the application nacked in it (what the redelivery counts name)."""

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(delay, clock)
        self._messages: dict[MessageId, int] = {}

    def add(self, mid: MessageId, messages: int = 1) -> None:
        deadline = self._clock() + self.delay
        with self._lock:
            self._due[mid] = deadline
            self._due.move_to_end(mid)
            self._messages[mid] = self._messages.get(mid, 0) + messages

    def remove(self, mid: MessageId) -> None:
        if self._due:
            with self._lock:
                self._due.pop(mid, None)
                self._messages.pop(mid, None)

    def clear(self) -> None:
        with self._lock:
            self._due.clear()
            self._messages.clear()

    def take_due_counted(self, now: float) -> tuple[dict[MessageId, int], float]:
        """The entries whose deadline passed (removed) with their nacked message counts,
        and the next deadline (inf: none)."""
        out: dict[MessageId, int] = {}
        with self._lock:
            due, messages = self._due, self._messages
            while due:
                mid, deadline = next(iter(due.items()))
                if deadline > now:
                    return out, deadline
                due.popitem(last=False)
                out[mid] = messages.pop(mid, 0)
        return out, math.inf


class UnackedMessageTracker(_DelayTracker):
    """Messages handed out and not acked: redelivered once `delay` (the ack timeout) passes."""

    def remove_up_to(self, mid: MessageId) -> None:
        """A cumulative ack: forget every tracked id up to `mid`."""
        if not self._due:
            return
        with self._lock:
            for m in [m for m in self._due if m <= mid]:
                del self._due[m]
