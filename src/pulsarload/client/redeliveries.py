"""Why a consumer's messages come again: counts per reason, kept by the consumer itself.

A consumer knows why it has messages sent again, and counts them (in messages) per reason:

- `negative_ack`: messages the application negatively acknowledged, counted when the consumer
  sends them back (once the negative-ack delay has passed);
- `ack_timeout`: messages not acknowledged within the ack timeout, counted when sent back;
- `reconnect`, `seek`, `requested`: after the consumer re-subscribes (a dropped connection, a
  broker that closed it), seeks, or the application calls `redeliver_unacknowledged_messages`,
  the broker replays the subscription; the consumer counts the messages it then receives at or
  before the last one it had handed to the application, until the first one past that point.

Messages that a dead-letter policy moves to its topic instead are not counted. On Exclusive and
Failover subscriptions a negative ack or an ack timeout rewinds the whole subscription: other
unacknowledged messages come again too, and only the ones named are counted.

Each count has one writer thread (the housekeeping thread for the first two, the connection's
reader thread for the replays), so none needs a lock; readers take a `RedeliveryCounts`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

from pulsarload.client.message import Message
from pulsarload.wire.message_id import MessageId

__all__ = ["REASONS", "RedeliveryCounts", "Redeliveries"]

#: The reasons, in the order views show them.
REASONS: Final = ("negative_ack", "ack_timeout", "reconnect", "seek", "requested")


@dataclass(frozen=True, slots=True)
class RedeliveryCounts:
    """Messages redelivered per reason, since the consumer was made."""

    negative_ack: int = 0
    ack_timeout: int = 0
    reconnect: int = 0
    seek: int = 0
    requested: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def __add__(self, other: RedeliveryCounts) -> RedeliveryCounts:
        return RedeliveryCounts(*(getattr(self, r) + getattr(other, r) for r in REASONS))

    def __sub__(self, other: RedeliveryCounts) -> RedeliveryCounts:
        return RedeliveryCounts(*(getattr(self, r) - getattr(other, r) for r in REASONS))

    def as_dict(self) -> dict[str, int]:
        return {r: getattr(self, r) for r in REASONS}


class Redeliveries:
    """One consumer's running counts, and the replay it is watching for (see the module
    docstring). Part of `Consumer` (`_redeliveries`)."""

    __slots__ = ("mark", "reason", *REASONS)

    def __init__(self) -> None:
        self.negative_ack = 0
        self.ack_timeout = 0
        self.reconnect = 0
        self.seek = 0
        self.requested = 0
        #: (ledger, entry, batch index) of the last message handed out before the rewind;
        #: None while no replay is expected.
        self.mark: tuple[int, int, int] | None = None
        self.reason = "reconnect"

    def counts(self) -> RedeliveryCounts:
        return RedeliveryCounts(*(getattr(self, r) for r in REASONS))

    def rewound(self, reason: str, last_taken: MessageId | None) -> None:
        """The broker will replay from the subscription's first unacked message: count what
        comes again up to `last_taken` under `reason` (nothing was taken: nothing to count,
        a replay already expected keeps its mark)."""
        if last_taken is None:
            if self.mark is not None:
                self.reason = reason
            return
        self.reason = reason
        self.mark = (last_taken[0], last_taken[1], last_taken[3])

    def forget(self) -> None:
        self.mark = None

    def replayed(self, ledger: int, entry: int, msgs: list[Message]) -> None:
        """Messages of one entry arrived while a replay is expected (reader thread)."""
        mark = self.mark
        if mark is None:
            return
        if ledger < mark[0] or (ledger == mark[0] and entry < mark[1]):
            n = len(msgs)
        elif ledger == mark[0] and entry == mark[1]:
            last = mark[2]
            n = sum(1 for m in msgs if m._id[3] <= last)
            self.mark = None  # nothing after this entry was handed out before
        else:
            self.mark = None
            return
        reason = self.reason
        setattr(self, reason, getattr(self, reason) + n)
