"""What the broker sends a consumer, on the connection's reader thread, and the permits it costs.

`Incoming` is the consumer's part that turns a MESSAGE frame into `Message`s in the receiver
queue: it drops what an older subscription instance or epoch sent, reassembles chunks,
decrypts, decompresses, splits batches, skips what lies before a start position, and acks with
a validation error what cannot be read. Each entry costs the broker's permits; `Incoming`
gives them back when the application takes messages (one FLOW per half a queue) or when a
message is never shown (skipped, corrupt, stale). A zero-queue consumer asks for one message
at a time instead.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from pulsarload.client.consumer_config import ConsumerCryptoFailureAction
from pulsarload.client.errors import CryptoError, PulsarError
from pulsarload.client.message import BatchInfo, Message
from pulsarload.wire.batch import parse_batch
from pulsarload.wire.commands import CommandAck, CommandFlow, CommandMessage
from pulsarload.wire.compression import DEFAULT_MAX_UNCOMPRESSED_SIZE, decompress
from pulsarload.wire.enums import AckType, ValidationError
from pulsarload.wire.errors import DecompressionError, ProtocolError
from pulsarload.wire.frames import Frame
from pulsarload.wire.message_id import MessageId, is_acked

if TYPE_CHECKING:
    from pulsarload.client.connection import Connection

__all__ = ["Incoming"]

log = logging.getLogger(__name__)


class _StillEncrypted:
    """An entry that could not be decrypted and is delivered as it came (CONSUME)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Incoming:
    """Messages in, permits out (see the module docstring). Part of `Consumer`."""

    #: Messages discarded because they were corrupt (checksum, codec, batch format).
    corrupt_messages = 0

    def _init_flow(self, queue_size: int) -> None:
        self._queue_size = queue_size
        # Zero-queue: no prefetch; one permit goes out when the application waits with an
        # empty queue, and stays outstanding (_zq_asked) until a message comes.
        self._zero_queue = queue_size == 0
        self._zq_asked = False
        self._threshold = max(1, queue_size // 2)
        self._flow_lock = threading.Lock()
        self._permits = 0

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
        if self._redeliveries.mark is not None:
            self._redeliveries.replayed(ledger, entry, msgs)
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
