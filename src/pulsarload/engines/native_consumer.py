"""The native engine's consumer: pulsarload's own client behind the `EngineConsumer` protocol.

Each worker gets its own `Client` (its own connection and reader thread) and one consumer on
it; closing the engine consumer closes both. Settings map onto the client's consumer:
subscription type, initial position, receiver queue size, a regex (`pattern`) instead of the
topic, priority, the dead-letter policy (`max_redeliveries`, `dlq_topic`) and the ack strategy
(`grouped`: the client groups acks every 100 ms / 1000 acks; anything else acks at once).
Bad input (a regex that does not compile, a seek target that does not parse) raises a
`ConfigError` before any network traffic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pulsarload.client import (
    Client,
    ConsumerDeadLetterPolicy,
    Message,
    RedeliveryCounts,
    Timeout,
    choices,
)
from pulsarload.client.consumer_config import parse_seek_target
from pulsarload.client.errors import InvalidConfiguration
from pulsarload.client.schema import parse_schema_spec
from pulsarload.config import ConsumeSettings
from pulsarload.engines.base import E2ERun, EngineConsumer, ReceivedBatch, ReceivedMessage
from pulsarload.engines.stamp import find_stamp

__all__ = [
    "NativeConsumer",
    "NativeReceivedBatch",
    "NativeReceivedMessage",
    "batch_figures",
    "create_native_consumer",
    "wrap_message",
]

#: Ack grouping of the "grouped" strategy (the official client's defaults).
GROUP_TIME_MS = 100
GROUP_MAX_SIZE = 1000


class NativeReceivedMessage(ReceivedMessage):
    """A `ReceivedMessage` over a native `Message`: what a worker reads per message is copied
    in; the message id string, key, properties, topic and event time are worked out from the
    message only when asked (most load runs never ask)."""

    __slots__ = ()

    def __init__(self, msg: Message) -> None:
        self.data = msg.data()
        self.publish_time_ms = msg._md.publish_time
        self.redelivery_count = msg._rc
        self.intended_us = _intended_us(msg)
        self.handle = msg

    @property
    def topic(self) -> str:
        return self.handle.topic_name()

    @property
    def message_id(self) -> str:
        return str(self.handle.message_id())

    @property
    def event_time_ms(self) -> int:
        return self.handle.event_timestamp()

    @property
    def key(self) -> str | None:
        return self.handle.partition_key() or None

    @property
    def properties(self) -> Mapping[str, str]:
        return self.handle.properties()


class NativeReceivedBatch(ReceivedBatch):
    """A `ReceivedBatch` over native `Message`s (`handles`): the figures come from one pass
    over the messages (`batch_figures`); `messages` and `payloads` are built only when asked."""

    __slots__ = ("handles",)

    def __init__(self, msgs: list[Message]) -> None:
        self.handles = msgs
        self._messages = None
        self.count = len(msgs)
        self.n_bytes, self.redelivered, self.e2e_runs = batch_figures(msgs)

    @property
    def messages(self) -> list[ReceivedMessage]:
        messages = self._messages
        if messages is None:
            messages = self._messages = list(map(NativeReceivedMessage, self.handles))
        return messages

    def payloads(self) -> list[bytes]:
        return [m.data() for m in self.handles]

    def head(self, n: int) -> ReceivedBatch:
        return NativeReceivedBatch(self.handles[:n])


def _intended_us(msg: Message) -> int:
    """The message's intended send time from a pulsarload stamp (µs; 0: none): its own
    properties' stamp, else its entry's (message k of a batch: first + k * step)."""
    smd = msg._smd
    if smd is not None and smd.properties:
        own = find_stamp(smd.properties)
        if own is not None:
            return own[0]
    md = msg._md
    entry = find_stamp(md.properties) if md.properties else None
    if entry is None:
        return 0
    first, step = entry
    return first + max(msg._id.batch_index, 0) * step // 1000 if step else first


def batch_figures(msgs: list[Message]) -> tuple[int, int, list[E2ERun]]:
    """(payload bytes, redelivered messages, end-to-end runs) of received messages in one
    pass: what a load worker records per batch without building anything per message. The
    stamp of an entry (or of a message's own metadata) is looked up once per metadata object
    (the messages of one entry share it); consecutive messages of an entry stamped with a step
    form one run."""
    n_bytes = 0
    redelivered = 0
    runs: list[E2ERun] = []
    md: Any = None
    smd: Any = None
    entry: tuple[int, int] | None = None
    own: tuple[int, int] | None = None
    origin, stamped, run, step = 0, False, 0, 0
    for m in msgs:
        data = m._data
        n_bytes += len(m._payload if data is None else data)
        if m._rc:
            redelivered += 1
        if m._md is not md:
            md = m._md
            entry = find_stamp(md.properties) if md.properties else None
        if m._smd is not smd:
            smd = m._smd
            own = find_stamp(smd.properties) if smd is not None and smd.properties else None
        if own is not None:
            o, s, st = own[0] * 1000, True, 0
        elif entry is not None:
            first, st = entry
            o = first * 1000 + max(m._id.batch_index, 0) * st if st else first * 1000
            s = True
        else:
            o, s, st = md.publish_time * 1_000_000, False, 0
        if run and s is stamped and st == step and o == origin + run * step:
            run += 1
        else:
            if run:
                runs.append((origin, run, stamped, step))
            origin, stamped, run, step = o, s, 1, st
    if run:
        runs.append((origin, run, stamped, step))
    return n_bytes, redelivered, runs


def wrap_message(msg: Message) -> ReceivedMessage:
    """The load layer's view of a received message (`handle` keeps the client's Message)."""
    return NativeReceivedMessage(msg)


class NativeConsumer:
    """An `EngineConsumer` over a native consumer and the client it owns."""

    def __init__(self, client: Client, consumer: Any) -> None:
        self._client = client
        self._consumer = consumer

    @property
    def consumer(self) -> Any:
        return self._consumer

    def receive(self, timeout_ms: int) -> ReceivedMessage | None:
        try:
            return wrap_message(self._consumer.receive(timeout_millis=max(0, int(timeout_ms))))
        except Timeout:
            return None

    def acknowledge(self, message: ReceivedMessage) -> None:
        self._consumer.acknowledge(message.handle)

    def receive_many(self, max_messages: int, timeout_ms: int) -> ReceivedBatch | None:
        """Everything queued (up to `max_messages`) in one call: one lock hold, one FLOW check."""
        msgs = self._consumer.receive_many(max_messages, max(0, int(timeout_ms)))
        return NativeReceivedBatch(msgs) if msgs else None

    def acknowledge_many(self, batch: ReceivedBatch) -> None:
        if isinstance(batch, NativeReceivedBatch):
            self._consumer.acknowledge_many(batch.handles)
        else:
            self._consumer.acknowledge_many([m.handle for m in batch.messages])

    def acknowledge_cumulative(self, message: ReceivedMessage) -> None:
        self._consumer.acknowledge_cumulative(message.handle)

    def negative_acknowledge(self, message: ReceivedMessage) -> None:
        self._consumer.negative_acknowledge(message.handle)

    def seek(self, target: str) -> None:
        """`earliest`, `latest`, `LEDGER:ENTRY[:PARTITION]`, or ms since the epoch."""
        parsed = parse_seek_target(target)  # a bad target fails before any network call
        self._consumer.seek(parsed)

    def queue_fill(self) -> int:
        return self._consumer.num_messages_in_queue()

    def reconnect_attempt(self) -> int:
        return getattr(self._consumer, "reconnect_attempt", 0)

    def redelivery_counts(self) -> RedeliveryCounts:
        return self._consumer.redelivery_counts()

    def close(self) -> None:
        try:
            self._consumer.close()
        finally:
            self._client.close()


def _topic_argument(settings: ConsumeSettings) -> Any:
    if not settings.pattern:
        return settings.topic
    try:
        return re.compile(settings.pattern)
    except re.error as err:
        raise InvalidConfiguration(f"pattern: bad regex {settings.pattern!r}: {err}") from None


def create_native_consumer(
    client: Client,
    settings: ConsumeSettings,
    name: str | None,
    listener: Callable[[ReceivedMessage], None] | None = None,
) -> EngineConsumer:
    """Subscribe per `settings` on `client` (which the returned consumer owns and closes,
    also when subscribing fails)."""
    try:
        topic = _topic_argument(settings)
        kwargs: dict[str, Any] = {
            "consumer_type": choices.SUBSCRIPTION_TYPE[settings.subscription_type],
            "initial_position": choices.INITIAL_POSITION[settings.initial_position],
            "receiver_queue_size": settings.receiver_queue_size,
            "consumer_name": name or None,
            "priority_level": settings.priority or None,
            "negative_ack_redelivery_delay_ms": settings.nack_redelivery_delay_ms,
            "unacked_messages_timeout_ms": settings.ack_timeout_ms or None,
            "schema": parse_schema_spec(settings.schema),
        }
        if settings.ack == "grouped":
            kwargs["ack_grouping_time_ms"] = GROUP_TIME_MS
            kwargs["ack_grouping_max_size"] = GROUP_MAX_SIZE
        else:
            kwargs["ack_grouping_time_ms"] = 0
        if settings.max_redeliveries:
            kwargs["dead_letter_policy"] = ConsumerDeadLetterPolicy(
                max_redeliver_count=settings.max_redeliveries,
                dead_letter_topic=settings.dlq_topic or None,
            )
        if listener is not None:

            def on_message(_consumer: Any, msg: Message) -> None:
                listener(wrap_message(msg))

            kwargs["message_listener"] = on_message
        consumer = client.subscribe(topic, settings.subscription, **kwargs)
    except BaseException:
        client.close()
        raise
    return NativeConsumer(client, consumer)
