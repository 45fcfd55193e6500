"""Acknowledgements and redelivery: what the application says about the messages it took.

`Acknowledging` is the consumer's part that records individual and cumulative acks (grouped
and sent by the ack tracker on the housekeeping thread), negative acks and the ack timeout
(redelivered when due), and asks the broker to redeliver, or hands messages past the
dead-letter policy's count to `dead_letters`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Mapping, Sequence

from pulsarload.client.errors import InvalidConfiguration, NotConnected, PulsarError, Result
from pulsarload.client.handler import CLOSED
from pulsarload.client.message import BatchInfo, Message
from pulsarload.wire.commands import CommandAck, CommandRedeliverUnacknowledgedMessages
from pulsarload.wire.enums import AckType
from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageIdData

__all__ = ["Acknowledging", "CumulativeAckNotAllowed"]


class CumulativeAckNotAllowed(PulsarError, ValueError):
    """Cumulative acks make no sense on Shared / Key_Shared subscriptions."""

    result = Result.CumulativeAcknowledgementNotAllowedError


class Acknowledging:
    """Acks, negative acks and redelivery (see the module docstring). Part of `Consumer`."""

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
        if self._state == CLOSED:
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
        if self._state == CLOSED:
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
        for i, m in enumerate(chunks or (mid,)):
            self._nacks.add(m.entry, 0 if i else 1)  # a chunked message counts once
            if self._handed is not None:
                self._handed.pop(m.entry, None)
        self._housekeeping.wake_by(time.monotonic() + self._nacks.delay)

    def redeliver_unacknowledged_messages(self) -> None:
        """Have the broker send every unacknowledged message of this consumer again (with a
        dead-letter policy: those the application took; the policy's limit applies)."""
        self._check_open()
        self._redeliveries.rewound("requested", self._last_dequeued)
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

    def _redeliver(
        self,
        entries: Iterable[MessageId],
        reason: str | None = None,
        messages: Mapping[MessageId, int] | None = None,
    ) -> None:
        """Redeliver these entries, or dead-letter those past the max redelivery count.
        With a `reason`, count the messages redelivered under it (`messages`: how many
        each entry stands for; one each when not given)."""
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
        if reason is not None:
            n = len(ids) if messages is None else sum(messages.get(m, 0) for m in ids)
            counts = self._redeliveries
            setattr(counts, reason, getattr(counts, reason) + n)
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
