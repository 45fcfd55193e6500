"""Consumer-side scripting for the fake broker: subscriptions, FLOW/ACK recording, pushed
MESSAGE frames (with real metadata, batches, compression and checksums)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from pulsarload.wire.batch import encode_batch_payload
from pulsarload.wire.commands import (
    CommandAck,
    CommandCloseConsumer,
    CommandFlow,
    CommandGetLastMessageIdResponse,
    CommandMessage,
    CommandReachedEndOfTopic,
    CommandRedeliverUnacknowledgedMessages,
    CommandSeek,
    CommandSubscribe,
    CommandSuccess,
)
from pulsarload.wire.compression import compress
from pulsarload.wire.enums import CommandType, CompressionType
from pulsarload.wire.frames import Frame, encode_command, encode_payload_command
from pulsarload.wire.messages import (
    MessageIdData,
    MessageMetadata,
    SingleMessageMetadata,
    key_values,
)
from support.fake_broker import FakeBroker, FakeConn


@dataclass
class Sub:
    conn: FakeConn
    cmd: CommandSubscribe


@dataclass
class ConsumerScript:
    """Attach to a FakeBroker: answers consumer commands and records them."""

    broker: FakeBroker
    subs: list[Sub] = field(default_factory=list)
    flows: list[CommandFlow] = field(default_factory=list)
    acks: list[CommandAck] = field(default_factory=list)
    redelivers: list[CommandRedeliverUnacknowledgedMessages] = field(default_factory=list)
    seeks: list[CommandSeek] = field(default_factory=list)
    closes: list[CommandCloseConsumer] = field(default_factory=list)
    last_message_id: MessageIdData = field(
        default_factory=lambda: MessageIdData(ledgerId=1, entryId=9)
    )
    #: After SEEK: also send CLOSE_CONSUMER (what a real broker does).
    close_on_seek: bool = True

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        b = self.broker
        b.on(CommandType.SUBSCRIBE, self._subscribe)
        b.on(CommandType.FLOW, self._record(self.flows))
        b.on(CommandType.ACK, self._record(self.acks))
        b.on(CommandType.REDELIVER_UNACKNOWLEDGED_MESSAGES, self._record(self.redelivers))
        b.on(CommandType.SEEK, self._seek)
        b.on(CommandType.CLOSE_CONSUMER, self._close)
        b.on(CommandType.UNSUBSCRIBE, self._success)
        b.on(CommandType.GET_LAST_MESSAGE_ID, self._last)

    def _record(self, into: list[Any]) -> Any:
        def fn(conn: FakeConn, frame: Frame) -> bool:
            with self.lock:
                into.append(frame.command)
            return True

        return fn

    def _subscribe(self, conn: FakeConn, frame: Frame) -> bool:
        cmd = frame.command
        with self.lock:
            self.subs.append(Sub(conn, cmd))
        conn.send(CommandSuccess(request_id=cmd.request_id))
        return True

    def _success(self, conn: FakeConn, frame: Frame) -> bool:
        conn.send(CommandSuccess(request_id=frame.command.request_id))
        return True

    def _close(self, conn: FakeConn, frame: Frame) -> bool:
        with self.lock:
            self.closes.append(frame.command)
        return self._success(conn, frame)

    def _seek(self, conn: FakeConn, frame: Frame) -> bool:
        cmd = frame.command
        with self.lock:
            self.seeks.append(cmd)
        if self.close_on_seek:
            conn.send(CommandCloseConsumer(consumer_id=cmd.consumer_id, request_id=1 << 40))
        conn.send(CommandSuccess(request_id=cmd.request_id))
        return True

    def _last(self, conn: FakeConn, frame: Frame) -> bool:
        cmd = frame.command
        conn.send(
            CommandGetLastMessageIdResponse(
                last_message_id=self.last_message_id, request_id=cmd.request_id
            )
        )
        return True

    # --- helpers ------------------------------------------------------------------------------

    @property
    def sub(self) -> Sub:
        with self.lock:
            return self.subs[-1]

    def permits(self) -> list[int]:
        with self.lock:
            return [f.messagePermits for f in self.flows]

    def acked(self) -> list[tuple[int, int, int, tuple[int, ...], tuple[int, ...]]]:
        """(ack_type, ledger, entry, ack_set, ...) per id of every ACK received."""
        with self.lock:
            return [
                (int(a.ack_type), m.ledgerId, m.entryId, tuple(m.ack_set), ())
                for a in self.acks
                for m in a.message_id
            ]

    def push(
        self,
        entry: int,
        payloads: list[bytes] | bytes,
        *,
        ledger: int = 1,
        batch: bool | None = None,
        compression: CompressionType = CompressionType.NONE,
        redelivery_count: int | None = None,
        ack_set: tuple[int, ...] = (),
        properties: dict[str, str] | None = None,
        key: str | None = None,
        publish_time: int = 1_700_000_000_000,
        metadata: dict[str, Any] | None = None,
        corrupt: bool = False,
        consumer_epoch: int | None = None,
    ) -> None:
        """Send one MESSAGE entry (a batch when `payloads` is a list or batch=True)."""
        sub = self.sub
        is_batch = isinstance(payloads, list) if batch is None else batch
        extra = dict(metadata or {})
        if is_batch:
            items = payloads if isinstance(payloads, list) else [payloads]
            body = encode_batch_payload(
                [
                    (
                        SingleMessageMetadata(
                            properties=key_values(properties or {"i": str(i)}),
                            partition_key=key or f"k{i}",
                            payload_size=len(p),
                            event_time=1000 + i,
                        ),
                        p,
                    )
                    for i, p in enumerate(items)
                ]
            )
            extra.setdefault("num_messages_in_batch", len(items))
        else:
            body = payloads if isinstance(payloads, bytes) else b"".join(payloads)
            extra.setdefault("properties", key_values(properties or {}))
            extra.setdefault("partition_key", key)
        if compression != CompressionType.NONE:
            extra["uncompressed_size"] = len(body)
            extra["compression"] = compression
            body = bytes(compress(compression, body))
        md = MessageMetadata(
            producer_name="fake-producer",
            sequence_id=entry,
            publish_time=publish_time,
            **extra,
        )
        cmd = CommandMessage(
            consumer_id=sub.cmd.consumer_id,
            message_id=MessageIdData(ledgerId=ledger, entryId=entry),
            redelivery_count=redelivery_count,
            ack_set=ack_set,
            consumer_epoch=consumer_epoch,
        )
        frame = bytearray(encode_payload_command(cmd, md, body))
        if corrupt:
            frame[-1] ^= 0xFF
        sub.conn.send_raw(bytes(frame))

    def end_of_topic(self) -> None:
        sub = self.sub
        sub.conn.send_raw(encode_command(CommandReachedEndOfTopic(consumer_id=sub.cmd.consumer_id)))
