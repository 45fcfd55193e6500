"""Reassembly of chunked messages (a large message split into chunks by its producer).

Every chunk carries the same `uuid`, `num_chunks_from_msg` and `total_chunk_msg_size`, and a
0-based `chunk_id`. Chunks of one message arrive in order but may interleave with chunks of other
messages. `ChunkAssembler.add` appends a chunk to its message and returns the whole (still
compressed) payload after the last chunk, with the ids of all chunks (acking the message acks
every one of them).

Bounds: at most `max_pending` incomplete messages are kept (the oldest is dropped when a new
one starts: acked when `auto_ack_oldest` is set, else handed back for redelivery);
incomplete messages older than `expire_after` seconds are dropped and acked (as the Java
client), and a message declaring more than `max_total_size` bytes is refused. A chunk that does
not continue its message (a gap) drops that message. The caller returns a flow permit for every
chunk that does not complete a message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from pulsarload.wire.message_id import MessageId
from pulsarload.wire.messages import MessageMetadata

__all__ = ["ChunkAssembler", "ChunkResult"]

log = logging.getLogger(__name__)

#: Refuse chunked messages that declare more than this (a corrupt or hostile size).
DEFAULT_MAX_TOTAL_SIZE = 512 * 1024 * 1024


@dataclass(slots=True)
class ChunkResult:
    """What one chunk led to: a complete payload (with every chunk id), and ids to ack or to
    redeliver because an incomplete message was dropped."""

    payload: bytearray | None = None
    chunk_ids: tuple[MessageId, ...] = ()
    to_ack: list[MessageId] = field(default_factory=list)
    to_redeliver: list[MessageId] = field(default_factory=list)


class _Pending:
    __slots__ = ("buffer", "created", "ids", "last", "num_chunks", "total")

    def __init__(self, num_chunks: int, total: int, created: float) -> None:
        self.num_chunks = num_chunks
        self.total = total
        self.buffer = bytearray()
        self.ids: list[MessageId] = []
        self.last = -1
        self.created = created


class ChunkAssembler:
    """Incomplete chunked messages of one consumer (its reader thread adds, its housekeeping
    expires: a lock keeps them apart)."""

    def __init__(
        self,
        max_pending: int = 10,
        expire_after: float = 60.0,
        *,
        auto_ack_oldest: bool = False,
        max_total_size: int = DEFAULT_MAX_TOTAL_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_pending = max_pending
        self.expire_after = expire_after
        self.auto_ack_oldest = auto_ack_oldest
        self.max_total_size = max_total_size
        self._clock = clock
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._lock = threading.Lock()
        #: Incomplete messages dropped so far (queue full, expired, gaps, bad sizes).
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, md: MessageMetadata, mid: MessageId, payload: memoryview | bytes) -> ChunkResult:
        """Take one chunk; see the module docstring for what comes back."""
        with self._lock:
            return self._add(md, mid, payload)

    def _add(self, md: MessageMetadata, mid: MessageId, payload: memoryview | bytes) -> ChunkResult:
        result = ChunkResult()
        uuid = md.uuid
        chunk_id = md.chunk_id
        num = md.num_chunks_from_msg or 0
        total = md.total_chunk_msg_size
        if uuid is None or chunk_id is None or total is None or total < 0 or num < 1:
            log.warning("chunk %s has incomplete chunk metadata; discarding it", mid)
            result.to_ack.append(mid)
            return result
        if total > self.max_total_size:
            log.warning(
                "chunked message %s declares %d bytes (limit %d); discarding it",
                uuid,
                total,
                self.max_total_size,
            )
            self.dropped += 1
            result.to_ack.append(mid)
            return result
        pending = self._pending.get(uuid)
        if chunk_id == 0:
            if pending is not None:  # started again (a redelivery): begin afresh
                del self._pending[uuid]
            while len(self._pending) >= self.max_pending:
                old_uuid, old = self._pending.popitem(last=False)
                self.dropped += 1
                log.info(
                    "more than %d incomplete chunked messages; dropping %s (%s)",
                    self.max_pending,
                    old_uuid,
                    "acked" if self.auto_ack_oldest else "redelivered",
                )
                (result.to_ack if self.auto_ack_oldest else result.to_redeliver).extend(old.ids)
            pending = self._pending[uuid] = _Pending(num, total, self._clock())
        elif pending is None or chunk_id != pending.last + 1:
            if pending is not None and chunk_id <= pending.last:
                log.debug("duplicate chunk %d of %s ignored", chunk_id, uuid)
                return result
            log.info("chunk %d of %s arrived out of order; dropping that message", chunk_id, uuid)
            if pending is not None:
                del self._pending[uuid]
                result.to_redeliver.extend(pending.ids)
                self.dropped += 1
            result.to_redeliver.append(mid)
            return result
        pending.buffer += payload
        pending.ids.append(mid)
        pending.last = chunk_id
        if len(pending.buffer) > pending.total:
            log.warning("chunked message %s is larger than it declared; discarding it", uuid)
            del self._pending[uuid]
            self.dropped += 1
            result.to_ack.extend(pending.ids)
            return result
        if chunk_id == pending.num_chunks - 1:
            del self._pending[uuid]
            if len(pending.buffer) != pending.total:
                log.warning(
                    "chunked message %s has %d bytes, declared %d; discarding it",
                    uuid,
                    len(pending.buffer),
                    pending.total,
                )
                self.dropped += 1
                result.to_ack.extend(pending.ids)
                return result
            result.payload = pending.buffer
            result.chunk_ids = tuple(pending.ids)
        return result

    def expire(self, now: float | None = None) -> list[MessageId]:
        """Drop incomplete messages older than the expiry; return their chunk ids (to ack)."""
        if not self._pending or self.expire_after <= 0:
            return []
        now = self._clock() if now is None else now
        out: list[MessageId] = []
        with self._lock:
            while self._pending:
                uuid, pending = next(iter(self._pending.items()))
                if now - pending.created < self.expire_after:
                    break
                del self._pending[uuid]
                self.dropped += 1
                log.info("incomplete chunked message %s expired; acking its chunks", uuid)
                out.extend(pending.ids)
        return out

    def next_expiry(self) -> float:
        """When the oldest incomplete message expires (inf: none)."""
        with self._lock:
            if not self._pending or self.expire_after <= 0:
                return float("inf")
            return next(iter(self._pending.values())).created + self.expire_after

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
