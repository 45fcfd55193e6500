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

from pulsarload.client import Client, ConsumerDeadLetterPolicy, Message, Timeout
from pulsarload.client.consumer_config import parse_seek_target
from pulsarload.client.errors import InvalidConfiguration
from pulsarload.client.message import batch_stats
from pulsarload.config import ConsumeSettings
from pulsarload.engines.base import EngineConsumer, ReceivedBatch, ReceivedMessage

__all__ = [
    "NativeConsumer",
    "NativeReceivedBatch",
    "NativeReceivedMessage",
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
    over the messages (`batch_stats`); `messages` and `payloads` are built only when asked."""

    __slots__ = ("handles",)

    def __init__(self, msgs: list[Message]) -> None:
        self.handles = msgs
        self._messages = None
        self.count = len(msgs)
        self.n_bytes, self.redelivered, self.publish_runs = batch_stats(msgs)

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
            "consumer_type": settings.subscription_type,
            "initial_position": settings.initial_position,
            "receiver_queue_size": settings.receiver_queue_size,
            "consumer_name": name or None,
            "priority_level": settings.priority or None,
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
